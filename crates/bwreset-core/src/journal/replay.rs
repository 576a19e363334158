//! Replay: the journal's lines read back in order, each user's state rebuilt, a torn last line
//! told apart from corruption, and sealed values opened.

use std::io::BufRead;
use std::path::Path;

use bwreset_backend::UserIdList;
use secrecy::ExposeSecret;
use zeroize::Zeroizing;

use super::records::{
    DeviceAction, DeviceRecord, DeviceStepRecord, JOURNAL_VERSION, JournalHeader,
    OLDEST_JOURNAL_VERSION, OutcomeRecord, RecordIn, RegistrationMark, parse_line,
};
use crate::Error;
use crate::ids::IdIndex;
use crate::report::Duplicate;
use crate::seal::ValueSealer;
use crate::types::UserId;

/// A cut-short line at the end of the file.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TornTail {
    /// Where the good part of the file ends.
    pub offset: u64,
    /// The torn line's number.
    pub line: u64,
    /// Its length.
    pub bytes: u64,
}

/// Opens a sealed `intent` value with the journal's sealer. A value that cannot be opened is an
/// error, never a torn line: the line is whole, the key is missing or wrong.
pub(super) fn unseal(
    record: RecordIn,
    sealer: Option<&dyn ValueSealer>,
    path: &Path,
    line: u64,
) -> Result<RecordIn, Error> {
    let RecordIn::Intent {
        user,
        value,
        attempt,
        sealed: Some(scheme),
        user_name,
    } = record
    else {
        return Ok(record);
    };
    let sealed_error = |message: String| Error::JournalSealed {
        path: path.to_path_buf(),
        message: format!("line {line}: {message}"),
    };
    let sealer = match sealer {
        Some(sealer) if sealer.scheme() == scheme => sealer,
        Some(sealer) => {
            return Err(sealed_error(format!(
                "the value of `{user}` is sealed with `{scheme}`, not `{}`",
                sealer.scheme()
            )));
        }
        None => {
            return Err(sealed_error(format!(
                "the value of `{user}` is sealed with `{scheme}` and no key to open it was given"
            )));
        }
    };
    let value = sealer
        .open(value.expose_secret())
        .map_err(|error| sealed_error(format!("cannot open the value of `{user}`: {error}")))?;
    Ok(RecordIn::Intent {
        user,
        value,
        attempt,
        sealed: None,
        user_name,
    })
}

pub(super) fn replay_reader<R: BufRead>(
    mut reader: R,
    path: &Path,
    sealer: Option<&dyn ValueSealer>,
    targets: Option<UserIdList>,
) -> Result<(Replaying, Option<TornTail>), Error> {
    let corrupt = |line: u64, message: String| Error::JournalCorrupt {
        path: path.to_path_buf(),
        line,
        message,
    };
    let mut replay = Replaying::expecting(targets);
    let mut line = Zeroizing::new(Vec::with_capacity(512));
    let mut offset = 0u64;
    let mut line_number = 0u64;
    // An unreadable complete line is a torn tail only if nothing follows it.
    let mut unreadable: Option<(TornTail, String)> = None;
    let mut torn = None;
    loop {
        line.clear();
        let read = reader
            .read_until(b'\n', &mut line)
            .map_err(|source| Error::journal_io(path, source))?;
        if read == 0 {
            break;
        }
        line_number += 1;
        if let Some((tail, message)) = unreadable.take() {
            return Err(corrupt(tail.line, message));
        }
        let here = TornTail {
            offset,
            line: line_number,
            bytes: read as u64,
        };
        offset += read as u64;
        if line.last() != Some(&b'\n') {
            // Every record is written with its newline in one write: without it, the write was
            // cut short, and nobody was told it was durable.
            torn = Some(here);
            break;
        }
        match parse_line(&line[..read - 1]) {
            Ok(record) => replay
                .apply(unseal(record, sealer, path, line_number)?, here.offset)
                .map_err(|message| corrupt(line_number, message))?,
            Err(message) => unreadable = Some((here, message)),
        }
    }
    if let Some((tail, _)) = unreadable {
        torn = Some(tail);
    }
    Ok((replay, torn))
}

/// Where a user stands according to the journal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum UserState {
    /// No intent yet.
    NotStarted,
    /// Refused by the pre-check of the plan (with a reason).
    Rejected,
    /// An intent without an outcome: the value may be in effect.
    Pending,
    /// The value is in effect.
    Set,
    /// Unchanged: the last value was certainly not applied (with a reason).
    Failed,
    /// The value may be in effect (with a reason).
    Uncertain,
}

impl UserState {
    /// Whether the journal holds a value for the user that is or may be in effect.
    pub(crate) fn has_value(self) -> bool {
        matches!(
            self,
            UserState::Pending | UserState::Set | UserState::Uncertain
        )
    }
}

/// No intent line.
const NO_INTENT: u64 = u64::MAX;

/// One user's state as the journal tells it, in 16 bytes: the value stays in the journal, at
/// the position of the user's last `intent` line, and is read back when needed
/// (`Journal::value_reader`); the reason is one of the replay's distinct reasons.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ReplayUser {
    /// Where the last intent's line starts (a byte offset in a file, a line index in memory).
    intent: u64,
    /// The index of the reason among the replay's reasons (0: none).
    reason: u32,
    /// The highest attempt number journaled (at most `u16::MAX`).
    attempts: u16,
    pub state: UserState,
}

impl ReplayUser {
    /// The position of the last intent, for a user whose state has a value.
    pub(crate) fn intent(&self) -> Option<u64> {
        (self.intent != NO_INTENT).then_some(self.intent)
    }

    /// The highest attempt number journaled.
    pub(crate) fn attempts(&self) -> u32 {
        u32::from(self.attempts)
    }
}

/// Every distinct reason once: most users that fail, fail for one of a few reasons.
#[derive(Debug)]
struct Reasons {
    /// Index 0 is the empty reason.
    list: UserIdList,
    index: IdIndex,
}

impl Default for Reasons {
    fn default() -> Self {
        let mut list = UserIdList::new();
        list.push("");
        let mut index = IdIndex::with_capacity(16);
        // Position 0 fits.
        let _ = index.insert(&list, 0);
        Reasons { list, index }
    }
}

impl Reasons {
    fn intern(&mut self, reason: &str) -> Result<u32, String> {
        if let Some(found) = self.index.find(&self.list, reason) {
            return Ok(found as u32);
        }
        self.list.push(reason);
        let position = self.list.len() - 1;
        self.index
            .insert(&self.list, position)
            .map_err(|_| "too many reasons".to_owned())?;
        Ok(position as u32)
    }
}

/// A replay under way: nothing until the header line is read, then the [`Replay`] it starts.
/// A journal without a header is refused by [`Replaying::finish`]: no report is made up for it.
#[derive(Debug, Default)]
pub(super) struct Replaying {
    replay: Option<Replay>,
    /// The targets the journal is known to list (the plan of the run that wrote it).
    targets: Option<UserIdList>,
}

impl Replaying {
    /// A replay of a journal whose `targets` records list `targets` (the plan of the run that
    /// wrote it, still in memory): the list is taken as it is rather than built again, and each
    /// `targets` record is checked against it.
    pub(super) fn expecting(targets: Option<UserIdList>) -> Replaying {
        Replaying {
            replay: None,
            targets,
        }
    }

    /// Applies the next record, whose line starts at `position` (a byte offset in a file, a
    /// line index in memory): the first must be a header of a version this build reads.
    pub(super) fn apply(&mut self, record: RecordIn, position: u64) -> Result<(), String> {
        match (&mut self.replay, record) {
            (Some(replay), record) => replay.apply(record, position),
            (None, RecordIn::Header(header)) => {
                if !(OLDEST_JOURNAL_VERSION..=JOURNAL_VERSION).contains(&header.version) {
                    return Err(format!(
                        "journal format version {} (this build reads versions \
                         {OLDEST_JOURNAL_VERSION} to {JOURNAL_VERSION})",
                        header.version
                    ));
                }
                self.replay = Some(Replay::new(header, self.targets.take()));
                Ok(())
            }
            (None, _) => Err("the first line is not a header".into()),
        }
    }

    /// The replay, or why there is none (the message of a [`Error::JournalCorrupt`] at line 1).
    pub(super) fn finish(self) -> Result<Replay, String> {
        self.replay
            .ok_or_else(|| "the journal has no header".to_owned())
    }
}

/// Where one device request stands according to the journal.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) enum DeviceStep {
    /// Not sent.
    #[default]
    NotStarted,
    /// Journaled and maybe sent, no answer recorded: it may have been done.
    Pending,
    /// Answered as done.
    Done,
    /// Certainly not done.
    Failed { reason: String },
    /// Sent, no clear answer: it may have been done.
    Uncertain { reason: String },
}

/// One device of the follow-up, rebuilt from the journal.
#[derive(Clone, Debug)]
pub(crate) struct ReplayDevice {
    pub record: DeviceRecord,
    pub rebuild: DeviceStep,
    pub reset: DeviceStep,
    /// `Some(true)`: seen registered again after its reset; `Some(false)`: not within the wait.
    pub registered: Option<(bool, Option<String>)>,
    /// The device's registrations kept with its last reset intent (`None`: none kept, as in a
    /// journal written before they were).
    pub reset_before: Option<Vec<RegistrationMark>>,
}

/// Everything a journal says, rebuilt line by line after its header. Per user it keeps the ID
/// once and 16 bytes ([`ReplayUser`]); values stay in the journal.
#[derive(Debug)]
pub(crate) struct Replay {
    pub header: JournalHeader,
    pub plan_complete: bool,
    /// The targets, in input order.
    pub user_ids: UserIdList,
    /// Whether `user_ids` was given whole (see [`Replaying::expecting`]).
    seeded: bool,
    users: Vec<ReplayUser>,
    /// A run across groups: each user's index in the header's groups. Empty otherwise.
    user_groups: Vec<u32>,
    index: IdIndex,
    reasons: Reasons,
    pub duplicates: Vec<Duplicate>,
    pub stop_reason: Option<String>,
    /// The devices of the follow-up, in the order found (a `deviceIntent`'s `device` indexes it).
    pub devices: Vec<ReplayDevice>,
    /// The follow-up's action, once a discovery was journaled whole.
    pub device_action: Option<DeviceAction>,
    /// The set users whose devices a discovery covered.
    pub device_users: Vec<UserId>,
    /// `device` records not yet closed by a `devicesEnd` (a discovery cut short leaves some).
    devices_found: Vec<DeviceRecord>,
}

impl Replay {
    fn new(header: JournalHeader, targets: Option<UserIdList>) -> Replay {
        let seeded = targets.is_some();
        let user_ids = targets.unwrap_or_default();
        Replay {
            header,
            plan_complete: false,
            users: Vec::with_capacity(user_ids.len()),
            user_groups: Vec::new(),
            index: IdIndex::with_capacity(user_ids.len()),
            user_ids,
            seeded,
            reasons: Reasons::default(),
            duplicates: Vec::new(),
            stop_reason: None,
            devices: Vec::new(),
            device_action: None,
            device_users: Vec::new(),
            devices_found: Vec::new(),
        }
    }

    /// How many targets there are.
    pub(crate) fn len(&self) -> usize {
        self.users.len()
    }

    /// The targets with their states, in input order.
    pub(crate) fn users(&self) -> impl Iterator<Item = (&str, ReplayUser)> + '_ {
        self.user_ids.iter().zip(self.users.iter().copied())
    }

    /// The index in the header's groups of the user at `position` (0 for a run of one group).
    pub(crate) fn group_of(&self, position: usize) -> u32 {
        self.user_groups.get(position).copied().unwrap_or(0)
    }

    /// The index in the header's groups of the target `user`, found by the replay's own index
    /// of the targets (`None`: not a target).
    pub(crate) fn group_of_user(&self, user: &str) -> Option<u32> {
        let position = self.index.find(&self.user_ids, user)?;
        Some(self.group_of(position))
    }

    /// The reason a user ended with (empty when none was journaled).
    pub(crate) fn reason(&self, user: &ReplayUser) -> &str {
        self.reasons
            .list
            .get(user.reason as usize)
            .unwrap_or_default()
    }

    fn device_mut(&mut self, device: u32) -> Result<&mut ReplayDevice, String> {
        self.devices
            .get_mut(device as usize)
            .ok_or_else(|| format!("record for device {device}, which was never found"))
    }

    fn user_mut(&mut self, user: &UserId) -> Result<&mut ReplayUser, String> {
        let index = self
            .index
            .find(&self.user_ids, user.as_str())
            .ok_or_else(|| format!("record for `{user}`, who is not among the targets"))?;
        Ok(&mut self.users[index])
    }

    fn apply(&mut self, record: RecordIn, position: u64) -> Result<(), String> {
        match record {
            RecordIn::Header(_) => return Err("a second header".into()),
            RecordIn::Targets { users, groups } => self.apply_targets(users, groups)?,
            RecordIn::Duplicates { duplicates } => self.duplicates.extend(duplicates),
            RecordIn::Rejected { user, reason } => {
                let reason = self.reasons.intern(&reason)?;
                let entry = self.user_mut(&user)?;
                entry.state = UserState::Rejected;
                entry.reason = reason;
            }
            RecordIn::PlanEnd { users } => {
                if users != self.users.len() as u64 || self.user_ids.len() != self.users.len() {
                    return Err(format!(
                        "the plan announces {users} targets but lists {}",
                        self.users.len()
                    ));
                }
                self.plan_complete = true;
            }
            RecordIn::Intent {
                user,
                value: _,
                attempt,
                sealed,
                user_name: _,
            } => {
                if let Some(scheme) = sealed {
                    // `unseal` opens every sealed value before it gets here.
                    return Err(format!("a value of `{user}` sealed with `{scheme}`"));
                }
                if !self.plan_complete {
                    return Err("an intent before the end of the plan".into());
                }
                let entry = self.user_mut(&user)?;
                entry.state = UserState::Pending;
                entry.intent = position;
                entry.reason = 0;
                entry.attempts = entry
                    .attempts
                    .max(u16::try_from(attempt).unwrap_or(u16::MAX));
            }
            RecordIn::Outcome {
                user,
                result,
                reason,
            } => {
                let reason = self.reasons.intern(reason.as_deref().unwrap_or_default())?;
                let entry = self.user_mut(&user)?;
                let has_value = entry.state.has_value();
                entry.reason = reason;
                entry.state = match (result, has_value) {
                    (OutcomeRecord::Set, true) => UserState::Set,
                    (OutcomeRecord::Uncertain, true) => UserState::Uncertain,
                    (OutcomeRecord::Set | OutcomeRecord::Uncertain, false) => {
                        return Err(format!(
                            "outcome `{}` for `{user}` without a value sent",
                            if result == OutcomeRecord::Set {
                                "set"
                            } else {
                                "uncertain"
                            }
                        ));
                    }
                    (OutcomeRecord::Failed | OutcomeRecord::Rejected, _) => {
                        entry.intent = NO_INTENT;
                        UserState::Failed
                    }
                };
            }
            RecordIn::Stopped { reason } => self.stop_reason = Some(reason),
            RecordIn::Resumed { .. } => self.stop_reason = None,
            RecordIn::Device(record) => self.devices_found.push(record),
            RecordIn::DevicesEnd {
                devices,
                action,
                users,
            } => self.apply_devices_end(devices, action, users)?,
            RecordIn::DeviceIntent {
                device,
                action,
                before,
            } => {
                let entry = self.device_mut(device)?;
                if action == DeviceAction::Reset {
                    entry.reset_before = before;
                }
                let step = match action {
                    DeviceAction::Rebuild => &mut entry.rebuild,
                    DeviceAction::Reset => &mut entry.reset,
                };
                // An unanswered request stays unanswered (uncertain) when it is sent again.
                if !matches!(step, DeviceStep::Uncertain { .. }) {
                    *step = DeviceStep::Pending;
                }
            }
            RecordIn::DeviceOutcome {
                device,
                action,
                result,
                reason,
            } => {
                let entry = self.device_mut(device)?;
                let step = match action {
                    DeviceAction::Rebuild => &mut entry.rebuild,
                    DeviceAction::Reset => &mut entry.reset,
                };
                let reason = reason.unwrap_or_default();
                *step = match result {
                    DeviceStepRecord::Done => DeviceStep::Done,
                    DeviceStepRecord::Failed => DeviceStep::Failed { reason },
                    DeviceStepRecord::Uncertain => DeviceStep::Uncertain { reason },
                };
            }
            RecordIn::DeviceRegistered {
                device,
                registered,
                reason,
            } => {
                self.device_mut(device)?.registered = Some((registered, reason));
            }
        }
        Ok(())
    }

    /// A `targets` record: the users (and, across groups, their groups) in plan order.
    fn apply_targets(
        &mut self,
        users: Vec<UserId>,
        groups: Option<Vec<u32>>,
    ) -> Result<(), String> {
        if self.plan_complete {
            return Err("targets after the end of the plan".into());
        }
        self.header
            .scope
            .check_user_groups(users.len(), groups.as_deref())?;
        // Only a run across groups keeps a group per user.
        self.user_groups.extend(groups.unwrap_or_default());
        for user_id in users {
            let position = self.users.len();
            if self.seeded {
                if self.user_ids.get(position) != Some(user_id.as_str()) {
                    return Err(format!(
                        "target `{user_id}` is not the plan's user {}",
                        position + 1
                    ));
                }
            } else {
                self.user_ids.push(user_id.as_str());
            }
            if self.index.find(&self.user_ids, user_id.as_str()).is_some() {
                return Err(format!("target `{user_id}` listed twice"));
            }
            self.index
                .insert(&self.user_ids, position)
                .map_err(|_| "too many targets".to_owned())?;
            self.users.push(ReplayUser {
                intent: NO_INTENT,
                reason: 0,
                attempts: 0,
                state: UserState::NotStarted,
            });
        }
        Ok(())
    }

    /// A `devicesEnd` record: closes the discovery whose `device` records came before it.
    fn apply_devices_end(
        &mut self,
        devices: u64,
        action: DeviceAction,
        users: Vec<UserId>,
    ) -> Result<(), String> {
        let found = self.devices_found.len();
        let devices = usize::try_from(devices).unwrap_or(usize::MAX);
        if devices > found {
            return Err(format!(
                "the device list announces {devices} devices but lists {found}"
            ));
        }
        if self.device_action.is_some_and(|known| known != action) {
            return Err("a second device list with another action".into());
        }
        self.device_action = Some(action);
        // A discovery cut short before its end left records that a later one repeats:
        // only the last `devices` belong to this end.
        let closed = self.devices_found.split_off(found - devices);
        self.devices_found.clear();
        self.devices
            .extend(closed.into_iter().map(|record| ReplayDevice {
                record,
                rebuild: DeviceStep::NotStarted,
                reset: DeviceStep::NotStarted,
                registered: None,
                reset_before: None,
            }));
        self.device_users.extend(users);
        Ok(())
    }
}
