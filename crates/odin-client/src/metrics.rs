//! Counters of what the client did, shared by its clones and cheap to bump.

use std::sync::atomic::{AtomicU64, Ordering};

/// A snapshot of the client's counters since it was built.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct ClientMetrics {
    /// Requests sent (every attempt, logins and refreshes included).
    pub requests: u64,
    /// Answers 2xx.
    pub responses_2xx: u64,
    /// Answers 3xx (never followed).
    pub responses_3xx: u64,
    /// Answers 4xx (429 included).
    pub responses_4xx: u64,
    /// Answers 5xx.
    pub responses_5xx: u64,
    /// Attempts that ended without an answer (connect or transport failure).
    pub transport_errors: u64,
    /// Attempts repeated after a retryable failure (not the repeat after a re-login).
    pub retries: u64,
    /// Answers that asked the client to slow down (429, or 503 with `Retry-After`).
    pub rate_limited: u64,
    /// Fresh logins after a 401.
    pub relogins: u64,
    /// Proactive token refreshes that succeeded.
    pub refreshes: u64,
    /// The adaptive request-rate limit in force, if the server has asked the client to slow
    /// down (requests per second; the configured `max_rate` is applied on top).
    pub adaptive_rate: Option<f64>,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) requests: AtomicU64,
    pub(crate) responses_2xx: AtomicU64,
    pub(crate) responses_3xx: AtomicU64,
    pub(crate) responses_4xx: AtomicU64,
    pub(crate) responses_5xx: AtomicU64,
    pub(crate) transport_errors: AtomicU64,
    pub(crate) retries: AtomicU64,
    pub(crate) rate_limited: AtomicU64,
    pub(crate) relogins: AtomicU64,
    pub(crate) refreshes: AtomicU64,
}

impl Counters {
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn response(&self, status: u16) {
        let counter = match status {
            200..=299 => &self.responses_2xx,
            300..=399 => &self.responses_3xx,
            400..=499 => &self.responses_4xx,
            _ => &self.responses_5xx,
        };
        Self::bump(counter);
    }

    pub(crate) fn snapshot(&self, adaptive_rate: Option<f64>) -> ClientMetrics {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        ClientMetrics {
            requests: read(&self.requests),
            responses_2xx: read(&self.responses_2xx),
            responses_3xx: read(&self.responses_3xx),
            responses_4xx: read(&self.responses_4xx),
            responses_5xx: read(&self.responses_5xx),
            transport_errors: read(&self.transport_errors),
            retries: read(&self.retries),
            rate_limited: read(&self.rate_limited),
            relogins: read(&self.relogins),
            refreshes: read(&self.refreshes),
            adaptive_rate,
        }
    }
}
