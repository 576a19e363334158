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
    /// Over SOAP, something other than the service's answer came back: a SOAP Fault, an HTTP
    /// error page from a front (a load balancer's 502 or 503, a 401 or 403), a redirect to a
    /// login page (never followed), an envelope without a return, or a front that drops the
    /// session's cookie. `sent`: whether the document had left (a front may answer in the
    /// service's place after it ran); `lasting`: whether only an operator can make it pass (a
    /// front that wants its own login, a redirect, a dropped cookie).
    #[error("{message}")]
    Front {
        message: String,
        sent: bool,
        lasting: bool,
    },
    /// The server answered the command with an `ErrorResponse`.
    #[error("the server refused {command}: {}", response.text())]
    Refused {
        command: &'static str,
        response: ErrorResponse,
    },
}

impl Error {
    /// Whether the server may have processed the command (so that sending it again could apply
    /// it twice): the document left and no clear answer came (a lost connection, a timeout
    /// after sending, an answer that could not be read), or the server answered it with a
    /// refusal other than "busy" or "session lost" (it was read, and a failure inside the server
    /// may come after the change). `false` only where the command certainly was not processed:
    /// nothing sent (no connection, a failed handshake, a refused login, a timeout before
    /// sending), or a refusal that says it was not taken (busy, session lost). The setters'
    /// retry rule is built on it ([`OcipClient::modify`](crate::OcipClient)).
    pub fn may_have_been_processed(&self) -> bool {
        match self {
            Error::Config { .. } | Error::Connect { .. } | Error::Tls { .. } => false,
            Error::LoginRefused { .. } => false,
            Error::Timeout { sent, .. } | Error::Front { sent, .. } => *sent,
            Error::Transport { .. } | Error::Decode { .. } => true,
            Error::Refused { .. } => !(self.is_busy() || self.is_session_lost()),
        }
    }

    /// Whether asking again cannot pass until an operator acts: a configuration that cannot
    /// work, a failed TLS handshake (it needs a CA certificate, say), a refused login.
    pub(crate) fn is_lasting(&self) -> bool {
        matches!(
            self,
            Error::Config { .. }
                | Error::Tls { .. }
                | Error::LoginRefused { .. }
                | Error::Front { lasting: true, .. }
        )
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

    /// Whether the server said the session was lost (not logged in, or the login expired): the
    /// command was not processed, and logging in again lets it through.
    ///
    /// The contract: the login lives on the connection, and a server's answer to a command
    /// without a login is not on record. Most servers close the connection instead (the pool
    /// then logs in on a new one); a server that answers says so in words, so a refusal is a
    /// lost session when its text does ([`says_session_lost`]). The simulator's
    /// `[Error 4911] Not logged in` and `[Error 4912] Session expired` are one case of it: their
    /// codes are not read.
    pub(crate) fn is_session_lost(&self) -> bool {
        match self {
            Error::Refused { response, .. } => says_session_lost(&response.text()),
            _ => false,
        }
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

/// Whether a refusal's text says the login is gone: "not logged in", "session expired", "log in
/// again", "invalid session", and their near spellings.
fn says_session_lost(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    [
        "not logged in",
        "not logged on",
        "session expired",
        "session has expired",
        "session timed out",
        "session has timed out",
        "invalid session",
        "session is invalid",
        "session not found",
        "unknown session",
        "log in again",
        "login again",
    ]
    .iter()
    .any(|words| lower.contains(words))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(summary: &str) -> Error {
        Error::Refused {
            command: "UserAuthenticationModifyRequest",
            response: ErrorResponse {
                code: crate::xml::leading_error_code(summary),
                summary: summary.into(),
                detail: None,
            },
        }
    }

    #[test]
    fn a_lost_session_is_read_from_the_words_not_the_code() {
        for lost in [
            "[Error 4911] Not logged in: send AuthenticationRequest and LoginRequest14sp4 first",
            "[Error 4912] Session expired: log in again",
            "[Error 1234] Your session has expired",
            "Invalid session",
        ] {
            let error = refused(lost);
            assert!(error.is_session_lost(), "{lost}");
            assert!(!error.may_have_been_processed(), "{lost}");
        }
        for other in [
            "[Error 4911] User not found: u@x",
            "[Error 4310] Invalid password: must not be the same as the old password",
        ] {
            assert!(!refused(other).is_session_lost(), "{other}");
        }
    }

    #[test]
    fn what_may_have_been_processed_is_what_a_setter_never_sends_again() {
        let timeout = |sent| Error::Timeout {
            waited: Duration::from_secs(1),
            sent,
        };
        assert!(timeout(true).may_have_been_processed());
        assert!(!timeout(false).may_have_been_processed());
        let transport = Error::Transport {
            message: "reset".into(),
        };
        assert!(transport.may_have_been_processed());
        assert!(refused("[Error 5000] Injected failure").may_have_been_processed());
        assert!(refused("[Error 4302] Invalid password: too short").may_have_been_processed());
        assert!(!refused("[Error 4290] Server busy").may_have_been_processed());
        let refused_login = Error::LoginRefused {
            summary: "[Error 4962] Invalid password".into(),
        };
        assert!(!refused_login.may_have_been_processed());
        assert!(refused_login.is_lasting());
        let connect = Error::Connect {
            server: "s".into(),
            message: "refused".into(),
        };
        assert!(!connect.may_have_been_processed() && !connect.is_lasting());
    }
}
