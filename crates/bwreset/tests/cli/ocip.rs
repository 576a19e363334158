//! `bwreset` over OCI-P (`--server ocip://...`, `BWRESET_SERVER`) against the simulator's OCI-P
//! front: each type compared with the simulator's record, refusals ending as over Odin, release
//! 21, secrets at trace level, and bad server URLs.

use std::collections::BTreeSet;

use odin_sim::{OcipFrontConfig, Release, SimConfig, WorldSpec};

use crate::common::{Fixture, read_json_output, text};

fn with_ocip(config: SimConfig) -> Fixture {
    Fixture::with_config(config.with_ocip(OcipFrontConfig::default()))
}

fn ocip_url(fixture: &Fixture) -> String {
    fixture.simulator.ocip_url().expect("an OCI-P front")
}

/// `reset` over OCI-P: `BWRESET_SERVER` beats the fixture's `ODIN_BASE_URL`.
fn reset_over_ocip(fixture: &Fixture, password_type: &str, rest: &[&str]) -> std::process::Output {
    fixture
        .reset(password_type, rest)
        .env("BWRESET_SERVER", ocip_url(fixture))
        .output()
        .expect("runs")
}

fn value_key(password_type: &str) -> &'static str {
    if password_type == "vm" {
        "newPasscode"
    } else {
        "newPassword"
    }
}

/// Each type, with the values from the server's generator (the default: one
/// `PasswordGenerateRequest` per user) and made here (`--ocip-values local`: none).
#[test]
fn each_type_over_ocip_is_what_the_simulator_holds() {
    for (password_type, values) in [
        ("sip", None),
        ("vm", None),
        ("web", None),
        ("sip", Some("local")),
        ("vm", Some("local")),
        ("web", Some("server")),
    ] {
        let fixture = with_ocip(SimConfig::with_users(25));
        let out = fixture.path("out.json");
        let mut arguments = vec!["--all-users", "--out", out.to_str().unwrap(), "--yes"];
        if let Some(values) = values {
            arguments.extend(["--ocip-values", values]);
        }
        let output = reset_over_ocip(&fixture, password_type, &arguments);
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
        let generated =
            fixture
                .simulator
                .stats()
                .count_with_status("OCIP", "PasswordGenerateRequest", 200);
        if values == Some("local") {
            assert_eq!(generated, 0, "{password_type}: values made here");
        } else {
            assert!(generated >= 25, "{password_type}: {generated} generated");
        }
        let rows = read_json_output(&out, value_key(password_type));
        assert_eq!(rows.len(), 25, "{password_type}");
        for (user_id, value) in &rows {
            assert_eq!(
                fixture.value_in_effect(user_id, password_type).as_deref(),
                Some(value.as_str()),
                "{password_type}: {user_id}"
            );
        }
        assert_eq!(
            fixture.total_changes(),
            25,
            "{password_type}: each user changed once"
        );
        // The journal records the OCI-P server, which `resume` compares.
        let journal = std::fs::read_to_string(fixture.path("out.json.journal")).expect("journal");
        assert!(journal.contains(&ocip_url(&fixture)), "{password_type}");
    }
}

/// The `--server` flag, the release 21 server (values made here from its rules) and the
/// `ocip://` default port being only the default.
#[test]
fn release_21_values_are_made_here_and_accepted() {
    for password_type in ["sip", "vm", "web"] {
        let fixture = Fixture::with_config(SimConfig::with_users(10).with_ocip(OcipFrontConfig {
            release: Release::R21,
            ..OcipFrontConfig::default()
        }));
        let out = fixture.path("out.json");
        let output = fixture
            .reset(
                password_type,
                &[
                    "--all-users",
                    "--out",
                    out.to_str().unwrap(),
                    "--yes",
                    "--server",
                    &ocip_url(&fixture),
                ],
            )
            .env_remove("ODIN_BASE_URL")
            .output()
            .expect("runs");
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
        for (user_id, value) in read_json_output(&out, value_key(password_type)) {
            assert_eq!(
                fixture.value_in_effect(&user_id, password_type),
                Some(value),
                "{password_type}"
            );
        }
        assert_eq!(
            fixture
                .simulator
                .stats()
                .count_with_status("OCIP", "PasswordGenerateRequest", 200),
            0
        );
    }
}

const MIXED_WORLD: &str = r#"{
  "serviceProviders": [{
    "serviceProviderId": "demo-sp",
    "groups": [
      { "groupId": "demo-group", "users": [
          { "userId": "alice@demo.example" },
          { "userId": "bob@demo.example", "services": ["Voice Messaging User"] },
          { "userId": "carol@demo.example" }
      ]},
      { "groupId": "other-group", "users": [ { "userId": "dave@demo.example" } ] }
    ]
  }]
}"#;

/// Unknown users, users without the Authentication service and users of another group end the
/// same way over OCI-P as over Odin: the same exit code, the same users failed, the rest set.
#[test]
fn refusals_end_as_over_odin() {
    let users = "alice@demo.example\nghost@demo.example\nbob@demo.example\ncarol@demo.example\n";
    let mut endings = Vec::new();
    for over_ocip in [false, true] {
        let fixture = with_ocip(SimConfig {
            world: WorldSpec::from_json(MIXED_WORLD).expect("world"),
            ..SimConfig::default()
        });
        let users_file = fixture.write("users.txt", users);
        let out = fixture.path("out.json");
        let arguments = [
            "--users-file",
            users_file.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--yes",
        ];
        let output = if over_ocip {
            reset_over_ocip(&fixture, "sip", &arguments)
        } else {
            fixture.reset("sip", &arguments).output().expect("runs")
        };
        let set: BTreeSet<String> = read_json_output(&out, "newPassword")
            .into_iter()
            .map(|(user_id, value)| {
                assert_eq!(fixture.value_in_effect(&user_id, "sip"), Some(value));
                user_id
            })
            .collect();
        let failures =
            std::fs::read_to_string(fixture.path("out.json.failed.csv")).expect("a failures file");
        let failed: BTreeSet<String> = failures
            .lines()
            .skip(1)
            .filter_map(|line| line.split(',').next())
            .map(str::to_owned)
            .collect();
        endings.push((output.status.code(), set, failed));
    }
    assert_eq!(endings[0], endings[1], "Odin, then OCI-P");
    let (code, set, failed) = &endings[1];
    assert_eq!(*code, Some(1));
    assert_eq!(set.len(), 2, "{set:?}");
    assert!(failed.contains("ghost@demo.example") && failed.contains("bob@demo.example"));
}

/// A whole run at `RUST_LOG=trace` over OCI-P, through refusals that quote the value sent,
/// failures after applying and dropped connections: nothing printed or written outside the
/// output and the journal holds the login password, the signed login hash or any value sent.
#[test]
fn trace_level_over_ocip_prints_no_secret() {
    const LOGIN_SECRET: &str = "Login-Secret-9x";
    // Over TCP, and over SOAP (where the escaped documents and the session's cookie must not
    // show either).
    for (password_type, over_soap) in [
        ("sip", false),
        ("vm", false),
        ("web", false),
        ("sip", true),
        ("vm", true),
        ("web", true),
    ] {
        let faults = odin_sim::Faults {
            echo_secret_rate: 0.3,
            fail_after_rate: 0.2,
            drop_rate: 0.1,
            ..odin_sim::Faults::default()
        };
        // A listing refused with `[Error 5000]` is asked again (a read), so whatever the seed
        // draws for it, the run goes on: the point here is a whole run's output.
        let mut config = SimConfig::with_users(6).with_seed(11).with_faults(faults);
        config.login = ("operator".to_owned(), LOGIN_SECRET.to_owned());
        config.world.passcode_rules =
            serde_json::from_value(serde_json::json!({"minCodeLength": 12, "maxCodeLength": 12}))
                .expect("passcode rules");
        let fixture = with_ocip(config);
        let out = fixture.path("out.json");
        let output = fixture
            .reset(
                password_type,
                &["--all-users", "--out", out.to_str().unwrap(), "--yes"],
            )
            .env(
                "BWRESET_SERVER",
                if over_soap {
                    fixture.simulator.soap_url()
                } else {
                    ocip_url(&fixture)
                },
            )
            .env("BWRESET_USERNAME", "operator")
            .env("BWRESET_PASSWORD", LOGIN_SECRET)
            .env("RUST_LOG", "trace")
            .output()
            .expect("runs");
        let printed = format!("{}{}", text(&output.stdout), text(&output.stderr));
        assert!(
            output.status.code().is_some_and(|code| code <= 1),
            "{password_type}: {printed}"
        );
        // The documents are traced, with their secrets replaced.
        assert!(
            printed.contains("OCI-P request"),
            "{password_type}: no traced document"
        );
        assert!(printed.contains("[redacted]"), "{password_type}");
        assert!(printed.contains("<signedPassword>[redacted]</signedPassword>"));
        let mut files = printed.clone();
        for name in ["out.json.failed.csv", "out.json.audit.json"] {
            files.push_str(&std::fs::read_to_string(fixture.path(name)).unwrap_or_default());
        }
        assert!(
            !files.contains(LOGIN_SECRET),
            "{password_type}: the login password"
        );
        assert!(!files.contains("JSESSIONID="), "{password_type}: a cookie");
        let journal = std::fs::read_to_string(fixture.path("out.json.journal")).expect("journal");
        let mut sent = 0;
        for line in journal.lines() {
            let record: serde_json::Value = serde_json::from_str(line).expect("JSON line");
            if record["record"] != "intent" {
                continue;
            }
            sent += 1;
            let value = record["value"].as_str().expect("value");
            assert!(
                !files.contains(value),
                "{password_type}: a value sent was printed or written outside the output"
            );
        }
        assert!(sent >= 6, "{password_type}: {sent} values sent");
    }
}

#[test]
fn bad_server_urls_are_refused_before_anything_is_sent() {
    let fixture = with_ocip(SimConfig::with_users(1));
    for (server, extra, words) in [
        ("ftp://bw.example.net", &[][..], "does not start with"),
        ("ocip://bw.example.net", &[], "--allow-plaintext"),
        ("ocips://bw.example.net", &["--insecure"][..], "--insecure"),
        ("ocips://admin:pw@bw.example.net", &[], "must not hold"),
    ] {
        let out = fixture.path("out.json");
        let mut arguments = vec![
            "--all-users",
            "--yes",
            "--out",
            out.to_str().unwrap(),
            "--server",
            server,
        ];
        arguments.extend_from_slice(extra);
        let output = fixture.reset("sip", &arguments).output().expect("runs");
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{server}: {stderr}");
        assert!(stderr.contains(words), "{server}: {stderr}");
        assert!(!stderr.contains("admin:pw"), "{stderr}");
    }
    assert_eq!(fixture.total_changes(), 0);
}

/// `bwreset check` over OCI-P: the login and the group listing, then a refused login.
#[test]
fn check_over_ocip_logs_in_and_lists_the_group() {
    let fixture = with_ocip(SimConfig::with_users(3));
    let output = fixture
        .bwreset()
        .args([
            "check",
            "--server",
            &ocip_url(&fixture),
            "--service-provider",
            "demo-sp",
            "--group",
            "demo-group",
        ])
        .output()
        .expect("runs");
    let stdout = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}{}",
        text(&output.stderr)
    );
    assert!(stdout.contains("ok    login"), "{stdout}");
    assert!(stdout.contains("3 user(s)"), "{stdout}");

    let output = fixture
        .bwreset()
        .args(["check", "--server", &ocip_url(&fixture)])
        .env("BWRESET_PASSWORD", "not-the-password")
        .output()
        .expect("runs");
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(3), "{stdout}");
    assert!(stdout.contains("was refused"), "{stdout}");
    assert!(!stdout.contains("not-the-password"), "{stdout}");
}

/// `ocips://` with the simulator's CA given by `--ca-cert`: the same flag as for Odin. Without
/// it the certificate is not trusted and nothing is changed.
#[test]
fn tls_with_the_ca_given_by_ca_cert() {
    let fixture = Fixture::with_config(SimConfig::with_users(4).with_ocip(OcipFrontConfig {
        tls: true,
        ..OcipFrontConfig::default()
    }));
    let server = ocip_url(&fixture);
    assert!(server.starts_with("ocips://"), "{server}");
    let ca = fixture.write(
        "ca.pem",
        fixture.simulator.ocip_ca_pem().expect("a CA").as_bytes(),
    );
    let out = fixture.path("out.json");
    let untrusted = reset_over_ocip(
        &fixture,
        "web",
        &["--all-users", "--out", out.to_str().unwrap(), "--yes"],
    );
    assert_eq!(
        untrusted.status.code(),
        Some(3),
        "{}",
        text(&untrusted.stderr)
    );
    assert!(text(&untrusted.stderr).contains("--ca-cert"));
    assert_eq!(fixture.total_changes(), 0);

    let output = reset_over_ocip(
        &fixture,
        "web",
        &[
            "--all-users",
            "--out",
            out.to_str().unwrap(),
            "--yes",
            "--ca-cert",
            ca.to_str().unwrap(),
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    for (user_id, value) in read_json_output(&out, "newPassword") {
        assert_eq!(fixture.value_in_effect(&user_id, "web"), Some(value));
    }
    assert_eq!(fixture.total_changes(), 4);
}

/// A SIP run with `--devices reset` over OCI-P at `RUST_LOG=trace`: the device commands are
/// traced, the phones end current and registered, and neither the login password nor any
/// value sent appears outside the output and the journal.
#[test]
fn trace_level_with_devices_over_ocip_prints_no_secret() {
    const LOGIN_SECRET: &str = "Login-Secret-9x";
    let mut config = SimConfig::with_users(20);
    config.login = ("operator".to_owned(), LOGIN_SECRET.to_owned());
    config.devices = odin_sim::DeviceSettings {
        reboot: std::time::Duration::ZERO,
        offline_fraction: 0.0,
    };
    let fixture = with_ocip(config);
    let out = fixture.path("out.json");
    let output = fixture
        .reset(
            "sip",
            &[
                "--all-users",
                "--out",
                out.to_str().unwrap(),
                "--yes",
                "--devices",
                "reset",
                "--reset-rate",
                "1000",
            ],
        )
        .env("BWRESET_SERVER", ocip_url(&fixture))
        .env("BWRESET_USERNAME", "operator")
        .env("BWRESET_PASSWORD", LOGIN_SECRET)
        .env("RUST_LOG", "trace")
        .output()
        .expect("runs");
    let printed = format!("{}{}", text(&output.stdout), text(&output.stderr));
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    for command in [
        "UserGetRequest22",
        "GroupCPEConfigRebuildDeviceConfigFileRequest",
        "GroupCPEConfigResetDeviceRequest",
        "UserGetRegistrationListRequest",
    ] {
        assert!(printed.contains(command), "{command} not traced");
    }
    let devices = fixture.simulator.devices();
    assert_eq!(devices.len(), 20);
    assert!(
        devices
            .iter()
            .all(|device| device.config_current && device.registered && device.resets == 1)
    );
    let mut files = printed;
    for name in [
        "out.json.failed.csv",
        "out.json.audit.json",
        "out.json.devices.csv",
    ] {
        files.push_str(&std::fs::read_to_string(fixture.path(name)).unwrap_or_default());
    }
    assert!(!files.contains(LOGIN_SECRET), "the login password");
    let rows = read_json_output(&out, "newPassword");
    assert_eq!(rows.len(), 20);
    for (user_id, value) in &rows {
        assert_eq!(
            fixture.value_in_effect(user_id, "sip").as_deref(),
            Some(value.as_str())
        );
        assert!(!files.contains(value.as_str()), "{user_id}'s value printed");
    }
}
