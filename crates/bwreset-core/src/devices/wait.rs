//! Wait: the reset devices watched until they register again, by reading the registrations of
//! their groups every [`DeviceOptions::poll_interval`] within
//! [`DeviceOptions::registration_timeout`]. A device just reset counts once a read started after
//! its reset's answer shows it registered; a held one (an unanswered reset of an earlier pass)
//! once a read shows a registration it did not have before its reset. Held devices that do not
//! register anew are reset again, and waited for.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::Instant;

use bwreset_backend::{BackendError, DeviceBackend, DeviceLevel, ErrorKind};

use super::reset::{Resets, send_resets};
use super::{DeviceOptions, Pass, Tally};
use crate::Error;
use crate::journal::{
    DeviceAction, DeviceRecord, DeviceStep, DeviceStepRecord, Journal, RecordOut, RegistrationMark,
    ReplayDevice,
};
use crate::types::GroupRef;

/// The wait phase of `pass` (a reset with a wait only), after `resets`.
pub(super) async fn wait<B: DeviceBackend>(
    pass: &mut Pass<'_, B>,
    resets: Resets,
) -> Result<(), Error> {
    let options = pass.options;
    if options.action != DeviceAction::Reset
        || options.registration_timeout.is_zero()
        || pass.stop_reason.is_some()
    {
        return Ok(());
    }
    let (backend, journal, devices, scopes) =
        (pass.backend, pass.journal, &pass.devices, &pass.scopes);
    let Resets {
        answered_at,
        held,
        last_read,
    } = resets;
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
    pass.tally.status.to_register = watch.len();
    let tally = &mut pass.tally;
    let waited =
        wait_for_registrations(backend, scopes, journal, devices, watch, options, tally).await;
    pass.stop_reason = waited.stop_reason;
    let (again, not_registered): (Vec<u32>, Vec<u32>) = waited
        .left
        .into_iter()
        .partition(|index| held_indexes.contains(index));
    if pass.stop_reason.is_some() {
        return Ok(());
    }
    not_registered_after_wait(
        journal,
        &not_registered,
        waited.last_error.as_deref(),
        options,
    );
    if again.is_empty() {
        return Ok(());
    }
    // Held devices that did not register anew: reset again, and waited for.
    let before = waited.last_read.or(last_read);
    pass.tally.status.to_reset += again.len();
    let (answered, stop) = send_resets(
        backend,
        journal,
        devices,
        &again,
        before.as_ref(),
        options,
        &mut pass.tally,
    )
    .await?;
    pass.stop_reason = stop;
    journal.sync().await?;
    if pass.stop_reason.is_some() {
        return Ok(());
    }
    let watch = answered
        .into_iter()
        .map(|(index, at)| (index, Watch::After(Some(at))))
        .collect();
    let tally = &mut pass.tally;
    let waited =
        wait_for_registrations(backend, scopes, journal, devices, watch, options, tally).await;
    pass.stop_reason = waited.stop_reason;
    if pass.stop_reason.is_none() {
        not_registered_after_wait(journal, &waited.left, waited.last_error.as_deref(), options);
    }
    Ok(())
}

/// Journals an unanswered reset as done and its device as registered: it showed a registration
/// made after the reset was journaled, which only the new password allows.
pub(super) fn registered_anew(journal: &Journal, index: u32) {
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
    tally: &mut Tally<'_>,
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
                                tally.status.registered += 1;
                            }
                            !again
                        }
                        Watch::Since(kept) => {
                            let again = registered_since(record, &seen, kept);
                            if again {
                                registered_anew(journal, *index);
                                tally.status.reset += 1;
                                tally.status.registered += 1;
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
        tally.status.wait_left = Some(options.registration_timeout.saturating_sub(elapsed));
        tally.show();
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
    tally.status.wait_left = None;
    tally.show();
    waited
}

/// The registrations of every group in `scopes` (the groups of the devices' users), one read
/// per group; the first read that fails fails the whole.
pub(super) async fn read_registrations<B: DeviceBackend>(
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
pub(super) type Seen = HashMap<(DeviceLevel, String), BTreeSet<RegistrationMark>>;

pub(super) fn registrations_by_device(
    registrations: &[bwreset_backend::UserRegistrations],
) -> Seen {
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
pub(super) fn marks_of(record: &DeviceRecord, seen: &Seen) -> Vec<RegistrationMark> {
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
pub(super) fn registered_since(
    record: &DeviceRecord,
    seen: &Seen,
    kept: &[RegistrationMark],
) -> bool {
    marks_of(record, seen)
        .iter()
        .any(|mark| !kept.contains(mark))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::UserId;

    fn record(users: &[&str]) -> DeviceRecord {
        DeviceRecord {
            name: "ann-phone".into(),
            level: DeviceLevel::Group.as_str().to_owned(),
            service_provider_id: Some("sp".into()),
            group_id: Some("g".into()),
            device_type: None,
            users: users.iter().map(|user| UserId::checked(user)).collect(),
            own_credentials: false,
        }
    }

    fn mark(user: &str, expiration: &str) -> RegistrationMark {
        RegistrationMark {
            user: user.into(),
            expiration: Some(expiration.into()),
        }
    }

    fn seen(marks: &[RegistrationMark]) -> Seen {
        let mut seen = Seen::new();
        seen.insert(
            (DeviceLevel::Group, "ann-phone".into()),
            marks.iter().cloned().collect(),
        );
        seen
    }

    #[test]
    fn only_a_registration_not_kept_before_the_reset_proves_it() {
        let device = record(&["Ann@x"]);
        let kept = vec![mark("ann@x", "10:00")];
        // Still the registration from before the reset: it proves nothing.
        assert!(!registered_since(&device, &seen(&kept), &kept));
        // Renewed since (a new expiration): the device registered with its new password.
        assert!(registered_since(
            &device,
            &seen(&[mark("ann@x", "10:05")]),
            &kept
        ));
        // A user of another run on the same device does not count.
        assert!(!registered_since(
            &device,
            &seen(&[mark("ann@x", "10:00"), mark("zed@x", "10:05")]),
            &kept
        ));
        // Not registered at all.
        assert!(marks_of(&device, &Seen::new()).is_empty());
    }

    #[test]
    fn the_registrations_of_a_read_are_grouped_by_device_and_user_lowercased() {
        let registrations = vec![bwreset_backend::UserRegistrations {
            user_id: "Ann@X".into(),
            devices: vec![bwreset_backend::RegisteredDevice {
                level: DeviceLevel::Group,
                name: "ann-phone".into(),
                expiration: Some("10:00".into()),
            }],
        }];
        let seen = registrations_by_device(&registrations);
        assert_eq!(
            marks_of(&record(&["ann@x"]), &seen),
            vec![mark("ann@x", "10:00")]
        );
    }
}
