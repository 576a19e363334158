//! Pacing shared by every request of a client: a cap on requests in flight, an optional hard
//! rate, and an adaptive rate that backs off when the server says "too many" and recovers with
//! time.
//!
//! The adaptive part works on a request *rate*, not on the number in flight: with answers that
//! take almost no time, a handful of requests in flight can already exceed what a server allows,
//! so only spacing the requests out helps. On a throttle signal (429, or 503 with `Retry-After`)
//! the pacer pauses the whole client for the `Retry-After` time, estimates the rate the server
//! accepted over the last few seconds, and restarts at [`DECREASE_FACTOR`] of it. The rate then climbs
//! back along a cubic curve (as TCP CUBIC does): quickly at first, flat near the rate that was
//! too much, then probing beyond it, and after a while the limit is dropped entirely. A burst of
//! throttled answers to requests sent before the decrease counts once.
//!
//! The lock guards a few numbers and is never held across an await: acquiring a turn costs a
//! semaphore permit and one short critical section.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, SemaphorePermit};

/// The rate after a throttle signal, as a fraction of the rate the server accepted.
const DECREASE_FACTOR: f64 = 0.9;
/// Time for the rate to climb back to where the server said "too many".
const RECOVERY: Duration = Duration::from_secs(4);
/// Once the curve is this many times above that rate, the adaptive limit is dropped.
const RELEASE_FACTOR: f64 = 4.0;
/// Never slower than this (requests per second).
const MIN_RATE: f64 = 1.0;
/// The rate assumed when the server throttles before any answer was accepted.
const FALLBACK_RATE: f64 = 50.0;
/// The longest global pause a `Retry-After` can impose (a request may still wait longer).
const MAX_PAUSE: Duration = Duration::from_secs(60);
/// Accepted answers are counted in buckets of this length over [`WINDOW_BUCKETS`] buckets: the
/// accepted rate is measured over up to 10 s, pauses included, since a server's burst allowance
/// (a token bucket holding a second's worth, say) makes a short span look faster than the server
/// is.
const BUCKET: Duration = Duration::from_millis(250);
const WINDOW_BUCKETS: usize = 40;
/// The shortest span a rate is measured over.
const MIN_SPAN: Duration = Duration::from_millis(20);
/// A wait shorter than this is not worth a timer.
const MIN_SLEEP: Duration = Duration::from_micros(500);

/// The shared pacer of one client.
#[derive(Debug)]
pub(crate) struct Pacer {
    in_flight: Semaphore,
    max_rate: Option<f64>,
    state: Mutex<RateState>,
}

/// A request's right to be in flight; dropping it frees the place.
#[derive(Debug)]
pub(crate) struct Turn<'a> {
    /// `None` only if the semaphore was closed, which nothing does (see [`Pacer::turn`]).
    _permit: Option<SemaphorePermit<'a>>,
    /// When the request was let go: throttle signals about requests sent before the last
    /// decrease do not decrease the rate again.
    pub(crate) sent_at: Instant,
}

#[derive(Debug)]
struct RateState {
    origin: Instant,
    /// The accepted rate when the server last throttled us; `None` = no adaptive limit.
    ceiling: Option<f64>,
    /// When the current climb started (the end of the pause after the last decrease).
    epoch_start: Instant,
    paused_until: Option<Instant>,
    /// The earliest time the next request may go when a rate applies.
    next_slot: Instant,
    /// Accepted answers per bucket; `bucket_index` is the absolute index of the newest bucket.
    buckets: [u32; WINDOW_BUCKETS],
    bucket_index: u64,
}

impl Pacer {
    pub(crate) fn new(max_in_flight: usize, max_rate: Option<f64>) -> Self {
        let now = Instant::now();
        let max_rate = max_rate.filter(|rate| rate.is_finite() && *rate > 0.0);
        Self {
            in_flight: Semaphore::new(max_in_flight.clamp(1, Semaphore::MAX_PERMITS)),
            max_rate,
            state: Mutex::new(RateState {
                origin: now,
                ceiling: None,
                epoch_start: now,
                paused_until: None,
                next_slot: now,
                buckets: [0; WINDOW_BUCKETS],
                bucket_index: 0,
            }),
        }
    }

    /// Waits for a place in flight and for the request's turn under the rate limits.
    pub(crate) async fn turn(&self) -> Turn<'_> {
        // The semaphore is never closed, so acquiring cannot fail. If it ever did, the request
        // goes ahead without a place: a closed semaphore never gives one again, so waiting
        // would hang the run, and failing the request would fail a user for no fault of theirs.
        let permit = self.in_flight.acquire().await.ok();
        loop {
            let deadline = self.lock().reserve(Instant::now(), self.max_rate);
            match deadline {
                None => break,
                Some(deadline) => {
                    tokio::time::sleep_until(deadline.into()).await;
                    // A pause that began while we slept applies to us too.
                    if !self.lock().is_paused(Instant::now()) {
                        break;
                    }
                }
            }
        }
        Turn {
            _permit: permit,
            sent_at: Instant::now(),
        }
    }

    /// An answer that was not a throttle signal.
    pub(crate) fn on_accepted(&self) {
        self.lock().count_accepted(Instant::now());
    }

    /// The server asked us to slow down (429, or 503 with `Retry-After`).
    pub(crate) fn on_throttled(&self, sent_at: Instant, retry_after: Option<Duration>) {
        self.lock().throttle(Instant::now(), sent_at, retry_after);
    }

    /// The adaptive rate in force now, if any.
    pub(crate) fn adaptive_rate(&self) -> Option<f64> {
        self.lock().adaptive_rate(Instant::now())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, RateState> {
        // The state is a few numbers, valid after any panic; keep going with it.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl RateState {
    fn is_paused(&self, now: Instant) -> bool {
        self.paused_until.is_some_and(|until| until > now)
    }

    /// Books the next slot; returns when to go, or `None` to go now.
    fn reserve(&mut self, now: Instant, max_rate: Option<f64>) -> Option<Instant> {
        if let Some(until) = self.paused_until {
            if until > now {
                return Some(until);
            }
            self.paused_until = None;
        }
        let rate = match (self.adaptive_rate(now), max_rate) {
            (Some(adaptive), Some(hard)) => adaptive.min(hard),
            (Some(rate), None) | (None, Some(rate)) => rate,
            (None, None) => return None,
        };
        let interval = Duration::from_secs_f64(1.0 / rate.max(MIN_RATE));
        let slot = self.next_slot.max(now);
        self.next_slot = slot + interval;
        let wait = slot.saturating_duration_since(now);
        (wait >= MIN_SLEEP).then_some(slot)
    }

    fn adaptive_rate(&mut self, now: Instant) -> Option<f64> {
        let ceiling = self.ceiling?;
        let factor = climb_factor(now.saturating_duration_since(self.epoch_start));
        if factor >= RELEASE_FACTOR {
            self.ceiling = None;
            return None;
        }
        Some((ceiling * factor).max(MIN_RATE))
    }

    fn advance_buckets(&mut self, now: Instant) {
        let index = (now.saturating_duration_since(self.origin).as_nanos() / BUCKET.as_nanos())
            .try_into()
            .unwrap_or(u64::MAX);
        if index <= self.bucket_index {
            return;
        }
        let stale = (index - self.bucket_index).min(WINDOW_BUCKETS as u64);
        for step in 1..=stale {
            let slot = ((self.bucket_index + step) % WINDOW_BUCKETS as u64) as usize;
            self.buckets[slot] = 0;
        }
        self.bucket_index = index;
    }

    fn count_accepted(&mut self, now: Instant) {
        self.advance_buckets(now);
        let slot = (self.bucket_index % WINDOW_BUCKETS as u64) as usize;
        self.buckets[slot] = self.buckets[slot].saturating_add(1);
    }

    /// Accepted answers per second over the window, pauses included: what the server let
    /// through over that time. `None` when nothing was accepted in that time.
    fn accepted_rate(&mut self, now: Instant) -> Option<f64> {
        self.advance_buckets(now);
        let span = now
            .saturating_duration_since(self.origin)
            .min(BUCKET * WINDOW_BUCKETS as u32)
            .max(MIN_SPAN);
        // Whole buckets covering the span, the current (partial) one included; the rate is
        // their count over the time they cover.
        let buckets = (span.as_nanos().div_ceil(BUCKET.as_nanos()) as u64)
            .clamp(1, WINDOW_BUCKETS as u64)
            .min(self.bucket_index + 1);
        let oldest = self.bucket_index + 1 - buckets;
        let accepted: u64 = (oldest..=self.bucket_index)
            .map(|index| u64::from(self.buckets[(index % WINDOW_BUCKETS as u64) as usize]))
            .sum();
        let covered_start = self.origin
            + Duration::from_nanos(
                u64::try_from(BUCKET.as_nanos())
                    .unwrap_or(u64::MAX)
                    .saturating_mul(oldest),
            );
        let covered = now.saturating_duration_since(covered_start).max(MIN_SPAN);
        (accepted > 0).then(|| accepted as f64 / covered.as_secs_f64())
    }

    fn throttle(&mut self, now: Instant, sent_at: Instant, retry_after: Option<Duration>) {
        if let Some(wait) = retry_after.filter(|wait| !wait.is_zero()) {
            let until = now + wait.min(MAX_PAUSE);
            if self.paused_until.is_none_or(|current| current < until) {
                self.paused_until = Some(until);
            }
        }
        let limited = self.ceiling.is_some();
        if limited && sent_at < self.epoch_start {
            // An answer to a request sent before the last decrease: already accounted for.
            return;
        }
        let current = self.adaptive_rate(now);
        let accepted = self.accepted_rate(now);
        let ceiling = match (accepted, current) {
            (Some(accepted), Some(current)) => accepted.min(current),
            (Some(rate), None) | (None, Some(rate)) => rate,
            (None, None) => FALLBACK_RATE,
        }
        .max(MIN_RATE / DECREASE_FACTOR);
        self.ceiling = Some(ceiling);
        self.epoch_start = self.paused_until.map_or(now, |until| until.max(now));
        // Slots booked at the old rate are forgotten; the new spacing starts after the pause.
        self.next_slot = self.epoch_start;
    }
}

/// The adaptive rate as a fraction of the ceiling, `elapsed` after the decrease:
/// `1 - (1 - DECREASE_FACTOR) * (1 - t/RECOVERY)^3`, which starts at [`DECREASE_FACTOR`], is
/// back at 1 after [`RECOVERY`], and then probes upwards ever faster.
fn climb_factor(elapsed: Duration) -> f64 {
    let progress = elapsed.as_secs_f64() / RECOVERY.as_secs_f64();
    1.0 - (1.0 - DECREASE_FACTOR) * (1.0 - progress).powi(3)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(now: Instant) -> RateState {
        RateState {
            origin: now,
            ceiling: None,
            epoch_start: now,
            paused_until: None,
            next_slot: now,
            buckets: [0; WINDOW_BUCKETS],
            bucket_index: 0,
        }
    }

    #[test]
    fn climb_curve_shape() {
        assert!((climb_factor(Duration::ZERO) - DECREASE_FACTOR).abs() < 1e-9);
        assert!((climb_factor(RECOVERY) - 1.0).abs() < 1e-9);
        assert!(climb_factor(RECOVERY / 2) < 1.0);
        assert!(climb_factor(RECOVERY / 2) > DECREASE_FACTOR);
        assert!(climb_factor(RECOVERY * 2) > 1.0);
        assert!(climb_factor(RECOVERY * 5) > RELEASE_FACTOR);
    }

    #[test]
    fn unlimited_until_throttled() {
        let now = Instant::now();
        let mut state = state(now);
        for _ in 0..1000 {
            assert_eq!(state.reserve(now, None), None);
        }
    }

    #[test]
    fn hard_rate_spaces_requests() {
        let now = Instant::now();
        let mut state = state(now);
        assert_eq!(state.reserve(now, Some(10.0)), None);
        assert_eq!(
            state.reserve(now, Some(10.0)),
            Some(now + Duration::from_millis(100))
        );
        assert_eq!(
            state.reserve(now, Some(10.0)),
            Some(now + Duration::from_millis(200))
        );
    }

    #[test]
    fn throttle_pauses_then_limits_to_a_fraction_of_the_accepted_rate() {
        let start = Instant::now();
        let mut state = state(start);
        // 300 accepted answers spread over one second.
        for step in 0..300u64 {
            state.count_accepted(start + Duration::from_micros(step * 3333));
        }
        let now = start + Duration::from_secs(1);
        state.throttle(now, now, Some(Duration::from_secs(2)));
        let pause_end = now + Duration::from_secs(2);
        assert!(state.is_paused(now + Duration::from_secs(1)));
        assert_eq!(state.reserve(now, None), Some(pause_end));
        let rate = state.adaptive_rate(pause_end).unwrap();
        assert!(
            (200.0..=300.0).contains(&rate),
            "rate after the decrease: {rate}"
        );
        // Recovers with time and is eventually dropped.
        let later = state.adaptive_rate(pause_end + RECOVERY).unwrap();
        assert!(later > rate);
        assert_eq!(state.adaptive_rate(pause_end + RECOVERY * 10), None);
    }

    #[test]
    fn stale_throttle_signals_count_once() {
        let start = Instant::now();
        let mut state = state(start);
        for step in 0..100u64 {
            state.count_accepted(start + Duration::from_millis(step * 10));
        }
        let now = start + Duration::from_secs(1);
        state.throttle(now, now - Duration::from_millis(5), None);
        let first = state.adaptive_rate(now).unwrap();
        // More answers to requests sent before the decrease: no further decrease.
        for _ in 0..20 {
            state.throttle(now, now - Duration::from_millis(5), None);
        }
        assert!((state.adaptive_rate(now).unwrap() - first).abs() < 1e-9);
        // A request sent after the decrease and still throttled: decrease again.
        let later = now + Duration::from_millis(200);
        state.throttle(later, later - Duration::from_millis(1), None);
        assert!(state.adaptive_rate(later).unwrap() < first);
    }

    #[test]
    fn throttle_without_history_uses_a_fallback() {
        let now = Instant::now();
        let mut state = state(now);
        state.throttle(now, now, None);
        let rate = state.adaptive_rate(now).unwrap();
        assert!((rate - FALLBACK_RATE * DECREASE_FACTOR).abs() < 1e-6);
        assert!(!state.is_paused(now));
    }

    #[test]
    fn rate_never_below_the_floor() {
        let now = Instant::now();
        let mut state = state(now);
        let mut time = now;
        for _ in 0..200 {
            time += Duration::from_millis(10);
            state.throttle(time, time, None);
        }
        assert!(state.adaptive_rate(time).unwrap() >= MIN_RATE);
    }

    #[test]
    fn pause_is_capped() {
        let now = Instant::now();
        let mut state = state(now);
        state.throttle(now, now, Some(Duration::from_secs(86_400)));
        assert_eq!(state.paused_until, Some(now + MAX_PAUSE));
    }

    #[test]
    fn a_closed_semaphore_lets_the_request_go_at_once() {
        let pacer = Pacer::new(1, None);
        pacer.in_flight.close();
        let mut turn = std::pin::pin!(pacer.turn());
        let mut context = std::task::Context::from_waker(std::task::Waker::noop());
        // One poll: a turn that waited or spun for a permit would be pending here.
        match turn.as_mut().poll(&mut context) {
            std::task::Poll::Ready(turn) => assert!(turn._permit.is_none()),
            std::task::Poll::Pending => panic!("the turn waits for a closed semaphore"),
        }
    }

    #[tokio::test]
    async fn in_flight_is_bounded() {
        let pacer = Pacer::new(2, None);
        let first = pacer.turn().await;
        let _second = pacer.turn().await;
        assert_eq!(pacer.in_flight.available_permits(), 0);
        drop(first);
        assert_eq!(pacer.in_flight.available_permits(), 1);
        let _third = pacer.turn().await;
        assert_eq!(pacer.in_flight.available_permits(), 0);
    }
}
