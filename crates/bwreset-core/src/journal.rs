//! The durable journal: JSON lines, one writer, intent synced before each request leaves.
//!
//! Appends from many workers go through one writer thread that gathers whatever is pending into
//! one `write` and, when someone waits for durability, one `sync_data` (group commit). Replaying
//! the lines in order rebuilds every user's state; the report is built from that replay.

use std::collections::HashMap;
use std::fmt;
use std::fs::{File, OpenOptions, Permissions};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

use crate::Error;
use crate::report::{Duplicate, Outcome, Redacted, Report, ReportEntry};
use crate::seal::ValueSealer;
use crate::types::{PasswordType, UserId};

/// The journal format version written by this build. Version 2 added the optional `sealed`
/// field of `intent` records; this build reads versions 1 and 2.
pub const JOURNAL_VERSION: u32 = 2;

/// The oldest journal format version this build reads.
const OLDEST_JOURNAL_VERSION: u32 = 1;

/// The longest header line [`Journal::read_header`] reads.
const MAX_HEADER_BYTES: u64 = 1 << 20;

/// Target IDs per `targets` line.
const TARGETS_PER_LINE: usize = 1000;

/// Requests the writer thread gathers into one write at most.
const MAX_BATCH: usize = 4096;

/// The writer's buffer is given back down to this size after a large batch (the plan).
const MAX_KEPT_BUFFER: usize = 1 << 20;

/// Where a journal lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JournalStore {
    /// A new file at this path (it must not exist), created 0600.
    File(PathBuf),
    /// In memory only: nothing survives the process. Only when the caller asks for it.
    Memory,
}

/// The first line of a journal: what the run is about.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JournalHeader {
    /// The journal format version ([`JOURNAL_VERSION`]).
    pub version: u32,
    /// The version of the tool that created the journal.
    pub tool_version: String,
    /// The credential reset.
    pub password_type: PasswordType,
    /// The service provider.
    pub service_provider_id: String,
    /// The group.
    pub group_id: String,
    /// The Odin base URL the run talks to.
    pub base_url: String,
    /// When the journal was created, RFC 3339 in UTC.
    pub created_at: String,
    /// Opaque to the engine: the caller keeps what it needs to resume (output path, format).
    #[serde(default)]
    pub meta: serde_json::Value,
}

impl JournalHeader {
    /// A header for a run created now, with this crate's version.
    pub fn new(
        password_type: PasswordType,
        service_provider_id: impl Into<String>,
        group_id: impl Into<String>,
        base_url: impl Into<String>,
        meta: serde_json::Value,
    ) -> Self {
        JournalHeader {
            version: JOURNAL_VERSION,
            tool_version: env!("CARGO_PKG_VERSION").to_owned(),
            password_type,
            service_provider_id: service_provider_id.into(),
            group_id: group_id.into(),
            base_url: base_url.into(),
            created_at: rfc3339_now(),
            meta,
        }
    }
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
        let (replay, torn) = replay_reader(
            BufReader::with_capacity(1 << 16, PositionedReader::new(&file)),
            path,
            sealer.as_deref(),
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
        let header = replay.header.clone().ok_or_else(|| Error::JournalCorrupt {
            path: path.to_path_buf(),
            line: 1,
            message: "the journal has no header".into(),
        })?;
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
    /// without a recorded answer as uncertain). No request is made.
    pub fn report(&self) -> Result<Report, Error> {
        Ok(self.replay()?.into_report(Duration::ZERO))
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
        match &self.sink {
            Sink::File { file, .. } => {
                let (replay, torn) = replay_reader(
                    BufReader::with_capacity(1 << 16, PositionedReader::new(file)),
                    &self.path,
                    self.sealer.as_deref(),
                )?;
                if torn.is_some() {
                    return Err(Error::JournalCorrupt {
                        path: self.path.clone(),
                        line: torn.map_or(0, |torn| torn.line),
                        message: "incomplete last line in a journal this process writes".into(),
                    });
                }
                Ok(replay)
            }
            Sink::Memory { lines } => {
                let lines = lines.lock().unwrap_or_else(|poison| poison.into_inner());
                let mut replay = Replay::default();
                for (index, line) in lines.iter().enumerate() {
                    let line_number = index as u64 + 1;
                    let record = parse_line(&line[..line.len().saturating_sub(1)])
                        .map_err(|message| self.corrupt(line_number, message))?;
                    let record = unseal(record, self.sealer.as_deref(), &self.path, line_number)?;
                    replay
                        .apply(record)
                        .map_err(|message| self.corrupt(line_number, message))?;
                }
                Ok(replay)
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

fn lock(file: &File, path: &Path) -> Result<(), Error> {
    match file.try_lock() {
        Ok(()) => Ok(()),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::JournalLocked {
            path: path.to_path_buf(),
        }),
        Err(std::fs::TryLockError::Error(source)) => Err(Error::journal_io(path, source)),
    }
}

/// Makes the new file's directory entry durable too.
fn sync_parent_directory(path: &Path) -> Result<(), Error> {
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    File::open(parent)
        .and_then(|directory| directory.sync_all())
        .map_err(|source| Error::journal_io(path, source))
}

// ---------------------------------------------------------------------------------------------
// The writer thread (group commit).

struct WriteRequest {
    bytes: Zeroizing<Vec<u8>>,
    /// Present when the sender waits for the bytes to be durable.
    ack: Option<tokio::sync::oneshot::Sender<Result<(), WriteFailure>>>,
}

#[derive(Clone, Debug)]
pub(crate) struct WriteFailure {
    kind: io::ErrorKind,
    message: String,
}

impl WriteFailure {
    fn stopped() -> Self {
        WriteFailure {
            kind: io::ErrorKind::BrokenPipe,
            message: "the journal writer stopped".into(),
        }
    }

    fn into_error(self, path: &Path) -> Error {
        Error::journal_io(path, io::Error::new(self.kind, self.message))
    }
}

struct Writer {
    sender: Option<mpsc::Sender<WriteRequest>>,
    thread: Option<JoinHandle<()>>,
}

impl Writer {
    fn start(file: Arc<File>) -> Writer {
        let (sender, receiver) = mpsc::channel::<WriteRequest>();
        let thread = std::thread::Builder::new()
            .name("bwreset-journal".into())
            .spawn(move || write_loop(&file, &receiver));
        match thread {
            Ok(thread) => Writer {
                sender: Some(sender),
                thread: Some(thread),
            },
            // Without a thread every append reports the journal as stopped: nothing is sent.
            Err(error) => {
                tracing::error!(%error, "could not start the journal writer thread");
                Writer {
                    sender: None,
                    thread: None,
                }
            }
        }
    }

    fn send(&self, request: WriteRequest) {
        // If the thread is gone, dropping the request drops its `ack`, which the waiter reads as
        // "writer stopped": nothing is acknowledged that was not written.
        if let Some(sender) = &self.sender {
            let _ = sender.send(request);
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Closing the channel lets the thread write what is queued, then end.
        self.sender.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn write_loop(file: &File, receiver: &mpsc::Receiver<WriteRequest>) {
    let mut failure: Option<WriteFailure> = None;
    let mut buffer = Zeroizing::new(Vec::with_capacity(1 << 16));
    let mut batch: Vec<WriteRequest> = Vec::new();
    while let Ok(first) = receiver.recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(request) => batch.push(request),
                Err(_) => break,
            }
        }
        buffer.clear();
        let total: usize = batch.iter().map(|request| request.bytes.len()).sum();
        if total > buffer.capacity() {
            // A new buffer rather than a grown one: growing would leave a copy of the old
            // contents in freed memory. (The old one is wiped as it is dropped.)
            buffer = Zeroizing::new(Vec::with_capacity(total));
        }
        let mut needs_sync = false;
        for request in &mut batch {
            buffer.extend_from_slice(&request.bytes);
            request.bytes.zeroize();
            needs_sync |= request.ack.is_some();
        }
        if failure.is_none() {
            let mut result = (&*file).write_all(&buffer);
            if result.is_ok() && needs_sync {
                result = file.sync_data();
            }
            if let Err(error) = result {
                tracing::error!(%error, "journal write failed; no further request will be sent");
                failure = Some(WriteFailure {
                    kind: error.kind(),
                    message: error.to_string(),
                });
            }
        }
        // Only the bytes written are wiped: the spare capacity was wiped the last time it held
        // any. (`Vec::zeroize` wipes the whole capacity, and the buffer grows to the size of the
        // plan, megabytes for a large run: wiping that for every group commit made each append
        // cost in proportion to the run.)
        buffer.as_mut_slice().zeroize();
        buffer.clear();
        if buffer.capacity() > MAX_KEPT_BUFFER {
            buffer = Zeroizing::new(Vec::with_capacity(1 << 16));
        }
        for request in batch.drain(..) {
            if let Some(ack) = request.ack {
                let _ = ack.send(match &failure {
                    None => Ok(()),
                    Some(failure) => Err(failure.clone()),
                });
            }
        }
    }
}

/// Reads a file from the start with `pread`, independent of the descriptor's position.
struct PositionedReader<'a> {
    file: &'a File,
    offset: u64,
}

impl<'a> PositionedReader<'a> {
    fn new(file: &'a File) -> Self {
        PositionedReader { file, offset: 0 }
    }
}

impl Read for PositionedReader<'_> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let read = self.file.read_at(buffer, self.offset)?;
        self.offset += read as u64;
        Ok(read)
    }
}

// ---------------------------------------------------------------------------------------------
// Records.

/// A record as written (borrowed fields).
#[derive(Serialize)]
#[serde(tag = "record", rename_all = "camelCase")]
pub(crate) enum RecordOut<'a> {
    Header(&'a JournalHeader),
    Targets {
        users: &'a [UserId],
    },
    Duplicates {
        duplicates: &'a [Duplicate],
    },
    Rejected {
        user: &'a UserId,
        reason: &'a str,
    },
    PlanEnd {
        users: u64,
    },
    Intent {
        user: &'a UserId,
        #[serde(serialize_with = "serialize_secret")]
        value: &'a SecretString,
        attempt: u32,
    },
    Outcome {
        user: &'a UserId,
        result: OutcomeRecord,
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<&'a str>,
    },
    Stopped {
        reason: &'a str,
    },
    Resumed {
        at: String,
    },
}

impl<'a> RecordOut<'a> {
    pub(crate) fn intent(user: &'a UserId, value: &'a SecretString, attempt: u32) -> Self {
        RecordOut::Intent {
            user,
            value,
            attempt,
        }
    }

    pub(crate) fn outcome(
        user: &'a UserId,
        result: OutcomeRecord,
        reason: Option<&'a str>,
    ) -> Self {
        RecordOut::Outcome {
            user,
            result,
            reason,
        }
    }
}

/// The one place a value is exposed for the journal.
fn serialize_secret<S: serde::Serializer>(
    value: &&SecretString,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(value.expose_secret())
}

/// An `intent` whose value is sealed: the value as the sealer wrote it, and the sealer's scheme.
#[derive(Serialize)]
struct SealedIntentOut<'a> {
    record: &'static str,
    user: &'a UserId,
    value: &'a str,
    attempt: u32,
    sealed: &'a str,
}

/// The result of one attempt, as journaled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum OutcomeRecord {
    /// The value is in effect.
    Set,
    /// The user ends unchanged (the value was certainly not applied).
    Failed,
    /// The value may be in effect.
    Uncertain,
    /// The server refused the value for a rule (certainly not applied); a fresh value follows.
    Rejected,
}

/// A record as read.
#[derive(Deserialize)]
#[serde(tag = "record", rename_all = "camelCase")]
enum RecordIn {
    Header(JournalHeader),
    Targets {
        users: Vec<UserId>,
    },
    Duplicates {
        duplicates: Vec<Duplicate>,
    },
    Rejected {
        user: UserId,
        reason: String,
    },
    PlanEnd {
        users: u64,
    },
    Intent {
        user: UserId,
        value: SecretString,
        attempt: u32,
        /// The sealer's scheme when `value` is sealed.
        #[serde(default)]
        sealed: Option<String>,
    },
    Outcome {
        user: UserId,
        result: OutcomeRecord,
        #[serde(default)]
        reason: Option<String>,
    },
    Stopped {
        reason: String,
    },
    Resumed {
        #[allow(dead_code)]
        at: String,
    },
}

/// One record as one line. The buffer is wiped when dropped: it may hold a value.
fn encode(record: &impl Serialize) -> Zeroizing<Vec<u8>> {
    let mut line = Zeroizing::new(Vec::with_capacity(256));
    // Serialising these types cannot fail: plain strings, numbers and enums.
    if serde_json::to_writer(&mut *line, record).is_err() {
        line.clear();
        line.extend_from_slice(b"{}");
    }
    line.push(b'\n');
    line
}

fn parse_line(line: &[u8]) -> Result<RecordIn, String> {
    serde_json::from_slice::<RecordIn>(line).map_err(|error| {
        // serde_json's message may quote a piece of the line (a value): keep only the category
        // and the position.
        let category = match error.classify() {
            serde_json::error::Category::Io => "read error",
            serde_json::error::Category::Syntax => "invalid JSON",
            serde_json::error::Category::Data => "unexpected record shape",
            serde_json::error::Category::Eof => "truncated JSON",
        };
        format!("{category} at column {}", error.column())
    })
}

// ---------------------------------------------------------------------------------------------
// Replay.

/// A cut-short line at the end of the file.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TornTail {
    /// Where the good part of the file ends.
    pub offset: u64,
    /// The torn line's number.
    pub line: u64,
    /// Its length.
    pub bytes: u64,
}

/// Opens a sealed `intent` value with the journal's sealer. A value that cannot be opened is an
/// error, never a torn line: the line is whole, the key is missing or wrong.
fn unseal(
    record: RecordIn,
    sealer: Option<&dyn ValueSealer>,
    path: &Path,
    line: u64,
) -> Result<RecordIn, Error> {
    let RecordIn::Intent {
        user,
        value,
        attempt,
        sealed: Some(scheme),
    } = record
    else {
        return Ok(record);
    };
    let sealed_error = |message: String| Error::JournalSealed {
        path: path.to_path_buf(),
        message: format!("line {line}: {message}"),
    };
    let sealer = match sealer {
        Some(sealer) if sealer.scheme() == scheme => sealer,
        Some(sealer) => {
            return Err(sealed_error(format!(
                "the value of `{user}` is sealed with `{scheme}`, not `{}`",
                sealer.scheme()
            )));
        }
        None => {
            return Err(sealed_error(format!(
                "the value of `{user}` is sealed with `{scheme}` and no key to open it was given"
            )));
        }
    };
    let value = sealer
        .open(value.expose_secret())
        .map_err(|error| sealed_error(format!("cannot open the value of `{user}`: {error}")))?;
    Ok(RecordIn::Intent {
        user,
        value,
        attempt,
        sealed: None,
    })
}

fn replay_reader<R: BufRead>(
    mut reader: R,
    path: &Path,
    sealer: Option<&dyn ValueSealer>,
) -> Result<(Replay, Option<TornTail>), Error> {
    let corrupt = |line: u64, message: String| Error::JournalCorrupt {
        path: path.to_path_buf(),
        line,
        message,
    };
    let mut replay = Replay::default();
    let mut line = Zeroizing::new(Vec::with_capacity(512));
    let mut offset = 0u64;
    let mut line_number = 0u64;
    // An unreadable complete line is a torn tail only if nothing follows it.
    let mut unreadable: Option<(TornTail, String)> = None;
    let mut torn = None;
    loop {
        line.clear();
        let read = reader
            .read_until(b'\n', &mut line)
            .map_err(|source| Error::journal_io(path, source))?;
        if read == 0 {
            break;
        }
        line_number += 1;
        if let Some((tail, message)) = unreadable.take() {
            return Err(corrupt(tail.line, message));
        }
        let here = TornTail {
            offset,
            line: line_number,
            bytes: read as u64,
        };
        offset += read as u64;
        if line.last() != Some(&b'\n') {
            // Every record is written with its newline in one write: without it, the write was
            // cut short, and nobody was told it was durable.
            torn = Some(here);
            break;
        }
        match parse_line(&line[..read - 1]) {
            Ok(record) => replay
                .apply(unseal(record, sealer, path, line_number)?)
                .map_err(|message| corrupt(line_number, message))?,
            Err(message) => unreadable = Some((here, message)),
        }
    }
    if let Some((tail, _)) = unreadable {
        torn = Some(tail);
    }
    Ok((replay, torn))
}

/// Where a user stands according to the journal.
#[derive(Clone)]
pub(crate) enum UserState {
    /// No intent yet.
    NotStarted,
    /// Refused by the pre-check of the plan.
    Rejected { reason: String },
    /// An intent without an outcome: the value may be in effect.
    Pending { value: SecretString },
    /// The value is in effect.
    Set { value: SecretString },
    /// Unchanged: the last value was certainly not applied.
    Failed { reason: String },
    /// The value may be in effect.
    Uncertain { value: SecretString, reason: String },
}

impl fmt::Debug for UserState {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UserState::NotStarted => formatter.write_str("NotStarted"),
            UserState::Rejected { reason } => formatter
                .debug_struct("Rejected")
                .field("reason", reason)
                .finish(),
            UserState::Pending { .. } => formatter
                .debug_struct("Pending")
                .field("value", &Redacted)
                .finish(),
            UserState::Set { .. } => formatter
                .debug_struct("Set")
                .field("value", &Redacted)
                .finish(),
            UserState::Failed { reason } => formatter
                .debug_struct("Failed")
                .field("reason", reason)
                .finish(),
            UserState::Uncertain { reason, .. } => formatter
                .debug_struct("Uncertain")
                .field("value", &Redacted)
                .field("reason", reason)
                .finish(),
        }
    }
}

#[derive(Debug)]
pub(crate) struct ReplayUser {
    pub user_id: UserId,
    pub state: UserState,
    /// The highest attempt number journaled.
    pub attempts: u32,
}

/// Everything a journal says, rebuilt line by line.
#[derive(Debug, Default)]
pub(crate) struct Replay {
    pub header: Option<JournalHeader>,
    pub plan_complete: bool,
    pub users: Vec<ReplayUser>,
    index: HashMap<UserId, u32>,
    pub duplicates: Vec<Duplicate>,
    pub stop_reason: Option<String>,
}

impl Replay {
    fn user_mut(&mut self, user: &UserId) -> Result<&mut ReplayUser, String> {
        let index = *self
            .index
            .get(user)
            .ok_or_else(|| format!("record for `{user}`, who is not among the targets"))?;
        Ok(&mut self.users[index as usize])
    }

    fn apply(&mut self, record: RecordIn) -> Result<(), String> {
        if self.header.is_none() && !matches!(record, RecordIn::Header(_)) {
            return Err("the first line is not a header".into());
        }
        match record {
            RecordIn::Header(header) => {
                if self.header.is_some() {
                    return Err("a second header".into());
                }
                if !(OLDEST_JOURNAL_VERSION..=JOURNAL_VERSION).contains(&header.version) {
                    return Err(format!(
                        "journal format version {} (this build reads versions \
                         {OLDEST_JOURNAL_VERSION} to {JOURNAL_VERSION})",
                        header.version
                    ));
                }
                self.header = Some(header);
            }
            RecordIn::Targets { users } => {
                if self.plan_complete {
                    return Err("targets after the end of the plan".into());
                }
                for user_id in users {
                    let index = u32::try_from(self.users.len())
                        .map_err(|_| "too many targets".to_owned())?;
                    if self.index.insert(user_id.clone(), index).is_some() {
                        return Err(format!("target `{user_id}` listed twice"));
                    }
                    self.users.push(ReplayUser {
                        user_id,
                        state: UserState::NotStarted,
                        attempts: 0,
                    });
                }
            }
            RecordIn::Duplicates { duplicates } => self.duplicates.extend(duplicates),
            RecordIn::Rejected { user, reason } => {
                self.user_mut(&user)?.state = UserState::Rejected { reason };
            }
            RecordIn::PlanEnd { users } => {
                if users != self.users.len() as u64 {
                    return Err(format!(
                        "the plan announces {users} targets but lists {}",
                        self.users.len()
                    ));
                }
                self.plan_complete = true;
            }
            RecordIn::Intent {
                user,
                value,
                attempt,
                sealed,
            } => {
                if let Some(scheme) = sealed {
                    // `unseal` opens every sealed value before it gets here.
                    return Err(format!("a value of `{user}` sealed with `{scheme}`"));
                }
                if !self.plan_complete {
                    return Err("an intent before the end of the plan".into());
                }
                let entry = self.user_mut(&user)?;
                entry.state = UserState::Pending { value };
                entry.attempts = entry.attempts.max(attempt);
            }
            RecordIn::Outcome {
                user,
                result,
                reason,
            } => {
                let entry = self.user_mut(&user)?;
                let reason = reason.unwrap_or_default();
                let previous = std::mem::replace(&mut entry.state, UserState::NotStarted);
                let value = match previous {
                    UserState::Pending { value }
                    | UserState::Set { value }
                    | UserState::Uncertain { value, .. } => Some(value),
                    UserState::NotStarted
                    | UserState::Rejected { .. }
                    | UserState::Failed { .. } => None,
                };
                entry.state = match (result, value) {
                    (OutcomeRecord::Set, Some(value)) => UserState::Set { value },
                    (OutcomeRecord::Uncertain, Some(value)) => {
                        UserState::Uncertain { value, reason }
                    }
                    (OutcomeRecord::Set | OutcomeRecord::Uncertain, None) => {
                        return Err(format!(
                            "outcome `{}` for `{user}` without a value sent",
                            if result == OutcomeRecord::Set {
                                "set"
                            } else {
                                "uncertain"
                            }
                        ));
                    }
                    (OutcomeRecord::Failed | OutcomeRecord::Rejected, _) => {
                        UserState::Failed { reason }
                    }
                };
            }
            RecordIn::Stopped { reason } => self.stop_reason = Some(reason),
            RecordIn::Resumed { .. } => self.stop_reason = None,
        }
        Ok(())
    }

    /// The report: every target once, in input order.
    pub(crate) fn into_report(self, elapsed: Duration) -> Report {
        let header = self.header.unwrap_or_else(|| JournalHeader {
            version: JOURNAL_VERSION,
            tool_version: String::new(),
            password_type: PasswordType::Sip,
            service_provider_id: String::new(),
            group_id: String::new(),
            base_url: String::new(),
            created_at: String::new(),
            meta: serde_json::Value::Null,
        });
        let not_attempted = format!(
            "not attempted: {}",
            self.stop_reason
                .as_deref()
                .unwrap_or("the run was interrupted")
        );
        let entries = self
            .users
            .into_iter()
            .map(|user| ReportEntry {
                user_id: user.user_id,
                outcome: match user.state {
                    UserState::NotStarted => Outcome::Failed {
                        reason: not_attempted.clone(),
                    },
                    UserState::Rejected { reason } | UserState::Failed { reason } => {
                        Outcome::Failed { reason }
                    }
                    UserState::Pending { value } => Outcome::Uncertain {
                        value,
                        reason: "sent, but the run stopped before an answer was recorded".into(),
                    },
                    UserState::Set { value } => Outcome::Set { value },
                    UserState::Uncertain { value, reason } => Outcome::Uncertain { value, reason },
                },
            })
            .collect();
        Report {
            password_type: header.password_type,
            service_provider_id: header.service_provider_id,
            group_id: header.group_id,
            entries,
            duplicates: self.duplicates,
            elapsed,
            stop_reason: self.stop_reason,
        }
    }
}

/// Now as RFC 3339 in UTC, to the second.
pub(crate) fn rfc3339_now() -> String {
    utc_timestamp(SystemTime::now())
}

/// `time` as RFC 3339 in UTC, to the second, e.g. `2024-05-01T02:13:07Z` (times before 1970
/// read as 1970): the one timestamp format of journals and of the CLI's audit records.
pub fn utc_timestamp(time: SystemTime) -> String {
    rfc3339(
        time.duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_secs()),
    )
}

fn rfc3339(unix_seconds: u64) -> String {
    let days = (unix_seconds / 86_400) as i64;
    let second_of_day = unix_seconds % 86_400;
    // Howard Hinnant's days-to-civil algorithm.
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60
    )
}

/// The plan's records, written as one durable batch before any request.
pub(crate) fn plan_records<'a>(
    users: &'a [UserId],
    duplicates: &'a [Duplicate],
    rejected: impl Iterator<Item = (&'a UserId, &'a str)>,
) -> Vec<RecordOut<'a>> {
    let mut records: Vec<RecordOut<'a>> = users
        .chunks(TARGETS_PER_LINE)
        .map(|users| RecordOut::Targets { users })
        .collect();
    records.extend(
        duplicates
            .chunks(TARGETS_PER_LINE)
            .map(|duplicates| RecordOut::Duplicates { duplicates }),
    );
    records.extend(rejected.map(|(user, reason)| RecordOut::Rejected { user, reason }));
    records.push(RecordOut::PlanEnd {
        users: users.len() as u64,
    });
    records
}

impl Journal {
    /// Appends several records as one durable write.
    pub(crate) async fn append_all_durable(&self, records: &[RecordOut<'_>]) -> Result<(), Error> {
        for record in records {
            self.append(record);
        }
        self.sync().await
    }
}

/// How every journal's first line starts (the record tag is serialised first).
const HEADER_START: &[u8] = b"{\"record\":\"header\"";

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

#[cfg(test)]
mod tests;
