//! Runs across groups: targets named under their groups, and every group of a service provider,
//! against a simulator of two service providers of three groups each.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly where its precondition breaks"
)]

mod common;

use bwreset_core::{
    Checks, Error, ExposeSecret, GroupRef, GroupedUsers, Journal, JournalHeader, NoProgress,
    Outcome, PasswordType, ResetRequest, Scope, Targets, UserId,
};
use odin_client::OdinClient;
use odin_sim::{SimConfig, SimHandle};

/// Two service providers (`sp1`, `sp2`) of three groups (`sp1-g1`, ...) of four users each;
/// the passcodes of `sp1-g2` are 9 digits long and those of `sp2-g1` 5, the others' 6 (the
/// system's default minimum) or more.
async fn start() -> (SimHandle, OdinClient) {
    let mut config = SimConfig::with_groups(2, 3, 4);
    for (provider, group, length) in [(0, 1, 9), (1, 0, 5)] {
        config.world.service_providers[provider].groups[group].passcode_rules =
            serde_json::from_value(
                serde_json::json!({"minCodeLength": length, "maxCodeLength": length}),
            )
            .unwrap();
    }
    common::start(config).await
}

fn user(group: &str, number: usize) -> UserId {
    UserId::try_from(format!("{group}-user{number:04}@demo.example")).unwrap()
}

fn grouped(rows: &[(&str, &str, UserId)]) -> Targets {
    let mut grouped = GroupedUsers::new();
    for (provider, group, user) in rows {
        grouped.push(provider, group, user.clone());
    }
    Targets::Grouped(grouped)
}

fn request(password_type: PasswordType, targets: Targets) -> ResetRequest {
    ResetRequest {
        password_type,
        targets,
    }
}

fn all_groups(service_provider_id: &str) -> Targets {
    Targets::AllGroups {
        service_provider_id: service_provider_id.into(),
    }
}

fn header(
    password_type: PasswordType,
    service_provider_id: &str,
    groups: Vec<GroupRef>,
    client: &OdinClient,
) -> JournalHeader {
    JournalHeader::new(
        password_type,
        service_provider_id,
        "",
        client.base_url(),
        serde_json::Value::Null,
    )
    .with_scope(Scope::across(service_provider_id, groups).unwrap())
}

/// Four groups of two service providers in one run: each user is reset under its own group
/// with a value made under that group's rules; a user listed under a group it is not in and an
/// unknown user fail, the first with a reason naming both groups; a duplicate is reset once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn targets_across_four_groups() {
    let (simulator, client) = start().await;
    let rows = [
        ("sp1", "sp1-g2", user("sp1-g2", 1)),
        ("sp2", "sp2-g1", user("sp2-g1", 2)),
        ("sp1", "sp1-g1", user("sp1-g1", 1)),
        // In sp1-g1, listed under sp1-g2.
        ("sp1", "sp1-g2", user("sp1-g1", 3)),
        ("sp2", "sp2-g3", user("sp2-g3", 4)),
        (
            "sp2",
            "sp2-g1",
            UserId::try_from("ghost@demo.example").unwrap(),
        ),
        ("sp1", "sp1-g2", user("sp1-g2", 2)),
        // Again, under another group: reset once, under the first.
        ("sp2", "sp2-g3", user("sp1-g2", 1)),
    ];
    let reset = request(PasswordType::Vm, grouped(&rows));
    let config = common::engine_config();
    let plan = bwreset_core::plan(&client, reset.clone(), &config, Checks::Membership)
        .await
        .unwrap();
    assert!(plan.scope().group_columns());
    assert_eq!(plan.scope().groups().len(), 4, "{:?}", plan.scope());
    assert_eq!(plan.len(), 7);
    assert_eq!(plan.duplicates.len(), 1);
    assert_eq!(plan.group_of(3).group_id, "sp1-g2");
    let journal = Journal::memory(header(
        PasswordType::Vm,
        "",
        plan.scope().groups().to_vec(),
        &client,
    ));
    let report = bwreset_core::execute(
        &client,
        plan,
        journal,
        bwreset_core::RunOptions::new(&config, &NoProgress),
    )
    .await
    .and_then(bwreset_core::JournalReport::into_report)
    .unwrap();
    assert!(report.scope.group_columns());
    let expected = [
        ("sp1-g2", user("sp1-g2", 1).to_string()),
        ("sp2-g1", user("sp2-g1", 2).to_string()),
        ("sp1-g1", user("sp1-g1", 1).to_string()),
        ("sp1-g2", user("sp1-g1", 3).to_string()),
        ("sp2-g3", user("sp2-g3", 4).to_string()),
        ("sp2-g1", "ghost@demo.example".to_owned()),
        ("sp1-g2", user("sp1-g2", 2).to_string()),
    ];
    for (position, (group, user_id)) in expected.iter().enumerate() {
        assert_eq!(report.entries[position].user_id.as_str(), user_id);
        assert_eq!(report.column_group(position).unwrap().group_id, *group);
    }
    let reason = |position: usize| report.entries[position].outcome.reason().unwrap_or("");
    assert!(
        reason(3).contains("`sp1-g2`") && reason(3).contains("`sp1-g1`"),
        "{}",
        reason(3)
    );
    assert!(reason(5).contains("User not found"), "{}", reason(5));
    assert_eq!(report.counts().set, 5);
    assert_eq!(report.counts().failed, 2);
    common::assert_truth_matches(&simulator, &report);
    // Each value was made under its own group's rules.
    for (position, length) in [(0, 9), (1, 5), (6, 9)] {
        let Outcome::Set { value } = &report.entries[position].outcome else {
            panic!("entry {position} not set");
        };
        assert_eq!(value.expose_secret().len(), length, "entry {position}");
    }
    let Outcome::Set { value } = &report.entries[2].outcome else {
        panic!("entry 2 not set");
    };
    assert!(![5, 9].contains(&value.expose_secret().len()));
    // The wrong-group user was not touched.
    assert_eq!(
        common::truth_changes(
            &simulator.credentials(user("sp1-g1", 3).as_str()).unwrap(),
            PasswordType::Vm
        ),
        0
    );
    simulator.shutdown().await;
}

/// Every group of a service provider: each listed once, by group in the server's order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_groups_of_a_service_provider() {
    let (simulator, client) = start().await;
    let config = common::engine_config();
    for checks in [Checks::Full, Checks::Membership] {
        let reset = request(PasswordType::Sip, all_groups("sp2"));
        let plan = bwreset_core::plan(&client, reset.clone(), &config, checks)
            .await
            .unwrap();
        let groups: Vec<&str> = plan
            .scope()
            .groups()
            .iter()
            .map(|group| group.group_id.as_str())
            .collect();
        assert_eq!(groups, ["sp2-g1", "sp2-g2", "sp2-g3"]);
        assert_eq!(plan.ready_count(), 12, "{checks:?}");
        if checks == Checks::Full {
            continue;
        }
        let journal = Journal::memory(header(
            PasswordType::Sip,
            "sp2",
            plan.scope().groups().to_vec(),
            &client,
        ));
        let report = bwreset_core::execute(
            &client,
            plan,
            journal,
            bwreset_core::RunOptions::new(&config, &NoProgress),
        )
        .await
        .and_then(bwreset_core::JournalReport::into_report)
        .unwrap();
        assert!(report.is_complete());
        let order: Vec<String> = report
            .entries
            .iter()
            .map(|entry| entry.user_id.to_string())
            .collect();
        let expected: Vec<String> = ["sp2-g1", "sp2-g2", "sp2-g3"]
            .iter()
            .flat_map(|group| (1..=4).map(|number| user(group, number).to_string()))
            .collect();
        assert_eq!(order, expected);
        common::assert_truth_matches(&simulator, &report);
    }
    // Nobody of sp1 was touched.
    assert_eq!(
        common::truth_changes(
            &simulator.credentials(user("sp1-g1", 1).as_str()).unwrap(),
            PasswordType::Sip
        ),
        0
    );
    simulator.shutdown().await;
}

/// An unknown group, or service provider, is the caller's error before anything is changed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_groups_and_service_providers_are_named() {
    let (simulator, client) = start().await;
    let config = common::engine_config();
    let rows = [
        ("sp1", "sp1-g1", user("sp1-g1", 1)),
        ("sp1", "sp1-g9", user("sp1-g1", 2)),
    ];
    for checks in [Checks::Full, Checks::Membership] {
        let reset = request(PasswordType::Sip, grouped(&rows));
        let error = bwreset_core::plan(&client, reset.clone(), &config, checks)
            .await
            .expect_err("unknown group");
        assert!(
            matches!(&error, Error::UnknownGroup { group_id: Some(group), .. } if group == "sp1-g9"),
            "{error:?}"
        );
        assert!(error.to_string().contains("`sp1-g9`"), "{error}");
    }
    let reset = request(PasswordType::Web, all_groups("sp9"));
    let error = bwreset_core::plan(&client, reset.clone(), &config, Checks::Membership)
        .await
        .expect_err("unknown service provider");
    assert!(
        matches!(&error, Error::UnknownGroup { service_provider_id, group_id: None, .. } if service_provider_id == "sp9"),
        "{error:?}"
    );
    for password_type in [PasswordType::Sip, PasswordType::Web] {
        assert_eq!(common::setter_calls(&simulator, password_type), 0);
    }
    simulator.shutdown().await;
}

/// A run across groups resumed from its journal file: the users whose answers were lost get
/// their journaled values again, under their own groups, and the report keeps the groups.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_across_groups_resumes() {
    let (simulator, client) = start().await;
    let config = common::engine_config();
    let rows: Vec<(&str, &str, UserId)> = ["sp1-g1", "sp1-g2", "sp2-g1", "sp2-g2"]
        .iter()
        .flat_map(|group| {
            let provider = &group[..3];
            (1..=3).map(move |number| (provider, *group, user(group, number)))
        })
        .collect();
    let reset = request(PasswordType::Vm, grouped(&rows));
    let plan = bwreset_core::plan(&client, reset.clone(), &config, Checks::Membership)
        .await
        .unwrap();
    let groups = plan.scope().groups().to_vec();
    let temp = common::temp_journal();
    let journal = Journal::create(
        &temp.path,
        header(PasswordType::Vm, "", groups.clone(), &client),
    )
    .unwrap();
    let first = bwreset_core::execute(
        &client,
        plan,
        journal,
        bwreset_core::RunOptions::new(&config, &NoProgress),
    )
    .await
    .and_then(bwreset_core::JournalReport::into_report)
    .unwrap();
    assert!(first.is_complete());
    // As if killed before any answer was journaled: every user pending.
    let text = std::fs::read_to_string(&temp.path).unwrap();
    assert!(
        text.lines().next().unwrap().contains(r#""groups":[{"#),
        "{text}"
    );
    let kept: String = text
        .lines()
        .filter(|line| !line.starts_with(r#"{"record":"outcome""#))
        .map(|line| format!("{line}\n"))
        .collect();
    std::fs::write(&temp.path, kept).unwrap();
    let journal = Journal::open(&temp.path).unwrap();
    assert_eq!(journal.report().unwrap().counts().uncertain, 12);
    let report = bwreset_core::resume(
        &client,
        journal,
        bwreset_core::RunOptions::new(&config, &NoProgress),
    )
    .await
    .and_then(bwreset_core::JournalReport::into_report)
    .unwrap();
    assert!(report.is_complete(), "{report:?}");
    assert_eq!(report.scope.groups(), groups);
    for (position, entry) in report.entries.iter().enumerate() {
        assert_eq!(entry.user_id, first.entries[position].user_id);
        assert_eq!(report.column_group(position), first.column_group(position));
        assert!(
            entry.outcome.value().unwrap().expose_secret()
                == first.entries[position]
                    .outcome
                    .value()
                    .unwrap()
                    .expose_secret()
        );
    }
    common::assert_truth_matches(&simulator, &report);
    simulator.shutdown().await;
}

/// The device phase across groups: every phone of the users set, in three groups, is rebuilt,
/// reset and seen registering again, the registrations read group by group.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_device_phase_works_across_groups() {
    let mut config = SimConfig::with_groups(2, 3, 4);
    config.devices.reboot = std::time::Duration::ZERO;
    let (simulator, client) = common::start(config).await;
    let engine_config = common::engine_config();
    let reset = request(PasswordType::Sip, all_groups("sp1"));
    let plan = bwreset_core::plan(&client, reset.clone(), &engine_config, Checks::Membership)
        .await
        .unwrap();
    let journal = Journal::memory(header(
        PasswordType::Sip,
        "sp1",
        plan.scope().groups().to_vec(),
        &client,
    ));
    let options = bwreset_core::DeviceOptions {
        registration_timeout: std::time::Duration::from_secs(5),
        poll_interval: std::time::Duration::from_millis(20),
        reset_rate: 1000.0,
        ..bwreset_core::DeviceOptions::new(bwreset_core::DeviceAction::Reset)
    };
    let (report, devices) = common::execute_with_devices(
        &client,
        plan,
        journal,
        &engine_config,
        &options,
        &NoProgress,
    )
    .await
    .unwrap();
    assert!(report.is_complete());
    assert_eq!(devices.entries.len(), 12, "{devices:?}");
    for entry in &devices.entries {
        assert_eq!(
            entry.result,
            bwreset_core::DeviceResult::Registered,
            "{entry:?}"
        );
        // Each phone is its own group's.
        let user = entry.users[0].as_str();
        assert!(
            user.starts_with(&format!("{}-", entry.device.group_id().unwrap())),
            "{entry:?}"
        );
    }
    let stats = simulator.stats();
    let reads = stats.count("GET", "/users/registration/bulk");
    assert!(reads >= 3 && reads % 3 == 0, "{reads} registration reads");
    simulator.shutdown().await;
}

/// A plan across groups is not run into a journal written for one group (nor the reverse).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_across_groups_needs_a_journal_across_the_same_groups() {
    let (simulator, client) = start().await;
    let config = common::engine_config();
    let rows = [("sp1", "sp1-g1", user("sp1-g1", 1))];
    let reset = request(PasswordType::Web, grouped(&rows));
    let plan = bwreset_core::plan(&client, reset.clone(), &config, Checks::Membership)
        .await
        .unwrap();
    let one_group = JournalHeader::new(
        PasswordType::Web,
        "",
        "",
        client.base_url(),
        serde_json::Value::Null,
    );
    let error = bwreset_core::execute(
        &client,
        plan,
        Journal::memory(one_group),
        bwreset_core::RunOptions::new(&config, &NoProgress),
    )
    .await
    .and_then(bwreset_core::JournalReport::into_report)
    .expect_err("another run's journal");
    assert!(matches!(error, Error::JournalMismatch { .. }), "{error:?}");
    assert!(
        error.to_string().contains("a run across 1 groups"),
        "{error}"
    );
    assert_eq!(common::setter_calls(&simulator, PasswordType::Web), 0);
    simulator.shutdown().await;
}
