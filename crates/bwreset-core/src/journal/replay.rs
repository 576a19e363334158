//! Replay: the journal's lines read back in order, each user's state rebuilt, a torn last line
//! told apart from corruption, and sealed values opened.

use std::collections::HashMap;
use std::fmt;
use std::io::BufRead;
use std::path::Path;

use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use super::records::{
    DeviceAction, DeviceRecord, DeviceStepRecord, JOURNAL_VERSION, JournalHeader,
    OLDEST_JOURNAL_VERSION, OutcomeRecord, RecordIn, RegistrationMark, parse_line,
};
use crate::Error;
use crate::report::{Duplicate, Redacted};
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
    })
}

pub(super) fn replay_reader<R: BufRead>(
    mut reader: R,
    path: &Path,
    sealer: Option<&dyn ValueSealer>,
) -> Result<(Replaying, Option<TornTail>), Error> {
    let corrupt = |line: u64, message: String| Error::JournalCorrupt {
        path: path.to_path_buf(),
        line,
        message,
    };
    let mut replay = Replaying::default();
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
                .apply(unseal(record, sealer, path, line_number)?)
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
#[derive(Clone)]
pub(crate) enum UserState {
    /// No intent yet.
    NotStarted,
    /// Refused by the pre-check of the plan.
    Rejected { reason: String },
    /// An intent without an outcome: the value may be in effect.
    Pending { value: SecretString },
    /// The value is in effect.
    Set { value: SecretString },
    /// Unchanged: the last value was certainly not applied.
    Failed { reason: String },
    /// The value may be in effect.
    Uncertain { value: SecretString, reason: String },
}

impl fmt::Debug for UserState {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UserState::NotStarted => formatter.write_str("NotStarted"),
            UserState::Rejected { reason } => formatter
                .debug_struct("Rejected")
                .field("reason", reason)
                .finish(),
            UserState::Pending { .. } => formatter
                .debug_struct("Pending")
                .field("value", &Redacted)
                .finish(),
            UserState::Set { .. } => formatter
                .debug_struct("Set")
                .field("value", &Redacted)
                .finish(),
            UserState::Failed { reason } => formatter
                .debug_struct("Failed")
                .field("reason", reason)
                .finish(),
            UserState::Uncertain { reason, .. } => formatter
                .debug_struct("Uncertain")
                .field("value", &Redacted)
                .field("reason", reason)
                .finish(),
        }
    }
}

#[derive(Debug)]
pub(crate) struct ReplayUser {
    pub user_id: UserId,
    pub state: UserState,
    /// The highest attempt number journaled.
    pub attempts: u32,
    /// The user's index in the header's groups (0 for a run of one group).
    pub group: u32,
}

/// A replay under way: nothing until the header line is read, then the [`Replay`] it starts.
/// A journal without a header is refused by [`Replaying::finish`]: no report is made up for it.
#[derive(Debug, Default)]
pub(super) struct Replaying {
    replay: Option<Replay>,
}

impl Replaying {
    /// Applies the next record: the first must be a header of a version this build reads.
    pub(super) fn apply(&mut self, record: RecordIn) -> Result<(), String> {
        match (&mut self.replay, record) {
            (Some(replay), record) => replay.apply(record),
            (None, RecordIn::Header(header)) => {
                if !(OLDEST_JOURNAL_VERSION..=JOURNAL_VERSION).contains(&header.version) {
                    return Err(format!(
                        "journal format version {} (this build reads versions \
                         {OLDEST_JOURNAL_VERSION} to {JOURNAL_VERSION})",
                        header.version
                    ));
                }
                self.replay = Some(Replay::new(header));
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

/// Everything a journal says, rebuilt line by line after its header.
#[derive(Debug)]
pub(crate) struct Replay {
    pub header: JournalHeader,
    pub plan_complete: bool,
    pub users: Vec<ReplayUser>,
    index: HashMap<UserId, u32>,
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
    fn new(header: JournalHeader) -> Replay {
        Replay {
            header,
            plan_complete: false,
            users: Vec::new(),
            index: HashMap::new(),
            duplicates: Vec::new(),
            stop_reason: None,
            devices: Vec::new(),
            device_action: None,
            device_users: Vec::new(),
            devices_found: Vec::new(),
        }
    }

    fn device_mut(&mut self, device: u32) -> Result<&mut ReplayDevice, String> {
        self.devices
            .get_mut(device as usize)
            .ok_or_else(|| format!("record for device {device}, which was never found"))
    }

    fn user_mut(&mut self, user: &UserId) -> Result<&mut ReplayUser, String> {
        let index = *self
            .index
            .get(user)
            .ok_or_else(|| format!("record for `{user}`, who is not among the targets"))?;
        Ok(&mut self.users[index as usize])
    }

    fn apply(&mut self, record: RecordIn) -> Result<(), String> {
        match record {
            RecordIn::Header(_) => return Err("a second header".into()),
            RecordIn::Targets { users, groups } => {
                if self.plan_complete {
                    return Err("targets after the end of the plan".into());
                }
                let groups = match groups {
                    Some(groups) if !self.header.spans_groups() => {
                        drop(groups);
                        return Err("targets with groups in a journal of one group".into());
                    }
                    Some(groups) if groups.len() != users.len() => {
                        return Err(format!(
                            "targets of {} users with {} groups",
                            users.len(),
                            groups.len()
                        ));
                    }
                    Some(groups) => {
                        let known = self.header.groups.len();
                        if let Some(bad) = groups.iter().find(|&&group| group as usize >= known) {
                            return Err(format!(
                                "a target in group {bad}, of the {known} groups the header lists"
                            ));
                        }
                        groups
                    }
                    None if self.header.spans_groups() => {
                        return Err(
                            "targets without their groups in a journal across groups".into()
                        );
                    }
                    None => Vec::new(),
                };
                for (position, user_id) in users.into_iter().enumerate() {
                    let group = groups.get(position).copied().unwrap_or(0);
                    let index = u32::try_from(self.users.len())
                        .map_err(|_| "too many targets".to_owned())?;
                    if self.index.insert(user_id.clone(), index).is_some() {
                        return Err(format!("target `{user_id}` listed twice"));
                    }
                    self.users.push(ReplayUser {
                        user_id,
                        state: UserState::NotStarted,
                        attempts: 0,
                        group,
                    });
                }
            }
            RecordIn::Duplicates { duplicates } => self.duplicates.extend(duplicates),
            RecordIn::Rejected { user, reason } => {
                self.user_mut(&user)?.state = UserState::Rejected { reason };
            }
            RecordIn::PlanEnd { users } => {
                if users != self.users.len() as u64 {
                    return Err(format!(
                        "the plan announces {users} targets but lists {}",
                        self.users.len()
                    ));
                }
                self.plan_complete = true;
            }
            RecordIn::Intent {
                user,
                value,
                attempt,
                sealed,
            } => {
                if let Some(scheme) = sealed {
                    // `unseal` opens every sealed value before it gets here.
                    return Err(format!("a value of `{user}` sealed with `{scheme}`"));
                }
                if !self.plan_complete {
                    return Err("an intent before the end of the plan".into());
                }
                let entry = self.user_mut(&user)?;
                entry.state = UserState::Pending { value };
                entry.attempts = entry.attempts.max(attempt);
            }
            RecordIn::Outcome {
                user,
                result,
                reason,
            } => {
                let entry = self.user_mut(&user)?;
                let reason = reason.unwrap_or_default();
                let previous = std::mem::replace(&mut entry.state, UserState::NotStarted);
                let value = match previous {
                    UserState::Pending { value }
                    | UserState::Set { value }
                    | UserState::Uncertain { value, .. } => Some(value),
                    UserState::NotStarted
                    | UserState::Rejected { .. }
                    | UserState::Failed { .. } => None,
                };
                entry.state = match (result, value) {
                    (OutcomeRecord::Set, Some(value)) => UserState::Set { value },
                    (OutcomeRecord::Uncertain, Some(value)) => {
                        UserState::Uncertain { value, reason }
                    }
                    (OutcomeRecord::Set | OutcomeRecord::Uncertain, None) => {
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
                        UserState::Failed { reason }
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
            } => {
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
            }
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
}
