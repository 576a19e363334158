//! Progress callbacks, so that a caller can draw a bar without the engine printing anything.

use std::time::Duration;

use crate::report::OutcomeKind;

/// How far the device follow-up is: each step's count done out of its total in this pass, and
/// the time left of the wait for registrations while it runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeviceStatus {
    /// Configuration files rebuilt.
    pub rebuilt: usize,
    /// Devices to rebuild.
    pub to_rebuild: usize,
    /// Devices reset (answered as done, or proven by a new registration).
    pub reset: usize,
    /// Devices to reset.
    pub to_reset: usize,
    /// Devices seen registered again.
    pub registered: usize,
    /// Devices waited for.
    pub to_register: usize,
    /// The wait's time left, while the wait runs.
    pub wait_left: Option<Duration>,
}

/// Told about a run as it goes. Every method has an empty default. Called from the task that
/// drives the run, one call at a time; keep them quick.
pub trait Progress: Send + Sync {
    /// The run starts working on `total` users.
    fn start(&self, total: u64) {
        let _ = total;
    }

    /// One user reached its final outcome in this run.
    fn user_done(&self, outcome: OutcomeKind) {
        let _ = outcome;
    }

    /// The device follow-up moved on: called after each step's answers and each read of the
    /// wait.
    fn devices(&self, status: &DeviceStatus) {
        let _ = status;
    }

    /// Something worth telling the operator (never a secret): the run stops, the generator gave
    /// up.
    fn message(&self, message: &str) {
        let _ = message;
    }
}

/// A [`Progress`] that ignores everything.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoProgress;

impl Progress for NoProgress {}
