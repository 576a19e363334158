//! The OCI-P client and its backend against odin-sim's OCI-P front, over the wire: every value
//! set is compared with the simulator's own record.

mod common;

use bwreset_backend::{Backend, Credential, ErrorKind, ExposeSecret, GroupScope, SecretString};
use ocip_client::{Error, OcipClient, OcipConfig};
use odin_sim::{OcipFaults, Release, SimConfig, SimHandle, WorldSpec};

use common::{GROUP, in_effect, simulator, user_ids};

fn plain(users: usize) -> SimConfig {
    SimConfig::with_users(users).with_ocip(odin_sim::OcipFrontConfig::default())
}

fn config_for(simulator: &SimHandle) -> OcipConfig {
    let url = simulator.ocip_url().expect("an OCI-P front");
    OcipConfig::new(url, "admin", SecretString::from("admin"))
}

async fn client(simulator: &SimHandle) -> OcipClient {
    OcipClient::login(config_for(simulator))
        .await
        .expect("login")
}

/// Generates values on the server and sets them all at once (so the batcher shares documents),
/// for each credential; the simulator must hold exactly what was set.
#[tokio::test]
async fn every_credential_is_set_and_in_effect() {
    let simulator = simulator(plain(40)).await;
    let client = client(&simulator).await;
    let listing = client.group_user_ids(GROUP).await.expect("listing");
    let mut listed: Vec<String> = listing.iter().map(str::to_owned).collect();
    listed.sort();
    assert_eq!(listed, user_ids(&simulator));
    for credential in [
        Credential::SipPassword,
        Credential::PortalPasscode,
        Credential::WebPassword,
    ] {
        let before = client.counts();
        let values = client
            .generate(credential, GROUP, 30)
            .await
            .expect("values");
        assert_eq!(values.len(), 30);
        // 30 generate commands in two documents of 15 (a login on a new connection is one
        // command in one document, so it leaves the difference unchanged).
        let after = client.counts();
        let commands = after.commands - before.commands;
        let documents = after.documents - before.documents;
        assert_eq!(
            commands - documents,
            30 - 2,
            "{commands} commands in {documents} documents"
        );
        let mut tasks = tokio::task::JoinSet::new();
        for (user, value) in listed.iter().zip(values) {
            let (client, user) = (client.clone(), user.clone());
            tasks.spawn(async move {
                let facts = client.check_user(&user, credential).await.expect("check");
                if credential == Credential::SipPassword {
                    assert!(facts.sip_user_name.is_some());
                }
                client.set(credential, &user, &value).await.expect("set");
                (user, value)
            });
        }
        while let Some(done) = tasks.join_next().await {
            let (user, value) = done.expect("task");
            assert_eq!(
                in_effect(&simulator, &user, credential).as_deref(),
                Some(value.expose_secret()),
                "{user}"
            );
        }
    }
    client.logout().await;
}

#[tokio::test]
async fn refusals_mean_what_they_say() {
    let world = WorldSpec::from_json(
        r#"{"serviceProviders": [{"serviceProviderId": "demo-sp", "groups": [
            {"groupId": "demo-group", "users": [
                {"userId": "alice@demo.example"},
                {"userId": "bob@demo.example", "services": ["Voice Messaging User"]}
            ]}]}]}"#,
    )
    .expect("world");
    let simulator = simulator(SimConfig { world, ..plain(0) }).await;
    let client = client(&simulator).await;
    fn kind<T: std::fmt::Debug>(result: Result<T, bwreset_backend::BackendError>) -> ErrorKind {
        result.expect_err("refused").kind()
    }
    assert_eq!(
        kind(
            client
                .check_user("ghost@demo.example", Credential::SipPassword)
                .await
        ),
        ErrorKind::UserNotFound
    );
    assert_eq!(
        kind(
            client
                .check_user("ghost@demo.example", Credential::WebPassword)
                .await
        ),
        ErrorKind::UserNotFound
    );
    assert_eq!(
        kind(
            client
                .check_user("bob@demo.example", Credential::SipPassword)
                .await
        ),
        ErrorKind::ServiceNotAssigned
    );
    let short = SecretString::from("a1!");
    let refused = client
        .set(Credential::SipPassword, "alice@demo.example", &short)
        .await
        .expect_err("too short");
    assert_eq!(
        refused.kind(),
        ErrorKind::RuleRejected,
        "{}",
        refused.reason()
    );
    assert_eq!(
        kind(
            client
                .group_user_ids(GroupScope {
                    service_provider_id: "demo-sp",
                    group_id: "nope"
                })
                .await
        ),
        ErrorKind::GroupNotFound
    );
}

/// Values made for one user each (`PasswordGenerateRequest` with the `userId`): concurrent
/// callers share documents of 15, and the server accepts every value for its user. A release
/// without the command makes the client say it makes no values per user any more.
#[tokio::test]
async fn values_made_per_user_share_documents_and_are_accepted() {
    let current = simulator(plain(30)).await;
    let ocip = client(&current).await;
    let users = user_ids(&current);
    for credential in [
        Credential::SipPassword,
        Credential::PortalPasscode,
        Credential::WebPassword,
    ] {
        let (simulator, client) = (&current, &ocip);
        assert!(client.generates_per_user(credential));
        let before = client.counts();
        let mut tasks = tokio::task::JoinSet::new();
        for user in &users {
            let (client, user) = (client.clone(), user.clone());
            tasks.spawn(async move {
                let value = client
                    .generate_for(credential, GROUP, &user)
                    .await
                    .expect("generated")
                    .expect("made per user");
                (user, value)
            });
        }
        let mut made = Vec::new();
        while let Some(done) = tasks.join_next().await {
            made.push(done.expect("task"));
        }
        let after = client.counts();
        let (commands, documents) = (
            after.commands - before.commands,
            after.documents - before.documents,
        );
        // 30 generate commands in at most 4 documents (a login on a new connection is one
        // command in one document, so it leaves the difference unchanged).
        assert!(
            commands - documents >= 30 - 4,
            "{commands} commands in {documents} documents"
        );
        for (user, value) in made {
            assert!(!value.expose_secret().is_empty(), "{user}");
            client
                .set(credential, &user, &value)
                .await
                .expect("accepted");
            assert_eq!(
                in_effect(simulator, &user, credential).as_deref(),
                Some(value.expose_secret()),
                "{user}"
            );
        }
    }
    assert_eq!(
        current
            .stats()
            .count_with_status("OCIP", "PasswordGenerateRequest", 200),
        90
    );

    let old = simulator(
        SimConfig::with_users(3).with_ocip(odin_sim::OcipFrontConfig {
            release: Release::R21,
            ..odin_sim::OcipFrontConfig::default()
        }),
    )
    .await;
    let client = client(&old).await;
    let user = user_ids(&old).remove(0);
    assert!(client.generates_per_user(Credential::SipPassword));
    let answer = client
        .generate_for(Credential::SipPassword, GROUP, &user)
        .await
        .expect("a refusal is no error");
    assert!(answer.is_none());
    assert!(!client.generates_per_user(Credential::SipPassword));
    let values = client
        .generate(Credential::SipPassword, GROUP, 2)
        .await
        .expect("values made here");
    assert_eq!(values.len(), 2);
    assert_eq!(old.stats().count("OCIP", "PasswordGenerateRequest"), 1);
}

/// A read refused with a server failure (`[Error 5000]`) is asked again: the listing and a
/// value made for a user come through, and the generator stays the server's.
#[tokio::test]
async fn a_read_that_fails_inside_the_server_is_asked_again() {
    let simulator = simulator(plain(5)).await;
    let mut config = config_for(&simulator);
    config.backoff = bwreset_backend::Backoff {
        initial: std::time::Duration::from_millis(1),
        max: std::time::Duration::from_millis(2),
    };
    let client = OcipClient::login(config).await.expect("login");
    simulator.set_ocip_faults(OcipFaults {
        fail_nth: Some(("UserGetListInGroupRequest".into(), 1)),
        ..OcipFaults::default()
    });
    let listing = client.group_user_ids(GROUP).await.expect("asked again");
    assert_eq!(listing.len(), 5);
    let stats = simulator.stats();
    assert_eq!(stats.count("OCIP", "UserGetListInGroupRequest"), 2);
    assert_eq!(
        stats.count_with_status("OCIP", "UserGetListInGroupRequest", 200),
        1
    );

    simulator.set_ocip_faults(OcipFaults {
        fail_nth: Some(("PasswordGenerateRequest".into(), 1)),
        ..OcipFaults::default()
    });
    let user = user_ids(&simulator).remove(0);
    let value = client
        .generate_for(Credential::PortalPasscode, GROUP, &user)
        .await
        .expect("asked again");
    assert!(value.is_some_and(|value| !value.expose_secret().is_empty()));
    assert!(client.generates_per_user(Credential::PortalPasscode));
    assert_eq!(
        simulator.stats().count("OCIP", "PasswordGenerateRequest"),
        2
    );
}

/// Release 21 has no `PasswordGenerateRequest`: values are made here from the rules the server
/// reports, and the server accepts them.
#[tokio::test]
async fn release_21_values_are_generated_here_and_accepted() {
    let simulator = simulator(
        SimConfig::with_users(12).with_ocip(odin_sim::OcipFrontConfig {
            release: Release::R21,
            ..odin_sim::OcipFrontConfig::default()
        }),
    )
    .await;
    let client = client(&simulator).await;
    let users = user_ids(&simulator);
    for credential in [
        Credential::SipPassword,
        Credential::PortalPasscode,
        Credential::WebPassword,
    ] {
        let values = client
            .generate(credential, GROUP, 12)
            .await
            .expect("values");
        assert_eq!(values.len(), 12);
        for (user, value) in users.iter().zip(&values) {
            client.set(credential, user, value).await.expect("accepted");
        }
    }
    // The first call's 12 requests were refused; no other was sent.
    let stats = simulator.stats();
    assert_eq!(stats.count("OCIP", "PasswordGenerateRequest"), 12);
    assert_eq!(
        stats.count_with_status("OCIP", "PasswordGenerateRequest", 200),
        0
    );
}

/// With `local_generation` the client makes every value from the rules the server reports,
/// read once per credential and group however many calls ask, and sends no
/// `PasswordGenerateRequest`; the server accepts the values.
#[tokio::test]
async fn local_generation_reads_the_rules_once_and_sends_no_generate_command() {
    let simulator = simulator(plain(40)).await;
    let mut config = config_for(&simulator);
    config.local_generation = true;
    let client = OcipClient::login(config).await.expect("login");
    let users = user_ids(&simulator);
    for credential in [
        Credential::SipPassword,
        Credential::PortalPasscode,
        Credential::WebPassword,
    ] {
        let mut values = Vec::new();
        for _ in 0..3 {
            values.extend(
                client
                    .generate(credential, GROUP, 10)
                    .await
                    .expect("values"),
            );
        }
        assert_eq!(values.len(), 30);
        for (user, value) in users.iter().zip(&values) {
            client.set(credential, user, value).await.expect("accepted");
        }
    }
    let stats = simulator.stats();
    assert_eq!(stats.count("OCIP", "PasswordGenerateRequest"), 0);
    for (rules, reads) in [
        ("ServiceProviderSIPAuthenticationPasswordRulesGetRequest", 1),
        ("GroupPortalPasscodeRulesGetRequest19", 1),
        ("GroupPasswordRulesGetRequest16", 1),
    ] {
        assert_eq!(stats.count("OCIP", rules), reads, "{rules}");
    }
}

/// However many commands wait at once, the pool opens at most `connections` connections (with
/// or without logging them all in at the start), and the logout reaches every one it opened.
#[tokio::test]
async fn the_pool_stays_within_its_size_and_logs_out_everywhere() {
    for warm_up in [false, true] {
        let simulator = simulator(plain(60)).await;
        let mut config = config_for(&simulator);
        config.connections = 4;
        config.warm_up = warm_up;
        let client = OcipClient::login(config).await.expect("login");
        let users = user_ids(&simulator);
        let mut tasks = tokio::task::JoinSet::new();
        for user in users {
            let client = client.clone();
            tasks.spawn(async move {
                client
                    .check_user(&user, Credential::WebPassword)
                    .await
                    .expect("check")
            });
        }
        while let Some(done) = tasks.join_next().await {
            done.expect("joined");
        }
        let logins = simulator.stats().count("OCIP", "LoginRequest14sp4");
        assert!(
            (1..=4).contains(&logins),
            "warm-up {warm_up}: {logins} logins"
        );
        if !warm_up {
            client.logout().await;
            assert_eq!(
                simulator.stats().count("OCIP", "LogoutRequest"),
                logins,
                "every connection logs out"
            );
        }
    }
}

/// With warm-up the other connections make the login's first step (no secret) while the first
/// connection logs in, and the second step only after it: a wrong password is tried once, a
/// right one on every connection.
#[tokio::test]
async fn warm_up_tries_the_password_once_before_the_other_connections_do() {
    for (password, logins) in [("wrong", 1), ("admin", 6)] {
        let simulator = simulator(plain(3)).await;
        let mut config = config_for(&simulator);
        config.password = SecretString::from(password);
        config.connections = 6;
        config.warm_up = true;
        let result = OcipClient::login(config).await;
        assert_eq!(result.is_ok(), password == "admin", "{password}");
        if let Ok(client) = &result {
            // The others log in in the background: a full round of reads needs them all.
            let mut tasks = tokio::task::JoinSet::new();
            for _ in 0..30 {
                let client = client.clone();
                tasks.spawn(async move { client.group_user_ids(GROUP).await.expect("listed") });
            }
            while let Some(done) = tasks.join_next().await {
                done.expect("joined");
            }
        }
        // Let the other connections end what they do.
        let mut waited = 0;
        while simulator.stats().count("OCIP", "AuthenticationRequest") < 6 && waited < 200 {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            waited += 1;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let stats = simulator.stats();
        assert_eq!(
            stats.count("OCIP", "AuthenticationRequest"),
            6,
            "{password}: every connection made the first step"
        );
        assert_eq!(
            stats.count("OCIP", "LoginRequest14sp4"),
            logins,
            "{password}: the password was tried {logins} time(s)"
        );
        if let Ok(client) = result {
            client.logout().await;
        }
    }
}

#[tokio::test]
async fn tls_with_the_given_ca_and_either_login() {
    let simulator = simulator(
        SimConfig::with_users(3).with_ocip(odin_sim::OcipFrontConfig {
            tls: true,
            ..odin_sim::OcipFrontConfig::default()
        }),
    )
    .await;
    let url = simulator.ocip_url().expect("url");
    assert!(url.starts_with("ocips://"), "{url}");
    let ca = simulator.ocip_ca_pem().expect("a CA").as_bytes().to_vec();
    for plaintext_login in [false, true] {
        let mut config = config_for(&simulator);
        config.ca_cert_pem = Some(ca.clone());
        config.plaintext_login = plaintext_login;
        let client = OcipClient::login(config).await.expect("login over TLS");
        let users = client.group_user_ids(GROUP).await.expect("listing");
        assert_eq!(users.len(), 3);
    }
    // Without the CA, the system's roots do not trust the simulator's certificate.
    let error = OcipClient::login(config_for(&simulator))
        .await
        .expect_err("untrusted");
    assert!(matches!(error, Error::Tls { .. }), "{error:?}");
}

#[tokio::test]
async fn a_wrong_password_a_closed_door_and_plaintext_elsewhere_are_told_apart() {
    let simulator = simulator(plain(1)).await;
    let mut config = config_for(&simulator);
    config.password = SecretString::from("wrong-password");
    let error = OcipClient::login(config).await.expect_err("refused");
    assert!(matches!(error, Error::LoginRefused { .. }), "{error:?}");
    assert!(!error.to_string().contains("wrong-password"));

    simulator.set_ocip_faults(OcipFaults {
        close_on_accept: true,
        ..OcipFaults::default()
    });
    let error = OcipClient::login(config_for(&simulator))
        .await
        .expect_err("closed");
    assert!(matches!(error, Error::Connect { .. }), "{error:?}");
    assert!(error.to_string().contains("access list"), "{error}");

    let config = OcipConfig::new(
        "ocip://bw.example.net",
        "admin",
        SecretString::from("admin"),
    );
    let error = OcipClient::login(config).await.expect_err("plaintext");
    assert!(matches!(error, Error::Config { .. }), "{error:?}");
}

/// A modify applied but not answered is uncertain, never failed; the value is in effect.
#[tokio::test]
async fn an_unanswered_modify_is_ambiguous_and_a_lost_session_logs_in_again() {
    let simulator = simulator(plain(2)).await;
    let client = client(&simulator).await;
    let users = user_ids(&simulator);
    simulator.set_ocip_faults(OcipFaults {
        drop_after_apply: Some("UserAuthenticationModifyRequest".into()),
        ..OcipFaults::default()
    });
    let value = SecretString::from("Qz7!pR2#mK9$wX4t");
    let error = client
        .set(Credential::SipPassword, &users[0], &value)
        .await
        .expect_err("no answer");
    assert_eq!(error.kind(), ErrorKind::Ambiguous);
    let in_effect = simulator.credentials(&users[0]).expect("user").sip_password;
    assert_eq!(in_effect.as_deref(), Some(value.expose_secret()));

    simulator.set_ocip_faults(OcipFaults::default());
    simulator.revoke_all_tokens();
    let value = SecretString::from("Hn3@vB8%cL5&dF1j");
    client
        .set(Credential::SipPassword, &users[1], &value)
        .await
        .expect("set after logging in again");
    let in_effect = simulator.credentials(&users[1]).expect("user").sip_password;
    assert_eq!(in_effect.as_deref(), Some(value.expose_secret()));
}

/// A new SIP user name goes with the password in one command; the current name is read back
/// (no secret in that read); a name another user holds is its own refusal and changes nothing.
#[tokio::test]
async fn a_new_user_name_is_set_with_the_password_and_a_taken_one_refused() {
    let simulator = simulator(plain(3)).await;
    let client = client(&simulator).await;
    let alice = "user0001@demo.example";
    assert_eq!(
        client.sip_user_name(alice).await.expect("read").as_deref(),
        Some("user0001")
    );
    client
        .set_sip_credentials(
            alice,
            Some("k3v9x2m4q8w1"),
            &SecretString::from("Brand-New-Pass7"),
        )
        .await
        .expect("set");
    let truth = simulator.credentials(alice).expect("user");
    assert_eq!(truth.sip_user_name.as_deref(), Some("k3v9x2m4q8w1"));
    assert_eq!(truth.sip_password.as_deref(), Some("Brand-New-Pass7"));
    assert_eq!(
        client.sip_user_name(alice).await.expect("read").as_deref(),
        Some("k3v9x2m4q8w1")
    );

    let taken = client
        .set_sip_credentials(
            alice,
            Some("user0002"),
            &SecretString::from("Other-New-Pass8"),
        )
        .await
        .expect_err("taken");
    assert_eq!(taken.kind(), ErrorKind::UserNameTaken);
    assert!(
        taken.reason().contains("User name already in use"),
        "{taken}"
    );
    let rule = client
        .set_sip_credentials(
            alice,
            Some("quartz77"),
            &SecretString::from("Quartz77-Pass-1"),
        )
        .await
        .expect_err("a rule");
    assert_eq!(rule.kind(), ErrorKind::RuleRejected);
    let after = simulator.credentials(alice).expect("user");
    assert_eq!(after.sip_user_name.as_deref(), Some("k3v9x2m4q8w1"));
    assert_eq!(after.sip_password.as_deref(), Some("Brand-New-Pass7"));
    // Without a name: the password alone.
    client
        .set_sip_credentials(alice, None, &SecretString::from("Third-New-Pass9"))
        .await
        .expect("set");
    let last = simulator.credentials(alice).expect("user");
    assert_eq!(last.sip_user_name.as_deref(), Some("k3v9x2m4q8w1"));
    assert_eq!(last.sip_password.as_deref(), Some("Third-New-Pass9"));
}
