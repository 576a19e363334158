//! New SIP authentication user names against the simulator: the client sets a name with the
//! password, reads the current name back, and reads a name another user holds as its own kind
//! of refusal, distinct from a password rule's.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly where its precondition breaks"
)]

use std::time::Duration;

use bwreset_backend::{Backend, ErrorKind};
use odin_client::{ClientConfig, OdinClient, RetryPolicy, SecretString};
use odin_sim::SimConfig;

const ALICE: &str = "user0001@demo.example";
const BOB: &str = "user0002@demo.example";

async fn sim_and_client() -> (odin_sim::SimHandle, OdinClient) {
    let sim = odin_sim::spawn(SimConfig::with_users(3).with_seed(1))
        .await
        .expect("start the simulator");
    let mut config = ClientConfig::new(sim.base_url(), "admin", SecretString::from("admin"));
    config.retry = RetryPolicy {
        max_attempts: 3,
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(5),
        max_elapsed: Duration::from_secs(10),
    };
    let client = OdinClient::login(config).await.expect("login");
    (sim, client)
}

#[tokio::test]
async fn a_name_is_set_with_the_password_and_read_back() {
    let (sim, client) = sim_and_client().await;
    assert_eq!(
        client.sip_user_name(ALICE).await.unwrap().as_deref(),
        Some("user0001")
    );
    let password = SecretString::from("Brand-New-Pass7");
    Backend::set_sip_credentials(&client, ALICE, Some("k3v9x2m4q8w1"), &password)
        .await
        .unwrap();
    let truth = sim.credentials(ALICE).unwrap();
    assert_eq!(truth.sip_user_name.as_deref(), Some("k3v9x2m4q8w1"));
    assert_eq!(truth.sip_password.as_deref(), Some("Brand-New-Pass7"));
    assert_eq!(
        client.sip_user_name(ALICE).await.unwrap().as_deref(),
        Some("k3v9x2m4q8w1")
    );
    // Without a name it is the plain password change: the name stays.
    Backend::set_sip_credentials(&client, ALICE, None, &SecretString::from("Other-New-Pass8"))
        .await
        .unwrap();
    let truth = sim.credentials(ALICE).unwrap();
    assert_eq!(truth.sip_user_name.as_deref(), Some("k3v9x2m4q8w1"));
    assert_eq!(truth.sip_password.as_deref(), Some("Other-New-Pass8"));
    assert_eq!(
        sim.stats()
            .count_with_status("PUT", "/api/v2/users/authentication", 200),
        2
    );
}

#[tokio::test]
async fn a_taken_name_is_its_own_refusal_and_changes_nothing() {
    let (sim, client) = sim_and_client().await;
    let before = sim.credentials(ALICE).unwrap();
    let taken = Backend::set_sip_credentials(
        &client,
        ALICE,
        Some("user0002"),
        &SecretString::from("Brand-New-Pass7"),
    )
    .await
    .unwrap_err();
    assert_eq!(taken.kind(), ErrorKind::UserNameTaken);
    assert_eq!(
        taken.reason(),
        "[Error 4420] User name already in use: user0002"
    );
    // The new name inside the password: a rule refuses the password, not the name.
    let rule = Backend::set_sip_credentials(
        &client,
        ALICE,
        Some("quartz77"),
        &SecretString::from("Quartz77-Pass-1"),
    )
    .await
    .unwrap_err();
    assert_eq!(rule.kind(), ErrorKind::RuleRejected);
    assert!(!rule.to_string().contains("Quartz77-Pass-1"), "{rule}");
    let after = sim.credentials(ALICE).unwrap();
    assert_eq!(after.sip_user_name, before.sip_user_name);
    assert_eq!(after.sip_password, before.sip_password);
    assert_eq!(
        sim.credentials(BOB).unwrap().sip_user_name.as_deref(),
        Some("user0002")
    );
}
