//! New SIP authentication user names: `PUT /users/authentication` and OCI-P's
//! `UserAuthenticationModifyRequest` with `userName`; names unique across the system; the truth
//! showing the current name; and a phone's file current only when it holds both halves.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly where its precondition breaks"
)]

mod common;
mod ocip_client;

use common::Sim;
use odin_sim::{SimConfig, WorldSpec};
use serde_json::json;

/// Two service providers: in acme/sales a phone shared by ann and ben; fay is in another
/// provider altogether.
const FIXTURE: &str = r#"{
  "serviceProviders": [{
    "serviceProviderId": "acme",
    "groups": [{
      "groupId": "sales",
      "users": [{"userId": "ann@acme.example"}, {"userId": "ben@acme.example"}],
      "devices": [{"deviceName": "ann-phone", "lines": ["ann@acme.example", "ben@acme.example"]}]
    }]
  }, {
    "serviceProviderId": "other",
    "groups": [{"groupId": "g", "users": [{"userId": "fay@other.example"}]}]
  }]
}"#;

const ANN: &str = "ann@acme.example";
const BEN: &str = "ben@acme.example";

fn acme() -> Sim {
    Sim::new(SimConfig {
        world: WorldSpec::from_json(FIXTURE).expect("fixture"),
        seed: Some(3),
        ..SimConfig::default()
    })
}

fn ann_phone_current(sim: &Sim) -> bool {
    sim.state
        .devices()
        .into_iter()
        .find(|device| device.device_name == "ann-phone")
        .unwrap()
        .config_current
}

#[tokio::test]
async fn a_new_user_name_comes_with_the_password_and_shows_everywhere() {
    let sim = acme();
    let token = sim.login().await;
    let answer = sim
        .put(
            &token,
            "/users/authentication",
            json!({"userId": ANN, "userName": "k3v9x2m4q8w1", "newPassword": "Brand-New-Pass7"}),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.details());
    assert_eq!(
        answer.json(),
        json!({"userId": ANN, "userName": "k3v9x2m4q8w1", "newPassword": ""})
    );
    let read = sim
        .get(&token, &format!("/users/authentication?userId={ANN}"))
        .await;
    assert_eq!(read.json()["userName"], "k3v9x2m4q8w1");
    let truth = sim.state.credentials(ANN).unwrap();
    assert_eq!(truth.sip_user_name.as_deref(), Some("k3v9x2m4q8w1"));
    assert_eq!(truth.sip_password.as_deref(), Some("Brand-New-Pass7"));
    assert_eq!(truth.changes.sip, 1);
    // The old name is free again; the user's own current name is no change.
    let answer = sim
        .put(
            &token,
            "/users/authentication",
            json!({"userId": BEN, "userName": "ann", "newPassword": "Other-New-Pass8"}),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.details());
    let answer = sim
        .put(
            &token,
            "/users/authentication",
            json!({"userId": BEN, "userName": "ann", "newPassword": "Third-New-Pass9"}),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.details());
    assert_eq!(
        sim.state.credentials(BEN).unwrap().sip_user_name.as_deref(),
        Some("ann")
    );
}

#[tokio::test]
async fn a_name_held_by_another_user_anywhere_is_refused_and_nothing_changes() {
    let sim = acme();
    let token = sim.login().await;
    let before = sim.state.credentials(ANN).unwrap();
    // fay is in another service provider: names are unique across the system.
    for taken in ["fay", "ben"] {
        let answer = sim
            .put(
                &token,
                "/users/authentication",
                json!({"userId": ANN, "userName": taken, "newPassword": "Brand-New-Pass7"}),
            )
            .await;
        assert_eq!(answer.status, 400);
        assert_eq!(
            answer.details(),
            format!("[Error 4420] User name already in use: {taken}")
        );
    }
    // A password rule's refusal reads differently, and also changes neither half: the new
    // name is in the password.
    let answer = sim
        .put(
            &token,
            "/users/authentication",
            json!({"userId": ANN, "userName": "zebra42", "newPassword": "Zebra42-Pass-Word"}),
        )
        .await;
    assert_eq!(answer.status, 400);
    assert!(
        answer.details().contains("Invalid password"),
        "{}",
        answer.details()
    );
    for name in [String::new(), "n".repeat(81)] {
        let answer = sim
            .put(
                &token,
                "/users/authentication",
                json!({"userId": ANN, "userName": name, "newPassword": "Brand-New-Pass7"}),
            )
            .await;
        assert_eq!(answer.details(), "[Error 4002] Invalid value for userName");
    }
    let after = sim.state.credentials(ANN).unwrap();
    assert_eq!(after.sip_user_name, before.sip_user_name);
    assert_eq!(after.sip_password, before.sip_password);
    assert_eq!(after.changes.sip, 0);
    let longest = "n".repeat(80);
    let answer = sim
        .put(
            &token,
            "/users/authentication",
            json!({"userId": BEN, "userName": longest, "newPassword": "Brand-New-Pass7"}),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.details());
}

#[tokio::test]
async fn a_phone_is_current_only_with_both_halves() {
    let sim = acme();
    let token = sim.login().await;
    let answer = sim
        .put(
            &token,
            "/users/authentication",
            json!({"userId": BEN, "userName": "b7r2t9w4", "newPassword": "Brand-New-Pass7"}),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.details());
    assert!(!ann_phone_current(&sim));
    let body = json!({"serviceProviderId": "acme", "groupId": "sales", "deviceName": "ann-phone"});
    let answer = sim
        .send(
            "POST",
            "/api/v2/groups/devices/rebuild",
            Some(&token),
            Some(&body.to_string()),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.details());
    assert!(ann_phone_current(&sim));
}

// ---- OCI-P ----

mod over_ocip {
    use super::ocip_client::{ALICE, BOB, Client, command, config, reply_types, start, summaries};

    const SUCCESS: &str = "c:SuccessResponse";
    const ERROR: &str = "c:ErrorResponse";

    fn modify(user: &str, name: &str, password: Option<&str>) -> String {
        let password = password
            .map(|password| format!("<newPassword>{password}</newPassword>"))
            .unwrap_or_default();
        command(
            "UserAuthenticationModifyRequest",
            &format!("<userId>{user}</userId><userName>{name}</userName>{password}"),
        )
    }

    #[tokio::test]
    async fn the_name_changes_alone_or_with_the_password_and_a_taken_one_is_refused() {
        let sim = start(config()).await;
        let mut client = Client::connect(&sim).await;
        client.login().await;
        let before = sim.credentials(ALICE).unwrap();
        let reply = client
            .call(&[
                // BOB's name (the seeded world's local part) is taken.
                modify(ALICE, "user0002", Some("Sip-New-Pass-1")),
                // The password holds the new name: a password rule, not the name, refuses it.
                modify(ALICE, "quartz77", Some("Quartz77-Pass-1")),
            ])
            .await;
        assert_eq!(reply_types(&reply), [ERROR, ERROR]);
        let texts = summaries(&reply);
        assert_eq!(texts[0], "[Error 4420] User name already in use: user0002");
        assert!(texts[1].contains("Invalid password"), "{}", texts[1]);
        let unchanged = sim.credentials(ALICE).unwrap();
        assert_eq!(unchanged.sip_user_name, before.sip_user_name);
        assert_eq!(unchanged.changes.sip, 0);

        // The name alone: the password stays, and the phone's file is stale.
        let reply = client.call(&[modify(ALICE, "m4x8q2v7k9z3", None)]).await;
        assert_eq!(reply_types(&reply), [SUCCESS]);
        let after = sim.credentials(ALICE).unwrap();
        assert_eq!(after.sip_user_name.as_deref(), Some("m4x8q2v7k9z3"));
        assert_eq!(after.sip_password, before.sip_password);
        let phone = |name: &str| {
            sim.devices()
                .into_iter()
                .find(|device| device.device_name == name)
                .unwrap()
        };
        assert!(!phone("phone-0001").config_current);
        assert!(phone("phone-0002").config_current);
        let reply = client
            .one(
                "UserAuthenticationGetRequest",
                &format!("<userId>{ALICE}</userId>"),
            )
            .await;
        assert!(
            reply.contains("<userName>m4x8q2v7k9z3</userName>"),
            "{reply}"
        );
        // Now BOB cannot take it, and ALICE's old name is free for BOB.
        let reply = client
            .call(&[
                modify(BOB, "m4x8q2v7k9z3", Some("Sip-New-Pass-2")),
                modify(BOB, "user0001", Some("Sip-New-Pass-3")),
            ])
            .await;
        assert_eq!(reply_types(&reply), [ERROR, SUCCESS]);
        assert_eq!(
            sim.credentials(BOB).unwrap().sip_user_name.as_deref(),
            Some("user0001")
        );
    }
}
