//! Fault injection: the switches (`Faults`), and the injector that turns them into decisions for
//! each `/api/v2` request, repeatably when a seed is given.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::state::lock;

/// The fault switches, all off by default. Each is a flag of the `odin-sim` binary, a field here,
/// and a key of the JSON that `PUT /_sim/faults` takes (snake_case, camelCase accepted).
/// Probabilities are between 0 and 1 and are drawn per request (or per generated value).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, clap::Args)]
#[serde(default)]
pub struct Faults {
    /// Milliseconds of latency added to every /api/v2 request and OCI-P document
    #[arg(long, value_name = "MS", default_value_t = 0)]
    #[serde(alias = "latencyMs")]
    pub latency_ms: u64,
    /// Probability of a 500, 502, 503 or 504 answer before anything happens
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = probability)]
    #[serde(alias = "failRate")]
    pub fail_rate: f64,
    /// Probability of a 500 answer after the request took effect (the ambiguous case)
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = probability)]
    #[serde(alias = "failAfterRate")]
    pub fail_after_rate: f64,
    /// Probability of closing the connection without an answer, before or after the request
    /// took effect (even odds)
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = probability)]
    #[serde(alias = "dropRate")]
    pub drop_rate: f64,
    /// Requests per second accepted over all clients; beyond it, 429 with Retry-After
    #[arg(long, value_name = "R", value_parser = positive_rate)]
    #[serde(alias = "rateLimit")]
    pub rate_limit: Option<f64>,
    /// The most values a generator returns in one answer, whatever `limit` asked
    #[arg(long, value_name = "N", value_parser = at_least_one)]
    #[serde(alias = "generatorCap")]
    pub generator_cap: Option<usize>,
    /// Probability that a generated value breaks the rules it should follow
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = probability)]
    #[serde(alias = "badValueRate")]
    pub bad_value_rate: f64,
    /// Probability that an error answer comes as an HTML page instead of JSON
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = probability)]
    #[serde(alias = "htmlErrorRate")]
    pub html_error_rate: f64,
    /// Probability that a 2xx answer's JSON is cut in half (after the request took effect)
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = probability)]
    #[serde(alias = "truncatedJsonRate")]
    pub truncated_json_rate: f64,
    /// Probability that an answer is followed by 16 MiB of JSON whitespace
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = probability)]
    #[serde(alias = "enormousBodyRate")]
    pub enormous_body_rate: f64,
    /// Probability of a 200 answer carrying an error body, before anything happens
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = probability)]
    #[serde(alias = "okWithErrorRate")]
    pub ok_with_error_rate: f64,
    /// Probability that an answer naming a user names another one (a setter still changes the
    /// user asked for)
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = probability)]
    #[serde(alias = "otherUserRate")]
    pub other_user_rate: f64,
    /// Probability that a generated value is the empty string
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = probability)]
    #[serde(alias = "emptyValueRate")]
    pub empty_value_rate: f64,
    /// Probability that a generated value repeats the one before it
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = probability)]
    #[serde(alias = "duplicateValueRate")]
    pub duplicate_value_rate: f64,
    /// Probability that a generated value contains a control character
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = probability)]
    #[serde(alias = "controlCharRate")]
    pub control_char_rate: f64,
    /// Probability that a generated value is of the wrong kind: letters in a passcode, a JSON
    /// number instead of a password string
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = probability)]
    #[serde(alias = "wrongKindRate")]
    pub wrong_kind_rate: f64,
    /// Probability that a request carrying a secret in its body (a new password or passcode,
    /// the login password, a token) takes effect and is then answered 500 with details that
    /// quote the secret
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = probability)]
    #[serde(alias = "echoSecretRate")]
    pub echo_secret_rate: f64,
}

fn probability(text: &str) -> Result<f64, String> {
    let value: f64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number"))?;
    if (0.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        Err(format!("`{text}` is not a probability between 0 and 1"))
    }
}

fn positive_rate(text: &str) -> Result<f64, String> {
    let value: f64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number"))?;
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        Err(format!(
            "`{text}` is not a positive number of requests per second"
        ))
    }
}

fn at_least_one(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(value) if value >= 1 => Ok(value),
        _ => Err(format!("`{text}` is not a whole number of at least 1")),
    }
}

impl Faults {
    fn probabilities(&self) -> [(&'static str, f64); 14] {
        [
            ("fail_rate", self.fail_rate),
            ("fail_after_rate", self.fail_after_rate),
            ("drop_rate", self.drop_rate),
            ("bad_value_rate", self.bad_value_rate),
            ("html_error_rate", self.html_error_rate),
            ("truncated_json_rate", self.truncated_json_rate),
            ("enormous_body_rate", self.enormous_body_rate),
            ("ok_with_error_rate", self.ok_with_error_rate),
            ("other_user_rate", self.other_user_rate),
            ("empty_value_rate", self.empty_value_rate),
            ("duplicate_value_rate", self.duplicate_value_rate),
            ("control_char_rate", self.control_char_rate),
            ("wrong_kind_rate", self.wrong_kind_rate),
            ("echo_secret_rate", self.echo_secret_rate),
        ]
    }

    /// Whether every switch is off.
    pub fn is_quiet(&self) -> bool {
        self.probabilities().iter().all(|(_, value)| *value == 0.0)
            && self.latency_ms == 0
            && self.rate_limit.is_none()
            && self.generator_cap.is_none()
    }

    /// The same switches forced into range: probabilities into 0..=1 (not-a-number is 0), a
    /// rate limit that is not positive is off, a cap of 0 is 1.
    pub fn clamped(self) -> Faults {
        let probability = |value: f64| {
            if value.is_nan() {
                0.0
            } else {
                value.clamp(0.0, 1.0)
            }
        };
        Faults {
            latency_ms: self.latency_ms,
            fail_rate: probability(self.fail_rate),
            fail_after_rate: probability(self.fail_after_rate),
            drop_rate: probability(self.drop_rate),
            rate_limit: self
                .rate_limit
                .filter(|rate| rate.is_finite() && *rate > 0.0),
            generator_cap: self.generator_cap.map(|cap| cap.max(1)),
            bad_value_rate: probability(self.bad_value_rate),
            html_error_rate: probability(self.html_error_rate),
            truncated_json_rate: probability(self.truncated_json_rate),
            enormous_body_rate: probability(self.enormous_body_rate),
            ok_with_error_rate: probability(self.ok_with_error_rate),
            other_user_rate: probability(self.other_user_rate),
            empty_value_rate: probability(self.empty_value_rate),
            duplicate_value_rate: probability(self.duplicate_value_rate),
            control_char_rate: probability(self.control_char_rate),
            wrong_kind_rate: probability(self.wrong_kind_rate),
            echo_secret_rate: probability(self.echo_secret_rate),
        }
    }

    /// Checks the ranges: probabilities within 0..=1, a positive rate limit, a cap of at least 1.
    pub fn validate(&self) -> Result<(), crate::Error> {
        let invalid = |message: String| crate::Error::InvalidFaults { message };
        for (name, value) in self.probabilities() {
            if !(0.0..=1.0).contains(&value) {
                return Err(invalid(format!(
                    "{name} must be between 0 and 1, not {value}"
                )));
            }
        }
        if let Some(rate) = self.rate_limit
            && !(rate.is_finite() && rate > 0.0)
        {
            return Err(invalid(format!("rate_limit must be positive, not {rate}")));
        }
        if self.generator_cap == Some(0) {
            return Err(invalid("generator_cap must be at least 1".to_owned()));
        }
        Ok(())
    }
}

/// When a dropped connection is closed relative to the request taking effect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DropMoment {
    BeforeChange,
    AfterChange,
}

/// The faults decided for one request, all drawn when it arrives.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct RequestFaults {
    pub latency: Duration,
    /// Rate limited: the Retry-After seconds.
    pub rate_limited: Option<u64>,
    pub fail_before: Option<StatusCode>,
    pub drop: Option<DropMoment>,
    pub ok_with_error: bool,
    pub fail_after: bool,
    pub html_error: bool,
    pub truncate: bool,
    pub enormous: bool,
    pub echo_secret: bool,
}

/// A global token bucket: `rate` tokens a second, holding at most one second's worth.
#[derive(Debug)]
struct TokenBucket {
    rate: f64,
    capacity: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    fn new(rate: f64) -> Self {
        let capacity = rate.max(1.0);
        TokenBucket {
            rate,
            capacity,
            tokens: capacity,
            last: Instant::now(),
        }
    }

    /// Takes a token, or says how many whole seconds to wait for one.
    fn take(&mut self, now: Instant) -> Result<(), u64> {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.capacity);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - self.tokens) / self.rate;
            Err(wait.ceil().max(1.0) as u64)
        }
    }
}

#[derive(Debug)]
struct FaultState {
    faults: Faults,
    rng: StdRng,
    bucket: Option<TokenBucket>,
}

/// Draws the faults of each request from the current switches.
#[derive(Debug)]
pub(crate) struct FaultInjector {
    /// False while every switch is off: requests then skip the lock entirely.
    active: AtomicBool,
    state: Mutex<FaultState>,
}

/// Salt so that fault draws and generated values use different streams of the same seed.
const FAULT_STREAM: u64 = 0x6661_756c_7473;

pub(crate) fn chance(rng: &mut impl Rng, probability: f64) -> bool {
    if probability <= 0.0 {
        false
    } else if probability >= 1.0 {
        true
    } else {
        rng.random_bool(probability)
    }
}

impl FaultInjector {
    pub(crate) fn new(faults: Faults, seed: Option<u64>) -> Self {
        let rng = match seed {
            Some(seed) => StdRng::seed_from_u64(seed ^ FAULT_STREAM),
            None => StdRng::from_os_rng(),
        };
        let injector = FaultInjector {
            active: AtomicBool::new(false),
            state: Mutex::new(FaultState {
                faults: Faults::default(),
                rng,
                bucket: None,
            }),
        };
        injector.set(faults);
        injector
    }

    pub(crate) fn current(&self) -> Faults {
        lock(&self.state).faults.clone()
    }

    /// Replaces the switches. The rate limiter starts full when its rate changes.
    pub(crate) fn set(&self, faults: Faults) {
        let mut state = lock(&self.state);
        if state.faults.rate_limit != faults.rate_limit {
            state.bucket = faults.rate_limit.map(TokenBucket::new);
        }
        self.active.store(!faults.is_quiet(), Ordering::Release);
        state.faults = faults;
    }

    /// Draws the request-level faults of one request.
    pub(crate) fn plan(&self) -> RequestFaults {
        if !self.active.load(Ordering::Acquire) {
            return RequestFaults::default();
        }
        let mut state = lock(&self.state);
        let FaultState {
            faults,
            rng,
            bucket,
        } = &mut *state;
        let mut plan = RequestFaults {
            latency: Duration::from_millis(faults.latency_ms),
            ..RequestFaults::default()
        };
        if let Some(bucket) = bucket {
            plan.rate_limited = bucket.take(Instant::now()).err();
        }
        if chance(rng, faults.fail_rate) {
            const STATUSES: [StatusCode; 4] = [
                StatusCode::INTERNAL_SERVER_ERROR,
                StatusCode::BAD_GATEWAY,
                StatusCode::SERVICE_UNAVAILABLE,
                StatusCode::GATEWAY_TIMEOUT,
            ];
            plan.fail_before = Some(STATUSES[rng.random_range(0..STATUSES.len())]);
        }
        if chance(rng, faults.drop_rate) {
            plan.drop = Some(if rng.random_bool(0.5) {
                DropMoment::BeforeChange
            } else {
                DropMoment::AfterChange
            });
        }
        plan.ok_with_error = chance(rng, faults.ok_with_error_rate);
        plan.fail_after = chance(rng, faults.fail_after_rate);
        plan.html_error = chance(rng, faults.html_error_rate);
        plan.truncate = chance(rng, faults.truncated_json_rate);
        plan.enormous = chance(rng, faults.enormous_body_rate);
        plan.echo_secret = chance(rng, faults.echo_secret_rate);
        plan
    }

    /// Draws one handler-level fault, e.g. `|faults| faults.other_user_rate`.
    pub(crate) fn roll(&self, probability: impl Fn(&Faults) -> f64) -> bool {
        if !self.active.load(Ordering::Acquire) {
            return false;
        }
        let mut state = lock(&self.state);
        let probability = probability(&state.faults);
        chance(&mut state.rng, probability)
    }

    /// The switches a generator needs, or `None` when all are off.
    pub(crate) fn snapshot(&self) -> Option<Faults> {
        if self.active.load(Ordering::Acquire) {
            Some(self.current())
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_bucket_allows_a_second_worth_then_refuses() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(2.0);
        bucket.last = start;
        assert!(bucket.take(start).is_ok());
        assert!(bucket.take(start).is_ok());
        assert_eq!(bucket.take(start), Err(1));
        assert!(bucket.take(start + Duration::from_millis(500)).is_ok());
        let mut slow = TokenBucket::new(0.01);
        slow.last = start;
        assert!(slow.take(start).is_ok());
        assert_eq!(slow.take(start), Err(100));
    }

    #[test]
    fn seeded_plans_repeat() {
        let faults = Faults {
            fail_rate: 0.5,
            drop_rate: 0.3,
            ..Faults::default()
        };
        let draw = || {
            let injector = FaultInjector::new(faults.clone(), Some(42));
            (0..50)
                .map(|_| {
                    let plan = injector.plan();
                    (plan.fail_before, plan.drop)
                })
                .collect::<Vec<_>>()
        };
        let first = draw();
        assert_eq!(first, draw());
        assert!(first.iter().any(|(fail, _)| fail.is_some()));
        assert!(first.iter().any(|(fail, _)| fail.is_none()));
    }

    #[test]
    fn validation_and_quietness() {
        assert!(Faults::default().is_quiet());
        assert!(Faults::default().validate().is_ok());
        let noisy = Faults {
            generator_cap: Some(5),
            ..Faults::default()
        };
        assert!(!noisy.is_quiet());
        let bad = Faults {
            drop_rate: 1.5,
            ..Faults::default()
        };
        assert!(bad.validate().is_err());
        let parsed: Faults =
            serde_json::from_str(r#"{"failRate": 0.25, "generator_cap": 3}"#).unwrap();
        assert_eq!(parsed.fail_rate, 0.25);
        assert_eq!(parsed.generator_cap, Some(3));
    }
}
