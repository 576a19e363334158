//! Each fault switch's observable behaviour, in process and with fixed seeds so that every run
//! sees the same draws.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly where its precondition breaks"
)]

mod common;

use std::collections::HashSet;

use common::{ALICE, BOB, Sim};
use odin_sim::{Faults, SimConfig};
use serde_json::{Value, json};

fn faulty(faults: Faults) -> Sim {
    Sim::new(SimConfig::with_users(3).with_seed(7).with_faults(faults))
}

/// Logs in with the faults off, then switches them on: login itself is faulted too.
async fn logged_in(faults: Faults) -> (Sim, String) {
    let sim = faulty(Faults::default());
    let token = sim.login().await;
    sim.state.set_faults(faults);
    (sim, token)
}

fn sip_body(password: &str) -> Value {
    json!({"userId": ALICE, "newPassword": password})
}

async fn sip_changes(sim: &Sim) -> u64 {
    sim.state.credentials(ALICE).unwrap().changes.sip
}

#[tokio::test]
async fn latency_delays_every_api_answer_by_at_least_the_asked_time() {
    // Only the lower bound is asserted: how much longer a loaded machine takes is measured by
    // the benchmark (it times the simulator's answers), never by a test.
    let latency = std::time::Duration::from_millis(40);
    let (sim, token) = logged_in(Faults {
        latency_ms: 40,
        ..Faults::default()
    })
    .await;
    for _ in 0..5 {
        let start = std::time::Instant::now();
        assert_eq!(sim.get(&token, "/auth/session").await.status, 200);
        let elapsed = start.elapsed();
        assert!(
            elapsed >= latency,
            "answered after {elapsed:?}, asked {latency:?}"
        );
    }
}

#[tokio::test]
async fn latency_leaves_the_sim_endpoints_alone() {
    // An hour of latency: had it reached /_sim/stats, the timeout would end the test.
    let (sim, _token) = logged_in(Faults {
        latency_ms: 3_600_000,
        ..Faults::default()
    })
    .await;
    let answer = tokio::time::timeout(std::time::Duration::from_secs(60), sim.truth("/_sim/stats"))
        .await
        .expect("/_sim/stats waited for the API latency");
    assert_eq!(answer.status, 200);
}

#[tokio::test]
async fn fail_rate_answers_5xx_before_anything_happens() {
    let (sim, token) = logged_in(Faults {
        fail_rate: 1.0,
        ..Faults::default()
    })
    .await;
    let mut statuses = HashSet::new();
    for _ in 0..40 {
        let answer = sim
            .put(&token, "/users/authentication", sip_body("Fresh-Pass-9"))
            .await;
        assert!(
            [500, 502, 503, 504].contains(&answer.status),
            "{}",
            answer.status
        );
        assert!(
            answer
                .details()
                .starts_with("[Error 5000] Injected failure")
        );
        statuses.insert(answer.status);
    }
    assert_eq!(statuses.len(), 4, "{statuses:?}");
    assert_eq!(sip_changes(&sim).await, 0);
}

#[tokio::test]
async fn fail_after_rate_applies_the_change_then_answers_500() {
    let (sim, token) = logged_in(Faults {
        fail_after_rate: 1.0,
        ..Faults::default()
    })
    .await;
    let answer = sim
        .put(&token, "/users/authentication", sip_body("Fresh-Pass-9"))
        .await;
    assert_eq!(answer.status, 500);
    assert_eq!(
        answer.details(),
        "[Error 5000] Injected failure: internal server error"
    );
    let truth = sim.state.credentials(ALICE).unwrap();
    assert_eq!(truth.sip_password.as_deref(), Some("Fresh-Pass-9"));
    assert_eq!(truth.changes.sip, 1);
    // Re-sending the same value now meets the "old password" rule, which tells a client the
    // value is in effect.
    sim.state.set_faults(Faults::default());
    let again = sim
        .put(&token, "/users/authentication", sip_body("Fresh-Pass-9"))
        .await;
    assert!(again.details().contains("old password"));
}

#[tokio::test]
async fn drop_rate_closes_without_answer_before_or_after_the_change() {
    let (sim, token) = logged_in(Faults {
        drop_rate: 1.0,
        ..Faults::default()
    })
    .await;
    let attempts = 30;
    for attempt in 0..attempts {
        let answer = sim
            .put(
                &token,
                "/users/authentication",
                sip_body(&format!("Fresh-Pass-{attempt:02}")),
            )
            .await;
        assert!(answer.dropped);
        assert!(answer.body.is_empty());
    }
    let applied = sip_changes(&sim).await;
    assert!(
        applied > 0 && applied < attempts,
        "{applied} of {attempts} applied"
    );
    let stats = sim.state.stats();
    assert_eq!(
        stats.count_with_status("PUT", "/users/authentication", 0),
        attempts
    );
}

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after() {
    let (sim, token) = logged_in(Faults {
        rate_limit: Some(0.001),
        ..Faults::default()
    })
    .await;
    assert_eq!(sim.get(&token, "/auth/session").await.status, 200);
    let limited = sim.get(&token, "/auth/session").await;
    assert_eq!(limited.status, 429);
    assert_eq!(
        limited.json(),
        json!({"status": 429, "error": "Too Many Requests", "details": "[Error 4290] Rate limit exceeded"})
    );
    let retry_after: u64 = limited.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after >= 1);
    assert_eq!(sim.truth("/_sim/stats").await.status, 200);
}

#[tokio::test]
async fn generator_cap_limits_each_answer() {
    let (sim, token) = logged_in(Faults {
        generator_cap: Some(3),
        ..Faults::default()
    })
    .await;
    let answer = sim.get(&token, "/password/generate?limit=10").await.json();
    assert_eq!(answer["passwords"].as_array().unwrap().len(), 3);
    let answer = sim
        .get(
            &token,
            "/passcode/generate?serviceProviderId=demo-sp&groupId=demo-group&limit=2",
        )
        .await
        .json();
    assert_eq!(answer["passcodes"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn bad_values_are_rejected_by_the_setters() {
    let (sim, token) = logged_in(Faults {
        bad_value_rate: 1.0,
        ..Faults::default()
    })
    .await;
    let scope = "serviceProviderId=demo-sp&groupId=demo-group";
    let passwords = sim
        .get(&token, &format!("/password/generate?{scope}&limit=10"))
        .await
        .json();
    let passcodes = sim
        .get(&token, &format!("/passcode/generate?{scope}&limit=10"))
        .await
        .json();
    for (password, passcode) in passwords["passwords"]
        .as_array()
        .unwrap()
        .iter()
        .zip(passcodes["passcodes"].as_array().unwrap())
    {
        let web = sim
            .put(
                &token,
                "/users/passwords",
                json!({"userId": BOB, "newPassword": password}),
            )
            .await;
        assert!(web.details().starts_with("[Error 45"), "{}", web.details());
        let sip = sim
            .put(
                &token,
                "/users/authentication",
                json!({"userId": BOB, "newPassword": password}),
            )
            .await;
        assert!(sip.details().starts_with("[Error 43"), "{}", sip.details());
        let vm = sim
            .put(
                &token,
                "/users/portal-passcode",
                json!({"userId": BOB, "newPasscode": passcode}),
            )
            .await;
        assert!(vm.details().starts_with("[Error 44"), "{}", vm.details());
    }
    assert_eq!(
        sim.state.credentials(BOB).unwrap().changes,
        odin_sim::Changes::default()
    );
}

#[tokio::test]
async fn a_seed_repeats_generated_values_and_fault_draws() {
    let run = || async {
        let (sim, token) = logged_in(Faults {
            fail_rate: 0.5,
            ..Faults::default()
        })
        .await;
        let mut seen = Vec::new();
        for _ in 0..20 {
            let answer = sim.get(&token, "/password/generate?limit=2").await;
            seen.push((
                answer.status,
                String::from_utf8_lossy(&answer.body).into_owned(),
            ));
        }
        (seen, sim.state.all_credentials())
    };
    let (first, first_world) = run().await;
    let (second, second_world) = run().await;
    assert_eq!(first, second);
    assert_eq!(first_world, second_world);
    assert!(first.iter().any(|(status, _)| *status == 200));
    assert!(first.iter().any(|(status, _)| *status >= 500));
}

// ---- hostile answers ----

#[tokio::test]
async fn html_error_rate_turns_error_bodies_into_html() {
    let (sim, token) = logged_in(Faults {
        html_error_rate: 1.0,
        ..Faults::default()
    })
    .await;
    let error = sim.get(&token, "/users?userId=zed").await;
    assert_eq!(error.status, 400);
    assert!(error.content_type().starts_with("text/html"));
    assert!(String::from_utf8_lossy(&error.body).contains("<title>400 Bad Request</title>"));
    assert!(serde_json::from_slice::<Value>(&error.body).is_err());
    let fine = sim.get(&token, "/auth/session").await;
    assert_eq!(fine.json()["userId"], "admin");
}

#[tokio::test]
async fn truncated_json_rate_cuts_2xx_bodies_after_the_change() {
    let (sim, token) = logged_in(Faults {
        truncated_json_rate: 1.0,
        ..Faults::default()
    })
    .await;
    let answer = sim
        .put(&token, "/users/authentication", sip_body("Fresh-Pass-9"))
        .await;
    assert_eq!(answer.status, 200);
    assert!(!answer.body.is_empty());
    assert!(serde_json::from_slice::<Value>(&answer.body).is_err());
    assert!(String::from_utf8_lossy(&answer.body).starts_with("{\"userId\""));
    assert_eq!(sip_changes(&sim).await, 1);
}

#[tokio::test]
async fn enormous_body_rate_pads_answers_past_16_mib() {
    let (sim, token) = logged_in(Faults {
        enormous_body_rate: 1.0,
        ..Faults::default()
    })
    .await;
    let answer = sim.get(&token, "/auth/session").await;
    assert_eq!(answer.status, 200);
    assert!(answer.body.len() > 16 * 1024 * 1024);
    assert_eq!(answer.json()["userId"], "admin");
}

#[tokio::test]
async fn ok_with_error_rate_answers_200_with_an_error_body_and_changes_nothing() {
    let (sim, token) = logged_in(Faults {
        ok_with_error_rate: 1.0,
        ..Faults::default()
    })
    .await;
    let answer = sim
        .put(&token, "/users/authentication", sip_body("Fresh-Pass-9"))
        .await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json()["status"], 500);
    assert!(answer.details().starts_with("[Error 5000]"));
    assert_eq!(sip_changes(&sim).await, 0);
}

#[tokio::test]
async fn other_user_rate_names_another_user_in_answers() {
    let (sim, token) = logged_in(Faults {
        other_user_rate: 1.0,
        ..Faults::default()
    })
    .await;
    for path in [
        format!("/users?userId={ALICE}"),
        format!("/users/authentication?userId={ALICE}"),
        format!("/users/services/assigned?userId={ALICE}"),
        format!("/users/portal-passcode?userId={ALICE}"),
    ] {
        let answer = sim.get(&token, &path).await.json();
        assert_eq!(answer["userId"], BOB, "{path}");
    }
    let answer = sim
        .put(&token, "/users/authentication", sip_body("Fresh-Pass-9"))
        .await
        .json();
    assert_eq!(answer["userId"], BOB);
    assert_eq!(answer["userName"], "user0002");
    // The change itself went to the user asked for.
    assert_eq!(sip_changes(&sim).await, 1);
    let web = sim
        .put(
            &token,
            "/users/passwords",
            json!({"userId": ALICE, "newPassword": "Fine-Password-1"}),
        )
        .await
        .json();
    assert_eq!(web["userId"], BOB);

    let lonely = Sim::new(SimConfig::with_users(1).with_faults(Faults {
        other_user_rate: 1.0,
        ..Faults::default()
    }));
    let token = lonely.login().await;
    let answer = lonely
        .get(&token, &format!("/users?userId={ALICE}"))
        .await
        .json();
    assert_ne!(answer["userId"], ALICE);
}

async fn generated(faults: Faults, path: &str, key: &str) -> Vec<Value> {
    let (sim, token) = logged_in(faults).await;
    let answer = sim.get(&token, path).await;
    assert_eq!(answer.status, 200);
    answer.json()[key].as_array().expect("list").clone()
}

const PASSCODES: &str = "/passcode/generate?serviceProviderId=demo-sp&groupId=demo-group&limit=8";

#[tokio::test]
async fn empty_value_rate_hands_out_empty_strings() {
    let values = generated(
        Faults {
            empty_value_rate: 1.0,
            ..Faults::default()
        },
        "/password/generate?limit=5",
        "passwords",
    )
    .await;
    assert_eq!(values, vec![json!(""); 5]);
}

#[tokio::test]
async fn duplicate_value_rate_repeats_values() {
    let values = generated(
        Faults {
            duplicate_value_rate: 1.0,
            ..Faults::default()
        },
        PASSCODES,
        "passcodes",
    )
    .await;
    assert_eq!(values.len(), 8);
    assert!(values.iter().all(|value| *value == values[0]));
    assert!(
        values[0]
            .as_str()
            .is_some_and(|code| code.len() == odin_sim::generate::PASSCODE_LENGTH)
    );
}

#[tokio::test]
async fn control_char_rate_puts_control_characters_in_values() {
    let values = generated(
        Faults {
            control_char_rate: 1.0,
            ..Faults::default()
        },
        "/password/generate?limit=6",
        "passwords",
    )
    .await;
    for value in values {
        let text = value.as_str().unwrap();
        assert_eq!(
            text.chars().filter(|c| c.is_control()).count(),
            1,
            "{text:?}"
        );
    }
}

#[tokio::test]
async fn wrong_kind_rate_puts_letters_in_passcodes_and_numbers_for_passwords() {
    let faults = Faults {
        wrong_kind_rate: 1.0,
        ..Faults::default()
    };
    let passcodes = generated(faults.clone(), PASSCODES, "passcodes").await;
    for passcode in passcodes {
        let text = passcode.as_str().unwrap();
        assert!(text.chars().any(|c| c.is_ascii_alphabetic()), "{text}");
    }
    let passwords = generated(faults, "/sip-password/generate?limit=4", "passwords").await;
    assert!(passwords.iter().all(Value::is_number), "{passwords:?}");
}

#[tokio::test]
async fn echo_secret_rate_applies_the_change_then_quotes_the_secret_in_a_500() {
    let (sim, token) = logged_in(Faults {
        echo_secret_rate: 1.0,
        ..Faults::default()
    })
    .await;
    let answer = sim
        .put(&token, "/users/authentication", sip_body("Echoed-Pass-7"))
        .await;
    assert_eq!(answer.status, 500);
    assert_eq!(
        answer.details(),
        "[Error 5000] Injected failure: could not confirm `Echoed-Pass-7`"
    );
    let truth = sim.state.credentials(ALICE).unwrap();
    assert_eq!(truth.sip_password.as_deref(), Some("Echoed-Pass-7"));
    assert_eq!(truth.changes.sip, 1);
    // A request without a secret in its body is answered as usual.
    let listing = sim
        .get(
            &token,
            "/users?serviceProviderId=demo-sp&groupId=demo-group",
        )
        .await;
    assert_eq!(listing.status, 200);
}
