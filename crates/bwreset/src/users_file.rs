//! Reading the list of users to reset: one userId per line, or CSV with a `userId` column.
//!
//! The file comes from a spreadsheet, another tool or a previous run's failures file, so it is
//! read defensively: a UTF-8 byte-order mark and CRLF line ends are accepted, blank lines and
//! `#` comments skipped, spaces around an ID trimmed; binary data, invalid UTF-8, overlong IDs
//! and oversized files are refused with the line at fault. Duplicates are kept here: the engine
//! resets each user once and reports the repetition.

use std::io::Read;
use std::path::Path;

use crate::errors::Failure;

/// Larger files are refused before being read: a list of user IDs is never this big.
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// No BroadWorks user ID comes near this; a longer "ID" means the file is not what it seems.
pub const MAX_USER_ID_BYTES: usize = 1024;

const BYTE_ORDER_MARK: &[u8] = b"\xEF\xBB\xBF";

/// One user ID read from the file, with the line it was on (counted from 1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedUser {
    pub line: u64,
    pub user_id: String,
}

/// Reads and parses a users file, refusing anything that is not a plain list of user IDs.
pub fn read_users_file(path: &Path) -> Result<Vec<ListedUser>, Failure> {
    let shown = path.display();
    let cannot_read = |error: std::io::Error| {
        Failure::usage(format!("cannot read users file `{shown}`: {error}"))
    };
    let file = std::fs::File::open(path).map_err(cannot_read)?;
    let metadata = file.metadata().map_err(cannot_read)?;
    if metadata.is_dir() {
        return Err(Failure::usage(format!(
            "users file `{shown}` is a directory"
        )));
    }
    let too_large = || {
        Failure::usage(format!(
            "users file `{shown}` is larger than {} MiB",
            MAX_FILE_BYTES / (1024 * 1024)
        ))
        .with_hint("split the list into several runs")
    };
    if metadata.len() > MAX_FILE_BYTES {
        return Err(too_large());
    }
    // The size can change after the check (or be unknown, for a pipe): read one byte more than
    // the cap to notice.
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot_read)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_large());
    }
    parse_users(&bytes, &shown.to_string())
}

/// Parses the contents of a users file; `name` is how the file is named in messages.
pub fn parse_users(bytes: &[u8], name: &str) -> Result<Vec<ListedUser>, Failure> {
    let bytes = bytes.strip_prefix(BYTE_ORDER_MARK).unwrap_or(bytes);
    // Spreadsheets save "Unicode text" as UTF-16: say so rather than call it binary.
    if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
        return Err(
            Failure::usage(format!("users file `{name}` is UTF-16 text, not UTF-8"))
                .with_hint("save it as UTF-8 (in a spreadsheet: CSV UTF-8)"),
        );
    }
    if let Some(offset) = bytes.iter().position(|&byte| byte == 0) {
        return Err(Failure::usage(format!(
            "users file `{name}` line {} holds a NUL byte: it looks like a binary file, not a list of user IDs",
            line_of(bytes, offset)
        )));
    }
    let text = std::str::from_utf8(bytes).map_err(|error| {
        Failure::usage(format!(
            "users file `{name}` line {} is not valid UTF-8",
            line_of(bytes, error.valid_up_to())
        ))
        .with_hint("save the file as UTF-8")
    })?;

    let users = if looks_like_csv(text) {
        parse_csv(text, name)?
    } else {
        parse_lines(text, name)?
    };
    if users.is_empty() {
        return Err(
            Failure::usage(format!("users file `{name}` lists no user IDs")).with_hint(
                "one user ID per line, or CSV with a `userId` column; `#` starts a comment",
            ),
        );
    }
    Ok(users)
}

/// A CSV file announces itself by its header: the first line that is not blank or a comment
/// has a comma in it, or is the single column name `userId`.
fn looks_like_csv(text: &str) -> bool {
    text.lines()
        .map(str::trim)
        .find(|line| !line.is_empty() && !line.starts_with('#'))
        .is_some_and(|first| {
            first.contains(',') || first.trim_matches('"').eq_ignore_ascii_case("userId")
        })
}

fn parse_lines(text: &str, name: &str) -> Result<Vec<ListedUser>, Failure> {
    let mut users = Vec::new();
    for (index, line) in text.split('\n').enumerate() {
        let line_number = index as u64 + 1;
        let user_id = line.trim();
        if user_id.is_empty() || user_id.starts_with('#') {
            continue;
        }
        users.push(checked(user_id, line_number, name)?);
    }
    Ok(users)
}

fn parse_csv(text: &str, name: &str) -> Result<Vec<ListedUser>, Failure> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .comment(Some(b'#'))
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let csv_error = |error: csv::Error| {
        let line = error
            .position()
            .map(|position| format!(" line {}", position.line()))
            .unwrap_or_default();
        Failure::usage(format!(
            "users file `{name}`{line} is not valid CSV: {}",
            describe_csv_error(&error)
        ))
    };
    let headers = reader.headers().map_err(csv_error)?.clone();
    let column = headers.iter().position(|header| header.eq_ignore_ascii_case("userId")).ok_or_else(|| {
        let header_line = reader.position().line().saturating_sub(1).max(1);
        Failure::usage(format!(
            "users file `{name}` looks like CSV (line {header_line} has a comma) but has no `userId` column"
        ))
        .with_hint("name the column of user IDs `userId` in the first line, or list one user ID per line")
    })?;

    let mut users = Vec::new();
    for record in reader.records() {
        let record = record.map_err(csv_error)?;
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

/// The csv crate's messages without the parts that repeat the position we already give.
fn describe_csv_error(error: &csv::Error) -> String {
    match error.kind() {
        csv::ErrorKind::Utf8 { .. } => "invalid UTF-8".to_owned(),
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => {
            format!("{len} fields where the header has {expected_len}")
        }
        _ => error.to_string(),
    }
}

fn checked(user_id: &str, line: u64, name: &str) -> Result<ListedUser, Failure> {
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
    Ok(ListedUser {
        line,
        user_id: user_id.to_owned(),
    })
}

fn line_of(bytes: &[u8], offset: usize) -> u64 {
    bytes[..offset.min(bytes.len())]
        .iter()
        .filter(|&&byte| byte == b'\n')
        .count() as u64
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(text: &[u8]) -> Vec<String> {
        parse_users(text, "users.txt")
            .expect("parses")
            .into_iter()
            .map(|user| user.user_id)
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
    fn plain_lists_keep_line_numbers_and_duplicates() {
        let users = parse_users(b"a\n\nb\na\n", "users.txt").expect("parses");
        let lines: Vec<(u64, &str)> = users
            .iter()
            .map(|user| (user.line, user.user_id.as_str()))
            .collect();
        assert_eq!(lines, [(1, "a"), (3, "b"), (4, "a")]);
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
}
