//! New SIP authentication user names (issue 26) against odin-sim: each user's new name goes with
//! its new password, both journaled before the send; `resume` settles an uncertain pair by
//! reading the user's name, and never leaves a user with a name nobody recorded.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly where its precondition breaks"
)]

mod common;

use std::collections::{HashMap, HashSet};

use bwreset_core::{
    EngineConfig, Error, ExposeSecret, Journal, JournalHeader, NoProgress, OutcomeKind,
    PasswordType, Report, UserNameTemplate, execute, plan, resume,
};
use common::*;
use odin_sim::{Faults, SimConfig, SimHandle};

fn config_with_names(template: &str) -> EngineConfig {
    EngineConfig {
        new_user_names: Some(UserNameTemplate::parse(template).unwrap()),
        max_resends: 0,
        ..engine_config()
    }
}

/// Every user with a name in the report holds that name and the reported password on the
/// server; no two users share a name; none keeps the name it had before.
fn assert_names_match_truth(
    simulator: &SimHandle,
    report: &Report,
    old_names: &HashMap<String, Option<String>>,
) {
    let mut seen = HashSet::new();
    for entry in &report.entries {
        let truth = simulator.credentials(entry.user_id.as_str()).unwrap();
        if entry.outcome.kind() != OutcomeKind::Set {
            continue;
        }
        let name = entry
            .new_user_name
            .as_deref()
            .expect("a set user has a name");
        assert_eq!(
            truth.sip_user_name.as_deref(),
            Some(name),
            "{}",
            entry.user_id
        );
        assert!(
            truth.sip_password.as_deref() == entry.outcome.value().map(|v| v.expose_secret()),
            "{}: the password is not the reported one",
            entry.user_id
        );
        assert!(seen.insert(name.to_owned()), "{name} given twice");
        assert_ne!(
            old_names[entry.user_id.as_str()].as_deref(),
            Some(name),
            "{} kept its name",
            entry.user_id
        );
    }
}

fn names_now(simulator: &SimHandle) -> HashMap<String, Option<String>> {
    simulator
        .all_credentials()
        .into_iter()
        .map(|credentials| (credentials.user_id, credentials.sip_user_name))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_user_gets_a_new_name_with_its_password_and_resume_settles_the_uncertain_by_name() {
    let (simulator, client) = start(SimConfig::with_users(40).with_seed(11)).await;
    let old_names = names_now(&simulator);
    let config = config_with_names("{local}-{random:10}");
    let planned = plan(
        &client,
        request(PasswordType::Sip, users(40)),
        &config,
        bwreset_core::Checks::Full,
    )
    .await
    .unwrap();
    // Answers lost after the change (a 500) and connections dropped before or after it: with
    // no re-send those users end uncertain, some with the pair in effect, some without.
    simulator.set_faults(Faults {
        fail_after_rate: 0.25,
        drop_rate: 0.25,
        ..Faults::default()
    });
    let journal_file = temp_journal();
    let template = config.new_user_names.clone().unwrap();
    let journal = Journal::create(
        &journal_file.path,
        header(PasswordType::Sip, &client).with_user_name_template(&template),
    )
    .unwrap();
    let first = execute(
        &client,
        planned,
        journal,
        bwreset_core::RunOptions::new(&config, &NoProgress),
    )
    .await
    .and_then(bwreset_core::JournalReport::into_report)
    .unwrap();
    assert!(first.counts().uncertain > 0, "{:?}", first.counts());
    // Every intent line names the name sent with its value.
    let text = std::fs::read_to_string(&journal_file.path).unwrap();
    assert!(
        text.lines()
            .next()
            .unwrap()
            .contains("\"userNameTemplate\":\"{local}-{random:10}\"")
    );
    for line in text
        .lines()
        .filter(|line| line.contains("\"record\":\"intent\""))
    {
        assert!(line.contains("\"userName\":\"user"), "{line}");
    }
    // No user holds a name that is not in the journal.
    for credentials in simulator.all_credentials() {
        if let Some(name) = &credentials.sip_user_name
            && old_names[&credentials.user_id].as_ref() != Some(name)
        {
            assert!(text.contains(&format!("\"userName\":\"{name}\"")), "{name}");
        }
    }

    simulator.set_faults(Faults::default());
    // The resume takes the template from the journal.
    let resumed = resume(
        &client,
        Journal::open(&journal_file.path).unwrap(),
        bwreset_core::RunOptions::new(&engine_config(), &NoProgress),
    )
    .await
    .and_then(bwreset_core::JournalReport::into_report)
    .unwrap();
    assert!(resumed.is_complete(), "{:?}", resumed.counts());
    assert_names_match_truth(&simulator, &resumed, &old_names);
    for (before, after) in first.entries.iter().zip(&resumed.entries) {
        if before.outcome.value().is_some() {
            // The uncertain pair was settled, never replaced.
            assert_eq!(before.new_user_name, after.new_user_name);
        }
        let name = after.new_user_name.as_deref().unwrap();
        let local = after.user_id.as_str().split('@').next().unwrap();
        assert!(name.starts_with(&format!("{local}-")) && name.len() == local.len() + 11);
    }
    for credentials in simulator.all_credentials() {
        // Settled by reading the name or by the history refusal: one change per user.
        assert_eq!(credentials.changes.sip, 1, "{}", credentials.user_id);
    }
    // The credentials in the report carry the name, after the user ID.
    let json = serde_json::to_string(&resumed.credentials()[0]).unwrap();
    assert!(json.starts_with("{\"userId\":\"user0001@demo.example\",\"newUserName\":\"user0001-"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_journal_without_names_refuses_an_engine_given_names_and_the_other_way_round() {
    let (_simulator, client) = start(SimConfig::with_users(2)).await;
    let config = config_with_names("{random}");
    let planned = plan(
        &client,
        request(PasswordType::Sip, users(2)),
        &config,
        bwreset_core::Checks::Full,
    )
    .await
    .unwrap();
    let without = Journal::memory(header(PasswordType::Sip, &client));
    let error = execute(
        &client,
        planned.clone(),
        without,
        bwreset_core::RunOptions::new(&config, &NoProgress),
    )
    .await
    .unwrap_err();
    assert!(matches!(error, Error::JournalMismatch { .. }), "{error}");
    assert!(error.to_string().contains("no new user names"), "{error}");
    let with = Journal::memory(
        JournalHeader::new(
            PasswordType::Sip,
            SP,
            GROUP,
            client.base_url(),
            serde_json::Value::Null,
        )
        .with_user_name_template(&UserNameTemplate::default()),
    );
    let error = execute(
        &client,
        planned,
        with,
        bwreset_core::RunOptions::new(&engine_config(), &NoProgress),
    )
    .await
    .unwrap_err();
    assert!(
        error.to_string().contains("new user names from `{random}`"),
        "{error}"
    );
    // Names go with SIP passwords only.
    let planned = plan(
        &client,
        request(PasswordType::Web, users(2)),
        &config,
        bwreset_core::Checks::Full,
    )
    .await
    .unwrap();
    let web = Journal::memory(
        header(PasswordType::Web, &client).with_user_name_template(&UserNameTemplate::default()),
    );
    let error = execute(
        &client,
        planned,
        web,
        bwreset_core::RunOptions::new(&config, &NoProgress),
    )
    .await
    .unwrap_err();
    assert!(error.to_string().contains("SIP passwords only"), "{error}");
}

/// Odin's client, except that the first name sent for one user is first given to another user
/// (a user outside the run), so that the server refuses it as taken.
#[derive(Clone)]
struct Squatted {
    inner: odin_client::OdinClient,
    victim: String,
    squatter: String,
    squatted: std::sync::Arc<std::sync::Mutex<Option<String>>>,
}

impl bwreset_backend::Backend for Squatted {
    fn server(&self) -> &str {
        bwreset_backend::Backend::server(&self.inner)
    }

    async fn group_user_ids(
        &self,
        group: bwreset_backend::GroupScope<'_>,
    ) -> Result<bwreset_backend::UserIdList, bwreset_backend::BackendError> {
        bwreset_backend::Backend::group_user_ids(&self.inner, group).await
    }

    async fn check_user(
        &self,
        user_id: &str,
        credential: bwreset_backend::Credential,
    ) -> Result<bwreset_backend::UserFacts, bwreset_backend::BackendError> {
        bwreset_backend::Backend::check_user(&self.inner, user_id, credential).await
    }

    async fn generate(
        &self,
        credential: bwreset_backend::Credential,
        group: bwreset_backend::GroupScope<'_>,
        count: usize,
    ) -> Result<Vec<bwreset_backend::SecretString>, bwreset_backend::BackendError> {
        bwreset_backend::Backend::generate(&self.inner, credential, group, count).await
    }

    async fn set(
        &self,
        credential: bwreset_backend::Credential,
        user_id: &str,
        value: &bwreset_backend::SecretString,
    ) -> Result<(), bwreset_backend::BackendError> {
        bwreset_backend::Backend::set(&self.inner, credential, user_id, value).await
    }

    async fn set_sip_credentials(
        &self,
        user_id: &str,
        user_name: Option<&str>,
        password: &bwreset_backend::SecretString,
    ) -> Result<(), bwreset_backend::BackendError> {
        let squat = user_id == self.victim && {
            let mut squatted = self.squatted.lock().unwrap();
            let first = squatted.is_none();
            if first {
                *squatted = user_name.map(str::to_owned);
            }
            first
        };
        if squat {
            bwreset_backend::Backend::set_sip_credentials(
                &self.inner,
                &self.squatter,
                user_name,
                password,
            )
            .await?;
        }
        bwreset_backend::Backend::set_sip_credentials(&self.inner, user_id, user_name, password)
            .await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_another_user_holds_gets_a_fresh_name_and_password() {
    let (simulator, client) = start(SimConfig::with_users(6)).await;
    let backend = Squatted {
        inner: client.clone(),
        victim: user_id(2),
        squatter: user_id(6),
        squatted: std::sync::Arc::default(),
    };
    let config = config_with_names("{random}");
    let planned = plan(
        &backend,
        request(PasswordType::Sip, users(5)),
        &config,
        bwreset_core::Checks::Full,
    )
    .await
    .unwrap();
    let journal = Journal::memory(
        header(PasswordType::Sip, &client).with_user_name_template(&UserNameTemplate::default()),
    );
    let report = execute(
        &backend,
        planned,
        journal,
        bwreset_core::RunOptions::new(&config, &NoProgress),
    )
    .await
    .and_then(bwreset_core::JournalReport::into_report)
    .unwrap();
    assert!(report.is_complete(), "{:?}", report.counts());
    let taken = backend.squatted.lock().unwrap().clone().unwrap();
    assert_eq!(
        simulator
            .credentials(&user_id(6))
            .unwrap()
            .sip_user_name
            .as_deref(),
        Some(taken.as_str())
    );
    let entry = report.entry(&user_id(2)).unwrap();
    let name = entry.new_user_name.as_deref().unwrap();
    assert_ne!(name, taken, "the taken name was kept");
    let truth = simulator.credentials(&user_id(2)).unwrap();
    assert_eq!(truth.sip_user_name.as_deref(), Some(name));
    assert!(truth.sip_password.as_deref() == entry.outcome.value().map(|v| v.expose_secret()));
    assert_eq!(truth.changes.sip, 1);
}
