//! Resume against odin-sim: finished journals change nothing, pending and uncertain users get
//! their same value again, users never started get fresh ones.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly where its precondition breaks"
)]

mod common;

use std::io::Write;

use bwreset_core::{
    Error, ExposeSecret, Journal, NoProgress, OutcomeKind, PasswordType, execute, plan, resume,
};
use common::*;
use odin_sim::{Faults, SimConfig, WorldSpec};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resuming_a_finished_journal_changes_nothing_and_gives_the_same_report() {
    let (simulator, client) = start(SimConfig::with_users(20)).await;
    let config = engine_config();
    let planned = plan(
        &client,
        request(PasswordType::Vm, users(20)),
        &config,
        bwreset_core::Checks::Full,
    )
    .await
    .unwrap();
    let journal_file = temp_journal();
    let first = execute(
        &client,
        planned,
        create_journal(&journal_file.path, PasswordType::Vm, &client),
        bwreset_core::RunOptions::new(&config, &NoProgress),
    )
    .await
    .and_then(bwreset_core::JournalReport::into_report)
    .unwrap();
    assert!(first.is_complete());
    let stats_before = simulator.stats();
    let setters_before = setter_calls(&simulator, PasswordType::Vm);

    for _ in 0..2 {
        let journal = Journal::open(&journal_file.path).unwrap();
        let again = resume(
            &client,
            journal,
            bwreset_core::RunOptions::new(&config, &NoProgress),
        )
        .await
        .and_then(bwreset_core::JournalReport::into_report)
        .unwrap();
        assert_eq!(values(&again), values(&first));
        assert!(again.is_complete());
    }
    assert_eq!(setter_calls(&simulator, PasswordType::Vm), setters_before);
    assert_eq!(simulator.stats(), stats_before, "resume made requests");
    // And the journal can be read without a client.
    let report = Journal::open(&journal_file.path).unwrap().report().unwrap();
    assert_eq!(values(&report), values(&first));
}

/// Removes every outcome line, as if the process had been killed right after each request.
fn drop_outcomes(path: &std::path::Path) {
    let text = std::fs::read_to_string(path).unwrap();
    let kept: String = text
        .lines()
        .filter(|line| !line.starts_with(r#"{"record":"outcome""#))
        .map(|line| format!("{line}\n"))
        .collect();
    std::fs::write(path, kept).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_users_get_the_same_value_again_and_a_history_rejection_proves_it() {
    for password_type in PasswordType::ALL {
        let (simulator, client) = start(SimConfig::with_users(15)).await;
        let config = engine_config();
        let planned = plan(
            &client,
            request(password_type, users(15)),
            &config,
            bwreset_core::Checks::Full,
        )
        .await
        .unwrap();
        let journal_file = temp_journal();
        let first = execute(
            &client,
            planned,
            create_journal(&journal_file.path, password_type, &client),
            bwreset_core::RunOptions::new(&config, &NoProgress),
        )
        .await
        .and_then(bwreset_core::JournalReport::into_report)
        .unwrap();
        assert!(first.is_complete());
        drop_outcomes(&journal_file.path);
        let pending = Journal::open(&journal_file.path).unwrap().report().unwrap();
        assert_eq!(pending.counts().uncertain, 15, "{password_type}");
        let generator_calls = simulator.stats().count("GET", "/password/generate")
            + simulator.stats().count("GET", "/passcode/generate");

        let journal = Journal::open(&journal_file.path).unwrap();
        let resumed = resume(
            &client,
            journal,
            bwreset_core::RunOptions::new(&config, &NoProgress),
        )
        .await
        .and_then(bwreset_core::JournalReport::into_report)
        .unwrap();
        assert!(
            resumed.is_complete(),
            "{password_type}: {:?}",
            resumed.counts()
        );
        assert_eq!(values(&resumed), values(&first), "{password_type}");
        assert_truth_matches(&simulator, &resumed);
        // No new value was generated.
        assert_eq!(
            simulator.stats().count("GET", "/password/generate")
                + simulator.stats().count("GET", "/passcode/generate"),
            generator_calls
        );
        for credentials in simulator.all_credentials() {
            let changes = truth_changes(&credentials, password_type);
            match password_type {
                // The old-password rules refuse the same value: no second change.
                PasswordType::Sip | PasswordType::Vm => assert_eq!(changes, 1),
                // Web passwords have no history rule: the same value is set again.
                PasswordType::Web => assert_eq!(changes, 2),
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uncertain_users_are_settled_with_their_value() {
    // Half the answers are a 500 after the change; with no re-send those users end uncertain.
    let faults = Faults {
        fail_after_rate: 0.5,
        ..Faults::default()
    };
    let (simulator, client) = start(SimConfig::with_users(24).with_seed(5)).await;
    let config = bwreset_core::EngineConfig {
        max_resends: 0,
        ..engine_config()
    };
    let planned = plan(
        &client,
        request(PasswordType::Sip, users(24)),
        &config,
        bwreset_core::Checks::Full,
    )
    .await
    .unwrap();
    simulator.set_faults(faults);
    let journal_file = temp_journal();
    let first = execute(
        &client,
        planned,
        create_journal(&journal_file.path, PasswordType::Sip, &client),
        bwreset_core::RunOptions::new(&config, &NoProgress),
    )
    .await
    .and_then(bwreset_core::JournalReport::into_report)
    .unwrap();
    let uncertain = first.counts().uncertain;
    assert!(uncertain > 0, "{:?}", first.counts());
    assert_eq!(first.uncertain_credentials().len(), uncertain);
    // The uncertain values are in effect (the 500 came after the change): the operator has them.
    for entry in &first.entries {
        if entry.outcome.kind() == OutcomeKind::Uncertain {
            let truth = simulator.credentials(entry.user_id.as_str()).unwrap();
            assert_eq!(
                truth.sip_password.as_deref(),
                Some(entry.outcome.value().unwrap().expose_secret())
            );
        }
    }
    assert_truth_matches(&simulator, &first);

    simulator.set_faults(Faults::default());
    let journal = Journal::open(&journal_file.path).unwrap();
    let resumed = resume(
        &client,
        journal,
        bwreset_core::RunOptions::new(&config, &NoProgress),
    )
    .await
    .and_then(bwreset_core::JournalReport::into_report)
    .unwrap();
    assert!(resumed.is_complete(), "{:?}", resumed.counts());
    for (before, after) in first.entries.iter().zip(&resumed.entries) {
        assert_eq!(after.outcome.kind(), OutcomeKind::Set);
        if let Some(value) = before.outcome.value() {
            assert_eq!(
                value.expose_secret(),
                after.outcome.value().unwrap().expose_secret()
            );
        }
    }
    assert_truth_matches(&simulator, &resumed);
    for credentials in simulator.all_credentials() {
        // The same value again is refused as the old password: never a second change.
        assert_eq!(credentials.changes.sip, 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_intent_never_sent_is_sent_with_the_same_value_and_unstarted_users_get_fresh_ones() {
    let (simulator, client) = start(SimConfig::with_users(3)).await;
    let journal_file = temp_journal();
    drop(create_journal(
        &journal_file.path,
        PasswordType::Sip,
        &client,
    ));
    // The process died right after journaling the first intent, before the request left.
    let lines = format!(
        concat!(
            r#"{{"record":"targets","users":["{}","{}","{}"]}}"#,
            "\n",
            r#"{{"record":"planEnd","users":3}}"#,
            "\n",
            r#"{{"record":"intent","user":"{}","value":"Zq9xWv4Tk2","attempt":1}}"#,
            "\n",
        ),
        user_id(1),
        user_id(2),
        user_id(3),
        user_id(1)
    );
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&journal_file.path)
        .unwrap();
    file.write_all(lines.as_bytes()).unwrap();
    // ... in the middle of the next line.
    file.write_all(br#"{"record":"intent","user":"user0002@demo.exa"#)
        .unwrap();
    drop(file);

    let journal = Journal::open(&journal_file.path).unwrap();
    let report = resume(
        &client,
        journal,
        bwreset_core::RunOptions::new(&engine_config(), &NoProgress),
    )
    .await
    .and_then(bwreset_core::JournalReport::into_report)
    .unwrap();
    assert!(report.is_complete(), "{:?}", report.counts());
    let first = simulator.credentials(&user_id(1)).unwrap();
    assert_eq!(first.sip_password.as_deref(), Some("Zq9xWv4Tk2"));
    assert_eq!(first.changes.sip, 1);
    assert_truth_matches(&simulator, &report);
    assert_eq!(setter_calls(&simulator, PasswordType::Sip), 3);
}

/// A resume with nothing but values to re-send, one of which the server refuses for a rule: that
/// value was never in effect, and the user gets a fresh one from the generator (the resume used
/// to wait forever for it, with no producer of values running).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_re_sent_value_refused_by_a_rule_gets_a_fresh_one() {
    let (simulator, client) = start(SimConfig::with_users(2)).await;
    let journal_file = temp_journal();
    drop(create_journal(
        &journal_file.path,
        PasswordType::Sip,
        &client,
    ));
    // Killed with both values journaled; the first one is too short for the SIP rules.
    let lines = format!(
        concat!(
            r#"{{"record":"targets","users":["{}","{}"]}}"#,
            "\n",
            r#"{{"record":"planEnd","users":2}}"#,
            "\n",
            r#"{{"record":"intent","user":"{}","value":"Ab1","attempt":1}}"#,
            "\n",
            r#"{{"record":"intent","user":"{}","value":"Zq9xWv4Tk2","attempt":1}}"#,
            "\n",
        ),
        user_id(1),
        user_id(2),
        user_id(1),
        user_id(2)
    );
    std::fs::OpenOptions::new()
        .append(true)
        .open(&journal_file.path)
        .unwrap()
        .write_all(lines.as_bytes())
        .unwrap();

    let journal = Journal::open(&journal_file.path).unwrap();
    // A deadline only so that a hang fails the test instead of hanging it.
    let report = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        resume(
            &client,
            journal,
            bwreset_core::RunOptions::new(&engine_config(), &NoProgress),
        ),
    )
    .await
    .expect("the resume ends")
    .and_then(bwreset_core::JournalReport::into_report)
    .unwrap();
    assert!(report.is_complete(), "{:?}", report.counts());
    assert_truth_matches(&simulator, &report);
    let first = simulator.credentials(&user_id(1)).unwrap();
    // Compared, not printed: the values are credentials.
    assert!(
        first.sip_password.as_deref() != Some("Ab1"),
        "the refused value is reported in effect"
    );
    assert_eq!(first.changes.sip, 1);
    assert!(
        simulator
            .credentials(&user_id(2))
            .unwrap()
            .sip_password
            .as_deref()
            == Some("Zq9xWv4Tk2"),
        "the second user's journaled value is not in effect"
    );
    assert!(simulator.stats().count("GET", "/password/generate") >= 1);
}

/// A value journaled and never sent (the process was killed in between) that happens to be the
/// reverse of the user's current passcode: the server refuses it for that, which proves the value
/// is NOT in effect. The user gets a fresh value, and the report matches the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_as_the_reverse_of_the_current_value_is_no_proof_it_is_in_effect() {
    let world = WorldSpec::from_json(
        r#"{"serviceProviders": [{"serviceProviderId": "demo-sp", "groups": [{"groupId": "demo-group",
            "users": [{"userId": "u1@demo.example", "portalPasscode": "80531794"}]}]}]}"#,
    )
    .unwrap();
    let (simulator, client) = start(SimConfig {
        world,
        ..SimConfig::default()
    })
    .await;
    let journal_file = temp_journal();
    drop(create_journal(
        &journal_file.path,
        PasswordType::Vm,
        &client,
    ));
    let lines = concat!(
        r#"{"record":"targets","users":["u1@demo.example"]}"#,
        "\n",
        r#"{"record":"planEnd","users":1}"#,
        "\n",
        r#"{"record":"intent","user":"u1@demo.example","value":"49713508","attempt":1}"#,
        "\n",
    );
    std::fs::OpenOptions::new()
        .append(true)
        .open(&journal_file.path)
        .unwrap()
        .write_all(lines.as_bytes())
        .unwrap();

    let journal = Journal::open(&journal_file.path).unwrap();
    let report = resume(
        &client,
        journal,
        bwreset_core::RunOptions::new(&engine_config(), &NoProgress),
    )
    .await
    .and_then(bwreset_core::JournalReport::into_report)
    .unwrap();
    assert!(report.is_complete(), "{:?}", report.counts());
    assert_truth_matches(&simulator, &report);
    let truth = simulator.credentials("u1@demo.example").unwrap();
    // Compared, not printed: the values are credentials.
    assert!(
        truth.portal_passcode.as_deref() != Some("80531794"),
        "the old passcode is still in effect"
    );
    assert_eq!(truth.changes.vm, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_journal_is_used_only_for_its_own_run() {
    let (_simulator, client) = start(SimConfig::with_users(2)).await;
    let config = engine_config();
    let planned = plan(
        &client,
        request(PasswordType::Web, users(2)),
        &config,
        bwreset_core::Checks::Full,
    )
    .await
    .unwrap();
    // A journal written for another type.
    let error = execute(
        &client,
        planned.clone(),
        Journal::memory(header(PasswordType::Vm, &client)),
        bwreset_core::RunOptions::new(&config, &NoProgress),
    )
    .await
    .and_then(bwreset_core::JournalReport::into_report)
    .unwrap_err();
    assert!(matches!(error, Error::JournalMismatch { .. }), "{error}");

    // A journal that already holds a run.
    let journal_file = temp_journal();
    execute(
        &client,
        planned.clone(),
        create_journal(&journal_file.path, PasswordType::Web, &client),
        bwreset_core::RunOptions::new(&config, &NoProgress),
    )
    .await
    .and_then(bwreset_core::JournalReport::into_report)
    .unwrap();
    let used = Journal::open(&journal_file.path).unwrap();
    let error = execute(
        &client,
        planned,
        used,
        bwreset_core::RunOptions::new(&config, &NoProgress),
    )
    .await
    .and_then(bwreset_core::JournalReport::into_report)
    .unwrap_err();
    assert!(error.to_string().contains("resume it instead"), "{error}");

    // A journal of another server.
    let (_other, other_client) = start(SimConfig::with_users(2)).await;
    let journal = Journal::open(&journal_file.path).unwrap();
    let error = resume(
        &other_client,
        journal,
        bwreset_core::RunOptions::new(&config, &NoProgress),
    )
    .await
    .and_then(bwreset_core::JournalReport::into_report)
    .unwrap_err();
    assert!(matches!(error, Error::JournalMismatch { .. }), "{error}");
}
