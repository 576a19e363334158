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
//!
//! The follow-up of one journal is a pass of five phases, each in its own module and each
//! reading and writing only the journal and the [`Pass`] state: [`discover`] (the devices of the
//! users set, journaled once), [`rebuild`], [`reset`] (with the registrations kept), [`wait`]
//! (and the second reset of a held device), and [`report`] (the journal's account, replayed).

mod discover;
mod rebuild;
mod report;
mod reset;
mod wait;

use std::sync::Arc;
use std::time::Duration;

use bwreset_backend::{BackendError, DeviceBackend, DeviceId, DeviceLevel, ErrorKind};

pub use discover::{DevicePlan, PlannedDevice, plan_devices};
pub use report::{DeviceEntry, DeviceReport, DeviceResult};

use crate::Error;
use crate::engine::mismatch;
use crate::journal::{DeviceAction, DeviceRecord, DeviceStepRecord, Journal, Replay, ReplayDevice};
use crate::progress::{DeviceStatus, Progress};
use crate::types::{GroupRef, PasswordType};

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
    /// The devices of the plan's ready users as [`plan_devices`] found them before the run (to
    /// show them first, say): the users set take their devices from it instead of reading them
    /// again. `None` (the default): they are read after the credentials.
    pub found: Option<DevicePlan>,
    /// Reset once more the devices reset in an earlier pass that did not register again within
    /// its wait (journal first, as every reset), and wait for them (default false: such a device
    /// is only watched again, never reset twice without being asked).
    pub reset_unregistered: bool,
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
            found: None,
            reset_unregistered: false,
        }
    }

    fn reset_interval(&self) -> Duration {
        Duration::from_secs_f64(1.0 / self.reset_rate.max(0.01))
    }
}

/// The device follow-up of a SIP run's journal (see the module's docs): finds the devices of
/// the users set (once: the list is journaled), rebuilds each, resets each (paced by
/// [`DeviceOptions::reset_rate`]) for [`DeviceAction::Reset`], and waits for the reset devices to
/// register again, reading the registrations of their groups every
/// [`DeviceOptions::poll_interval`]. The users set take their devices from
/// [`DeviceOptions::found`] when it holds them, instead of reading them again.
/// Called again on the same journal, it finishes what is left and never resets a device whose
/// reset was answered.
///
/// `Err` when the journal is not a SIP run's, holds a device phase with another action, cannot
/// be written, or the login no longer works during discovery.
///
/// ```
/// use bwreset_core::{Checks, DeviceAction, DeviceOptions, DeviceResult, EngineConfig, GroupRef,
///     Journal, JournalHeader, NoProgress, PasswordType, ResetRequest, RunOptions, Targets, UserIdList};
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
///     password_type: PasswordType::Sip,
///     targets: Targets::Users {
///         group: GroupRef::new("demo-sp", "demo-group"),
///         users: UserIdList::from_iter(["user0001@demo.example"]),
///     },
/// };
/// let config = EngineConfig::default();
/// let plan = bwreset_core::plan(&client, request, &config, Checks::Full).await?;
/// let journal = Journal::memory(JournalHeader::new(
///     PasswordType::Sip, "demo-sp", "demo-group", simulator.base_url(), serde_json::Value::Null,
/// ));
/// let report = bwreset_core::execute(&client, plan, journal, RunOptions::new(&config, &NoProgress)).await?;
/// let devices = bwreset_core::follow_up_devices(
///     &client, report.journal(), &DeviceOptions::new(DeviceAction::Reset), &NoProgress,
/// )
/// .await?;
/// assert!(report.into_report()?.is_complete());
/// // The user's phone was rebuilt, reset, and registered again with its new password.
/// assert_eq!(devices.entries.len(), 1);
/// assert_eq!(devices.entries[0].device.name, "phone-0001");
/// assert_eq!(devices.entries[0].result, DeviceResult::Registered);
/// assert!(devices.is_complete());
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// # })
/// # }
/// ```
pub async fn follow_up_devices<B: DeviceBackend>(
    backend: &B,
    journal: &Journal,
    options: &DeviceOptions,
    progress: &dyn Progress,
) -> Result<DeviceReport, Error> {
    follow_up(backend, journal, options, progress).await
}

/// The device report of `journal` as it stands, without a request: what a follow-up stopped
/// part-way (Ctrl-C, a server gone) had done to each device journaled, for the caller to write
/// out before it exits. Devices found but not journaled yet are not in it; `resume` finds them.
pub async fn read_device_report(
    journal: &Journal,
    options: &DeviceOptions,
    stop_reason: Option<String>,
) -> Result<DeviceReport, Error> {
    let nothing_waiting = discover::Discovered {
        unread_users: Vec::new(),
        waiting: Vec::new(),
    };
    report::report(journal, options, nothing_waiting, stop_reason).await
}

/// What the phases after discovery share: the journal's devices, the groups whose registrations
/// are read, and why the pass stopped early, if it did.
struct Pass<'a, B> {
    backend: &'a B,
    journal: &'a Journal,
    options: &'a DeviceOptions,
    /// The devices journaled, in the order found (a `deviceIntent`'s `device` indexes it).
    devices: Vec<ReplayDevice>,
    /// The groups of the devices' users: the registrations read are theirs.
    scopes: Vec<GroupRef>,
    /// Why the pass stopped early (the login no longer works).
    stop_reason: Option<String>,
    /// How far the pass is, for the caller's progress.
    tally: Tally<'a>,
}

/// The counts of a pass, told to the caller's [`Progress`] as they change.
pub(super) struct Tally<'a> {
    pub status: DeviceStatus,
    progress: &'a dyn Progress,
}

impl Tally<'_> {
    /// Tells the caller.
    pub(super) fn show(&self) {
        self.progress.devices(&self.status);
    }
}

/// One pass over the journal: discover, rebuild, reset, wait, report.
async fn follow_up<B: DeviceBackend>(
    backend: &B,
    journal: &Journal,
    options: &DeviceOptions,
    progress: &dyn Progress,
) -> Result<DeviceReport, Error> {
    journal.sync().await?;
    let replay = journal.replay()?;
    check_journal(journal, &replay, options)?;
    let discovered = discover::discover(backend, journal, &replay, options).await?;
    drop(replay);
    let replay = journal.replay()?;
    let scopes = registration_scopes(&replay);
    let mut pass = Pass {
        backend,
        journal,
        options,
        devices: replay.devices,
        scopes,
        stop_reason: None,
        tally: Tally {
            status: DeviceStatus::default(),
            progress,
        },
    };
    let rebuilt_now = rebuild::rebuild(&mut pass).await?;
    journal.sync().await?;
    let resets = reset::reset(&mut pass, &rebuilt_now).await?;
    wait::wait(&mut pass, resets).await?;
    if let Some(reason) = &pass.stop_reason {
        progress.message(&format!("device phase stopped: {reason}"));
    }
    report::report(journal, options, discovered, pass.stop_reason).await
}

/// `Err` unless the journal is a SIP run's whose device phase, if it has one, has `options`'s
/// action.
fn check_journal(journal: &Journal, replay: &Replay, options: &DeviceOptions) -> Result<(), Error> {
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
    Ok(())
}

/// The groups whose registrations the pass reads: those the devices' users are in.
fn registration_scopes(replay: &Replay) -> Vec<GroupRef> {
    let table = replay.header.scope.groups().to_vec();
    // A table of one group: every device's users are in it.
    if table.len() > 1 {
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
    }
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

fn action_word(action: DeviceAction) -> &'static str {
    match action {
        DeviceAction::Rebuild => "rebuild",
        DeviceAction::Reset => "reset",
    }
}

/// The device a journal record names, or `None` for a record this build cannot read (an unknown
/// level, or a place without the IDs its level needs): never touched.
pub(super) fn device_id(record: &DeviceRecord) -> Option<DeviceId> {
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
