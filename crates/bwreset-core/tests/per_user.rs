//! Values made one per user (`Backend::generate_for`, as OCI-P's `PasswordGenerateRequest` with a
//! `userId`): each user's worker asks for its own value, checked as pooled values are, and a
//! backend that stops making them hands over to the pool.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly where its precondition breaks"
)]

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bwreset_backend::{
    Backend, BackendError, Credential, GroupScope, SecretString, UserFacts, UserIdList,
};
use bwreset_core::{ExposeSecret, Journal, NoProgress, Outcome, PasswordType};
use common::*;
use odin_client::OdinClient;
use odin_sim::SimConfig;

/// Odin's client, made to generate per user: each value comes from a generator call of its
/// own, and what was asked is recorded.
#[derive(Clone)]
struct PerUser {
    inner: OdinClient,
    state: Arc<State>,
}

#[derive(Default)]
struct State {
    /// Users `generate_for` was asked for, in order.
    asked: Mutex<Vec<String>>,
    /// Calls of the pooled `generate`.
    pooled_calls: AtomicUsize,
    /// After this many `generate_for` calls, values are no longer made per user.
    per_user_calls: usize,
    stopped: AtomicBool,
    /// A user whose every value is of no use (empty).
    useless_for: Option<String>,
    /// A user whose first value is of no use.
    useless_once_for: Option<String>,
}

impl PerUser {
    fn new(inner: OdinClient, state: State) -> Self {
        PerUser {
            inner,
            state: Arc::new(state),
        }
    }

    fn asked(&self) -> Vec<String> {
        self.state.asked.lock().unwrap().clone()
    }
}

impl Backend for PerUser {
    fn server(&self) -> &str {
        Backend::server(&self.inner)
    }

    async fn group_user_ids(&self, group: GroupScope<'_>) -> Result<UserIdList, BackendError> {
        Backend::group_user_ids(&self.inner, group).await
    }

    async fn check_user(
        &self,
        user_id: &str,
        credential: Credential,
    ) -> Result<UserFacts, BackendError> {
        Backend::check_user(&self.inner, user_id, credential).await
    }

    async fn generate(
        &self,
        credential: Credential,
        group: GroupScope<'_>,
        count: usize,
    ) -> Result<Vec<SecretString>, BackendError> {
        self.state.pooled_calls.fetch_add(1, Ordering::Relaxed);
        Backend::generate(&self.inner, credential, group, count).await
    }

    fn generates_per_user(&self, _credential: Credential) -> bool {
        !self.state.stopped.load(Ordering::Relaxed)
    }

    async fn generate_for(
        &self,
        credential: Credential,
        group: GroupScope<'_>,
        user_id: &str,
    ) -> Result<Option<SecretString>, BackendError> {
        let earlier = {
            let mut asked = self.state.asked.lock().unwrap();
            if asked.len() >= self.state.per_user_calls {
                self.state.stopped.store(true, Ordering::Relaxed);
                return Ok(None);
            }
            let earlier = asked.iter().filter(|asked| *asked == user_id).count();
            asked.push(user_id.to_owned());
            earlier
        };
        let useless = self.state.useless_for.as_deref() == Some(user_id)
            || (self.state.useless_once_for.as_deref() == Some(user_id) && earlier == 0);
        if useless {
            return Ok(Some(SecretString::from(String::new())));
        }
        let mut values = Backend::generate(&self.inner, credential, group, 1).await?;
        Ok(values.pop())
    }

    async fn set(
        &self,
        credential: Credential,
        user_id: &str,
        value: &SecretString,
    ) -> Result<(), BackendError> {
        Backend::set(&self.inner, credential, user_id, value).await
    }
}

async fn run(backend: &PerUser, password_type: PasswordType, users: usize) -> bwreset_core::Report {
    let config = engine_config();
    let reset = request(password_type, common::users(users));
    let planned = bwreset_core::plan(backend, reset.clone(), &config, bwreset_core::Checks::Full)
        .await
        .unwrap();
    let journal = Journal::memory(header(password_type, &backend.inner));
    bwreset_core::execute(
        backend,
        planned,
        journal,
        bwreset_core::RunOptions::new(&config, &NoProgress),
    )
    .await
    .and_then(bwreset_core::JournalReport::into_report)
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_user_asks_for_its_own_value_once_and_nothing_is_fetched_in_batches() {
    for password_type in PasswordType::ALL {
        let (simulator, client) = start(SimConfig::with_users(30)).await;
        let backend = PerUser::new(
            client,
            State {
                per_user_calls: usize::MAX,
                ..State::default()
            },
        );
        let report = run(&backend, password_type, 30).await;
        assert!(
            report.is_complete(),
            "{password_type}: {:?}",
            report.counts()
        );
        assert_truth_matches(&simulator, &report);
        let mut asked = backend.asked();
        asked.sort();
        let mut expected: Vec<String> = (1..=30).map(user_id).collect();
        expected.sort();
        assert_eq!(asked, expected, "{password_type}: one call per user");
        assert_eq!(
            backend.state.pooled_calls.load(Ordering::Relaxed),
            0,
            "{password_type}: no batch fetched, not even with the plan"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_value_of_no_use_is_asked_again_and_a_user_with_none_fails_alone() {
    let (simulator, client) = start(SimConfig::with_users(12)).await;
    let backend = PerUser::new(
        client,
        State {
            per_user_calls: usize::MAX,
            useless_for: Some(user_id(3)),
            useless_once_for: Some(user_id(5)),
            ..State::default()
        },
    );
    let report = run(&backend, PasswordType::Vm, 12).await;
    assert_truth_matches(&simulator, &report);
    for entry in &report.entries {
        match (&entry.outcome, entry.user_id.as_str()) {
            (Outcome::Failed { reason }, id) if id == user_id(3) => {
                assert!(
                    reason.contains("values generated for this user, none usable"),
                    "{reason}"
                );
            }
            (Outcome::Set { value }, id) if id != user_id(3) => {
                assert!(!value.expose_secret().is_empty());
            }
            (outcome, id) => panic!("{id}: {}", outcome.kind()),
        }
    }
    let asked = backend.asked();
    let count = |id: String| asked.iter().filter(|asked| **asked == id).count();
    // The default engine settings give a user five values of no use before it fails.
    assert_eq!(count(user_id(3)), 5);
    assert_eq!(count(user_id(5)), 2);
    assert_eq!(count(user_id(7)), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_that_stops_making_values_per_user_hands_over_to_the_pool() {
    let (simulator, client) = start(SimConfig::with_users(40)).await;
    let backend = PerUser::new(
        client,
        State {
            per_user_calls: 10,
            ..State::default()
        },
    );
    let report = run(&backend, PasswordType::Sip, 40).await;
    assert!(report.is_complete(), "{:?}", report.counts());
    assert_truth_matches(&simulator, &report);
    assert_eq!(backend.asked().len(), 10);
    assert!(backend.state.pooled_calls.load(Ordering::Relaxed) > 0);
}
