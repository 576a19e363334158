//! New values: a producer task asks the server's generator in batches, ahead of the workers, and
//! hands out each usable value once.

use std::collections::{HashSet, VecDeque};
use std::hash::{BuildHasher, RandomState};
use std::sync::Mutex;

use bwreset_backend::{Backend, BackendError, Backoff, ErrorKind, GroupScope};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Notify;

use crate::types::PasswordType;

/// SIP password lengths the server accepts at most (and at least, by default).
const SIP_LENGTH: std::ops::RangeInclusive<usize> = 6..=60;

/// The fewest values asked for in one request (unless the batch is smaller).
const MIN_REQUEST: usize = 16;

/// Values fetched from the generator before a run starts (while the plan read the group
/// listing), to be handed to the run's pool: they spare the workers the wait for the first
/// batch. `Debug` shows only how many there are.
#[derive(Clone, Default)]
pub(crate) struct PrefetchedValues(Vec<SecretString>);

impl PrefetchedValues {
    pub(crate) fn new(values: Vec<SecretString>) -> Self {
        PrefetchedValues(values)
    }

    /// Whether there are none.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn into_values(self) -> Vec<SecretString> {
        self.0
    }
}

impl std::fmt::Debug for PrefetchedValues {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "PrefetchedValues({} values)", self.0.len())
    }
}

/// Why no value could be given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct NoValue(pub String);

/// Shared between the producer and the workers.
pub(crate) struct ValueSource {
    password_type: PasswordType,
    batch: usize,
    max_local_skips: u32,
    state: Mutex<PoolState>,
    /// Workers wait on this for new values.
    values_ready: Notify,
    /// The producer waits on this for demand.
    demand_changed: Notify,
    /// What the generator's values have been checked against: see [`Fingerprints`].
    fingerprints: Mutex<Fingerprints>,
}

/// The uniqueness rule, by the size of the space the values come from.
///
/// - **Passwords** (SIP, web) come from a space so large (12 or more characters of 62 and more)
///   that two equal values in one run mean a broken generator, never chance: no password is
///   given to two users, nor one the journal already holds (on resume). A fingerprint (a
///   64-bit keyed hash, 8 bytes) per value is kept, not the value.
/// - **Passcodes** (voicemail) come from a small space: with four-digit rules there are fewer
///   than 10,000, so a group of 12,000 users must share some, and BroadWorks does not ask two
///   users' passcodes to differ (each opens only its own mailbox). Repeats across users are
///   allowed. What is still caught is a generator that is stuck: a value that comes back more
///   than [`STUCK_REPEATS`] times among the last [`STUCK_WINDOW`] values generated is refused.
///   A healthy space of even 100 values gives each value about once per window, so only a
///   generator that hands out the same few values trips it.
struct Fingerprints {
    hasher: RandomState,
    /// Passwords: every value handed out in this run (and the journal's, on resume).
    seen: HashSet<u64>,
    /// Passcodes: the last [`STUCK_WINDOW`] values generated, oldest first, and how often each
    /// occurs among them.
    recent: VecDeque<u64>,
    recent_counts: std::collections::HashMap<u64, u32>,
}

/// How many of the last values generated the stuck-generator check of passcodes looks at.
const STUCK_WINDOW: usize = 200;
/// How often one passcode may occur among the last [`STUCK_WINDOW`] generated before the
/// generator is taken to be stuck (a fair draw from 100 values gives it about twice).
const STUCK_REPEATS: u32 = 20;

impl Fingerprints {
    fn fingerprint(&self, value: &str) -> u64 {
        self.hasher.hash_one(value)
    }

    /// Notes a value about to be handed out; false when it is a repeat the rule refuses (a
    /// password seen before, a passcode the generator keeps giving).
    fn note(&mut self, value: &str, password_type: PasswordType) -> bool {
        let fingerprint = self.fingerprint(value);
        if password_type.is_passcode() {
            self.note_recent(fingerprint)
        } else {
            self.seen.insert(fingerprint)
        }
    }

    /// Notes a passcode in the window of recent values; false when it already occurs too often
    /// there (the generator repeats itself).
    fn note_recent(&mut self, fingerprint: u64) -> bool {
        let count = self.recent_counts.entry(fingerprint).or_insert(0);
        if *count >= STUCK_REPEATS {
            return false;
        }
        *count += 1;
        self.recent.push_back(fingerprint);
        if self.recent.len() > STUCK_WINDOW
            && let Some(oldest) = self.recent.pop_front()
            && let std::collections::hash_map::Entry::Occupied(mut entry) =
                self.recent_counts.entry(oldest)
        {
            *entry.get_mut() -= 1;
            if *entry.get() == 0 {
                entry.remove();
            }
        }
        true
    }
}

/// Why a value made for one user cannot be used ([`ValueSource::accept`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Unfit {
    /// It breaks the checks every value must pass ([`is_usable`]).
    Unusable,
    /// A password handed out before in this run, or a passcode the generator keeps giving.
    Repeated,
    /// A SIP password that contains the user's authentication user name.
    ContainsUserName,
}

/// What one generator answer gave, value by value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct AnswerYield {
    /// Values kept for the pool.
    pub(crate) usable: usize,
    /// Values that break the checks every value must pass (empty, blanks or control
    /// characters, passcodes not all digits, SIP passwords outside 6..=60 characters).
    pub(crate) unusable: usize,
    /// Values refused as repeats: a password handed out before in this run, or a passcode the
    /// generator keeps giving.
    pub(crate) repeated: usize,
}

impl AnswerYield {
    /// Why an answer gave nothing usable, in words an operator can act on.
    fn useless_because(self, password_type: PasswordType) -> &'static str {
        match (self.unusable, self.repeated) {
            (0, 0) => {
                if password_type.is_passcode() {
                    "the generator answered with no passcodes (it refuses to generate): check \
                     that the server can generate passcodes under the group's passcode rules"
                } else {
                    "the generator answered with no passwords (it refuses to generate): check \
                     that the server can generate passwords under the group's password rules"
                }
            }
            (unusable, repeated) if repeated >= unusable => {
                if password_type.is_passcode() {
                    "the generator repeats itself (the same passcodes again and again): it \
                     looks stuck; check the server's generator, then `resume`"
                } else {
                    "the generator repeats itself (passwords already handed out in this run): \
                     either it is broken or the rules allow too few values; check the server's \
                     generator and the group's password rules, then `resume`"
                }
            }
            _ => {
                if password_type.is_passcode() {
                    "the generator's passcodes break the checks every value must pass (digits \
                     only, no blanks): check the group's passcode rules and the server's \
                     generator, then `resume`"
                } else {
                    "the generator's passwords break the checks every value must pass (no \
                     blanks or control characters; SIP: 6 to 60 characters): check the group's \
                     password rules and the server's generator, then `resume`"
                }
            }
        }
    }
}

#[derive(Default)]
struct PoolState {
    /// Values with their sequence numbers, oldest first.
    pool: VecDeque<(u64, SecretString)>,
    next_sequence: u64,
    /// First values still to be asked for by users not yet started.
    remaining_first: usize,
    /// Workers blocked in `take`.
    waiting: usize,
    /// Workers blocked after looking at every value in the pool without finding one for them.
    stale_waiters: usize,
    /// Set when the producer gave up.
    exhausted: Option<String>,
}

impl ValueSource {
    pub(crate) fn new(
        password_type: PasswordType,
        batch: usize,
        max_local_skips: u32,
        first_values: usize,
        known_values: impl Iterator<Item = SecretString>,
    ) -> Self {
        let mut fingerprints = Fingerprints {
            hasher: RandomState::new(),
            seen: HashSet::new(),
            recent: VecDeque::new(),
            recent_counts: std::collections::HashMap::new(),
        };
        // Passcodes may repeat across users: only passwords are kept unique.
        if !password_type.is_passcode() {
            for value in known_values {
                let fingerprint = fingerprints.fingerprint(value.expose_secret());
                fingerprints.seen.insert(fingerprint);
            }
        }
        ValueSource {
            password_type,
            batch: batch.max(1),
            max_local_skips,
            state: Mutex::new(PoolState {
                remaining_first: first_values,
                ..PoolState::default()
            }),
            values_ready: Notify::new(),
            demand_changed: Notify::new(),
            fingerprints: Mutex::new(fingerprints),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PoolState> {
        self.state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// A value for one user: the first usable value in the pool that does not contain
    /// `sip_user_name` (case-insensitively), waiting for the producer when there is none.
    /// `first`: the user's first value (counted in the producer's look-ahead).
    pub(crate) async fn take(
        &self,
        sip_user_name: Option<&str>,
        first: bool,
    ) -> Result<SecretString, NoValue> {
        let fits = |value: &SecretString| !holds_name(value, sip_user_name);
        if first {
            let mut state = self.lock();
            state.remaining_first = state.remaining_first.saturating_sub(1);
        }
        let mut inspected_up_to = 0u64;
        let mut skipped = 0u32;
        let mut registered = false;
        loop {
            let notified = self.values_ready.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut state = self.lock();
                if registered {
                    state.waiting -= 1;
                    registered = false;
                }
                let mut found = None;
                for (position, (sequence, value)) in state.pool.iter().enumerate() {
                    if fits(value) {
                        found = Some(position);
                        break;
                    }
                    if *sequence >= inspected_up_to {
                        skipped += 1;
                    }
                }
                inspected_up_to = state.next_sequence;
                if let Some(position) = found {
                    let value = state.pool.remove(position).map(|(_, value)| value);
                    drop(state);
                    self.demand_changed.notify_one();
                    if let Some(value) = value {
                        return Ok(value);
                    }
                    continue;
                }
                if skipped > self.max_local_skips {
                    return Err(NoValue(format!(
                        "none of {skipped} generated values satisfies the SIP rules checked \
                         locally (a password must not contain the authentication user name)"
                    )));
                }
                if let Some(reason) = &state.exhausted {
                    return Err(NoValue(reason.clone()));
                }
                state.waiting += 1;
                state.stale_waiters += 1;
                registered = true;
            }
            self.demand_changed.notify_one();
            notified.await;
        }
    }

    /// How many values to ask for now, or `None` when enough are ahead.
    fn wanted(&self) -> Option<usize> {
        let state = self.lock();
        let demand = state.remaining_first + state.waiting;
        let available = state.pool.len();
        let deficit = if state.stale_waiters > 0 {
            // Workers wait and nothing in the pool suits them.
            demand.saturating_sub(available).max(1)
        } else if available >= demand || available > self.batch / 2 {
            // Enough ahead; ask again only when the pool runs low, so requests stay full-sized.
            return None;
        } else {
            demand - available
        };
        // A few values more than the deficit cost no extra request, and spare a request when
        // some of them turn out unusable.
        Some(deficit.max(MIN_REQUEST).min(self.batch))
    }

    /// Keeps the usable values of one generator answer (see [`Fingerprints`] for which repeats
    /// are refused); says what the answer gave.
    pub(crate) fn add(&self, values: Vec<SecretString>) -> AnswerYield {
        let mut usable = Vec::with_capacity(values.len());
        let mut answer = AnswerYield::default();
        {
            let mut fingerprints = self
                .fingerprints
                .lock()
                .unwrap_or_else(|poison| poison.into_inner());
            for value in values {
                if !is_usable(value.expose_secret(), self.password_type) {
                    answer.unusable += 1;
                    continue;
                }
                if fingerprints.note(value.expose_secret(), self.password_type) {
                    usable.push(value);
                } else {
                    answer.repeated += 1;
                }
            }
        }
        let count = usable.len();
        answer.usable = count;
        if count > 0 {
            let mut state = self.lock();
            for value in usable {
                let sequence = state.next_sequence;
                state.next_sequence += 1;
                state.pool.push_back((sequence, value));
            }
            // A pool kept from growing by values nobody waiting can use: drop the oldest.
            let cap = self.batch * 4;
            while state.pool.len() > cap {
                state.pool.pop_front();
            }
            state.stale_waiters = 0;
            drop(state);
            self.values_ready.notify_waiters();
        }
        answer
    }

    /// Checks a value the server made for one user as a pooled value is checked (usable, not a
    /// repeat: see [`Fingerprints`]) and against the user's SIP user name; a value that passes
    /// counts as handed out.
    pub(crate) fn accept(
        &self,
        value: SecretString,
        sip_user_name: Option<&str>,
    ) -> Result<SecretString, Unfit> {
        if !is_usable(value.expose_secret(), self.password_type) {
            return Err(Unfit::Unusable);
        }
        if holds_name(&value, sip_user_name) {
            return Err(Unfit::ContainsUserName);
        }
        let fresh = self
            .fingerprints
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .note(value.expose_secret(), self.password_type);
        if fresh {
            Ok(value)
        } else {
            Err(Unfit::Repeated)
        }
    }

    /// Why no value made for one user could be used, after `unfit` tries, in words an operator
    /// can act on.
    pub(crate) fn no_value_for_user(&self, unfit: &[Unfit]) -> String {
        let count = |kind: Unfit| unfit.iter().filter(|&&found| found == kind).count();
        let (unusable, repeated) = (count(Unfit::Unusable), count(Unfit::Repeated));
        if unusable + repeated == 0 {
            format!(
                "none of the {} values the server generated for this user satisfies the SIP \
                 rules checked locally (a password must not contain the authentication user name)",
                unfit.len()
            )
        } else {
            let answer = AnswerYield {
                usable: 0,
                unusable,
                repeated,
            };
            format!(
                "{} values generated for this user, none usable: {}",
                unfit.len(),
                answer.useless_because(self.password_type)
            )
        }
    }

    fn give_up(&self, reason: String) {
        tracing::warn!(reason = %reason, "the value generator gave up");
        self.lock().exhausted = Some(reason);
        self.values_ready.notify_waiters();
    }

    /// Whether the producer has given up.
    #[cfg(test)]
    pub(crate) fn exhausted(&self) -> Option<String> {
        self.lock().exhausted.clone()
    }
}

/// Whether a generated value can be used at all: not empty, no control or blank characters,
/// passcodes all digits, SIP passwords within the lengths the server accepts.
pub(crate) fn is_usable(value: &str, password_type: PasswordType) -> bool {
    if value.is_empty()
        || value
            .chars()
            .any(|character| character.is_control() || character.is_whitespace())
    {
        return false;
    }
    match password_type {
        PasswordType::Vm => value.bytes().all(|byte| byte.is_ascii_digit()),
        PasswordType::Sip => SIP_LENGTH.contains(&value.chars().count()),
        PasswordType::Web => true,
    }
}

/// Whether a value contains the SIP user name (when there is one), which the SIP rules forbid.
fn holds_name(value: &SecretString, sip_user_name: Option<&str>) -> bool {
    sip_user_name
        .filter(|name| !name.is_empty())
        .is_some_and(|name| contains_ignore_case(value.expose_secret(), name))
}

/// Whether `value` contains `name`, ignoring case, without copying the value.
pub(crate) fn contains_ignore_case(value: &str, name: &str) -> bool {
    if name.is_empty() {
        return true;
    }
    value.char_indices().any(|(start, _)| {
        let mut candidate = value[start..].chars().flat_map(char::to_lowercase);
        name.chars()
            .flat_map(char::to_lowercase)
            .all(|expected| candidate.next() == Some(expected))
    })
}

/// What ends the producer.
pub(crate) enum ProducerEnd {
    /// The generator gave nothing usable too many times, or failed; the reason is in the source.
    GaveUp,
    /// Login no longer works: the run must stop.
    Unauthorized(String),
    /// The server did not answer the generator: the run must stop.
    Unavailable(BackendError),
}

/// Fills the pool until aborted (the run is over) or the generator gives up. After a failed
/// generator request it waits `backoff` (growing with the failures in a row) before asking
/// again, as every other retry of the engine does.
pub(crate) async fn produce<B: Backend>(
    backend: B,
    source: std::sync::Arc<ValueSource>,
    service_provider_id: String,
    group_id: String,
    max_useless_batches: u32,
    backoff: Backoff,
) -> ProducerEnd {
    let mut useless_in_a_row = 0u32;
    let mut failed_in_a_row = 0u32;
    loop {
        let limit = loop {
            let demand_changed = source.demand_changed.notified();
            tokio::pin!(demand_changed);
            demand_changed.as_mut().enable();
            if let Some(limit) = source.wanted() {
                break limit;
            }
            demand_changed.await;
        };
        let scope = GroupScope {
            service_provider_id: &service_provider_id,
            group_id: &group_id,
        };
        let answer = backend
            .generate(source.password_type.credential(), scope, limit)
            .await;
        match answer {
            Ok(values) => {
                failed_in_a_row = 0;
                let received = values.len();
                let answer = source.add(values);
                tracing::debug!(
                    asked = limit,
                    received,
                    usable = answer.usable,
                    unusable = answer.unusable,
                    repeated = answer.repeated,
                    "generated values"
                );
                if answer.usable > 0 {
                    useless_in_a_row = 0;
                    continue;
                }
                useless_in_a_row += 1;
                if useless_in_a_row >= max_useless_batches.max(1) {
                    source.give_up(format!(
                        "the server's generator gave no usable new value in {useless_in_a_row} \
                         answers in a row: {}",
                        answer.useless_because(source.password_type)
                    ));
                    return ProducerEnd::GaveUp;
                }
            }
            Err(error) if error.kind() == ErrorKind::LoginLost => {
                let reason = error.reason();
                source.give_up(format!("not attempted: login no longer works ({reason})"));
                return ProducerEnd::Unauthorized(reason);
            }
            Err(error) => {
                useless_in_a_row += 1;
                tracing::warn!(%error, "the value generator failed");
                if useless_in_a_row >= max_useless_batches.max(1) {
                    if error.kind().is_unavailability() {
                        // Nothing was sent for the users waiting: they are not attempted.
                        source.give_up(format!(
                            "not attempted: server unavailable (generator: {error})"
                        ));
                        return ProducerEnd::Unavailable(error);
                    }
                    source.give_up(format!("the server's generator failed: {error}"));
                    return ProducerEnd::GaveUp;
                }
                failed_in_a_row += 1;
                tokio::time::sleep(backoff.delay(failed_in_a_row)).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets(values: &[&str]) -> Vec<SecretString> {
        values
            .iter()
            .map(|value| SecretString::from(*value))
            .collect()
    }

    #[test]
    fn contains_ignore_case_works_without_copies() {
        assert!(contains_ignore_case("abcUSER01xyz", "user01"));
        assert!(contains_ignore_case("user01", "USER01"));
        assert!(!contains_ignore_case("abcUSER0xyz", "user01"));
        assert!(!contains_ignore_case("ab", "abc"));
        assert!(contains_ignore_case("xÄbc", "äB"));
    }

    #[test]
    fn usable_values() {
        assert!(is_usable("Abc123xyz", PasswordType::Sip));
        assert!(!is_usable("", PasswordType::Web));
        assert!(!is_usable("abc def", PasswordType::Web));
        assert!(!is_usable("abc\tdef", PasswordType::Web));
        assert!(!is_usable("abc\u{0}def", PasswordType::Web));
        assert!(!is_usable("Ab1", PasswordType::Sip));
        assert!(!is_usable(&"a".repeat(61), PasswordType::Sip));
        assert!(is_usable("12345678", PasswordType::Vm));
        assert!(!is_usable("1234a678", PasswordType::Vm));
        assert!(!is_usable("１２３４", PasswordType::Vm));
    }

    #[tokio::test]
    async fn repeated_passwords_and_unusable_values_are_discarded() {
        let source = ValueSource::new(
            PasswordType::Web,
            10,
            5,
            3,
            secrets(&["known-value-1"]).into_iter(),
        );
        let answer = source.add(secrets(&[
            "known-value-1",
            "value-two-22",
            "value-two-22",
            "bad value",
            "",
            "value-four-4",
        ]));
        assert_eq!(
            answer,
            AnswerYield {
                usable: 2,
                unusable: 2,
                repeated: 2
            }
        );
        let first = source.take(None, true).await.unwrap();
        let second = source.take(None, true).await.unwrap();
        assert_eq!(first.expose_secret(), "value-two-22");
        assert_eq!(second.expose_secret(), "value-four-4");
    }

    #[tokio::test]
    async fn passcodes_may_repeat_across_users() {
        // A four-digit space: a group larger than it must share passcodes, and may.
        let source = ValueSource::new(PasswordType::Vm, 10, 5, 3, secrets(&["1357"]).into_iter());
        let answer = source.add(secrets(&["1357", "2468", "2468", "12a4", "9753"]));
        assert_eq!(
            answer,
            AnswerYield {
                usable: 4,
                unusable: 1,
                repeated: 0
            }
        );
        for expected in ["1357", "2468", "2468", "9753"] {
            assert_eq!(
                source.take(None, true).await.unwrap().expose_secret(),
                expected
            );
        }
    }

    #[test]
    fn a_small_healthy_passcode_space_is_not_taken_for_a_stuck_generator() {
        // 100 values (two digits), drawn fairly: far more draws than values, none refused.
        let source = ValueSource::new(PasswordType::Vm, 100, 5, 0, std::iter::empty());
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut repeated = 0;
        for _ in 0..50 {
            let values: Vec<SecretString> = (0..100)
                .map(|_| {
                    // xorshift: a fair, repeatable draw.
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    SecretString::from(format!("{:02}", state % 100))
                })
                .collect();
            repeated += source.add(values).repeated;
        }
        assert_eq!(repeated, 0);
    }

    #[test]
    fn a_stuck_passcode_generator_is_caught_and_named() {
        let source = ValueSource::new(PasswordType::Vm, 100, 5, 0, std::iter::empty());
        // One value again and again, one at a time (a generator capped at one value per answer
        // escapes no check by it).
        let mut usable = 0;
        let mut last = AnswerYield::default();
        for _ in 0..100 {
            last = source.add(secrets(&["4826"]));
            usable += last.usable;
        }
        assert_eq!(usable, STUCK_REPEATS as usize);
        assert_eq!(last.repeated, 1);
        let reason = last.useless_because(PasswordType::Vm);
        assert!(reason.contains("repeats itself"), "{reason}");
        assert!(reason.contains("resume"), "{reason}");
    }

    #[test]
    fn useless_answers_say_why() {
        let empty = AnswerYield::default().useless_because(PasswordType::Sip);
        assert!(empty.contains("no passwords"), "{empty}");
        let broken = AnswerYield {
            usable: 0,
            unusable: 10,
            repeated: 0,
        }
        .useless_because(PasswordType::Vm);
        assert!(broken.contains("digits only"), "{broken}");
        let repeated = AnswerYield {
            usable: 0,
            unusable: 0,
            repeated: 10,
        }
        .useless_because(PasswordType::Web);
        assert!(repeated.contains("already handed out"), "{repeated}");
    }

    #[tokio::test]
    async fn a_value_containing_the_user_name_goes_to_another_user() {
        let source = ValueSource::new(PasswordType::Sip, 10, 5, 2, std::iter::empty());
        source.add(secrets(&["xxALICEyy1", "Other-Value-1"]));
        let alice = source.take(Some("alice"), true).await.unwrap();
        assert_eq!(alice.expose_secret(), "Other-Value-1");
        let bob = source.take(Some("bob"), true).await.unwrap();
        assert_eq!(bob.expose_secret(), "xxALICEyy1");
    }

    #[tokio::test]
    async fn too_many_unfit_values_fail_the_user() {
        let source = ValueSource::new(PasswordType::Sip, 10, 2, 1, std::iter::empty());
        source.add(secrets(&["a-alice-1", "b-alice-2", "c-alice-3"]));
        let error = source.take(Some("ALICE"), true).await.unwrap_err();
        assert!(error.0.contains("user name"), "{}", error.0);
    }

    #[tokio::test]
    async fn an_exhausted_source_fails_waiters() {
        let source = ValueSource::new(PasswordType::Web, 10, 2, 1, std::iter::empty());
        source.give_up("gone".into());
        assert_eq!(
            source.take(None, true).await.unwrap_err(),
            NoValue("gone".into())
        );
        assert_eq!(source.exhausted().as_deref(), Some("gone"));
    }

    #[test]
    fn wanted_asks_for_full_batches_and_stops_when_ahead() {
        let source = ValueSource::new(PasswordType::Web, 10, 2, 25, std::iter::empty());
        assert_eq!(source.wanted(), Some(10));
        source.add(secrets(&["v1-aaaaaa", "v2-aaaaaa", "v3-aaaaaa"]));
        // 3 ahead, below half a batch: ask for a full batch more.
        assert_eq!(source.wanted(), Some(10));
        source.add(secrets(&["v4-aaaaaa", "v5-aaaaaa", "v6-aaaaaa"]));
        assert_eq!(source.wanted(), None);
        // A small demand still asks for a few values.
        let small = ValueSource::new(PasswordType::Web, 100, 2, 3, std::iter::empty());
        assert_eq!(small.wanted(), Some(MIN_REQUEST));
        let tiny_batch = ValueSource::new(PasswordType::Web, 4, 2, 3, std::iter::empty());
        assert_eq!(tiny_batch.wanted(), Some(4));
    }

    /// A backend whose generator always fails; it notes when it was asked.
    #[derive(Clone, Default)]
    struct FailingGenerator {
        asked_at: std::sync::Arc<Mutex<Vec<tokio::time::Instant>>>,
    }

    impl Backend for FailingGenerator {
        fn server(&self) -> &str {
            "test:"
        }

        async fn group_user_ids(
            &self,
            _: GroupScope<'_>,
        ) -> Result<bwreset_backend::UserIdList, BackendError> {
            Ok(bwreset_backend::UserIdList::new())
        }

        async fn check_user(
            &self,
            _: &str,
            _: bwreset_backend::Credential,
        ) -> Result<bwreset_backend::UserFacts, BackendError> {
            Err(BackendError::new(ErrorKind::Config, None, "not used"))
        }

        async fn generate(
            &self,
            _: bwreset_backend::Credential,
            _: GroupScope<'_>,
            _: usize,
        ) -> Result<Vec<SecretString>, BackendError> {
            self.asked_at
                .lock()
                .unwrap()
                .push(tokio::time::Instant::now());
            Err(BackendError::new(
                ErrorKind::Ambiguous,
                None,
                "the generator failed",
            ))
        }

        async fn set(
            &self,
            _: bwreset_backend::Credential,
            _: &str,
            _: &SecretString,
        ) -> Result<(), BackendError> {
            Ok(())
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_generator_request_is_asked_again_only_after_a_wait() {
        let backend = FailingGenerator::default();
        let source = std::sync::Arc::new(ValueSource::new(
            PasswordType::Web,
            10,
            2,
            1,
            std::iter::empty(),
        ));
        let backoff = Backoff {
            initial: std::time::Duration::from_secs(1),
            max: std::time::Duration::from_secs(1),
        };
        let end = produce(
            backend.clone(),
            std::sync::Arc::clone(&source),
            "sp".into(),
            "group".into(),
            4,
            backoff,
        )
        .await;
        assert!(matches!(end, ProducerEnd::Unavailable(_)));
        let asked_at = backend.asked_at.lock().unwrap().clone();
        assert_eq!(asked_at.len(), 4);
        // Each wait is drawn up to a second: three waits of exactly zero do not happen.
        let waited = asked_at[3] - asked_at[0];
        assert!(waited > std::time::Duration::ZERO, "asked again at once");
        assert!(waited <= std::time::Duration::from_secs(3), "{waited:?}");
    }
}
