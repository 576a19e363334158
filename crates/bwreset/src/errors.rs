//! The one place that prints an error: `error: ...`, its causes, a `hint:`, and the exit code.
//!
//! Code elsewhere returns `anyhow::Error`s. Where the exit code matters it attaches a [`Failure`]
//! (as the error itself or as context), which says which kind of failure it was and may carry a
//! hint; errors from the engine and the client that arrive without one are classified here by
//! their variant.

use std::fmt;
use std::process::ExitCode;

/// Exit codes, as documented in `--help`.
pub(crate) mod exit {
    /// Every user was set (or, for a dry run, every check ran).
    pub(crate) const SUCCESS: u8 = 0;
    /// The run finished but some users failed or are uncertain.
    pub(crate) const SOME_USERS_NOT_SET: u8 = 1;
    /// Bad arguments or input: nothing was changed.
    pub(crate) const USAGE: u8 = 2;
    /// Could not start (login refused, server unreachable): nothing was changed.
    pub(crate) const COULD_NOT_START: u8 = 3;
    /// The run stopped part-way: some users may have been changed; `resume` finishes it.
    /// Issue 5 asks for the same code as "some users not set", which is what it is: the
    /// summary and the failures file say which users are left.
    pub(crate) const INTERRUPTED: u8 = 1;
}

/// Which kind of failure ended the command; decides the exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FailureKind {
    /// Bad arguments or input, found before anything was changed.
    Usage,
    /// The server could not be used (unreachable, login refused), before anything was changed.
    CouldNotStart,
    /// The run stopped after it had started changing credentials.
    Interrupted,
}

impl FailureKind {
    fn exit_code(self) -> u8 {
        match self {
            FailureKind::Usage => exit::USAGE,
            FailureKind::CouldNotStart => exit::COULD_NOT_START,
            FailureKind::Interrupted => exit::INTERRUPTED,
        }
    }
}

/// A failure that knows its exit code and, where one helps, a hint for the operator.
#[derive(Debug)]
pub(crate) struct Failure {
    kind: FailureKind,
    message: String,
    hint: Option<String>,
}

impl Failure {
    pub(crate) fn usage(message: impl Into<String>) -> Self {
        Failure {
            kind: FailureKind::Usage,
            message: message.into(),
            hint: None,
        }
    }

    pub(crate) fn could_not_start(message: impl Into<String>) -> Self {
        Failure {
            kind: FailureKind::CouldNotStart,
            message: message.into(),
            hint: None,
        }
    }

    pub(crate) fn interrupted(message: impl Into<String>) -> Self {
        Failure {
            kind: FailureKind::Interrupted,
            message: message.into(),
            hint: None,
        }
    }

    pub(crate) fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub(crate) fn kind(&self) -> FailureKind {
        self.kind
    }

    /// The hint, if one was given.
    #[cfg(test)]
    pub(crate) fn hint(&self) -> Option<&str> {
        self.hint.as_deref()
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// Turns the outcome of `run` into the process exit code, printing the error if there is one.
#[expect(clippy::print_stderr, reason = "the one place that prints `error:`")]
pub(crate) fn finish(result: anyhow::Result<ExitCode>) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(error) => {
            let (code, text) = render(&error);
            eprint!("{text}");
            ExitCode::from(code)
        }
    }
}

/// Replaces the default panic message. Nothing should panic; if something does, its message
/// could quote whatever the code had at hand, a new credential or a token included, so only
/// where it happened is printed (and the backtrace, which holds no data, if `RUST_BACKTRACE`
/// asks for it). The exit code stays the one of a panic (101).
pub(crate) fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let thread = std::thread::current();
        let mut text = panic_report(info.location(), thread.name());
        let backtrace = std::backtrace::Backtrace::capture();
        if backtrace.status() == std::backtrace::BacktraceStatus::Captured {
            text.push_str(&format!("backtrace:\n{backtrace}\n"));
        }
        // Nothing to do if stderr is gone.
        let _ = std::io::Write::write_all(&mut std::io::stderr().lock(), text.as_bytes());
    }));
}

/// What a panic prints: where, never the panic's message.
fn panic_report(location: Option<&std::panic::Location<'_>>, thread: Option<&str>) -> String {
    let place = location.map_or_else(
        || "an unknown place".to_owned(),
        |location| {
            format!(
                "{}:{}:{}",
                location.file(),
                location.line(),
                location.column()
            )
        },
    );
    format!(
        "error: internal error (a bug in bwreset) in thread `{}` at {place}; its message is not \
         shown, as it could hold a credential\n\
         hint: every value sent is in the journal: `bwreset resume --journal FILE` finishes the \
         run; please report the place above (with `RUST_BACKTRACE=1`, the backtrace too)\n",
        thread.unwrap_or("unnamed"),
    )
}

/// The exit code and the text printed for an error: `error: ...`, causes, `hint: ...`.
pub(crate) fn render(error: &anyhow::Error) -> (u8, String) {
    let failure = find::<Failure>(error);
    let engine_error = find::<bwreset_core::Error>(error);
    let client_error = find::<odin_client::Error>(error);

    let code = match (failure, engine_error, client_error) {
        (Some(failure), _, _) => failure.kind().exit_code(),
        (None, Some(engine_error), _) => classify_engine_error(engine_error),
        (None, None, Some(client_error)) => classify_client_error(client_error),
        (None, None, None) => exit::SOME_USERS_NOT_SET,
    };
    let hint = failure.and_then(|failure| failure.hint.as_deref());

    let mut text = String::new();
    let mut causes = error.chain();
    if let Some(first) = causes.next() {
        text.push_str(&format!("error: {first}\n"));
    }
    let mut previous = error.to_string();
    for cause in causes {
        let cause_text = cause.to_string();
        // Some errors repeat their source's text in their own message: print it once.
        if !previous.contains(&cause_text) {
            text.push_str(&format!("  caused by: {cause_text}\n"));
        }
        previous = cause_text;
    }
    if let Some(hint) = hint {
        text.push_str(&format!("hint: {hint}\n"));
    }
    (code, text)
}

/// The first `T` in the error: as the error itself, as context attached to it (which `chain`
/// alone does not show as a `T`), or as one of its causes.
fn find<T: std::error::Error + Send + Sync + 'static>(error: &anyhow::Error) -> Option<&T> {
    error
        .downcast_ref::<T>()
        .or_else(|| error.chain().find_map(|cause| cause.downcast_ref::<T>()))
}

fn classify_engine_error(error: &bwreset_core::Error) -> u8 {
    match error {
        bwreset_core::Error::Backend(backend_error) => match backend_error.kind() {
            bwreset_core::ErrorKind::Config => exit::USAGE,
            _ => exit::COULD_NOT_START,
        },
        bwreset_core::Error::InvalidPasswordType { .. }
        | bwreset_core::Error::InvalidUserId { .. }
        | bwreset_core::Error::NoUsers
        | bwreset_core::Error::JournalLocked { .. }
        | bwreset_core::Error::JournalExists { .. }
        | bwreset_core::Error::JournalCorrupt { .. }
        | bwreset_core::Error::JournalMismatch { .. } => exit::USAGE,
        _ => exit::SOME_USERS_NOT_SET,
    }
}

fn classify_client_error(error: &odin_client::Error) -> u8 {
    match error {
        odin_client::Error::Config { .. } => exit::USAGE,
        _ => exit::COULD_NOT_START,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_attached_as_context_decides_the_code_and_the_hint() {
        let client_error = odin_client::Error::Unauthorized {
            details: "[Error 4961] Invalid username or password".into(),
        };
        let error = anyhow::Error::new(client_error)
            .context(Failure::could_not_start("login refused").with_hint("check the password"));
        let (code, text) = render(&error);
        assert_eq!(code, exit::COULD_NOT_START);
        assert_eq!(
            text,
            "error: login refused\n  caused by: unauthorized: [Error 4961] Invalid username or password\nhint: check the password\n"
        );
    }

    #[test]
    fn a_panic_report_names_the_place_and_nothing_else() {
        let here = std::panic::Location::caller();
        let text = panic_report(Some(here), Some("main"));
        assert!(text.starts_with("error: internal error"), "{text}");
        assert!(
            text.contains(&format!("{}:{}:", here.file(), here.line())),
            "{text}"
        );
        assert!(text.contains("`main`") && text.contains("hint: "), "{text}");
        assert!(panic_report(None, None).contains("an unknown place"));
    }

    #[test]
    fn the_panic_hook_never_prints_the_message() {
        // The hook takes no message at all: `panic_report` is given only the place. A panic in a
        // thread of this test goes through a hook built the same way, into a buffer.
        use std::sync::{Arc, Mutex};
        let printed = Arc::new(Mutex::new(String::new()));
        let previous = Arc::new(std::panic::take_hook());
        {
            let printed = Arc::clone(&printed);
            let previous = Arc::clone(&previous);
            std::panic::set_hook(Box::new(move |info| {
                if std::thread::current().name() == Some("panics-with-a-secret") {
                    let thread = std::thread::current();
                    printed
                        .lock()
                        .unwrap()
                        .push_str(&panic_report(info.location(), thread.name()));
                } else {
                    previous(info);
                }
            }));
        }
        let outcome = std::thread::Builder::new()
            .name("panics-with-a-secret".into())
            .spawn(|| panic!("the value is {}", "Panic-Secret-42"))
            .expect("thread")
            .join();
        let _ = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| previous(info)));
        assert!(outcome.is_err());
        let printed = printed.lock().unwrap().clone();
        assert!(printed.contains("internal error"), "{printed}");
        assert!(!printed.contains("Panic-Secret-42"), "{printed}");
    }

    #[test]
    fn errors_without_a_failure_are_classified_by_their_variant() {
        let locked = anyhow::Error::new(bwreset_core::Error::JournalLocked {
            path: "/tmp/j".into(),
        });
        assert_eq!(render(&locked).0, exit::USAGE);
        let unreachable = anyhow::Error::new(odin_client::Error::Connect {
            message: "refused".into(),
        });
        assert_eq!(render(&unreachable).0, exit::COULD_NOT_START);
        let usage: anyhow::Error = Failure::usage("bad").into();
        assert_eq!(render(&usage), (exit::USAGE, "error: bad\n".to_owned()));
    }
}
