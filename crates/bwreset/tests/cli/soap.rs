//! `bwreset` over OCI-P over SOAP (`--server http(s)://.../webservice/services/ProvisioningService`)
//! against the simulator's web service front: a reset whose setters a hostile front leaves
//! uncertain, finished by `resume` with the truth agreeing; HTTPS with `--ca-cert`; `check`;
//! the dry run; hostile fronts at login, each named, exit 3 with nothing changed; `--protocol`.

use odin_sim::{Faults, FrontFault, SimConfig, SoapFaults};

use crate::common::{Fixture, read_json_output, text};

const SETTER: &str = "UserAuthenticationModifyRequest";

/// A load balancer answers 502 in the service's place after the service applied each document
/// of setters: the users end uncertain, the run says so, and once the front behaves `resume`
/// settles them; every value in the output is the one in effect, over HTTPS with the
/// simulator's CA.
#[test]
fn a_reset_left_uncertain_by_a_front_is_finished_by_resume() {
    let fixture = Fixture::with_config(SimConfig::with_users(40).with_tls());
    let ca = fixture.write("ca.pem", fixture.simulator.ca_pem().expect("a CA"));
    fixture.simulator.set_soap_faults(SoapFaults {
        front: Some(FrontFault::BadGateway),
        only_for: Some(SETTER.into()),
        after_apply: true,
        times: None,
    });
    let out = fixture.path("out.json");
    let soap_url = fixture.simulator.soap_url();
    assert!(soap_url.starts_with("https://"));
    let output = fixture
        .reset(
            "sip",
            &[
                "--all-users",
                "--out",
                out.to_str().unwrap(),
                "--yes",
                "--ca-cert",
                ca.to_str().unwrap(),
            ],
        )
        .env("BWRESET_SERVER", &soap_url)
        .output()
        .expect("runs");
    let stderr = text(&output.stderr);
    assert_ne!(output.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("uncertain"), "{stderr}");
    assert!(stderr.contains("resume"), "{stderr}");
    fixture.simulator.set_soap_faults(SoapFaults::default());
    let journal = fixture.path("out.json.journal");
    let recorded = std::fs::read_to_string(&journal).expect("journal");
    assert!(
        recorded.contains("/webservice/services/ProvisioningService"),
        "the journal records the SOAP server"
    );
    let resumed = fixture
        .bwreset()
        .args([
            "resume",
            "--journal",
            journal.to_str().unwrap(),
            "--yes",
            "--ca-cert",
            ca.to_str().unwrap(),
        ])
        .output()
        .expect("runs");
    assert_eq!(resumed.status.code(), Some(0), "{}", text(&resumed.stderr));
    let rows = read_json_output(&out, "newPassword");
    assert_eq!(rows.len(), 40);
    for (user_id, value) in &rows {
        assert_eq!(
            fixture.value_in_effect(user_id, "sip").as_deref(),
            Some(value.as_str()),
            "{user_id}"
        );
    }
    // Every command went over SOAP; the Odin API changed nothing.
    let stats = fixture.simulator.stats();
    assert!(stats.count("POST", "/webservice/services/ProvisioningService") > 0);
    assert_eq!(stats.count("PUT", "/users/authentication"), 0);
}

/// `check` over SOAP says so and lists the group; the dry run changes nothing.
#[test]
fn check_and_the_dry_run_over_soap() {
    let fixture = Fixture::with_config(SimConfig::with_users(3));
    let soap_url = fixture.simulator.soap_url();
    let output = fixture
        .bwreset()
        .args([
            "check",
            "--server",
            &soap_url,
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
    assert!(
        stdout.contains("(OCI-P over SOAP, from flag `--server`)"),
        "{stdout}"
    );
    assert!(stdout.contains("3 user(s)"), "{stdout}");

    let output = fixture
        .reset("web", &["--all-users", "--dry-run"])
        .env("BWRESET_SERVER", &soap_url)
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(fixture.total_changes(), 0);
    assert!(
        fixture
            .simulator
            .stats()
            .count("OCIP", "UserGetListInGroupRequest")
            > 0
    );
}

/// A reset over SOAP ends every session it logged in with a `LogoutRequest` that reached the
/// service (the server keeps a SOAP session under its cookie: closing the connection would not
/// end it), made while the output files are written and waited for even when they are written
/// first (here each call takes 150 ms).
#[test]
fn a_reset_over_soap_logs_every_session_out() {
    let fixture = Fixture::with_config(SimConfig::with_users(40).with_faults(Faults {
        latency_ms: 150,
        ..Faults::default()
    }));
    let out = fixture.path("out.json");
    let output = fixture
        .reset(
            "sip",
            &[
                "--all-users",
                "--out",
                out.to_str().unwrap(),
                "--yes",
                "--ocip-connections",
                "4",
            ],
        )
        .env("BWRESET_SERVER", fixture.simulator.soap_url())
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(fixture.total_changes(), 40);
    let stats = fixture.simulator.stats();
    let logins = stats.count("OCIP", "LoginRequest14sp4");
    assert!(logins >= 1, "{logins} logins");
    assert_eq!(stats.count("OCIP", "LogoutRequest"), logins);
}

/// Each hostile front on every call: the run cannot start (exit 3), the error names what came
/// back, and nothing changed; a redirect is never followed.
#[test]
fn hostile_fronts_at_login_stop_the_run_before_anything_changed() {
    let fixture = Fixture::with_config(SimConfig::with_users(2));
    let soap_url = fixture.simulator.soap_url();
    let out = fixture.path("out.json");
    for (fault, named) in [
        (FrontFault::SoapFault, "SOAP Fault"),
        (FrontFault::BadGateway, "502 Bad Gateway"),
        (FrontFault::Unavailable, "503 Service Unavailable"),
        (FrontFault::Unauthorized, "401 Unauthorized"),
        (FrontFault::Forbidden, "403 Forbidden"),
        (FrontFault::LoginRedirect, "redirected the request"),
        (FrontFault::NoReturn, "processOCIMessageReturn"),
        (FrontFault::UnparsableReturn, "returned does not parse"),
        (FrontFault::DropCookie, "JSESSIONID"),
    ] {
        fixture.simulator.set_soap_faults(SoapFaults {
            front: Some(fault),
            ..SoapFaults::default()
        });
        let output = fixture
            .reset(
                "sip",
                &["--all-users", "--yes", "--out", out.to_str().unwrap()],
            )
            .env("BWRESET_SERVER", &soap_url)
            .output()
            .expect("runs");
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(3), "{fault:?}: {stderr}");
        assert!(stderr.contains(named), "{fault:?}: {stderr}");
        assert!(
            stderr.contains("nothing was changed"),
            "{fault:?}: {stderr}"
        );
    }
    assert_eq!(fixture.total_changes(), 0);
    assert_eq!(fixture.simulator.stats().count("GET", "/sso/login"), 0);
}

/// `--protocol ocip-soap` speaks SOAP to any path (here one the simulator does not serve: its
/// 404 is named); without it such a path is Odin's.
#[test]
fn the_protocol_flag_overrides_the_path() {
    let fixture = Fixture::with_config(SimConfig::with_users(1));
    let rewritten = format!("{}/bw/ocip", fixture.simulator.root_url());
    let out = fixture.path("out.json");
    let output = fixture
        .reset(
            "sip",
            &[
                "--all-users",
                "--yes",
                "--out",
                out.to_str().unwrap(),
                "--protocol",
                "ocip-soap",
            ],
        )
        .env("BWRESET_SERVER", &rewritten)
        .output()
        .expect("runs");
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("404"), "{stderr}");
    assert!(stderr.contains("the OCI-P web service"), "{stderr}");
    assert_eq!(fixture.total_changes(), 0);
}

/// Over HTTPS without the CA the certificate is refused (exit 3, nothing changed); with
/// `--insecure` the run goes on and says so once.
#[test]
fn https_is_verified_and_insecure_warns_once() {
    let fixture = Fixture::with_config(SimConfig::with_users(2).with_tls());
    let soap_url = fixture.simulator.soap_url();
    let output = fixture
        .reset("web", &["--all-users", "--dry-run"])
        .env("BWRESET_SERVER", &soap_url)
        .output()
        .expect("runs");
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("TLS"), "{stderr}");
    assert!(stderr.contains("--ca-cert"), "{stderr}");
    assert!(!stderr.contains("ocips://"), "{stderr}");

    let output = fixture
        .reset("web", &["--all-users", "--dry-run", "--insecure"])
        .env("BWRESET_SERVER", &soap_url)
        .output()
        .expect("runs");
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert_eq!(
        stderr.matches("warning: `--insecure`").count(),
        1,
        "{stderr}"
    );
    assert_eq!(fixture.total_changes(), 0);
}

/// `check` over an `https://` web service shows the certificate as it does over `ocips://` and
/// https Odin, and with `--insecure` warns once on stderr, as a run does.
#[test]
fn check_over_https_soap_shows_the_certificate_and_insecure_warns_once() {
    let fixture = Fixture::with_config(SimConfig::with_users(2).with_tls());
    let soap_url = fixture.simulator.soap_url();
    let ca = fixture.write("ca.pem", fixture.simulator.ca_pem().expect("a CA"));
    for extra in [vec!["--ca-cert", ca.to_str().unwrap()], vec!["--insecure"]] {
        let output = fixture
            .bwreset()
            .args(["check", "--server", &soap_url])
            .args(&extra)
            .output()
            .expect("runs");
        let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
        assert_eq!(output.status.code(), Some(0), "{stdout}{stderr}");
        assert!(
            stdout.contains("ok    connection   TLS handshake done"),
            "{stdout}"
        );
        assert!(
            stdout.contains("certificate  subject `CN=odin-sim`"),
            "{stdout}"
        );
        assert!(stdout.contains("names   localhost, 127.0.0.1"), "{stdout}");
        assert!(stdout.contains("ok    login"), "{stdout}");
        let warnings = stderr.matches("warning: `--insecure`").count();
        assert_eq!(warnings, usize::from(extra[0] == "--insecure"), "{stderr}");
    }
}

/// The protocol a run spoke is kept in its journal, so `resume` needs no `--protocol`; a
/// different one is refused before anything is sent (exit 2).
#[test]
fn resume_keeps_the_protocol_of_the_run() {
    let fixture = Fixture::with_config(SimConfig::with_users(6));
    fixture.simulator.set_soap_faults(SoapFaults {
        front: Some(FrontFault::BadGateway),
        only_for: Some(SETTER.into()),
        after_apply: true,
        times: None,
    });
    let out = fixture.path("out.json");
    let output = fixture
        .reset(
            "sip",
            &[
                "--all-users",
                "--yes",
                "--out",
                out.to_str().unwrap(),
                "--protocol",
                "ocip-soap",
            ],
        )
        .env("BWRESET_SERVER", fixture.simulator.soap_url())
        .output()
        .expect("runs");
    let stderr = text(&output.stderr);
    assert_ne!(output.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("uncertain"), "{stderr}");
    fixture.simulator.set_soap_faults(SoapFaults::default());
    let journal = fixture.path("out.json.journal");
    let header = std::fs::read_to_string(&journal).expect("journal");
    let header = header.lines().next().expect("a header");
    assert!(header.contains("\"protocol\":\"ocip-soap\""), "{header}");

    let resume = |extra: &[&str]| {
        fixture
            .bwreset()
            .args(["resume", "--journal", journal.to_str().unwrap(), "--yes"])
            .args(extra)
            .output()
            .expect("runs")
    };
    let refused = resume(&["--protocol", "odin"]);
    let stderr = text(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("`--protocol odin` differs from `ocip-soap`"),
        "{stderr}"
    );
    assert!(stderr.contains("leave out `--protocol`"), "{stderr}");

    let resumed = resume(&[]);
    assert_eq!(resumed.status.code(), Some(0), "{}", text(&resumed.stderr));
    let rows = read_json_output(&out, "newPassword");
    assert_eq!(rows.len(), 6);
    for (user_id, value) in &rows {
        assert_eq!(
            fixture.value_in_effect(user_id, "sip").as_deref(),
            Some(value.as_str()),
            "{user_id}"
        );
    }
    assert_eq!(
        fixture
            .simulator
            .stats()
            .count("PUT", "/users/authentication"),
        0
    );
}
