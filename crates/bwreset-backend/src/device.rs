//! The device operations of the seam: what the device follow-up of a SIP reset needs of a
//! server (the phones that carry a user, rebuild, reset, and registrations).

use std::fmt;
use std::future::Future;

use crate::{Backend, BackendError, GroupScope};

/// Where a device is defined, which says which rebuild and reset requests reach it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DeviceLevel {
    /// A device of one group.
    Group,
    /// A device of a service provider (or enterprise).
    ServiceProvider,
    /// A device of the system.
    System,
}

impl DeviceLevel {
    /// The level as BroadWorks writes it: `Group`, `Service Provider`, `System`.
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceLevel::Group => "Group",
            DeviceLevel::ServiceProvider => "Service Provider",
            DeviceLevel::System => "System",
        }
    }

    /// Reads a level as BroadWorks writes it (case and blanks ignored); `None` for anything
    /// else.
    pub fn parse(text: &str) -> Option<DeviceLevel> {
        let squeezed: String = text
            .chars()
            .filter(|character| !character.is_whitespace())
            .collect::<String>()
            .to_ascii_lowercase();
        match squeezed.as_str() {
            "group" => Some(DeviceLevel::Group),
            "serviceprovider" | "enterprise" => Some(DeviceLevel::ServiceProvider),
            "system" => Some(DeviceLevel::System),
            _ => None,
        }
    }
}

impl fmt::Display for DeviceLevel {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// One device: its level, the place that defines it and its name. A `Group` device has both a
/// service provider and a group, a `Service Provider` device a service provider only, a
/// `System` device neither.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeviceId {
    /// Where the device is defined.
    pub level: DeviceLevel,
    /// The service provider of a `Group` or `Service Provider` device.
    pub service_provider_id: Option<String>,
    /// The group of a `Group` device.
    pub group_id: Option<String>,
    /// The device's name, unique at its place.
    pub name: String,
}

impl fmt::Display for DeviceId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.service_provider_id, &self.group_id) {
            (Some(provider), Some(group)) => write!(formatter, "{provider}/{group}/{}", self.name),
            (Some(provider), None) => write!(formatter, "{provider}/{}", self.name),
            _ => write!(formatter, "system/{}", self.name),
        }
    }
}

/// How a device carries a user.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceRole {
    /// The user's primary device (its first line).
    Primary,
    /// A shared call appearance of the user.
    SharedCallAppearance,
}

/// A device that registers with a user's SIP credentials, as seen from the user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserDevice {
    /// The device.
    pub device: DeviceId,
    /// How it carries the user.
    pub role: DeviceRole,
    /// The device type, when the server said (it does for a primary device).
    pub device_type: Option<String>,
    /// Whether the device registers with credentials of its own, when the server said (it does
    /// for a primary device). Such a device holds no user's SIP password.
    pub own_credentials: Option<bool>,
}

/// What a backend can learn about a device seen only as a shared call appearance.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeviceFacts {
    /// The device type, if found.
    pub device_type: Option<String>,
    /// Whether it registers with its own credentials, if found.
    pub own_credentials: Option<bool>,
}

/// A device a user is registered on now, as a registration read names it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RegisteredDevice {
    /// The device's level.
    pub level: DeviceLevel,
    /// The device's name.
    pub name: String,
    /// When the registration expires, as the server wrote it (`None`: not given). It is
    /// renewed each time the device registers, so a changed value means a new registration.
    pub expiration: Option<String>,
}

/// One user's registrations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserRegistrations {
    /// The user.
    pub user_id: String,
    /// The devices the user is registered on now (empty: registered nowhere).
    pub devices: Vec<RegisteredDevice>,
}

/// The device operations of a server, for the follow-up of a SIP password reset: a phone keeps
/// the old password until its configuration file is rebuilt and it is reset.
///
/// A separate trait from [`Backend`], so that a backend without device support is known at
/// compile time. As for [`Backend`], each method is one logical request (see each method for
/// its cost on the wire, which is the backend's), refusals come as [`BackendError`]s whose
/// [`crate::ErrorKind`] says what they mean (a device that does not exist or cannot be reset is
/// [`crate::ErrorKind::Refused`]), and the rebuild and reset are retried inside the backend
/// only where the server certainly did not process them.
pub trait DeviceBackend: Backend {
    /// The devices that register with `user_id`'s SIP credentials: the primary device (with its
    /// type and whether it uses its own credentials) and the shared call appearances (where the
    /// server may not say either). Changes nothing.
    fn user_devices(
        &self,
        user_id: &str,
    ) -> impl Future<Output = Result<Vec<UserDevice>, BackendError>> + Send;

    /// What can be learned of a device seen only as a shared call appearance (its type, whether
    /// it uses its own credentials); fields the server cannot tell stay `None`. Changes nothing.
    fn device_facts(
        &self,
        device: &DeviceId,
    ) -> impl Future<Output = Result<DeviceFacts, BackendError>> + Send;

    /// Rebuilds the device's configuration files (with the current credentials of its users).
    fn rebuild_device(
        &self,
        device: &DeviceId,
    ) -> impl Future<Output = Result<(), BackendError>> + Send;

    /// Resets the device: it drops its registrations, fetches its file and registers again.
    fn reset_device(
        &self,
        device: &DeviceId,
    ) -> impl Future<Output = Result<(), BackendError>> + Send;

    /// The registrations of every user of a group (in as few requests as the backend can; the
    /// cost is the backend's). Changes nothing.
    fn group_registrations(
        &self,
        group: GroupScope<'_>,
    ) -> impl Future<Output = Result<Vec<UserRegistrations>, BackendError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_read_as_broadworks_writes_them() {
        for level in [
            DeviceLevel::Group,
            DeviceLevel::ServiceProvider,
            DeviceLevel::System,
        ] {
            assert_eq!(DeviceLevel::parse(level.as_str()), Some(level));
        }
        assert_eq!(
            DeviceLevel::parse(" service provider "),
            Some(DeviceLevel::ServiceProvider)
        );
        assert_eq!(
            DeviceLevel::parse("Enterprise"),
            Some(DeviceLevel::ServiceProvider)
        );
        assert_eq!(DeviceLevel::parse("User"), None);
    }

    #[test]
    fn a_device_displays_with_its_place() {
        let mut device = DeviceId {
            level: DeviceLevel::Group,
            service_provider_id: Some("sp".into()),
            group_id: Some("g".into()),
            name: "phone".into(),
        };
        assert_eq!(device.to_string(), "sp/g/phone");
        device.group_id = None;
        assert_eq!(device.to_string(), "sp/phone");
        device.service_provider_id = None;
        assert_eq!(device.to_string(), "system/phone");
    }
}
