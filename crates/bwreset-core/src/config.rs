//! Tuning of a run: concurrency, batch sizes, retry bounds.

use std::time::Duration;

/// How the engine runs. Build one with `EngineConfig { concurrency: 32, ..Default::default() }`.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// Requests in flight at the same time: pre-checks, and setters. Default 16; at least 1 is
    /// used. While that many setters are in flight, up to as many more users are made ready (a
    /// value taken and its intent synced to the journal), so that the journal's syncs overlap
    /// with the requests instead of leaving places empty.
    pub concurrency: usize,
    /// Values asked of the generator per request. Default 100; at least 1 is used.
    pub generate_batch: usize,
    /// Fresh values tried for one user after the server refused one for a rule. Default 3.
    pub max_rule_retries: u32,
    /// Re-sends of the same value after an answer that leaves it unknown whether it was applied
    /// (transport error, 5xx). Default 5; after that the user ends `uncertain`.
    pub max_ambiguous_retries: u32,
    /// First pause before such a re-send; doubles each time (full jitter). Default 200 ms.
    pub ambiguous_backoff_initial: Duration,
    /// Longest pause before such a re-send. Default 5 s.
    pub ambiguous_backoff_max: Duration,
    /// Generator answers in a row that gave no usable value before the generator is given up
    /// (the users still waiting for a value fail, reason named). Default 5.
    pub max_useless_batches: u32,
    /// Candidate values skipped for one SIP user because they break a rule checked locally
    /// (they contain the user's authentication name) before the user fails. Default 50.
    pub max_local_skips_per_user: u32,
    /// Users in a row that ended on a server-unavailable error (no connection, no clear answer,
    /// 5xx, 429 after the client's retries) before the run stops as "server unavailable".
    /// Default 20.
    pub stop_after_unavailable: u32,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            concurrency: 16,
            generate_batch: 100,
            max_rule_retries: 3,
            max_ambiguous_retries: 5,
            ambiguous_backoff_initial: Duration::from_millis(200),
            ambiguous_backoff_max: Duration::from_secs(5),
            max_useless_batches: 5,
            max_local_skips_per_user: 50,
            stop_after_unavailable: 20,
        }
    }
}

impl EngineConfig {
    pub(crate) fn workers(&self) -> usize {
        self.concurrency.max(1)
    }

    pub(crate) fn batch(&self) -> usize {
        self.generate_batch.max(1)
    }
}
