//! The crash bars over OCI-P over SOAP: a reset through the simulator's web service front with
//! every fault on at once, hostile fronts answering in the service's place after it applied
//! setters, killed with SIGKILL in the middle of its setters, and finished with `resume`; the
//! simulator's truth must equal the output.

use std::time::Duration;

use odin_sim::{Faults, FrontFault, SimConfig, SoapFaults};

use crate::harness::{KillPoint, Kind, Scenario, Targets};

const SETTER: &str = "UserAuthenticationModifyRequest";

/// Failures before and after the change, dropped HTTP connections, sessions that expire every
/// second, generated values that break the rules, and a load balancer's 502 after the service
/// applied a document of setters, all at once over SOAP; killed twice in its setters; every
/// user ends set, to the value in the output.
#[test]
fn every_fault_at_once_over_soap_killed_and_resumed_ends_with_every_sip_password_set() {
    let faults = Faults {
        latency_ms: 3,
        fail_rate: 0.05,
        fail_after_rate: 0.05,
        drop_rate: 0.03,
        bad_value_rate: 0.05,
        ..Faults::default()
    };
    let config = SimConfig {
        token_ttl: Duration::from_secs(1),
        ..SimConfig::with_users(400).with_faults(faults).with_seed(43)
    };
    let mut scenario = Scenario::new(config, Kind::Sip, Targets::File(350));
    scenario.server = Some(scenario.simulator.soap_url());
    scenario.simulator.set_soap_faults(SoapFaults {
        front: Some(FrontFault::BadGateway),
        only_for: Some(SETTER.into()),
        after_apply: true,
        times: Some(4),
    });
    scenario.ambiguous_faults = true;
    // Small counts, so that a first step that runs on past its kill point (a busy machine)
    // still leaves the second enough users to reach its own.
    scenario.kill_at(KillPoint::after_ok("OCIP", SETTER, 50));
    scenario.kill_at(KillPoint::after_ok("OCIP", SETTER, 30));
    scenario.finish(6);
    scenario.assert_truth_equals_output();
    assert!(
        scenario.kills_with_pending_users > 0,
        "no kill found a value in flight: the test did not test what it says"
    );
    let stats = scenario.simulator.stats();
    assert!(
        stats.count_with_status("POST", "/webservice/services/ProvisioningService", 502) > 0,
        "the front's 502 was met"
    );
    assert_eq!(
        stats.count("PUT", "/users/authentication"),
        0,
        "nothing over Odin"
    );
}
