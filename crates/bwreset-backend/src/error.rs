//! What a server's refusal means, decided by the backend that read it.

use std::fmt;

/// What a failed request means for the run, the user and the value sent. The backend decides it
/// from its own protocol (status codes, error codes, wording); the engine acts on it alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// A rule refused the value (length, characters, the user's name in it, ...): it was not
    /// applied, and a fresh value may pass.
    RuleRejected,
    /// A history rule refused the value: it is the value in effect, or one of the last few ("same
    /// as the old password", "one of the last 3 passcodes"). Not applied now; for a value that an
    /// earlier, unanswered request may have applied, proof that it is in effect. ("The reverse of
    /// the old value" is a [`ErrorKind::RuleRejected`]: it says the value in effect is another.)
    HistoryRejected,
    /// A new SIP authentication user name was refused because another user holds it (names are
    /// unique across the system): nothing applied (neither the name nor the password sent with
    /// it), and a fresh name may pass.
    UserNameTaken,
    /// The user does not exist: nothing applied.
    UserNotFound,
    /// The group or service provider asked about does not exist: nothing applied.
    GroupNotFound,
    /// The user lacks the service the credential belongs to (SIP: Authentication): nothing
    /// applied.
    ServiceNotAssigned,
    /// Another clear refusal in the server's own words: nothing applied.
    Refused,
    /// A refusal whose text is not the server's (a proxy's error page): nothing applied, but what
    /// was refused is unknown; the same request may be tried again.
    UnclearRefusal,
    /// The request may have been applied although no clear answer came (connection lost after
    /// sending, a server failure after processing, an answer that could not be read). For a
    /// read: an answer that could not be understood, which asking again may mend.
    Ambiguous,
    /// The server did not take the request (overloaded, rate limited, failing before
    /// processing) even after the backend's own retries: nothing applied; later may work.
    Unavailable,
    /// No connection to the server could be made: nothing was sent.
    Unreachable,
    /// The login no longer works (refused credentials, a session that cannot be renewed): the
    /// run cannot go on.
    LoginLost,
    /// The backend's configuration cannot work (bad address, TLS material): nothing was sent.
    Config,
}

impl ErrorKind {
    /// Whether the value sent may be in effect.
    pub fn may_have_applied(self) -> bool {
        matches!(self, ErrorKind::Ambiguous)
    }

    /// Whether the answer says the server is not serving requests properly (counted to decide
    /// that a run should stop as "server unavailable").
    pub fn is_unavailability(self) -> bool {
        matches!(
            self,
            ErrorKind::Ambiguous | ErrorKind::Unavailable | ErrorKind::Unreachable
        )
    }

    /// Whether the answer is a clear refusal in the server's own words about this request (the
    /// user, its group, its service or the value): nothing applied, and asking again the same
    /// way gives the same answer.
    pub fn is_clear_refusal(self) -> bool {
        matches!(
            self,
            ErrorKind::RuleRejected
                | ErrorKind::HistoryRejected
                | ErrorKind::UserNameTaken
                | ErrorKind::UserNotFound
                | ErrorKind::GroupNotFound
                | ErrorKind::ServiceNotAssigned
                | ErrorKind::Refused
        )
    }

    /// Whether nothing can be done with this server until an operator acts: the login or the
    /// configuration, or no connection at all.
    pub fn stops_a_start(self) -> bool {
        matches!(
            self,
            ErrorKind::LoginLost | ErrorKind::Unreachable | ErrorKind::Config
        )
    }
}

/// A failed backend request: what it means ([`ErrorKind`]), the server's reason where it gave
/// one, and the backend's own error as the source. Never holds a secret.
///
/// It displays as the backend's error does, so that messages read the same whichever way they
/// are reached.
#[derive(Debug)]
pub struct BackendError {
    kind: ErrorKind,
    reason: Option<String>,
    source: Box<dyn std::error::Error + Send + Sync>,
}

impl BackendError {
    /// A backend error of `kind`, wrapping the backend's own `source`. `reason` is the server's
    /// text about the request (recorded as a user's reason), when it sent one.
    pub fn new(
        kind: ErrorKind,
        reason: Option<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        BackendError {
            kind,
            reason,
            source: source.into(),
        }
    }

    /// A failed read (a listing, a check, a generator): the client has already retried every
    /// failure of the exchange, so what is left of those means the server is not serving
    /// ([`ErrorKind::Unavailable`], not [`ErrorKind::Ambiguous`]). Only an answer the client
    /// could not understand (`unreadable_answer`) stays ambiguous: asking again may help, and the
    /// client did not. Both clients read their failed reads so.
    pub fn of_read(
        kind: ErrorKind,
        unreadable_answer: bool,
        reason: Option<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        let kind = match kind {
            ErrorKind::Ambiguous if !unreadable_answer => ErrorKind::Unavailable,
            kind => kind,
        };
        BackendError::new(kind, reason, source)
    }

    /// The same error read as the answer to a group's listing: a refusal in the server's own
    /// words (an unknown user, a plain refusal) is about the group or its service provider.
    #[must_use]
    pub fn of_listing(self) -> Self {
        match self.kind {
            ErrorKind::UserNotFound | ErrorKind::Refused => {
                self.with_kind(ErrorKind::GroupNotFound)
            }
            _ => self,
        }
    }

    /// The same error with another meaning: for a backend that learns more from the context (a
    /// refusal of a group listing is about the group).
    #[must_use]
    pub fn with_kind(self, kind: ErrorKind) -> Self {
        BackendError { kind, ..self }
    }

    /// What the failure means.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The server's text about the request where it sent one, else the error's own message:
    /// what a user's outcome records as its reason.
    pub fn reason(&self) -> String {
        self.reason
            .clone()
            .unwrap_or_else(|| self.source.to_string())
    }

    /// The backend's own error, for callers that know the backend (to print a hint, say).
    pub fn backend_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        &*self.source
    }
}

impl fmt::Display for BackendError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.source, formatter)
    }
}

impl std::error::Error for BackendError {
    // Transparent: the backend's error is shown as this error's message, so its own source (if
    // any) is the next cause.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.source()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("server answered 400: [Error 4008] User not found: u@x")]
    struct Fake;

    #[test]
    fn displays_as_the_backend_error_and_keeps_the_reason() {
        let error = BackendError::new(
            ErrorKind::UserNotFound,
            Some("[Error 4008] User not found: u@x".into()),
            Fake,
        );
        assert_eq!(
            error.to_string(),
            "server answered 400: [Error 4008] User not found: u@x"
        );
        assert_eq!(error.reason(), "[Error 4008] User not found: u@x");
        assert_eq!(error.kind(), ErrorKind::UserNotFound);
        assert!(error.backend_error().downcast_ref::<Fake>().is_some());
        let without_reason = BackendError::new(ErrorKind::Ambiguous, None, Fake);
        assert_eq!(without_reason.reason(), without_reason.to_string());
    }

    #[test]
    fn reads_and_listings_are_adjusted_once_for_both_clients() {
        let read = |kind, unreadable| BackendError::of_read(kind, unreadable, None, Fake).kind();
        // The client retried the exchange: what is left means the server is not serving.
        assert_eq!(read(ErrorKind::Ambiguous, false), ErrorKind::Unavailable);
        // An answer not understood was not retried: asking again may help.
        assert_eq!(read(ErrorKind::Ambiguous, true), ErrorKind::Ambiguous);
        assert_eq!(
            read(ErrorKind::UserNotFound, false),
            ErrorKind::UserNotFound
        );
        let listing = |kind| {
            BackendError::of_read(kind, false, None, Fake)
                .of_listing()
                .kind()
        };
        assert_eq!(listing(ErrorKind::Refused), ErrorKind::GroupNotFound);
        assert_eq!(listing(ErrorKind::UserNotFound), ErrorKind::GroupNotFound);
        assert_eq!(listing(ErrorKind::Ambiguous), ErrorKind::Unavailable);
        assert_eq!(listing(ErrorKind::LoginLost), ErrorKind::LoginLost);
    }

    #[test]
    fn kinds_say_what_they_mean() {
        assert!(ErrorKind::Ambiguous.may_have_applied());
        assert!(!ErrorKind::Unavailable.may_have_applied());
        assert!(ErrorKind::Unreachable.is_unavailability());
        assert!(!ErrorKind::UnclearRefusal.is_clear_refusal());
        assert!(ErrorKind::HistoryRejected.is_clear_refusal());
        assert!(ErrorKind::UserNameTaken.is_clear_refusal());
        assert!(!ErrorKind::UserNameTaken.may_have_applied());
        assert!(ErrorKind::LoginLost.stops_a_start());
        assert!(!ErrorKind::Ambiguous.stops_a_start());
    }
}
