//! The typed command layer: one function per OCI-P command bwreset sends, each giving a
//! [`Command`] (the request, written from typed arguments, and how its answer is read into a
//! typed value). This is the one place that spells a command's element names (the fields of a
//! rule read's answer are read by `generate.rs`, which uses them); the seam's operations
//! (`backend.rs`, `devices.rs`) and the login (`connection.rs`) only call these.
//!
//! A command knows nothing of how it travels: [`OcipClient`](crate::OcipClient) puts it in a
//! document with others (the batcher), retries it by its rule, and hands the document to the
//! transport underneath (a document in, a document out). A second transport needs no change
//! here.

use bwreset_backend::{
    Credential, DeviceFacts, DeviceLevel, GroupScope, RegisteredDevice, UserIdList,
};
use secrecy::SecretString;

use crate::error::Error;
use crate::generate::{PasscodeRules, PasswordRules};
use crate::xml::{Element, Node, Request};

/// How a command's successful answer is read.
type ReadAnswer<A> = fn(&Element) -> Result<A, Error>;

/// One command: what is sent, and how the server's answer to it is read.
pub(crate) struct Command<A> {
    /// The request as it goes into a document.
    pub(crate) request: Request,
    read: ReadAnswer<A>,
}

impl<A> Clone for Command<A> {
    fn clone(&self) -> Self {
        Command {
            request: self.request.clone(),
            read: self.read,
        }
    }
}

impl<A> Command<A> {
    fn new(
        type_name: &'static str,
        body: Vec<Node>,
        read: fn(&Element) -> Result<A, Error>,
    ) -> Self {
        Command {
            request: Request::new(type_name, body),
            read,
        }
    }

    /// Reads the server's (successful) answer to this command.
    pub(crate) fn answer(&self, reply: &Element) -> Result<A, Error> {
        (self.read)(reply)
    }
}

fn undecodable(message: &str) -> Error {
    Error::Decode {
        message: message.to_owned(),
    }
}

fn done(_: &Element) -> Result<(), Error> {
    Ok(())
}

fn user(user_id: &str) -> Node {
    Node::Text("userId", user_id.to_owned())
}

fn provider(service_provider_id: &str) -> Node {
    Node::Text("serviceProviderId", service_provider_id.to_owned())
}

fn provider_and_group(group: GroupScope<'_>) -> [Node; 2] {
    [
        provider(group.service_provider_id),
        Node::Text("groupId", group.group_id.to_owned()),
    ]
}

// --- The login (the transport sends these on each new connection or session) ---

/// `AuthenticationRequest`: the login's first step, no secret; answers the nonce to sign.
pub(crate) fn authentication(user_id: &str) -> Command<String> {
    Command::new("AuthenticationRequest", vec![user(user_id)], |reply| {
        reply
            .text_of("nonce")
            .map(str::to_owned)
            .ok_or_else(|| undecodable("the AuthenticationResponse has no nonce"))
    })
}

/// `LoginRequest14sp4`: the signed login's second step (`signedPassword`, the MD5 of the nonce
/// and the password's SHA-1).
pub(crate) fn signed_login(user_id: &str, signed_password: SecretString) -> Command<()> {
    Command::new(
        "LoginRequest14sp4",
        vec![
            user(user_id),
            Node::Secret("signedPassword", signed_password),
        ],
        done,
    )
}

/// `LoginRequest22V5`: the login in one step, the password in clear (over TLS only).
pub(crate) fn plaintext_login(user_id: &str, password: SecretString) -> Command<()> {
    Command::new(
        "LoginRequest22V5",
        vec![user(user_id), Node::Secret("password", password)],
        done,
    )
}

/// `LogoutRequest` with the reason `Client Logout`.
pub(crate) fn logout(user_id: &str) -> Command<()> {
    Command::new(
        "LogoutRequest",
        vec![user(user_id), Node::Text("reason", "Client Logout".into())],
        done,
    )
}

// --- Users and groups ---

/// `UserGetListInGroupRequest`: the IDs of a group's users, in the server's order.
pub(crate) fn users_in_group(group: GroupScope<'_>) -> Command<UserIdList> {
    Command::new(
        "UserGetListInGroupRequest",
        vec![
            provider(group.service_provider_id),
            // Capital G: the one such spelling in the schema.
            Node::Text("GroupId", group.group_id.to_owned()),
        ],
        |reply| {
            reply
                .table_column("userTable", "User Id")
                .map(UserIdList::from_iter)
                .ok_or_else(|| undecodable("the user list has no `User Id` column"))
        },
    )
}

/// `GroupGetListInServiceProviderRequest`: the IDs of a service provider's groups.
pub(crate) fn groups_of_service_provider(service_provider_id: &str) -> Command<Vec<String>> {
    Command::new(
        "GroupGetListInServiceProviderRequest",
        vec![provider(service_provider_id)],
        |reply| {
            reply
                .table_column("groupTable", "Group Id")
                .ok_or_else(|| undecodable("the group list has no `Group Id` column"))
        },
    )
}

/// `UserAuthenticationGetRequest`: the user exists and has the Authentication service; answers
/// the SIP authentication user name, when given.
pub(crate) fn sip_user_name(user_id: &str) -> Command<Option<String>> {
    Command::new(
        "UserAuthenticationGetRequest",
        vec![user(user_id)],
        |reply| Ok(reply.text_of("userName").map(str::to_owned)),
    )
}

/// `UserServiceGetAssignmentListRequest`: only whether the user exists (its answer shows
/// nothing secret, unlike the passcode read).
pub(crate) fn user_services(user_id: &str) -> Command<()> {
    Command::new(
        "UserServiceGetAssignmentListRequest",
        vec![user(user_id)],
        done,
    )
}

// --- Values ---

/// `PasswordGenerateRequest` for one value of `credential` under the group's rules, and the
/// user's own when `user_id` is given (schema order: `serviceProviderId`, `groupId`, `userId`,
/// the flag). Answers the value, empty when the server sent none (a value of no use).
pub(crate) fn generate_value(
    credential: Credential,
    group: GroupScope<'_>,
    user_id: Option<&str>,
) -> Command<SecretString> {
    let mut part = Vec::from(provider_and_group(group));
    part.extend(user_id.map(user));
    // The request's flag and the answer's element differ by credential.
    let (flag, read): (&'static str, ReadAnswer<SecretString>) = match credential {
        Credential::SipPassword => ("generateSipPassword", |reply| {
            Ok(value_in(reply, "userSIPAuthenticationPassword"))
        }),
        Credential::PortalPasscode => ("generatePasscode", |reply| {
            Ok(value_in(reply, "userPasscode"))
        }),
        Credential::WebPassword => ("generatePassword", |reply| {
            Ok(value_in(reply, "userPassword"))
        }),
    };
    part.push(Node::Text(flag, "true".into()));
    Command::new(
        "PasswordGenerateRequest",
        vec![Node::Group("userPassword", part)],
        read,
    )
}

fn value_in(reply: &Element, name: &str) -> SecretString {
    SecretString::from(reply.text_of(name).unwrap_or_default().to_owned())
}

/// Sets one user's `credential` to `value` (an administrator's change: no old value):
/// `UserAuthenticationModifyRequest`, `UserPortalPasscodeModifyRequest` or
/// `PasswordModifyRequest`.
pub(crate) fn set_credential(
    credential: Credential,
    user_id: &str,
    value: &SecretString,
) -> Command<()> {
    let (type_name, element) = match credential {
        Credential::SipPassword => ("UserAuthenticationModifyRequest", "newPassword"),
        Credential::PortalPasscode => ("UserPortalPasscodeModifyRequest", "newPasscode"),
        Credential::WebPassword => ("PasswordModifyRequest", "newPassword"),
    };
    Command::new(
        type_name,
        vec![user(user_id), Node::Secret(element, value.clone())],
        done,
    )
}

/// `UserAuthenticationModifyRequest` with a new SIP authentication user name and password
/// (schema order: `userId`, `userName`, `newPassword`): both change or neither does.
pub(crate) fn set_sip_credentials(
    user_id: &str,
    user_name: &str,
    password: &SecretString,
) -> Command<()> {
    Command::new(
        "UserAuthenticationModifyRequest",
        vec![
            user(user_id),
            Node::Text("userName", user_name.to_owned()),
            Node::Secret("newPassword", password.clone()),
        ],
        done,
    )
}

// --- Rules, for values made here ---

/// `GroupPasswordRulesGetRequest16`: the group's web password rules.
pub(crate) fn group_password_rules(group: GroupScope<'_>) -> Command<PasswordRules> {
    Command::new(
        "GroupPasswordRulesGetRequest16",
        Vec::from(provider_and_group(group)),
        |reply| Ok(PasswordRules::from_reply(reply)),
    )
}

/// `ServiceProviderSIPAuthenticationPasswordRulesGetRequest`: the provider's SIP rules, `None`
/// unless it says to use them (`useServiceProviderSettings`), when the system's apply.
pub(crate) fn service_provider_sip_rules(
    service_provider_id: &str,
) -> Command<Option<PasswordRules>> {
    Command::new(
        "ServiceProviderSIPAuthenticationPasswordRulesGetRequest",
        vec![provider(service_provider_id)],
        |reply| {
            Ok((reply.flag("useServiceProviderSettings") == Some(true))
                .then(|| PasswordRules::from_reply(reply)))
        },
    )
}

/// `SystemSIPAuthenticationPasswordRulesGetRequest`: the system's SIP rules.
pub(crate) fn system_sip_rules() -> Command<PasswordRules> {
    Command::new(
        "SystemSIPAuthenticationPasswordRulesGetRequest",
        vec![],
        |reply| Ok(PasswordRules::from_reply(reply)),
    )
}

/// Which level's passcode rules a group uses (`useRuleLevel`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PasscodeRuleLevel {
    Group,
    ServiceProvider,
    System,
}

/// `GroupPortalPasscodeRulesGetRequest19`: the group's passcode rules and the level whose
/// rules apply (the group's unless it names another).
pub(crate) fn group_passcode_rules(
    group: GroupScope<'_>,
) -> Command<(PasscodeRuleLevel, PasscodeRules)> {
    Command::new(
        "GroupPortalPasscodeRulesGetRequest19",
        Vec::from(provider_and_group(group)),
        |reply| {
            let level = match reply.text_of("useRuleLevel") {
                Some("System") => PasscodeRuleLevel::System,
                Some("Service Provider") => PasscodeRuleLevel::ServiceProvider,
                _ => PasscodeRuleLevel::Group,
            };
            Ok((level, PasscodeRules::from_reply(reply)))
        },
    )
}

/// `ServiceProviderPortalPasscodeRulesGetRequest19`.
pub(crate) fn service_provider_passcode_rules(service_provider_id: &str) -> Command<PasscodeRules> {
    Command::new(
        "ServiceProviderPortalPasscodeRulesGetRequest19",
        vec![provider(service_provider_id)],
        |reply| Ok(PasscodeRules::from_reply(reply)),
    )
}

/// `SystemPortalPasscodeRulesGetRequest19`.
pub(crate) fn system_passcode_rules() -> Command<PasscodeRules> {
    Command::new("SystemPortalPasscodeRulesGetRequest19", vec![], |reply| {
        Ok(PasscodeRules::from_reply(reply))
    })
}

// --- Devices ---

/// What `UserGetRequest22` says of where a user is and its primary device.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct UserPlace {
    pub(crate) service_provider_id: Option<String>,
    pub(crate) group_id: Option<String>,
    /// The primary device (`accessDeviceEndpoint`), when the user has one.
    pub(crate) primary_device: Option<DeviceSeen>,
}

/// A device as an answer names it: its level (missing or unknown: `Group`), its name and, where
/// the answer says, its type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DeviceSeen {
    pub(crate) level: DeviceLevel,
    pub(crate) name: String,
    pub(crate) device_type: Option<String>,
}

/// `UserGetRequest22`: the user's place and primary device.
pub(crate) fn user_place(user_id: &str) -> Command<UserPlace> {
    Command::new("UserGetRequest22", vec![user(user_id)], |reply| {
        let primary_device = match reply
            .child("accessDeviceEndpoint")
            .and_then(|endpoint| endpoint.child("accessDevice"))
        {
            None => None,
            Some(access) => Some(DeviceSeen {
                level: DeviceLevel::of_answer(access.text_of("deviceLevel")),
                name: access
                    .text_of("deviceName")
                    .filter(|name| !name.is_empty())
                    .ok_or_else(|| undecodable("the user's access device has no `deviceName`"))?
                    .to_owned(),
                device_type: None,
            }),
        };
        Ok(UserPlace {
            service_provider_id: reply.text_of("serviceProviderId").map(str::to_owned),
            group_id: reply.text_of("groupId").map(str::to_owned),
            primary_device,
        })
    })
}

/// `UserSharedCallAppearanceGetRequest21sp1`: the devices where the user is a shared call
/// appearance (rows without a device name left out).
pub(crate) fn shared_call_appearances(user_id: &str) -> Command<Vec<DeviceSeen>> {
    Command::new(
        "UserSharedCallAppearanceGetRequest21sp1",
        vec![user(user_id)],
        |reply| {
            let rows = reply
                .table_rows(
                    "endpointTable",
                    &["Device Level", "Device Name", "Device Type"],
                )
                .ok_or_else(|| {
                    undecodable("the shared call appearances have no `endpointTable`")
                })?;
            let mut devices = Vec::with_capacity(rows.len());
            for row in rows {
                let [level, name, device_type] = <[String; 3]>::try_from(row)
                    .map_err(|_| undecodable("a shared call appearance row is short"))?;
                if !name.is_empty() {
                    devices.push(DeviceSeen {
                        level: DeviceLevel::of_answer(Some(&level)),
                        name,
                        device_type: Some(device_type).filter(|kind| !kind.is_empty()),
                    });
                }
            }
            Ok(devices)
        },
    )
}

fn group_device(group: GroupScope<'_>, device_name: &str) -> Vec<Node> {
    let mut body = Vec::from(provider_and_group(group));
    body.push(Node::Text("deviceName", device_name.to_owned()));
    body
}

/// `GroupAccessDeviceGetRequest18sp1`: a group device's type and whether it registers with its
/// own credentials (`useCustomUserNamePassword`).
pub(crate) fn group_device_facts(group: GroupScope<'_>, device_name: &str) -> Command<DeviceFacts> {
    Command::new(
        "GroupAccessDeviceGetRequest18sp1",
        group_device(group, device_name),
        |reply| {
            Ok(DeviceFacts {
                device_type: reply
                    .text_of("deviceType")
                    .filter(|kind| !kind.is_empty())
                    .map(str::to_owned),
                own_credentials: reply.flag("useCustomUserNamePassword"),
            })
        },
    )
}

/// `GroupCPEConfigRebuildDeviceConfigFileRequest`: rebuilds a group device's files.
pub(crate) fn rebuild_group_device(group: GroupScope<'_>, device_name: &str) -> Command<()> {
    Command::new(
        "GroupCPEConfigRebuildDeviceConfigFileRequest",
        group_device(group, device_name),
        done,
    )
}

/// `GroupCPEConfigResetDeviceRequest`: resets a group device.
pub(crate) fn reset_group_device(group: GroupScope<'_>, device_name: &str) -> Command<()> {
    Command::new(
        "GroupCPEConfigResetDeviceRequest",
        group_device(group, device_name),
        done,
    )
}

/// `UserGetRegistrationListRequest`: the devices a user is registered on (registrations
/// against a TEL URI or without a device left out).
pub(crate) fn registrations(user_id: &str) -> Command<Vec<RegisteredDevice>> {
    Command::new(
        "UserGetRegistrationListRequest",
        vec![user(user_id)],
        registered_devices,
    )
}

/// The devices of one `UserGetRegistrationListResponse`, its columns found by heading.
fn registered_devices(reply: &Element) -> Result<Vec<RegisteredDevice>, Error> {
    let rows = reply
        .table_rows(
            "registrationTable",
            &["Device Level", "Device Name", "Expiration"],
        )
        .ok_or_else(|| undecodable("a registration list has no `registrationTable`"))?;
    let mut devices = Vec::with_capacity(rows.len());
    for row in rows {
        let [level, name, expiration] =
            <[String; 3]>::try_from(row).map_err(|_| undecodable("a registration row is short"))?;
        if name.is_empty() {
            continue;
        }
        devices.push(RegisteredDevice {
            level: DeviceLevel::of_answer(Some(&level)),
            name,
            expiration: Some(expiration).filter(|text| !text.is_empty()),
        });
    }
    Ok(devices)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn element(name: &str, text: &str, children: Vec<Element>) -> Element {
        Element {
            name: name.to_owned().into(),
            text: text.into(),
            children,
            ..Element::default()
        }
    }

    fn table(name: &str, headings: &[&str], rows: &[&[&str]]) -> Element {
        let children: Vec<Element> = headings
            .iter()
            .map(|heading| element("colHeading", heading, vec![]))
            .collect();
        let mut table = element(name, "", children);
        for row in rows {
            table.rows.push_row(row);
        }
        table
    }

    #[test]
    fn a_new_user_name_goes_before_the_password() {
        let command = set_sip_credentials(
            "u1@x",
            "k3v9x2m4q8w1",
            &SecretString::from("Brand-New-Pass7"),
        );
        let bytes = crate::xml::request_document("s1", &[&command.request], true);
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            text.contains(concat!(
                r#"<command xsi:type="UserAuthenticationModifyRequest" xmlns="">"#,
                "<userId>u1@x</userId><userName>k3v9x2m4q8w1</userName>",
                "<newPassword>[redacted]</newPassword></command>"
            )),
            "{text}"
        );
    }

    #[test]
    fn registrations_are_read_by_heading_whatever_the_column_order() {
        let reply = element(
            "command",
            "",
            vec![table(
                "registrationTable",
                &["Expiration", "Order", "Device Name", "URI", "Device Level"],
                &[
                    &[
                        "Tue, 01 Dec 2026 04:00:00 GMT",
                        "1",
                        "phone-1",
                        "sip:x",
                        "Group",
                    ],
                    &["", "2", "", "tel:+1", ""],
                    &["", "1", "sp-phone", "sip:y", "Service Provider"],
                ],
            )],
        );
        let devices = registered_devices(&reply).expect("readable");
        assert_eq!(
            devices,
            vec![
                RegisteredDevice {
                    level: DeviceLevel::Group,
                    name: "phone-1".into(),
                    expiration: Some("Tue, 01 Dec 2026 04:00:00 GMT".into()),
                },
                RegisteredDevice {
                    level: DeviceLevel::ServiceProvider,
                    name: "sp-phone".into(),
                    expiration: None,
                },
            ]
        );
        let missing = element("command", "", vec![]);
        assert!(matches!(
            registered_devices(&missing),
            Err(Error::Decode { .. })
        ));
    }

    #[test]
    fn a_users_primary_device_is_read_with_its_level() {
        let access = element(
            "accessDevice",
            "",
            vec![
                element("deviceLevel", "Service Provider", vec![]),
                element("deviceName", "hall", vec![]),
            ],
        );
        let reply = element(
            "command",
            "",
            vec![
                element("serviceProviderId", "sp", vec![]),
                element("groupId", "g", vec![]),
                element("accessDeviceEndpoint", "", vec![access]),
            ],
        );
        let place = user_place("u@x").answer(&reply).expect("readable");
        assert_eq!(place.group_id.as_deref(), Some("g"));
        let primary = place.primary_device.expect("a primary device");
        assert_eq!(
            (primary.level, primary.name.as_str()),
            (DeviceLevel::ServiceProvider, "hall")
        );
        let nameless = element(
            "command",
            "",
            vec![element(
                "accessDeviceEndpoint",
                "",
                vec![element("accessDevice", "", vec![])],
            )],
        );
        assert!(user_place("u@x").answer(&nameless).is_err());
    }
}
