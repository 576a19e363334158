//! The crash bars over OCI-P: a reset killed with SIGKILL in the middle of its documents, and a
//! run through every fault at once, each finished with `resume`; the simulator's truth must
//! equal the output; and the device phase killed while it rebuilds and resets. Kill points are
//! counts of OCI-P commands answered, never times.

use std::time::Duration;

use odin_sim::{Faults, OcipFrontConfig, SimConfig};

use crate::harness::{KillPoint, Kind, Scenario, Targets};

const SETTER: &str = "UserAuthenticationModifyRequest";

fn over_ocip(config: SimConfig, kind: Kind, targets: Targets) -> Scenario {
    let mut scenario = Scenario::new(config.with_ocip(OcipFrontConfig::default()), kind, targets);
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
/// at once over OCI-P: every user ends set, exactly once. The values come from the server's
/// `PasswordGenerateRequest` (the CLI's default, said here on purpose), so that its bad values are
/// met.
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
    scenario.extra_arguments = vec!["--ocip-values".to_owned(), "server".to_owned()];
    scenario.ambiguous_faults = true;
    scenario.finish(6);
    scenario.assert_truth_equals_output();
    let stats = scenario.simulator.stats();
    eprintln!("{stats:?}");
    assert!(stats.count_with_status("OCIP", "PasswordGenerateRequest", 200) > 0);
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

/// The device phase over OCI-P, killed with SIGKILL while the phones are rebuilt and twice while
/// they are reset, then resumed: as over Odin (`devices.rs`), no phone is reset twice or never,
/// and every phone ends with a current file, registered again.
#[test]
fn a_device_phase_over_ocip_killed_while_rebuilding_and_resetting_resets_no_phone_twice() {
    let users = 300;
    let config = SimConfig {
        // Over a second: a registration after a reboot has another `expiration` (to the
        // second) than the one before, which is what a resume goes by.
        devices: odin_sim::DeviceSettings {
            reboot: Duration::from_millis(1100),
            offline_fraction: 0.0,
        },
        ..SimConfig::with_users(users).with_faults(Faults {
            latency_ms: 2,
            ..Faults::default()
        })
    };
    let mut scenario = over_ocip(config, Kind::Sip, Targets::AllUsers);
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
    scenario.kill_at(KillPoint::after(
        "OCIP",
        "GroupCPEConfigRebuildDeviceConfigFileRequest",
        40,
    ));
    scenario.kill_at(KillPoint::after(
        "OCIP",
        "GroupCPEConfigResetDeviceRequest",
        60,
    ));
    scenario.kill_at(KillPoint::after(
        "OCIP",
        "GroupCPEConfigResetDeviceRequest",
        60,
    ));
    scenario.finish(1);
    scenario.assert_truth_equals_output();

    let devices = scenario.simulator.devices();
    assert_eq!(devices.len(), users);
    let twice: Vec<&str> = devices
        .iter()
        .filter(|device| device.resets > 1)
        .map(|device| device.device_name.as_str())
        .collect();
    assert!(twice.is_empty(), "phones reset twice: {twice:?}");
    let never_reset: Vec<&str> = devices
        .iter()
        .filter(|device| device.resets == 0)
        .map(|device| device.device_name.as_str())
        .collect();
    assert!(
        never_reset.is_empty(),
        "phones never reset: {never_reset:?}"
    );
    for device in &devices {
        assert!(device.config_current, "{} not rebuilt", device.device_name);
        assert!(device.registered, "{} not registered", device.device_name);
    }
    // Nothing went through the Odin front.
    let stats = scenario.simulator.stats();
    assert_eq!(stats.count("POST", "/groups/devices/reset"), 0);
    assert!(stats.count("OCIP", "UserGetRegistrationListRequest") > 0);
}
