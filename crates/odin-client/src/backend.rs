//! The Odin client as a bwreset backend: the seam's operations mapped to Odin's endpoints, and
//! Odin's answers read for what they mean ([`ErrorKind`]).
//!
//! This is the one place that reads Odin's status codes; BroadWorks' `[Error NNNN] ...` texts,
//! passed through by Odin in `details`, are read by the seam's [`wording`], as over OCI-P.

use bwreset_backend::{
    Backend, BackendError, Credential, DeviceBackend, DeviceFacts, DeviceId, DeviceLevel,
    DeviceRole, ErrorKind, GroupScope, RegisteredDevice, SecretString, UserDevice, UserFacts,
    UserIdList, UserRegistrations, wording,
};

use crate::{Error, OdinClient};

impl Backend for OdinClient {
    fn server(&self) -> &str {
        self.base_url()
    }

    async fn group_user_ids(&self, group: GroupScope<'_>) -> Result<UserIdList, BackendError> {
        OdinClient::group_user_ids(self, group.service_provider_id, group.group_id)
            .await
            .map_err(|error| read_error(error).of_listing())
    }

    async fn service_provider_groups(
        &self,
        service_provider_id: &str,
    ) -> Result<Vec<String>, BackendError> {
        // Only the server's words say the provider is unknown (`[Error 4006]`): another refusal
        // is not taken for one.
        self.service_provider_group_ids(service_provider_id)
            .await
            .map_err(read_error)
    }

    async fn check_user(
        &self,
        user_id: &str,
        credential: Credential,
    ) -> Result<UserFacts, BackendError> {
        match credential {
            // One read gives existence, the Authentication service, the group and the userName.
            Credential::SipPassword => {
                let authentication = self
                    .user_authentication(user_id)
                    .await
                    .map_err(read_error)?;
                Ok(UserFacts {
                    service_provider_id: authentication.service_provider_id,
                    group_id: authentication.group_id,
                    sip_user_name: Some(authentication.user_name),
                })
            }
            Credential::PortalPasscode | Credential::WebPassword => {
                let user = self.user(user_id).await.map_err(read_error)?;
                Ok(UserFacts {
                    service_provider_id: user.service_provider_id,
                    group_id: user.group_id,
                    sip_user_name: None,
                })
            }
        }
    }

    async fn generate(
        &self,
        credential: Credential,
        group: GroupScope<'_>,
        count: usize,
    ) -> Result<Vec<SecretString>, BackendError> {
        let values = match credential {
            Credential::PortalPasscode => self.generate_passcodes(group, count).await,
            // SIP passwords come from the web password generator under the group's rules, as the
            // published bulk reset does (the SIP generator's parameters are unverified on Odin).
            Credential::SipPassword | Credential::WebPassword => {
                self.generate_passwords(Some(group), count).await
            }
        };
        values.map_err(read_error)
    }

    async fn set(
        &self,
        credential: Credential,
        user_id: &str,
        value: &SecretString,
    ) -> Result<(), BackendError> {
        let answer = match credential {
            Credential::SipPassword => self.set_sip_password(user_id, value).await,
            Credential::PortalPasscode => self.set_portal_passcode(user_id, value).await,
            Credential::WebPassword => self.set_web_password(user_id, value).await,
        };
        answer.map_err(BackendError::from)
    }

    async fn set_sip_credentials(
        &self,
        user_id: &str,
        user_name: Option<&str>,
        password: &SecretString,
    ) -> Result<(), BackendError> {
        let answer = match user_name {
            Some(user_name) => {
                OdinClient::set_sip_credentials(self, user_id, user_name, password).await
            }
            None => self.set_sip_password(user_id, password).await,
        };
        answer.map_err(BackendError::from)
    }

    /// `GET /users/authentication`: the name, the user's place, never the password.
    async fn sip_user_name(&self, user_id: &str) -> Result<Option<String>, BackendError> {
        let authentication = self
            .user_authentication(user_id)
            .await
            .map_err(read_error)?;
        Ok(Some(authentication.user_name))
    }
}

/// The device follow-up. Costs on the wire: [`DeviceBackend::user_devices`] is 2 reads (the
/// user, its shared call appearances); [`DeviceBackend::device_facts`] is 2 reads for a `Group`
/// device (its users, then its primary user) and none for the other levels (Odin has no read of
/// their users: the facts stay unknown); a rebuild or a reset is 1 `POST`;
/// [`DeviceBackend::group_registrations`] is 1 read for the whole group.
impl DeviceBackend for OdinClient {
    async fn user_devices(&self, user_id: &str) -> Result<Vec<UserDevice>, BackendError> {
        let user = self.user_endpoint(user_id).await.map_err(read_error)?;
        let place = |level: Option<&str>, name: String| {
            place_of_user(
                DeviceLevel::of_answer(level),
                user.service_provider_id.as_deref(),
                user.group_id.as_deref(),
                name,
            )
        };
        let mut devices = Vec::new();
        if let Some(endpoint) = &user.access_device_endpoint {
            let device = &endpoint.access_device;
            devices.push(UserDevice {
                device: place(device.device_level.as_deref(), device.device_name.clone())?,
                role: DeviceRole::Primary,
                device_type: device.device_type.clone(),
                own_credentials: device.use_custom_user_name_password,
            });
        }
        let appearances = self
            .shared_call_appearances(user_id)
            .await
            .map_err(read_error)?;
        for appearance in appearances {
            let device = place(appearance.device_level.as_deref(), appearance.device_name)?;
            if devices.iter().all(|known| known.device != device) {
                devices.push(UserDevice {
                    device,
                    role: DeviceRole::SharedCallAppearance,
                    device_type: None,
                    own_credentials: None,
                });
            }
        }
        Ok(devices)
    }

    async fn device_facts(&self, device: &DeviceId) -> Result<DeviceFacts, BackendError> {
        let Some(group) = device.group_scope() else {
            return Ok(DeviceFacts::default());
        };
        let users = self
            .group_device_users(group, &device.name)
            .await
            .map_err(read_error)?;
        let primary = users
            .iter()
            .find(|user| {
                user.endpoint_type
                    .as_deref()
                    .is_some_and(|kind| kind.eq_ignore_ascii_case("primary"))
            })
            .or_else(|| {
                users
                    .iter()
                    .min_by_key(|user| user.order.unwrap_or(u32::MAX))
            });
        let Some(primary) = primary else {
            return Ok(DeviceFacts::default());
        };
        let user = self
            .user_endpoint(&primary.user_id)
            .await
            .map_err(read_error)?;
        Ok(user
            .access_device_endpoint
            .map(|endpoint| endpoint.access_device)
            .filter(|access| access.device_name == device.name)
            .map(|access| DeviceFacts {
                device_type: access.device_type,
                own_credentials: access.use_custom_user_name_password,
            })
            .unwrap_or_default())
    }

    async fn rebuild_device(&self, device: &DeviceId) -> Result<(), BackendError> {
        OdinClient::rebuild_device(self, device)
            .await
            .map_err(BackendError::from)
    }

    async fn reset_device(&self, device: &DeviceId) -> Result<(), BackendError> {
        OdinClient::reset_device(self, device)
            .await
            .map_err(BackendError::from)
    }

    async fn group_registrations(
        &self,
        group: GroupScope<'_>,
    ) -> Result<Vec<UserRegistrations>, BackendError> {
        let users = OdinClient::group_registrations(self, group)
            .await
            .map_err(|error| read_error(error).of_listing())?;
        Ok(users
            .into_iter()
            .map(|user| UserRegistrations {
                user_id: user.user_id,
                devices: user
                    .registrations
                    .into_iter()
                    .map(|registration| RegisteredDevice {
                        level: DeviceLevel::of_answer(registration.device_level.as_deref()),
                        name: registration.device_name,
                        expiration: registration.expiration,
                    })
                    .collect(),
            })
            .collect())
    }
}

/// A device that carries a user, placed by the user's own place (a user's `Group` device is of
/// the user's group); an answer that does not say the place the level needs is not understood.
fn place_of_user(
    level: DeviceLevel,
    service_provider_id: Option<&str>,
    group_id: Option<&str>,
    name: String,
) -> Result<DeviceId, BackendError> {
    DeviceId::at(level, service_provider_id, group_id, name).ok_or_else(|| {
        read_error(Error::Decode {
            message: format!("the user's answer does not say the place of its {level} device"),
        })
    })
}

impl From<Error> for BackendError {
    fn from(error: Error) -> Self {
        let kind = kind_of(&error);
        let reason = error.details().map(str::to_owned);
        BackendError::new(kind, reason, error)
    }
}

/// A failed read, as the seam takes every client's ([`BackendError::of_read`]): the client
/// has already retried every failure of the exchange itself (no connection, timeouts, 429,
/// 5xx); only an answer it could not understand (garbled, about another user) stays ambiguous.
fn read_error(error: Error) -> BackendError {
    let kind = kind_of(&error);
    let unreadable = matches!(error, Error::Decode { .. });
    let reason = error.details().map(str::to_owned);
    BackendError::of_read(kind, unreadable, reason, error)
}

/// What an Odin error means.
pub(crate) fn kind_of(error: &Error) -> ErrorKind {
    match error {
        Error::Unauthorized { .. } => ErrorKind::LoginLost,
        Error::Config { .. } => ErrorKind::Config,
        // No connection was made: a refused or failed connect, or a TLS handshake that failed
        // (never retried: it needs the operator, such as a `--ca-cert`).
        Error::Connect { .. } | Error::Tls { .. } => ErrorKind::Unreachable,
        // Only the first login gives up on silence this way: nothing was processed.
        Error::Timeout { .. } => ErrorKind::Unavailable,
        Error::RateLimited { .. } => ErrorKind::Unavailable,
        // Sent, and no answer that could be read: it may have been processed.
        Error::Transport { .. } | Error::Decode { .. } => ErrorKind::Ambiguous,
        Error::Api { status, details } => api_kind(*status, details),
    }
}

fn api_kind(status: u16, details: &str) -> ErrorKind {
    match status {
        // A 503 is the server (or a balancer) refusing before processing; any other 5xx may come
        // after the change was made.
        503 => ErrorKind::Unavailable,
        500.. => ErrorKind::Ambiguous,
        429 => ErrorKind::Unavailable,
        400..500 if status != 401 => match wording::refusal_kind(details) {
            // A refused value comes as a 400.
            kind @ (ErrorKind::RuleRejected | ErrorKind::HistoryRejected) if status == 400 => kind,
            // Not BroadWorks' text (a proxy's HTML page): what was refused is unknown.
            _ if !wording::is_broadworks_text(details) => ErrorKind::UnclearRefusal,
            ErrorKind::RuleRejected | ErrorKind::HistoryRejected => ErrorKind::Refused,
            kind => kind,
        },
        // A redirect (never followed) or anything else: a clear answer that nothing was done.
        _ => ErrorKind::Refused,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16, details: &str) -> Error {
        Error::Api {
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
            // The value in effect is the reverse of this one: this one is not in effect.
            "[Error 4311] Invalid password: must not be the reverse of the old password",
            "[Error 4431] Invalid passcode: must not be the reverse of the old passcode",
            "[Error 4303] Invalid password: must not contain the authentication user name",
            "[Error 4421] Invalid passcode: must not contain a repeated pattern",
            "[Error 4422] Invalid passcode: at least 2 digits; the last digit is 9",
        ] {
            let error = BackendError::from(api(400, details));
            assert_eq!(error.kind(), ErrorKind::RuleRejected, "{details}");
            assert_eq!(error.reason(), details);
        }
        // Other 400s are refusals of the user, not of the value.
        assert_eq!(
            kind_of(&api(400, "[Error 4008] User not found: u@x")),
            ErrorKind::UserNotFound
        );
        assert_eq!(
            kind_of(&api(
                400,
                "[Error 4410] Service not assigned: Authentication"
            )),
            ErrorKind::ServiceNotAssigned
        );
        assert_eq!(
            kind_of(&api(400, "[Error 4002] Invalid value for newPassword")),
            ErrorKind::Refused
        );
    }

    #[test]
    fn device_refusals_are_clear_refusals() {
        for details in [
            "[Error 4010] Device not found: lobby in acme/sales",
            "[Error 4011] Device does not support reset: lobby",
        ] {
            assert_eq!(kind_of(&api(400, details)), ErrorKind::Refused, "{details}");
        }
    }

    #[test]
    fn history_rejections_are_recognised() {
        for details in [
            "[Error 4310] Invalid password: must not be the same as the old password",
            "[Error 4430] Invalid passcode: must not be one of the last 3 passcodes",
            "[Error 4530] Invalid password: must not be one of the last 10 passwords",
        ] {
            assert_eq!(
                kind_of(&api(400, details)),
                ErrorKind::HistoryRejected,
                "{details}"
            );
        }
    }

    #[test]
    fn transport_and_server_errors_are_classified() {
        let transport = Error::Transport {
            message: "reset".into(),
        };
        assert_eq!(kind_of(&transport), ErrorKind::Ambiguous);
        assert_eq!(
            kind_of(&Error::Decode {
                message: "x".into()
            }),
            ErrorKind::Ambiguous
        );
        assert_eq!(
            kind_of(&api(500, "[Error 5000] Injected failure")),
            ErrorKind::Ambiguous
        );
        assert_eq!(
            kind_of(&api(503, "[Error 5000] Injected failure")),
            ErrorKind::Unavailable
        );
        assert_eq!(
            kind_of(&Error::RateLimited { retry_after: None }),
            ErrorKind::Unavailable
        );
        let connect = Error::Connect {
            message: "refused".into(),
        };
        assert_eq!(kind_of(&connect), ErrorKind::Unreachable);
        let unauthorized = Error::Unauthorized {
            details: "[Error 4961] Invalid username or password".into(),
        };
        assert_eq!(kind_of(&unauthorized), ErrorKind::LoginLost);
        assert_eq!(
            kind_of(&Error::Config {
                message: "x".into()
            }),
            ErrorKind::Config
        );
        let html = api(
            400,
            "<!DOCTYPE html> <html><head><title>400 Bad Request</title>",
        );
        assert_eq!(kind_of(&html), ErrorKind::UnclearRefusal);
        assert_eq!(
            kind_of(&api(302, "redirect to https://elsewhere.example")),
            ErrorKind::Refused
        );
    }

    #[test]
    fn a_refused_listing_names_the_group() {
        let listing = |error| read_error(error).of_listing();
        let error = listing(api(400, "[Error 4007] Group not found: nope in sp"));
        assert_eq!(error.kind(), ErrorKind::GroupNotFound);
        let error = listing(api(400, "[Error 4001] Something else"));
        assert_eq!(error.kind(), ErrorKind::GroupNotFound);
        // The client retried the exchange: a server failure left over means unavailable.
        let error = listing(api(500, "[Error 5000] Injected failure"));
        assert_eq!(error.kind(), ErrorKind::Unavailable);
        let error = read_error(Error::Transport {
            message: "reset".into(),
        });
        assert_eq!(error.kind(), ErrorKind::Unavailable);
        // An answer that could not be understood was not retried: asking again may help.
        let error = read_error(Error::Decode {
            message: "x".into(),
        });
        assert_eq!(error.kind(), ErrorKind::Ambiguous);
    }

    #[test]
    fn the_backend_error_displays_as_the_client_error() {
        let error = BackendError::from(api(400, "[Error 4008] User not found: u@x"));
        assert_eq!(
            error.to_string(),
            "server answered 400: [Error 4008] User not found: u@x"
        );
        assert!(error.backend_error().downcast_ref::<Error>().is_some());
    }
}
