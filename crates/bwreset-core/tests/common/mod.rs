//! Helpers shared by the integration tests: a simulator, a client for it, and the comparison of
//! a report with the simulator's truth.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use bwreset_core::{
    EngineConfig, ExposeSecret, Journal, JournalHeader, Outcome, PasswordType, Report,
    ResetRequest, Targets, UserId,
};
use odin_client::{ClientConfig, OdinClient, RetryPolicy, SecretString};
use odin_sim::{Credentials, SimConfig, SimHandle};

pub(crate) const SP: &str = "demo-sp";
pub(crate) const GROUP: &str = "demo-group";

/// A simulator and a logged-in client with quick retries.
pub(crate) async fn start(config: SimConfig) -> (SimHandle, OdinClient) {
    let simulator = odin_sim::spawn(config).await.expect("simulator starts");
    let client = login(&simulator).await;
    (simulator, client)
}

pub(crate) async fn login(simulator: &SimHandle) -> OdinClient {
    let mut config = ClientConfig::new(simulator.base_url(), "admin", SecretString::from("admin"));
    config.retry = RetryPolicy {
        max_attempts: 4,
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(5),
        max_elapsed: Duration::from_secs(5),
    };
    OdinClient::login(config).await.expect("login")
}

/// Engine settings for tests: quick backoff, modest concurrency.
pub(crate) fn engine_config() -> EngineConfig {
    EngineConfig {
        concurrency: 8,
        generate_batch: 25,
        retry_backoff: bwreset_core::Backoff {
            initial: Duration::from_millis(1),
            max: Duration::from_millis(5),
        },
        ..EngineConfig::default()
    }
}

pub(crate) fn user_id(number: usize) -> String {
    format!("user{number:04}@demo.example")
}

pub(crate) fn users(count: usize) -> Vec<UserId> {
    (1..=count)
        .map(|number| UserId::try_from(user_id(number).as_str()).unwrap())
        .collect()
}

pub(crate) fn request(password_type: PasswordType, targets: Vec<UserId>) -> ResetRequest {
    ResetRequest {
        password_type,
        targets: Targets::Users {
            group: bwreset_core::GroupRef::new(SP, GROUP),
            users: targets.iter().collect(),
        },
    }
}

/// Plans `reset` and executes it with an in-memory journal: how most engine tests run.
pub(crate) async fn plan_and_execute(
    client: &OdinClient,
    reset: &ResetRequest,
    config: &EngineConfig,
) -> Report {
    let planned = bwreset_core::plan(client, reset.clone(), config, bwreset_core::Checks::Full)
        .await
        .unwrap();
    let journal = Journal::memory(header(reset.password_type, client));
    bwreset_core::execute(
        client,
        planned,
        journal,
        bwreset_core::RunOptions::new(config, &bwreset_core::NoProgress),
    )
    .await
    .and_then(bwreset_core::JournalReport::into_report)
    .unwrap()
}

pub(crate) fn header(password_type: PasswordType, client: &OdinClient) -> JournalHeader {
    JournalHeader::new(
        password_type,
        SP,
        GROUP,
        client.base_url(),
        serde_json::json!({ "test": true }),
    )
}

pub(crate) struct TempJournal {
    pub directory: tempfile::TempDir,
    pub path: PathBuf,
}

pub(crate) fn temp_journal() -> TempJournal {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("run.journal");
    TempJournal { directory, path }
}

pub(crate) fn create_journal(
    path: &Path,
    password_type: PasswordType,
    client: &OdinClient,
) -> Journal {
    Journal::create(path, header(password_type, client)).expect("journal created")
}

/// The simulator's current value of the credential of `password_type`.
pub(crate) fn truth_value(credentials: &Credentials, password_type: PasswordType) -> Option<&str> {
    match password_type {
        PasswordType::Sip => credentials.sip_password.as_deref(),
        PasswordType::Vm => credentials.portal_passcode.as_deref(),
        PasswordType::Web => credentials.web_password.as_deref(),
    }
}

/// How many changes of that credential the simulator accepted.
pub(crate) fn truth_changes(credentials: &Credentials, password_type: PasswordType) -> u64 {
    match password_type {
        PasswordType::Sip => credentials.changes.sip,
        PasswordType::Vm => credentials.changes.vm,
        PasswordType::Web => credentials.changes.web,
    }
}

/// Every set user's server value is the reported one; every failed user's credential was never
/// changed; an uncertain user's server value is either the reported one or unchanged.
pub(crate) fn assert_truth_matches(simulator: &SimHandle, report: &Report) {
    let password_type = report.password_type;
    for entry in &report.entries {
        let id = entry.user_id.as_str();
        let truth = simulator.credentials(id);
        match &entry.outcome {
            Outcome::Set { value } => {
                let truth =
                    truth.unwrap_or_else(|| panic!("{id} is set but unknown to the simulator"));
                // Compared, not printed: the values are credentials.
                assert!(
                    truth_value(&truth, password_type) == Some(value.expose_secret()),
                    "{id}: the server's value differs from the reported one"
                );
            }
            Outcome::Failed { reason } => {
                if let Some(truth) = truth {
                    assert_eq!(
                        truth_changes(&truth, password_type),
                        0,
                        "{id} is reported failed ({reason}) but its credential changed"
                    );
                }
            }
            Outcome::Uncertain { value, reason } => {
                if let Some(truth) = truth {
                    // Compared, not printed: the values are credentials.
                    let holds_reported =
                        truth_value(&truth, password_type) == Some(value.expose_secret());
                    assert!(
                        holds_reported || truth_changes(&truth, password_type) == 0,
                        "{id} is reported uncertain ({reason}) but its credential changed to \
                         a value other than the reported one"
                    );
                }
            }
        }
    }
}

/// The report's values by user, for comparing two reports.
pub(crate) fn values(report: &Report) -> Vec<(String, String, Option<String>)> {
    report
        .entries
        .iter()
        .map(|entry| {
            (
                entry.user_id.to_string(),
                entry.outcome.kind().to_string(),
                entry
                    .outcome
                    .value()
                    .map(|value| value.expose_secret().to_owned()),
            )
        })
        .collect()
}

/// Setter requests the simulator received for the type.
pub(crate) fn setter_calls(simulator: &SimHandle, password_type: PasswordType) -> u64 {
    let route = match password_type {
        PasswordType::Sip => "/users/authentication",
        PasswordType::Vm => "/users/portal-passcode",
        PasswordType::Web => "/users/passwords",
    };
    simulator.stats().count("PUT", route)
}

/// [`bwreset_core::execute`] with the phone phase ([`bwreset_core::RunOptions::with_phones`]):
/// the credentials, then the phones on the same journal.
pub(crate) async fn execute_with_devices<B: bwreset_core::Backend + bwreset_core::DeviceBackend>(
    backend: &B,
    plan: bwreset_core::Plan,
    journal: Journal,
    config: &bwreset_core::EngineConfig,
    options: &bwreset_core::DeviceOptions,
    progress: &dyn bwreset_core::Progress,
) -> Result<(bwreset_core::Report, bwreset_core::DeviceReport), bwreset_core::Error> {
    let options =
        bwreset_core::RunOptions::new(config, progress).with_phones(backend, options.clone());
    let report = bwreset_core::execute(backend, plan, journal, options).await?;
    let devices = report.phones().cloned().expect("the phone phase ran");
    Ok((report.into_report()?, devices))
}

/// [`bwreset_core::resume`] with the phone phase ([`bwreset_core::RunOptions::with_phones`]).
pub(crate) async fn resume_with_devices<B: bwreset_core::Backend + bwreset_core::DeviceBackend>(
    backend: &B,
    journal: Journal,
    config: &bwreset_core::EngineConfig,
    options: &bwreset_core::DeviceOptions,
    progress: &dyn bwreset_core::Progress,
) -> Result<(bwreset_core::Report, bwreset_core::DeviceReport), bwreset_core::Error> {
    let options =
        bwreset_core::RunOptions::new(config, progress).with_phones(backend, options.clone());
    let report = bwreset_core::resume(backend, journal, options).await?;
    let devices = report.phones().cloned().expect("the phone phase ran");
    Ok((report.into_report()?, devices))
}
