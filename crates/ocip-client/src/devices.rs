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
    Backend, BackendError, DeviceBackend, DeviceFacts, DeviceId, DeviceRole, ErrorKind, GroupScope,
    UserDevice, UserRegistrations,
};

use crate::backend::read_error;
use crate::commands::{self, DeviceSeen};
use crate::{Error, OcipClient};

impl DeviceBackend for OcipClient {
    async fn user_devices(&self, user: &str) -> Result<Vec<UserDevice>, BackendError> {
        // Both reads wait in the batcher together, so they usually share a document.
        let (profile, appearances) = (
            commands::user_place(user),
            commands::shared_call_appearances(user),
        );
        let (profile, appearances) = tokio::join!(self.read(&profile), self.read(&appearances));
        let profile = profile.map_err(read_error)?;
        let appearances = match appearances {
            Ok(appearances) => appearances,
            // A user without the Shared Call Appearance service appears on no other device.
            Err(error) if crate::backend::kind_of(&error) == ErrorKind::ServiceNotAssigned => {
                Vec::new()
            }
            Err(error) => return Err(read_error(error)),
        };
        // A user's devices are placed by the user's own place.
        let place = |seen: &DeviceSeen| {
            DeviceId::at(
                seen.level,
                profile.service_provider_id.as_deref(),
                profile.group_id.as_deref(),
                seen.name.clone(),
            )
            .ok_or_else(|| undecodable("the user's answer does not say the place of its devices"))
        };
        let mut devices = Vec::new();
        if let Some(primary) = &profile.primary_device {
            let device = place(primary)?;
            let facts = self.device_facts(&device).await?;
            devices.push(UserDevice {
                device,
                role: DeviceRole::Primary,
                device_type: facts.device_type,
                own_credentials: facts.own_credentials,
            });
        }
        for appearance in &appearances {
            let device = place(appearance)?;
            if devices.iter().all(|known| known.device != device) {
                devices.push(UserDevice {
                    device,
                    role: DeviceRole::SharedCallAppearance,
                    device_type: appearance.device_type.clone(),
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
        self.read(&commands::group_device_facts(group, &device.name))
            .await
            .map_err(read_error)
    }

    async fn rebuild_device(&self, device: &DeviceId) -> Result<(), BackendError> {
        let group = device
            .group_scope()
            .ok_or_else(|| not_at_this_level(device, "rebuild"))?;
        self.modify(&commands::rebuild_group_device(group, &device.name))
            .await
            .map_err(BackendError::from)
    }

    async fn reset_device(&self, device: &DeviceId) -> Result<(), BackendError> {
        let group = device
            .group_scope()
            .ok_or_else(|| not_at_this_level(device, "reset"))?;
        self.modify(&commands::reset_group_device(group, &device.name))
            .await
            .map_err(BackendError::from)
    }

    async fn group_registrations(
        &self,
        group: GroupScope<'_>,
    ) -> Result<Vec<UserRegistrations>, BackendError> {
        let users = Backend::group_user_ids(self, group).await?;
        let reads: Vec<_> = users.iter().map(commands::registrations).collect();
        let answers = self.read_many(&reads).await;
        drop(reads);
        let mut registrations = Vec::with_capacity(users.len());
        for (user, answer) in users.iter().zip(answers) {
            let devices = match answer {
                Ok(devices) => devices,
                // Removed since the listing: registered nowhere.
                Err(error) if crate::backend::kind_of(&error) == ErrorKind::UserNotFound => {
                    continue;
                }
                Err(error) => return Err(read_error(error)),
            };
            registrations.push(UserRegistrations {
                devices,
                user_id: user.to_owned(),
            });
        }
        Ok(registrations)
    }
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
