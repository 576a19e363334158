//! Discover: the devices that carry the run's users, found without changing anything
//! ([`plan_devices`]), and journaled once (`device` records closed by `devicesEnd`) for the users
//! set and not yet covered by an earlier discovery.

use std::collections::{HashMap, HashSet};

use bwreset_backend::{DeviceBackend, DeviceId, DeviceRole, ErrorKind};

use super::{DeviceOptions, concurrently};
use crate::Error;
use crate::journal::{DeviceRecord, Journal, RecordOut, Replay, UserState};
use crate::types::UserId;

/// A device that carries users of the run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedDevice {
    /// The device.
    pub device: DeviceId,
    /// Its type, when the server said.
    pub device_type: Option<String>,
    /// The run's users on it.
    pub users: Vec<UserId>,
    /// It registers with its own credentials: no user's SIP password is in its file, so it is
    /// skipped.
    pub own_credentials: bool,
}

/// The devices that carry a set of users, found without changing anything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DevicePlan {
    /// Every device found, in the order found.
    pub devices: Vec<PlannedDevice>,
    /// Users whose devices could not be read, with the reason.
    pub unread_users: Vec<(UserId, String)>,
    /// Every user asked about, in the order given.
    pub asked: Vec<UserId>,
}

impl DevicePlan {
    /// Devices to rebuild (and reset, for [`crate::DeviceAction::Reset`]): those without their own
    /// credentials.
    pub fn to_touch(&self) -> usize {
        self.devices
            .iter()
            .filter(|device| !device.own_credentials)
            .count()
    }

    /// Devices skipped because they use their own credentials.
    pub fn own_credentials(&self) -> usize {
        self.devices.len() - self.to_touch()
    }

    /// Devices that carry several of the run's users.
    pub fn shared(&self) -> usize {
        self.devices
            .iter()
            .filter(|device| device.users.len() > 1)
            .count()
    }
}

/// Finds the devices that carry `users`, changing nothing: [`DeviceBackend::user_devices`] per
/// user, and [`DeviceBackend::device_facts`] per device that none of the users has as its
/// primary device (to learn whether it uses its own credentials; a device whose facts stay
/// unknown is treated as one that holds the users' password). A user whose devices cannot be
/// read is listed in [`DevicePlan::unread_users`]. `Err` only when the login no longer works.
pub async fn plan_devices<B: DeviceBackend>(
    backend: &B,
    users: &[UserId],
    concurrency: usize,
) -> Result<DevicePlan, Error> {
    let answers = concurrently(
        backend,
        users.to_vec(),
        concurrency,
        |backend, user: UserId| async move { backend.user_devices(user.as_str()).await },
    )
    .await;
    let mut plan = DevicePlan {
        asked: users.to_vec(),
        ..DevicePlan::default()
    };
    let mut index: HashMap<DeviceId, usize> = HashMap::new();
    // Devices whose own-credentials flag the server gave (for a primary device).
    let mut told: HashSet<usize> = HashSet::new();
    for (user, answer) in users.iter().zip(answers) {
        let devices = match answer {
            Ok(devices) => devices,
            Err(error) if error.kind() == ErrorKind::LoginLost => return Err(error.into()),
            Err(error) => {
                plan.unread_users.push((user.clone(), error.reason()));
                continue;
            }
        };
        for found in devices {
            let position = *index.entry(found.device.clone()).or_insert_with(|| {
                plan.devices.push(PlannedDevice {
                    device: found.device.clone(),
                    device_type: None,
                    users: Vec::new(),
                    own_credentials: false,
                });
                plan.devices.len() - 1
            });
            let planned = &mut plan.devices[position];
            if !planned.users.contains(user) {
                planned.users.push(user.clone());
            }
            if found.role == DeviceRole::Primary || planned.device_type.is_none() {
                planned.device_type = found.device_type.or(planned.device_type.take());
            }
            if let Some(own) = found.own_credentials {
                planned.own_credentials = own;
                told.insert(position);
            }
        }
    }
    // Devices seen only as shared call appearances: the server did not say whether they use
    // their own credentials.
    let unknown: Vec<DeviceId> = plan
        .devices
        .iter()
        .enumerate()
        .filter(|(position, _)| !told.contains(position))
        .map(|(_, device)| device.device.clone())
        .collect();
    let facts = concurrently(
        backend,
        unknown.clone(),
        concurrency,
        |backend, device: DeviceId| async move { backend.device_facts(&device).await },
    )
    .await;
    for (device, facts) in unknown.iter().zip(facts) {
        let facts = match facts {
            Ok(facts) => facts,
            Err(error) if error.kind() == ErrorKind::LoginLost => return Err(error.into()),
            // Unknown: treated as a device that holds the users' password (a rebuild is
            // harmless).
            Err(_) => continue,
        };
        if let Some(planned) = plan
            .devices
            .iter_mut()
            .find(|planned| &planned.device == device)
        {
            planned.device_type = facts.device_type.or(planned.device_type.take());
            planned.own_credentials = facts.own_credentials.unwrap_or(false);
        }
    }
    Ok(plan)
}

/// Adds the devices and users of `more` to `plan` (a device already in it gains the users).
fn merge(plan: &mut DevicePlan, more: DevicePlan) {
    for device in more.devices {
        match plan
            .devices
            .iter_mut()
            .find(|known| known.device == device.device)
        {
            Some(known) => {
                for user in device.users {
                    if !known.users.contains(&user) {
                        known.users.push(user);
                    }
                }
            }
            None => plan.devices.push(device),
        }
    }
    plan.unread_users.extend(more.unread_users);
    plan.asked.extend(more.asked);
}

/// What a discovery leaves for the report besides the journaled devices.
#[derive(Debug, Default)]
pub(super) struct Discovered {
    /// Set users whose devices could not be read in this pass.
    pub unread_users: Vec<(UserId, String)>,
    /// Devices not journaled yet because they also carry a user whose value may or may not be
    /// in effect (that user beside each): a resume settles the user, then does the device.
    pub waiting: Vec<(PlannedDevice, UserId)>,
}

/// Finds and journals (synced) the devices of the users set that no discovery of `replay`
/// covered, with [`DeviceOptions::found`] (devices read before the run) standing in for reads where it can. A
/// device that also carries a user whose value may or may not be in effect (pending, uncertain)
/// waits: it is done once, after that user is settled by a `resume`.
pub(super) async fn discover<B: DeviceBackend>(
    backend: &B,
    journal: &Journal,
    replay: &Replay,
    options: &DeviceOptions,
) -> Result<Discovered, Error> {
    let covered: HashSet<&UserId> = replay.device_users.iter().collect();
    let uncovered: Vec<UserId> = replay
        .users()
        .filter(|(_, user)| user.state == UserState::Set)
        .map(|(user_id, _)| UserId::checked(user_id))
        .filter(|user_id| !covered.contains(user_id))
        .collect();
    let unsettled: Vec<UserId> = replay
        .users()
        .filter(|(_, user)| matches!(user.state, UserState::Pending | UserState::Uncertain))
        .map(|(user_id, _)| UserId::checked(user_id))
        .collect();
    let mut discovered = Discovered::default();
    if uncovered.is_empty() && replay.device_action.is_some() {
        return Ok(discovered);
    }
    let mut asked = uncovered.clone();
    if !uncovered.is_empty() {
        asked.extend(unsettled.iter().cloned());
    }
    let plan = match &options.found {
        Some(found) => {
            let (mut plan, to_read) = from_found(found, &asked);
            if !to_read.is_empty() {
                let read = plan_devices(backend, &to_read, options.concurrency).await?;
                merge(&mut plan, read);
            }
            plan
        }
        None => plan_devices(backend, &asked, options.concurrency).await?,
    };
    let known: HashSet<DeviceId> = replay
        .devices
        .iter()
        .filter_map(|device| super::device_id(&device.record))
        .collect();
    let set_now: HashSet<&UserId> = uncovered.iter().collect();
    let unsettled_now: HashSet<&UserId> = unsettled.iter().collect();
    let mut postponed_users: HashSet<UserId> = HashSet::new();
    let mut records: Vec<DeviceRecord> = Vec::new();
    for device in &plan.devices {
        let set_users: Vec<UserId> = device
            .users
            .iter()
            .filter(|user| set_now.contains(user))
            .cloned()
            .collect();
        if set_users.is_empty() || known.contains(&device.device) {
            continue;
        }
        if let Some(blocking) = device
            .users
            .iter()
            .find(|user| unsettled_now.contains(user))
            .filter(|_| !device.own_credentials)
        {
            postponed_users.extend(set_users.iter().cloned());
            discovered.waiting.push((
                PlannedDevice {
                    users: set_users,
                    ..device.clone()
                },
                blocking.clone(),
            ));
            continue;
        }
        records.push(DeviceRecord {
            name: device.device.name.clone(),
            level: device.device.level().as_str().to_owned(),
            service_provider_id: device.device.service_provider_id().map(str::to_owned),
            group_id: device.device.group_id().map(str::to_owned),
            device_type: device.device_type.clone(),
            users: set_users,
            own_credentials: device.own_credentials,
        });
    }
    let unread: HashSet<&UserId> = plan.unread_users.iter().map(|(user, _)| user).collect();
    // Users of a waiting device are not covered yet: the resume that settles the waiting
    // user finds the device again.
    let read_users: Vec<UserId> = uncovered
        .iter()
        .filter(|user| !unread.contains(user) && !postponed_users.contains(*user))
        .cloned()
        .collect();
    let mut lines: Vec<RecordOut<'_>> = records.iter().map(RecordOut::Device).collect();
    lines.push(RecordOut::DevicesEnd {
        devices: records.len() as u64,
        action: options.action,
        users: &read_users,
    });
    journal.append_all_durable(&lines).await?;
    discovered.unread_users = plan
        .unread_users
        .into_iter()
        .filter(|(user, _)| set_now.contains(user))
        .collect();
    Ok(discovered)
}

/// The devices of `users` from a plan made earlier: each device with only those of its users
/// that are in `users`; and the users that plan did not read (not asked, or unread), to be read
/// now.
fn from_found(found: &DevicePlan, users: &[UserId]) -> (DevicePlan, Vec<UserId>) {
    let wanted: HashSet<&UserId> = users.iter().collect();
    let unread: HashSet<&UserId> = found.unread_users.iter().map(|(user, _)| user).collect();
    let asked: HashSet<&UserId> = found.asked.iter().collect();
    let mut plan = DevicePlan::default();
    for device in &found.devices {
        let users: Vec<UserId> = device
            .users
            .iter()
            .filter(|user| wanted.contains(user))
            .cloned()
            .collect();
        if !users.is_empty() {
            plan.devices.push(PlannedDevice {
                users,
                ..device.clone()
            });
        }
    }
    let to_read = users
        .iter()
        .filter(|user| !asked.contains(user) || unread.contains(user))
        .cloned()
        .collect();
    (plan, to_read)
}
