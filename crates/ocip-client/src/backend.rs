//! The OCI-P client as a bwreset backend: the seam's operations mapped to OCI-P commands, and
//! the server's `ErrorResponse`s read for what they mean ([`ErrorKind`]).
//!
//! This is the one place that reads OCI-P's error codes; the wording of a refusal is read by the
//! seam's [`wording`], as over Odin. Real servers' rule-violation texts are not public, so a
//! refusal whose wording is not recognised is a plain refusal of that user (recorded with the
//! server's text), never a guess that a fresh value would pass.

use bwreset_backend::{
    Backend, BackendError, Credential, ErrorKind, ExposeSecret, GroupScope, SecretString,
    UserFacts, UserIdList, wording,
};

use crate::commands::{self, Command, PasscodeRuleLevel};
use crate::generate::{self, PasscodeRules, PasswordRules, Rules};
use crate::{Error, OcipClient};

impl Backend for OcipClient {
    fn server(&self) -> &str {
        OcipClient::server(self)
    }

    async fn group_user_ids(&self, group: GroupScope<'_>) -> Result<UserIdList, BackendError> {
        self.read(&commands::users_in_group(group))
            .await
            .map_err(|error| read_error(error).of_listing())
    }

    async fn service_provider_groups(
        &self,
        service_provider_id: &str,
    ) -> Result<Vec<String>, BackendError> {
        // Only the server's words say the provider is unknown: a refused command (an older
        // server, a login without the right) is not taken for one.
        self.read(&commands::groups_of_service_provider(service_provider_id))
            .await
            .map_err(read_error)
    }

    async fn check_user(
        &self,
        user: &str,
        credential: Credential,
    ) -> Result<UserFacts, BackendError> {
        match credential {
            // One read gives existence, the Authentication service and the SIP user name.
            Credential::SipPassword => {
                let sip_user_name = self
                    .read(&commands::sip_user_name(user))
                    .await
                    .map_err(read_error)?;
                Ok(UserFacts {
                    sip_user_name,
                    ..UserFacts::default()
                })
            }
            // The service list says the user exists and shows nothing secret (the passcode
            // read would send the passcode in clear).
            Credential::PortalPasscode | Credential::WebPassword => {
                self.read(&commands::user_services(user))
                    .await
                    .map_err(read_error)?;
                Ok(UserFacts::default())
            }
        }
    }

    async fn generate(
        &self,
        credential: Credential,
        group: GroupScope<'_>,
        count: usize,
    ) -> Result<Vec<SecretString>, BackendError> {
        // One document of 15 per connection at most: one round trip answers the call.
        let count = count.clamp(1, 15 * self.connections());
        if self.server_generates() {
            match self.generate_on_server(credential, group, count).await {
                Ok(values) => return Ok(values),
                Err(GenerateFailure::NotAvailable) => self.fall_back_to_local_values(),
                Err(GenerateFailure::Other(error)) => return Err(read_error(error)),
            }
        }
        self.generate_locally(credential, group, count)
            .await
            .map_err(read_error)
    }

    fn generates_per_user(&self, _credential: Credential) -> bool {
        self.server_generates()
    }

    async fn generate_for(
        &self,
        credential: Credential,
        group: GroupScope<'_>,
        user: &str,
    ) -> Result<Option<SecretString>, BackendError> {
        if !self.server_generates() {
            return Ok(None);
        }
        // The user's own rules (history, the SIP user name) apply only when the server is told
        // the user: `userId`, one user per command. Concurrent callers share documents.
        let command = commands::generate_value(credential, group, Some(user));
        match self.read(&command).await {
            // A reply without the value is a value of no use: the caller asks again.
            Ok(value) => Ok(Some(value)),
            Err(error) => match generator_failure(error) {
                GenerateFailure::NotAvailable => {
                    self.fall_back_to_local_values();
                    Ok(None)
                }
                GenerateFailure::Other(error) => Err(read_error(error)),
            },
        }
    }

    async fn set(
        &self,
        credential: Credential,
        user: &str,
        value: &SecretString,
    ) -> Result<(), BackendError> {
        self.modify(&commands::set_credential(credential, user, value))
            .await
            .map_err(BackendError::from)
    }

    async fn set_sip_credentials(
        &self,
        user: &str,
        user_name: Option<&str>,
        password: &SecretString,
    ) -> Result<(), BackendError> {
        let command = match user_name {
            Some(user_name) => commands::set_sip_credentials(user, user_name, password),
            None => commands::set_credential(Credential::SipPassword, user, password),
        };
        self.modify(&command).await.map_err(BackendError::from)
    }

    /// `UserAuthenticationGetRequest`: the name alone, never the password.
    async fn sip_user_name(&self, user: &str) -> Result<Option<String>, BackendError> {
        self.read(&commands::sip_user_name(user))
            .await
            .map_err(read_error)
    }
}

enum GenerateFailure {
    /// An `ErrorResponse` to `PasswordGenerateRequest`: the server does not have it (the
    /// unknown-request text is not public, so any refusal counts).
    NotAvailable,
    Other(Error),
}

/// What a failed `PasswordGenerateRequest` means: a refusal in the server's words (not a busy
/// server or a lost session) says the command is not available.
fn generator_failure(error: Error) -> GenerateFailure {
    match error {
        error @ Error::Refused { .. } if !error.is_busy() && !error.is_session_lost() => {
            GenerateFailure::NotAvailable
        }
        error => GenerateFailure::Other(error),
    }
}

impl OcipClient {
    async fn generate_on_server(
        &self,
        credential: Credential,
        group: GroupScope<'_>,
        count: usize,
    ) -> Result<Vec<SecretString>, GenerateFailure> {
        let commands = vec![commands::generate_value(credential, group, None); count];
        let mut values = Vec::with_capacity(count);
        let mut last_error = None;
        for result in self.read_many(&commands).await {
            match result {
                Ok(value) => {
                    if !value.expose_secret().is_empty() {
                        values.push(value);
                    }
                }
                Err(error) => match generator_failure(error) {
                    GenerateFailure::NotAvailable => return Err(GenerateFailure::NotAvailable),
                    GenerateFailure::Other(error) => last_error = Some(error),
                },
            }
        }
        match (values.is_empty(), last_error) {
            (true, Some(error)) => Err(GenerateFailure::Other(error)),
            _ => Ok(values),
        }
    }

    async fn generate_locally(
        &self,
        credential: Credential,
        group: GroupScope<'_>,
        count: usize,
    ) -> Result<Vec<SecretString>, Error> {
        // The rules are read once per run (per credential and group); a read that failed is
        // not kept, so the next call asks again.
        let rules = match self.cached_rules(credential, group) {
            Some(rules) => rules,
            None => {
                let read = match credential {
                    Credential::PortalPasscode => {
                        self.passcode_rules(group).await.map(Rules::Passcode)
                    }
                    Credential::SipPassword | Credential::WebPassword => self
                        .password_rules(credential, group)
                        .await
                        .map(Rules::Password),
                };
                match read {
                    Some(rules) => {
                        self.keep_rules(credential, group, rules);
                        rules
                    }
                    None => match credential {
                        Credential::PortalPasscode => Rules::Passcode(PasscodeRules::STRICT),
                        _ => Rules::Password(PasswordRules::STRICT),
                    },
                }
            }
        };
        match rules {
            Rules::Passcode(rules) => (0..count).map(|_| generate::passcode(rules)).collect(),
            Rules::Password(rules) => (0..count).map(|_| generate::password(rules)).collect(),
        }
    }

    /// The rules of the group's web passwords, or the SIP rules in effect (the service
    /// provider's when it says to use them, else the system's). `None` when a read was refused
    /// or failed: the caller falls back to the strict built-in rules, and the server judges each
    /// value anyway.
    async fn password_rules(
        &self,
        credential: Credential,
        group: GroupScope<'_>,
    ) -> Option<PasswordRules> {
        match credential {
            Credential::WebPassword => self.rule_read(&commands::group_password_rules(group)).await,
            _ => {
                let provider = commands::service_provider_sip_rules(group.service_provider_id);
                match self.rule_read(&provider).await {
                    Some(Some(rules)) => Some(rules),
                    _ => self.rule_read(&commands::system_sip_rules()).await,
                }
            }
        }
    }

    /// The passcode rules at the level the group says applies (`None`: a read failed).
    async fn passcode_rules(&self, group: GroupScope<'_>) -> Option<PasscodeRules> {
        let (level, group_rules) = self
            .rule_read(&commands::group_passcode_rules(group))
            .await?;
        match level {
            PasscodeRuleLevel::System => self.rule_read(&commands::system_passcode_rules()).await,
            PasscodeRuleLevel::ServiceProvider => {
                let provider = commands::service_provider_passcode_rules(group.service_provider_id);
                self.rule_read(&provider).await
            }
            PasscodeRuleLevel::Group => Some(group_rules),
        }
    }

    async fn rule_read<A>(&self, command: &Command<A>) -> Option<A> {
        match self.read(command).await {
            Ok(answer) => Some(answer),
            Err(error) => {
                tracing::debug!(%error, "a rule read failed: bwreset's strict rules apply");
                None
            }
        }
    }
}

impl From<Error> for BackendError {
    fn from(error: Error) -> Self {
        let kind = kind_of(&error);
        let reason = error.details();
        BackendError::new(kind, reason, error)
    }
}

/// A failed read, as the seam takes every client's ([`BackendError::of_read`]): the client
/// has already retried every failure of the exchange; only an answer that could not be
/// understood stays ambiguous.
pub(crate) fn read_error(error: Error) -> BackendError {
    let kind = kind_of(&error);
    let unreadable = matches!(error, Error::Decode { .. });
    let reason = error.details();
    BackendError::of_read(kind, unreadable, reason, error)
}

/// What an OCI-P error means.
pub(crate) fn kind_of(error: &Error) -> ErrorKind {
    match error {
        Error::Config { .. } => ErrorKind::Config,
        Error::Connect { .. } | Error::Tls { .. } => ErrorKind::Unreachable,
        Error::LoginRefused { .. } => ErrorKind::LoginLost,
        Error::Timeout { sent: false, .. } => ErrorKind::Unavailable,
        // A front's answer after the document left: the service may have run it.
        Error::Front { sent: true, .. } => ErrorKind::Ambiguous,
        Error::Front { lasting: true, .. } => ErrorKind::Unreachable,
        Error::Front { .. } => ErrorKind::Unavailable,
        // Sent, and no answer that could be read: it may have been processed.
        Error::Timeout { sent: true, .. } | Error::Transport { .. } | Error::Decode { .. } => {
            ErrorKind::Ambiguous
        }
        Error::Refused { response, .. } => {
            if error.is_busy() {
                ErrorKind::Unavailable
            } else if error.is_session_lost() {
                ErrorKind::LoginLost
            } else if error.is_server_failure() {
                // It may come after the change was made: the same value again.
                ErrorKind::Ambiguous
            } else {
                wording::refusal_kind(&response.text())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorResponse;

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
    fn refusals_are_read_for_what_they_mean() {
        for (summary, kind) in [
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
                "[Error 4007] Group not found: g in sp",
                ErrorKind::GroupNotFound,
            ),
            (
                "[Error 4220] Access denied: system-level requests need a system administrator",
                ErrorKind::Refused,
            ),
            (
                "[Error 5000] Injected failure: internal server error",
                ErrorKind::Ambiguous,
            ),
            (
                "[Error 4290] Server busy: too many requests, retry in 1 seconds",
                ErrorKind::Unavailable,
            ),
            (
                "[Error 4912] Session expired: log in again",
                ErrorKind::LoginLost,
            ),
            (
                "[Error 4420] User name already in use: k3v9x2m4q8w1",
                ErrorKind::UserNameTaken,
            ),
            ("something unknown", ErrorKind::Refused),
        ] {
            assert_eq!(kind_of(&refused(summary)), kind, "{summary}");
        }
        let error = BackendError::from(refused("[Error 4008] User not found: u1@x"));
        assert_eq!(error.reason(), "[Error 4008] User not found: u1@x");
    }

    #[test]
    fn a_value_for_a_user_names_the_user_in_schema_order() {
        let group = GroupScope {
            service_provider_id: "sp",
            group_id: "grp",
        };
        let text = |command: Command<SecretString>| {
            String::from_utf8(crate::xml::request_document(
                "s",
                &[&command.request],
                false,
            ))
            .unwrap()
        };
        let for_user = text(commands::generate_value(
            Credential::SipPassword,
            group,
            Some("u1@example.com"),
        ));
        assert!(
            for_user.contains(
                "<userPassword><serviceProviderId>sp</serviceProviderId><groupId>grp</groupId>\
                 <userId>u1@example.com</userId><generateSipPassword>true</generateSipPassword>\
                 </userPassword>"
            ),
            "{for_user}"
        );
        let passcode = text(commands::generate_value(
            Credential::PortalPasscode,
            group,
            Some("u2@example.com"),
        ));
        assert!(
            passcode.contains(
                "<userId>u2@example.com</userId><generatePasscode>true</generatePasscode>"
            ),
            "{passcode}"
        );
        let batch = text(commands::generate_value(
            Credential::WebPassword,
            group,
            None,
        ));
        assert!(
            batch.contains(
                "<groupId>grp</groupId><generatePassword>true</generatePassword></userPassword>"
            ),
            "{batch}"
        );
    }

    #[test]
    fn failures_of_the_exchange_are_classified() {
        let transport = Error::Transport {
            message: "reset".into(),
        };
        assert_eq!(kind_of(&transport), ErrorKind::Ambiguous);
        assert_eq!(read_error(transport).kind(), ErrorKind::Unavailable);
        let decode = Error::Decode {
            message: "x".into(),
        };
        assert_eq!(read_error(decode).kind(), ErrorKind::Ambiguous);
        let connect = Error::Connect {
            server: "s".into(),
            message: "refused".into(),
        };
        assert_eq!(kind_of(&connect), ErrorKind::Unreachable);
        let login = Error::LoginRefused {
            summary: "[Error 4962] Invalid password".into(),
        };
        assert_eq!(kind_of(&login), ErrorKind::LoginLost);
        let unsent = Error::Timeout {
            waited: std::time::Duration::from_secs(1),
            sent: false,
        };
        assert_eq!(kind_of(&unsent), ErrorKind::Unavailable);
        let listing = read_error(refused("[Error 4001] anything")).of_listing();
        assert_eq!(listing.kind(), ErrorKind::GroupNotFound);
    }
}
