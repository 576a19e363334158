//! The `odin-sim` binary as scripts use it: the first stdout line, the flags, fixtures, exit
//! codes and a clean stop on SIGTERM.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly where its precondition breaks"
)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

use common::{raw_http, request_text};

const BINARY: &str = env!("CARGO_BIN_EXE_odin-sim");

/// A running binary; killed if a test fails before stopping it.
struct Running {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(args: &[&str]) -> Running {
    let mut child = Command::new(BINARY)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start odin-sim");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("first line");
    let url = line
        .trim_end()
        .strip_prefix("odin-sim listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    let authority = url
        .strip_suffix("/api/v2")
        .expect("base URL ends in /api/v2");
    let addr: SocketAddr = authority.parse().expect("address");
    assert!(addr.ip().is_loopback());
    assert_ne!(addr.port(), 0);
    Running { child, addr }
}

fn login(addr: SocketAddr, user: &str, password: &str) -> Option<String> {
    let body = format!(r#"{{"username":"{user}","password":"{password}"}}"#);
    let (status, body) = raw_http(
        addr,
        &request_text("POST", "/api/v2/auth/token", &[], &body),
    )?;
    if status != 200 {
        return None;
    }
    let answer: serde_json::Value = serde_json::from_str(&body).ok()?;
    answer["token"].as_str().map(str::to_owned)
}

fn get(addr: SocketAddr, token: &str, path: &str) -> (u16, String) {
    let bearer = format!("Bearer {token}");
    raw_http(
        addr,
        &request_text("GET", path, &[("Authorization", &bearer)], ""),
    )
    .expect("answer")
}

#[test]
fn seeds_users_prints_its_url_and_stops_cleanly_on_sigterm() {
    let mut running = start(&[
        "--listen",
        "127.0.0.1:0",
        "--users",
        "12",
        "--service-provider",
        "sp-x",
        "--group",
        "g-y",
        "--login",
        "ops:pa:ss",
        "--threads",
        "1",
    ]);
    assert!(login(running.addr, "admin", "admin").is_none());
    let token = login(running.addr, "ops", "pa:ss").expect("login");
    let (status, body) = get(
        running.addr,
        &token,
        "/api/v2/users?serviceProviderId=sp-x&groupId=g-y",
    );
    assert_eq!(status, 200);
    let users: Vec<serde_json::Value> = serde_json::from_str(&body).unwrap();
    assert_eq!(users.len(), 12);
    assert_eq!(users[0]["userId"], "user0001@demo.example");
    assert_eq!(users[11]["userId"], "user0012@demo.example");

    let terminated = Command::new("kill")
        .args(["-TERM", &running.child.id().to_string()])
        .status()
        .expect("kill");
    assert!(terminated.success());
    let status = running.child.wait().expect("wait");
    assert!(status.success(), "{status:?}");
}

#[test]
fn threads_are_counted_from_one() {
    use clap::Parser;
    for bad in ["0", "257", "many"] {
        assert!(
            odin_sim::cli::Args::try_parse_from(["odin-sim", "--threads", bad]).is_err(),
            "{bad}"
        );
    }
    let args = odin_sim::cli::Args::try_parse_from(["odin-sim", "--threads", "3"]).unwrap();
    assert_eq!(args.threads, Some(3));
}

#[test]
fn loads_a_fixture_and_refuses_a_bad_one_with_exit_code_2() {
    let mut fixture = tempfile::NamedTempFile::new().unwrap();
    fixture
        .write_all(
            br#"{"serviceProviders": [{"serviceProviderId": "acme", "groups": [{"groupId": "sales",
                "users": [{"userId": "ann@acme.example", "extension": "1001"}]}]}]}"#,
        )
        .unwrap();
    let running = start(&[
        "--fixture",
        fixture.path().to_str().unwrap(),
        "--seed",
        "3",
        "--token-ttl",
        "60",
    ]);
    let token = login(running.addr, "admin", "admin").expect("login");
    let (status, body) = get(
        running.addr,
        &token,
        "/api/v2/users?userId=ann%40acme.example",
    );
    assert_eq!(status, 200);
    assert!(body.contains(r#""groupId":"sales""#));
    drop(running);

    let mut broken = tempfile::NamedTempFile::new().unwrap();
    broken
        .write_all(br#"{"serviceProviders": [{"serviceProviderId": "acme", "groups": [{"groupId": "g", "passcodeRules": {"minCodeLength": 99}}]}]}"#)
        .unwrap();
    for path in [broken.path().to_str().unwrap(), "/nonexistent/fixture.json"] {
        let output = Command::new(BINARY)
            .args(["--fixture", path])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2));
        assert!(output.stdout.is_empty());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.starts_with("error: invalid world: "), "{stderr}");
    }
    let output = Command::new(BINARY)
        .args(["--drop-rate", "7"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn tls_prints_an_https_url_and_writes_the_ca_before_it() {
    let directory = tempfile::tempdir().unwrap();
    let ca = directory.path().join("ca.pem");
    let mut child = Command::new(BINARY)
        .args(["--tls", "--cert-out", ca.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start odin-sim");
    let mut line = String::new();
    let read = BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line);
    // The CA is written before the line announces the server.
    let pem = std::fs::read_to_string(&ca);
    let _ = child.kill();
    let _ = child.wait();
    read.unwrap();
    assert!(
        line.starts_with("odin-sim listening on https://127.0.0.1:"),
        "{line}"
    );
    assert!(line.trim_end().ends_with("/api/v2"), "{line}");
    assert!(pem.unwrap().starts_with("-----BEGIN CERTIFICATE-----"));
}
