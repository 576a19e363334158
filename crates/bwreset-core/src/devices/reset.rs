//! Reset: each rebuilt device reset, paced, its intent journaled (synced) with the device's
//! registrations as one read before the resets showed them. An unanswered reset of an earlier
//! pass counts as done only if the device registered again since it was journaled; otherwise it
//! is held for the wait (or, without registrations kept or a wait, reset again at once).

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use bwreset_backend::{DeviceBackend, ErrorKind};

use super::wait::{
    Seen, marks_of, read_registrations, registered_anew, registered_since, registrations_by_device,
};
use super::{DeviceOptions, Pass, Tally, device_id, step_record};
use crate::Error;
use crate::journal::{
    DeviceAction, DeviceStep, DeviceStepRecord, Journal, RecordOut, RegistrationMark, ReplayDevice,
};

/// What the resets of a pass leave for the wait.
#[derive(Default)]
pub(super) struct Resets {
    /// The devices whose reset was answered as done in this pass, and when.
    pub answered_at: HashMap<u32, Instant>,
    /// Unanswered resets of an earlier pass, with the registrations kept with their intent: the
    /// wait decides whether they took.
    pub held: Vec<(u32, Vec<RegistrationMark>)>,
    /// The registration read made before the resets, if it succeeded.
    pub last_read: Option<Seen>,
}

/// The reset phase of `pass` ([`DeviceAction::Reset`] only): resets the devices rebuilt (before
/// or `rebuilt_now`) whose reset is not done, after one registration read for the pass.
pub(super) async fn reset<B: DeviceBackend>(
    pass: &mut Pass<'_, B>,
    rebuilt_now: &HashSet<u32>,
) -> Result<Resets, Error> {
    let mut resets = Resets::default();
    if pass.options.action != DeviceAction::Reset || pass.stop_reason.is_some() {
        return Ok(resets);
    }
    let devices = &pass.devices;
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
            // Reset, and not registered again within an earlier wait: reset once more only
            // when asked.
            DeviceStep::Done
                if pass.options.reset_unregistered
                    && matches!(devices[index as usize].registered, Some((false, _))) =>
            {
                to_reset.push(index);
            }
            DeviceStep::Done => {}
        }
    }
    pass.tally.status.to_reset = to_reset.len() + unanswered.len();
    pass.tally.show();
    if !to_reset.is_empty() || !unanswered.is_empty() {
        match read_registrations(pass.backend, &pass.scopes).await {
            Ok(registrations) => {
                resets.last_read = Some(registrations_by_device(&registrations));
            }
            Err(error) if error.kind() == ErrorKind::LoginLost => {
                pass.stop_reason = Some(format!("login no longer works ({})", error.reason()));
            }
            // The resets go out without kept registrations: one whose answer is lost is
            // then reset again by a resume.
            Err(error) => pass.tally.progress.message(&format!(
                "the registrations before the resets could not be read ({})",
                error.reason()
            )),
        }
    }
    if pass.stop_reason.is_none() {
        for index in unanswered {
            let device = &devices[index as usize];
            match &device.reset_before {
                Some(kept)
                    if resets
                        .last_read
                        .as_ref()
                        .is_some_and(|seen| registered_since(&device.record, seen, kept)) =>
                {
                    registered_anew(pass.journal, index);
                    pass.tally.status.reset += 1;
                }
                Some(kept) if !pass.options.registration_timeout.is_zero() => {
                    resets.held.push((index, kept.clone()));
                }
                // No registrations kept (or no wait asked for): nothing can prove it.
                _ => to_reset.push(index),
            }
        }
        let (answered_at, stop_reason) = send_resets(
            pass.backend,
            pass.journal,
            devices,
            &to_reset,
            resets.last_read.as_ref(),
            pass.options,
            &mut pass.tally,
        )
        .await?;
        resets.answered_at = answered_at;
        pass.stop_reason = stop_reason;
    }
    pass.journal.sync().await?;
    Ok(resets)
}

/// Sends the resets of `indexes`, paced by [`DeviceOptions::reset_rate`]; each intent is synced
/// first with the device's registrations in `before` (`None`: unknown, none kept). When each was answered as done, and why
/// the sending stopped, if it did (the login no longer works).
pub(super) async fn send_resets<B: DeviceBackend>(
    backend: &B,
    journal: &Journal,
    devices: &[ReplayDevice],
    indexes: &[u32],
    before: Option<&Seen>,
    options: &DeviceOptions,
    tally: &mut Tally<'_>,
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
            tally.status.reset += 1;
        }
        tally.show();
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
