//! SIGKILL during the device phase of a SIP reset with `--devices reset`: while the phones are
//! rebuilt, and twice while they are reset; `resume` finishes the run. No phone may be reset
//! twice or never, every phone of a user set must end rebuilt (its file current) and registered
//! again, and the credentials must still equal the output.

use std::time::Duration;

use odin_sim::{DeviceSettings, Faults, SimConfig};

use crate::harness::{KillPoint, Kind, Scenario, Targets};

#[test]
fn a_device_phase_killed_while_rebuilding_and_resetting_resets_no_phone_twice() {
    let users = 300;
    let config = SimConfig {
        // Over a second: a registration after a reboot has another `expiration` (to the
        // second) than the one before, which is what a resume goes by.
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
    // The first step is the reset itself (with the flags above); the others are resumes.
    scenario.kill_at(KillPoint::after("POST", "/groups/devices/rebuild", 40));
    scenario.kill_at(KillPoint::after("POST", "/groups/devices/reset", 60));
    scenario.kill_at(KillPoint::after("POST", "/groups/devices/reset", 60));
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
    for device in &devices {
        assert!(device.config_current, "{} not rebuilt", device.device_name);
        assert!(device.registered, "{} not registered", device.device_name);
    }
    // A kill between a reset's journaled intent and its request leaves a phone still registered
    // from before: the resume waits for a registration newer than the one journaled with the
    // intent and resets the phone when none comes, so every phone was reset.
    let never_reset: Vec<&str> = devices
        .iter()
        .filter(|device| device.resets == 0)
        .map(|device| device.device_name.as_str())
        .collect();
    assert!(
        never_reset.is_empty(),
        "phones never reset: {never_reset:?}"
    );
}
