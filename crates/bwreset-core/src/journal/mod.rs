//! The durable journal: JSON lines, one writer, intent synced before each request leaves.
//!
//! Three parts, along the seams of the file's life:
//! - `writer`: the file itself: its lock, the directory sync, and the writer thread that
//!   gathers whatever appends are pending into one `write` and, when someone waits for
//!   durability, one `sync_data` (group commit);
//! - `records`: what a line says: the header, the records as written and as read, their
//!   encoding, and the plan's records;
//! - `replay`: the lines read back in order, rebuilding every user's state.
//!
//! This module holds [`Journal`], which ties them together. The report is built from a replay
//! in `crate::report`, not here.

mod records;
mod replay;
mod writer;

use std::fmt;
use std::fs::{File, OpenOptions, Permissions};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use zeroize::Zeroizing;

use crate::Error;
use crate::report::{Counts, OutcomeKind, Report};
use crate::seal::ValueSealer;
use bwreset_backend::UserIdList;
use secrecy::SecretString;

pub use records::{DeviceAction, JOURNAL_VERSION, JournalHeader, utc_timestamp};
pub(crate) use records::{
    DeviceRecord, DeviceStepRecord, OutcomeRecord, RecordOut, RegistrationMark, plan_records,
    rfc3339_now,
};
use replay::Replaying;
pub(crate) use replay::{DeviceStep, Replay, ReplayDevice, UserState};

use records::{HEADER_START, RecordIn, SealedIntentOut, encode, parse_line};
use replay::{replay_reader, unseal};
pub(crate) use writer::WriteFailure;
use writer::{PositionedReader, WriteRequest, Writer, lock, sync_parent_directory};

/// The longest header line [`Journal::read_header`] reads.
const MAX_HEADER_BYTES: u64 = 1 << 20;

/// Where a journal lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JournalStore {
    /// A new file at this path (it must not exist), created 0600.
    File(PathBuf),
    /// In memory only: nothing survives the process. Only when the caller asks for it.
    Memory,
}

/// The durable record of a run. One writer per journal file, enforced by an exclusive lock held
/// for the life of the value. See the crate docs for the line format.
pub struct Journal {
    path: PathBuf,
    header: JournalHeader,
    sink: Sink,
    /// The state found by `open`, for `resume`.
    replayed: Option<Replay>,
    /// Seals `intent` values when written and opens them when read; `None`: values as they are.
    sealer: Option<Arc<dyn ValueSealer>>,
}

enum Sink {
    File {
        file: Arc<File>,
        writer: Writer,
    },
    Memory {
        lines: Mutex<Vec<Zeroizing<Vec<u8>>>>,
    },
}

impl fmt::Debug for Journal {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("Journal")
            .field("path", &self.path)
            .field("header", &self.header)
            .field(
                "store",
                &match self.sink {
                    Sink::File { .. } => "file",
                    Sink::Memory { .. } => "memory",
                },
            )
            .field(
                "sealed",
                &self
                    .sealer
                    .as_ref()
                    .map(|sealer| sealer.scheme().to_owned()),
            )
            .finish()
    }
}

impl Journal {
    /// Creates a new journal file (mode 0600 whatever the umask; refuses an existing file or a
    /// symbolic link), locks it, and writes and syncs the header.
    pub fn create(path: &Path, header: JournalHeader) -> Result<Journal, Error> {
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)
            .map_err(|source| match source.kind() {
                io::ErrorKind::AlreadyExists => Error::JournalExists {
                    path: path.to_path_buf(),
                },
                _ => Error::journal_io(path, source),
            })?;
        file.set_permissions(Permissions::from_mode(0o600))
            .map_err(|source| Error::journal_io(path, source))?;
        lock(&file, path)?;
        let line = encode(&RecordOut::Header(&header));
        (&file)
            .write_all(&line)
            .and_then(|()| file.sync_data())
            .map_err(|source| Error::journal_io(path, source))?;
        sync_parent_directory(path)?;
        Ok(Journal::with_file(path, header, file, None))
    }

    /// Like [`Journal::create`], with every `intent` value sealed by `sealer` before it is
    /// written (see [`ValueSealer`]).
    pub fn create_sealed(
        path: &Path,
        header: JournalHeader,
        sealer: Arc<dyn ValueSealer>,
    ) -> Result<Journal, Error> {
        let mut journal = Journal::create(path, header)?;
        journal.sealer = Some(sealer);
        Ok(journal)
    }

    /// A journal kept in memory: the same records, lost with the process. Only for callers that
    /// ask for it.
    pub fn memory(header: JournalHeader) -> Journal {
        let line = encode(&RecordOut::Header(&header));
        Journal {
            path: PathBuf::from("<memory>"),
            header,
            sink: Sink::Memory {
                lines: Mutex::new(vec![line]),
            },
            replayed: None,
            sealer: None,
        }
    }

    /// Reads the header of a journal without locking or replaying it: what a caller needs to
    /// know (its `meta`) before choosing how to open it.
    pub fn read_header(path: &Path) -> Result<JournalHeader, Error> {
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)
            .map_err(|source| Error::journal_io(path, source))?;
        let mut line = Zeroizing::new(Vec::with_capacity(1024));
        BufReader::new(file.take(MAX_HEADER_BYTES))
            .read_until(b'\n', &mut line)
            .map_err(|source| Error::journal_io(path, source))?;
        let corrupt = |message: String| Error::JournalCorrupt {
            path: path.to_path_buf(),
            line: 1,
            message,
        };
        if line.last() != Some(&b'\n') {
            return Err(corrupt("the journal has no complete header".into()));
        }
        match parse_line(&line[..line.len() - 1]).map_err(corrupt)? {
            RecordIn::Header(header) => Ok(header),
            _ => Err(corrupt("the first line is not a header".into())),
        }
    }

    /// Opens an existing journal: locks it ([`Error::JournalLocked`] if another process holds
    /// it), replays it, and removes a torn last line (a write cut short by a crash). A sealed
    /// value is refused ([`Error::JournalSealed`]): use [`Journal::open_sealed`].
    pub fn open(path: &Path) -> Result<Journal, Error> {
        Journal::open_with(path, None)
    }

    /// Like [`Journal::open`], with `sealer` opening the sealed values as they are replayed and
    /// sealing the values written from now on.
    pub fn open_sealed(path: &Path, sealer: Arc<dyn ValueSealer>) -> Result<Journal, Error> {
        Journal::open_with(path, Some(sealer))
    }

    fn open_with(path: &Path, sealer: Option<Arc<dyn ValueSealer>>) -> Result<Journal, Error> {
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)
            .map_err(|source| Error::journal_io(path, source))?;
        let metadata = file
            .metadata()
            .map_err(|source| Error::journal_io(path, source))?;
        if !metadata.is_file() {
            return Err(Error::journal_io(
                path,
                io::Error::new(io::ErrorKind::InvalidInput, "not a regular file"),
            ));
        }
        lock(&file, path)?;
        if metadata.permissions().mode() & 0o077 != 0 {
            // The file holds new credentials: nobody else may read it.
            if let Err(error) = file.set_permissions(Permissions::from_mode(0o600)) {
                tracing::warn!(path = %path.display(), %error, "could not restrict the journal to mode 0600");
            }
        }
        let (replaying, torn) = replay_reader(
            BufReader::with_capacity(1 << 16, PositionedReader::new(&file)),
            path,
            sealer.as_deref(),
            None,
        )?;
        if let Some(torn) = torn {
            tracing::warn!(
                path = %path.display(),
                line = torn.line,
                bytes = torn.bytes,
                "the journal ends with an incomplete line (a write cut short); removing it"
            );
            file.set_len(torn.offset)
                .and_then(|()| file.sync_data())
                .map_err(|source| Error::journal_io(path, source))?;
        }
        let replay = replaying
            .finish()
            .map_err(|message| Error::JournalCorrupt {
                path: path.to_path_buf(),
                line: 1,
                message,
            })?;
        let header = replay.header.clone();
        let mut journal = Journal::with_file(path, header, file, Some(replay));
        journal.sealer = sealer;
        Ok(journal)
    }

    fn with_file(path: &Path, header: JournalHeader, file: File, replayed: Option<Replay>) -> Self {
        let file = Arc::new(file);
        let writer = Writer::start(Arc::clone(&file));
        Journal {
            path: path.to_path_buf(),
            header,
            sink: Sink::File { file, writer },
            replayed,
            sealer: None,
        }
    }

    /// The header.
    pub fn header(&self) -> &JournalHeader {
        &self.header
    }

    /// The file, or `None` for a journal in memory.
    pub fn path(&self) -> Option<&Path> {
        match self.sink {
            Sink::File { .. } => Some(&self.path),
            Sink::Memory { .. } => None,
        }
    }

    /// The report as the journal stands (users never attempted count as failed, users sent
    /// without a recorded answer as uncertain). No request is made. It holds every value: for
    /// a big journal, [`Journal::summary`] gives the counts and completeness without them.
    pub fn report(&self) -> Result<Report, Error> {
        self.replay()?.into_report(self, Duration::ZERO)
    }

    /// How many users the journal holds in each outcome, and whether it is complete, as
    /// [`Journal::report`] would say, without reading the values.
    pub fn summary(&self) -> Result<(Counts, bool), Error> {
        let replay = self.replay()?;
        let mut counts = Counts::default();
        for (_, user) in replay.users() {
            match crate::report::kind_of(user.state) {
                OutcomeKind::Set => counts.set += 1,
                OutcomeKind::Failed => counts.failed += 1,
                OutcomeKind::Uncertain => counts.uncertain += 1,
            }
        }
        let complete = replay.stop_reason.is_none() && counts.set == counts.total();
        Ok((counts, complete))
    }

    /// The action of the journal's device phase, if one was journaled (its phones were found,
    /// and maybe rebuilt or reset).
    pub fn device_action(&self) -> Result<Option<DeviceAction>, Error> {
        Ok(self.replay()?.device_action)
    }

    /// How many of the journal's users were never started (counted as failed by
    /// [`Journal::summary`]): no value was ever sent to them.
    pub fn never_started(&self) -> Result<usize, Error> {
        let replay = self.replay()?;
        Ok(replay
            .users()
            .filter(|(_, user)| user.state == UserState::NotStarted)
            .count())
    }

    /// A reader of the values of this journal's `intent` lines, by the position a replay
    /// recorded ([`ReplayUser::intent`]). Callers make sure no append is in flight.
    pub(crate) fn value_reader(&self) -> ValueReader<'_> {
        ValueReader {
            journal: self,
            window: Zeroizing::new(Vec::new()),
            window_start: 0,
        }
    }

    /// Whether the journal holds a complete plan (a run started from it).
    pub fn has_plan(&self) -> Result<bool, Error> {
        Ok(self.replay()?.plan_complete)
    }

    pub(crate) fn take_replayed(&mut self) -> Result<Replay, Error> {
        match self.replayed.take() {
            Some(replay) => Ok(replay),
            None => self.replay(),
        }
    }

    /// Reads every record back. Callers make sure no append is in flight (after [`Self::sync`]).
    pub(crate) fn replay(&self) -> Result<Replay, Error> {
        self.replay_expecting(None)
    }

    /// [`Self::replay`] of a journal whose `targets` records list `targets`, taken as they are
    /// (and checked) rather than built again: the end of the run that wrote them.
    pub(crate) fn replay_expecting(&self, targets: Option<UserIdList>) -> Result<Replay, Error> {
        match &self.sink {
            Sink::File { file, .. } => {
                let (replaying, torn) = replay_reader(
                    BufReader::with_capacity(1 << 16, PositionedReader::new(file)),
                    &self.path,
                    self.sealer.as_deref(),
                    targets,
                )?;
                if torn.is_some() {
                    return Err(Error::JournalCorrupt {
                        path: self.path.clone(),
                        line: torn.map_or(0, |torn| torn.line),
                        message: "incomplete last line in a journal this process writes".into(),
                    });
                }
                replaying
                    .finish()
                    .map_err(|message| self.corrupt(1, message))
            }
            Sink::Memory { lines } => {
                let lines = lines.lock().unwrap_or_else(|poison| poison.into_inner());
                let mut replay = Replaying::expecting(targets);
                for (index, line) in lines.iter().enumerate() {
                    let line_number = index as u64 + 1;
                    let record = parse_line(&line[..line.len().saturating_sub(1)])
                        .map_err(|message| self.corrupt(line_number, message))?;
                    let record = unseal(record, self.sealer.as_deref(), &self.path, line_number)?;
                    replay
                        .apply(record, index as u64)
                        .map_err(|message| self.corrupt(line_number, message))?;
                }
                replay.finish().map_err(|message| self.corrupt(1, message))
            }
        }
    }

    fn corrupt(&self, line: u64, message: String) -> Error {
        Error::JournalCorrupt {
            path: self.path.clone(),
            line,
            message,
        }
    }

    /// One record as one line, its value sealed if the journal seals values.
    fn line(&self, record: &RecordOut<'_>) -> Result<Zeroizing<Vec<u8>>, Error> {
        match (record, &self.sealer) {
            (
                RecordOut::Intent {
                    user,
                    value,
                    attempt,
                    user_name,
                },
                Some(sealer),
            ) => {
                let sealed = sealer.seal(value).map_err(|error| Error::JournalSealed {
                    path: self.path.clone(),
                    message: format!("cannot seal the value for `{user}`: {error}"),
                })?;
                Ok(encode(&SealedIntentOut {
                    record: "intent",
                    user,
                    value: &sealed,
                    attempt: *attempt,
                    sealed: sealer.scheme(),
                    user_name: *user_name,
                }))
            }
            _ => Ok(encode(record)),
        }
    }

    /// Appends a record and waits until it is on disk.
    pub(crate) async fn append_durable(&self, record: &RecordOut<'_>) -> Result<(), Error> {
        let line = self.line(record)?;
        match &self.sink {
            Sink::Memory { lines } => {
                lines
                    .lock()
                    .unwrap_or_else(|poison| poison.into_inner())
                    .push(line);
                Ok(())
            }
            Sink::File { writer, .. } => {
                let (sender, receiver) = tokio::sync::oneshot::channel();
                writer.send(WriteRequest {
                    bytes: line,
                    ack: Some(sender),
                });
                match receiver.await {
                    Ok(result) => result.map_err(|failure| failure.into_error(&self.path)),
                    Err(_) => Err(WriteFailure::stopped().into_error(&self.path)),
                }
            }
        }
    }

    /// Appends a record without waiting for the disk. It reaches the operating system promptly
    /// (a killed process does not lose it); the next durable append or [`Self::sync`] makes it
    /// durable, and reports a write error if there was one.
    ///
    /// Values are written with [`Self::append_durable`] only: a value that cannot be sealed here
    /// is logged and not written, which nothing would notice.
    pub(crate) fn append(&self, record: &RecordOut<'_>) {
        let line = match self.line(record) {
            Ok(line) => line,
            Err(error) => {
                tracing::error!(%error, "journal record not written");
                return;
            }
        };
        self.send(line);
    }

    /// Hands a line to the file's writer (or the memory's list), without waiting.
    fn send(&self, line: Zeroizing<Vec<u8>>) {
        match &self.sink {
            Sink::Memory { lines } => lines
                .lock()
                .unwrap_or_else(|poison| poison.into_inner())
                .push(line),
            Sink::File { writer, .. } => writer.send(WriteRequest {
                bytes: line,
                ack: None,
            }),
        }
    }

    /// Appends several records, durably. A plan of a million users is some 25 MB of lines:
    /// they go to the writer a few megabytes at a time, so that they are never all in memory.
    pub(crate) async fn append_all_durable(&self, records: &[RecordOut<'_>]) -> Result<(), Error> {
        const SYNC_EVERY: usize = 4 << 20;
        let mut pending = 0usize;
        for record in records {
            let line = self.line(record)?;
            pending += line.len();
            self.send(line);
            if pending >= SYNC_EVERY {
                self.sync().await?;
                pending = 0;
            }
        }
        self.sync().await
    }

    /// Waits until everything appended so far is on disk.
    pub(crate) async fn sync(&self) -> Result<(), Error> {
        match &self.sink {
            Sink::Memory { .. } => Ok(()),
            Sink::File { writer, .. } => {
                let (sender, receiver) = tokio::sync::oneshot::channel();
                writer.send(WriteRequest {
                    bytes: Zeroizing::new(Vec::new()),
                    ack: Some(sender),
                });
                match receiver.await {
                    Ok(result) => result.map_err(|failure| failure.into_error(&self.path)),
                    Err(_) => Err(WriteFailure::stopped().into_error(&self.path)),
                }
            }
        }
    }
}

impl Journal {
    /// Removes the journal at `path` if it provably holds nothing sent: a run killed after
    /// creating its journal and before its plan was durable leaves one, which `resume` cannot
    /// finish (there is no plan) and which would stop a new run from creating its own. Such a
    /// file is empty, or holds a header (whole or torn) and at most part of a plan: no plan end,
    /// so no intent (intents only follow a durable plan end). Anything else, including a file
    /// that does not look like a journal, is left alone.
    ///
    /// Takes the journal's lock first ([`Error::JournalLocked`] if another process holds it).
    /// Returns whether the file was removed; `false` also when there is no file.
    pub fn remove_if_unused(path: &Path) -> Result<bool, Error> {
        let file = match OpenOptions::new()
            .read(true)
            .append(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)
        {
            Ok(file) => file,
            Err(source) if source.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(source) => return Err(Error::journal_io(path, source)),
        };
        let is_file = file
            .metadata()
            .map_err(|source| Error::journal_io(path, source))?
            .is_file();
        if !is_file {
            return Ok(false);
        }
        lock(&file, path)?;
        let unused = holds_nothing_sent(&file).map_err(|source| Error::journal_io(path, source))?;
        if unused {
            std::fs::remove_file(path).map_err(|source| Error::journal_io(path, source))?;
            sync_parent_directory(path)?;
        }
        Ok(unused)
    }
}

/// See [`Journal::remove_if_unused`].
fn holds_nothing_sent(file: &File) -> io::Result<bool> {
    let mut reader = BufReader::with_capacity(1 << 16, PositionedReader::new(file));
    let mut line = Zeroizing::new(Vec::with_capacity(512));
    let mut first = true;
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Ok(true);
        }
        let whole = line.last() == Some(&b'\n');
        if first {
            first = false;
            let header_like =
                line.starts_with(HEADER_START) || (!whole && HEADER_START.starts_with(&line));
            if !header_like {
                return Ok(false);
            }
            continue;
        }
        if !whole {
            // A torn last line: never acknowledged, so nothing was sent after it.
            return Ok(true);
        }
        match parse_line(&line[..line.len() - 1]) {
            Ok(
                RecordIn::Targets { .. } | RecordIn::Duplicates { .. } | RecordIn::Rejected { .. },
            ) => {}
            // A plan end, an intent or an outcome: the run may have sent something.
            Ok(_) | Err(_) => return Ok(false),
        }
    }
}

/// The longest intent line a [`ValueReader`] reads (a sealed value is a few hundred bytes).
const MAX_INTENT_BYTES: usize = 1 << 20;

/// Reads values back from a journal's `intent` lines: the report's values stay on disk until
/// they are written out. Lines are read through a window of 64 KiB (the intents of a run lie
/// nearly in input order, so that most reads are served from it), wiped when dropped or
/// refilled.
pub(crate) struct ValueReader<'a> {
    journal: &'a Journal,
    window: Zeroizing<Vec<u8>>,
    window_start: u64,
}

impl ValueReader<'_> {
    /// The value of `user`'s intent line at `position`, opened if sealed, and the new SIP
    /// authentication user name sent with it, if one was.
    pub(crate) fn intent(
        &mut self,
        position: u64,
        user: &str,
    ) -> Result<(SecretString, Option<String>), Error> {
        let journal = self.journal;
        let record = match &journal.sink {
            Sink::Memory { lines } => {
                let lines = lines.lock().unwrap_or_else(|poison| poison.into_inner());
                let line = usize::try_from(position)
                    .ok()
                    .and_then(|index| lines.get(index))
                    .ok_or_else(|| journal.corrupt(position + 1, "no such line".into()))?;
                parse_line(&line[..line.len().saturating_sub(1)])
                    .map_err(|message| journal.corrupt(position + 1, message))?
            }
            Sink::File { file, .. } => {
                let line = self.line_at(file, position)?;
                parse_line(line).map_err(|message| {
                    journal.corrupt(0, format!("{message} (the line at byte {position})"))
                })?
            }
        };
        match unseal(record, journal.sealer.as_deref(), &journal.path, 0)? {
            RecordIn::Intent {
                user: found,
                value,
                user_name,
                ..
            } if found.as_str() == user => Ok((value, user_name)),
            _ => Err(journal.corrupt(
                0,
                format!("the line at {position} is not an intent of `{user}`"),
            )),
        }
    }

    /// The line starting at byte `position` of the file, without its newline.
    fn line_at(&mut self, file: &File, position: u64) -> Result<&[u8], Error> {
        let journal = self.journal;
        let io_error = |source| Error::journal_io(&journal.path, source);
        let mut want = 1 << 16;
        loop {
            let offset = position.checked_sub(self.window_start);
            let found = offset
                .and_then(|offset| usize::try_from(offset).ok())
                .filter(|&offset| offset < self.window.len())
                .and_then(|offset| {
                    self.window[offset..]
                        .iter()
                        .position(|&byte| byte == b'\n')
                        .map(|length| (offset, length))
                });
            if let Some((offset, length)) = found {
                return Ok(&self.window[offset..offset + length]);
            }
            if want > MAX_INTENT_BYTES {
                return Err(journal.corrupt(0, format!("no complete line at byte {position}")));
            }
            // Refill from the line's start: what the window held is wiped with it.
            let mut window = Zeroizing::new(vec![0u8; want]);
            let mut filled = 0;
            while filled < want {
                let read = file
                    .read_at(&mut window[filled..], position + filled as u64)
                    .map_err(io_error)?;
                if read == 0 {
                    break;
                }
                filled += read;
            }
            window.truncate(filled);
            let complete = filled < want;
            self.window = window;
            self.window_start = position;
            if complete && !self.window.contains(&b'\n') {
                return Err(journal.corrupt(0, format!("no complete line at byte {position}")));
            }
            want *= 4;
        }
    }
}

#[cfg(test)]
mod tests;
