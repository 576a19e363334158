//! SIGKILL at many points of a large run, of `reset` and of the `resume`s that finish it, then a
//! last `resume`: the simulator's truth must equal the output for every user, and nobody may be
//! changed more often than needed.
//!
//! Each kill point is a count of answered requests seen on the simulator, never a time: the
//! requests' latency only makes the run last long enough for the kills to land in its middle.

use odin_sim::{Faults, SimConfig};

use crate::harness::{KillPoint, Kind, Scenario, StepEnd, Targets};

/// Latency of every simulated request: enough for requests to be in flight at every kill.
const LATENCY_MS: u64 = 2;

fn simulator(users: usize, faults: Faults) -> SimConfig {
    SimConfig::with_users(users).with_faults(Faults {
        latency_ms: LATENCY_MS,
        ..faults
    })
}

/// Kills of a SIP reset of a whole group: right after its group listing (the plan, before or
/// just after the journal is created), right after a generator answer of the run, during the
/// listing `resume` makes to check the users never started, in the middle of a batch, and right
/// after a setter was answered.
#[test]
fn sip_reset_killed_at_every_stage_loses_nothing() {
    let kind = Kind::Sip;
    let mut scenario = Scenario::new(simulator(2000, Faults::default()), kind, Targets::AllUsers);
    scenario.kill_at(KillPoint::after("GET", "/users", 1));
    // The plan's early batch is the first generator answer, the run's come after it. The first
    // kill may leave that early batch of the killed process in flight, to be answered (and
    // counted) during this step: the third answer is the run's in every case.
    scenario.kill_at(KillPoint::after("GET", kind.generator(), 3));
    assert!(
        scenario.journal().exists(),
        "values are sent after the plan"
    );
    scenario.kill_at(KillPoint::after("GET", "/users", 1));
    scenario.kill_at(KillPoint::after_ok("PUT", kind.setter(), 333));
    scenario.kill_at(KillPoint::after_ok("PUT", kind.setter(), 1));
    scenario.finish(1);
    scenario.assert_truth_equals_output();
    assert!(
        scenario.kills_with_pending_users > 0,
        "no kill found a value in flight: the test did not test what it says"
    );
}

/// Kills of a voicemail reset of a users file (a scrambled part of the group): right after
/// login, right after the first setter answer, during the generation of a `resume`, in the
/// middle of a batch, and once every remaining user was sent (the output being written).
#[test]
fn voicemail_reset_of_a_users_file_killed_at_every_stage_loses_nothing() {
    let kind = Kind::Vm;
    let mut scenario = Scenario::new(
        simulator(3000, Faults::default()),
        kind,
        Targets::File(2500),
    );
    scenario.kill_at(KillPoint::after("POST", "/auth/token", 1));
    scenario.kill_at(KillPoint::after_ok("PUT", kind.setter(), 1));
    scenario.kill_at(KillPoint::after("GET", kind.generator(), 2));
    scenario.kill_at(KillPoint::after_ok("PUT", kind.setter(), 777));
    // Each user left gets one setter call; once they all have an answer the run is writing its
    // files, or has just done so.
    let left = scenario.unset_targets();
    assert!(left > 0);
    match scenario.step(Some(&KillPoint::after("PUT", kind.setter(), left))) {
        StepEnd::Killed | StepEnd::Exited(0) => {}
        other => panic!("{other:?}\n{}", scenario.last_stderr()),
    }
    scenario.finish(1);
    scenario.assert_truth_equals_output();
    assert!(scenario.kills_with_pending_users > 0);
}

/// Kills of a web reset with a generator that gives 10 values per call (so that values are being
/// generated all through the run): right after the group listing, in the middle of generation,
/// a `resume` right after its login, and in the middle of a batch. Web passwords have no history
/// rule, so a value re-sent after a kill may count as a second change on the server: at most
/// one more per kill that left the user's value in flight.
#[test]
fn web_reset_killed_at_every_stage_loses_nothing() {
    let kind = Kind::Web;
    let mut scenario = Scenario::new(
        simulator(
            3000,
            Faults {
                generator_cap: Some(10),
                ..Faults::default()
            },
        ),
        kind,
        Targets::AllUsers,
    );
    scenario.kill_at(KillPoint::after("GET", "/users", 1));
    scenario.kill_at(KillPoint::after("GET", kind.generator(), 40));
    scenario.kill_at(KillPoint::after("POST", "/auth/token", 1));
    scenario.kill_at(KillPoint::after_ok("PUT", kind.setter(), 1001));
    scenario.finish(1);
    scenario.assert_truth_equals_output();
    assert!(scenario.kills_with_pending_users > 0);
}

/// The check the issue asks for: a large run against a simulator with faults on (failures before
/// and after the change, dropped connections, rule-breaking values, short generator answers,
/// tokens that expire every couple of seconds), killed again and again at points spread over
/// its stages, then finished. The credentials have history rules, so even values re-sent after
/// a kill or a fault must count as exactly one change.
#[test]
fn runs_killed_again_and_again_under_faults_lose_nothing() {
    for (kind, seed) in [(Kind::Sip, 7u64), (Kind::Vm, 8)] {
        let faults = Faults {
            fail_rate: 0.02,
            fail_after_rate: 0.02,
            drop_rate: 0.02,
            bad_value_rate: 0.02,
            generator_cap: Some(25),
            ..Faults::default()
        };
        let config = SimConfig {
            token_ttl: std::time::Duration::from_secs(2),
            ..simulator(1500, faults).with_seed(seed)
        };
        let mut scenario = Scenario::new(config, kind, Targets::AllUsers);
        let mut random = seed;
        for _ in 0..8 {
            // A small linear congruential generator: the same kill points on every run.
            random = random
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let pick = random >> 33;
            let left = if scenario.journal().exists() {
                scenario.unset_targets()
            } else {
                scenario.target_ids.len() as u64
            };
            if left < 50 {
                break;
            }
            let point = match pick % 4 {
                0 => KillPoint::after("POST", "/auth/token", 1),
                1 => KillPoint::after("GET", kind.generator(), 1 + pick % 3),
                _ => KillPoint::after("PUT", kind.setter(), 1 + pick % (left / 2)),
            };
            scenario.kill_at(point);
        }
        scenario.finish(4);
        scenario.assert_truth_equals_output();
    }
}

/// A kill after `reset` created its journal and before the plan in it was durable (a window of
/// a few milliseconds) leaves a journal with a header and nothing else. `resume` cannot finish
/// it (there is no plan: nothing was sent) and says so; the same `reset` again replaces it and
/// runs.
#[test]
fn a_reset_killed_before_its_plan_was_durable_is_started_again() {
    let kind = Kind::Vm;
    let mut scenario = Scenario::new(SimConfig::with_users(6), kind, Targets::AllUsers);
    // A journal header as the binary writes it, for another output file of the same directory.
    let earlier = scenario.path("earlier.json");
    let arguments = [
        "reset",
        "--type",
        kind.flag(),
        "--service-provider",
        crate::harness::SERVICE_PROVIDER,
        "--group",
        crate::harness::GROUP,
        "--all-users",
        "--out",
        earlier.to_str().unwrap(),
        "--yes",
    ];
    assert!(matches!(scenario.command(&arguments), StepEnd::Exited(0)));
    let earlier_journal = std::fs::read_to_string(scenario.path("earlier.json.journal")).unwrap();
    let header = earlier_journal.lines().next().unwrap();
    assert!(header.contains(r#""record":"header""#));
    std::fs::write(
        scenario.journal(),
        format!("{}\n", header.replace("earlier.json", "out.json")),
    )
    .unwrap();
    scenario.forget_changes_so_far();

    let journal = scenario.journal();
    let resumed = scenario.command(&["resume", "--journal", journal.to_str().unwrap(), "--yes"]);
    let stderr = scenario.last_stderr();
    assert!(
        matches!(resumed, StepEnd::Exited(2)),
        "{resumed:?}\n{stderr}"
    );
    assert!(stderr.contains("no complete plan"), "{stderr}");

    match scenario.step(None) {
        StepEnd::Exited(0) => {}
        other => panic!("{other:?}\n{}", scenario.last_stderr()),
    }
    let stderr = scenario.last_stderr();
    assert!(stderr.contains("note: removed journal"), "{stderr}");
    scenario.assert_truth_equals_output();
}

/// Two processes on one journal: while a reset runs, a `resume` of its journal is refused with a
/// clear message and changes nothing; the reset finishes as if alone.
#[test]
fn a_second_process_on_a_journal_in_use_is_refused() {
    let kind = Kind::Sip;
    let mut scenario = Scenario::new(simulator(2000, Faults::default()), kind, Targets::AllUsers);
    let home = scenario.directory.path().to_path_buf();
    let base_url = scenario.simulator.base_url();
    let journal = scenario.journal();
    let mut second = None;
    let first = scenario.step_with(&mut |_, since| {
        if since.count_with_status("PUT", kind.setter(), 200) < 20 {
            return false;
        }
        let output = crate::harness::bwreset(&home, &base_url)
            .args(["resume", "--journal", journal.to_str().unwrap(), "--yes"])
            .output()
            .expect("the second bwreset runs");
        second = Some(output);
        true
    });
    assert!(matches!(first, StepEnd::Exited(0)), "{first:?}");
    let output = second.expect("the second process ran while the first was running");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("another bwreset"), "{stderr}");
    assert!(output.stdout.is_empty());
    // Every setter call came from the first process: one per user.
    assert_eq!(
        scenario.simulator.stats().count("PUT", kind.setter()),
        scenario.target_ids.len() as u64
    );
    scenario.assert_truth_equals_output();
}

/// Kills of a voicemail reset of a targets file spanning six groups of two service providers
/// (a scrambled part of their users): right after login, right after the first setter answer,
/// during a generation, and in the middle of a batch; `resume` finishes it, each user under its
/// own group.
#[test]
fn reset_across_groups_killed_at_every_stage_loses_nothing() {
    let kind = Kind::Vm;
    let config = SimConfig::with_groups(2, 3, 400).with_faults(Faults {
        latency_ms: LATENCY_MS,
        ..Faults::default()
    });
    let mut scenario = Scenario::new(config, kind, Targets::AcrossGroups(2000));
    scenario.kill_at(KillPoint::after("POST", "/auth/token", 1));
    scenario.kill_at(KillPoint::after_ok("PUT", kind.setter(), 1));
    scenario.kill_at(KillPoint::after("GET", kind.generator(), 2));
    scenario.kill_at(KillPoint::after_ok("PUT", kind.setter(), 600));
    scenario.finish(1);
    scenario.assert_truth_equals_output();
    assert!(scenario.kills_with_pending_users > 0);
}
