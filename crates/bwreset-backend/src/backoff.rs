//! The one backoff of the workspace: exponential, capped, with full jitter.

use std::time::Duration;

use rand::Rng;

/// How long to wait before trying again: after the `n`th failure the wait is a uniformly random
/// duration between zero and `min(initial * 2^(n-1), max)` ("full jitter"), so that many
/// workers that failed together do not come back together.
///
/// Used by the clients between retries of one request, and by the engine between re-sends of
/// one value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// The ceiling of the first wait.
    pub initial: Duration,
    /// The largest ceiling of any wait.
    pub max: Duration,
}

impl Backoff {
    /// The ceiling of the wait after `failures` failures (1 = after the first):
    /// `initial * 2^(failures-1)`, capped at `max`.
    pub fn ceiling(&self, failures: u32) -> Duration {
        let exponent = failures.saturating_sub(1).min(31);
        self.initial
            .checked_mul(1u32 << exponent)
            .unwrap_or(self.max)
            .min(self.max)
    }

    /// The wait after `failures` failures: uniformly random between zero and
    /// [`Self::ceiling`].
    pub fn delay(&self, failures: u32) -> Duration {
        let ceiling = self.ceiling(failures);
        if ceiling.is_zero() {
            return ceiling;
        }
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(rand::rng().random_range(0..=nanos))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ceiling_doubles_up_to_the_maximum() {
        let backoff = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(2),
        };
        assert_eq!(backoff.ceiling(0), Duration::from_millis(100));
        assert_eq!(backoff.ceiling(1), Duration::from_millis(100));
        assert_eq!(backoff.ceiling(2), Duration::from_millis(200));
        assert_eq!(backoff.ceiling(3), Duration::from_millis(400));
        assert_eq!(backoff.ceiling(6), Duration::from_secs(2));
        assert_eq!(backoff.ceiling(u32::MAX), Duration::from_secs(2));
    }

    #[test]
    fn delays_stay_under_the_ceiling_and_vary() {
        let backoff = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(10),
        };
        for failures in 0..40 {
            for _ in 0..20 {
                assert!(backoff.delay(failures) <= backoff.ceiling(failures));
            }
        }
        let samples: std::collections::HashSet<Duration> =
            (0..50).map(|_| backoff.delay(5)).collect();
        assert!(samples.len() > 1, "full jitter gives different waits");
    }

    #[test]
    fn a_zero_backoff_never_waits() {
        let backoff = Backoff {
            initial: Duration::ZERO,
            max: Duration::from_secs(1),
        };
        assert_eq!(backoff.delay(3), Duration::ZERO);
    }
}
