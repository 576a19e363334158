//! Reading the list of users to reset: one userId per line, or CSV with a `userId` column.
//!
//! The file comes from a spreadsheet, another tool or a previous run's failures file, so it is
//! read defensively: a UTF-8 byte-order mark and CRLF line ends are accepted, blank lines and
//! `#` comments skipped, spaces around an ID trimmed; binary data, invalid UTF-8, overlong IDs
//! and oversized files are refused with the line at fault. Duplicates are kept here: the engine
//! resets each user once and reports the repetition.
//!
//! The file is read whole (at most [`MAX_FILE_BYTES`]), then judged. A file may have several
//! faults; the one reported is the first of: a read error, the size, UTF-16, a NUL byte (a
//! binary file often has invalid UTF-8 before its first NUL), invalid UTF-8, and only then the
//! first fault of a line (an overlong ID, a control character, a CSV row without a user ID).

use std::io::{self, Read};
use std::path::Path;

use bwreset_core::UserIdList;

use crate::errors::Failure;

/// Larger files are refused: a list of user IDs is never this big (64 MiB is about two million
/// IDs), so such a file is the wrong file. The cap also bounds what a run takes on: the file is
/// held in memory while it is read, and every ID in it for the run.
pub(crate) const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// No BroadWorks user ID comes near this; a longer "ID" means the file is not what it seems.
pub(crate) const MAX_USER_ID_BYTES: usize = 1024;

const BYTE_ORDER_MARK: &[u8] = b"\xEF\xBB\xBF";

/// Reads and parses a users file, refusing anything that is not a plain list of user IDs.
pub(crate) fn read_users_file(path: &Path) -> Result<UserIdList, Failure> {
    let name = path.display().to_string();
    let bytes = read_whole(path, USERS_FILE)?;
    parse_bytes(&bytes, &name)
}

/// What the two kinds of files are called in messages.
const USERS_FILE: &str = "users file";
const TARGETS_FILE: &str = "targets file";

/// Reads a file whole (at most [`MAX_FILE_BYTES`]); `what` names it in messages.
fn read_whole(path: &Path, what: &str) -> Result<Vec<u8>, Failure> {
    let shown = path.display();
    let cannot_read =
        |error: std::io::Error| Failure::usage(format!("cannot read {what} `{shown}`: {error}"));
    let file = std::fs::File::open(path).map_err(cannot_read)?;
    let metadata = file.metadata().map_err(cannot_read)?;
    if metadata.is_dir() {
        return Err(Failure::usage(format!("{what} `{shown}` is a directory")));
    }
    // Refused before reading; the size can change after the check (or be unknown, for a
    // pipe), so the bytes are counted as well.
    if metadata.len() > MAX_FILE_BYTES {
        return Err(too_large(&shown.to_string(), what));
    }
    // Room for the whole file and the one byte that would show it grew past the cap.
    let capacity = usize::try_from(metadata.len()).map_or(0, |length| length + 1);
    read_capped(file, Vec::with_capacity(capacity), &shown.to_string(), what)
}

/// Parses the contents of a users file given whole, as [`read_users_file`] does once it has
/// read it; `name` is how the file is named in messages.
#[cfg(test)]
pub(crate) fn parse_users(bytes: &[u8], name: &str) -> Result<UserIdList, Failure> {
    parse_bytes(bytes, name)
}

fn too_large(name: &str, what: &str) -> Failure {
    Failure::usage(format!(
        "{what} `{name}` is larger than {} MiB",
        MAX_FILE_BYTES / (1024 * 1024)
    ))
    .with_hint("split the list into several runs")
}

/// Reads `source` to its end into `bytes`, refusing it once it passes [`MAX_FILE_BYTES`].
fn read_capped(
    source: impl Read,
    mut bytes: Vec<u8>,
    name: &str,
    what: &str,
) -> Result<Vec<u8>, Failure> {
    // One byte more than the cap, to notice a larger file.
    source
        .take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|error: io::Error| {
            Failure::usage(format!("cannot read {what} `{name}`: {error}"))
        })?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_large(name, what));
    }
    Ok(bytes)
}

/// The text of a whole file, judged by its encoding: a byte-order mark is dropped; UTF-16, NUL
/// bytes and invalid UTF-8 are refused with the line at fault.
fn text_of<'a>(bytes: &'a [u8], name: &str, what: &str) -> Result<&'a str, Failure> {
    let bytes = bytes.strip_prefix(BYTE_ORDER_MARK).unwrap_or(bytes);
    // Spreadsheets save "Unicode text" as UTF-16: say so rather than call it binary.
    if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
        return Err(
            Failure::usage(format!("{what} `{name}` is UTF-16 text, not UTF-8"))
                .with_hint("save it as UTF-8 (in a spreadsheet: CSV UTF-8)"),
        );
    }
    if let Some(offset) = bytes.iter().position(|&byte| byte == 0) {
        let line = line_of(bytes, offset);
        return Err(Failure::usage(format!(
            "{what} `{name}` line {line} holds a NUL byte: it looks like a binary file, not a list of user IDs"
        )));
    }
    std::str::from_utf8(bytes).map_err(|error| {
        let line = line_of(bytes, error.valid_up_to());
        Failure::usage(format!("{what} `{name}` line {line} is not valid UTF-8"))
            .with_hint("save the file as UTF-8")
    })
}

/// Judges a whole users file: its encoding first, then each line.
fn parse_bytes(bytes: &[u8], name: &str) -> Result<UserIdList, Failure> {
    let text = text_of(bytes, name, USERS_FILE)?;
    let users = parse(text, name)?;
    if users.is_empty() {
        return Err(
            Failure::usage(format!("users file `{name}` lists no user IDs")).with_hint(
                "one user ID per line, or CSV with a `userId` column; `#` starts a comment",
            ),
        );
    }
    Ok(users)
}

/// The line of the byte at `offset`, counted from 1.
fn line_of(bytes: &[u8], offset: usize) -> u64 {
    LineCounter::new(bytes).line_at(offset)
}

/// Lines of bytes at offsets that only grow, each counted from the last: a file of a million
/// records is read through once, not once per record.
struct LineCounter<'a> {
    bytes: &'a [u8],
    offset: usize,
    line: u64,
}

impl<'a> LineCounter<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        LineCounter {
            bytes,
            offset: 0,
            line: 1,
        }
    }

    /// The line of the byte at `offset` (counted from 1), `offset` at or after the last asked.
    fn line_at(&mut self, offset: usize) -> u64 {
        let offset = offset.min(self.bytes.len());
        if offset > self.offset {
            self.line += self.bytes[self.offset..offset]
                .iter()
                .filter(|&&byte| byte == b'\n')
                .count() as u64;
            self.offset = offset;
        }
        self.line
    }
}

/// Reads the user IDs, one per line, until the first line that is not blank or a comment shows
/// the file to be CSV; then the CSV reader takes over, from the start of the file.
fn parse(text: &str, name: &str) -> Result<UserIdList, Failure> {
    let mut users = UserIdList::new();
    // Until the first line that holds something, the file may still be CSV.
    let mut may_be_csv = true;
    for (line, line_number) in text.split_inclusive('\n').zip(1..) {
        let user_id = line.trim();
        if user_id.is_empty() || user_id.starts_with('#') {
            continue;
        }
        if std::mem::take(&mut may_be_csv) {
            if looks_like_csv_header(user_id) {
                return parse_csv(text.as_bytes(), name);
            }
            // A list, one ID a line: exact room for them all at once rather than room doubled
            // as the list grows (the CSV reader makes its own).
            users = UserIdList::with_capacity(
                text.bytes().filter(|&byte| byte == b'\n').count() + 1,
                text.len(),
            );
        }
        users.push(checked(user_id, line_number, name)?);
    }
    Ok(users)
}

/// A CSV file announces itself by its header: the first line that is not blank or a comment
/// has a comma in it, or is the single column name `userId`.
fn looks_like_csv_header(first: &str) -> bool {
    first.contains(',') || first.trim_matches('"').eq_ignore_ascii_case("userId")
}

fn parse_csv(source: &[u8], name: &str) -> Result<UserIdList, Failure> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .comment(Some(b'#'))
        .trim(csv::Trim::All)
        .from_reader(source);
    let csv_error = |error: csv::Error| not_csv(USERS_FILE, name, &error);
    let headers = reader.headers().map_err(csv_error)?.clone();
    let column = headers.iter().position(|header| header.eq_ignore_ascii_case("userId")).ok_or_else(|| {
        let header_line = reader.position().line().saturating_sub(1).max(1);
        Failure::usage(format!(
            "users file `{name}` looks like CSV (line {header_line} has a comma) but has no `userId` column"
        ))
        .with_hint("name the column of user IDs `userId` in the first line, or list one user ID per line")
    })?;

    let mut users = UserIdList::with_capacity(
        source.iter().filter(|&&byte| byte == b'\n').count() + 1,
        source.len(),
    );
    let mut record = csv::StringRecord::new();
    while reader.read_record(&mut record).map_err(csv_error)? {
        let line_number = record.position().map_or(0, csv::Position::line);
        if record.iter().all(str::is_empty) {
            continue;
        }
        match record.get(column) {
            Some(user_id) if !user_id.is_empty() => {
                users.push(checked(user_id, line_number, name)?)
            }
            _ => {
                return Err(Failure::usage(format!(
                    "users file `{name}` line {line_number} has no value in the `userId` column"
                )));
            }
        }
    }
    Ok(users)
}

/// One row of a targets file: a user under its group, with the line it was on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ListedTarget {
    pub line: u64,
    pub service_provider_id: String,
    pub group_id: String,
    pub user_id: String,
}

/// The columns a targets file must have, in the order they are reported missing.
const TARGET_COLUMNS: [&str; 3] = ["serviceProviderId", "groupId", "userId"];

/// Reads and parses a targets file: CSV whose header names `serviceProviderId`, `groupId` and
/// `userId` (any order, any case; other columns ignored), read as defensively as a users file
/// (byte-order mark, CRLF, blank lines and `#` comments; no binary data, no empty cell).
pub(crate) fn read_targets_file(path: &Path) -> Result<TargetRows, Failure> {
    let name = path.display().to_string();
    let bytes = read_whole(path, TARGETS_FILE)?;
    parse_targets(bytes, &name)
}

/// The rows of a targets file, judged whole and then read again one at a time as they are
/// taken: a million rows are never held as three million strings beside the file (the file's
/// text, comments removed, is all that is kept).
#[derive(Debug)]
pub(crate) struct TargetRows {
    reader: csv::Reader<io::Cursor<Vec<u8>>>,
    columns: [usize; 3],
    record: csv::StringRecord,
    /// Where the line count stands: the offset and line last counted to.
    counted: (usize, u64),
}

impl Iterator for TargetRows {
    type Item = ListedTarget;

    fn next(&mut self) -> Option<ListedTarget> {
        // Every row was judged before the first is taken: nothing fails here.
        next_target(
            &mut self.reader,
            &mut self.record,
            &mut self.counted,
            self.columns,
            "",
        )
        .ok()
        .flatten()
    }
}

/// Parses the contents of a targets file given whole.
pub(crate) fn parse_targets(bytes: Vec<u8>, name: &str) -> Result<TargetRows, Failure> {
    let bom = text_of(&bytes, name, TARGETS_FILE).map(|text| bytes.len() - text.len())?;
    let mut text = bytes;
    text.drain(..bom);
    remove_comments(&mut text);
    let mut reader = targets_reader(io::Cursor::new(&text[..]));
    let csv_error = |error: csv::Error| not_csv(TARGETS_FILE, name, &error);
    let headers = reader.headers().map_err(csv_error)?.clone();
    let columns: Vec<Option<usize>> = TARGET_COLUMNS
        .iter()
        .map(|wanted| {
            headers
                .iter()
                .position(|header| header.eq_ignore_ascii_case(wanted))
        })
        .collect();
    let missing: Vec<String> = TARGET_COLUMNS
        .iter()
        .zip(&columns)
        .filter(|(_, column)| column.is_none())
        .map(|(wanted, _)| format!("`{wanted}`"))
        .collect();
    if !missing.is_empty() {
        return Err(Failure::usage(format!(
            "{TARGETS_FILE} `{name}` has no {} column; nothing was changed",
            missing.join(" and no ")
        ))
        .with_hint(
            "the first line (not blank or a comment) must name the columns serviceProviderId,groupId,userId",
        ));
    }
    let columns = [columns[0], columns[1], columns[2]].map(Option::unwrap_or_default);
    let mut record = csv::StringRecord::new();
    let mut counted = (0, 1);
    let mut rows = 0usize;
    while next_target(&mut reader, &mut record, &mut counted, columns, name)?.is_some() {
        rows += 1;
    }
    if rows == 0 {
        return Err(
            Failure::usage(format!("{TARGETS_FILE} `{name}` lists no users"))
                .with_hint("one row per user under the header serviceProviderId,groupId,userId"),
        );
    }
    drop(reader);
    let mut reader = targets_reader(io::Cursor::new(text));
    reader.headers().map_err(csv_error)?;
    Ok(TargetRows {
        reader,
        columns,
        record,
        counted: (0, 1),
    })
}

/// The CSV reader of a targets file.
fn targets_reader<R: io::Read>(source: R) -> csv::Reader<R> {
    csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(source)
}

/// Comment lines become blank lines, which the CSV reader skips and still counts (its own
/// comment handling loses count of the lines): the text is rewritten in place.
fn remove_comments(text: &mut Vec<u8>) {
    let mut kept = 0;
    let mut start = 0;
    while start < text.len() {
        let end = text[start..]
            .iter()
            .position(|&byte| byte == b'\n')
            .map_or(text.len(), |newline| start + newline + 1);
        let line = &text[start..end];
        // A line is whole UTF-8 (the text was checked, and a newline is never inside a
        // character).
        let comment =
            std::str::from_utf8(line).is_ok_and(|line| line.trim_start().starts_with('#'));
        let from = if comment {
            if line.ends_with(b"\r\n") {
                end - 2
            } else if line.ends_with(b"\n") {
                end - 1
            } else {
                end
            }
        } else {
            start
        };
        text.copy_within(from..end, kept);
        kept += end - from;
        start = end;
    }
    text.truncate(kept);
}

/// The next row of a targets file, checked (`None` after the last).
fn next_target<R: io::Read + AsBytes>(
    reader: &mut csv::Reader<R>,
    record: &mut csv::StringRecord,
    counted: &mut (usize, u64),
    [provider, group, user]: [usize; 3],
    name: &str,
) -> Result<Option<ListedTarget>, Failure> {
    let csv_error = |error: csv::Error| not_csv(TARGETS_FILE, name, &error);
    loop {
        if !reader.read_record(record).map_err(csv_error)? {
            return Ok(None);
        }
        let bytes = reader.get_ref().as_bytes();
        let mut lines = LineCounter {
            bytes,
            offset: counted.0,
            line: counted.1,
        };
        // The line of the record's first byte. The reader's own count skips blank lines, and
        // its position may stand on the line ends before the record.
        let line = record.position().map_or(0, |position| {
            let mut offset = usize::try_from(position.byte())
                .unwrap_or(0)
                .min(bytes.len());
            while bytes
                .get(offset)
                .is_some_and(|byte| matches!(byte, b'\r' | b'\n'))
            {
                offset += 1;
            }
            lines.line_at(offset)
        });
        *counted = (lines.offset, lines.line);
        if record.iter().all(str::is_empty) {
            continue;
        }
        let cell = |column: usize, heading: &str| match record.get(column) {
            Some(value) if !value.is_empty() => {
                if value.len() > MAX_USER_ID_BYTES || value.chars().any(char::is_control) {
                    return Err(Failure::usage(format!(
                        "{TARGETS_FILE} `{name}` line {line}: the `{heading}` `{}` is not one (too long, or a control character)",
                        value.chars().take(80).collect::<String>().escape_debug()
                    )));
                }
                Ok(value.to_owned())
            }
            _ => Err(Failure::usage(format!(
                "{TARGETS_FILE} `{name}` line {line} has no value in the `{heading}` column; nothing was changed"
            ))),
        };
        return Ok(Some(ListedTarget {
            line,
            service_provider_id: cell(provider, TARGET_COLUMNS[0])?,
            group_id: cell(group, TARGET_COLUMNS[1])?,
            user_id: cell(user, TARGET_COLUMNS[2])?,
        }));
    }
}

/// The bytes under a reader of a targets file.
trait AsBytes {
    fn as_bytes(&self) -> &[u8];
}

impl<T: AsRef<[u8]>> AsBytes for io::Cursor<T> {
    fn as_bytes(&self) -> &[u8] {
        self.get_ref().as_ref()
    }
}

/// The refusal of a file (`what`: users or targets file) that the CSV reader could not read.
fn not_csv(what: &str, name: &str, error: &csv::Error) -> Failure {
    let line = error
        .position()
        .map(|position| format!(" line {}", position.line()))
        .unwrap_or_default();
    Failure::usage(format!(
        "{what} `{name}`{line} is not valid CSV: {}",
        describe_csv_error(error)
    ))
}

/// The csv crate's messages without the parts that repeat the position we already give.
fn describe_csv_error(error: &csv::Error) -> String {
    match error.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => {
            format!("{len} fields where the header has {expected_len}")
        }
        _ => error.to_string(),
    }
}

fn checked<'a>(user_id: &'a str, line: u64, name: &str) -> Result<&'a str, Failure> {
    if user_id.len() > MAX_USER_ID_BYTES {
        return Err(Failure::usage(format!(
            "users file `{name}` line {line} is {} bytes long, more than the {MAX_USER_ID_BYTES} a user ID may have",
            user_id.len()
        )));
    }
    if user_id.chars().any(char::is_control) {
        return Err(Failure::usage(format!(
            "users file `{name}` line {line}: the user ID `{}` holds a control character",
            user_id.escape_debug()
        )));
    }
    Ok(user_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(text: &[u8]) -> Vec<String> {
        parse_users(text, "users.txt")
            .expect("parses")
            .iter()
            .map(str::to_owned)
            .collect()
    }

    fn error(text: &[u8]) -> String {
        parse_users(text, "users.txt")
            .expect_err("refused")
            .to_string()
    }

    #[test]
    fn plain_lists_skip_blanks_and_comments_and_trim() {
        let text = b"\xEF\xBB\xBF# users to reset\r\n  alice@x.example \r\n\r\nbob@x.example\n# done\n  \n";
        assert_eq!(ids(text), ["alice@x.example", "bob@x.example"]);
    }

    #[test]
    fn plain_lists_keep_duplicates_and_count_blank_lines() {
        assert_eq!(ids(b"a\n\nb\na\n"), ["a", "b", "a"]);
        // The line a message names counts the blank and comment lines before it.
        let message = error(b"a\n\n# c\nb\x00\n");
        assert!(message.contains("line 4"), "{message}");
    }

    #[test]
    fn ids_with_url_special_characters_are_kept_whole() {
        assert_eq!(
            ids(b"a&b?c#d%e+f g@x.example\n"),
            ["a&b?c#d%e+f g@x.example"]
        );
    }

    #[test]
    fn csv_with_a_user_id_column_is_read() {
        let text = b"name,userId,phone\r\nAlice,alice@x.example,100\r\n# comment\r\n\r\n\"Bob, Jr\", bob@x.example ,101\r\n";
        assert_eq!(ids(text), ["alice@x.example", "bob@x.example"]);
    }

    #[test]
    fn a_failures_file_can_be_fed_back() {
        let text = b"userId,status,reason\na@x.example,failed,\"[Error 4008] User not found: a@x.example\"\nb@x.example,uncertain,timeout\n";
        assert_eq!(ids(text), ["a@x.example", "b@x.example"]);
    }

    #[test]
    fn a_single_user_id_column_with_header_is_csv() {
        assert_eq!(ids(b"userId\na\nb\n"), ["a", "b"]);
    }

    #[test]
    fn csv_without_a_user_id_column_is_refused() {
        let message = error(b"name,phone\nalice,100\n");
        assert!(message.contains("no `userId` column"), "{message}");
    }

    #[test]
    fn csv_rows_without_a_user_id_are_refused_with_their_line() {
        let message = error(b"userId,name\na,Alice\n,Bob\n");
        assert!(message.contains("line 3"), "{message}");
    }

    #[test]
    fn binary_files_are_refused_with_the_line() {
        let message = error(b"alice\nbob\x00\x01\x02\n");
        assert!(
            message.contains("NUL") && message.contains("line 2"),
            "{message}"
        );
    }

    fn targets(text: &[u8]) -> Result<Vec<(String, String, String, u64)>, String> {
        parse_targets(text.to_vec(), "targets.csv")
            .map(|rows| {
                rows.into_iter()
                    .map(|row| (row.service_provider_id, row.group_id, row.user_id, row.line))
                    .collect()
            })
            .map_err(|failure| failure.to_string())
    }

    #[test]
    fn targets_files_take_the_three_columns_in_any_order() {
        let text = b"\xEF\xBB\xBF# enterprise-wide\r\nname,userId,GroupId,serviceProviderId\r\n\r\nAlice, a@x ,g1,sp1\r\n# skip\r\nBob,b@x,g2,sp2\r\n";
        assert_eq!(
            targets(text).unwrap(),
            [
                ("sp1".into(), "g1".into(), "a@x".into(), 4),
                ("sp2".into(), "g2".into(), "b@x".into(), 6)
            ]
        );
    }

    #[test]
    fn a_failures_file_across_groups_is_a_targets_file() {
        let text = b"serviceProviderId,groupId,userId,status,reason\nsp1,g1,a@x,failed,\"not in group `g1`, ...\"\n";
        assert_eq!(targets(text).unwrap().len(), 1);
    }

    #[test]
    fn targets_files_without_a_column_or_a_cell_are_refused() {
        let message = targets(b"userId,groupId\na,g\n").unwrap_err();
        assert!(
            message.contains("no `serviceProviderId` column"),
            "{message}"
        );
        let message = targets(b"userId\na\n").unwrap_err();
        assert!(
            message.contains("no `serviceProviderId` and no `groupId` column"),
            "{message}"
        );
        let message = targets(b"serviceProviderId,groupId,userId\nsp,g,a\nsp,,b\n").unwrap_err();
        assert!(
            message.contains("line 3") && message.contains("`groupId`"),
            "{message}"
        );
        let message = targets(b"serviceProviderId,groupId,userId\n# none\n").unwrap_err();
        assert!(message.contains("lists no users"), "{message}");
        let message = targets(b"\xFF\xFEs\x00").unwrap_err();
        assert!(
            message.contains("targets file") && message.contains("UTF-16"),
            "{message}"
        );
    }

    #[test]
    fn utf16_is_named_as_such() {
        let message = error(b"\xFF\xFEa\x00\n\x00");
        assert!(message.contains("UTF-16"), "{message}");
    }

    #[test]
    fn invalid_utf8_is_refused_with_the_line() {
        let message = error(b"alice\nbob\ncarol\xFF\xFE\n");
        assert!(
            message.contains("UTF-8") && message.contains("line 3"),
            "{message}"
        );
    }

    #[test]
    fn overlong_ids_are_refused() {
        let mut text = b"alice\n".to_vec();
        text.extend(std::iter::repeat_n(b'x', MAX_USER_ID_BYTES + 1));
        let message = error(&text);
        assert!(
            message.contains("line 2") && message.contains("1024"),
            "{message}"
        );
    }

    #[test]
    fn control_characters_are_refused() {
        let message = error(b"alice\nbo\x1bb\n");
        assert!(
            message.contains("line 2") && message.contains("control character"),
            "{message}"
        );
    }

    #[test]
    fn empty_lists_are_refused() {
        assert!(error(b"").contains("no user IDs"));
        assert!(error(b"# only a comment\n\n").contains("no user IDs"));
        assert!(error(b"userId\n").contains("no user IDs"));
    }

    #[test]
    fn missing_and_oversized_files_are_refused() {
        let directory = tempfile::tempdir().expect("temporary directory");
        let missing = directory.path().join("missing.txt");
        assert!(
            read_users_file(&missing)
                .expect_err("missing")
                .to_string()
                .contains("cannot read")
        );

        let huge = directory.path().join("huge.txt");
        let file = std::fs::File::create(&huge).expect("create");
        file.set_len(MAX_FILE_BYTES + 1).expect("sparse file");
        assert!(
            read_users_file(&huge)
                .expect_err("huge")
                .to_string()
                .contains("larger than")
        );

        assert!(
            read_users_file(directory.path())
                .expect_err("directory")
                .to_string()
                .contains("directory")
        );
    }

    /// The line of the byte at `offset`, counted from 1, counted here the plain way.
    fn line_of(bytes: &[u8], offset: usize) -> u64 {
        bytes[..offset]
            .iter()
            .filter(|&&byte| byte == b'\n')
            .count() as u64
            + 1
    }

    #[test]
    fn a_nul_byte_or_invalid_utf8_is_placed_on_its_line() {
        let samples: [&[u8]; 12] = [
            b"alice\nb\xC3\xA9b\n",
            b"ab\xE2\x82",
            b"ab\xE2\x82\nc\n",
            b"\xF0\x9F\x98\x80x\n\xFF",
            b"a\x00b\n\xFF\n",
            b"x\n\xED\xA0\x80\n",
            b"\xC3",
            b"\n\n\xC3\xA9\xC3",
            b"\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\n\x00",
            b"\xE2\x82\xACz\xF0\x9F\x98",
            b"\xF0\x9F\n\x98\x80",
            b"one\r\ntwo\r\n\x89PNG\r\n\x1A\n\x00\x00",
        ];
        for sample in samples {
            let nul = sample
                .iter()
                .position(|&byte| byte == 0)
                .map(|offset| line_of(sample, offset));
            let invalid = std::str::from_utf8(sample)
                .err()
                .map(|error| line_of(sample, error.valid_up_to()));
            let result = parse_users(sample, "users.txt").map_err(|failure| failure.to_string());
            match (nul, invalid) {
                (Some(line), _) => {
                    let message = result.expect_err("a NUL byte");
                    assert!(
                        message.contains(&format!("line {line} holds a NUL byte")),
                        "{sample:?}: {message}"
                    );
                }
                (None, Some(line)) => {
                    let message = result.expect_err("invalid UTF-8");
                    assert!(
                        message.contains(&format!("line {line} is not valid UTF-8")),
                        "{sample:?}: {message}"
                    );
                }
                (None, None) => assert!(result.is_ok(), "{sample:?}: {result:?}"),
            }
        }
    }

    #[test]
    fn a_file_at_fault_in_several_ways_names_the_fault_the_whole_file_read_at_once_named() {
        // A PNG has invalid UTF-8 on its first line and its first NUL on the third.
        let message = error(b"\x89PNG\r\n\x1A\n\x00\x00\x00\rIHDR");
        assert!(
            message.contains("NUL") && message.contains("line 3"),
            "{message}"
        );
        // A fault of a line gives way to invalid UTF-8 further down.
        let mut text = b"alice\n".to_vec();
        text.extend(std::iter::repeat_n(b'x', MAX_USER_ID_BYTES + 1));
        text.extend(b"\nbob\ncarol\xFF\n");
        let message = error(&text);
        assert!(
            message.contains("UTF-8") && message.contains("line 4"),
            "{message}"
        );
        // In CSV too, and a control character gives way to a NUL byte.
        let message = error(b"userId\na\x1b\nb\n\xC3(\n");
        assert!(
            message.contains("UTF-8") && message.contains("line 4"),
            "{message}"
        );
        let message = error(b"bo\x1bb\nalice\n\x00\n");
        assert!(
            message.contains("NUL") && message.contains("line 3"),
            "{message}"
        );
        // UTF-16 before everything else.
        let message = error(b"\xEF\xBB\xBF\xFE\xFF\x00a\x00\x00");
        assert!(message.contains("UTF-16"), "{message}");
    }

    /// Lines of 2,000 `x`, without end: what a file that grows as it is read could give.
    struct Endless;

    impl Read for Endless {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            for (index, byte) in out.iter_mut().enumerate() {
                *byte = if index % 2_000 == 1_999 { b'\n' } else { b'x' };
            }
            Ok(out.len())
        }
    }

    #[test]
    fn a_source_longer_than_the_cap_is_refused_once_the_cap_is_passed() {
        let message = read_capped(Endless, Vec::new(), "users.txt", USERS_FILE)
            .expect_err("too large")
            .to_string();
        assert!(message.contains("larger than 64 MiB"), "{message}");
    }

    /// Fails after giving some bytes.
    struct Failing<'a>(&'a [u8]);

    impl Read for Failing<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            if self.0.is_empty() {
                return Err(io::Error::other("device lost"));
            }
            let count = self.0.len().min(out.len());
            out[..count].copy_from_slice(&self.0[..count]);
            self.0 = &self.0[count..];
            Ok(count)
        }
    }

    #[test]
    fn a_read_error_part_way_is_reported_as_such() {
        let message = read_capped(
            Failing(b"alice\nbob\n"),
            Vec::new(),
            "users.txt",
            USERS_FILE,
        )
        .expect_err("read error")
        .to_string();
        assert!(
            message.contains("cannot read users file `users.txt`: device lost"),
            "{message}"
        );
    }
}
