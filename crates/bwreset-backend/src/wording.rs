//! What BroadWorks' own words about a refused request mean: the texts both clients pass on
//! (Odin in an error's `details`, OCI-P in an `ErrorResponse`'s summary and detail), read by one
//! algorithm.
//!
//! Real servers' rule-violation texts are not public, so only words seen on record are read; a
//! refusal whose wording is not recognised is a plain refusal ([`ErrorKind::Refused`]), never a
//! guess that a fresh value would pass.

use crate::ErrorKind;

/// What a refusal in the server's own words means (a protocol's busy, session and server-failure
/// answers are the client's to tell apart first): a refused value ("Invalid password",
/// "Invalid passcode": a history refusal when its words say so), an unknown user, a missing
/// service, an unknown group or service provider, a SIP user name another user holds ("User name
/// already in use": the simulator's words; a real server's are not on record), a SIP user name
/// the rules refuse ("Invalid value for userName": a rule refusal, a fresh name may pass), or
/// else a plain refusal.
pub fn refusal_kind(text: &str) -> ErrorKind {
    let lower = text.to_ascii_lowercase();
    if lower.contains("user name already in use") {
        ErrorKind::UserNameTaken
    } else if lower.contains("invalid value for username") {
        // A new SIP authentication user name the server's rules refuse (the simulator's words
        // for a name too long or empty): a fresh name may pass, as a fresh password may.
        ErrorKind::RuleRejected
    } else if lower.contains("invalid password") || lower.contains("invalid passcode") {
        if is_history_rejection(&lower) {
            ErrorKind::HistoryRejected
        } else {
            ErrorKind::RuleRejected
        }
    } else if lower.contains("user not found") {
        ErrorKind::UserNotFound
    } else if lower.contains("service not assigned") {
        ErrorKind::ServiceNotAssigned
    } else if lower.contains("group not found") || lower.contains("service provider not found") {
        ErrorKind::GroupNotFound
    } else {
        ErrorKind::Refused
    }
}

/// Whether a text is BroadWorks' own (it carries an `[Error NNNN]` code), not a proxy's page.
pub fn is_broadworks_text(text: &str) -> bool {
    text.contains("[Error ")
}

/// Whether a rule refusal refuses the value in effect or a recent one ("same as the old
/// password", "one of the last 3 passcodes", "last passwords"). "The reverse of the old value"
/// is not one: it says the value in effect is another.
fn is_history_rejection(lower: &str) -> bool {
    if lower.contains("reverse") {
        return false;
    }
    if lower.contains("old password") || lower.contains("old passcode") {
        return true;
    }
    lower.match_indices("last ").any(|(position, found)| {
        let after = lower[position + found.len()..]
            .trim_start_matches(|character: char| character.is_ascii_digit())
            .trim_start();
        after.starts_with("passcode") || after.starts_with("password")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_read_for_what_they_mean() {
        for (text, kind) in [
            ("[Error 4008] User not found: u1@x", ErrorKind::UserNotFound),
            (
                "[Error 4410] Service not assigned: Authentication",
                ErrorKind::ServiceNotAssigned,
            ),
            (
                "[Error 4302] Invalid password: must be at least 8 characters",
                ErrorKind::RuleRejected,
            ),
            (
                "[Error 4420] Invalid passcode: must be digits only",
                ErrorKind::RuleRejected,
            ),
            (
                "[Error 4422] Invalid passcode: at least 2 digits; the last digit is 9",
                ErrorKind::RuleRejected,
            ),
            (
                "[Error 4311] Invalid password: must not be the reverse of the old password",
                ErrorKind::RuleRejected,
            ),
            (
                "[Error 4310] Invalid password: must not be the same as the old password",
                ErrorKind::HistoryRejected,
            ),
            (
                "[Error 4430] Invalid passcode: must not be one of the last 3 passcodes",
                ErrorKind::HistoryRejected,
            ),
            (
                "[Error 4530] Invalid password: must not be one of the last 10 passwords",
                ErrorKind::HistoryRejected,
            ),
            (
                "Invalid password: not one of the last passwords",
                ErrorKind::HistoryRejected,
            ),
            (
                "[Error 4007] Group not found: g in sp",
                ErrorKind::GroupNotFound,
            ),
            (
                "[Error 4006] Service provider not found: sp9",
                ErrorKind::GroupNotFound,
            ),
            (
                "[Error 4420] User name already in use: k3v9x2m4q8w1",
                ErrorKind::UserNameTaken,
            ),
            (
                "[Error 4002] Invalid value for userName",
                ErrorKind::RuleRejected,
            ),
            (
                "[Error 4002] Invalid value for serviceProviderId",
                ErrorKind::Refused,
            ),
            ("[Error 4220] Access denied", ErrorKind::Refused),
            ("something unknown", ErrorKind::Refused),
        ] {
            assert_eq!(refusal_kind(text), kind, "{text}");
        }
    }

    #[test]
    fn broadworks_texts_carry_their_code() {
        assert!(is_broadworks_text("[Error 4008] User not found"));
        assert!(!is_broadworks_text("<html><title>400 Bad Request</title>"));
    }
}
