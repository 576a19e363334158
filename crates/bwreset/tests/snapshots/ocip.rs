//! OCI-P diagnosed like Odin: `check` over `ocips://` shows the certificate and the same lines,
//! `-v` shows the OCI-P client's debug lines, a port that speaks the other protocol than the
//! URL's scheme is named with the fix, and a bad `--ca-cert` file is a usage error.

use odin_sim::SimConfig;

use crate::common::{Fixture, GROUP, SERVICE_PROVIDER, text};
use crate::screens::{assert_screen, screen};

/// A simulator with its OCI-P front, over TLS or plain TCP, and that front's URL.
fn ocip_fixture(tls: bool) -> (Fixture, String) {
    let fixture = Fixture::with_config(SimConfig::with_users(3).with_ocip(
        odin_sim::OcipFrontConfig {
            tls,
            ..odin_sim::OcipFrontConfig::default()
        },
    ));
    let url = fixture.simulator.ocip_url().expect("an OCI-P front");
    (fixture, url)
}

/// The simulator's CA, written to the test's directory.
fn ca_file(fixture: &Fixture) -> String {
    let pem = fixture.simulator.ocip_ca_pem().expect("a CA");
    let path = fixture.write("ca.pem", pem.as_bytes());
    path.to_str().unwrap().to_owned()
}

#[test]
fn check_over_ocips_shows_the_certificate_and_the_same_lines_as_odin() {
    let (fixture, server) = ocip_fixture(true);
    let ca = ca_file(&fixture);
    let output = fixture
        .bwreset()
        .args(["check", "--server", &server, "--ca-cert", &ca])
        .args(["--service-provider", SERVICE_PROVIDER, "--group", GROUP])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", screen(&output));
    assert_screen("check_ocips", &screen(&output), fixture.directory.path());
}

#[test]
fn a_tls_port_reached_with_ocip_is_named_with_the_fix() {
    let (fixture, server) = ocip_fixture(true);
    let plain_url = server.replacen("ocips://", "ocip://", 1);
    let out = fixture.path("out.json");
    let output = fixture
        .reset(
            "sip",
            &["--all-users", "--out", out.to_str().unwrap(), "--yes"],
        )
        .args(["--server", &plain_url])
        .env_remove("ODIN_BASE_URL")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3), "{}", screen(&output));
    assert_eq!(fixture.total_changes(), 0);
    assert_screen(
        "error_ocip_on_a_tls_port",
        &screen(&output),
        fixture.directory.path(),
    );
}

#[test]
fn a_plain_port_reached_with_ocips_is_named_with_the_fix() {
    let (fixture, server) = ocip_fixture(false);
    let tls_url = server.replacen("ocip://", "ocips://", 1);
    let output = fixture
        .bwreset()
        .args(["check", "--server", &tls_url, "--connect-timeout", "1"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3), "{}", screen(&output));
    let stdout = text(&output.stdout);
    assert!(stdout.contains("FAIL  connection"), "{stdout}");
    assert!(stdout.contains("speaks plain OCI-P, not TLS"), "{stdout}");
    assert!(
        stdout.contains("fix: give the server's TLS port"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&server),
        "the plain URL is offered: {stdout}"
    );
}

#[test]
fn verbose_shows_the_ocip_clients_debug_lines() {
    let (fixture, server) = ocip_fixture(false);
    let output = fixture
        .bwreset()
        .args(["-v", "check", "--server", &server])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", screen(&output));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("ocip_client"), "{stderr}");
}

#[test]
fn an_unreadable_or_empty_ca_file_is_named_and_exits_2() {
    let (fixture, server) = ocip_fixture(true);
    let empty = fixture.write("empty.pem", "");
    let missing = fixture.path("missing.pem");
    for (ca, words) in [
        (&empty, "is empty"),
        (&missing, "cannot read CA certificate"),
    ] {
        let ca = ca.to_str().unwrap();
        for command in ["check", "reset"] {
            let out = fixture.path("out.json");
            let mut run = if command == "check" {
                let mut run = fixture.bwreset();
                run.arg("check");
                run
            } else {
                fixture.reset(
                    "sip",
                    &["--all-users", "--out", out.to_str().unwrap(), "--yes"],
                )
            };
            let output = run
                .args(["--server", &server, "--ca-cert", ca])
                .env_remove("ODIN_BASE_URL")
                .output()
                .unwrap();
            let stderr = text(&output.stderr);
            assert_eq!(
                output.status.code(),
                Some(2),
                "{command}: {}",
                screen(&output)
            );
            assert!(stderr.contains(words), "{command}: {stderr}");
            assert!(stderr.contains(ca), "{command}: {stderr}");
            assert!(
                stderr.contains("hint: give the CA certificate"),
                "{command}: {stderr}"
            );
        }
    }
    assert_screen_of_empty_ca(&fixture, &server, &empty);
    assert_eq!(fixture.total_changes(), 0);
}

fn assert_screen_of_empty_ca(fixture: &Fixture, server: &str, empty: &std::path::Path) {
    let output = fixture
        .bwreset()
        .args([
            "check",
            "--server",
            server,
            "--ca-cert",
            empty.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_screen(
        "error_exit_2_ca_cert",
        &screen(&output),
        fixture.directory.path(),
    );
}
