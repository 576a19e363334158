//! Reading the server's answers: which errors mean what for a user's value.

use odin_client::Error as ClientError;

/// What an error answer to a setter means for the value sent.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum SetterError<'a> {
    /// The server refused the value for a rule: the value was not applied.
    Rule { details: &'a str },
    /// Login itself no longer works: the request was not processed; the run must stop.
    Unauthorized { details: &'a str },
    /// The request may have been applied (transport failure, 5xx other than 503, an answer that
    /// could not be read).
    Ambiguous,
    /// The server could not take the request (no connection, 429 or 503 after the client's
    /// retries): nothing was applied, trying later may work.
    Unavailable,
    /// A clear refusal for this user (not found, service not assigned, ...): nothing applied.
    Refused,
    /// A 4xx whose text is not the server's own (an HTML page from a proxy): nothing applied,
    /// but what was refused is unknown; the same value may be sent again.
    UnclearRefusal,
}

pub(crate) fn classify_setter_error(error: &ClientError) -> SetterError<'_> {
    if let ClientError::Unauthorized { details } = error {
        return SetterError::Unauthorized { details };
    }
    if let Some(details) = rule_rejection(error) {
        return SetterError::Rule { details };
    }
    if error.may_have_applied() {
        return SetterError::Ambiguous;
    }
    if error.is_retryable() {
        return SetterError::Unavailable;
    }
    if is_client_error(error) && !has_server_details(error) {
        return SetterError::UnclearRefusal;
    }
    SetterError::Refused
}

fn is_client_error(error: &ClientError) -> bool {
    matches!(error.status(), Some(status) if (400..500).contains(&status) && status != 401 && status != 429)
}

/// Whether the error carries the server's own BroadWorks-style text (`[Error 4008] ...`), rather
/// than, say, a proxy's HTML page.
fn has_server_details(error: &ClientError) -> bool {
    error
        .details()
        .is_some_and(|details| details.contains("[Error "))
}

/// The details of a 400 answer that refuses a value for a rule ("Invalid password: ...",
/// "Invalid passcode: ...").
pub(crate) fn rule_rejection(error: &ClientError) -> Option<&str> {
    match error {
        ClientError::Api {
            status: 400,
            details,
        } => {
            let lower = details.to_ascii_lowercase();
            (lower.contains("invalid password") || lower.contains("invalid passcode"))
                .then_some(details.as_str())
        }
        _ => None,
    }
}

/// Whether a rule rejection is one of the history rules that refuse the value in effect (same as
/// the old value, one of the last N): the rejection a value gets when it is already in effect.
/// "The reverse of the old value" is not one: it says the value in effect is another one.
pub(crate) fn is_history_rejection(details: &str) -> bool {
    let lower = details.to_ascii_lowercase();
    if lower.contains("reverse") {
        return false;
    }
    if lower.contains("old password") || lower.contains("old passcode") {
        return true;
    }
    // "last 3 passcodes", "last 10 passwords", "last passcodes".
    let mut rest = lower.as_str();
    while let Some(position) = rest.find("last ") {
        let after =
            rest[position + "last ".len()..].trim_start_matches(|c: char| c.is_ascii_digit());
        let after = after.trim_start();
        if after.starts_with("passcode") || after.starts_with("password") {
            return true;
        }
        rest = &rest[position + "last ".len()..];
    }
    false
}

/// Whether a run-ending error is one that says the server is not answering properly.
pub(crate) fn is_unavailability(error: &ClientError) -> bool {
    matches!(
        classify_setter_error(error),
        SetterError::Ambiguous | SetterError::Unavailable
    )
}

/// Whether an error of a read during the pre-check is a clear answer about this one user.
pub(crate) fn is_user_refusal(error: &ClientError) -> bool {
    is_client_error(error) && has_server_details(error)
}

/// Whether `value` contains `name`, ignoring case, without copying the value.
pub(crate) fn contains_ignore_case(value: &str, name: &str) -> bool {
    if name.is_empty() {
        return true;
    }
    value.char_indices().any(|(start, _)| {
        let mut candidate = value[start..].chars().flat_map(char::to_lowercase);
        name.chars()
            .flat_map(char::to_lowercase)
            .all(|expected| candidate.next() == Some(expected))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16, details: &str) -> ClientError {
        ClientError::Api {
            status,
            details: details.into(),
        }
    }

    #[test]
    fn rule_rejections_are_recognised() {
        for details in [
            "[Error 4302] Invalid password: must be at least 8 characters",
            "[Error 4420] Invalid passcode: must be digits only",
            "[Error 4501] Invalid password: must not contain the user ID",
        ] {
            let error = api(400, details);
            assert_eq!(classify_setter_error(&error), SetterError::Rule { details });
        }
        // Other 400s are refusals of the user, not of the value.
        let error = api(400, "[Error 4008] User not found: u@x");
        assert_eq!(classify_setter_error(&error), SetterError::Refused);
        let error = api(400, "[Error 4002] Invalid value for newPassword");
        assert_eq!(classify_setter_error(&error), SetterError::Refused);
    }

    #[test]
    fn history_rejections_are_recognised() {
        for details in [
            "[Error 4310] Invalid password: must not be the same as the old password",
            "[Error 4430] Invalid passcode: must not be one of the last 3 passcodes",
            "[Error 4530] Invalid password: must not be one of the last 10 passwords",
        ] {
            assert!(is_history_rejection(details), "{details}");
        }
        for details in [
            // The value in effect is the reverse of this one: this one is not in effect.
            "[Error 4311] Invalid password: must not be the reverse of the old password",
            "[Error 4431] Invalid passcode: must not be the reverse of the old passcode",
            "[Error 4302] Invalid password: must be at least 8 characters",
            "[Error 4303] Invalid password: must not contain the authentication user name",
            "[Error 4421] Invalid passcode: must not contain a repeated pattern",
            "[Error 4422] Invalid passcode: at least 2 digits; the last digit is 9",
        ] {
            assert!(!is_history_rejection(details), "{details}");
        }
    }

    #[test]
    fn transport_and_server_errors_are_classified() {
        let transport = ClientError::Transport {
            message: "reset".into(),
        };
        assert_eq!(classify_setter_error(&transport), SetterError::Ambiguous);
        assert_eq!(
            classify_setter_error(&api(500, "[Error 5000] Injected failure")),
            SetterError::Ambiguous
        );
        assert_eq!(
            classify_setter_error(&api(503, "[Error 5000] Injected failure")),
            SetterError::Unavailable
        );
        let connect = ClientError::Connect {
            message: "refused".into(),
        };
        assert_eq!(classify_setter_error(&connect), SetterError::Unavailable);
        assert!(is_unavailability(&connect));
        let unauthorized = ClientError::Unauthorized {
            details: "[Error 4961] Invalid username or password".into(),
        };
        assert!(matches!(
            classify_setter_error(&unauthorized),
            SetterError::Unauthorized { .. }
        ));
        assert!(is_user_refusal(&api(400, "[Error 4008] User not found: u")));
        assert!(!is_user_refusal(&api(500, "x")));
        let html = api(
            400,
            "<!DOCTYPE html> <html><head><title>400 Bad Request</title>",
        );
        assert!(!is_user_refusal(&html));
        assert_eq!(classify_setter_error(&html), SetterError::UnclearRefusal);
        assert!(!is_user_refusal(&unauthorized));
    }

    #[test]
    fn contains_ignore_case_works_without_copies() {
        assert!(contains_ignore_case("abcUSER01xyz", "user01"));
        assert!(contains_ignore_case("user01", "USER01"));
        assert!(!contains_ignore_case("abcUSER0xyz", "user01"));
        assert!(!contains_ignore_case("ab", "abc"));
        assert!(contains_ignore_case("xÄbc", "äB"));
    }
}
