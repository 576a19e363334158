//! The engine's error type: only what makes a whole run impossible.
//!
//! A failure of one user is never an `Error`: it is a row in the journal and in the report.

use std::path::PathBuf;

use bwreset_backend::BackendError;

/// Everything that stops the engine from running (or resuming) at all. Messages never contain a
/// password, a passcode or a token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The password type given is none of the known ones.
    #[error("invalid password type `{given}`: expected one of `sip`, `vm` (or `voicemail`), `web`")]
    InvalidPasswordType {
        /// What the caller gave.
        given: String,
    },
    /// A user ID that cannot be one (empty, or with control characters).
    #[error("invalid user ID `{given}`: {reason}")]
    InvalidUserId {
        /// What the caller gave, control characters escaped.
        given: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// There is no user to reset (an empty list, or an empty group).
    #[error("no users to reset")]
    NoUsers,
    /// A run that spans groups names a group or a service provider the server does not know
    /// (or does not show this login). Found before anything is changed.
    #[error("{}", unknown_group(service_provider_id, group_id.as_deref(), reason))]
    UnknownGroup {
        /// The service provider named.
        service_provider_id: String,
        /// The group named; `None` when the service provider itself is unknown.
        group_id: Option<String>,
        /// The server's answer.
        reason: String,
    },
    /// The server could not be used for the run as a whole (login lost, server unreachable,
    /// group listing refused or failed). [`BackendError::kind`] says which.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// Another process holds the journal.
    #[error(
        "journal `{}` is in use by another bwreset process (it holds the lock); wait for it to finish",
        path.display()
    )]
    JournalLocked {
        /// The journal file.
        path: PathBuf,
    },
    /// `Journal::create` found a file (or a link) at the path.
    #[error(
        "journal `{}` already exists; resume it or choose another path",
        path.display()
    )]
    JournalExists {
        /// The journal file.
        path: PathBuf,
    },
    /// A journal line that cannot be read, other than a torn last line.
    #[error("journal `{}` is corrupt at line {line}: {message}", path.display())]
    JournalCorrupt {
        /// The journal file.
        path: PathBuf,
        /// One-based line number.
        line: u64,
        /// What is wrong (never a value from the line).
        message: String,
    },
    /// A value of the journal could not be sealed (written encrypted) or opened (read back):
    /// the journal holds sealed values and was opened without the sealer that opens them, or
    /// with the wrong keys.
    #[error("journal `{}`: {message}", path.display())]
    JournalSealed {
        /// The journal file.
        path: PathBuf,
        /// What went wrong, with the line number when reading (never a value).
        message: String,
    },
    /// Reading or writing the journal failed.
    #[error("journal `{}`: {source}", path.display())]
    JournalIo {
        /// The journal file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The journal cannot be used for this call: written for another run, already used by a run
    /// (resume it instead), or holding no complete plan.
    #[error("journal `{}` cannot be used here: {message}", path.display())]
    JournalMismatch {
        /// The journal file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// A bug in bwreset: an invariant of the engine did not hold. Every value sent is in the
    /// journal, so `resume` can finish the run.
    #[error("internal error (a bug in bwreset): {message}; every value sent is in the journal")]
    Internal {
        /// Which invariant.
        message: &'static str,
    },
}

fn unknown_group(service_provider_id: &str, group_id: Option<&str>, reason: &str) -> String {
    match group_id {
        Some(group_id) => format!(
            "group `{group_id}` of service provider `{service_provider_id}` was not found ({reason})"
        ),
        None => format!("service provider `{service_provider_id}` was not found ({reason})"),
    }
}

impl Error {
    pub(crate) fn journal_io(path: &std::path::Path, source: std::io::Error) -> Self {
        Error::JournalIo {
            path: path.to_path_buf(),
            source,
        }
    }
}
