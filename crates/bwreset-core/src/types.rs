//! Small validated types: which credential to reset, and a user ID.

use std::fmt;
use std::str::FromStr;

use bwreset_backend::{Credential, GroupScope};
use serde::{Deserialize, Serialize};

use crate::Error;

/// Which credential a run resets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PasswordType {
    /// The SIP authentication password (`PUT /users/authentication`).
    Sip,
    /// The voice portal passcode (`PUT /users/portal-passcode`).
    Vm,
    /// The web portal password (`PUT /users/passwords`).
    Web,
}

impl PasswordType {
    /// Every type, in the order they are documented.
    pub const ALL: [PasswordType; 3] = [PasswordType::Sip, PasswordType::Vm, PasswordType::Web];

    /// The lower-case name used on the command line, in the journal and in serde.
    pub fn as_str(self) -> &'static str {
        match self {
            PasswordType::Sip => "sip",
            PasswordType::Vm => "vm",
            PasswordType::Web => "web",
        }
    }

    /// Whether the new value is a passcode (digits) rather than a password.
    pub fn is_passcode(self) -> bool {
        matches!(self, PasswordType::Vm)
    }

    /// The credential on the server that this type resets.
    pub fn credential(self) -> Credential {
        match self {
            PasswordType::Sip => Credential::SipPassword,
            PasswordType::Vm => Credential::PortalPasscode,
            PasswordType::Web => Credential::WebPassword,
        }
    }
}

impl FromStr for PasswordType {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        match text.trim().to_ascii_lowercase().as_str() {
            "sip" => Ok(PasswordType::Sip),
            "vm" | "voicemail" => Ok(PasswordType::Vm),
            "web" => Ok(PasswordType::Web),
            _ => Err(Error::InvalidPasswordType {
                given: printable(text),
            }),
        }
    }
}

impl fmt::Display for PasswordType {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            PasswordType::Sip => "SIP",
            PasswordType::Vm => "VM",
            PasswordType::Web => "WEB",
        })
    }
}

/// A group of a service provider (or enterprise), owned: one row of a run's [`Scope`] table
/// (a run holds each group once; each user refers to its group by its index in the table).
///
/// Three group types, three jobs: a [`Scope`] is whom a whole run targets (a table of
/// `GroupRef`s and the group-columns flag); a `GroupRef` is one group the engine keeps; a
/// [`GroupScope`] is the seam's borrowed form of one group for one backend request
/// ([`GroupRef::scope`] lends it).
///
/// [`Scope`]: crate::Scope
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupRef {
    /// The service provider or enterprise.
    pub service_provider_id: String,
    /// The group.
    pub group_id: String,
}

impl GroupRef {
    /// The group `group_id` of `service_provider_id`.
    pub fn new(service_provider_id: impl Into<String>, group_id: impl Into<String>) -> Self {
        GroupRef {
            service_provider_id: service_provider_id.into(),
            group_id: group_id.into(),
        }
    }

    /// The group borrowed as a backend request names it (not a run's [`crate::Scope`]).
    pub fn scope(&self) -> GroupScope<'_> {
        GroupScope {
            service_provider_id: &self.service_provider_id,
            group_id: &self.group_id,
        }
    }
}

impl fmt::Display for GroupRef {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "group `{}` of service provider `{}`",
            self.group_id, self.service_provider_id
        )
    }
}

/// A BroadWorks user ID: trimmed, non-empty, without control characters.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(try_from = "String")]
pub struct UserId(String);

/// Serialises as the plain string.
impl Serialize for UserId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl UserId {
    /// The ID as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The ID as an owned string.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl UserId {
    /// The text as a user ID would hold it (trimmed), without making one: why it is not a user
    /// ID otherwise.
    pub(crate) fn check(text: &str) -> Result<&str, Error> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(Error::InvalidUserId {
                given: printable(text),
                reason: "it is empty",
            });
        }
        if trimmed.chars().any(char::is_control) {
            return Err(Error::InvalidUserId {
                given: printable(text),
                reason: "it contains control characters",
            });
        }
        Ok(trimmed)
    }

    /// A user ID from text that [`UserId::check`] gave back (a plan's or a journal's list).
    pub(crate) fn checked(text: &str) -> UserId {
        UserId(text.to_owned())
    }
}

impl TryFrom<&str> for UserId {
    type Error = Error;

    fn try_from(text: &str) -> Result<Self, Error> {
        UserId::check(text).map(UserId::checked)
    }
}

impl TryFrom<String> for UserId {
    type Error = Error;

    fn try_from(text: String) -> Result<Self, Error> {
        if !text.is_empty()
            && text.trim().len() == text.len()
            && !text.chars().any(char::is_control)
        {
            return Ok(UserId(text));
        }
        UserId::try_from(text.as_str())
    }
}

impl FromStr for UserId {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        UserId::try_from(text)
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl fmt::Debug for UserId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, formatter)
    }
}

impl std::ops::Deref for UserId {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for UserId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// The text with control characters escaped and its length bounded, for error messages.
fn printable(text: &str) -> String {
    const LIMIT: usize = 200;
    let mut out = String::new();
    for (count, character) in text.chars().enumerate() {
        if count >= LIMIT {
            out.push('…');
            break;
        }
        if character.is_control() {
            out.extend(character.escape_default());
        } else {
            out.push(character);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_type_parses_case_insensitively_with_aliases() {
        for (text, expected) in [
            ("sip", PasswordType::Sip),
            ("SIP", PasswordType::Sip),
            (" Sip ", PasswordType::Sip),
            ("vm", PasswordType::Vm),
            ("VM", PasswordType::Vm),
            ("voicemail", PasswordType::Vm),
            ("VoiceMail", PasswordType::Vm),
            ("web", PasswordType::Web),
            ("WEB", PasswordType::Web),
        ] {
            assert_eq!(text.parse::<PasswordType>().unwrap(), expected, "{text}");
        }
    }

    #[test]
    fn invalid_password_type_lists_the_options() {
        let error = "portal".parse::<PasswordType>().unwrap_err();
        assert!(matches!(error, Error::InvalidPasswordType { ref given } if given == "portal"));
        let message = error.to_string();
        for option in ["`sip`", "`vm`", "`voicemail`", "`web`", "`portal`"] {
            assert!(message.contains(option), "{message}");
        }
        assert!("".parse::<PasswordType>().is_err());
    }

    #[test]
    fn password_type_display_and_serde() {
        assert_eq!(PasswordType::Sip.to_string(), "SIP");
        assert_eq!(PasswordType::Vm.to_string(), "VM");
        assert_eq!(PasswordType::Web.to_string(), "WEB");
        assert_eq!(serde_json::to_string(&PasswordType::Vm).unwrap(), "\"vm\"");
        let parsed: PasswordType = serde_json::from_str("\"web\"").unwrap();
        assert_eq!(parsed, PasswordType::Web);
    }

    #[test]
    fn user_id_is_trimmed_and_validated() {
        assert_eq!(
            UserId::try_from("  a@b.example ").unwrap().as_str(),
            "a@b.example"
        );
        assert!(matches!(
            UserId::try_from("   "),
            Err(Error::InvalidUserId { .. })
        ));
        let error = UserId::try_from("a\u{7}b").unwrap_err();
        assert!(error.to_string().contains("control"), "{error}");
        assert!(error.to_string().contains("a\\u{7}b"), "{error}");
        assert!("x@y".parse::<UserId>().is_ok());
    }

    #[test]
    fn user_id_serde_is_transparent_and_validated() {
        let id = UserId::try_from("u1@example.com").unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"u1@example.com\"");
        let back: UserId = serde_json::from_str("\"u1@example.com\"").unwrap();
        assert_eq!(back, id);
        assert!(serde_json::from_str::<UserId>("\"\"").is_err());
    }
}
