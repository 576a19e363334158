//! Ctrl-C (SIGINT) part-way: the run stops, and before it exits writes the output of every user
//! whose new value is in effect, the failures file with every other user and why, and the audit
//! record. Then `resume` finishes the run, and the simulator's truth equals the output.

use std::collections::BTreeSet;
use std::time::Duration;

use odin_sim::{DeviceSettings, Faults, SimConfig};

use crate::harness::{KillPoint, Kind, Scenario, StepEnd, Targets};

/// What a stopped run left: the output's rows equal the simulator's truth, the failures file
/// lists exactly the targets not in the output (each with a status and a reason), and the audit
/// record says the run stopped. Gives the users in the output.
fn assert_stop_left_the_values(scenario: &Scenario) -> BTreeSet<String> {
    let rows = scenario.output_rows();
    let truth: std::collections::BTreeMap<String, odin_sim::Credentials> = scenario
        .simulator
        .all_credentials()
        .into_iter()
        .map(|credentials| (credentials.user_id.clone(), credentials))
        .collect();
    let differing: Vec<&String> = rows
        .iter()
        .filter(|(user_id, value)| {
            truth
                .get(user_id)
                .and_then(|credentials| scenario.kind.value_in_effect(credentials))
                != Some(value.as_str())
        })
        .map(|(user_id, _)| user_id)
        .collect();
    assert!(
        differing.is_empty(),
        "output differs from the server: {differing:?}"
    );
    let set: BTreeSet<String> = rows.into_iter().map(|(user_id, _)| user_id).collect();

    let failures =
        std::fs::read_to_string(scenario.path("out.json.failed.csv")).expect("a failures file");
    let mut lines = failures.lines();
    assert_eq!(lines.next(), Some("userId,status,reason"));
    let mut not_set = BTreeSet::new();
    for line in lines {
        let fields: Vec<&str> = line.splitn(3, ',').collect();
        assert_eq!(fields.len(), 3, "{line}");
        assert!(
            ["failed", "uncertain"].contains(&fields[1]) && !fields[2].is_empty(),
            "{line}"
        );
        not_set.insert(fields[0].to_owned());
    }
    assert!(set.is_disjoint(&not_set), "a user both set and not set");
    let all: BTreeSet<String> = set.union(&not_set).cloned().collect();
    assert_eq!(
        all, scenario.target_ids,
        "every target in the output or the failures file"
    );

    let audit: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(scenario.path("out.json.audit.json")).expect("an audit record"),
    )
    .expect("audit JSON");
    let run = &audit["runs"][0];
    assert_eq!(run["set"].as_u64(), Some(set.len() as u64));
    assert!(run["stopReason"].is_string(), "{run}");
    set
}

#[test]
fn ctrl_c_part_way_through_the_users_leaves_output_failures_and_audit() {
    let kind = Kind::Vm;
    let mut scenario = Scenario::new(
        SimConfig::with_users(2000).with_faults(Faults {
            latency_ms: 2,
            ..Faults::default()
        }),
        kind,
        Targets::AllUsers,
    );
    match scenario.interrupt_at(KillPoint::after_ok("PUT", kind.setter(), 600)) {
        StepEnd::Exited(1) => {}
        other => panic!("{other:?}\n{}", scenario.last_stderr()),
    }
    let stderr = scenario.last_stderr();
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert!(stderr.contains("bwreset resume --journal"), "{stderr}");
    let set = assert_stop_left_the_values(&scenario);
    // The simulator had answered 600 setters when SIGINT left; the few in flight whose answers
    // the stopped run never read are uncertain (in the failures file), not set.
    assert!(
        set.len() >= 600 - 64 && set.len() < 2000,
        "{} set: the stop did not land part-way",
        set.len()
    );

    // The operator who stopped on purpose: the journal's state, then its files once more, with
    // nothing sent.
    let rows = scenario.output_rows();
    std::fs::remove_file(scenario.out()).expect("output removed");
    let requests = scenario.simulator.stats();
    let journal = scenario.journal().display().to_string();
    match scenario.command(&["resume", "--journal", &journal, "--dry-run"]) {
        StepEnd::Exited(1) => {}
        other => panic!("{other:?}\n{}", scenario.last_stderr()),
    }
    let state = scenario.last_stderr();
    assert!(
        state.contains(&format!("set:            {}\n", set.len())),
        "{state}"
    );
    assert!(state.contains("never started:"), "{state}");
    assert!(state.contains("out.json` (not written)"), "{state}");
    match scenario.command(&["resume", "--journal", &journal, "--files-only"]) {
        StepEnd::Exited(1) => {}
        other => panic!("{other:?}\n{}", scenario.last_stderr()),
    }
    assert_eq!(scenario.output_rows(), rows, "the same output again");
    let sent: Vec<odin_sim::RequestCount> =
        crate::harness::difference(&scenario.simulator.stats(), &requests)
            .requests
            .into_iter()
            .filter(|row| row.count > 0)
            .collect();
    assert!(sent.is_empty(), "requests sent: {sent:?}");
    scenario.finish(1);
    scenario.assert_truth_equals_output();
}

#[test]
fn ctrl_c_in_the_phone_phase_leaves_every_value_and_the_devices_report() {
    let users = 120;
    let config = SimConfig {
        devices: DeviceSettings {
            reboot: Duration::from_millis(1100),
            offline_fraction: 0.0,
        },
        ..SimConfig::with_users(users).with_faults(Faults {
            latency_ms: 2,
            ..Faults::default()
        })
    };
    let mut scenario = Scenario::new(config, Kind::Sip, Targets::AllUsers);
    scenario.extra_arguments = [
        "--devices",
        "reset",
        "--reset-rate",
        "2000",
        "--registration-timeout",
        "60",
    ]
    .map(str::to_owned)
    .to_vec();
    match scenario.interrupt_at(KillPoint::after("POST", "/groups/devices/reset", 30)) {
        StepEnd::Exited(1) => {}
        other => panic!("{other:?}\n{}", scenario.last_stderr()),
    }
    // Every credential was set before the first phone was touched: all of them in the output.
    let set = assert_stop_left_the_values_of_all(&scenario);
    assert_eq!(set, users);
    let devices =
        std::fs::read_to_string(scenario.path("out.json.devices.csv")).expect("a devices report");
    assert!(devices.starts_with("deviceName,"), "{devices}");
    assert!(devices.contains(",reset,"), "{devices}");
    let audit =
        std::fs::read_to_string(scenario.path("out.json.audit.json")).expect("an audit record");
    assert!(audit.contains("\"devices\""), "{audit}");
    // A resume that leaves the phones alone must not say they keep the old password: some were
    // reset.
    let journal = scenario.journal().display().to_string();
    match scenario.command(&[
        "resume",
        "--journal",
        &journal,
        "--yes",
        "--devices",
        "none",
    ]) {
        StepEnd::Exited(0) => {}
        other => panic!("{other:?}\n{}", scenario.last_stderr()),
    }
    let stderr = scenario.last_stderr();
    assert!(!stderr.contains("keep the old password"), "{stderr}");
    assert!(
        stderr.contains("an earlier pass of this run did the phones"),
        "{stderr}"
    );
    scenario.finish(1);
    scenario.assert_truth_equals_output();
}

/// A stop after every user was set: the output equals the truth and there is no failures file.
fn assert_stop_left_the_values_of_all(scenario: &Scenario) -> usize {
    let rows = scenario.output_rows();
    let truth: std::collections::BTreeMap<String, odin_sim::Credentials> = scenario
        .simulator
        .all_credentials()
        .into_iter()
        .map(|credentials| (credentials.user_id.clone(), credentials))
        .collect();
    for (user_id, value) in &rows {
        assert_eq!(
            truth
                .get(user_id)
                .and_then(|credentials| scenario.kind.value_in_effect(credentials)),
            Some(value.as_str()),
            "{user_id}: output differs from the server"
        );
    }
    assert!(!scenario.path("out.json.failed.csv").exists());
    assert!(scenario.path("out.json.audit.json").exists());
    rows.len()
}
