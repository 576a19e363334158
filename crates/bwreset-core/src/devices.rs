//! The device follow-up of a SIP reset: the phones that carry the users set are rebuilt (their
//! configuration files get the new password) and, if asked, reset and watched until they
//! register again, journal first.
//!
//! It runs after the credentials, so each device is touched once, after all of its users in the
//! run are settled. A device that also carries a user whose value may or may not be in effect
//! (pending, uncertain) waits, reported `not attempted`, until the resume that settles that
//! user. Only devices of
//! users actually `set` are touched; devices with credentials of their own are skipped and
//! reported. Every device request is journaled (`deviceIntent`, synced) before it is sent and
//! its answer after (`deviceOutcome`); a device seen registered again after its reset gets a
//! `deviceRegistered`.
//!
//! Before its resets, a pass reads the registrations of the devices' groups once, and each reset's intent keeps
//! the device's registrations as that read showed them: the `(user, expiration)` of each of the
//! run's users registered on it. The server renews a registration's `expiration` each time the
//! device registers, and after the new password is set a device can only register with it. So
//! a registration that differs from the ones kept is the proof that the device took its new
//! file.
//!
//! Resuming: a device whose reset was answered is never reset again. One whose reset went
//! unanswered (killed between journal and answer, or no clear answer) may never have been sent:
//! the phone is then still registered from before, with its old password in memory, and would
//! fail at its next registration refresh. Being registered proves nothing, so it counts as done
//! only when the device shows a registration other than the ones kept with the intent. If it
//! does not yet, it joins the wait like a reset just sent; if the wait ends without it
//! registering anew, it is reset again, and waited for. A reset journaled without kept
//! registrations (the read before the resets failed) or a run with no wait resets it again at
//! once.
//!
//! This may, rarely, reset a phone twice: a reset that was delivered, but whose phone does not
//! come back within the wait (slow, or offline), is sent again. A second reboot of a phone is a
//! minute without calls; a phone reported done while it still holds its old password is dead at
//! its next refresh, with nobody told. The project takes the double reset over the silent dead
//! phone.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bwreset_backend::{BackendError, DeviceBackend, DeviceId, DeviceLevel, DeviceRole, ErrorKind};

use crate::Error;
use crate::config::EngineConfig;
use crate::engine::{execute_journaled, mismatch, resume_journaled};
use crate::journal::{
    DeviceAction, DeviceRecord, DeviceStep, DeviceStepRecord, Journal, RecordOut, RegistrationMark,
    ReplayDevice, UserState,
};
use crate::plan::Plan;
use crate::progress::Progress;
use crate::report::Report;
use crate::types::{GroupRef, PasswordType, UserId};

/// How the device follow-up runs. `DeviceOptions::new(DeviceAction::Reset)` gives the defaults.
#[derive(Clone, Debug)]
pub struct DeviceOptions {
    /// Rebuild only, or rebuild then reset.
    pub action: DeviceAction,
    /// Resets sent per second, at most (default 10), so that a whole site does not reboot and
    /// fetch its files at once. Values below 0.01 are read as 0.01.
    pub reset_rate: f64,
    /// How long to wait for reset devices to register again (default 180 s). Zero: no wait (the
    /// one registration read before the resets is still made); the reset devices are reported
    /// `reset` (not checked).
    pub registration_timeout: Duration,
    /// The pause between two reads of the registrations while waiting (default 5 s).
    pub poll_interval: Duration,
    /// Reads and rebuilds in flight at once (default 8; at least 1 is used).
    pub concurrency: usize,
}

impl DeviceOptions {
    /// The defaults, with `action`.
    pub fn new(action: DeviceAction) -> DeviceOptions {
        DeviceOptions {
            action,
            reset_rate: 10.0,
            registration_timeout: Duration::from_secs(180),
            poll_interval: Duration::from_secs(5),
            concurrency: 8,
        }
    }

    fn reset_interval(&self) -> Duration {
        Duration::from_secs_f64(1.0 / self.reset_rate.max(0.01))
    }
}

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
    /// Devices to rebuild (and reset, for [`DeviceAction::Reset`]): those without their own
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

/// Runs `call` for every item with at most `concurrency` in flight; the answers in item order.
async fn concurrently<B, T, R, F, Fut>(
    backend: &B,
    items: Vec<T>,
    concurrency: usize,
    call: F,
) -> Vec<Result<R, BackendError>>
where
    B: DeviceBackend,
    T: Send + 'static,
    R: Send + 'static,
    F: Fn(B, T) -> Fut,
    Fut: Future<Output = Result<R, BackendError>> + Send + 'static,
{
    let places = Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    let count = items.len();
    for (position, item) in items.into_iter().enumerate() {
        let places = Arc::clone(&places);
        let future = call(backend.clone(), item);
        tasks.spawn(async move {
            let _place = places.acquire_owned().await;
            (position, future.await)
        });
    }
    let mut answers: Vec<Option<Result<R, BackendError>>> = (0..count).map(|_| None).collect();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((position, answer)) => answers[position] = Some(answer),
            Err(join_error) if join_error.is_panic() => {
                std::panic::resume_unwind(join_error.into_panic())
            }
            Err(_) => {}
        }
    }
    answers
        .into_iter()
        .map(|answer| {
            answer.unwrap_or_else(|| {
                Err(BackendError::new(
                    ErrorKind::Unavailable,
                    None,
                    "the request's task was cancelled",
                ))
            })
        })
        .collect()
}

/// What the follow-up did to one device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceResult {
    /// Skipped: the device uses its own credentials.
    Skipped,
    /// Rebuilt (the action was `rebuild`).
    Rebuilt,
    /// Rebuilt, reset, and seen registered again.
    Registered,
    /// Rebuilt and reset; registration not checked (no wait was asked for).
    Reset,
    /// Rebuilt and reset, but not registered again within the wait.
    NotRegistered,
    /// A request was refused or not taken: the device is not done.
    Failed,
    /// A request got no clear answer: it may have been done.
    Uncertain,
    /// Not attempted (the phase stopped first).
    NotAttempted,
}

impl DeviceResult {
    /// The word used in reports: `skipped`, `rebuilt`, `registered`, `reset`, `not registered`,
    /// `failed`, `uncertain`, `not attempted`.
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceResult::Skipped => "skipped",
            DeviceResult::Rebuilt => "rebuilt",
            DeviceResult::Registered => "registered",
            DeviceResult::Reset => "reset",
            DeviceResult::NotRegistered => "not registered",
            DeviceResult::Failed => "failed",
            DeviceResult::Uncertain => "uncertain",
            DeviceResult::NotAttempted => "not attempted",
        }
    }

    /// Whether the device needs nothing more.
    pub fn succeeded(self) -> bool {
        matches!(
            self,
            DeviceResult::Skipped
                | DeviceResult::Rebuilt
                | DeviceResult::Registered
                | DeviceResult::Reset
        )
    }
}

/// One device of a [`DeviceReport`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceEntry {
    /// The device.
    pub device: DeviceId,
    /// Its type, when known.
    pub device_type: Option<String>,
    /// The run's set users on it.
    pub users: Vec<UserId>,
    /// `None` for a skipped device, else what was asked.
    pub action: Option<DeviceAction>,
    /// What happened.
    pub result: DeviceResult,
    /// Why, for every result but `rebuilt`, `registered` and `reset`.
    pub reason: Option<String>,
}

/// The outcome of the device follow-up, rebuilt from the journal.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeviceReport {
    /// Every device, in the order found.
    pub entries: Vec<DeviceEntry>,
    /// Set users whose devices could not be read in this pass (`resume` reads them again).
    pub unread_users: Vec<(UserId, String)>,
    /// Why the phase stopped early, if it did.
    pub stop_reason: Option<String>,
}

impl DeviceReport {
    /// Whether every device needs nothing more and every user's devices were read.
    pub fn is_complete(&self) -> bool {
        self.stop_reason.is_none()
            && self.unread_users.is_empty()
            && self.entries.iter().all(|entry| entry.result.succeeded())
    }

    /// How many devices ended with `result`.
    pub fn count(&self, result: DeviceResult) -> usize {
        self.entries
            .iter()
            .filter(|entry| entry.result == result)
            .count()
    }
}

/// [`crate::execute`], then [`follow_up_devices`] on the same journal.
///
/// ```
/// use bwreset_core::{DeviceAction, DeviceOptions, DeviceResult, EngineConfig, Journal,
///     JournalHeader, NoProgress, PasswordType, ResetRequest, Targets, UserIdList};
/// use odin_client::{ClientConfig, OdinClient, SecretString};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
/// # runtime.block_on(async {
/// // A simulator whose users each have a phone that reboots at once after a reset.
/// let mut sim_config = odin_sim::SimConfig::with_users(3);
/// sim_config.devices.reboot = std::time::Duration::ZERO;
/// let simulator = odin_sim::spawn(sim_config).await?;
/// let client = OdinClient::login(ClientConfig::new(
///     simulator.base_url(),
///     "admin",
///     SecretString::from("admin"),
/// ))
/// .await?;
///
/// let request = ResetRequest {
///     service_provider_id: "demo-sp".into(),
///     group_id: "demo-group".into(),
///     password_type: PasswordType::Sip,
///     targets: Targets::Users(UserIdList::from_iter(["user0001@demo.example"])),
/// };
/// let config = EngineConfig::default();
/// let plan = bwreset_core::plan(&client, &request, &config).await?;
/// let journal = Journal::memory(JournalHeader::new(
///     PasswordType::Sip, "demo-sp", "demo-group", simulator.base_url(), serde_json::Value::Null,
/// ));
/// let (report, devices) = bwreset_core::execute_with_devices(
///     &client, plan, journal, &config, &DeviceOptions::new(DeviceAction::Reset), None,
///     &NoProgress,
/// )
/// .await?;
/// assert!(report.is_complete());
/// // The user's phone was rebuilt, reset, and registered again with its new password.
/// assert_eq!(devices.entries.len(), 1);
/// assert_eq!(devices.entries[0].device.name, "phone-0001");
/// assert_eq!(devices.entries[0].result, DeviceResult::Registered);
/// assert!(devices.is_complete());
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// # })
/// # }
/// ```
///
/// `found`: the devices of the plan's ready users as [`plan_devices`] found them (to show them
/// before the run, say); the users set take their devices from it instead of reading them
/// again. `None`: they are read after the credentials.
pub async fn execute_with_devices<B: DeviceBackend>(
    backend: &B,
    plan: Plan,
    journal: Journal,
    config: &EngineConfig,
    options: &DeviceOptions,
    found: Option<&DevicePlan>,
    progress: &dyn Progress,
) -> Result<(Report, DeviceReport), Error> {
    let report = execute_journaled(backend, plan, journal, config, progress).await?;
    let devices = follow_up(backend, report.journal(), options, found, progress).await?;
    Ok((report.into_report()?, devices))
}

/// [`crate::resume`], then [`follow_up_devices`] on the same journal: finishes the credentials
/// and then the device phase.
pub async fn resume_with_devices<B: DeviceBackend>(
    backend: &B,
    journal: Journal,
    config: &EngineConfig,
    options: &DeviceOptions,
    progress: &dyn Progress,
) -> Result<(Report, DeviceReport), Error> {
    let report = resume_journaled(backend, journal, config, progress).await?;
    let devices = follow_up_devices(backend, report.journal(), options, progress).await?;
    Ok((report.into_report()?, devices))
}

/// The device follow-up of a SIP run's journal (see the module's docs): finds the devices of
/// the users set (once: the list is journaled), rebuilds each, resets each (paced by
/// [`DeviceOptions::reset_rate`]) for [`DeviceAction::Reset`], and waits for the reset devices to
/// register again, reading the registrations of their groups every
/// [`DeviceOptions::poll_interval`].
/// Called again on the same journal, it finishes what is left and never resets a device whose
/// reset was answered.
///
/// `Err` when the journal is not a SIP run's, holds a device phase with another action, cannot
/// be written, or the login no longer works during discovery.
pub async fn follow_up_devices<B: DeviceBackend>(
    backend: &B,
    journal: &Journal,
    options: &DeviceOptions,
    progress: &dyn Progress,
) -> Result<DeviceReport, Error> {
    follow_up(backend, journal, options, None, progress).await
}

/// [`follow_up_devices`] with the devices of the plan's ready users as [`plan_devices`] found
/// them before the run (see [`execute_with_devices`]): the users set take their devices from
/// it instead of reading them again.
pub async fn follow_up_devices_found<B: DeviceBackend>(
    backend: &B,
    journal: &Journal,
    options: &DeviceOptions,
    found: Option<&DevicePlan>,
    progress: &dyn Progress,
) -> Result<DeviceReport, Error> {
    follow_up(backend, journal, options, found, progress).await
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

async fn follow_up<B: DeviceBackend>(
    backend: &B,
    journal: &Journal,
    options: &DeviceOptions,
    found: Option<&DevicePlan>,
    progress: &dyn Progress,
) -> Result<DeviceReport, Error> {
    journal.sync().await?;
    let replay = journal.replay()?;
    if replay.header.password_type != PasswordType::Sip {
        return Err(mismatch(
            journal,
            format!(
                "the device follow-up is for SIP runs, this journal is for {}",
                replay.header.password_type
            ),
        ));
    }
    if let Some(action) = replay.device_action
        && action != options.action
    {
        return Err(mismatch(
            journal,
            format!(
                "its device phase is `{}`, not `{}`",
                action_word(action),
                action_word(options.action)
            ),
        ));
    }
    let table = replay.header.group_table();
    // Discovery, for the users set and not yet covered by a journaled discovery. A device that
    // also carries a user whose value may or may not be in effect (pending, uncertain) waits:
    // it is done once, after that user is settled by a `resume`.
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
    let mut unread_users = Vec::new();
    let mut waiting: Vec<(PlannedDevice, UserId)> = Vec::new();
    if !uncovered.is_empty() || replay.device_action.is_none() {
        let mut asked = uncovered.clone();
        if !uncovered.is_empty() {
            asked.extend(unsettled.iter().cloned());
        }
        let plan = match found {
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
            .filter_map(|device| device_id(&device.record))
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
                waiting.push((
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
        unread_users = plan
            .unread_users
            .into_iter()
            .filter(|(user, _)| set_now.contains(user))
            .collect();
    }
    drop(replay);
    let replay = journal.replay()?;
    // The registrations read are those of the groups the devices' users are in.
    let scopes: Vec<GroupRef> = if replay.header.spans_groups() {
        let mut wanted = vec![false; table.len()];
        for device in &replay.devices {
            for user in &device.record.users {
                if let Some(flag) = replay
                    .group_of_user(user.as_str())
                    .and_then(|group| wanted.get_mut(group as usize))
                {
                    *flag = true;
                }
            }
        }
        table
            .into_iter()
            .zip(wanted)
            .filter_map(|(group, wanted)| wanted.then_some(group))
            .collect()
    } else {
        table
    };
    let devices = replay.devices;
    let scopes = scopes.as_slice();
    let mut stop_reason = None;

    // Rebuilds, `concurrency` at a time: their intents synced together, then the requests.
    let to_rebuild: Vec<u32> = (0..devices.len() as u32)
        .filter(|&index| {
            let device = &devices[index as usize];
            !device.record.own_credentials
                && device_id(&device.record).is_some()
                && device.rebuild != DeviceStep::Done
        })
        .collect();
    let mut rebuilt_now: HashSet<u32> = HashSet::new();
    for chunk in to_rebuild.chunks(options.concurrency.max(1)) {
        let intents: Vec<RecordOut<'_>> = chunk
            .iter()
            .map(|&device| RecordOut::DeviceIntent {
                device,
                action: DeviceAction::Rebuild,
                before: None,
            })
            .collect();
        journal.append_all_durable(&intents).await?;
        let ids: Vec<DeviceId> = chunk
            .iter()
            .filter_map(|&index| device_id(&devices[index as usize].record))
            .collect();
        let answers = concurrently(
            backend,
            ids,
            options.concurrency,
            |backend, device: DeviceId| async move { backend.rebuild_device(&device).await },
        )
        .await;
        for (&device, answer) in chunk.iter().zip(answers) {
            let (result, reason) = step_record(&answer);
            journal.append(&RecordOut::DeviceOutcome {
                device,
                action: DeviceAction::Rebuild,
                result,
                reason: reason.as_deref(),
            });
            if result == DeviceStepRecord::Done {
                rebuilt_now.insert(device);
            }
            if let Err(error) = &answer
                && error.kind() == ErrorKind::LoginLost
                && stop_reason.is_none()
            {
                stop_reason = Some(format!("login no longer works ({})", error.reason()));
            }
        }
        if stop_reason.is_some() {
            break;
        }
    }
    journal.sync().await?;

    // Resets, paced, each journaled with the device's registrations just before it (one group
    // read for the pass). An unanswered reset of an earlier pass counts as done only if the
    // device registered again since it was journaled; otherwise it is held for the wait.
    let mut answered_at: HashMap<u32, Instant> = HashMap::new();
    let mut held: Vec<(u32, Vec<RegistrationMark>)> = Vec::new();
    let mut last_read: Option<Seen> = None;
    if options.action == DeviceAction::Reset && stop_reason.is_none() {
        let ready = |index: u32| {
            let device = &devices[index as usize];
            !device.record.own_credentials
                && device_id(&device.record).is_some()
                && (device.rebuild == DeviceStep::Done || rebuilt_now.contains(&index))
        };
        let mut to_reset: Vec<u32> = Vec::new();
        let mut unanswered: Vec<u32> = Vec::new();
        for index in (0..devices.len() as u32).filter(|&index| ready(index)) {
            match devices[index as usize].reset {
                DeviceStep::NotStarted | DeviceStep::Failed { .. } => to_reset.push(index),
                DeviceStep::Pending | DeviceStep::Uncertain { .. } => unanswered.push(index),
                DeviceStep::Done => {}
            }
        }
        if !to_reset.is_empty() || !unanswered.is_empty() {
            match read_registrations(backend, scopes).await {
                Ok(registrations) => last_read = Some(registrations_by_device(&registrations)),
                Err(error) if error.kind() == ErrorKind::LoginLost => {
                    stop_reason = Some(format!("login no longer works ({})", error.reason()));
                }
                // The resets go out without kept registrations: one whose answer is lost is
                // then reset again by a resume.
                Err(error) => progress.message(&format!(
                    "the registrations before the resets could not be read ({})",
                    error.reason()
                )),
            }
        }
        if stop_reason.is_none() {
            for index in unanswered {
                let device = &devices[index as usize];
                match &device.reset_before {
                    Some(kept)
                        if last_read
                            .as_ref()
                            .is_some_and(|seen| registered_since(&device.record, seen, kept)) =>
                    {
                        registered_anew(journal, index);
                    }
                    Some(kept) if !options.registration_timeout.is_zero() => {
                        held.push((index, kept.clone()));
                    }
                    // No registrations kept (or no wait asked for): nothing can prove it.
                    _ => to_reset.push(index),
                }
            }
            let sent = send_resets(
                backend,
                journal,
                &devices,
                &to_reset,
                last_read.as_ref(),
                options,
            )
            .await?;
            answered_at = sent.0;
            stop_reason = sent.1;
        }
        journal.sync().await?;
    }

    // The wait: a device just reset counts once a read started after its reset's answer shows
    // it registered; a held one once a read shows a registration it did not have before its
    // reset. Held devices that do not register anew are reset again, and waited for.
    if options.action == DeviceAction::Reset
        && !options.registration_timeout.is_zero()
        && stop_reason.is_none()
    {
        let held_indexes: HashSet<u32> = held.iter().map(|(index, _)| *index).collect();
        let mut watch: Vec<(u32, Watch)> = (0..devices.len() as u32)
            .filter(|&index| {
                let device = &devices[index as usize];
                (device.reset == DeviceStep::Done || answered_at.contains_key(&index))
                    && !matches!(device.registered, Some((true, _)))
            })
            .map(|index| (index, Watch::After(answered_at.get(&index).copied())))
            .collect();
        watch.extend(
            held.into_iter()
                .map(|(index, kept)| (index, Watch::Since(kept))),
        );
        let waited =
            wait_for_registrations(backend, scopes, journal, &devices, watch, options).await;
        stop_reason = waited.stop_reason;
        let (again, not_registered): (Vec<u32>, Vec<u32>) = waited
            .left
            .into_iter()
            .partition(|index| held_indexes.contains(index));
        if stop_reason.is_none() {
            not_registered_after_wait(
                journal,
                &not_registered,
                waited.last_error.as_deref(),
                options,
            );
        }
        if stop_reason.is_none() && !again.is_empty() {
            let before = waited.last_read.or(last_read);
            let (answered, stop) =
                send_resets(backend, journal, &devices, &again, before.as_ref(), options).await?;
            stop_reason = stop;
            journal.sync().await?;
            if stop_reason.is_none() {
                let watch = answered
                    .into_iter()
                    .map(|(index, at)| (index, Watch::After(Some(at))))
                    .collect();
                let waited =
                    wait_for_registrations(backend, scopes, journal, &devices, watch, options)
                        .await;
                stop_reason = waited.stop_reason;
                if stop_reason.is_none() {
                    not_registered_after_wait(
                        journal,
                        &waited.left,
                        waited.last_error.as_deref(),
                        options,
                    );
                }
            }
        }
    }
    if let Some(reason) = &stop_reason {
        progress.message(&format!("device phase stopped: {reason}"));
    }
    journal.sync().await?;
    let replay = journal.replay()?;
    let mut entries: Vec<DeviceEntry> = replay
        .devices
        .iter()
        .map(|device| entry(device, options))
        .collect();
    entries.extend(waiting.into_iter().map(|(device, blocking)| DeviceEntry {
        device: device.device,
        device_type: device.device_type,
        users: device.users,
        action: Some(options.action),
        result: DeviceResult::NotAttempted,
        reason: Some(format!(
            "waiting for `{blocking}`, whose new value may or may not be in effect: a resume settles it, then does this device"
        )),
    }));
    Ok(DeviceReport {
        entries,
        unread_users,
        stop_reason,
    })
}

fn action_word(action: DeviceAction) -> &'static str {
    match action {
        DeviceAction::Rebuild => "rebuild",
        DeviceAction::Reset => "reset",
    }
}

/// The device a journal record names, or `None` for a record this build cannot read (an unknown
/// level, or a place without the IDs its level needs): never touched.
fn device_id(record: &DeviceRecord) -> Option<DeviceId> {
    DeviceId::at(
        DeviceLevel::parse(&record.level)?,
        record.service_provider_id.as_deref(),
        record.group_id.as_deref(),
        record.name.clone(),
    )
}

/// What an answer to a device request means for the journal.
fn step_record(answer: &Result<(), BackendError>) -> (DeviceStepRecord, Option<String>) {
    match answer {
        Ok(()) => (DeviceStepRecord::Done, None),
        Err(error) if error.kind().may_have_applied() => {
            (DeviceStepRecord::Uncertain, Some(error.reason()))
        }
        Err(error) => (DeviceStepRecord::Failed, Some(error.reason())),
    }
}

/// Sends the resets of `indexes`, paced by [`DeviceOptions::reset_rate`]; each intent is synced
/// first with the device's registrations in `before` (`None`: unknown, none kept). When each was answered as done, and why
/// the sending stopped, if it did (the login no longer works).
async fn send_resets<B: DeviceBackend>(
    backend: &B,
    journal: &Journal,
    devices: &[ReplayDevice],
    indexes: &[u32],
    before: Option<&Seen>,
    options: &DeviceOptions,
) -> Result<(HashMap<u32, Instant>, Option<String>), Error> {
    let mut answered_at = HashMap::new();
    let mut pace = tokio::time::interval(options.reset_interval());
    pace.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    for &index in indexes {
        let record = &devices[index as usize].record;
        let Some(id) = device_id(record) else {
            continue;
        };
        pace.tick().await;
        let kept = before.map(|seen| marks_of(record, seen));
        journal
            .append_durable(&RecordOut::DeviceIntent {
                device: index,
                action: DeviceAction::Reset,
                before: kept.as_deref(),
            })
            .await?;
        let answer = backend.reset_device(&id).await;
        let (result, reason) = step_record(&answer);
        journal.append(&RecordOut::DeviceOutcome {
            device: index,
            action: DeviceAction::Reset,
            result,
            reason: reason.as_deref(),
        });
        if result == DeviceStepRecord::Done {
            answered_at.insert(index, Instant::now());
        }
        if let Err(error) = &answer
            && error.kind() == ErrorKind::LoginLost
        {
            return Ok((
                answered_at,
                Some(format!("login no longer works ({})", error.reason())),
            ));
        }
    }
    Ok((answered_at, None))
}

/// Journals an unanswered reset as done and its device as registered: it showed a registration
/// made after the reset was journaled, which only the new password allows.
fn registered_anew(journal: &Journal, index: u32) {
    journal.append(&RecordOut::DeviceOutcome {
        device: index,
        action: DeviceAction::Reset,
        result: DeviceStepRecord::Done,
        reason: Some("unanswered reset; the device registered again since"),
    });
    journal.append(&RecordOut::DeviceRegistered {
        device: index,
        registered: true,
        reason: None,
    });
}

/// What proves that a reset device registered again.
enum Watch {
    /// Its reset was answered (at this instant, `None`: in an earlier pass): it shows registered
    /// in a read started after that.
    After(Option<Instant>),
    /// Its reset went unanswered: it shows a registration that is not one of these, kept
    /// before the reset.
    Since(Vec<RegistrationMark>),
}

/// The end of a wait.
struct Waited {
    /// Devices not seen registering again.
    left: Vec<u32>,
    /// Why the last registration read failed, if it did.
    last_error: Option<String>,
    /// Why the wait stopped early (the login no longer works).
    stop_reason: Option<String>,
    /// The last registration read that succeeded.
    last_read: Option<Seen>,
}

/// Reads the registrations of the watched devices' groups every [`DeviceOptions::poll_interval`]
/// until every watched device registered again (journaled) or
/// [`DeviceOptions::registration_timeout`] passed.
async fn wait_for_registrations<B: DeviceBackend>(
    backend: &B,
    scopes: &[GroupRef],
    journal: &Journal,
    devices: &[ReplayDevice],
    mut watch: Vec<(u32, Watch)>,
    options: &DeviceOptions,
) -> Waited {
    let started = Instant::now();
    let mut waited = Waited {
        left: Vec::new(),
        last_error: None,
        stop_reason: None,
        last_read: None,
    };
    while !watch.is_empty() {
        let read_started = Instant::now();
        match read_registrations(backend, scopes).await {
            Ok(registrations) => {
                waited.last_error = None;
                let seen = registrations_by_device(&registrations);
                watch.retain(|(index, how)| {
                    let record = &devices[*index as usize].record;
                    match how {
                        Watch::After(answered) => {
                            let again = answered.is_none_or(|answered| answered <= read_started)
                                && !marks_of(record, &seen).is_empty();
                            if again {
                                journal.append(&RecordOut::DeviceRegistered {
                                    device: *index,
                                    registered: true,
                                    reason: None,
                                });
                            }
                            !again
                        }
                        Watch::Since(kept) => {
                            let again = registered_since(record, &seen, kept);
                            if again {
                                registered_anew(journal, *index);
                            }
                            !again
                        }
                    }
                });
                waited.last_read = Some(seen);
            }
            Err(error) if error.kind() == ErrorKind::LoginLost => {
                waited.stop_reason = Some(format!("login no longer works ({})", error.reason()));
                break;
            }
            Err(error) => waited.last_error = Some(error.reason()),
        }
        let elapsed = started.elapsed();
        if watch.is_empty() || elapsed >= options.registration_timeout {
            break;
        }
        tokio::time::sleep(
            options
                .poll_interval
                .min(options.registration_timeout - elapsed),
        )
        .await;
    }
    waited.left = watch.into_iter().map(|(index, _)| index).collect();
    waited
}

/// The registrations of every group in `scopes` (the groups of the devices' users), one read
/// per group; the first read that fails fails the whole.
async fn read_registrations<B: DeviceBackend>(
    backend: &B,
    scopes: &[GroupRef],
) -> Result<Vec<bwreset_backend::UserRegistrations>, BackendError> {
    let mut all = Vec::new();
    for scope in scopes {
        all.extend(backend.group_registrations(scope.scope()).await?);
    }
    Ok(all)
}

/// Journals `indexes` as not registered again within the wait.
fn not_registered_after_wait(
    journal: &Journal,
    indexes: &[u32],
    last_error: Option<&str>,
    options: &DeviceOptions,
) {
    let reason = match last_error {
        Some(error) => format!(
            "not seen registered again within {} s (the last registration read failed: {error})",
            options.registration_timeout.as_secs()
        ),
        None => format!(
            "not registered again within {} s",
            options.registration_timeout.as_secs()
        ),
    };
    for &index in indexes {
        journal.append(&RecordOut::DeviceRegistered {
            device: index,
            registered: false,
            reason: Some(&reason),
        });
    }
}

/// The registrations of a read, by device: the marks of the users registered on it.
type Seen = HashMap<(DeviceLevel, String), BTreeSet<RegistrationMark>>;

fn registrations_by_device(registrations: &[bwreset_backend::UserRegistrations]) -> Seen {
    let mut seen = Seen::new();
    for user in registrations {
        for device in &user.devices {
            seen.entry((device.level, device.name.clone()))
                .or_default()
                .insert(RegistrationMark {
                    user: user.user_id.to_ascii_lowercase(),
                    expiration: device.expiration.clone(),
                });
        }
    }
    seen
}

/// The registrations of the device's users (of the run) on it, in order; empty: not registered.
fn marks_of(record: &DeviceRecord, seen: &Seen) -> Vec<RegistrationMark> {
    let Some(level) = DeviceLevel::parse(&record.level) else {
        return Vec::new();
    };
    let users: HashSet<String> = record
        .users
        .iter()
        .map(|user| user.as_str().to_ascii_lowercase())
        .collect();
    seen.get(&(level, record.name.clone()))
        .map(|marks| {
            marks
                .iter()
                .filter(|mark| users.contains(&mark.user))
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

/// Whether the device shows a registration of one of its users that is not among `kept`: it
/// registered after they were kept.
fn registered_since(record: &DeviceRecord, seen: &Seen, kept: &[RegistrationMark]) -> bool {
    marks_of(record, seen)
        .iter()
        .any(|mark| !kept.contains(mark))
}

fn step_reason(step: &DeviceStep, what: &str) -> Option<(DeviceResult, String)> {
    match step {
        DeviceStep::Done => None,
        DeviceStep::NotStarted => Some((DeviceResult::NotAttempted, format!("{what} not sent"))),
        DeviceStep::Pending => Some((
            DeviceResult::Uncertain,
            format!("{what} sent, but the run stopped before an answer was recorded"),
        )),
        DeviceStep::Failed { reason } => Some((DeviceResult::Failed, format!("{what}: {reason}"))),
        DeviceStep::Uncertain { reason } => {
            Some((DeviceResult::Uncertain, format!("{what}: {reason}")))
        }
    }
}

fn entry(device: &ReplayDevice, options: &DeviceOptions) -> DeviceEntry {
    let record = &device.record;
    let id = device_id(record)
        .or_else(|| {
            let (provider, group) = (&record.service_provider_id, &record.group_id);
            DeviceId::at(
                DeviceLevel::Group,
                provider.as_deref(),
                group.as_deref(),
                &*record.name,
            )
        })
        .unwrap_or_else(|| DeviceId::system(record.name.clone()));
    let (action, result, reason) = if record.own_credentials {
        (
            None,
            DeviceResult::Skipped,
            Some("uses its own credentials".to_owned()),
        )
    } else if device_id(record).is_none() {
        (
            Some(options.action),
            DeviceResult::Failed,
            Some(format!("unknown device level `{}`", record.level)),
        )
    } else if let Some((result, reason)) = step_reason(&device.rebuild, "rebuild") {
        (Some(options.action), result, Some(reason))
    } else if options.action == DeviceAction::Rebuild {
        (Some(DeviceAction::Rebuild), DeviceResult::Rebuilt, None)
    } else if let Some((result, reason)) = step_reason(&device.reset, "reset") {
        (Some(DeviceAction::Reset), result, Some(reason))
    } else {
        match &device.registered {
            Some((true, _)) => (Some(DeviceAction::Reset), DeviceResult::Registered, None),
            Some((false, reason)) => (
                Some(DeviceAction::Reset),
                DeviceResult::NotRegistered,
                reason.clone(),
            ),
            None => (
                Some(DeviceAction::Reset),
                DeviceResult::Reset,
                Some("registration not checked".to_owned()),
            ),
        }
    };
    DeviceEntry {
        device: id,
        device_type: record.device_type.clone(),
        users: record.users.clone(),
        action,
        result,
        reason,
    }
}
