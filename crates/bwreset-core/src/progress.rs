//! Progress callbacks, so that a caller can draw a bar without the engine printing anything.

use crate::report::OutcomeKind;

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
