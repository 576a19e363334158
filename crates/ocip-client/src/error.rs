//! The client's one error type: what went wrong with an exchange, never holding a secret.

use std::time::Duration;

/// An `ErrorResponse` as the server sent it: its code (from `errorCode`, else the digits of a
/// leading `[Error NNNN]` in `summary`), `summary` and `detail`. The summary is the server's
/// text; the client replaces a value it sent by `[redacted]` before keeping it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorResponse {
    /// The error code, when the server gave one.
    pub code: Option<u32>,
    /// The server's summary.
    pub summary: String,
    /// The server's detail, if any.
    pub detail: Option<String>,
}

impl ErrorResponse {
    /// The summary and, when there is one, the detail: what a user's outcome records.
    pub fn text(&self) -> String {
        match &self.detail {
            Some(detail) if !detail.is_empty() => format!("{}: {detail}", self.summary),
            _ => self.summary.clone(),
        }
    }
}

/// A failed OCI-P exchange.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration cannot work (bad URL, unreadable CA certificate, plain TCP to a host
    /// that is not loopback): nothing was sent.
    #[error("{message}")]
    Config { message: String },
    /// No connection could be made (refused, unreachable, closed before any XML as an access
    /// list does): nothing was sent.
    #[error("cannot connect to `{server}`: {message}")]
    Connect { server: String, message: String },
    /// The TLS handshake failed: nothing was sent.
    #[error("TLS handshake with `{server}` failed: {message}")]
    Tls { server: String, message: String },
    /// The server refused the login (an `ErrorResponse` to a login step).
    #[error("login refused by the server: {summary}")]
    LoginRefused { summary: String },
    /// No answer came in time. `sent` says whether the document had left.
    #[error("no answer from the server within {} s", waited.as_secs())]
    Timeout { waited: Duration, sent: bool },
    /// The connection failed while a document was out: it may have been processed.
    #[error("the connection to the server was lost: {message}")]
    Transport { message: String },
    /// An answer that could not be read (malformed XML, too large, the wrong number of
    /// commands, an unexpected reply type).
    #[error("could not read the server's answer: {message}")]
    Decode { message: String },
    /// The server answered the command with an `ErrorResponse`.
    #[error("the server refused {command}: {}", response.text())]
    Refused {
        command: &'static str,
        response: ErrorResponse,
    },
}

impl Error {
    /// Whether the command certainly was not processed by the server, so that sending it again
    /// cannot apply anything twice.
    pub fn certainly_not_processed(&self) -> bool {
        match self {
            Error::Config { .. } | Error::Connect { .. } | Error::Tls { .. } => true,
            Error::LoginRefused { .. } => true,
            Error::Timeout { sent, .. } => !sent,
            Error::Transport { .. } | Error::Decode { .. } | Error::Refused { .. } => false,
        }
    }

    /// The server's text about the command, when it refused it.
    pub fn details(&self) -> Option<String> {
        match self {
            Error::Refused { response, .. } => Some(response.text()),
            Error::LoginRefused { summary } => Some(summary.clone()),
            _ => None,
        }
    }

    /// The server's error code, when it refused the command with one.
    pub fn code(&self) -> Option<u32> {
        match self {
            Error::Refused { response, .. } => response.code,
            _ => None,
        }
    }

    /// Whether the server said the session was lost (not logged in, or the login expired):
    /// the command was not processed, and logging in again lets it through.
    pub(crate) fn is_session_lost(&self) -> bool {
        // 4911 and 4912 are odin-sim's codes (docs/ocip.md §4); a real server's wording for a
        // lost session is not public, and most real servers close the connection instead,
        // which the pool handles by logging in on a new one.
        matches!(self.code(), Some(4911 | 4912))
    }

    /// Whether the server said it failed inside (`[Error 5xxx]`): a read may be asked again,
    /// a modify may have been applied.
    pub(crate) fn is_server_failure(&self) -> bool {
        self.code().is_some_and(|code| (5000..6000).contains(&code))
    }

    /// Whether the server said it is too busy (nothing applied; later may work).
    pub(crate) fn is_busy(&self) -> bool {
        matches!(self.code(), Some(4290))
    }
}
