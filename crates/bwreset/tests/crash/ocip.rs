//! The crash bars over OCI-P: a reset killed with SIGKILL in the middle of its documents, and a
//! run through every fault at once, each finished with `resume`; the simulator's truth must
//! equal the output. Kill points are counts of OCI-P commands answered, never times.

use std::time::Duration;

use odin_sim::{Faults, OcipConfig, SimConfig};

use crate::harness::{KillPoint, Kind, Scenario, Targets};

const SETTER: &str = "UserAuthenticationModifyRequest";

fn over_ocip(config: SimConfig, kind: Kind, targets: Targets) -> Scenario {
    let mut scenario = Scenario::new(config.with_ocip(OcipConfig::default()), kind, targets);
    scenario.server = Some(scenario.simulator.ocip_url().expect("an OCI-P front"));
    scenario
}

/// A SIP reset of a whole group over OCI-P, killed right after its group listing, in the middle
/// of its setter documents (several commands of a document in flight at once), and again in a
/// `resume`; a last `resume` finishes it.
#[test]
fn sip_reset_over_ocip_killed_in_the_middle_loses_nothing() {
    let kind = Kind::Sip;
    let config = SimConfig::with_users(2000).with_faults(Faults {
        latency_ms: 2,
        ..Faults::default()
    });
    let mut scenario = over_ocip(config, kind, Targets::AllUsers);
    scenario.kill_at(KillPoint::after("OCIP", "UserGetListInGroupRequest", 1));
    scenario.kill_at(KillPoint::after_ok("OCIP", SETTER, 333));
    scenario.kill_at(KillPoint::after_ok("OCIP", SETTER, 500));
    scenario.finish(1);
    scenario.assert_truth_equals_output();
    assert!(
        scenario.kills_with_pending_users > 0,
        "no kill found a value in flight: the test did not test what it says"
    );
}

/// Failures before and after the change, dropped connections (each losing a whole document's
/// answers), sessions that expire every second and generated values that break the rules, all
/// at once over OCI-P: every user ends set, exactly once.
#[test]
fn every_fault_at_once_over_ocip_ends_with_every_sip_password_set() {
    let kind = Kind::Sip;
    let faults = Faults {
        latency_ms: 1,
        fail_rate: 0.05,
        fail_after_rate: 0.05,
        drop_rate: 0.03,
        bad_value_rate: 0.05,
        ..Faults::default()
    };
    let config = SimConfig {
        token_ttl: Duration::from_secs(1),
        ..SimConfig::with_users(400).with_faults(faults).with_seed(41)
    };
    let mut scenario = over_ocip(config, kind, Targets::File(350));
    scenario.ambiguous_faults = true;
    scenario.finish(6);
    scenario.assert_truth_equals_output();
    let stats = scenario.simulator.stats();
    eprintln!("{stats:?}");
    for (status, what) in [
        (0, "dropped connections"),
        (500, "failures"),
        (400, "rule rejections"),
    ] {
        assert!(
            stats.count_with_status("OCIP", SETTER, status) > 0,
            "no {what} met"
        );
    }
}
