//! The client against the real simulator (`odin-sim`) on loopback: every endpoint, the
//! simulator's truth after each change, and recovery from its faults.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly where its precondition breaks"
)]

use std::time::Duration;

use odin_client::{
    ClientConfig, Error, ExposeSecret, GroupScope, OdinClient, RetryPolicy, SecretString,
};
use odin_sim::{Faults, SimConfig, SimHandle, UserSpec, WorldSpec};

const SP: &str = "demo-sp";
const GROUP: &str = "demo-group";

fn scope() -> GroupScope<'static> {
    GroupScope {
        service_provider_id: SP,
        group_id: GROUP,
    }
}

fn config(sim: &SimHandle) -> ClientConfig {
    let mut config = ClientConfig::new(sim.base_url(), "admin", SecretString::from("admin"));
    config.retry = RetryPolicy {
        max_attempts: 10,
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(20),
        max_elapsed: Duration::from_secs(30),
    };
    config
}

async fn sim_with(config: SimConfig) -> (SimHandle, OdinClient) {
    let sim = odin_sim::spawn(config).await.expect("start the simulator");
    let client = OdinClient::login(self::config(&sim)).await.expect("login");
    (sim, client)
}

fn user_id(number: usize) -> String {
    format!("user{number:04}@demo.example")
}

#[tokio::test]
async fn login_ok_and_refused() {
    let sim = odin_sim::spawn(SimConfig::with_users(1)).await.unwrap();
    let client = OdinClient::login(config(&sim)).await.unwrap();
    let session = client.session().await.unwrap();
    assert_eq!(session.user_id, "admin");

    let mut wrong = config(&sim);
    wrong.password = SecretString::from("not-the-password");
    let error = OdinClient::login(wrong).await.unwrap_err();
    assert!(matches!(error, Error::Unauthorized { .. }), "{error:?}");
    assert!(error.to_string().contains("[Error 4961]"), "{error}");
    assert!(!error.to_string().contains("not-the-password"));
    assert_eq!(sim.stats().count_with_status("POST", "/auth/token", 401), 1);
}

#[tokio::test]
async fn every_read_endpoint() {
    let (sim, client) = sim_with(SimConfig::with_users(5)).await;
    let users = client.group_users(SP, GROUP).await.unwrap();
    assert_eq!(users.len(), 5);
    assert!(
        users
            .iter()
            .all(|user| user.group_id.as_deref() == Some(GROUP))
    );

    let ids = client.group_user_ids(SP, GROUP).await.unwrap();
    assert_eq!(
        ids,
        users
            .iter()
            .map(|user| user.user_id.clone())
            .collect::<Vec<_>>()
    );

    let user = client.user(&user_id(3)).await.unwrap();
    assert_eq!(user.user_id, user_id(3));
    assert_eq!(user.service_provider_id.as_deref(), Some(SP));

    let services = client.assigned_services(&user_id(3)).await.unwrap();
    assert!(services.has_user_service("Authentication"), "{services:?}");

    let authentication = client.user_authentication(&user_id(3)).await.unwrap();
    assert_eq!(authentication.user_name, "user0003");
    assert_eq!(
        Some(authentication.user_name.as_str()),
        sim.credentials(&user_id(3))
            .unwrap()
            .sip_user_name
            .as_deref()
    );

    let unknown = client.user("nobody@demo.example").await.unwrap_err();
    assert_eq!(unknown.status(), Some(400));
    assert!(unknown.to_string().contains("[Error 4008]"), "{unknown}");
}

#[tokio::test]
async fn generators_in_both_shapes_and_capped() {
    let (sim, client) = sim_with(SimConfig::with_users(1)).await;
    let passwords = client.generate_passwords(Some(scope()), 7).await.unwrap();
    assert_eq!(passwords.len(), 7);
    assert!(
        passwords
            .iter()
            .all(|value| !value.expose_secret().is_empty())
    );
    let single = client.generate_passwords(None, 1).await.unwrap();
    assert_eq!(single.len(), 1);
    let passcodes = client.generate_passcodes(scope(), 4).await.unwrap();
    assert_eq!(passcodes.len(), 4);
    assert!(
        passcodes
            .iter()
            .all(|value| value.expose_secret().chars().all(|c| c.is_ascii_digit()))
    );

    sim.set_faults(Faults {
        generator_cap: Some(3),
        ..Faults::default()
    });
    let capped = client.generate_passwords(Some(scope()), 10).await.unwrap();
    assert_eq!(capped.len(), 3, "a short answer comes back short");
}

#[tokio::test]
async fn setters_change_the_truth() {
    let (sim, client) = sim_with(SimConfig::with_users(2)).await;
    let user = user_id(1);
    let before = sim.credentials(&user).unwrap();

    let sip = client
        .generate_passwords(Some(scope()), 1)
        .await
        .unwrap()
        .remove(0);
    client.set_sip_password(&user, &sip).await.unwrap();
    let passcode = client
        .generate_passcodes(scope(), 1)
        .await
        .unwrap()
        .remove(0);
    client.set_portal_passcode(&user, &passcode).await.unwrap();
    let web = client
        .generate_passwords(Some(scope()), 1)
        .await
        .unwrap()
        .remove(0);
    client.set_web_password(&user, &web).await.unwrap();

    let after = sim.credentials(&user).unwrap();
    assert_eq!(after.sip_password.as_deref(), Some(sip.expose_secret()));
    assert_eq!(
        after.portal_passcode.as_deref(),
        Some(passcode.expose_secret())
    );
    assert_eq!(after.web_password.as_deref(), Some(web.expose_secret()));
    assert_eq!(
        (after.changes.sip, after.changes.vm, after.changes.web),
        (
            before.changes.sip + 1,
            before.changes.vm + 1,
            before.changes.web + 1
        )
    );
    // The other user is untouched.
    assert_eq!(
        sim.credentials(&user_id(2)).unwrap().changes,
        before.changes
    );

    // Setting the same passcode again breaks the history rule: a 400 naming the old passcode.
    let again = client
        .set_portal_passcode(&user, &passcode)
        .await
        .unwrap_err();
    assert_eq!(again.status(), Some(400));
    assert!(!again.may_have_applied());
    assert!(
        again.to_string().to_lowercase().contains("passcode"),
        "{again}"
    );
    assert!(!again.to_string().contains(passcode.expose_secret()));
}

#[tokio::test]
async fn a_user_without_authentication_is_refused_for_sip() {
    let mut world = WorldSpec::seeded(SP, GROUP, 1);
    world.service_providers[0].groups[0].users.push(UserSpec {
        user_id: "noauth@demo.example".to_owned(),
        services: Some(vec!["Voice Messaging User".to_owned()]),
        ..UserSpec::default()
    });
    let (_sim, client) = sim_with(SimConfig {
        world,
        ..SimConfig::default()
    })
    .await;
    let services = client
        .assigned_services("noauth@demo.example")
        .await
        .unwrap();
    assert!(!services.has_user_service("Authentication"));
    let read = client
        .user_authentication("noauth@demo.example")
        .await
        .unwrap_err();
    assert_eq!(read.status(), Some(400));
    assert!(read.to_string().contains("[Error 4410]"), "{read}");
    let set = client
        .set_sip_password("noauth@demo.example", &SecretString::from("Abcdef-123456"))
        .await
        .unwrap_err();
    assert_eq!(set.status(), Some(400));
}

#[tokio::test]
async fn odd_user_ids_are_sent_encoded() {
    let odd = "o'dd&user?x=1#frag%20+plus space@demo.example";
    let mut world = WorldSpec::seeded(SP, GROUP, 1);
    world.service_providers[0].groups[0].users.push(UserSpec {
        user_id: odd.to_owned(),
        ..UserSpec::default()
    });
    let (sim, client) = sim_with(SimConfig {
        world,
        ..SimConfig::default()
    })
    .await;
    assert_eq!(client.user(odd).await.unwrap().user_id, odd);
    assert_eq!(client.user_authentication(odd).await.unwrap().user_id, odd);
    assert_eq!(client.assigned_services(odd).await.unwrap().user_id, odd);
    let web = client
        .generate_passwords(Some(scope()), 1)
        .await
        .unwrap()
        .remove(0);
    client.set_web_password(odd, &web).await.unwrap();
    assert_eq!(
        sim.credentials(odd).unwrap().web_password.as_deref(),
        Some(web.expose_secret())
    );
}

#[tokio::test]
async fn revoked_tokens_mid_run_are_replaced_once() {
    let (sim, client) = sim_with(SimConfig::with_users(30)).await;
    client.session().await.unwrap();
    sim.revoke_all_tokens();
    let mut tasks = Vec::new();
    for number in 1..=30 {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            client.user_authentication(&user_id(number)).await
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(client.metrics().relogins, 1, "one shared re-login");
    assert_eq!(sim.stats().count_with_status("POST", "/auth/token", 200), 2);
    assert!(
        sim.stats()
            .count_with_status("GET", "/users/authentication", 401)
            >= 1
    );

    // Logging out kills the token; the next call logs in again by itself.
    client.logout().await.unwrap();
    client.session().await.unwrap();
    assert_eq!(client.metrics().relogins, 2);
}

#[tokio::test]
async fn reads_survive_injected_failures() {
    let (sim, client) = sim_with(SimConfig::with_users(20).with_seed(7)).await;
    sim.set_faults(Faults {
        fail_rate: 0.3,
        ..Faults::default()
    });
    for number in 1..=20 {
        let authentication = client.user_authentication(&user_id(number)).await.unwrap();
        assert_eq!(authentication.user_id, user_id(number));
    }
    let stats = sim.stats();
    let failures: u64 = [500, 502, 503, 504]
        .iter()
        .map(|status| stats.count_with_status("GET", "/users/authentication", *status))
        .sum();
    assert!(failures > 0, "the fault was injected");
    assert_eq!(client.metrics().retries, failures);
    assert_eq!(
        stats.count_with_status("GET", "/users/authentication", 200),
        20
    );
}

#[tokio::test]
async fn setters_never_retry_an_ambiguous_failure() {
    let (sim, client) = sim_with(SimConfig::with_users(1).with_seed(3)).await;
    sim.set_faults(Faults {
        fail_after_rate: 1.0,
        ..Faults::default()
    });
    let user = user_id(1);
    let web = SecretString::from("Ambiguous-Pass-42");
    let error = client.set_web_password(&user, &web).await.unwrap_err();
    assert!(error.may_have_applied(), "{error:?}");
    assert_eq!(sim.stats().count("PUT", "/users/passwords"), 1);
    // It did apply: the caller must find out by sending the same value again.
    assert_eq!(
        sim.credentials(&user).unwrap().web_password.as_deref(),
        Some("Ambiguous-Pass-42")
    );
}

#[tokio::test]
async fn rate_limit_is_honoured() {
    let (sim, client) = sim_with(SimConfig::with_users(40)).await;
    sim.set_faults(Faults {
        rate_limit: Some(20.0),
        ..Faults::default()
    });
    let mut tasks = Vec::new();
    for number in 1..=40 {
        let client = client.clone();
        tasks.push(tokio::spawn(
            async move { client.user(&user_id(number)).await },
        ));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let stats = sim.stats();
    let limited = stats.count_with_status("GET", "/users", 429);
    assert_eq!(stats.count_with_status("GET", "/users", 200), 40);
    assert!(limited >= 1, "the limit was reached");
    // Retrying without honouring `Retry-After: 1` would hammer the server with hundreds.
    assert!(limited <= 40, "{limited} answers 429 for 40 requests");
    let metrics = client.metrics();
    assert_eq!(metrics.rate_limited, limited);
    assert!(metrics.adaptive_rate.is_some());
}

#[tokio::test]
async fn hostile_answers_from_the_sim() {
    let (sim, client) = sim_with(SimConfig::with_users(1).with_seed(11)).await;
    let user = user_id(1);

    sim.set_faults(Faults {
        fail_rate: 1.0,
        html_error_rate: 1.0,
        ..Faults::default()
    });
    let html = client.user(&user).await.unwrap_err();
    let details = html.details().unwrap_or_default().to_owned();
    assert!(
        html.status().is_some_and(|status| status >= 500),
        "{html:?}"
    );
    assert!(
        details.len() <= 300 && !details.chars().any(char::is_control),
        "{details:?}"
    );

    sim.set_faults(Faults {
        ok_with_error_rate: 1.0,
        ..Faults::default()
    });
    let ok_with_error = client.user(&user).await.unwrap_err();
    assert!(
        matches!(ok_with_error, Error::Api { .. }),
        "{ok_with_error:?}"
    );

    sim.set_faults(Faults {
        other_user_rate: 1.0,
        ..Faults::default()
    });
    let other = client.user_authentication(&user).await.unwrap_err();
    assert!(matches!(other, Error::Decode { .. }), "{other:?}");

    sim.set_faults(Faults {
        truncated_json_rate: 1.0,
        ..Faults::default()
    });
    let truncated = client.user_authentication(&user).await.unwrap_err();
    assert!(
        matches!(truncated, Error::Decode { .. } | Error::Transport { .. }),
        "{truncated:?}"
    );

    sim.set_faults(Faults {
        enormous_body_rate: 1.0,
        ..Faults::default()
    });
    let mut small = config(&sim);
    small.max_body_bytes = 1024 * 1024;
    let capped_client = OdinClient::login(small).await.unwrap_err();
    assert!(
        capped_client.to_string().contains("1048576 bytes"),
        "{capped_client}"
    );
}

#[tokio::test]
async fn short_lived_tokens_are_refreshed_with_the_sim() {
    // Six seconds of life: due for refresh (5 s early) within a second.
    let sim = odin_sim::spawn(SimConfig {
        token_ttl: Duration::from_secs(6),
        ..SimConfig::with_users(1)
    })
    .await
    .unwrap();
    let mut config = config(&sim);
    // The client paces its own polling.
    config.pacing.max_rate = Some(50.0);
    let client = OdinClient::login(config).await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while client.metrics().refreshes == 0 {
        assert!(std::time::Instant::now() < deadline, "no refresh happened");
        client.session().await.unwrap();
    }
    client.user(&user_id(1)).await.unwrap();
    let stats = sim.stats();
    assert_eq!(stats.count_with_status("PUT", "/auth/token", 200), 1);
    assert_eq!(stats.count("POST", "/auth/token"), 1, "no second login");
    assert_eq!(client.metrics().relogins, 0);
}

#[tokio::test]
async fn a_listing_larger_than_the_body_cap_is_streamed() {
    // About 180 bytes per user: 3,000 users are some 540 KB, over a 64 KiB body cap.
    let (sim, _) = sim_with(SimConfig::with_users(3_000)).await;
    let mut small = config(&sim);
    small.max_body_bytes = 64 * 1024;
    let client = OdinClient::login(small.clone()).await.unwrap();
    let error = client.group_users(SP, GROUP).await.unwrap_err();
    assert!(error.to_string().contains("65536 bytes"), "{error}");
    let ids = client.group_user_ids(SP, GROUP).await.unwrap();
    assert_eq!(ids.len(), 3_000);
    assert_eq!(ids.get(0), Some("user0001@demo.example"));
    assert_eq!(ids.get(2_999), Some("user3000@demo.example"));

    small.max_listing_bytes = 100 * 1024;
    let client = OdinClient::login(small).await.unwrap();
    let error = client.group_user_ids(SP, GROUP).await.unwrap_err();
    assert!(matches!(error, Error::Decode { .. }), "{error:?}");
    assert!(error.to_string().contains("102400 bytes"), "{error}");
}
