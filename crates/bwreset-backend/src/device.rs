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

    /// A device's level as a server's answer gives it: a missing or unknown one is read as
    /// `Group`, the level of nearly every phone (both clients read answers so).
    pub fn of_answer(text: Option<&str>) -> DeviceLevel {
        text.and_then(DeviceLevel::parse)
            .unwrap_or(DeviceLevel::Group)
    }
}

impl fmt::Display for DeviceLevel {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// Where a device is defined: a group, a service provider (or enterprise), or the system. Each
/// place holds exactly the IDs that name it, so a `Group` device without its group cannot be
/// written down.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DevicePlace {
    /// A group of a service provider.
    Group {
        /// The service provider (or enterprise).
        service_provider_id: String,
        /// The group.
        group_id: String,
    },
    /// A service provider (or enterprise).
    ServiceProvider {
        /// The service provider.
        service_provider_id: String,
    },
    /// The system.
    System,
}

/// One device: the place that defines it and its name (unique at that place).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeviceId {
    /// Where the device is defined, which says which rebuild and reset requests reach it.
    pub place: DevicePlace,
    /// The device's name, unique at its place.
    pub name: String,
}

impl DeviceId {
    /// A device of a group.
    pub fn group(
        service_provider_id: impl Into<String>,
        group_id: impl Into<String>,
        name: impl Into<String>,
    ) -> DeviceId {
        DeviceId {
            place: DevicePlace::Group {
                service_provider_id: service_provider_id.into(),
                group_id: group_id.into(),
            },
            name: name.into(),
        }
    }

    /// A device of a service provider (or enterprise).
    pub fn service_provider(
        service_provider_id: impl Into<String>,
        name: impl Into<String>,
    ) -> DeviceId {
        DeviceId {
            place: DevicePlace::ServiceProvider {
                service_provider_id: service_provider_id.into(),
            },
            name: name.into(),
        }
    }

    /// A device of the system.
    pub fn system(name: impl Into<String>) -> DeviceId {
        DeviceId {
            place: DevicePlace::System,
            name: name.into(),
        }
    }

    /// The device named `name` at `level`, placed by the IDs at hand (a journal record's, or a
    /// user's own place for the devices that carry the user: a user's `Group` device is of the
    /// user's group). IDs the level does not need are ignored; `None` when one it needs is
    /// missing.
    pub fn at(
        level: DeviceLevel,
        service_provider_id: Option<&str>,
        group_id: Option<&str>,
        name: impl Into<String>,
    ) -> Option<DeviceId> {
        Some(match level {
            DeviceLevel::Group => DeviceId::group(service_provider_id?, group_id?, name),
            DeviceLevel::ServiceProvider => DeviceId::service_provider(service_provider_id?, name),
            DeviceLevel::System => DeviceId::system(name),
        })
    }

    /// Where the device is defined, as a level.
    pub fn level(&self) -> DeviceLevel {
        match self.place {
            DevicePlace::Group { .. } => DeviceLevel::Group,
            DevicePlace::ServiceProvider { .. } => DeviceLevel::ServiceProvider,
            DevicePlace::System => DeviceLevel::System,
        }
    }

    /// The service provider of a `Group` or `Service Provider` device.
    pub fn service_provider_id(&self) -> Option<&str> {
        match &self.place {
            DevicePlace::Group {
                service_provider_id,
                ..
            }
            | DevicePlace::ServiceProvider {
                service_provider_id,
            } => Some(service_provider_id),
            DevicePlace::System => None,
        }
    }

    /// The group of a `Group` device.
    pub fn group_id(&self) -> Option<&str> {
        match &self.place {
            DevicePlace::Group { group_id, .. } => Some(group_id),
            _ => None,
        }
    }

    /// The group of a `Group` device (`None` for the other places).
    pub fn group_scope(&self) -> Option<GroupScope<'_>> {
        match &self.place {
            DevicePlace::Group {
                service_provider_id,
                group_id,
            } => Some(GroupScope {
                service_provider_id,
                group_id,
            }),
            _ => None,
        }
    }
}

impl fmt::Display for DeviceId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.place {
            DevicePlace::Group {
                service_provider_id,
                group_id,
            } => write!(formatter, "{service_provider_id}/{group_id}/{}", self.name),
            DevicePlace::ServiceProvider {
                service_provider_id,
            } => write!(formatter, "{service_provider_id}/{}", self.name),
            DevicePlace::System => write!(formatter, "system/{}", self.name),
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
        assert_eq!(
            DeviceId::group("sp", "g", "phone").to_string(),
            "sp/g/phone"
        );
        assert_eq!(
            DeviceId::service_provider("sp", "phone").to_string(),
            "sp/phone"
        );
        assert_eq!(DeviceId::system("phone").to_string(), "system/phone");
    }

    #[test]
    fn a_device_is_placed_by_its_level_with_the_ids_it_needs() {
        let (provider, group) = (Some("sp"), Some("g"));
        let placed = |level| DeviceId::at(level, provider, group, "phone");
        let at_group = placed(DeviceLevel::Group).expect("placed");
        assert_eq!(at_group, DeviceId::group("sp", "g", "phone"));
        assert_eq!(at_group.level(), DeviceLevel::Group);
        let scope = at_group.group_scope().expect("a group device");
        assert_eq!((scope.service_provider_id, scope.group_id), ("sp", "g"));
        let at_provider = placed(DeviceLevel::ServiceProvider).expect("placed");
        assert_eq!(at_provider.group_id(), None);
        assert_eq!(at_provider.service_provider_id(), Some("sp"));
        assert!(at_provider.group_scope().is_none());
        let at_system = placed(DeviceLevel::System).expect("placed");
        assert_eq!(at_system.service_provider_id(), None);
        assert_eq!(at_system.level(), DeviceLevel::System);
        // A group device needs its group.
        assert_eq!(DeviceId::at(DeviceLevel::Group, provider, None, "x"), None);
        assert_eq!(
            DeviceId::at(DeviceLevel::ServiceProvider, None, group, "x"),
            None
        );
    }

    #[test]
    fn a_level_missing_from_an_answer_is_a_group() {
        assert_eq!(
            DeviceLevel::of_answer(Some("Service Provider")),
            DeviceLevel::ServiceProvider
        );
        assert_eq!(DeviceLevel::of_answer(Some("System")), DeviceLevel::System);
        assert_eq!(DeviceLevel::of_answer(Some("Cluster")), DeviceLevel::Group);
        assert_eq!(DeviceLevel::of_answer(None), DeviceLevel::Group);
    }
}
