//! The journal file: its lock, the directory sync, and the one writer thread through which every
//! append goes (group commit: whatever is pending becomes one `write`, and one `sync_data` when
//! someone waits for durability).

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;

use zeroize::{Zeroize, Zeroizing};

use crate::Error;

/// Requests the writer thread gathers into one write at most.
const MAX_BATCH: usize = 4096;

/// The writer's buffer is given back down to this size after a large batch (the plan).
const MAX_KEPT_BUFFER: usize = 1 << 20;

/// Takes the journal's exclusive lock; [`Error::JournalLocked`] if another process holds it.
pub(super) fn lock(file: &File, path: &Path) -> Result<(), Error> {
    match file.try_lock() {
        Ok(()) => Ok(()),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::JournalLocked {
            path: path.to_path_buf(),
        }),
        Err(std::fs::TryLockError::Error(source)) => Err(Error::journal_io(path, source)),
    }
}

/// Makes the new file's directory entry durable too.
pub(super) fn sync_parent_directory(path: &Path) -> Result<(), Error> {
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    File::open(parent)
        .and_then(|directory| directory.sync_all())
        .map_err(|source| Error::journal_io(path, source))
}

pub(super) struct WriteRequest {
    pub(super) bytes: Zeroizing<Vec<u8>>,
    /// Present when the sender waits for the bytes to be durable.
    pub(super) ack: Option<tokio::sync::oneshot::Sender<Result<(), WriteFailure>>>,
}

#[derive(Clone, Debug)]
pub(crate) struct WriteFailure {
    kind: io::ErrorKind,
    message: String,
}

impl WriteFailure {
    pub(super) fn stopped() -> Self {
        WriteFailure {
            kind: io::ErrorKind::BrokenPipe,
            message: "the journal writer stopped".into(),
        }
    }

    pub(super) fn into_error(self, path: &Path) -> Error {
        Error::journal_io(path, io::Error::new(self.kind, self.message))
    }
}

pub(super) struct Writer {
    sender: Option<mpsc::Sender<WriteRequest>>,
    thread: Option<JoinHandle<()>>,
}

impl Writer {
    pub(super) fn start(file: Arc<File>) -> Writer {
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

    pub(super) fn send(&self, request: WriteRequest) {
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
pub(super) struct PositionedReader<'a> {
    file: &'a File,
    offset: u64,
}

impl<'a> PositionedReader<'a> {
    pub(super) fn new(file: &'a File) -> Self {
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
