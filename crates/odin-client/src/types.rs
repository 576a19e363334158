//! The typed answers of the API, decoded leniently: unknown fields ignored, numbers accepted
//! where text is expected, optional fields optional.

use std::fmt;

use secrecy::SecretString;
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

/// A group of a service provider: the seam's type, used for the generators' scope.
pub use bwreset_backend::GroupScope;

/// A user as listed by `GET /users`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// `userId`.
    #[serde(deserialize_with = "text")]
    pub user_id: String,
    /// `serviceProviderId`.
    #[serde(default, deserialize_with = "optional_text")]
    pub service_provider_id: Option<String>,
    /// `groupId`.
    #[serde(default, deserialize_with = "optional_text")]
    pub group_id: Option<String>,
    /// `firstName`.
    #[serde(default, deserialize_with = "optional_text")]
    pub first_name: Option<String>,
    /// `lastName`.
    #[serde(default, deserialize_with = "optional_text")]
    pub last_name: Option<String>,
    /// `phoneNumber`.
    #[serde(default, deserialize_with = "optional_text")]
    pub phone_number: Option<String>,
    /// `extension`.
    #[serde(default, deserialize_with = "optional_text")]
    pub extension: Option<String>,
}

/// A user of a group listing as the engine needs it: the ID only (the other fields are skipped
/// while decoding, never stored).
#[derive(Deserialize)]
pub(crate) struct ListedUser {
    #[serde(rename = "userId", deserialize_with = "text")]
    pub(crate) user_id: String,
}

/// The answer of `GET /users/services/assigned`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AssignedServices {
    /// `userId`.
    #[serde(deserialize_with = "text")]
    pub user_id: String,
    /// The `serviceName` of every entry of `userServices`.
    #[serde(default, deserialize_with = "service_names")]
    pub user_services: Vec<String>,
    /// The `serviceName` of every entry of `groupServices`.
    #[serde(default, deserialize_with = "service_names")]
    pub group_services: Vec<String>,
}

impl AssignedServices {
    /// Whether `name` is among the user's services (exact, as BroadWorks names them).
    pub fn has_user_service(&self, name: &str) -> bool {
        self.user_services.iter().any(|service| service == name)
    }
}

/// The answer of `GET /users/authentication`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserAuthentication {
    /// `userId`.
    #[serde(deserialize_with = "text")]
    pub user_id: String,
    /// The SIP authentication `userName` (sent as text or as a number).
    #[serde(deserialize_with = "text")]
    pub user_name: String,
    /// `serviceProviderId`.
    #[serde(default, deserialize_with = "optional_text")]
    pub service_provider_id: Option<String>,
    /// `groupId`.
    #[serde(default, deserialize_with = "optional_text")]
    pub group_id: Option<String>,
}

/// The answer of `GET /auth/session`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionInfo {
    /// `userId` of the logged-in account.
    #[serde(deserialize_with = "text")]
    pub user_id: String,
    /// `loginType`, e.g. `System`.
    #[serde(default, deserialize_with = "optional_text")]
    pub login_type: Option<String>,
    /// `isSystemAdmin`.
    #[serde(default)]
    pub is_system_admin: Option<bool>,
    /// `readOnly`.
    #[serde(default)]
    pub read_only: Option<bool>,
}

/// Text that may arrive as a JSON string, number or boolean.
struct LenientText;

impl<'de> Visitor<'de> for LenientText {
    type Value = Option<String>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a string or a number")
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
        Ok(Some(value.to_owned()))
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<Self::Value, E> {
        Ok(Some(value))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Self::Value, E> {
        Ok(Some(value.to_string()))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Self::Value, E> {
        Ok(Some(value.to_string()))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Self::Value, E> {
        Ok(Some(value.to_string()))
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<Self::Value, E> {
        Ok(Some(value.to_string()))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(LenientText)
    }
}

pub(crate) fn optional_text<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    deserializer.deserialize_any(LenientText)
}

pub(crate) fn text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    deserializer
        .deserialize_any(LenientText)?
        .ok_or_else(|| de::Error::custom("a required text field is null"))
}

/// One entry of `userServices`: `{"serviceName": ..}` or, leniently, a bare string.
#[derive(Deserialize)]
#[serde(untagged)]
enum ServiceEntry {
    Named {
        #[serde(rename = "serviceName", deserialize_with = "text")]
        service_name: String,
    },
    Bare(String),
    Other(serde::de::IgnoredAny),
}

fn service_names<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    let entries: Option<Vec<ServiceEntry>> = Option::deserialize(deserializer)?;
    Ok(entries
        .unwrap_or_default()
        .into_iter()
        .filter_map(|entry| match entry {
            ServiceEntry::Named { service_name } => Some(service_name),
            ServiceEntry::Bare(name) => Some(name),
            ServiceEntry::Other(_) => None,
        })
        .collect())
}

/// One generated value, decoded straight into a secret (text or a number).
pub(crate) struct GeneratedValue(pub(crate) SecretString);

struct GeneratedValueVisitor;

impl Visitor<'_> for GeneratedValueVisitor {
    type Value = GeneratedValue;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a generated value as a string or a number")
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
        Ok(GeneratedValue(SecretString::from(value)))
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<Self::Value, E> {
        Ok(GeneratedValue(SecretString::from(value)))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Self::Value, E> {
        Ok(GeneratedValue(SecretString::from(value.to_string())))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Self::Value, E> {
        Ok(GeneratedValue(SecretString::from(value.to_string())))
    }
}

impl<'de> Deserialize<'de> for GeneratedValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(GeneratedValueVisitor)
    }
}

/// A generator's answer in either shape: `{"password": ..}` / `{"passwords": [..]}` (or the
/// passcode twins).
#[derive(Deserialize)]
pub(crate) struct GeneratorAnswer {
    #[serde(default)]
    password: Option<GeneratedValue>,
    #[serde(default)]
    passwords: Option<Vec<GeneratedValue>>,
    #[serde(default)]
    passcode: Option<GeneratedValue>,
    #[serde(default)]
    passcodes: Option<Vec<GeneratedValue>>,
}

impl GeneratorAnswer {
    /// The values under `plural` or else `singular` (`"password"` or `"passcode"` family);
    /// `None` when the answer has neither key.
    pub(crate) fn into_values(self, passcodes: bool) -> Option<Vec<SecretString>> {
        let (single, many) = if passcodes {
            (self.passcode, self.passcodes)
        } else {
            (self.password, self.passwords)
        };
        match (many, single) {
            (Some(many), _) => Some(many.into_iter().map(|value| value.0).collect()),
            (None, Some(single)) => Some(vec![single.0]),
            (None, None) => None,
        }
    }
}

/// An answer that names a user: used to catch an answer about somebody else.
#[derive(Deserialize)]
pub(crate) struct NamesUser {
    #[serde(default, rename = "userId", deserialize_with = "optional_text")]
    pub(crate) user_id: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn user_name_as_number_or_text() {
        let number: UserAuthentication = serde_json::from_str(
            r#"{"userId":"u1@x","userName":4155550100,"serviceProviderId":"sp","extra":[1,2]}"#,
        )
        .unwrap();
        assert_eq!(number.user_name, "4155550100");
        assert_eq!(number.group_id, None);
        let text: UserAuthentication =
            serde_json::from_str(r#"{"userId":"u1@x","userName":"alice","groupId":"g"}"#).unwrap();
        assert_eq!(text.user_name, "alice");
        assert_eq!(text.group_id.as_deref(), Some("g"));
        assert!(serde_json::from_str::<UserAuthentication>(r#"{"userId":"u1@x"}"#).is_err());
        assert!(
            serde_json::from_str::<UserAuthentication>(r#"{"userId":"u","userName":null}"#)
                .is_err()
        );
    }

    #[test]
    fn users_accept_numbers_and_nulls() {
        let users: Vec<User> = serde_json::from_str(
            r#"[{"userId":"a","extension":1234,"phoneNumber":null,"firstName":"A","x":{}},
                {"userId":"b"}]"#,
        )
        .unwrap();
        assert_eq!(users[0].extension.as_deref(), Some("1234"));
        assert_eq!(users[0].phone_number, None);
        assert_eq!(users[1].first_name, None);
    }

    #[test]
    fn services_lenient() {
        let services: AssignedServices = serde_json::from_str(
            r#"{"userId":"u","userServices":[{"serviceName":"Authentication","isActive":true},"Voice Messaging User",{"x":1}],
               "groupServices":null}"#,
        )
        .unwrap();
        assert_eq!(
            services.user_services,
            vec!["Authentication", "Voice Messaging User"]
        );
        assert!(services.group_services.is_empty());
        assert!(services.has_user_service("Authentication"));
        let bare: AssignedServices = serde_json::from_str(r#"{"userId":"u"}"#).unwrap();
        assert!(bare.user_services.is_empty());
    }

    #[test]
    fn session_lenient() {
        let session: SessionInfo = serde_json::from_str(
            r#"{"userId":"admin","loginType":"System","isSystemAdmin":true,"readOnly":false,"more":1}"#,
        )
        .unwrap();
        assert_eq!(session.is_system_admin, Some(true));
        assert_eq!(session.login_type.as_deref(), Some("System"));
    }

    fn values(text: &str, passcodes: bool) -> Option<Vec<String>> {
        let answer: GeneratorAnswer = serde_json::from_str(text).unwrap();
        answer.into_values(passcodes).map(|values| {
            values
                .iter()
                .map(|value| value.expose_secret().to_owned())
                .collect()
        })
    }

    #[test]
    fn generator_answers_in_both_shapes() {
        assert_eq!(
            values(r#"{"password":"a"}"#, false),
            Some(vec!["a".to_owned()])
        );
        assert_eq!(
            values(r#"{"passwords":["a","b"]}"#, false),
            Some(vec!["a".to_owned(), "b".to_owned()])
        );
        assert_eq!(
            values(r#"{"passcode":12345678}"#, true),
            Some(vec!["12345678".to_owned()])
        );
        assert_eq!(
            values(r#"{"passcodes":["1","1",""]}"#, true),
            Some(vec!["1".to_owned(), "1".to_owned(), String::new()])
        );
        assert_eq!(values(r#"{"passcode":"1"}"#, false), None);
        assert_eq!(values(r#"{}"#, false), None);
        assert!(serde_json::from_str::<GeneratorAnswer>(r#"{"passwords":[{"a":1}]}"#).is_err());
    }
}
