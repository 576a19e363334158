//! The Odin slice against the spec, in process: sessions, users, reads, setters and their
//! rules, generators, error bodies, wire tolerance and the truth endpoints.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly where its precondition breaks"
)]

mod common;

use common::{ALICE, Answer, BOB, GROUP, SP, Sim};
use odin_sim::{SimConfig, WorldSpec};
use serde_json::{Value, json};

const FIXTURE: &str = r#"{
  "sipPasswordRules": {"disallowReversedOldPassword": true},
  "serviceProviders": [{
    "serviceProviderId": "acme",
    "sipPasswordRules": {"minLength": 8},
    "groups": [{
      "groupId": "sales",
      "passcodeRules": {"minCodeLength": 6, "maxCodeLength": 10},
      "passwordRules": {"minLength": 10, "minNonAlphanumeric": 1},
      "groupServices": ["Voice Messaging Group"],
      "users": [
        {"userId": "ann@acme.example", "firstName": "Ann", "lastName": "Lee",
         "phoneNumber": "+1-202-555-0147", "extension": "407193", "sipUserName": "ann.sip",
         "sipPassword": "Old-Pass1", "portalPasscode": "80531794", "webPassword": "Web-Pass-01"},
        {"userId": "ben@acme.example", "services": ["Voice Messaging User"]},
        {"userId": "cat@acme.example", "sipUserName": 5550148}
      ]
    }, {"groupId": "empty"}]
  }, {"serviceProviderId": "other", "groups": [{"groupId": "g", "users": [{"userId": "dan@other.example"}]}]}]
}"#;

fn acme() -> Sim {
    let world = WorldSpec::from_json(FIXTURE).expect("fixture");
    Sim::new(SimConfig {
        world,
        seed: Some(5),
        ..SimConfig::default()
    })
}

fn assert_error(answer: &Answer, status: u16, details: &str) {
    assert_eq!(
        answer.status,
        status,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    let body = answer.json();
    assert_eq!(body["status"], status);
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|reason| !reason.is_empty())
    );
    assert_eq!(answer.details(), details);
    assert!(answer.content_type().starts_with("application/json"));
}

// ---- session ----

#[tokio::test]
async fn login_issues_a_jwt_with_exp_and_refuses_bad_credentials() {
    let sim = Sim::demo();
    let token = sim.login().await;
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3);
    use base64::Engine;
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(parts[1])
            .expect("base64url payload"),
    )
    .expect("JSON claims");
    let lifetime = claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap();
    assert_eq!(lifetime, 12 * 3600);

    let wrong = sim
        .send(
            "POST",
            "/api/v2/auth/token",
            None,
            Some(r#"{"username":"admin","password":"nope"}"#),
        )
        .await;
    assert_error(&wrong, 401, "[Error 4961] Invalid username or password");
    let missing = sim
        .send(
            "POST",
            "/api/v2/auth/token",
            None,
            Some(r#"{"username":"admin"}"#),
        )
        .await;
    assert_error(
        &missing,
        400,
        "[Error 4001] Missing mandatory field: password",
    );
    let garbage = sim
        .send("POST", "/api/v2/auth/token", None, Some("username=admin"))
        .await;
    assert_error(
        &garbage,
        400,
        "[Error 4000] Invalid request body: expected a JSON object",
    );
}

#[tokio::test]
async fn login_ignores_an_empty_authorization_header() {
    let sim = Sim::demo();
    let request = axum::http::Request::builder()
        .method("POST")
        .uri("/api/v2/auth/token")
        .header("authorization", "")
        .body(axum::body::Body::from(
            r#"{"username":"admin","password":"admin"}"#,
        ))
        .unwrap();
    let answer = sim.send_request(request).await;
    assert_eq!(answer.status, 200);
    assert!(answer.json()["token"].is_string());
}

#[tokio::test]
async fn every_route_but_login_needs_a_live_token() {
    let sim = Sim::demo();
    let routes = [
        ("PUT", "/api/v2/auth/token"),
        ("GET", "/api/v2/auth/session"),
        ("POST", "/api/v2/auth/token/logout"),
        ("GET", "/api/v2/password/generate"),
        (
            "GET",
            "/api/v2/passcode/generate?serviceProviderId=demo-sp&groupId=demo-group",
        ),
        ("GET", "/api/v2/sip-password/generate"),
        (
            "GET",
            "/api/v2/users?serviceProviderId=demo-sp&groupId=demo-group",
        ),
        (
            "GET",
            "/api/v2/users/services/assigned?userId=user0001@demo.example",
        ),
        (
            "GET",
            "/api/v2/users/authentication?userId=user0001@demo.example",
        ),
        ("PUT", "/api/v2/users/authentication"),
        (
            "GET",
            "/api/v2/users/portal-passcode?userId=user0001@demo.example",
        ),
        ("PUT", "/api/v2/users/portal-passcode"),
        ("PUT", "/api/v2/users/passwords"),
    ];
    for (method, uri) in routes {
        for token in [None, Some("e30.e30.bm90LWlzc3VlZA")] {
            let answer = sim.send(method, uri, token, Some("{}")).await;
            assert_error(
                &answer,
                401,
                "[Error 4962] Token missing, expired or revoked",
            );
        }
    }
    let request = axum::http::Request::builder()
        .uri("/api/v2/auth/session")
        .header("authorization", format!("Basic {}", sim.login().await))
        .body(axum::body::Body::empty())
        .unwrap();
    assert_eq!(sim.send_request(request).await.status, 401);
}

#[tokio::test]
async fn session_describes_the_login() {
    let sim = Sim::demo();
    let token = sim.login().await;
    let session = sim.get(&token, "/auth/session").await.json();
    assert_eq!(session["userId"], "admin");
    assert_eq!(session["isSystemAdmin"], true);
    assert_eq!(session["readOnly"], false);
    assert!(session["loginType"].is_string());
}

#[tokio::test]
async fn refresh_gives_a_new_token_while_the_old_one_lives() {
    let sim = Sim::demo();
    let old = sim.login().await;
    let refreshed = sim
        .send("PUT", "/api/v2/auth/token", Some(&old), None)
        .await;
    assert_eq!(refreshed.status, 200);
    let new = refreshed.json()["token"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    assert_eq!(sim.get(&new, "/auth/session").await.status, 200);
    sim.state.revoke_all_tokens();
    let refused = sim
        .send("PUT", "/api/v2/auth/token", Some(&new), None)
        .await;
    assert_error(
        &refused,
        401,
        "[Error 4962] Token missing, expired or revoked",
    );
}

#[tokio::test]
async fn logout_kills_the_named_token_or_the_callers_own() {
    let sim = Sim::demo();
    let first = sim.login().await;
    let second = sim.login().await;
    let body = json!({ "token": second }).to_string();
    let answer = sim
        .send(
            "POST",
            "/api/v2/auth/token/logout",
            Some(&first),
            Some(&body),
        )
        .await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json(), json!([]));
    assert_eq!(sim.get(&second, "/auth/session").await.status, 401);
    assert_eq!(sim.get(&first, "/auth/session").await.status, 200);
    let answer = sim
        .send("POST", "/api/v2/auth/token/logout", Some(&first), None)
        .await;
    assert_eq!(answer.json(), json!([]));
    assert_eq!(sim.get(&first, "/auth/session").await.status, 401);
}

#[tokio::test]
async fn expired_tokens_are_refused() {
    let sim = Sim::new(SimConfig {
        token_ttl: std::time::Duration::ZERO,
        ..SimConfig::with_users(1)
    });
    let token = sim.login().await;
    let answer = sim.get(&token, "/auth/session").await;
    assert_error(
        &answer,
        401,
        "[Error 4962] Token missing, expired or revoked",
    );
}

// ---- users and services ----

#[tokio::test]
async fn group_listing_and_user_lookup() {
    let sim = Sim::demo();
    let token = sim.login().await;
    let users = sim
        .get(
            &token,
            "/users?serviceProviderId=demo-sp&groupId=demo-group",
        )
        .await
        .json();
    let users = users.as_array().expect("array");
    let ids: Vec<&str> = users
        .iter()
        .map(|user| user["userId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [ALICE, BOB, "user0003@demo.example"]);
    for user in users {
        for field in ["firstName", "lastName", "phoneNumber", "extension"] {
            assert!(user[field].is_string(), "{field} in {user}");
        }
        assert_eq!(user["serviceProviderId"], SP);
        assert_eq!(user["groupId"], GROUP);
    }
    let phones: std::collections::HashSet<&str> = users
        .iter()
        .map(|user| user["phoneNumber"].as_str().unwrap())
        .collect();
    assert_eq!(phones.len(), 3);

    let mut alice = sim
        .get(&token, &format!("/users?userId={ALICE}"))
        .await
        .json();
    // Only the one-user read describes the user's device (tests/devices.rs).
    let endpoint = alice.as_object_mut().unwrap();
    assert!(endpoint.remove("endpointType").is_some());
    assert!(endpoint.remove("accessDeviceEndpoint").is_some());
    assert_eq!(alice, users[0]);
    let empty = sim
        .get(&token, "/users?serviceProviderId=acme&groupId=x")
        .await;
    assert_error(&empty, 400, "[Error 4006] Service provider not found: acme");
}

#[tokio::test]
async fn lookups_report_unknown_and_misplaced_users() {
    let sim = acme();
    let token = sim.login().await;
    let cases = [
        (
            "/users?userId=nobody@acme.example",
            "[Error 4008] User not found: nobody@acme.example",
        ),
        (
            "/users?serviceProviderId=acme&groupId=nope",
            "[Error 4007] Group not found: nope in acme",
        ),
        (
            "/users?serviceProviderId=acme",
            "[Error 4001] Missing mandatory field: groupId",
        ),
        (
            "/users",
            "[Error 4001] Missing mandatory field: serviceProviderId",
        ),
        (
            "/users?userId=dan@other.example&serviceProviderId=acme&groupId=sales",
            "[Error 4009] User not in group: dan@other.example is not in acme/sales",
        ),
        (
            "/users/authentication",
            "[Error 4001] Missing mandatory field: userId",
        ),
        (
            "/users/authentication?userId=ben@acme.example",
            "[Error 4410] Service not assigned: Authentication",
        ),
        (
            "/users/services/assigned?userId=zed",
            "[Error 4008] User not found: zed",
        ),
        (
            "/users/portal-passcode?userId=zed",
            "[Error 4008] User not found: zed",
        ),
    ];
    for (path, details) in cases {
        assert_error(&sim.get(&token, path).await, 400, details);
    }
    let empty_group = sim
        .get(&token, "/users?serviceProviderId=acme&groupId=empty")
        .await;
    assert_eq!(empty_group.json(), json!([]));
}

#[tokio::test]
async fn assigned_services_list_user_and_group_services() {
    let sim = acme();
    let token = sim.login().await;
    let ann = sim
        .get(&token, "/users/services/assigned?userId=ann@acme.example")
        .await
        .json();
    assert_eq!(ann["userId"], "ann@acme.example");
    let names: Vec<&str> = ann["userServices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|service| service["serviceName"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"Authentication"), "{names:?}");
    assert_eq!(
        ann["groupServices"],
        json!([{"serviceName": "Voice Messaging Group"}])
    );
    let ben = sim
        .get(&token, "/users/services/assigned?userId=ben@acme.example")
        .await
        .json();
    assert_eq!(
        ben["userServices"],
        json!([{"serviceName": "Voice Messaging User"}])
    );
}

#[tokio::test]
async fn authentication_read_gives_the_user_name_as_configured() {
    let sim = acme();
    let token = sim.login().await;
    let ann = sim
        .get(&token, "/users/authentication?userId=ann@acme.example")
        .await
        .json();
    assert_eq!(
        ann,
        json!({"userId": "ann@acme.example", "userName": "ann.sip", "serviceProviderId": "acme", "groupId": "sales"})
    );
    let cat = sim
        .get(&token, "/users/authentication?userId=cat@acme.example")
        .await
        .json();
    assert_eq!(cat["userName"], json!(5_550_148));
    let demo = Sim::demo();
    let token = demo.login().await;
    let alice = demo
        .get(&token, &format!("/users/authentication?userId={ALICE}"))
        .await
        .json();
    assert_eq!(alice["userName"], "user0001");
}

// ---- setters and their rules ----

async fn set_sip(sim: &Sim, token: &str, user: &str, password: &str) -> Answer {
    sim.put(
        token,
        "/users/authentication",
        json!({"userId": user, "newPassword": password}),
    )
    .await
}

async fn set_passcode(sim: &Sim, token: &str, user: &str, passcode: &str) -> Answer {
    sim.put(
        token,
        "/users/portal-passcode",
        json!({"userId": user, "newPasscode": passcode}),
    )
    .await
}

async fn set_web(sim: &Sim, token: &str, user: &str, password: &str) -> Answer {
    sim.put(
        token,
        "/users/passwords",
        json!({"userId": user, "newPassword": password}),
    )
    .await
}

async fn truth(sim: &Sim, user: &str) -> Value {
    sim.truth(&format!("/_sim/credentials?userId={user}"))
        .await
        .json()
}

#[tokio::test]
async fn sip_setter_applies_and_answers_like_odin() {
    let sim = acme();
    let token = sim.login().await;
    let answer = set_sip(&sim, &token, "ann@acme.example", "Good-Pass-2").await;
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.json(),
        json!({"userId": "ann@acme.example", "userName": "ann.sip", "newPassword": ""})
    );
    let truth = truth(&sim, "ann@acme.example").await;
    assert_eq!(truth["sipPassword"], "Good-Pass-2");
    assert_eq!(truth["changes"], json!({"sip": 1, "vm": 0, "web": 0}));
}

#[tokio::test]
async fn sip_setter_rejects_each_rule_and_changes_nothing() {
    let sim = acme();
    let token = sim.login().await;
    let too_long = "Ab1".repeat(21);
    let cases = [
        (
            "Ab1-x",
            "[Error 4302] Invalid password: must be at least 8 characters",
        ),
        (
            too_long.as_str(),
            "[Error 4301] Invalid password: must be at most 60 characters",
        ),
        (
            "Abcdefgh",
            "[Error 4304] Invalid password: must contain at least 1 digit",
        ),
        (
            "abcdefg1",
            "[Error 4305] Invalid password: must contain at least 1 upper-case letter",
        ),
        (
            "ABCDEFG1",
            "[Error 4306] Invalid password: must contain at least 1 lower-case letter",
        ),
        (
            "Abc\u{7}defg1",
            "[Error 4308] Invalid password: must not contain control characters",
        ),
        (
            "xANN.SIP-9",
            "[Error 4303] Invalid password: must not contain the authentication user name",
        ),
        (
            "Old-Pass1",
            "[Error 4310] Invalid password: must not be the same as the old password",
        ),
        (
            "1ssaP-dlO",
            "[Error 4311] Invalid password: must not be the reverse of the old password",
        ),
    ];
    for (value, details) in cases {
        assert_error(
            &set_sip(&sim, &token, "ann@acme.example", value).await,
            400,
            details,
        );
    }
    let truth = truth(&sim, "ann@acme.example").await;
    assert_eq!(truth["sipPassword"], "Old-Pass1");
    assert_eq!(truth["changes"]["sip"], 0);

    assert_error(
        &set_sip(&sim, &token, "ben@acme.example", "Good-Pass-2").await,
        400,
        "[Error 4410] Service not assigned: Authentication",
    );
    assert_error(
        &set_sip(&sim, &token, "zed@acme.example", "Good-Pass-2").await,
        400,
        "[Error 4008] User not found: zed@acme.example",
    );
    let missing = sim
        .put(
            &token,
            "/users/authentication",
            json!({"userId": "ann@acme.example"}),
        )
        .await;
    assert_error(
        &missing,
        400,
        "[Error 4001] Missing mandatory field: newPassword",
    );
    let number = sim
        .put(
            &token,
            "/users/authentication",
            json!({"userId": "ann@acme.example", "newPassword": 12345678}),
        )
        .await;
    assert_error(&number, 400, "[Error 4002] Invalid value for newPassword");
    let elsewhere = sim
        .put(
            &token,
            "/users/authentication",
            json!({"userId": "ann@acme.example", "newPassword": "Good-Pass-2", "serviceProviderId": "other", "groupId": "g"}),
        )
        .await;
    assert_error(
        &elsewhere,
        400,
        "[Error 4009] User not in group: ann@acme.example is not in other/g",
    );
}

#[tokio::test]
async fn passcode_setter_applies_hides_and_rejects_each_rule() {
    let sim = acme();
    let token = sim.login().await;
    let ann = "ann@acme.example";
    let cases = [
        (
            "12ab5678",
            "[Error 4420] Invalid passcode: must be digits only",
        ),
        (
            "59173",
            "[Error 4421] Invalid passcode: must be at least 6 digits long",
        ),
        (
            "59173064815",
            "[Error 4422] Invalid passcode: must be at most 10 digits long",
        ),
        (
            "591117304",
            "[Error 4423] Invalid passcode: must not contain more than 2 repeated digits",
        ),
        (
            "591591",
            "[Error 4424] Invalid passcode: must not contain a repeated pattern",
        ),
        (
            "5912345",
            "[Error 4425] Invalid passcode: must not contain an ascending or descending sequence of more than 3 digits",
        ),
        (
            "407193",
            "[Error 4426] Invalid passcode: must not be the user's phone number or extension",
        ),
        (
            "391704",
            "[Error 4427] Invalid passcode: must not be the reverse of the user's phone number or extension",
        ),
        (
            "80531794",
            "[Error 4430] Invalid passcode: must not be one of the last 3 passcodes",
        ),
        (
            "49713508",
            "[Error 4431] Invalid passcode: must not be the reverse of the old passcode",
        ),
    ];
    for (value, details) in cases {
        assert_error(&set_passcode(&sim, &token, ann, value).await, 400, details);
    }
    assert_eq!(truth(&sim, ann).await["changes"]["vm"], 0);

    let answer = set_passcode(&sim, &token, ann, "29640185").await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json(), json!([]));
    assert_eq!(
        set_passcode(&sim, &token, ann, "61820573").await.status,
        200
    );
    // The first passcode is now the third most recent: still refused; a fourth change frees it.
    assert_eq!(
        set_passcode(&sim, &token, ann, "80531794").await.status,
        400
    );
    assert_eq!(
        set_passcode(&sim, &token, ann, "70319462").await.status,
        200
    );
    assert_eq!(
        set_passcode(&sim, &token, ann, "80531794").await.status,
        200
    );
    let truth = truth(&sim, ann).await;
    assert_eq!(truth["portalPasscode"], "80531794");
    assert_eq!(truth["changes"]["vm"], 4);

    let read = sim
        .get(&token, &format!("/users/portal-passcode?userId={ann}"))
        .await
        .json();
    assert_eq!(read["userId"], ann);
    assert_eq!(read["passcode"], "*****");
    assert_eq!(read["isLoginDisabled"], false);
    assert!(read.get("expirationDays").is_some());
    assert!(!read.to_string().contains("80531794"));
}

#[tokio::test]
async fn web_setter_takes_either_field_and_rejects_each_rule() {
    let sim = acme();
    let token = sim.login().await;
    let ann = "ann@acme.example";
    let cases = [
        (
            "Short-1",
            "[Error 4502] Invalid password: must be at least 10 characters",
        ),
        (
            "LongEnough12",
            "[Error 4507] Invalid password: must contain at least 1 non-alphanumeric character",
        ),
        (
            "x-ANN@ACME.EXAMPLE-1",
            "[Error 4503] Invalid password: must not contain the user ID",
        ),
        (
            "alllowercase-1",
            "[Error 4505] Invalid password: must contain at least 1 upper-case letter",
        ),
    ];
    for (value, details) in cases {
        assert_error(&set_web(&sim, &token, ann, value).await, 400, details);
    }
    let answer = set_web(&sim, &token, ann, "Fine-Password-1").await;
    assert_eq!(answer.json(), json!({"userId": ann}));
    // Administrators reset without the old password, so re-applying the same value is accepted.
    assert_eq!(
        set_web(&sim, &token, ann, "Fine-Password-1").await.status,
        200
    );
    let legacy = sim
        .put(
            &token,
            "/users/passwords",
            json!({"userId": ann, "password": "Other-Password-2"}),
        )
        .await;
    assert_eq!(legacy.json(), json!({"userId": ann}));
    let truth = truth(&sim, ann).await;
    assert_eq!(truth["webPassword"], "Other-Password-2");
    assert_eq!(truth["changes"]["web"], 3);
    let neither = sim
        .put(&token, "/users/passwords", json!({"userId": ann}))
        .await;
    assert_error(
        &neither,
        400,
        "[Error 4001] Missing mandatory field: newPassword",
    );
    let no_user = sim
        .put(
            &token,
            "/users/passwords",
            json!({"newPassword": "Fine-Password-1"}),
        )
        .await;
    assert_error(
        &no_user,
        400,
        "[Error 4001] Missing mandatory field: userId",
    );
}

// ---- generators ----

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .expect("array")
        .iter()
        .map(|item| item.as_str().expect("string").to_owned())
        .collect()
}

#[tokio::test]
async fn generators_answer_in_both_shapes() {
    let sim = Sim::demo();
    let token = sim.login().await;
    let scope = "serviceProviderId=demo-sp&groupId=demo-group";
    let single = sim
        .get(&token, &format!("/password/generate?{scope}"))
        .await
        .json();
    let password = single["password"].as_str().expect("password");
    assert_eq!(password.len(), 18);
    assert!(password.chars().any(|c| c.is_ascii_digit()));
    assert!(password.chars().any(|c| c.is_ascii_uppercase()));
    assert!(password.chars().any(|c| c.is_ascii_lowercase()));
    let unscoped = sim.get(&token, "/password/generate?limit=4").await.json();
    assert_eq!(strings(&unscoped["passwords"]).len(), 4);

    let passcodes = sim
        .get(&token, &format!("/passcode/generate?{scope}&limit=5"))
        .await
        .json();
    let passcodes = strings(&passcodes["passcodes"]);
    assert_eq!(passcodes.len(), 5);
    assert!(
        passcodes
            .iter()
            .all(|code| code.len() == odin_sim::generate::PASSCODE_LENGTH
                && code.bytes().all(|b| b.is_ascii_digit()))
    );
    let passcode = sim
        .get(&token, &format!("/passcode/generate?{scope}"))
        .await
        .json();
    assert!(passcode["passcode"].is_string());

    let sip = sim
        .get(&token, &format!("/sip-password/generate?{scope}"))
        .await
        .json();
    assert_eq!(sip["password"].as_str().unwrap().len(), 12);
    let sips = sim
        .get(&token, "/sip-password/generate?limit=3")
        .await
        .json();
    assert_eq!(strings(&sips["passwords"]).len(), 3);

    let mut shapes = std::collections::HashSet::new();
    for _ in 0..40 {
        let one = sim.get(&token, "/password/generate?limit=1").await.json();
        let key = one.as_object().unwrap().keys().next().unwrap().clone();
        if key == "passwords" {
            assert_eq!(strings(&one["passwords"]).len(), 1);
        }
        shapes.insert(key);
    }
    assert_eq!(
        shapes.len(),
        2,
        "limit=1 comes back in both shapes: {shapes:?}"
    );
}

#[tokio::test]
async fn generators_follow_the_group_rules_and_check_their_parameters() {
    let sim = acme();
    let token = sim.login().await;
    let scope = "serviceProviderId=acme&groupId=sales";
    let passcodes = sim
        .get(&token, &format!("/passcode/generate?{scope}&limit=20"))
        .await
        .json();
    for passcode in strings(&passcodes["passcodes"]) {
        assert_eq!(passcode.len(), odin_sim::generate::PASSCODE_LENGTH);
    }
    let long = WorldSpec::from_json(
        r#"{"serviceProviders": [{"serviceProviderId": "s", "groups": [{"groupId": "g",
            "passcodeRules": {"minCodeLength": 10, "maxCodeLength": 12}}]}]}"#,
    )
    .unwrap();
    let long = Sim::new(SimConfig {
        world: long,
        ..SimConfig::default()
    });
    let long_token = long.login().await;
    let code = long
        .get(
            &long_token,
            "/passcode/generate?serviceProviderId=s&groupId=g",
        )
        .await
        .json();
    assert_eq!(code["passcode"].as_str().unwrap().len(), 10);

    let cases = [
        (
            "/password/generate?serviceProviderId=acme",
            "[Error 4001] Missing mandatory field: groupId",
        ),
        (
            "/passcode/generate?groupId=sales",
            "[Error 4001] Missing mandatory field: serviceProviderId",
        ),
        (
            "/password/generate?limit=0",
            "[Error 4002] Invalid value for limit",
        ),
        (
            "/password/generate?limit=many",
            "[Error 4002] Invalid value for limit",
        ),
        (
            "/password/generate?limit=-3",
            "[Error 4002] Invalid value for limit",
        ),
        (
            "/sip-password/generate?serviceProviderId=acme&groupId=zz",
            "[Error 4007] Group not found: zz in acme",
        ),
    ];
    for (path, details) in cases {
        assert_error(&sim.get(&token, path).await, 400, details);
    }
    let capped = sim
        .get(&token, "/passcode/generate?limit=20000")
        .await
        .json();
    assert_eq!(strings(&capped["passcodes"]).len(), 10_000);
}

#[tokio::test]
async fn generated_values_are_accepted_by_the_setters() {
    let sim = Sim::new(SimConfig::with_users(30).with_seed(3));
    let token = sim.login().await;
    let scope = "serviceProviderId=demo-sp&groupId=demo-group";
    let passwords = strings(
        &sim.get(&token, &format!("/password/generate?{scope}&limit=60"))
            .await
            .json()["passwords"],
    );
    let passcodes = strings(
        &sim.get(&token, &format!("/passcode/generate?{scope}&limit=30"))
            .await
            .json()["passcodes"],
    );
    assert_eq!(
        passwords
            .iter()
            .collect::<std::collections::HashSet<_>>()
            .len(),
        60
    );
    for number in 1..=30 {
        let user = format!("user{number:04}@demo.example");
        let sip = &passwords[number - 1];
        let web = &passwords[number + 29];
        assert_eq!(
            set_sip(&sim, &token, &user, sip).await.status,
            200,
            "{user}"
        );
        assert_eq!(
            set_web(&sim, &token, &user, web).await.status,
            200,
            "{user}"
        );
        assert_eq!(
            set_passcode(&sim, &token, &user, &passcodes[number - 1])
                .await
                .status,
            200,
            "{user}"
        );
        let truth = truth(&sim, &user).await;
        assert_eq!(truth["sipPassword"], sip.as_str());
        assert_eq!(truth["changes"], json!({"sip": 1, "vm": 1, "web": 1}));
    }
}

#[tokio::test]
async fn resending_the_current_value_is_refused_as_an_old_one() {
    let sim = Sim::demo();
    let token = sim.login().await;
    let passcode = "29640185";
    assert_eq!(
        set_passcode(&sim, &token, ALICE, passcode).await.status,
        200
    );
    let again = set_passcode(&sim, &token, ALICE, passcode).await;
    assert_error(
        &again,
        400,
        "[Error 4430] Invalid passcode: must not be one of the last 3 passcodes",
    );
    assert_eq!(
        set_sip(&sim, &token, ALICE, "Fresh-Pass-9").await.status,
        200
    );
    let again = set_sip(&sim, &token, ALICE, "Fresh-Pass-9").await;
    assert_error(
        &again,
        400,
        "[Error 4310] Invalid password: must not be the same as the old password",
    );
}

// ---- wire tolerance ----

#[tokio::test]
async fn gets_tolerate_a_json_body_a_trailing_question_mark_and_plus_for_space() {
    let sim = Sim::demo();
    let token = sim.login().await;
    let with_body = sim
        .send("GET", "/api/v2/auth/session", Some(&token), Some("{}"))
        .await;
    assert_eq!(with_body.status, 200);
    let trailing = sim
        .send("GET", "/api/v2/auth/session?", Some(&token), None)
        .await;
    assert_eq!(trailing.status, 200);
    let listing = sim
        .send(
            "GET",
            "/api/v2/users?serviceProviderId=demo-sp&groupId=demo-group&",
            Some(&token),
            Some("{}"),
        )
        .await;
    assert_eq!(listing.json().as_array().unwrap().len(), 3);
    let spaced = sim.get(&token, "/users?userId=no+such%40user").await;
    assert_error(&spaced, 400, "[Error 4008] User not found: no such@user");
    let encoded = sim
        .get(&token, "/users?userId=user0001%40demo.example")
        .await;
    assert_eq!(encoded.json()["userId"], ALICE);
}

#[tokio::test]
async fn every_2xx_answer_has_a_json_body() {
    let sim = Sim::demo();
    let token = sim.login().await;
    let calls = [
        ("GET", "/api/v2/auth/session", None),
        (
            "GET",
            "/api/v2/users?serviceProviderId=demo-sp&groupId=demo-group",
            None,
        ),
        ("GET", "/api/v2/password/generate", None),
        (
            "PUT",
            "/api/v2/users/portal-passcode",
            Some(json!({"userId": ALICE, "newPasscode": "29640185"})),
        ),
        (
            "PUT",
            "/api/v2/users/passwords",
            Some(json!({"userId": ALICE, "newPassword": "Fine-Password-1"})),
        ),
        (
            "PUT",
            "/api/v2/users/authentication",
            Some(json!({"userId": ALICE, "newPassword": "Fine-Password-1"})),
        ),
        ("PUT", "/api/v2/auth/token", None),
        ("POST", "/api/v2/auth/token/logout", Some(json!({}))),
    ];
    for (method, uri, body) in calls {
        let body = body.map(|body| body.to_string());
        let answer = sim.send(method, uri, Some(&token), body.as_deref()).await;
        assert_eq!(
            answer.status,
            200,
            "{method} {uri}: {}",
            String::from_utf8_lossy(&answer.body)
        );
        assert!(!answer.body.is_empty());
        assert!(answer.content_type().starts_with("application/json"));
        let _ = answer.json();
    }
}

#[tokio::test]
async fn unknown_routes_and_methods_get_json_errors() {
    let sim = Sim::demo();
    let token = sim.login().await;
    let unknown = sim.get(&token, "/users/nothing-here").await;
    assert_error(
        &unknown,
        404,
        "[Error 4040] No such endpoint: GET /api/v2/users/nothing-here",
    );
    let wrong_method = sim
        .send("DELETE", "/api/v2/users/passwords", Some(&token), None)
        .await;
    assert_error(
        &wrong_method,
        405,
        "[Error 4050] Method not allowed: DELETE /api/v2/users/passwords",
    );
}

// ---- truth endpoints ----

#[tokio::test]
async fn truth_endpoints_report_credentials_and_counts() {
    let sim = Sim::demo();
    let all = sim.truth("/_sim/credentials").await.json();
    let all = all.as_array().unwrap();
    assert_eq!(all.len(), 3);
    for entry in all {
        for field in [
            "sipUserName",
            "sipPassword",
            "portalPasscode",
            "webPassword",
        ] {
            assert!(entry[field].is_string(), "{field}");
        }
        assert_eq!(entry["changes"], json!({"sip": 0, "vm": 0, "web": 0}));
    }
    let one = sim
        .truth(&format!("/_sim/credentials?userId={BOB}"))
        .await
        .json();
    assert_eq!(&one, &all[1]);
    assert_eq!(sim.truth("/_sim/credentials?userId=zed").await.status, 404);
    let credentials = sim.state.credentials(BOB).unwrap();
    assert_eq!(Some(credentials.user_id.as_str()), one["userId"].as_str());
    assert_eq!(
        credentials.web_password.as_deref(),
        one["webPassword"].as_str()
    );
    assert!(!format!("{credentials:?}").contains(credentials.web_password.as_deref().unwrap()));

    let token = sim.login().await;
    sim.get(&token, "/auth/session").await;
    sim.get(&token, "/auth/session").await;
    sim.get(&token, "/users?userId=zed").await;
    sim.send("GET", "/api/v2/auth/session", None, None).await;
    let stats: odin_sim::Stats =
        serde_json::from_slice(&sim.truth("/_sim/stats").await.body).unwrap();
    assert_eq!(
        stats.count_with_status("GET", "/api/v2/auth/session", 200),
        2
    );
    assert_eq!(stats.count_with_status("GET", "/auth/session", 401), 1);
    assert_eq!(stats.count_with_status("GET", "/users", 400), 1);
    assert_eq!(stats.count("POST", "/auth/token"), 1);
    let row = stats
        .requests
        .iter()
        .find(|row| row.route == "/api/v2/users")
        .expect("users row");
    assert_eq!(
        (row.method.as_str(), row.status, row.count),
        ("GET", 400, 1)
    );
}

#[tokio::test]
async fn faults_and_tokens_can_be_controlled_at_runtime() {
    let sim = Sim::demo();
    let token = sim.login().await;
    let set = sim
        .send(
            "PUT",
            "/_sim/faults",
            None,
            Some(r#"{"fail_rate": 1.0, "generatorCap": 2}"#),
        )
        .await;
    assert_eq!(set.status, 200);
    assert_eq!(set.json()["fail_rate"], 1.0);
    assert_eq!(sim.state.faults().generator_cap, Some(2));
    assert!(sim.get(&token, "/auth/session").await.status >= 500);
    // Faults never touch the simulator's own endpoints.
    assert_eq!(sim.truth("/_sim/stats").await.status, 200);
    assert_eq!(sim.truth("/_sim/faults").await.json()["fail_rate"], 1.0);
    let invalid = sim
        .send("PUT", "/_sim/faults", None, Some(r#"{"drop_rate": 3}"#))
        .await;
    assert_eq!(invalid.status, 400);
    let cleared = sim.send("PUT", "/_sim/faults", None, Some("{}")).await;
    assert_eq!(cleared.json()["fail_rate"], 0.0);
    assert_eq!(sim.get(&token, "/auth/session").await.status, 200);
    let revoked = sim.send("DELETE", "/_sim/tokens", None, None).await;
    assert_eq!(revoked.json()["revoked"], 1);
    assert_eq!(sim.get(&token, "/auth/session").await.status, 401);
}

#[tokio::test]
async fn the_documented_fixture_loads() {
    let docs = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/odin-api.md"
    ))
    .expect("docs/odin-api.md");
    let start = docs.find("```json\n").expect("a JSON fixture in the docs") + "```json\n".len();
    let length = docs[start..].find("```").expect("end of the fixture");
    let world = WorldSpec::from_json(&docs[start..start + length]).expect("the documented fixture");
    let sim = Sim::new(SimConfig {
        world,
        ..SimConfig::default()
    });
    let token = sim.login().await;
    let ann = sim
        .get(&token, "/users/authentication?userId=ann@acme.example")
        .await
        .json();
    assert_eq!(ann["userName"], "ann.sip");
}
