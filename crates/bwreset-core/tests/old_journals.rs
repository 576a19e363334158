//! Journals written by older builds (format versions 1 to 5, kept under `tests/fixtures`) still
//! replay and resume, and take the device phase that version 3 added.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly where its precondition breaks"
)]

mod common;

use std::time::Duration;

use bwreset_core::{
    DeviceAction, DeviceOptions, DeviceResult, ExposeSecret, GroupRef, Journal, NoProgress,
    Outcome, Scope,
};
use odin_sim::{DeviceSettings, SimConfig};

/// A copy of the fixture in a temporary directory, its `baseUrl` pointed at `base_url`.
fn copy_fixture(version: u32, base_url: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let text = std::fs::read_to_string(format!(
        "{}/tests/fixtures/journal-v{version}.jsonl",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("old.journal");
    std::fs::write(&path, text.replace("http://127.0.0.1:1/api/v2", base_url)).unwrap();
    (directory, path)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_1_and_2_replay_resume_and_take_the_device_phase() {
    for version in [1, 2] {
        let mut config = SimConfig::with_users(3);
        config.devices = DeviceSettings {
            reboot: Duration::ZERO,
            ..DeviceSettings::default()
        };
        let (simulator, client) = common::start(config).await;
        let (_directory, path) = copy_fixture(version, client.base_url());
        let journal = Journal::open(&path).unwrap();
        assert_eq!(journal.header().version, version);
        let before = journal.report().unwrap();
        assert!(matches!(before.entries[0].outcome, Outcome::Set { .. }));
        assert!(matches!(
            before.entries[1].outcome,
            Outcome::Uncertain { .. }
        ));
        let options = DeviceOptions {
            registration_timeout: Duration::from_secs(5),
            poll_interval: Duration::from_millis(20),
            reset_rate: 1000.0,
            ..DeviceOptions::new(DeviceAction::Reset)
        };
        let (report, devices) = common::resume_with_devices(
            &client,
            journal,
            &common::engine_config(),
            &options,
            &NoProgress,
        )
        .await
        .unwrap();
        assert!(report.is_complete(), "version {version}");
        // The pending user got its journaled value again, not a new one.
        let Outcome::Set { value } = &report.entries[1].outcome else {
            panic!("version {version}: user0002 not set");
        };
        assert!(value.expose_secret() == "Fixture-Value-2b");
        let truth = simulator.credentials("user0002@demo.example").unwrap();
        assert!(truth.sip_password.as_deref() == Some("Fixture-Value-2b"));
        // user0001 was set by the old run outside this simulator: its phone is rebuilt and
        // reset like the others (the journal says it was set).
        assert_eq!(devices.entries.len(), 3, "version {version}");
        assert!(
            devices
                .entries
                .iter()
                .all(|entry| entry.result == DeviceResult::Registered),
            "version {version}: {devices:?}"
        );
        simulator.shutdown().await;
    }
}

/// A version 3 journal (one group, no `groups`; a device phase under way: a phone rebuilt, not
/// reset yet) replays as it did, resumes (its uncertain user gets its journaled value again, the
/// user the pre-check rejected is run) and finishes the device phase.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_3_replays_resumes_and_finishes_its_device_phase() {
    let mut config = SimConfig::with_users(3);
    config.devices = DeviceSettings {
        reboot: Duration::ZERO,
        ..DeviceSettings::default()
    };
    let (simulator, client) = common::start(config).await;
    let (_directory, path) = copy_fixture(3, client.base_url());
    let journal = Journal::open(&path).unwrap();
    assert_eq!(journal.header().version, 3);
    let one_group = Scope::group(GroupRef::new("demo-sp", "demo-group"));
    assert_eq!(journal.header().scope, one_group);
    let before = journal.report().unwrap();
    assert_eq!(before.scope, one_group);
    assert!(matches!(before.entries[0].outcome, Outcome::Set { .. }));
    assert!(matches!(
        before.entries[1].outcome,
        Outcome::Uncertain { .. }
    ));
    assert!(
        matches!(&before.entries[2].outcome, Outcome::Failed { reason } if reason.contains("pre-check failed"))
    );
    let options = DeviceOptions {
        registration_timeout: Duration::from_secs(5),
        poll_interval: Duration::from_millis(20),
        reset_rate: 1000.0,
        ..DeviceOptions::new(DeviceAction::Reset)
    };
    let (report, devices) = common::resume_with_devices(
        &client,
        journal,
        &common::engine_config(),
        &options,
        &NoProgress,
    )
    .await
    .unwrap();
    assert!(report.is_complete(), "{report:?}");
    let Outcome::Set { value } = &report.entries[1].outcome else {
        panic!("user0002 not set");
    };
    assert!(value.expose_secret() == "Fixture-Value-2b");
    let Outcome::Set { value } = &report.entries[2].outcome else {
        panic!("user0003 not set");
    };
    let truth = simulator.credentials("user0003@demo.example").unwrap();
    assert!(truth.sip_password.as_deref() == Some(value.expose_secret()));
    // phone-0001 (rebuilt before) is reset now; the phones of the two users set now are found,
    // rebuilt and reset.
    assert_eq!(devices.entries.len(), 3, "{devices:?}");
    assert!(
        devices
            .entries
            .iter()
            .all(|entry| entry.result == DeviceResult::Registered),
        "{devices:?}"
    );
    // The journal, appended to by this build, still reads as version 3 and says the same.
    let reopened = Journal::open(&path).unwrap();
    assert_eq!(reopened.header().version, 3);
    assert!(reopened.report().unwrap().is_complete());
    simulator.shutdown().await;
}

/// A journal of version 4 (a run across groups, its server under the header's old name
/// `baseUrl`), as the builds before version 5 wrote it: it replays with its groups, and `resume`
/// sends the pending value again and sets the user never started.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_4_across_groups_replays_and_resumes() {
    let (simulator, client) = common::start(SimConfig::with_users(3)).await;
    let (_directory, path) = copy_fixture(4, client.base_url());
    let journal = Journal::open(&path).unwrap();
    assert_eq!(journal.header().version, 4);
    assert_eq!(journal.header().server, client.base_url());
    let across = Scope::across("", vec![GroupRef::new("demo-sp", "demo-group")]).unwrap();
    assert_eq!(journal.header().scope, across);
    let report = bwreset_core::resume(
        &client,
        journal,
        bwreset_core::RunOptions::new(&common::engine_config(), &NoProgress),
    )
    .await
    .unwrap()
    .into_report()
    .unwrap();
    assert!(report.is_complete(), "{report:?}");
    assert_eq!(report.scope, across);
    let Outcome::Set { value } = &report.entries[1].outcome else {
        panic!("user0002 not set: {:?}", report.entries[1]);
    };
    assert!(
        value.expose_secret() == "730164",
        "the pending value was sent again"
    );
    for entry in &report.entries[1..] {
        let Outcome::Set { value } = &entry.outcome else {
            panic!("{} not set", entry.user_id);
        };
        let truth = simulator.credentials(entry.user_id.as_str()).unwrap();
        assert!(truth.portal_passcode.as_deref() == Some(value.expose_secret()));
    }
}

/// A journal of version 5 (the last before new SIP user names), a SIP run of one group: it
/// replays and resumes as it did, the uncertain value sent again with no name, the user never
/// started set with a password alone, and every user keeps its authentication name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_5_replays_and_resumes_without_new_names() {
    let (simulator, client) = common::start(SimConfig::with_users(3)).await;
    let names_before: Vec<_> = simulator
        .all_credentials()
        .into_iter()
        .map(|credentials| credentials.sip_user_name)
        .collect();
    let (_directory, path) = copy_fixture(5, client.base_url());
    let journal = Journal::open(&path).unwrap();
    assert_eq!(journal.header().version, 5);
    assert_eq!(journal.header().user_name_template, None);
    let config = common::engine_config();
    let report = bwreset_core::resume(
        &client,
        journal,
        bwreset_core::RunOptions::new(&config, &NoProgress),
    )
    .await
    .unwrap()
    .into_report()
    .unwrap();
    assert!(report.is_complete(), "{report:?}");
    let Outcome::Set { value } = &report.entries[1].outcome else {
        panic!("user0002 not set: {:?}", report.entries[1]);
    };
    assert!(
        value.expose_secret() == "Fixture-Value-5b",
        "the uncertain value was sent again"
    );
    for entry in &report.entries[1..] {
        assert_eq!(entry.new_user_name, None);
        let Outcome::Set { value } = &entry.outcome else {
            panic!("{} not set", entry.user_id);
        };
        let truth = simulator.credentials(entry.user_id.as_str()).unwrap();
        assert!(truth.sip_password.as_deref() == Some(value.expose_secret()));
    }
    let names_after: Vec<_> = simulator
        .all_credentials()
        .into_iter()
        .map(|credentials| credentials.sip_user_name)
        .collect();
    assert_eq!(names_before, names_after);
    // The resume appended to the journal without raising its version or adding names.
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains("userName"), "{text}");
    assert_eq!(Journal::open(&path).unwrap().header().version, 5);
}
