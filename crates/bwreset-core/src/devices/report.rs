//! Report: what the follow-up did to each device, rebuilt from the journal ([`DeviceReport`]),
//! with the devices a discovery left waiting.

use bwreset_backend::{DeviceId, DeviceLevel};

use super::DeviceOptions;
use super::discover::Discovered;
use crate::Error;
use crate::journal::{DeviceAction, DeviceStep, Journal, ReplayDevice};
use crate::types::UserId;

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

/// The report of a pass: every journaled device as the journal now says (after a sync), then the
/// devices `discovered` left waiting, `not attempted`.
pub(super) async fn report(
    journal: &Journal,
    options: &DeviceOptions,
    discovered: Discovered,
    stop_reason: Option<String>,
) -> Result<DeviceReport, Error> {
    journal.sync().await?;
    let replay = journal.replay()?;
    let mut entries: Vec<DeviceEntry> = replay
        .devices
        .iter()
        .map(|device| entry(device, options))
        .collect();
    entries.extend(
        discovered
            .waiting
            .into_iter()
            .map(|(device, blocking)| DeviceEntry {
                device: device.device,
                device_type: device.device_type,
                users: device.users,
                action: Some(options.action),
                result: DeviceResult::NotAttempted,
                reason: Some(format!(
                    "waiting for `{blocking}`, whose new value may or may not be in effect: a resume settles it, then does this device"
                )),
            }),
    );
    Ok(DeviceReport {
        entries,
        unread_users: discovered.unread_users,
        stop_reason,
    })
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
    let id = super::device_id(record)
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
    } else if super::device_id(record).is_none() {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::DeviceRecord;

    fn device(rebuild: DeviceStep, reset: DeviceStep) -> ReplayDevice {
        ReplayDevice {
            record: DeviceRecord {
                name: "ann-phone".into(),
                level: DeviceLevel::Group.as_str().to_owned(),
                service_provider_id: Some("sp".into()),
                group_id: Some("g".into()),
                device_type: None,
                users: vec![UserId::checked("ann@x")],
                own_credentials: false,
            },
            rebuild,
            reset,
            registered: None,
            reset_before: None,
        }
    }

    fn result_of(device: &ReplayDevice, action: DeviceAction) -> (DeviceResult, Option<String>) {
        let entry = entry(device, &DeviceOptions::new(action));
        (entry.result, entry.reason)
    }

    #[test]
    fn each_journaled_step_gives_its_result() {
        let failed = DeviceStep::Failed {
            reason: "refused".into(),
        };
        assert_eq!(
            result_of(&device(failed, DeviceStep::NotStarted), DeviceAction::Reset),
            (DeviceResult::Failed, Some("rebuild: refused".into()))
        );
        assert_eq!(
            result_of(
                &device(DeviceStep::Done, DeviceStep::NotStarted),
                DeviceAction::Rebuild
            ),
            (DeviceResult::Rebuilt, None)
        );
        let (result, reason) = result_of(
            &device(DeviceStep::Done, DeviceStep::Pending),
            DeviceAction::Reset,
        );
        assert_eq!(result, DeviceResult::Uncertain);
        assert!(reason.is_some_and(|reason| reason.starts_with("reset sent")));
        assert_eq!(
            result_of(
                &device(DeviceStep::Done, DeviceStep::Done),
                DeviceAction::Reset
            ),
            (DeviceResult::Reset, Some("registration not checked".into()))
        );
        let mut waited = device(DeviceStep::Done, DeviceStep::Done);
        waited.registered = Some((false, Some("not registered again within 5 s".into())));
        assert_eq!(
            result_of(&waited, DeviceAction::Reset).0,
            DeviceResult::NotRegistered
        );
        waited.registered = Some((true, None));
        assert_eq!(
            result_of(&waited, DeviceAction::Reset),
            (DeviceResult::Registered, None)
        );
    }

    #[test]
    fn a_device_with_its_own_credentials_or_an_unknown_level_is_never_done() {
        let mut own = device(DeviceStep::NotStarted, DeviceStep::NotStarted);
        own.record.own_credentials = true;
        assert_eq!(
            result_of(&own, DeviceAction::Reset).0,
            DeviceResult::Skipped
        );
        let mut unknown = device(DeviceStep::Done, DeviceStep::Done);
        unknown.record.level = "Galaxy".into();
        assert_eq!(
            result_of(&unknown, DeviceAction::Reset),
            (
                DeviceResult::Failed,
                Some("unknown device level `Galaxy`".into())
            )
        );
    }
}
