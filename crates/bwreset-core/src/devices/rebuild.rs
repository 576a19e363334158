//! Rebuild: each device not yet rebuilt gets its configuration files rebuilt (with the users'
//! new password), [`super::DeviceOptions::concurrency`] at a time, their intents synced together
//! before the requests.

use std::collections::HashSet;

use bwreset_backend::{DeviceBackend, DeviceId, ErrorKind};

use super::{Pass, concurrently, device_id, step_record};
use crate::Error;
use crate::journal::{DeviceAction, DeviceStep, DeviceStepRecord, RecordOut};

/// The rebuild phase of `pass`: the devices rebuilt in it (answered as done). Stops after the
/// chunk in which the login was lost.
pub(super) async fn rebuild<B: DeviceBackend>(
    pass: &mut Pass<'_, B>,
) -> Result<HashSet<u32>, Error> {
    let (backend, journal, options, devices) =
        (pass.backend, pass.journal, pass.options, &pass.devices);
    let to_rebuild: Vec<u32> = (0..devices.len() as u32)
        .filter(|&index| {
            let device = &devices[index as usize];
            !device.record.own_credentials
                && device_id(&device.record).is_some()
                && device.rebuild != DeviceStep::Done
        })
        .collect();
    let mut rebuilt_now: HashSet<u32> = HashSet::new();
    pass.tally.status.to_rebuild = to_rebuild.len();
    pass.tally.show();
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
                pass.tally.status.rebuilt += 1;
            }
            if let Err(error) = &answer
                && error.kind() == ErrorKind::LoginLost
                && pass.stop_reason.is_none()
            {
                pass.stop_reason = Some(format!("login no longer works ({})", error.reason()));
            }
        }
        pass.tally.show();
        if pass.stop_reason.is_some() {
            break;
        }
    }
    Ok(rebuilt_now)
}
