//! Tuning of a run: concurrency, batch sizes, and the bounds of every retry the engine makes.

use std::time::Duration;

use bwreset_backend::Backoff;

use crate::UserNameTemplate;

/// How the engine runs. Build one with `EngineConfig { concurrency: 32, ..Default::default() }`.
///
/// The engine's own retries (the backend's are its own, see `ARCHITECTURE.md`, "Who retries
/// what") are bounded by settings named for what they bound: [`Self::max_check_retries`] re-asks
/// of a pre-check, [`Self::max_rule_retries`] fresh values per user, [`Self::max_resends`]
/// re-sends per value, and [`Self::max_useless_batches`] generator answers in a row. So one
/// user gets at most `1 + max_check_retries` checks and
/// `(1 + max_rule_retries) * (1 + max_resends)` setter requests from the engine (6 and 24 by
/// default), each of which the backend may retry only where the server certainly did not
/// process it.
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
    /// Re-sends of the same value after an answer that leaves it open whether the value was
    /// applied (connection lost after sending, a server failure), or a refusal that is not the
    /// server's own (a proxy's error page). Default 5; after that the user ends `uncertain`
    /// (or `failed`, when the value certainly was not applied).
    pub max_resends: u32,
    /// Re-asks of one user's pre-check after no clear answer (the server unavailable even after
    /// the backend's retries, an answer that could not be understood). Default 5; after that the
    /// user is not attempted (`failed`, reason `pre-check failed: ...`).
    pub max_check_retries: u32,
    /// The wait before each re-send and re-ask (the workspace's one backoff, full jitter).
    /// Default 200 ms doubling up to 5 s.
    pub retry_backoff: Backoff,
    /// Generator answers in a row that gave no usable value before the generator is given up
    /// (the users still waiting for a value fail, reason named). Default 5.
    pub max_useless_batches: u32,
    /// Candidate values skipped for one SIP user because they break a rule checked locally
    /// (they contain the user's authentication name) before the user fails. Default 50.
    pub max_local_skips_per_user: u32,
    /// Users in a row that ended on a server-unavailable error (no connection, no clear answer,
    /// 5xx, 429 after the backend's retries) before the run stops as "server unavailable".
    /// Default 20.
    pub stop_after_unavailable: u32,
    /// SIP only: give each user a new SIP authentication user name from this template together
    /// with the new password (issue 26). `None` (the default): the password alone. Each name is
    /// journaled with its password before the pair is sent; a name the server refuses or that
    /// another user holds gets a fresh one (and a fresh password), as a refused password does.
    /// [`crate::execute`] wants the journal's header to name the same template
    /// ([`crate::JournalHeader::with_user_name_template`]); [`crate::resume`] takes it from the
    /// journal, so this may be left `None` there.
    pub new_user_names: Option<UserNameTemplate>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            concurrency: 16,
            generate_batch: 100,
            max_rule_retries: 3,
            max_resends: 5,
            max_check_retries: 5,
            retry_backoff: Backoff {
                initial: Duration::from_millis(200),
                max: Duration::from_secs(5),
            },
            max_useless_batches: 5,
            max_local_skips_per_user: 50,
            stop_after_unavailable: 20,
            new_user_names: None,
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
