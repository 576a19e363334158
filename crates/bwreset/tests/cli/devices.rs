//! `--devices`: the phones of a SIP reset rebuilt, reset and seen registered again, compared
//! with the simulator's truth (`/_sim/devices`); refused for VM; advice without it; the dry
//! run's device plan; and `resume --devices reset` after a run that left the phones alone.
//! Each run goes through the Odin API, again over OCI-P (`BWRESET_SERVER=ocip://...`) and again
//! over OCI-P over SOAP (`BWRESET_SERVER=http://.../webservice/services/ProvisioningService`).

use std::time::Duration;

use odin_sim::{DeviceSettings, DeviceTruth, OcipFrontConfig, SimConfig, WorldSpec};

use crate::common::{Fixture, text};

/// acme/sales: ann-phone shared by ann and ben, ben's own phone, cat's DECT handset with its
/// own credentials, dan's lobby phone that cannot be reset, zed's phone (zed not in the run).
const FIXTURE: &str = r#"{
  "serviceProviders": [{
    "serviceProviderId": "acme",
    "groups": [{
      "groupId": "sales",
      "users": [{"userId": "ann@acme.example"}, {"userId": "ben@acme.example"},
                {"userId": "cat@acme.example"}, {"userId": "dan@acme.example"},
                {"userId": "zed@acme.example"}],
      "devices": [
        {"deviceName": "ann-phone", "lines": ["ann@acme.example", "ben@acme.example"]},
        {"deviceName": "ben-phone", "deviceType": "Polycom VVX 450", "lines": ["ben@acme.example"]},
        {"deviceName": "cat-dect", "useCustomUserNamePassword": true, "lines": ["cat@acme.example"]},
        {"deviceName": "lobby", "supportsReset": false, "lines": ["dan@acme.example"]},
        {"deviceName": "zed-phone", "lines": ["zed@acme.example"]}
      ]
    }]
  }]
}"#;

/// The simulator with [`FIXTURE`] and instant reboots; with its OCI-P front too.
fn fixture() -> Fixture {
    Fixture::with_config(
        SimConfig {
            world: WorldSpec::from_json(FIXTURE).expect("fixture"),
            devices: DeviceSettings {
                reboot: Duration::ZERO,
                offline_fraction: 0.0,
            },
            ..SimConfig::default()
        }
        .with_ocip(OcipFrontConfig::default()),
    )
}

/// The three ways to reach the server.
const BACKENDS: [Backend; 3] = [Backend::Odin, Backend::Ocip, Backend::Soap];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Backend {
    Odin,
    Ocip,
    Soap,
}

/// `bwreset` talking to the fixture's simulator through `backend` (a `resume` goes back to the
/// server its journal names).
fn bwreset(fixture: &Fixture, backend: Backend) -> assert_cmd::Command {
    let mut command = fixture.bwreset();
    match backend {
        Backend::Odin => {}
        Backend::Ocip => {
            command.env(
                "BWRESET_SERVER",
                fixture.simulator.ocip_url().expect("an OCI-P front"),
            );
        }
        Backend::Soap => {
            command.env("BWRESET_SERVER", fixture.simulator.soap_url());
        }
    }
    command
}

fn reset(
    fixture: &Fixture,
    backend: Backend,
    users: &[&str],
    rest: &[&str],
) -> assert_cmd::Command {
    let mut command = bwreset(fixture, backend);
    command.args([
        "reset",
        "--type",
        "sip",
        "--service-provider",
        "acme",
        "--group",
        "sales",
    ]);
    for user in users {
        command.args(["--user", user]);
    }
    command.args(rest);
    command
}

fn truth<'a>(devices: &'a [DeviceTruth], name: &str) -> &'a DeviceTruth {
    devices
        .iter()
        .find(|device| device.device_name == name)
        .unwrap_or_else(|| panic!("no device {name}"))
}

/// The devices report's rows as `name -> (action, result)`.
fn rows(path: &std::path::Path) -> Vec<(String, String, String)> {
    let mut reader = csv::Reader::from_path(path).expect("devices report");
    let headers = reader.headers().unwrap().clone();
    assert_eq!(
        headers.iter().collect::<Vec<_>>(),
        [
            "deviceName",
            "deviceLevel",
            "deviceType",
            "users",
            "action",
            "result",
            "reason"
        ]
    );
    reader
        .records()
        .map(|record| {
            let record = record.unwrap();
            (
                record[0].to_owned(),
                record[4].to_owned(),
                record[5].to_owned(),
            )
        })
        .collect()
}

const RUN: [&str; 4] = [
    "ann@acme.example",
    "ben@acme.example",
    "cat@acme.example",
    "dan@acme.example",
];

#[test]
fn devices_reset_rebuilds_resets_once_and_reports_each_phone() {
    for backend in BACKENDS {
        devices_reset_over(backend);
    }
}

fn devices_reset_over(backend: Backend) {
    let fixture = fixture();
    let out = fixture.path("sip.json");
    let output = reset(
        &fixture,
        backend,
        &RUN,
        &[
            "--out",
            out.to_str().unwrap(),
            "--yes",
            "--devices",
            "reset",
            "--reset-rate",
            "1000",
            "--registration-timeout",
            "10",
        ],
    )
    .output()
    .unwrap();
    let stderr = text(&output.stderr);
    // The lobby phone refuses the reset: every user set, one device action failed.
    assert_eq!(output.status.code(), Some(1), "{backend:?}: {stderr}");
    assert!(stderr.contains("devices:"), "{stderr}");
    // Each phase's time and the total: the credentials, then the phones.
    let times = gives_phase_times(&stderr);
    assert!(times, "no phase times in the summary: {stderr}");
    let devices = fixture.simulator.devices();
    for name in ["ann-phone", "ben-phone"] {
        let device = truth(&devices, name);
        assert!(
            device.config_current && device.registered,
            "{backend:?}: {name}"
        );
        assert_eq!(
            (device.rebuilds, device.resets),
            (1, 1),
            "{backend:?}: {name}"
        );
    }
    assert_eq!(truth(&devices, "cat-dect").rebuilds, 0);
    // The requests went the way asked: over OCI-P, only OCI-P commands changed anything.
    let stats = fixture.simulator.stats();
    let over_ocip = stats.count("OCIP", "GroupCPEConfigResetDeviceRequest");
    let over_odin = stats.count("POST", "/groups/devices/reset");
    match backend {
        Backend::Odin => assert_eq!((over_odin, over_ocip), (3, 0)),
        Backend::Ocip | Backend::Soap => assert_eq!((over_odin, over_ocip), (0, 3)),
    }
    // The lobby phone's file was rebuilt; its reset was refused in the server's words.
    assert_eq!(truth(&devices, "lobby").rebuilds, 1);
    assert_eq!(truth(&devices, "lobby").resets, 0);
    assert_eq!(truth(&devices, "zed-phone").rebuilds, 0);
    let rows = rows(&fixture.path("sip.json.devices.csv"));
    let row = |name: &str| {
        rows.iter()
            .find(|row| row.0 == name)
            .unwrap_or_else(|| panic!("{name} not in the report"))
            .clone()
    };
    assert_eq!(row("ann-phone").2, "registered");
    assert_eq!(row("ben-phone").2, "registered");
    assert_eq!(
        (row("cat-dect").1, row("cat-dect").2),
        ("skip".into(), "skipped".into())
    );
    assert_eq!(row("lobby").2, "failed");
    assert!(rows.iter().all(|row| row.0 != "zed-phone"));
    // No secret in the report.
    let report = std::fs::read_to_string(fixture.path("sip.json.devices.csv")).unwrap();
    for user in RUN {
        let value = fixture.value_in_effect(user, "sip").unwrap();
        assert!(!report.contains(&value) && !stderr.contains(&value));
    }
    // The audit record holds the devices.
    let audit = std::fs::read_to_string(fixture.path("sip.json.audit.json")).unwrap();
    assert!(audit.contains("\"deviceName\": \"lobby\""), "{audit}");
}

#[test]
fn devices_are_refused_for_voicemail_with_a_clear_message() {
    let fixture = fixture();
    let out = fixture.path("vm.json");
    let output = fixture
        .bwreset()
        .args([
            "reset",
            "--type",
            "vm",
            "--service-provider",
            "acme",
            "--group",
            "sales",
            "--user",
            "ann@acme.example",
            "--out",
            out.to_str().unwrap(),
            "--yes",
            "--devices",
            "reset",
        ])
        .output()
        .unwrap();
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("SIP resets only"), "{stderr}");
    assert!(!out.exists());
}

#[test]
fn a_sip_run_without_devices_advises_and_resume_does_the_phones_later() {
    for backend in BACKENDS {
        advice_then_resume_over(backend);
    }
}

fn advice_then_resume_over(backend: Backend) {
    let fixture = fixture();
    let out = fixture.path("sip.json");
    let output = reset(
        &fixture,
        backend,
        &RUN[..2],
        &["--out", out.to_str().unwrap(), "--yes"],
    )
    .output()
    .unwrap();
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("--devices reset"), "{stderr}");
    assert_eq!(truth(&fixture.simulator.devices(), "ann-phone").rebuilds, 0);

    let journal = fixture.path("sip.json.journal");
    let output = bwreset(&fixture, backend)
        .args([
            "resume",
            "--journal",
            journal.to_str().unwrap(),
            "--yes",
            "--devices",
            "reset",
            "--reset-rate",
            "1000",
        ])
        .output()
        .unwrap();
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let devices = fixture.simulator.devices();
    for name in ["ann-phone", "ben-phone"] {
        let device = truth(&devices, name);
        assert_eq!(
            (device.rebuilds, device.resets),
            (1, 1),
            "{backend:?}: {name}"
        );
        assert!(
            device.registered && device.config_current,
            "{backend:?}: {name}"
        );
    }
}

#[test]
fn the_dry_run_shows_the_device_plan() {
    for backend in BACKENDS {
        let fixture = fixture();
        let output = reset(
            &fixture,
            backend,
            &RUN,
            &["--dry-run", "--devices", "rebuild"],
        )
        .output()
        .unwrap();
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{backend:?}: {stderr}");
        assert!(
            stderr.contains("phones: 3 to rebuild, 1 skipped (their own credentials), 1 carrying several of the users"),
            "{backend:?}: {stderr}"
        );
        assert!(
            fixture
                .simulator
                .devices()
                .iter()
                .all(|device| device.rebuilds == 0)
        );
    }
}

/// Whether the summary line gives the credentials' time, the phones' and the total:
/// `in 0.1 s (phones 2.0 s; 2.2 s in all)`.
fn gives_phase_times(stderr: &str) -> bool {
    stderr.lines().any(|line| {
        line.split_once(" in ").is_some_and(|(_, rest)| {
            rest.contains(" s (phones ") && rest.trim_end().ends_with(" s in all)")
        })
    })
}

/// Phones that do not come back: the summary names them and says what to do; `resume
/// --reset-unregistered` resets those once more (and no other), a plain `resume` only looks.
#[test]
fn phones_that_did_not_register_are_named_and_can_be_reset_once_more() {
    let fixture = Fixture::with_config(SimConfig {
        world: WorldSpec::from_json(FIXTURE).expect("fixture"),
        devices: DeviceSettings {
            reboot: Duration::ZERO,
            offline_fraction: 1.0,
        },
        ..SimConfig::default()
    });
    let out = fixture.path("sip.json");
    let output = reset(
        &fixture,
        Backend::Odin,
        &["ann@acme.example", "zed@acme.example"],
        &[
            "--out",
            out.to_str().unwrap(),
            "--yes",
            "--devices",
            "reset",
            "--reset-rate",
            "1000",
            "--registration-timeout",
            "1",
        ],
    )
    .output()
    .unwrap();
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("not registered again: `ann-phone`, `zed-phone`\n"),
        "{stderr}"
    );
    assert!(stderr.contains("check these phones on site"), "{stderr}");
    let journal = format!("{}.journal", out.display());
    assert!(
        stderr.contains(&format!(
            "`bwreset resume --journal {journal} --reset-unregistered`"
        )),
        "{stderr}"
    );
    let resets = |name: &str| truth(&fixture.simulator.devices(), name).resets;
    assert_eq!((resets("ann-phone"), resets("zed-phone")), (1, 1));

    // A plain resume checks them again and resets nothing.
    let output = bwreset(&fixture, Backend::Odin)
        .args([
            "resume",
            "--journal",
            &journal,
            "--yes",
            "--registration-timeout",
            "1",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    assert_eq!((resets("ann-phone"), resets("zed-phone")), (1, 1));

    // Asked to: each is reset once more, journal first, and waited for.
    let output = bwreset(&fixture, Backend::Odin)
        .args([
            "resume",
            "--journal",
            &journal,
            "--yes",
            "--registration-timeout",
            "1",
            "--reset-unregistered",
        ])
        .output()
        .unwrap();
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_eq!((resets("ann-phone"), resets("zed-phone")), (2, 2));
    assert!(stderr.contains("not registered again:"), "{stderr}");
}
