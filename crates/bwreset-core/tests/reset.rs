//! Runs of the engine against odin-sim: every type, rejected users, short generator answers,
//! rule rejections, an expired token, duplicates, ambiguous failures, a server that goes down.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly where its precondition breaks"
)]

mod common;

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use bwreset_core::{
    Checks, Error, ExposeSecret, JournalStore, NoProgress, OutcomeKind, PasswordType,
    PlannedStatus, Progress, Targets, UserId, bulk_password_reset, execute, plan, resume,
};
use common::*;
use odin_sim::{Faults, SimConfig, SimHandle, WorldSpec};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_type_sets_every_user_and_the_report_matches_the_truth() {
    for password_type in PasswordType::ALL {
        let (simulator, client) = start(SimConfig::with_users(40)).await;
        let config = engine_config();
        let targets = users(40);
        let planned = plan(
            &client,
            request(password_type, targets.clone()),
            &config,
            Checks::Full,
        )
        .await
        .unwrap();
        assert_eq!(planned.ready_count(), 40, "{password_type}");
        let journal_file = temp_journal();
        let journal = create_journal(&journal_file.path, password_type, &client);
        let report = execute(
            &client,
            planned,
            journal,
            bwreset_core::RunOptions::new(&config, &NoProgress),
        )
        .await
        .and_then(bwreset_core::JournalReport::into_report)
        .unwrap();

        assert!(
            report.is_complete(),
            "{password_type}: {:?}",
            report.counts()
        );
        assert_eq!(report.counts().set, 40);
        let order: Vec<&UserId> = report.entries.iter().map(|entry| &entry.user_id).collect();
        assert_eq!(order, targets.iter().collect::<Vec<_>>());
        assert_truth_matches(&simulator, &report);
        for credentials in simulator.all_credentials() {
            assert_eq!(
                truth_changes(&credentials, password_type),
                1,
                "{password_type}"
            );
        }
        let credentials = report.credentials();
        assert_eq!(credentials.len(), 40);
        let json = serde_json::to_value(&credentials).unwrap();
        let key = if password_type == PasswordType::Vm {
            "newPasscode"
        } else {
            "newPassword"
        };
        assert_eq!(json[0]["userId"], targets[0].as_str());
        assert!(json[0][key].is_string(), "{password_type}");
        // Every value differs from every other.
        let mut seen: Vec<&str> = report
            .entries
            .iter()
            .map(|entry| entry.outcome.value().unwrap().expose_secret())
            .collect();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), 40);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_call_returns_the_seed_shape_in_input_order() {
    let (simulator, client) = start(SimConfig::with_users(5)).await;
    let ids = [user_id(3), user_id(1), user_id(5)];
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let journal_file = temp_journal();
    let result = bulk_password_reset(
        &client,
        SP,
        GROUP,
        &ids,
        "SIP",
        JournalStore::File(journal_file.path.clone()),
    )
    .await
    .unwrap();
    let json = serde_json::to_value(&result).unwrap();
    let array = json.as_array().unwrap();
    assert_eq!(array.len(), 3);
    for (entry, id) in array.iter().zip(&ids) {
        assert_eq!(entry["userId"], *id);
        let truth = simulator.credentials(id).unwrap();
        assert_eq!(entry["newPassword"].as_str(), truth.sip_password.as_deref());
    }
    assert!(!format!("{result:?}").contains(array[0]["newPassword"].as_str().unwrap()));
    // The journal stays on disk, private.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&journal_file.path)
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_type_is_refused_before_any_request() {
    let (simulator, client) = start(SimConfig::with_users(2)).await;
    let before = simulator.stats().total();
    let error = bulk_password_reset(
        &client,
        SP,
        GROUP,
        &[&user_id(1)],
        "portal",
        JournalStore::Memory,
    )
    .await
    .unwrap_err();
    assert!(matches!(error, Error::InvalidPasswordType { .. }));
    assert!(error.to_string().contains("`voicemail`"), "{error}");
    assert_eq!(simulator.stats().total(), before);
    let error = bulk_password_reset(&client, SP, GROUP, &[], "vm", JournalStore::Memory)
        .await
        .unwrap_err();
    assert!(matches!(error, Error::NoUsers));
}

const MIXED_WORLD: &str = r#"{
  "serviceProviders": [{
    "serviceProviderId": "demo-sp",
    "groups": [
      { "groupId": "demo-group", "users": [
          { "userId": "alice@demo.example" },
          { "userId": "bob@demo.example", "services": ["Voice Messaging User"] },
          { "userId": "carol@demo.example" }
      ]},
      { "groupId": "other-group", "users": [ { "userId": "dave@demo.example" } ] }
    ]
  }]
}"#;

/// The targets of [`MIXED_WORLD`] runs: two users set everywhere, one unknown, one in another
/// group, one without the Authentication service.
fn mixed_targets() -> Vec<UserId> {
    [
        "alice@demo.example",
        "ghost@demo.example",
        "bob@demo.example",
        "dave@demo.example",
        "carol@demo.example",
    ]
    .iter()
    .map(|id| UserId::try_from(*id).unwrap())
    .collect()
}

/// What a run of [`mixed_targets`] must end with, whichever checks the plan made.
fn assert_mixed_outcomes(
    simulator: &SimHandle,
    report: &bwreset_core::Report,
    password_type: PasswordType,
) {
    let reason = |id: &str| {
        report
            .entry(id)
            .unwrap()
            .outcome
            .reason()
            .unwrap_or_default()
            .to_owned()
    };
    let kind = |id: &str| report.entry(id).unwrap().outcome.kind();
    assert_eq!(kind("alice@demo.example"), OutcomeKind::Set);
    assert_eq!(kind("carol@demo.example"), OutcomeKind::Set);
    assert!(
        reason("ghost@demo.example").contains("4008"),
        "{}",
        reason("ghost@demo.example")
    );
    assert!(
        reason("dave@demo.example").contains("not in group `demo-group`"),
        "{}",
        reason("dave@demo.example")
    );
    if password_type == PasswordType::Sip {
        assert_eq!(kind("bob@demo.example"), OutcomeKind::Failed);
        assert!(reason("bob@demo.example").contains("Authentication"));
    } else {
        assert_eq!(kind("bob@demo.example"), OutcomeKind::Set);
    }
    assert_eq!(report.entries.len(), 5);
    assert_truth_matches(simulator, report);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_outside_and_unauthenticated_users_fail_while_the_rest_succeed() {
    for password_type in PasswordType::ALL {
        let world = WorldSpec::from_json(MIXED_WORLD).unwrap();
        let (simulator, client) = start(SimConfig {
            world,
            ..SimConfig::default()
        })
        .await;
        let targets = mixed_targets();
        let config = engine_config();
        let planned = plan(
            &client,
            request(password_type, targets),
            &config,
            Checks::Full,
        )
        .await
        .unwrap();
        let before = simulator.stats();
        match password_type {
            // One authentication read per user, nothing else.
            PasswordType::Sip => {
                assert_eq!(before.count("GET", "/users/authentication"), 5);
                assert_eq!(before.count("GET", "/users"), 0);
            }
            // One listing, and one look-up for each of the two users not in it.
            PasswordType::Vm | PasswordType::Web => {
                assert_eq!(before.count("GET", "/users/authentication"), 0);
                assert_eq!(before.count("GET", "/users"), 3);
            }
        }
        let report = execute(
            &client,
            planned,
            bwreset_core::Journal::memory(header(password_type, &client)),
            bwreset_core::RunOptions::new(&config, &NoProgress),
        )
        .await
        .and_then(bwreset_core::JournalReport::into_report)
        .unwrap();
        assert_mixed_outcomes(&simulator, &report, password_type);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_users_of_the_group_are_found_with_one_listing() {
    let (simulator, client) = start(SimConfig::with_users(30)).await;
    let config = engine_config();
    let mut reset = request(PasswordType::Web, Vec::new());
    reset.targets = Targets::AllUsers {
        group: bwreset_core::GroupRef::new(SP, GROUP),
    };
    let planned = plan(&client, reset.clone(), &config, bwreset_core::Checks::Full)
        .await
        .unwrap();
    assert_eq!(planned.len(), 30);
    assert_eq!(simulator.stats().count("GET", "/users"), 1);
    let report = execute(
        &client,
        planned,
        bwreset_core::Journal::memory(header(PasswordType::Web, &client)),
        bwreset_core::RunOptions::new(&config, &NoProgress),
    )
    .await
    .and_then(bwreset_core::JournalReport::into_report)
    .unwrap();
    assert_eq!(report.counts().set, 30);
    assert_truth_matches(&simulator, &report);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_generator_answers_are_completed_by_further_requests() {
    let faults = Faults {
        generator_cap: Some(7),
        ..Faults::default()
    };
    let (simulator, client) = start(SimConfig::with_users(50).with_faults(faults)).await;
    let config = engine_config();
    let report = plan_and_execute(&client, &request(PasswordType::Vm, users(50)), &config).await;
    assert_eq!(report.counts().set, 50);
    assert_truth_matches(&simulator, &report);
    let generator_calls = simulator.stats().count("GET", "/passcode/generate");
    assert!(
        generator_calls >= 8,
        "{generator_calls} generator calls for 50 values of 7"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rule_rejections_get_a_fresh_value() {
    for password_type in PasswordType::ALL {
        let faults = Faults {
            bad_value_rate: 0.3,
            ..Faults::default()
        };
        let (simulator, client) =
            start(SimConfig::with_users(40).with_faults(faults).with_seed(7)).await;
        let config = bwreset_core::EngineConfig {
            max_rule_retries: 20,
            ..engine_config()
        };
        let report = plan_and_execute(&client, &request(password_type, users(40)), &config).await;
        assert_eq!(
            report.counts().set,
            40,
            "{password_type}: {:?}",
            report.counts()
        );
        assert_truth_matches(&simulator, &report);
        let route = match password_type {
            PasswordType::Sip => "/users/authentication",
            PasswordType::Vm => "/users/portal-passcode",
            PasswordType::Web => "/users/passwords",
        };
        let rejected = simulator.stats().count_with_status("PUT", route, 400);
        assert!(rejected > 0, "{password_type}: no value was rejected");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_whose_values_keep_being_refused_fails_with_the_server_reason() {
    let faults = Faults {
        bad_value_rate: 1.0,
        ..Faults::default()
    };
    let (simulator, client) = start(SimConfig::with_users(3).with_faults(faults)).await;
    let config = bwreset_core::EngineConfig {
        max_rule_retries: 2,
        ..engine_config()
    };
    let report = plan_and_execute(&client, &request(PasswordType::Vm, users(3)), &config).await;
    assert_eq!(report.counts().failed, 3);
    for entry in &report.entries {
        let reason = entry.outcome.reason().unwrap();
        assert!(reason.contains("Invalid passcode"), "{reason}");
    }
    // One first try and two retries each.
    assert_eq!(setter_calls(&simulator, PasswordType::Vm), 9);
    assert_truth_matches(&simulator, &report);
}

/// Revokes every token when the run starts (after the plan's requests: the run's first request
/// meets a dead token for sure) and again once `after` users are done (requests in flight then
/// meet it, if any are left).
struct RevokeTokens<'a> {
    simulator: &'a SimHandle,
    after: usize,
    done: AtomicUsize,
}

impl Progress for RevokeTokens<'_> {
    fn start(&self, _total: u64) {
        self.simulator.revoke_all_tokens();
    }

    fn user_done(&self, _outcome: OutcomeKind) {
        if self.done.fetch_add(1, Ordering::SeqCst) + 1 == self.after {
            self.simulator.revoke_all_tokens();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_in_the_middle_of_a_run_fails_nobody() {
    let (simulator, client) = start(SimConfig::with_users(40)).await;
    let config = engine_config();
    let planned = plan(
        &client,
        request(PasswordType::Sip, users(40)),
        &config,
        Checks::Full,
    )
    .await
    .unwrap();
    let progress = RevokeTokens {
        simulator: &simulator,
        after: 10,
        done: AtomicUsize::new(0),
    };
    let report = execute(
        &client,
        planned,
        bwreset_core::Journal::memory(header(PasswordType::Sip, &client)),
        bwreset_core::RunOptions::new(&config, &progress),
    )
    .await
    .and_then(bwreset_core::JournalReport::into_report)
    .unwrap();
    assert!(report.is_complete(), "{:?}", report.counts());
    assert_truth_matches(&simulator, &report);
    assert!(client.metrics().relogins > 0, "{:?}", client.metrics());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_are_reset_once_and_reported() {
    let (simulator, client) = start(SimConfig::with_users(3)).await;
    let targets: Vec<UserId> = [1, 2, 1, 3, 1, 2]
        .iter()
        .map(|&number| UserId::try_from(user_id(number).as_str()).unwrap())
        .collect();
    let config = engine_config();
    let planned = plan(
        &client,
        request(PasswordType::Web, targets),
        &config,
        Checks::Full,
    )
    .await
    .unwrap();
    assert_eq!(planned.len(), 3);
    let report = execute(
        &client,
        planned,
        bwreset_core::Journal::memory(header(PasswordType::Web, &client)),
        bwreset_core::RunOptions::new(&config, &NoProgress),
    )
    .await
    .and_then(bwreset_core::JournalReport::into_report)
    .unwrap();
    let order: Vec<&str> = report
        .entries
        .iter()
        .map(|entry| entry.user_id.as_str())
        .collect();
    assert_eq!(order, [user_id(1), user_id(2), user_id(3)]);
    let duplicates: Vec<(&str, u32)> = report
        .duplicates
        .iter()
        .map(|duplicate| (duplicate.user_id.as_str(), duplicate.occurrences))
        .collect();
    assert_eq!(
        duplicates,
        [(user_id(1).as_str(), 3), (user_id(2).as_str(), 2)]
    );
    for credentials in simulator.all_credentials() {
        assert_eq!(credentials.changes.web, 1);
    }
    assert_truth_matches(&simulator, &report);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ambiguous_failures_end_set_with_the_truth_matching() {
    for password_type in PasswordType::ALL {
        let faults = Faults {
            fail_after_rate: 0.3,
            drop_rate: 0.1,
            ..Faults::default()
        };
        let (simulator, client) =
            start(SimConfig::with_users(40).with_faults(faults).with_seed(11)).await;
        let config = bwreset_core::EngineConfig {
            max_resends: 30,
            ..engine_config()
        };
        let planned = plan(
            &client,
            request(password_type, users(40)),
            &config,
            Checks::Full,
        )
        .await
        .unwrap();
        let journal_file = temp_journal();
        let report = execute(
            &client,
            planned,
            create_journal(&journal_file.path, password_type, &client),
            bwreset_core::RunOptions::new(&config, &NoProgress),
        )
        .await
        .and_then(bwreset_core::JournalReport::into_report)
        .unwrap();
        assert_eq!(
            report.counts().set,
            40,
            "{password_type}: {:?}",
            report.entries
        );
        assert_truth_matches(&simulator, &report);
        // Some answers were ambiguous: the 500 after the change.
        let route = match password_type {
            PasswordType::Sip => "/users/authentication",
            PasswordType::Vm => "/users/portal-passcode",
            PasswordType::Web => "/users/passwords",
        };
        assert!(simulator.stats().count_with_status("PUT", route, 500) > 0);
    }
}

/// Makes the simulator fail every request once `after` users are done.
struct ServerGoesDown<'a> {
    simulator: &'a SimHandle,
    after: usize,
    done: AtomicUsize,
    messages: Mutex<Vec<String>>,
}

impl Progress for ServerGoesDown<'_> {
    fn user_done(&self, _outcome: OutcomeKind) {
        if self.done.fetch_add(1, Ordering::SeqCst) + 1 == self.after {
            self.simulator.set_faults(Faults {
                fail_rate: 1.0,
                ..Faults::default()
            });
        }
    }

    fn message(&self, message: &str) {
        self.messages.lock().unwrap().push(message.to_owned());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_stays_down_stops_the_run_and_resume_finishes_it() {
    // Some latency keeps the run going for a while after the outage starts (the progress
    // callback runs beside the workers): it is the server's speed, not a wait in the test.
    let (simulator, client) = start(SimConfig::with_users(120).with_faults(Faults {
        latency_ms: 5,
        ..Faults::default()
    }))
    .await;
    let config = bwreset_core::EngineConfig {
        concurrency: 4,
        generate_batch: 200,
        max_resends: 1,
        stop_after_unavailable: 3,
        ..engine_config()
    };
    let planned = plan(
        &client,
        request(PasswordType::Vm, users(120)),
        &config,
        Checks::Full,
    )
    .await
    .unwrap();
    let journal_file = temp_journal();
    let progress = ServerGoesDown {
        simulator: &simulator,
        after: 10,
        done: AtomicUsize::new(0),
        messages: Mutex::new(Vec::new()),
    };
    let report = execute(
        &client,
        planned,
        create_journal(&journal_file.path, PasswordType::Vm, &client),
        bwreset_core::RunOptions::new(&config, &progress),
    )
    .await
    .and_then(bwreset_core::JournalReport::into_report)
    .unwrap();
    let stop_reason = report.stop_reason.clone().expect("the run stopped");
    assert!(stop_reason.contains("server unavailable"), "{stop_reason}");
    assert!(!report.is_complete());
    assert_eq!(report.entries.len(), 120);
    assert!(report.counts().set >= 10);
    let not_attempted = report
        .entries
        .iter()
        .filter(|entry| {
            entry
                .outcome
                .reason()
                .is_some_and(|reason| reason.starts_with("not attempted: server unavailable"))
        })
        .count();
    assert!(not_attempted > 0, "{:?}", report.counts());
    assert!(
        progress
            .messages
            .lock()
            .unwrap()
            .iter()
            .any(|message| message.contains("server unavailable"))
    );
    assert_truth_matches(&simulator, &report);

    // The server is back: resume finishes every user.
    simulator.set_faults(Faults::default());
    let journal = bwreset_core::Journal::open(&journal_file.path).unwrap();
    let resumed = resume(
        &client,
        journal,
        bwreset_core::RunOptions::new(&config, &NoProgress),
    )
    .await
    .and_then(bwreset_core::JournalReport::into_report)
    .unwrap();
    assert!(resumed.is_complete(), "{:?}", resumed.counts());
    assert_eq!(resumed.entries.len(), 120);
    assert_truth_matches(&simulator, &resumed);
    // Users set before the outage kept their value.
    for (before, after) in report.entries.iter().zip(&resumed.entries) {
        if before.outcome.kind() == OutcomeKind::Set {
            assert_eq!(
                before.outcome.value().unwrap().expose_secret(),
                after.outcome.value().unwrap().expose_secret()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_that_no_longer_works_stops_the_run_cleanly() {
    // Every token is dead on arrival: login answers, nothing else does.
    let (simulator, client) = start(SimConfig {
        token_ttl: std::time::Duration::ZERO,
        ..SimConfig::with_users(5)
    })
    .await;
    let config = engine_config();
    let error = plan(
        &client,
        request(PasswordType::Sip, users(5)),
        &config,
        Checks::Full,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            &error,
            Error::Backend(backend_error)
                if backend_error.kind() == bwreset_core::ErrorKind::LoginLost
                    && matches!(
                        backend_error.backend_error().downcast_ref(),
                        Some(odin_client::Error::Unauthorized { .. })
                    )
        ),
        "{error}"
    );
    // A plan made earlier, executed now: the run stops, nobody is attempted.
    let planned = bwreset_core::Plan::from_users(
        PasswordType::Vm,
        bwreset_core::GroupRef::new(common::SP, common::GROUP),
        users(5)
            .into_iter()
            .map(|user_id| bwreset_core::PlannedUser {
                user_id,
                status: PlannedStatus::Ready {
                    sip_user_name: None,
                },
            })
            .collect(),
        Vec::new(),
    );
    let report = execute(
        &client,
        planned,
        bwreset_core::Journal::memory(header(PasswordType::Vm, &client)),
        bwreset_core::RunOptions::new(&config, &NoProgress),
    )
    .await
    .and_then(bwreset_core::JournalReport::into_report)
    .unwrap();
    assert!(
        report
            .stop_reason
            .as_deref()
            .unwrap()
            .contains("login no longer works")
    );
    assert_eq!(report.counts().failed, 5);
    for entry in &report.entries {
        let reason = entry.outcome.reason().unwrap();
        assert!(reason.starts_with("not attempted: "), "{reason}");
    }
    assert_eq!(setter_calls(&simulator, PasswordType::Vm), 0);
}

const SHORT_NAMES_WORLD: &str = r#"{
  "serviceProviders": [{
    "serviceProviderId": "demo-sp",
    "groups": [
      { "groupId": "demo-group", "users": [
          { "userId": "u1@demo.example", "sipUserName": "a" },
          { "userId": "u2@demo.example", "sipUserName": "e" },
          { "userId": "u3@demo.example", "sipUserName": "x7" },
          { "userId": "u4@demo.example" },
          { "userId": "u5@demo.example" },
          { "userId": "u6@demo.example" }
      ]}
    ]
  }]
}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sip_values_containing_the_authentication_name_go_to_other_users() {
    let world = WorldSpec::from_json(SHORT_NAMES_WORLD).unwrap();
    let (simulator, client) = start(SimConfig {
        world,
        seed: Some(3),
        ..SimConfig::default()
    })
    .await;
    let targets: Vec<UserId> = (1..=6)
        .map(|number| UserId::try_from(format!("u{number}@demo.example").as_str()).unwrap())
        .collect();
    let config = engine_config();
    let report = plan_and_execute(&client, &request(PasswordType::Sip, targets), &config).await;
    assert!(report.is_complete(), "{:?}", report.entries);
    assert_truth_matches(&simulator, &report);
    for entry in &report.entries {
        let value = entry
            .outcome
            .value()
            .unwrap()
            .expose_secret()
            .to_lowercase();
        let name = simulator
            .credentials(entry.user_id.as_str())
            .unwrap()
            .sip_user_name
            .unwrap()
            .to_lowercase();
        assert!(
            !value.contains(&name),
            "{}: value contains `{name}`",
            entry.user_id
        );
    }
    // Nothing was refused by the server: the local check caught every such value.
    assert_eq!(
        simulator
            .stats()
            .count_with_status("PUT", "/users/authentication", 400),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unusable_generated_values_are_discarded() {
    for password_type in PasswordType::ALL {
        let faults = Faults {
            empty_value_rate: 0.15,
            duplicate_value_rate: 0.15,
            control_char_rate: 0.15,
            wrong_kind_rate: 0.15,
            ..Faults::default()
        };
        let (simulator, client) =
            start(SimConfig::with_users(30).with_faults(faults).with_seed(9)).await;
        // A JSON number where a password was due passes as a string of digits, which the server
        // may refuse for a rule: that costs a fresh value, not the user.
        let config = bwreset_core::EngineConfig {
            max_rule_retries: 10,
            ..engine_config()
        };
        let report = plan_and_execute(&client, &request(password_type, users(30)), &config).await;
        assert!(
            report.is_complete(),
            "{password_type}: {:?}",
            report.entries
        );
        assert_truth_matches(&simulator, &report);
        for entry in &report.entries {
            let value = entry.outcome.value().unwrap().expose_secret();
            assert!(!value.is_empty());
            assert!(!value.chars().any(char::is_control));
            if password_type == PasswordType::Vm {
                assert!(value.bytes().all(|byte| byte.is_ascii_digit()));
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generator_that_gives_nothing_usable_fails_the_users_with_the_reason() {
    let faults = Faults {
        empty_value_rate: 1.0,
        ..Faults::default()
    };
    let (simulator, client) = start(SimConfig::with_users(10).with_faults(faults)).await;
    let config = engine_config();
    let report = plan_and_execute(&client, &request(PasswordType::Web, users(10)), &config).await;
    assert_eq!(report.counts().failed, 10);
    for entry in &report.entries {
        let reason = entry.outcome.reason().unwrap();
        assert!(reason.contains("generator"), "{reason}");
    }
    let generator_calls = simulator.stats().count("GET", "/password/generate");
    assert_eq!(generator_calls, u64::from(config.max_useless_batches));
    assert_eq!(setter_calls(&simulator, PasswordType::Web), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_at_once_ends_with_every_user_set_and_the_truth_matching() {
    for password_type in PasswordType::ALL {
        let faults = Faults {
            fail_rate: 0.05,
            fail_after_rate: 0.05,
            drop_rate: 0.05,
            bad_value_rate: 0.05,
            html_error_rate: 0.2,
            truncated_json_rate: 0.05,
            ok_with_error_rate: 0.05,
            other_user_rate: 0.05,
            empty_value_rate: 0.05,
            duplicate_value_rate: 0.05,
            control_char_rate: 0.05,
            wrong_kind_rate: 0.05,
            generator_cap: Some(9),
            ..Faults::default()
        };
        let (simulator, client) = start(SimConfig::with_users(60).with_seed(21)).await;
        let config = bwreset_core::EngineConfig {
            max_resends: 20,
            max_rule_retries: 20,
            ..engine_config()
        };
        simulator.set_faults(faults);
        let planned = plan(
            &client,
            request(password_type, users(60)),
            &config,
            Checks::Full,
        )
        .await
        .unwrap();
        let journal_file = temp_journal();
        let report = execute(
            &client,
            planned,
            create_journal(&journal_file.path, password_type, &client),
            bwreset_core::RunOptions::new(&config, &NoProgress),
        )
        .await
        .and_then(bwreset_core::JournalReport::into_report)
        .unwrap();
        assert!(
            report.is_complete(),
            "{password_type}: {:?}",
            report.entries
        );
        assert_truth_matches(&simulator, &report);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn membership_checks_cost_one_request_per_user_and_the_setter_answer_says_the_rest() {
    for password_type in PasswordType::ALL {
        let world = WorldSpec::from_json(MIXED_WORLD).unwrap();
        let (simulator, client) = start(SimConfig {
            world,
            ..SimConfig::default()
        })
        .await;
        let targets = mixed_targets();
        let config = engine_config();
        let planned = plan(
            &client,
            request(password_type, targets),
            &config,
            Checks::Membership,
        )
        .await
        .unwrap();
        // The generator's first batch came with the plan: one generator request before the run.
        // (The Odin client asks the web password generator for SIP passwords too.)
        let generator = match password_type {
            PasswordType::Vm => "/passcode/generate",
            PasswordType::Sip | PasswordType::Web => "/password/generate",
        };
        assert_eq!(
            simulator.stats().count("GET", generator),
            1,
            "{password_type}"
        );
        // One listing and one look-up for each of the two users not in it, for every type (for
        // SIP the look-up is the authentication read, which also names the user's group).
        let reads = |stats: &odin_sim::Stats| {
            (
                stats.count("GET", "/users"),
                stats.count("GET", "/users/authentication"),
            )
        };
        let expected = match password_type {
            PasswordType::Sip => (1, 2),
            PasswordType::Vm | PasswordType::Web => (3, 0),
        };
        assert_eq!(reads(&simulator.stats()), expected, "{password_type}");
        let report = execute(
            &client,
            planned,
            bwreset_core::Journal::memory(header(password_type, &client)),
            bwreset_core::RunOptions::new(&config, &NoProgress),
        )
        .await
        .and_then(bwreset_core::JournalReport::into_report)
        .unwrap();
        assert_eq!(reads(&simulator.stats()), expected, "{password_type}");
        // alice, bob, carol: one setter request each (ghost and dave were never sent).
        assert_eq!(
            setter_calls(&simulator, password_type),
            3,
            "{password_type}"
        );
        // For SIP, bob's failure is the setter's own answer: no Authentication service.
        assert_mixed_outcomes(&simulator, &report, password_type);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn membership_checks_leave_values_containing_the_sip_name_to_the_server_rule() {
    let world = WorldSpec::from_json(SHORT_NAMES_WORLD).unwrap();
    let (simulator, client) = start(SimConfig {
        world,
        seed: Some(3),
        ..SimConfig::default()
    })
    .await;
    let targets: Vec<UserId> = (1..=6)
        .map(|number| UserId::try_from(format!("u{number}@demo.example").as_str()).unwrap())
        .collect();
    let config = bwreset_core::EngineConfig {
        max_rule_retries: 30,
        ..engine_config()
    };
    let planned = plan(
        &client,
        request(PasswordType::Sip, targets),
        &config,
        Checks::Membership,
    )
    .await
    .unwrap();
    assert_eq!(simulator.stats().count("GET", "/users/authentication"), 0);
    let report = execute(
        &client,
        planned,
        bwreset_core::Journal::memory(header(PasswordType::Sip, &client)),
        bwreset_core::RunOptions::new(&config, &NoProgress),
    )
    .await
    .and_then(bwreset_core::JournalReport::into_report)
    .unwrap();
    assert!(report.is_complete(), "{:?}", report.entries);
    assert_truth_matches(&simulator, &report);
    for entry in &report.entries {
        let value = entry
            .outcome
            .value()
            .unwrap()
            .expose_secret()
            .to_lowercase();
        let name = simulator
            .credentials(entry.user_id.as_str())
            .unwrap()
            .sip_user_name
            .unwrap()
            .to_lowercase();
        assert!(
            !value.contains(&name),
            "{}: value contains `{name}`",
            entry.user_id
        );
    }
    // Every refusal by the server was answered with a fresh value: one setter request per
    // refusal more than per user.
    let refused = simulator
        .stats()
        .count_with_status("PUT", "/users/authentication", 400);
    assert_eq!(setter_calls(&simulator, PasswordType::Sip), 6 + refused);
}

/// A world whose passcode rules allow fewer values than it has users.
fn small_passcode_space_world(users: usize) -> WorldSpec {
    let users: Vec<serde_json::Value> = (1..=users)
        .map(|number| serde_json::json!({ "userId": user_id(number) }))
        .collect();
    let world = serde_json::json!({
        "serviceProviders": [{
            "serviceProviderId": SP,
            "groups": [{
                "groupId": GROUP,
                "passcodeRules": { "minCodeLength": 3, "maxCodeLength": 3 },
                "users": users,
            }],
        }],
    });
    WorldSpec::from_json(&world.to_string()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_larger_than_its_passcode_space_is_reset_whole() {
    // Three-digit passcodes under the default repeat and sequence rules: a few hundred values
    // for 1,200 users. Passcodes may repeat across users (each opens only its own mailbox).
    let (simulator, client) = start(SimConfig {
        world: small_passcode_space_world(1200),
        seed: Some(5),
        ..SimConfig::default()
    })
    .await;
    let config = bwreset_core::EngineConfig {
        concurrency: 16,
        generate_batch: 100,
        ..engine_config()
    };
    let report = plan_and_execute(&client, &request(PasswordType::Vm, users(1200)), &config).await;
    assert!(report.is_complete(), "{:?}", report.counts());
    assert_truth_matches(&simulator, &report);
    let distinct: std::collections::HashSet<String> = report
        .entries
        .iter()
        .map(|entry| entry.outcome.value().unwrap().expose_secret().to_owned())
        .collect();
    assert!(
        distinct.len() < 1000,
        "the space has fewer values than users, so some are shared: {}",
        distinct.len()
    );
}

/// The truth check itself: an uncertain user passes when the server holds the reported value or
/// an unchanged one, and fails when the server's credential changed to any other value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_truth_check_refuses_an_uncertain_user_whose_server_value_is_another() {
    let (simulator, client) = start(SimConfig::with_users(2)).await;
    let config = engine_config();
    let set = plan_and_execute(&client, &request(PasswordType::Vm, users(1)), &config).await;
    assert_eq!(set.counts().set, 1);
    let set_value = set.entries[0].outcome.value().unwrap().clone();
    let uncertain = |user: UserId, value: &str| bwreset_core::ReportEntry {
        user_id: user,
        new_user_name: None,
        group_index: 0,
        outcome: bwreset_core::Outcome::Uncertain {
            value: odin_client::SecretString::from(value),
            reason: "no clear answer".into(),
        },
    };
    let report = |entries| bwreset_core::Report {
        entries,
        duplicates: Vec::new(),
        stop_reason: None,
        ..set.clone()
    };
    let targets = users(2);
    // The value in effect, and an untouched user: both possible for an uncertain user.
    let possible = report(vec![
        uncertain(targets[0].clone(), set_value.expose_secret()),
        uncertain(targets[1].clone(), "24681357"),
    ]);
    assert_truth_matches(&simulator, &possible);
    // A changed credential that is not the reported value.
    let impossible = report(vec![uncertain(targets[0].clone(), "13572468")]);
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        assert_truth_matches(&simulator, &impossible)
    }));
    assert!(caught.is_err(), "the truth check let a wrong value through");
}

/// The report read from the journal one user at a time ([`bwreset_core::JournalReport`], what
/// the CLI writes its files from) says what the whole [`bwreset_core::Report`] says, user by
/// user and value by value, for a journal on disk and one in memory, with users set, failed and
/// refused by the pre-check, and a user named twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_journaled_report_says_what_the_whole_report_says() {
    for (password_type, on_disk) in [
        (PasswordType::Sip, true),
        (PasswordType::Vm, false),
        (PasswordType::Web, true),
    ] {
        let world = WorldSpec::from_json(MIXED_WORLD).unwrap();
        let (simulator, client) = start(SimConfig {
            world,
            ..SimConfig::default()
        })
        .await;
        let mut targets = mixed_targets();
        targets.push(targets[0].clone());
        let config = engine_config();
        let planned = plan(
            &client,
            request(password_type, targets),
            &config,
            Checks::Membership,
        )
        .await
        .unwrap();
        let journal_file = temp_journal();
        let journal = if on_disk {
            create_journal(&journal_file.path, password_type, &client)
        } else {
            bwreset_core::Journal::memory(header(password_type, &client))
        };
        let journaled = bwreset_core::execute(
            &client,
            planned,
            journal,
            bwreset_core::RunOptions::new(&config, &NoProgress),
        )
        .await
        .unwrap();
        let outcomes: Vec<(String, OutcomeKind, Option<String>)> = journaled
            .entries()
            .map(|entry| {
                (
                    entry.user_id.to_owned(),
                    entry.kind,
                    entry.reason.map(str::to_owned),
                )
            })
            .collect();
        let credentials: Vec<(String, String)> = journaled
            .credentials()
            .map(|row| {
                let row = row.unwrap();
                assert!(row.group.is_none());
                (
                    row.credential.user_id().to_string(),
                    row.credential.value().expose_secret().to_owned(),
                )
            })
            .collect();
        let counts = journaled.counts();
        assert_eq!(journaled.duplicates().len(), 1, "{password_type}");

        let report = journaled.into_report().unwrap();
        assert_mixed_outcomes(&simulator, &report, password_type);
        assert_eq!(counts, report.counts(), "{password_type}");
        let whole: Vec<(String, OutcomeKind, Option<String>)> = report
            .entries
            .iter()
            .map(|entry| {
                (
                    entry.user_id.to_string(),
                    entry.outcome.kind(),
                    entry.outcome.reason().map(str::to_owned),
                )
            })
            .collect();
        assert_eq!(outcomes, whole, "{password_type}");
        let whole_credentials: Vec<(String, String)> = report
            .credentials()
            .iter()
            .map(|credential| {
                (
                    credential.user_id().to_string(),
                    credential.value().expose_secret().to_owned(),
                )
            })
            .collect();
        assert_eq!(credentials, whole_credentials, "{password_type}");
        assert!(credentials.len() >= 2, "{password_type}: {credentials:?}");
    }
}
