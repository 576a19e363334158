//! The device follow-up over OCI-P: the seam's [`DeviceBackend`] mapped to the device and
//! registration commands of the shared specification (element names from the published
//! schema).
//!
//! | seam operation | OCI-P commands |
//! |---|---|
//! | a user's devices | `UserGetRequest22` (the primary device in `accessDeviceEndpoint`) and `UserSharedCallAppearanceGetRequest21sp1` (its `endpointTable`), sent together; then `GroupAccessDeviceGetRequest18sp1` for a group primary device (its type, `useCustomUserNamePassword`) |
//! | a device's facts | `GroupAccessDeviceGetRequest18sp1` (group devices; the others stay unknown) |
//! | rebuild | `GroupCPEConfigRebuildDeviceConfigFileRequest` |
//! | reset | `GroupCPEConfigResetDeviceRequest` |
//! | a group's registrations | `UserGetListInGroupRequest`, then `UserGetRegistrationListRequest` per user, 15 per document |
//!
//! The service provider and system `CPEConfig` commands are not recorded in the specification:
//! a rebuild or reset of a device at those levels is refused here (the device is reported
//! failed, with the reason), and nothing is sent.

use bwreset_backend::{
    Backend, BackendError, DeviceBackend, DeviceFacts, DeviceId, DeviceLevel, DeviceRole,
    ErrorKind, GroupScope, RegisteredDevice, UserDevice, UserRegistrations,
};

use crate::backend::read_error;
use crate::client::user_id;
use crate::xml::{Element, Node, Request};
use crate::{Error, OcipClient};

/// The columns of `UserSharedCallAppearanceGetResponse21sp1`'s `endpointTable` read here.
const APPEARANCE_COLUMNS: [&str; 3] = ["Device Level", "Device Name", "Device Type"];

/// The columns of `UserGetRegistrationListResponse`'s `registrationTable` read here.
const REGISTRATION_COLUMNS: [&str; 3] = ["Device Level", "Device Name", "Expiration"];

impl DeviceBackend for OcipClient {
    async fn user_devices(&self, user: &str) -> Result<Vec<UserDevice>, BackendError> {
        // Both reads wait in the batcher together, so they usually share a document.
        let (profile, appearances) = tokio::join!(
            self.read(|| Request::new("UserGetRequest22", vec![user_id(user)])),
            self.read(|| Request::new(
                "UserSharedCallAppearanceGetRequest21sp1",
                vec![user_id(user)]
            )),
        );
        let profile = profile.map_err(read_error)?;
        let appearances = match appearances {
            Ok(reply) => Some(reply),
            // A user without the Shared Call Appearance service appears on no other device.
            Err(error) if crate::backend::kind_of(&error) == ErrorKind::ServiceNotAssigned => None,
            Err(error) => return Err(read_error(error)),
        };
        let (service_provider_id, group_id) = (
            profile.text_of("serviceProviderId"),
            profile.text_of("groupId"),
        );
        let place = |level: Option<&str>, name: String| {
            DeviceId::at(
                DeviceLevel::of_answer(level),
                service_provider_id,
                group_id,
                name,
            )
            .ok_or_else(|| undecodable("the user's answer does not say the place of its devices"))
        };
        let mut devices = Vec::new();
        if let Some(access) = profile
            .child("accessDeviceEndpoint")
            .and_then(|endpoint| endpoint.child("accessDevice"))
        {
            let name = access
                .text_of("deviceName")
                .filter(|name| !name.is_empty())
                .ok_or_else(|| undecodable("the user's access device has no `deviceName`"))?;
            let device = place(access.text_of("deviceLevel"), name.to_owned())?;
            let facts = self.device_facts(&device).await?;
            devices.push(UserDevice {
                device,
                role: DeviceRole::Primary,
                device_type: facts.device_type,
                own_credentials: facts.own_credentials,
            });
        }
        let rows = match &appearances {
            Some(reply) => reply
                .table_rows("endpointTable", &APPEARANCE_COLUMNS)
                .ok_or_else(|| {
                    undecodable("the shared call appearances have no `endpointTable`")
                })?,
            None => Vec::new(),
        };
        for row in rows {
            let [level, name, device_type] = <[String; 3]>::try_from(row)
                .map_err(|_| undecodable("a shared call appearance row is short"))?;
            if name.is_empty() {
                continue;
            }
            let device = place(Some(&level), name)?;
            if devices.iter().all(|known| known.device != device) {
                devices.push(UserDevice {
                    device,
                    role: DeviceRole::SharedCallAppearance,
                    device_type: Some(device_type).filter(|kind| !kind.is_empty()),
                    own_credentials: None,
                });
            }
        }
        Ok(devices)
    }

    async fn device_facts(&self, device: &DeviceId) -> Result<DeviceFacts, BackendError> {
        let Some(group) = device.group_scope() else {
            // No read of a service provider or system device is recorded: unknown.
            return Ok(DeviceFacts::default());
        };
        let reply = self
            .read(|| group_device_request("GroupAccessDeviceGetRequest18sp1", group, device))
            .await
            .map_err(read_error)?;
        Ok(DeviceFacts {
            device_type: reply
                .text_of("deviceType")
                .filter(|kind| !kind.is_empty())
                .map(str::to_owned),
            own_credentials: reply.flag("useCustomUserNamePassword"),
        })
    }

    async fn rebuild_device(&self, device: &DeviceId) -> Result<(), BackendError> {
        let group = device
            .group_scope()
            .ok_or_else(|| not_at_this_level(device, "rebuild"))?;
        self.modify(|| {
            group_device_request(
                "GroupCPEConfigRebuildDeviceConfigFileRequest",
                group,
                device,
            )
        })
        .await
        .map(drop)
        .map_err(BackendError::from)
    }

    async fn reset_device(&self, device: &DeviceId) -> Result<(), BackendError> {
        let group = device
            .group_scope()
            .ok_or_else(|| not_at_this_level(device, "reset"))?;
        self.modify(|| group_device_request("GroupCPEConfigResetDeviceRequest", group, device))
            .await
            .map(drop)
            .map_err(BackendError::from)
    }

    async fn group_registrations(
        &self,
        group: GroupScope<'_>,
    ) -> Result<Vec<UserRegistrations>, BackendError> {
        let users = Backend::group_user_ids(self, group).await?;
        let requests = users
            .iter()
            .map(|user| Request::new("UserGetRegistrationListRequest", vec![user_id(user)]))
            .collect();
        let answers = self.read_many(requests).await;
        let mut registrations = Vec::with_capacity(users.len());
        for (user, answer) in users.iter().zip(answers) {
            let reply = match answer {
                Ok(reply) => reply,
                // Removed since the listing: registered nowhere.
                Err(error) if crate::backend::kind_of(&error) == ErrorKind::UserNotFound => {
                    continue;
                }
                Err(error) => return Err(read_error(error)),
            };
            registrations.push(UserRegistrations {
                devices: registered_devices(&reply)?,
                user_id: user.to_owned(),
            });
        }
        Ok(registrations)
    }
}

/// The devices of one `UserGetRegistrationListResponse`.
fn registered_devices(reply: &Element) -> Result<Vec<RegisteredDevice>, BackendError> {
    let rows = reply
        .table_rows("registrationTable", &REGISTRATION_COLUMNS)
        .ok_or_else(|| undecodable("a registration list has no `registrationTable`"))?;
    let mut devices = Vec::with_capacity(rows.len());
    for row in rows {
        let [level, name, expiration] =
            <[String; 3]>::try_from(row).map_err(|_| undecodable("a registration row is short"))?;
        if name.is_empty() {
            // A registration against a TEL URI or without a device: no phone to watch.
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

/// A command naming a group device: `serviceProviderId`, `groupId`, `deviceName`.
fn group_device_request(
    type_name: &'static str,
    group: GroupScope<'_>,
    device: &DeviceId,
) -> Request {
    Request::new(
        type_name,
        vec![
            Node::Text("serviceProviderId", group.service_provider_id.to_owned()),
            Node::Text("groupId", group.group_id.to_owned()),
            Node::Text("deviceName", device.name.clone()),
        ],
    )
}

fn undecodable(message: &str) -> BackendError {
    read_error(Error::Decode {
        message: message.to_owned(),
    })
}

/// A rebuild or reset of a service provider or system device: no command for it is recorded,
/// so nothing is sent and the device is reported failed with this reason.
fn not_at_this_level(device: &DeviceId, action: &str) -> BackendError {
    let message = format!(
        "cannot {action} the {} device `{device}` over OCI-P: only group devices have a recorded {action} command; {action} it from the server's own tools",
        device.level()
    );
    BackendError::new(
        ErrorKind::Refused,
        Some(message.clone()),
        Error::Config { message },
    )
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
        assert_eq!(
            registered_devices(&missing).expect_err("no table").kind(),
            ErrorKind::Ambiguous
        );
    }

    #[test]
    fn only_group_devices_are_rebuilt_or_reset() {
        let device = DeviceId::service_provider("sp", "hall");
        let refusal = not_at_this_level(&device, "reset");
        assert_eq!(refusal.kind(), ErrorKind::Refused);
        assert!(
            refusal
                .reason()
                .contains("Service Provider device `sp/hall`")
        );
    }
}
