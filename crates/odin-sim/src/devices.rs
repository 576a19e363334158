//! Devices and their registrations: the fixture shape of a device, the live devices of the
//! world, and the operations on them (rebuild, reset and the reboot after it, reads of devices
//! and registrations) that every front of the simulator calls.
//!
//! A device's configuration file is "current" when it was built after the last SIP password
//! change of every user it carries. Rather than marking files stale from the SIP setter, each
//! line remembers how many SIP changes its user had when the file was last built; a file is
//! stale as soon as that count differs from the user's. So whatever front changes a password
//! (REST today, OCI-P later), the devices notice without being told.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rand::Rng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::state::{SimState, lock, seeded_rng};
use crate::world::{User, World, WorldSpec};

/// The device type a fixture's device gets when it names none.
pub const DEFAULT_DEVICE_TYPE: &str = "Generic SIP Phone";

/// How long a reset device takes to come back by default.
pub const DEFAULT_REBOOT: Duration = Duration::from_millis(1500);

/// Salt that gives the choice of offline devices its own stream of the seed.
pub(crate) const DEVICE_STREAM: u64 = 0x6465_7669_6365;

/// How long a registration lasts, from the moment the device registered (its `expiration`).
const REGISTRATION_LIFETIME: Duration = Duration::from_secs(3600);

/// Where a device is defined, which decides who may use it and which rebuild and reset calls
/// reach it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DeviceLevel {
    #[default]
    #[serde(rename = "Group")]
    Group,
    #[serde(rename = "Service Provider")]
    ServiceProvider,
    #[serde(rename = "System")]
    System,
}

impl DeviceLevel {
    /// The name Odin uses: `Group`, `Service Provider` or `System`.
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceLevel::Group => "Group",
            DeviceLevel::ServiceProvider => "Service Provider",
            DeviceLevel::System => "System",
        }
    }
}

/// A device in the fixture, inside the group that declares it. A `Service Provider` device
/// belongs to that group's service provider, a `System` device to the whole system.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DeviceSpec {
    pub device_name: String,
    /// Left out: `Generic SIP Phone`.
    #[serde(default = "default_device_type")]
    pub device_type: String,
    /// Left out: `Group`.
    #[serde(default)]
    pub device_level: DeviceLevel,
    /// The device registers with credentials of its own, not its users' SIP credentials.
    #[serde(default)]
    pub use_custom_user_name_password: bool,
    /// Left out: true. A device that does not support it answers a reset with an error.
    #[serde(default = "yes")]
    pub supports_reset: bool,
    /// The users it carries: the first is its primary user, the others are shared call
    /// appearances.
    pub lines: Vec<String>,
}

fn default_device_type() -> String {
    DEFAULT_DEVICE_TYPE.to_owned()
}

fn yes() -> bool {
    true
}

impl DeviceSpec {
    /// A `Generic SIP Phone` at group level whose only line is `user_id`.
    pub fn phone(device_name: impl Into<String>, user_id: impl Into<String>) -> Self {
        DeviceSpec {
            device_name: device_name.into(),
            device_type: default_device_type(),
            device_level: DeviceLevel::Group,
            use_custom_user_name_password: false,
            supports_reset: true,
            lines: vec![user_id.into()],
        }
    }
}

/// How devices behave after a reset.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DeviceSettings {
    /// How long a reset device takes to register again (if its file is current by then).
    /// Zero: at once, within the reset request.
    pub reboot: Duration,
    /// The fraction of devices (0 to 1, chosen with the seed) that never come back after a
    /// reset.
    pub offline_fraction: f64,
}

impl Default for DeviceSettings {
    fn default() -> Self {
        DeviceSettings {
            reboot: DEFAULT_REBOOT,
            offline_fraction: 0.0,
        }
    }
}

/// Parses `--offline-devices`: a fraction between 0 and 1.
pub(crate) fn parse_fraction(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(value) if (0.0..=1.0).contains(&value) => Ok(value),
        _ => Err(format!("`{text}` is not a fraction between 0 and 1")),
    }
}

/// Which device a call names: its place and its name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceRef {
    pub place: DevicePlace,
    pub device_name: String,
}

/// Where a device call looks for the device: the three levels of the rebuild and reset calls.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DevicePlace {
    Group {
        service_provider_id: String,
        group_id: String,
    },
    ServiceProvider {
        service_provider_id: String,
    },
    System,
}

/// Why a device operation was refused. [`DeviceError::details`] is the BroadWorks-style text
/// the REST front answers with.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DeviceError {
    #[error("service provider not found: {0}")]
    UnknownServiceProvider(String),
    #[error("group not found: {group_id} in {service_provider_id}")]
    UnknownGroup {
        service_provider_id: String,
        group_id: String,
    },
    #[error("user not found: {0}")]
    UnknownUser(String),
    #[error("device not found: {device_name} in {place}")]
    UnknownDevice { device_name: String, place: String },
    #[error("device does not support reset: {0}")]
    ResetNotSupported(String),
}

impl DeviceError {
    /// The `details` text of an error answer, with its BroadWorks-style error number.
    pub fn details(&self) -> String {
        match self {
            DeviceError::UnknownServiceProvider(id) => {
                format!("[Error 4006] Service provider not found: {id}")
            }
            DeviceError::UnknownGroup {
                service_provider_id,
                group_id,
            } => format!("[Error 4007] Group not found: {group_id} in {service_provider_id}"),
            DeviceError::UnknownUser(id) => format!("[Error 4008] User not found: {id}"),
            DeviceError::UnknownDevice { device_name, place } => {
                format!("[Error 4010] Device not found: {device_name} in {place}")
            }
            DeviceError::ResetNotSupported(name) => {
                format!("[Error 4011] Device does not support reset: {name}")
            }
        }
    }
}

/// Where a live device is defined.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Scope {
    Group(usize),
    ServiceProvider(usize),
    System,
}

/// Whether a device is registered now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RegistrationState {
    Registered,
    /// Reset and not back yet.
    Rebooting,
    /// Came back from a reset unable to register (stale file) or never came back (offline).
    Unregistered,
}

/// One line of a device: a user, the line port, and how many SIP changes (user name or password)
/// the user had when the device's file was last built.
#[derive(Clone, Debug)]
pub(crate) struct Line {
    pub user: usize,
    pub line_port: String,
    pub built_with: u64,
}

#[derive(Clone, Debug)]
pub(crate) struct Device {
    pub name: String,
    pub device_type: String,
    pub scope: Scope,
    pub custom_credentials: bool,
    pub supports_reset: bool,
    /// The primary user's line first, then the shared call appearances.
    pub lines: Vec<Line>,
    pub rebuilds: u64,
    pub resets: u64,
    pub offline: bool,
    pub state: RegistrationState,
    /// When the device last registered: its registrations' `expiration` is this plus the
    /// registration lifetime, so a new registration shows as a new expiration.
    pub registered_at: SystemTime,
    /// Counts resets, so that the reboot of an earlier reset does nothing once a later one came.
    reboot_generation: u64,
}

impl Device {
    pub(crate) fn level(&self) -> DeviceLevel {
        match self.scope {
            Scope::Group(_) => DeviceLevel::Group,
            Scope::ServiceProvider(_) => DeviceLevel::ServiceProvider,
            Scope::System => DeviceLevel::System,
        }
    }

    /// True when the file holds the current SIP credentials of every line (always for a device
    /// with credentials of its own).
    pub(crate) fn config_current(&self, users: &[User]) -> bool {
        self.custom_credentials
            || self
                .lines
                .iter()
                .all(|line| users[line.user].sip_generation() == line.built_with)
    }
}

/// The devices of the world, with the indexes the calls need.
#[derive(Clone, Debug, Default)]
pub(crate) struct Devices {
    pub list: Vec<Device>,
    by_name: HashMap<(Scope, String), usize>,
    /// For each user (by index), the devices that carry it (its primary device first).
    carrying: Vec<Vec<usize>>,
    reboot: Duration,
}

/// Checks the devices of a fixture: known users, each where the device's level allows it, no
/// duplicate names in one place, no user twice on a device or primary on two.
pub(crate) fn validate(spec: &WorldSpec) -> Result<(), String> {
    // userId -> (service provider, group) positions, for the placement checks.
    let mut home: HashMap<&str, (usize, usize)> = HashMap::new();
    for (sp_index, service_provider) in spec.service_providers.iter().enumerate() {
        for (group_index, group) in service_provider.groups.iter().enumerate() {
            for user in &group.users {
                home.insert(user.user_id.as_str(), (sp_index, group_index));
            }
        }
    }
    let mut names: HashSet<(DeviceLevel, usize, usize, &str)> = HashSet::new();
    let mut primary_of: HashMap<&str, &str> = HashMap::new();
    // Reused from device to device: one allocation, not one per device.
    let mut on_device: HashSet<&str> = HashSet::new();
    for (sp_index, service_provider) in spec.service_providers.iter().enumerate() {
        let sp_id = &service_provider.service_provider_id;
        for (group_index, group) in service_provider.groups.iter().enumerate() {
            let place = format!("{sp_id}/{}", group.group_id);
            for device in &group.devices {
                let name = device.device_name.as_str();
                if name.trim().is_empty() || name.chars().any(char::is_control) {
                    return Err(format!("{place}: invalid deviceName `{name}`"));
                }
                if device.device_type.trim().is_empty() {
                    return Err(format!("{place}: device `{name}`: empty deviceType"));
                }
                let (key, scope_text) = match device.device_level {
                    DeviceLevel::Group => (
                        (DeviceLevel::Group, sp_index, group_index, name),
                        format!("group {place}"),
                    ),
                    DeviceLevel::ServiceProvider => (
                        (DeviceLevel::ServiceProvider, sp_index, 0, name),
                        format!("service provider {sp_id}"),
                    ),
                    DeviceLevel::System => {
                        ((DeviceLevel::System, 0, 0, name), "the system".to_owned())
                    }
                };
                if !names.insert(key) {
                    return Err(format!(
                        "{place}: duplicate deviceName `{name}` ({} devices of {scope_text})",
                        device.device_level.as_str()
                    ));
                }
                if device.lines.is_empty() {
                    return Err(format!(
                        "{place}: device `{name}` has no lines (list its users in `lines`)"
                    ));
                }
                on_device.clear();
                for user_id in &device.lines {
                    let Some(&(user_sp, user_group)) = home.get(user_id.as_str()) else {
                        return Err(format!(
                            "{place}: device `{name}`: unknown user `{user_id}` in lines"
                        ));
                    };
                    if !on_device.insert(user_id.as_str()) {
                        return Err(format!(
                            "{place}: device `{name}` lists user `{user_id}` twice"
                        ));
                    }
                    let allowed = match device.device_level {
                        DeviceLevel::Group => (user_sp, user_group) == (sp_index, group_index),
                        DeviceLevel::ServiceProvider => user_sp == sp_index,
                        DeviceLevel::System => true,
                    };
                    if !allowed {
                        return Err(format!(
                            "{place}: device `{name}`: user `{user_id}` is outside {scope_text}, \
                             where this {} device can be used (declare the device at a higher \
                             deviceLevel, or in the user's group)",
                            device.device_level.as_str()
                        ));
                    }
                }
                let primary = device.lines[0].as_str();
                if let Some(other) = primary_of.insert(primary, name) {
                    return Err(format!(
                        "{place}: user `{primary}` is the first line (primary user) of both \
                         `{other}` and `{name}`; a user has one primary device, other devices \
                         list it after their first line (a shared call appearance)"
                    ));
                }
            }
        }
    }
    Ok(())
}

impl Devices {
    /// Builds the live devices of a checked spec, once the world's users exist. Every device
    /// starts registered, its file built with its users' current credentials.
    pub(crate) fn build(spec: &WorldSpec, world: &World) -> Devices {
        let mut devices = Devices {
            reboot: DEFAULT_REBOOT,
            carrying: vec![Vec::new(); world.users.len()],
            ..Devices::default()
        };
        // How many shared call appearances each user has so far, to number their line ports.
        let mut appearances: HashMap<usize, usize> = HashMap::new();
        let mut group_index = 0;
        for (sp_index, service_provider) in spec.service_providers.iter().enumerate() {
            for group in &service_provider.groups {
                for device in &group.devices {
                    let scope = match device.device_level {
                        DeviceLevel::Group => Scope::Group(group_index),
                        DeviceLevel::ServiceProvider => Scope::ServiceProvider(sp_index),
                        DeviceLevel::System => Scope::System,
                    };
                    let lines = device
                        .lines
                        .iter()
                        .enumerate()
                        .filter_map(|(position, user_id)| {
                            let user = world.user(user_id)?;
                            let line_port = if position == 0 {
                                user_id.clone()
                            } else {
                                let count = appearances.entry(user).or_default();
                                *count += 1;
                                shared_line_port(user_id, *count)
                            };
                            Some(Line {
                                user,
                                line_port,
                                built_with: world.users[user].sip_generation(),
                            })
                        })
                        .collect::<Vec<_>>();
                    let index = devices.list.len();
                    for (position, line) in lines.iter().enumerate() {
                        // A user's primary device comes first in its list.
                        let carrying = &mut devices.carrying[line.user];
                        if position == 0 {
                            carrying.insert(0, index);
                        } else {
                            carrying.push(index);
                        }
                    }
                    devices
                        .by_name
                        .insert((scope, device.device_name.clone()), index);
                    devices.list.push(Device {
                        name: device.device_name.clone(),
                        device_type: device.device_type.clone(),
                        scope,
                        custom_credentials: device.use_custom_user_name_password,
                        supports_reset: device.supports_reset,
                        lines,
                        rebuilds: 0,
                        resets: 0,
                        offline: false,
                        state: RegistrationState::Registered,
                        registered_at: SystemTime::now(),
                        reboot_generation: 0,
                    });
                }
                group_index += 1;
            }
        }
        devices
    }

    /// Applies the settings: the reboot time, and which devices (`offline_fraction` of them,
    /// rounded, chosen with `rng`) never come back after a reset.
    pub(crate) fn configure(&mut self, settings: DeviceSettings, rng: &mut impl Rng) {
        self.reboot = settings.reboot;
        let count = (settings.offline_fraction * self.list.len() as f64).round() as usize;
        let mut order: Vec<usize> = (0..self.list.len()).collect();
        order.shuffle(rng);
        for &index in order.iter().take(count) {
            self.list[index].offline = true;
        }
    }

    /// The devices that carry a user, its primary device first.
    pub(crate) fn carrying(&self, user: usize) -> &[usize] {
        self.carrying.get(user).map_or(&[], Vec::as_slice)
    }
}

/// The line port of a user's `count`-th shared call appearance: `ann_1@acme.example`, ...
fn shared_line_port(user_id: &str, count: usize) -> String {
    match user_id.split_once('@') {
        Some((local, domain)) => format!("{local}_{count}@{domain}"),
        None => format!("{user_id}_{count}"),
    }
}

impl World {
    /// Finds the device a call names.
    pub(crate) fn find_device(&self, device: &DeviceRef) -> Result<usize, DeviceError> {
        let (scope, place) = match &device.place {
            DevicePlace::Group {
                service_provider_id,
                group_id,
            } => {
                let group = self
                    .group(service_provider_id, group_id)
                    .map_err(|error| scope_error(error, service_provider_id, Some(group_id)))?;
                (
                    Scope::Group(group),
                    format!("{service_provider_id}/{group_id}"),
                )
            }
            DevicePlace::ServiceProvider {
                service_provider_id,
            } => {
                let sp = self
                    .service_provider_index
                    .get(service_provider_id)
                    .copied()
                    .ok_or_else(|| {
                        DeviceError::UnknownServiceProvider(service_provider_id.clone())
                    })?;
                (Scope::ServiceProvider(sp), service_provider_id.clone())
            }
            DevicePlace::System => (Scope::System, "the system".to_owned()),
        };
        self.devices
            .by_name
            .get(&(scope, device.device_name.clone()))
            .copied()
            .ok_or_else(|| DeviceError::UnknownDevice {
                device_name: device.device_name.clone(),
                place,
            })
    }

    /// The service provider and group a device is defined in, as far as its level has them.
    pub(crate) fn device_place(&self, device: &Device) -> (Option<&str>, Option<&str>) {
        match device.scope {
            Scope::Group(group) => {
                let group = &self.groups[group];
                (
                    Some(
                        self.service_providers[group.service_provider]
                            .service_provider_id
                            .as_str(),
                    ),
                    Some(group.group_id.as_str()),
                )
            }
            Scope::ServiceProvider(sp) => (
                Some(self.service_providers[sp].service_provider_id.as_str()),
                None,
            ),
            Scope::System => (None, None),
        }
    }

    /// The registrations of a user: one per registered device that carries it.
    pub(crate) fn registrations_of(&self, user: usize) -> Vec<Registration> {
        self.devices
            .carrying(user)
            .iter()
            .filter_map(|&index| {
                let device = &self.devices.list[index];
                if device.state != RegistrationState::Registered {
                    return None;
                }
                let (position, line) = device
                    .lines
                    .iter()
                    .enumerate()
                    .find(|(_, line)| line.user == user)?;
                let local = line.line_port.split('@').next().unwrap_or_default();
                Some(Registration {
                    device_level: device.level().as_str(),
                    device_name: device.name.clone(),
                    order: position + 1,
                    uri: format!("sip:{local}@{}:5060", device_address(index)),
                    expiration: httpdate::fmt_http_date(
                        device.registered_at + REGISTRATION_LIFETIME,
                    ),
                    line_port: line.line_port.clone(),
                    endpoint_type: if position == 0 {
                        "Primary"
                    } else {
                        "Shared Call Appearance"
                    },
                    user_agent: format!("{}/odin-sim", device.device_type),
                })
            })
            .collect()
    }

    /// Called when a reboot is over: the device registers if its file is current and it is not
    /// one of the offline devices, unless a later reset started another reboot.
    fn finish_reboot(&mut self, index: usize, generation: u64) {
        let device = &self.devices.list[index];
        if device.reboot_generation != generation {
            return;
        }
        let registers = !device.offline && device.config_current(&self.users);
        if registers {
            self.devices.list[index].registered_at = SystemTime::now();
        }
        self.devices.list[index].state = if registers {
            RegistrationState::Registered
        } else {
            RegistrationState::Unregistered
        };
    }
}

/// A made-up private address for a device, distinct per device.
fn device_address(index: usize) -> String {
    let number = index + 1;
    format!(
        "10.{}.{}.{}",
        (number >> 16) & 0xff,
        (number >> 8) & 0xff,
        number & 0xff
    )
}

fn scope_error(
    error: crate::world::ScopeError,
    service_provider_id: &str,
    group_id: Option<&str>,
) -> DeviceError {
    match (error, group_id) {
        (crate::world::ScopeError::UnknownGroup, Some(group_id)) => DeviceError::UnknownGroup {
            service_provider_id: service_provider_id.to_owned(),
            group_id: group_id.to_owned(),
        },
        _ => DeviceError::UnknownServiceProvider(service_provider_id.to_owned()),
    }
}

/// One registration of a user, in the shape of Odin's registration reads.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Registration {
    #[serde(rename = "deviceLevel")]
    pub device_level: &'static str,
    #[serde(rename = "deviceName")]
    pub device_name: String,
    /// The position of the user's line on the device, from 1.
    pub order: usize,
    #[serde(rename = "uRI")]
    pub uri: String,
    pub expiration: String,
    #[serde(rename = "line/Port")]
    pub line_port: String,
    /// `Primary` or `Shared Call Appearance`.
    #[serde(rename = "endpointType")]
    pub endpoint_type: &'static str,
    #[serde(rename = "userAgent")]
    pub user_agent: String,
}

/// A device that carries a user, as the user's reads describe it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserDevice {
    pub device_name: String,
    pub device_type: String,
    pub device_level: DeviceLevel,
    pub service_provider_id: Option<String>,
    pub group_id: Option<String>,
    pub custom_credentials: bool,
    pub line_port: String,
    /// True for the user's primary device, false for a shared call appearance.
    pub primary: bool,
}

/// A user on a device, as the "users on a device" read lists them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceUser {
    pub user_id: String,
    pub first_name: String,
    pub last_name: String,
    pub line_port: String,
    /// The position of the line on the device, from 1; the primary user is 1.
    pub order: usize,
}

/// The truth about one device: what `GET /_sim/devices` answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceTruth {
    pub service_provider_id: Option<String>,
    pub group_id: Option<String>,
    pub device_name: String,
    pub device_level: DeviceLevel,
    pub device_type: String,
    /// The users whose SIP credentials the device registers with: the primary user first.
    pub lines: Vec<String>,
    pub custom_credentials: bool,
    pub supports_reset: bool,
    /// Accepted rebuild requests.
    pub rebuilds: u64,
    /// Accepted reset requests.
    pub resets: u64,
    /// The file holds the current SIP user name and password of every line (always for custom credentials).
    pub config_current: bool,
    /// Registered now.
    pub registered: bool,
    /// One of the `offline_fraction` devices that never come back after a reset.
    pub offline: bool,
}

/// The model's operations, for every front of the simulator (REST, and OCI-P later).
impl SimState {
    /// Rebuilds a device's configuration file: it now holds its users' current credentials.
    pub fn rebuild_device(&self, device: &DeviceRef) -> Result<(), DeviceError> {
        let mut world = lock(&self.shared.world);
        let index = world.find_device(device)?;
        let World { devices, users, .. } = &mut *world;
        let device = &mut devices.list[index];
        for line in &mut device.lines {
            line.built_with = users[line.user].sip_generation();
        }
        device.rebuilds += 1;
        Ok(())
    }

    /// Resets a device: its registrations drop at once, and after the reboot time it registers
    /// again if its file is current then (and it is not offline). A device that does not
    /// support reset is refused and nothing changes. Outside a tokio runtime the reboot is
    /// instant.
    pub fn reset_device(&self, device: &DeviceRef) -> Result<(), DeviceError> {
        let mut world = lock(&self.shared.world);
        let index = world.find_device(device)?;
        let reboot = world.devices.reboot;
        let device = &mut world.devices.list[index];
        if !device.supports_reset {
            return Err(DeviceError::ResetNotSupported(device.name.clone()));
        }
        device.resets += 1;
        device.reboot_generation += 1;
        device.state = RegistrationState::Rebooting;
        let generation = device.reboot_generation;
        let runtime = tokio::runtime::Handle::try_current();
        match runtime {
            Ok(runtime) if !reboot.is_zero() => {
                // A weak reference: a simulator dropped during a reboot is not kept alive by it.
                let shared = Arc::downgrade(&self.shared);
                runtime.spawn(async move {
                    tokio::time::sleep(reboot).await;
                    if let Some(shared) = shared.upgrade() {
                        lock(&shared.world).finish_reboot(index, generation);
                    }
                });
            }
            _ => world.finish_reboot(index, generation),
        }
        Ok(())
    }

    /// The devices that carry a user: its primary device first, then those where it is a
    /// shared call appearance.
    pub fn devices_of_user(&self, user_id: &str) -> Result<Vec<UserDevice>, DeviceError> {
        let world = lock(&self.shared.world);
        let user = world
            .user(user_id)
            .ok_or_else(|| DeviceError::UnknownUser(user_id.to_owned()))?;
        Ok(user_devices(&world, user))
    }

    /// The users on a device, in line order (the primary user first).
    pub fn device_users(&self, device: &DeviceRef) -> Result<Vec<DeviceUser>, DeviceError> {
        let world = lock(&self.shared.world);
        let index = world.find_device(device)?;
        Ok(world.devices.list[index]
            .lines
            .iter()
            .enumerate()
            .map(|(position, line)| {
                let user = &world.users[line.user];
                DeviceUser {
                    user_id: user.user_id.clone(),
                    first_name: user.first_name.clone(),
                    last_name: user.last_name.clone(),
                    line_port: line.line_port.clone(),
                    order: position + 1,
                }
            })
            .collect())
    }

    /// A user's registrations now (empty: not registered anywhere).
    pub fn user_registrations(&self, user_id: &str) -> Result<Vec<Registration>, DeviceError> {
        let world = lock(&self.shared.world);
        let user = world
            .user(user_id)
            .ok_or_else(|| DeviceError::UnknownUser(user_id.to_owned()))?;
        Ok(world.registrations_of(user))
    }

    /// The registrations of every user of a group, in the group's order.
    pub fn group_registrations(
        &self,
        service_provider_id: &str,
        group_id: &str,
    ) -> Result<Vec<(String, Vec<Registration>)>, DeviceError> {
        let world = lock(&self.shared.world);
        let group = world
            .group(service_provider_id, group_id)
            .map_err(|error| scope_error(error, service_provider_id, Some(group_id)))?;
        Ok(world.groups[group]
            .users
            .iter()
            .map(|&user| {
                (
                    world.users[user].user_id.clone(),
                    world.registrations_of(user),
                )
            })
            .collect())
    }

    /// The truth about every device, in world order.
    pub fn devices(&self) -> Vec<DeviceTruth> {
        let world = lock(&self.shared.world);
        world
            .devices
            .list
            .iter()
            .map(|device| {
                let (service_provider_id, group_id) = world.device_place(device);
                DeviceTruth {
                    service_provider_id: service_provider_id.map(str::to_owned),
                    group_id: group_id.map(str::to_owned),
                    device_name: device.name.clone(),
                    device_level: device.level(),
                    device_type: device.device_type.clone(),
                    lines: device
                        .lines
                        .iter()
                        .map(|line| world.users[line.user].user_id.clone())
                        .collect(),
                    custom_credentials: device.custom_credentials,
                    supports_reset: device.supports_reset,
                    rebuilds: device.rebuilds,
                    resets: device.resets,
                    config_current: device.config_current(&world.users),
                    registered: device.state == RegistrationState::Registered,
                    offline: device.offline,
                }
            })
            .collect()
    }
}

/// The devices that carry user `user`, its primary device first.
pub(crate) fn user_devices(world: &World, user: usize) -> Vec<UserDevice> {
    world
        .devices
        .carrying(user)
        .iter()
        .filter_map(|&index| {
            let device = &world.devices.list[index];
            let (position, line) = device
                .lines
                .iter()
                .enumerate()
                .find(|(_, line)| line.user == user)?;
            let (service_provider_id, group_id) = world.device_place(device);
            Some(UserDevice {
                device_name: device.name.clone(),
                device_type: device.device_type.clone(),
                device_level: device.level(),
                service_provider_id: service_provider_id.map(str::to_owned),
                group_id: group_id.map(str::to_owned),
                custom_credentials: device.custom_credentials,
                line_port: line.line_port.clone(),
                primary: position == 0,
            })
        })
        .collect()
}

/// Marks the seeded share of devices offline and sets the reboot time; called once when the
/// state is built.
pub(crate) fn configure(
    world: &mut World,
    settings: DeviceSettings,
    seed: Option<u64>,
) -> Result<(), crate::Error> {
    if !(0.0..=1.0).contains(&settings.offline_fraction) {
        return Err(crate::Error::InvalidWorld {
            message: format!(
                "offline device fraction {} is not between 0 and 1",
                settings.offline_fraction
            ),
        });
    }
    world
        .devices
        .configure(settings, &mut seeded_rng(seed, DEVICE_STREAM));
    Ok(())
}
