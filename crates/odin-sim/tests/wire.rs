//! Over real TCP: the spawned server, the thread-backed one, dropped connections, and wire
//! details that only HTTP shows.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly where its precondition breaks"
)]

mod common;

use common::{ALICE, raw_http, request_text};
use odin_sim::{Faults, SimConfig, SimHandle, spawn};
use serde_json::{Value, json};

/// A reqwest client; reqwest is built without a default TLS provider, and insists on one even
/// for plain HTTP.
fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

async fn login(client: &reqwest::Client, base_url: &str) -> String {
    let answer: Value = client
        .post(format!("{base_url}/auth/token"))
        .header("authorization", "")
        .json(&json!({"username": "admin", "password": "admin"}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("JSON");
    answer["token"].as_str().expect("token").to_owned()
}

#[tokio::test]
async fn a_spawned_simulator_serves_a_reset_end_to_end() {
    let sim = spawn(SimConfig::with_users(2).with_seed(4))
        .await
        .expect("spawn");
    let base_url = sim.base_url();
    assert_eq!(
        base_url,
        format!("http://127.0.0.1:{}/api/v2", sim.addr().port())
    );
    assert_eq!(
        sim.root_url(),
        format!("http://127.0.0.1:{}", sim.addr().port())
    );
    let client = client();
    let token = login(&client, &base_url).await;

    // A GET with a `{}` body and a trailing `?`.
    let generated: Value = client
        .get(format!(
            "{base_url}/passcode/generate?serviceProviderId=demo-sp&groupId=demo-group&limit=1&"
        ))
        .bearer_auth(&token)
        .body("{}")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let passcode = generated
        .get("passcode")
        .or_else(|| generated["passcodes"].get(0))
        .and_then(Value::as_str)
        .expect("a passcode in either shape")
        .to_owned();
    let session = client
        .get(format!("{base_url}/auth/session?"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(session.status(), 200);

    let answer = client
        .put(format!("{base_url}/users/portal-passcode"))
        .bearer_auth(&token)
        .json(&json!({"userId": ALICE, "newPasscode": passcode}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.text().await.unwrap(), "[]");

    let truth: Value = client
        .get(format!(
            "{}/_sim/credentials?userId={ALICE}",
            sim.root_url()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(truth["portalPasscode"], passcode.as_str());
    assert_eq!(
        sim.credentials(ALICE).unwrap().portal_passcode.as_deref(),
        Some(passcode.as_str())
    );
    assert_eq!(sim.all_credentials().len(), 2);
    assert_eq!(
        sim.stats()
            .count_with_status("PUT", "/users/portal-passcode", 200),
        1
    );

    sim.revoke_all_tokens();
    let refused = client
        .get(format!("{base_url}/auth/session"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
}

#[tokio::test]
async fn a_dropped_request_gets_no_answer_at_all() {
    let sim = spawn(SimConfig::with_users(1).with_seed(2))
        .await
        .expect("spawn");
    sim.set_faults(Faults {
        drop_rate: 1.0,
        ..Faults::default()
    });
    let request = request_text(
        "POST",
        "/api/v2/auth/token",
        &[("Content-Type", "application/json")],
        r#"{"username":"admin","password":"admin"}"#,
    );
    let addr = sim.addr();
    let answer = tokio::task::spawn_blocking(move || raw_http(addr, &request))
        .await
        .unwrap();
    assert_eq!(answer, None);
    // The simulator's own endpoints are never dropped.
    let stats = tokio::task::spawn_blocking(move || {
        raw_http(addr, &request_text("GET", "/_sim/stats", &[], ""))
    })
    .await
    .unwrap()
    .expect("an answer");
    assert_eq!(stats.0, 200);
    let stats: odin_sim::Stats = serde_json::from_str(&stats.1).unwrap();
    assert_eq!(stats.count_with_status("POST", "/auth/token", 0), 1);
}

#[tokio::test]
async fn html_errors_keep_their_status_over_the_wire() {
    let sim = spawn(SimConfig::with_users(1)).await.expect("spawn");
    let client = client();
    let token = login(&client, &sim.base_url()).await;
    sim.set_faults(Faults {
        html_error_rate: 1.0,
        rate_limit: Some(0.001),
        ..Faults::default()
    });
    let first = client
        .get(format!("{}/users?userId=zed", sim.base_url()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 400);
    let second = client
        .get(format!("{}/users?userId=zed", sim.base_url()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(second.status(), 429);
    assert!(second.headers().contains_key("retry-after"));
    assert!(second.text().await.unwrap().starts_with("<!DOCTYPE html>"));
}

#[test]
fn a_thread_backed_simulator_serves_sync_tests_and_stops_on_drop() {
    let sim = SimHandle::start_in_thread(SimConfig::with_users(2)).expect("start");
    let addr = sim.addr();
    let body = r#"{"username":"admin","password":"admin"}"#;
    let (status, answer) = raw_http(
        addr,
        &request_text("POST", "/api/v2/auth/token", &[("Authorization", "")], body),
    )
    .expect("answer");
    assert_eq!(status, 200, "{answer}");
    let token: Value = serde_json::from_str(&answer).unwrap();
    let bearer = format!("Bearer {}", token["token"].as_str().unwrap());
    let (status, answer) = raw_http(
        addr,
        &request_text(
            "GET",
            "/api/v2/users?userId=user0002%40demo.example",
            &[("Authorization", &bearer)],
            "{}",
        ),
    )
    .expect("answer");
    assert_eq!(status, 200);
    assert!(answer.contains("user0002@demo.example"));
    drop(sim);
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "still listening after drop"
    );
}

#[tokio::test]
async fn a_bad_world_or_a_busy_port_is_an_error() {
    let bad = SimConfig {
        world: serde_json::from_str(
            r#"{"serviceProviders": [{"serviceProviderId": "", "groups": []}]}"#,
        )
        .unwrap(),
        ..SimConfig::default()
    };
    assert!(matches!(
        spawn(bad).await,
        Err(odin_sim::Error::InvalidWorld { .. })
    ));
    let first = spawn(SimConfig::default()).await.expect("spawn");
    let busy = SimConfig {
        listen: first.addr(),
        ..SimConfig::default()
    };
    assert!(matches!(
        spawn(busy).await,
        Err(odin_sim::Error::Bind { .. })
    ));
}
