//! The OCI-P front against docs/ocip.md (and the spec it follows), over real sockets: framing,
//! encoding, namespaces, both logins, batching, every command, refusals, releases, faults, and
//! the truth endpoints agreeing with what OCI-P set.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly where its precondition breaks"
)]

mod ocip_client;

use ocip_client::{
    ALICE, BOB, Client, GROUP, SP, between, command, config, document, fields, reply_types, signed,
    start, summaries,
};
use odin_sim::{Faults, OcipFaults, OcipFrontConfig, Release, SimConfig};

const SUCCESS: &str = "c:SuccessResponse";
const ERROR: &str = "c:ErrorResponse";

fn modify_sip(user: &str, password: &str) -> String {
    command(
        "UserAuthenticationModifyRequest",
        &fields(&[("userId", user), ("newPassword", password)]),
    )
}

fn modify_passcode(user: &str, passcode: &str) -> String {
    command(
        "UserPortalPasscodeModifyRequest",
        &fields(&[("userId", user), ("newPasscode", passcode)]),
    )
}

fn modify_web(user: &str, password: &str) -> String {
    command(
        "PasswordModifyRequest",
        &fields(&[("userId", user), ("newPassword", password)]),
    )
}

// ---- login ----

#[tokio::test]
async fn the_signed_login_follows_the_spec_test_vector_byte_for_byte() {
    let sim = start(SimConfig {
        login: ("admin".to_owned(), "password".to_owned()),
        ..config()
    })
    .await;
    let mut client = Client::connect(&sim).await;
    let reply = client
        .one("AuthenticationRequest", "<userId>admin</userId>")
        .await;
    assert_eq!(
        reply,
        concat!(
            "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n",
            "<BroadsoftDocument protocol=\"OCI\" xmlns=\"C\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">",
            "<sessionId xmlns=\"\">s-1</sessionId>",
            "<command echo=\"\" xsi:type=\"AuthenticationResponse\" xmlns=\"\">",
            "<userId>admin</userId><nonce>1234567890123</nonce><passwordAlgorithm>MD5</passwordAlgorithm>",
            "</command></BroadsoftDocument>\n"
        )
    );
    assert_eq!(
        signed("1234567890123", "password"),
        "77e4a6de3a1e00be05e121cf0ebee860"
    );
    let reply = client
        .one(
            "LoginRequest14sp4",
            &fields(&[
                ("userId", "admin"),
                ("signedPassword", "77e4a6de3a1e00be05e121cf0ebee860"),
            ]),
        )
        .await;
    assert_eq!(reply_types(&reply), ["LoginResponse14sp4"]);
    for required in [
        "<loginType>System</loginType>",
        "<locale>",
        "<encoding>",
        "<isEnterprise>false</isEnterprise>",
        "<userDomain>",
    ] {
        assert!(reply.contains(required), "{required} in {reply}");
    }
    let reply = client
        .one(
            "UserAuthenticationGetRequest",
            &fields(&[("userId", ALICE)]),
        )
        .await;
    assert_eq!(
        between(&reply, "<userName>", "</userName>"),
        Some("user0001")
    );
}

#[tokio::test]
async fn a_bad_login_is_refused_and_a_nonce_serves_one_attempt() {
    let sim = start(config()).await;
    let mut client = Client::connect(&sim).await;
    // Before any login, a command is refused and the connection stays.
    let reply = client
        .one(
            "UserAuthenticationGetRequest",
            &fields(&[("userId", ALICE)]),
        )
        .await;
    assert!(summaries(&reply)[0].contains("Not logged in"), "{reply}");
    let reply = client.login_with("wrong").await;
    assert_eq!(summaries(&reply), ["[Error 4962] Invalid password"]);
    // The right signature for the used nonce is refused: it needs a new AuthenticationRequest.
    let reply = client
        .one(
            "LoginRequest14sp4",
            &fields(&[
                ("userId", "admin"),
                ("signedPassword", &signed("1234567890123", "admin")),
            ]),
        )
        .await;
    assert_eq!(summaries(&reply), ["[Error 4962] Invalid password"]);
    // A user other than the one the nonce was issued for is refused too.
    client
        .one("AuthenticationRequest", "<userId>someone</userId>")
        .await;
    let reply = client
        .one(
            "LoginRequest14sp4",
            &fields(&[
                ("userId", "admin"),
                ("signedPassword", &signed("1234567890123", "admin")),
            ]),
        )
        .await;
    assert_eq!(reply_types(&reply), [ERROR]);
    client.login().await;
    let reply = client
        .one(
            "UserAuthenticationGetRequest",
            &fields(&[("userId", ALICE)]),
        )
        .await;
    assert_eq!(reply_types(&reply), ["UserAuthenticationGetResponse"]);
}

#[tokio::test]
async fn fresh_nonces_differ_without_the_fixed_one() {
    let sim = start(SimConfig::with_users(1).with_ocip(OcipFrontConfig::default())).await;
    let mut client = Client::connect(&sim).await;
    let first = client
        .one("AuthenticationRequest", "<userId>admin</userId>")
        .await;
    let second = client
        .one("AuthenticationRequest", "<userId>admin</userId>")
        .await;
    let nonce = |reply: &str| between(reply, "<nonce>", "</nonce>").unwrap().to_owned();
    assert_ne!(nonce(&first), nonce(&second));
    // The latest nonce is the one that counts.
    let reply = client
        .one(
            "LoginRequest14sp4",
            &fields(&[
                ("userId", "admin"),
                ("signedPassword", &signed(&nonce(&second), "admin")),
            ]),
        )
        .await;
    assert_eq!(reply_types(&reply), ["LoginResponse14sp4"]);
}

#[tokio::test]
async fn login_22v5_is_refused_on_plain_tcp_and_accepted_over_tls() {
    let sim = start(config()).await;
    let mut client = Client::connect(&sim).await;
    let login = command(
        "LoginRequest22V5",
        &fields(&[("userId", "admin"), ("password", "admin")]),
    );
    let reply = client.call(std::slice::from_ref(&login)).await;
    assert_eq!(reply_types(&reply), [ERROR]);
    assert!(summaries(&reply)[0].contains("TLS"), "{reply}");
    let reply = client
        .one(
            "UserAuthenticationGetRequest",
            &fields(&[("userId", ALICE)]),
        )
        .await;
    assert_eq!(reply_types(&reply), [ERROR], "still not logged in");

    let cert = tempfile::NamedTempFile::new().unwrap();
    let tls = start(SimConfig::with_users(3).with_ocip(OcipFrontConfig {
        tls: true,
        cert_out: Some(cert.path().to_owned()),
        ..OcipFrontConfig::default()
    }))
    .await;
    assert!(tls.ocip_url().unwrap().starts_with("ocips://127.0.0.1:"));
    let pem = std::fs::read_to_string(cert.path()).unwrap();
    assert_eq!(Some(pem.as_str()), tls.ocip_ca_pem());
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
    for name in ["localhost", "127.0.0.1"] {
        let mut client = Client::connect_tls(&tls, &pem, name).await;
        let reply = client.call(std::slice::from_ref(&login)).await;
        assert_eq!(reply_types(&reply), ["LoginResponse22V5"], "{reply}");
        let reply = client.call(&[modify_web(ALICE, "Tls-Secret-77")]).await;
        assert_eq!(reply_types(&reply), [SUCCESS]);
    }
    // The signed login works over TLS too.
    let mut client = Client::connect_tls(&tls, &pem, "localhost").await;
    let reply = client.login_with("admin").await;
    assert_eq!(reply_types(&reply), ["LoginResponse14sp4"]);
    let bad = command(
        "LoginRequest22V5",
        &fields(&[("userId", "admin"), ("password", "nope")]),
    );
    let reply = client.call(&[bad]).await;
    assert_eq!(summaries(&reply), ["[Error 4962] Invalid password"]);
    assert_eq!(
        tls.credentials(ALICE).unwrap().web_password.as_deref(),
        Some("Tls-Secret-77")
    );
}

#[tokio::test]
async fn logout_and_abrupt_close_are_normal_ends() {
    let sim = start(config()).await;
    let mut client = Client::connect(&sim).await;
    client.login().await;
    // broadworks-ocip's reason is outside the schema's list: accepted anyway.
    let reply = client
        .one(
            "LogoutRequest",
            &fields(&[("userId", "admin"), ("reason", "Connection close")]),
        )
        .await;
    assert_eq!(reply_types(&reply), [SUCCESS]);
    let reply = client
        .one(
            "UserAuthenticationGetRequest",
            &fields(&[("userId", ALICE)]),
        )
        .await;
    assert!(summaries(&reply)[0].contains("Not logged in"));

    // A logout whose reply is never read, and a close in the middle of a document.
    client.login().await;
    client
        .send_raw(document(&[command("LogoutRequest", "<userId>admin</userId>")]).as_bytes())
        .await;
    drop(client);
    let mut client = Client::connect(&sim).await;
    client
        .send_raw(b"<?xml version='1.0' encoding='ISO-8859-1'?>\n<BroadsoftDocument")
        .await;
    drop(client);
    // The login belongs to the connection: a new one with the same sessionId must log in.
    let mut client = Client::connect(&sim).await;
    let reply = client
        .one(
            "UserAuthenticationGetRequest",
            &fields(&[("userId", ALICE)]),
        )
        .await;
    assert_eq!(reply_types(&reply), [ERROR]);
    client.login().await;
    let reply = client
        .one(
            "UserAuthenticationGetRequest",
            &fields(&[("userId", ALICE)]),
        )
        .await;
    assert_eq!(reply_types(&reply), ["UserAuthenticationGetResponse"]);
}

// ---- framing, encoding, namespaces ----

#[tokio::test]
async fn documents_split_across_reads_or_sharing_one_are_each_answered() {
    let sim = start(config()).await;
    let mut client = Client::connect(&sim).await;
    client.login().await;
    let get = document(&[command(
        "UserAuthenticationGetRequest",
        &fields(&[("userId", ALICE)]),
    )]);
    // Byte by byte, each write flushed.
    for byte in get.as_bytes() {
        client.send_raw(std::slice::from_ref(byte)).await;
    }
    let reply = client.read_reply().await.unwrap();
    assert_eq!(reply_types(&reply), ["UserAuthenticationGetResponse"]);
    // Two documents and the start of a third in one write, whitespace between them.
    let other = document(&[command(
        "UserAuthenticationGetRequest",
        &fields(&[("userId", BOB)]),
    )]);
    let (head, tail) = get.split_at(40);
    client
        .send_raw(format!("\r\n  {get}\n\n{other}{head}").as_bytes())
        .await;
    let first = client.read_reply().await.unwrap();
    let second = client.read_reply().await.unwrap();
    assert_eq!(
        between(&first, "<userName>", "</userName>"),
        Some("user0001")
    );
    assert_eq!(
        between(&second, "<userName>", "</userName>"),
        Some("user0002")
    );
    client.send_raw(tail.as_bytes()).await;
    let third = client.read_reply().await.unwrap();
    assert_eq!(
        between(&third, "<userName>", "</userName>"),
        Some("user0001")
    );
    // Every reply ends in exactly one newline.
    assert!(third.ends_with("</BroadsoftDocument>\n"));
}

#[tokio::test]
async fn iso_8859_1_comes_in_and_goes_out_as_such() {
    let world = odin_sim::WorldSpec::from_json(
        r#"{"serviceProviders": [{"serviceProviderId": "demo-sp", "groups": [{"groupId": "demo-group",
            "users": [{"userId": "user0001@demo.example", "lastName": "Müller", "firstName": "Zoë"}]}]}]}"#,
    )
    .unwrap();
    let sim = start(SimConfig { world, ..config() }).await;
    let mut client = Client::connect(&sim).await;
    client.login().await;
    // A web password with `é` as the single byte 0xE9, and escaped markup characters.
    let mut bytes = document(&[modify_web(ALICE, "Caf\u{1}-&lt;Pw&amp;9")]).into_bytes();
    let at = bytes.iter().position(|&byte| byte == 1).unwrap();
    bytes[at] = 0xE9;
    client.send_raw(&bytes).await;
    let reply = client.read_reply().await.unwrap();
    assert_eq!(reply_types(&reply), [SUCCESS], "{reply}");
    assert_eq!(
        sim.credentials(ALICE).unwrap().web_password.as_deref(),
        Some("Caf\u{e9}-<Pw&9")
    );
    let reply = client
        .one(
            "UserGetListInGroupRequest",
            &fields(&[("serviceProviderId", SP), ("GroupId", GROUP)]),
        )
        .await;
    // `read_reply` decodes ISO-8859-1: one byte 0xFC became `ü`.
    assert!(
        reply.contains("<col>Müller</col>") && reply.contains("<col>Zoë</col>"),
        "{reply}"
    );
}

#[tokio::test]
async fn namespaces_are_resolved_by_uri_whatever_the_prefix() {
    let sim = start(config()).await;
    let mut client = Client::connect(&sim).await;
    client.login().await;
    let text = format!(
        "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n\
         <p:BroadsoftDocument protocol=\"OCI\" xmlns:p=\"C\"><sessionId>s-2</sessionId>\
         <command xmlns:C=\"http://www.w3.org/2001/XMLSchema-instance\" C:type=\"UserAuthenticationGetRequest\" echo=\"e-7\">\
         <userId>{ALICE}</userId></command></p:BroadsoftDocument>\n"
    );
    client.send_raw(text.as_bytes()).await;
    let reply = client.read_reply().await.unwrap();
    assert!(reply.contains("<sessionId xmlns=\"\">s-2</sessionId>"));
    assert!(
        reply.contains(
            "<command echo=\"e-7\" xsi:type=\"UserAuthenticationGetResponse\" xmlns=\"\">"
        )
    );
    // `type` with no namespace is not `xsi:type`.
    let reply = client
        .call(&[format!("<command type=\"UserAuthenticationGetRequest\" xmlns=\"\"><userId>{ALICE}</userId></command>")])
        .await;
    assert_eq!(reply_types(&reply), [ERROR]);
    // A root outside namespace `C` gets an ErrorResponse, and the connection goes on.
    client
        .send_raw(
            document(&[modify_web(ALICE, "Pw-Never-Set-1")])
                .replace("xmlns=\"C\"", "xmlns=\"D\"")
                .as_bytes(),
        )
        .await;
    let reply = client.read_reply().await.unwrap();
    assert!(summaries(&reply)[0].contains("namespace `C`"), "{reply}");
    assert_eq!(sim.credentials(ALICE).unwrap().changes.web, 0);
}

#[tokio::test]
async fn malformed_and_unknown_commands_get_error_responses_not_a_closed_connection() {
    let sim = start(config()).await;
    let mut client = Client::connect(&sim).await;
    client.login().await;
    for bad in [
        "<?xml version='1.0'?><BroadsoftDocument protocol=\"OCI\" xmlns=\"C\"><sessionId xmlns=\"\">s</sessionId><command></BroadsoftDocument>\n".to_owned(),
        "<?xml version='1.0'?><BroadsoftDocument protocol=\"OCI\" xmlns=\"C\"><sessionId xmlns=\"\">s</sessionId>&bogus;</BroadsoftDocument>\n".to_owned(),
        "<?xml version='1.0'?><BroadsoftDocument protocol=\"OCI\" xmlns=\"C\"><sessionId xmlns=\"\">s</sessionId></BroadsoftDocument>\n".to_owned(),
        document(&[command("NoSuchRequest", "")]),
        document(&[command("UserAuthenticationModifyRequest", "<newPassword>Abc-12345</newPassword>")]),
        document(&vec![command("UserAuthenticationGetRequest", &fields(&[("userId", ALICE)])); 16]),
    ] {
        client.send_raw(bad.as_bytes()).await;
        let reply = client.read_reply().await.expect("an answer, not a closed connection");
        assert_eq!(reply_types(&reply), [ERROR], "{bad}\n{reply}");
        assert!(summaries(&reply)[0].starts_with("[Error "), "{reply}");
    }
    assert!(summaries(&client.one("NoSuchRequest", "").await)[0].contains("NoSuchRequest"));
    let reply = client
        .one(
            "UserAuthenticationGetRequest",
            &fields(&[("userId", ALICE)]),
        )
        .await;
    assert_eq!(reply_types(&reply), ["UserAuthenticationGetResponse"]);
}

// ---- batching ----

#[tokio::test]
async fn fifteen_commands_are_answered_in_order_each_on_its_own() {
    let sim = start(config()).await;
    let mut client = Client::connect(&sim).await;
    client.login().await;
    let mut commands = Vec::new();
    for index in 0..15 {
        let body = match index % 3 {
            0 => fields(&[
                ("userId", ALICE),
                ("newPassword", &format!("Batch-{index}-Pw")),
            ]),
            1 => fields(&[
                ("userId", "nobody@demo.example"),
                ("newPassword", "Batch-Pw-1"),
            ]),
            _ => fields(&[
                ("userId", BOB),
                ("newPassword", &format!("Batch-{index}-Pw")),
            ]),
        };
        commands.push(command("PasswordModifyRequest", &body).replacen(
            "<command ",
            &format!("<command echo=\"n{index}\" "),
            1,
        ));
    }
    let text = document(&commands).replace(
        "</sessionId>",
        "</sessionId><trackingId xmlns=\"\">t-9</trackingId>",
    );
    client.send_raw(text.as_bytes()).await;
    let reply = client.read_reply().await.unwrap();
    assert!(reply.contains("<trackingId xmlns=\"\">t-9</trackingId>"));
    let types = reply_types(&reply);
    assert_eq!(types.len(), 15);
    for (index, kind) in types.iter().enumerate() {
        let expected = if index % 3 == 1 { ERROR } else { SUCCESS };
        assert_eq!(kind, expected, "command {index}");
        assert!(reply.contains(&format!("echo=\"n{index}\"")));
    }
    assert_eq!(
        summaries(&reply)[0],
        "[Error 4008] User not found: nobody@demo.example"
    );
    let alice = sim.credentials(ALICE).unwrap();
    assert_eq!(alice.web_password.as_deref(), Some("Batch-12-Pw"));
    assert_eq!(alice.changes.web, 5);
    assert_eq!(sim.credentials(BOB).unwrap().changes.web, 5);
}

// ---- commands ----

#[tokio::test]
async fn the_user_list_has_the_documented_table() {
    let sim = start(config()).await;
    let mut client = Client::connect(&sim).await;
    client.login().await;
    let reply = client
        .one(
            "UserGetListInGroupRequest",
            &fields(&[
                ("serviceProviderId", SP),
                ("GroupId", GROUP),
                ("responseSizeLimit", ""),
            ]),
        )
        .await;
    let headings: Vec<&str> = reply
        .split("<colHeading>")
        .skip(1)
        .filter_map(|part| part.split("</colHeading>").next())
        .collect();
    assert_eq!(
        headings,
        [
            "User Id",
            "Last Name",
            "First Name",
            "Department",
            "Phone Number",
            "Phone Number Activated",
            "Email Address",
            "Hiragana Last Name",
            "Hiragana First Name",
            "In Trunk Group",
            "Extension",
            "Country Code",
            "National Prefix"
        ]
    );
    assert_eq!(reply.matches("<row>").count(), 3);
    let first_row = between(&reply, "<row>", "</row>").unwrap();
    assert!(
        first_row.starts_with(&format!("<col>{ALICE}</col>")),
        "{first_row}"
    );
    assert!(
        first_row.contains("<col>+1-2025550001</col><col>true</col><col/>"),
        "{first_row}"
    );
    assert!(first_row.ends_with("<col>1</col><col/>"), "{first_row}");
    let limited = client
        .one(
            "UserGetListInGroupRequest",
            &fields(&[
                ("serviceProviderId", SP),
                ("GroupId", GROUP),
                ("responseSizeLimit", "2"),
            ]),
        )
        .await;
    assert_eq!(limited.matches("<row>").count(), 2);
    // `groupId` (lower case) is the paged variant's spelling, not this command's.
    let reply = client
        .one(
            "UserGetListInGroupRequest",
            &fields(&[("serviceProviderId", SP), ("groupId", GROUP)]),
        )
        .await;
    assert_eq!(
        summaries(&reply),
        ["[Error 4001] Missing mandatory field: GroupId"]
    );
    let reply = client
        .one(
            "UserGetListInGroupRequest",
            &fields(&[("serviceProviderId", SP), ("GroupId", "nope")]),
        )
        .await;
    assert_eq!(
        summaries(&reply),
        ["[Error 4007] Group not found: nope in demo-sp"]
    );
}

#[tokio::test]
async fn services_authentication_and_passcode_info_read_the_model() {
    let world = odin_sim::WorldSpec::from_json(&format!(
        r#"{{"serviceProviders": [{{"serviceProviderId": "{SP}", "groups": [{{"groupId": "{GROUP}",
            "users": [{{"userId": "{ALICE}", "portalPasscode": "80531794"}},
                      {{"userId": "{BOB}", "services": ["Voice Messaging User"]}}]}}]}}]}}"#
    ))
    .unwrap();
    let sim = start(SimConfig { world, ..config() }).await;
    let mut client = Client::connect(&sim).await;
    client.login().await;
    let reply = client
        .one(
            "UserServiceGetAssignmentListRequest",
            &fields(&[("userId", BOB)]),
        )
        .await;
    assert!(reply.contains("<servicePacksAssignmentTable><colHeading>Service Pack Name</colHeading><colHeading>Assigned</colHeading><colHeading>Description</colHeading></servicePacksAssignmentTable>"), "{reply}");
    assert!(reply.contains("<row><col>Authentication</col><col>false</col></row>"));
    assert!(reply.contains("<row><col>Voice Messaging User</col><col>true</col></row>"));
    let reply = client
        .one(
            "UserPortalPasscodeGetInfoRequest",
            &fields(&[("userId", ALICE)]),
        )
        .await;
    assert!(reply.contains("<isLoginDisabled>false</isLoginDisabled><doesNotExpire>true</doesNotExpire><passcode>80531794</passcode>"), "{reply}");
    // Missing Authentication service and unknown users, as the REST front words them.
    let reply = client
        .call(&[
            command("UserAuthenticationGetRequest", &fields(&[("userId", BOB)])),
            modify_sip(BOB, "Fine-Pass-123"),
            command(
                "UserServiceGetAssignmentListRequest",
                &fields(&[("userId", "ghost@x")]),
            ),
            modify_passcode("ghost@x", "2468"),
        ])
        .await;
    assert_eq!(
        summaries(&reply),
        [
            "[Error 4410] Service not assigned: Authentication",
            "[Error 4410] Service not assigned: Authentication",
            "[Error 4008] User not found: ghost@x",
            "[Error 4008] User not found: ghost@x",
        ]
    );
    assert_eq!(sim.credentials(BOB).unwrap().changes.sip, 0);
}

#[tokio::test]
async fn the_three_setters_apply_the_rest_fronts_rules_and_history() {
    let sim = start(config()).await;
    let mut client = Client::connect(&sim).await;
    client.login().await;
    let before = sim.credentials(ALICE).unwrap();
    let old_passcode = before.portal_passcode.clone().unwrap();
    let reply = client
        .call(&[
            modify_sip(ALICE, "xxUSER0001yy-9A"), // contains the SIP user name
            modify_sip(ALICE, "short"),
            modify_passcode(ALICE, &old_passcode), // the current passcode
            modify_passcode(ALICE, "1234"),        // an ascending run
            modify_web(ALICE, "no-digits-here"),
            modify_web(ALICE, &format!("X1{ALICE}")), // contains the user id
        ])
        .await;
    let refusals = summaries(&reply);
    assert_eq!(refusals.len(), 6, "{reply}");
    for refusal in &refusals {
        assert!(refusal.starts_with("[Error 4"), "{refusal}");
        assert!(!refusal.contains("xxUSER0001yy") && !refusal.contains("no-digits-here"));
    }
    assert_eq!(sim.credentials(ALICE).unwrap(), before, "nothing changed");

    let reply = client
        .call(&[
            modify_sip(ALICE, "Sip-New-Pass-1"),
            modify_passcode(ALICE, "90517"),
            modify_web(ALICE, "Web-New-Pass-2"),
            // The same SIP password again breaks "not the old password".
            modify_sip(ALICE, "Sip-New-Pass-1"),
            // The old/new pair form, and a user name change with it.
            command(
                "UserAuthenticationModifyRequest",
                &format!("<userId>{ALICE}</userId><userName>alice-sip</userName><password><old>Sip-New-Pass-1</old><new>Sip-Newer-Pass-3</new></password>"),
            ),
            command(
                "UserAuthenticationModifyRequest",
                &format!("<userId>{ALICE}</userId><password><old>wrong</old><new>Sip-Never-Pass-4</new></password>"),
            ),
            command(
                "PasswordModifyRequest",
                &fields(&[("userId", ALICE), ("oldPassword", "Web-New-Pass-2"), ("newPassword", "Web-Newer-Pass-5")]),
            ),
        ])
        .await;
    assert_eq!(
        reply_types(&reply),
        [SUCCESS, SUCCESS, SUCCESS, ERROR, SUCCESS, ERROR, SUCCESS]
    );
    let after = sim.credentials(ALICE).unwrap();
    assert_eq!(after.sip_password.as_deref(), Some("Sip-Newer-Pass-3"));
    assert_eq!(after.sip_user_name.as_deref(), Some("alice-sip"));
    assert_eq!(after.portal_passcode.as_deref(), Some("90517"));
    assert_eq!(after.web_password.as_deref(), Some("Web-Newer-Pass-5"));
    assert_eq!(
        (after.changes.sip, after.changes.vm, after.changes.web),
        (2, 1, 2)
    );
    // History: the passcode before last is refused as well.
    let reply = client.call(&[modify_passcode(ALICE, &old_passcode)]).await;
    assert_eq!(reply_types(&reply), [ERROR]);
}

#[tokio::test]
async fn generated_values_meet_the_rules_change_nothing_and_are_accepted() {
    let sim = start(config()).await;
    let mut client = Client::connect(&sim).await;
    client.login().await;
    let before = sim.all_credentials();
    let generate = command(
        "PasswordGenerateRequest",
        &format!(
            "<userPassword><serviceProviderId>{SP}</serviceProviderId><groupId>{GROUP}</groupId><userId>{ALICE}</userId><generatePassword>true</generatePassword><generatePasscode>true</generatePasscode><generateSipPassword>true</generateSipPassword></userPassword>"
        ),
    );
    let reply = client.call(std::slice::from_ref(&generate)).await;
    assert_eq!(reply_types(&reply), ["PasswordGenerateResponse"]);
    let web = between(&reply, "<userPassword>", "</userPassword>")
        .unwrap()
        .to_owned();
    let passcode = between(&reply, "<userPasscode>", "</userPasscode>")
        .unwrap()
        .to_owned();
    let sip = between(
        &reply,
        "<userSIPAuthenticationPassword>",
        "</userSIPAuthenticationPassword>",
    )
    .unwrap()
    .to_owned();
    // In schema order.
    assert!(reply.find("<userPassword>") < reply.find("<userPasscode>"));
    assert!(reply.find("<userPasscode>") < reply.find("<userSIPAuthenticationPassword>"));
    assert_eq!(sim.all_credentials(), before, "generation sets nothing");
    let reply = client
        .call(&[
            modify_sip(ALICE, &sip),
            modify_passcode(ALICE, &passcode),
            modify_web(ALICE, &web),
        ])
        .await;
    assert_eq!(reply_types(&reply), [SUCCESS, SUCCESS, SUCCESS], "{reply}");
    // Only what was asked for; an unknown group is an error.
    let reply = client
        .one("PasswordGenerateRequest", &format!("<userPassword><serviceProviderId>{SP}</serviceProviderId><groupId>{GROUP}</groupId><generatePasscode>true</generatePasscode></userPassword>"))
        .await;
    assert!(reply.contains("<userPasscode>") && !reply.contains("<userPassword>"));
    let reply = client
        .one("PasswordGenerateRequest", &format!("<userPassword><serviceProviderId>{SP}</serviceProviderId><groupId>nope</groupId><generatePasscode>true</generatePasscode></userPassword>"))
        .await;
    assert_eq!(reply_types(&reply), [ERROR]);

    // Deterministic from the seed: a second simulator with the same seed says the same.
    let twin = start(config()).await;
    let mut other = Client::connect(&twin).await;
    other.login().await;
    let first = other.call(std::slice::from_ref(&generate)).await;
    assert_eq!(
        between(&first, "<userSIPAuthenticationPassword>", "<"),
        Some(sip.as_str())
    );
}

#[tokio::test]
async fn rule_reads_answer_in_schema_order() {
    let sim = start(config()).await;
    let mut client = Client::connect(&sim).await;
    client.login().await;
    let group = fields(&[("serviceProviderId", SP), ("groupId", GROUP)]);
    let sp = fields(&[("serviceProviderId", SP)]);
    let cases = [
        (
            "GroupPasswordRulesGetRequest16",
            group.as_str(),
            "GroupPasswordRulesGetResponse16",
            "<disallowUserId>true</disallowUserId><disallowOldPassword>false</disallowOldPassword>",
        ),
        (
            "ServiceProviderPasswordRulesGetRequest16",
            sp.as_str(),
            "ServiceProviderPasswordRulesGetResponse16",
            "<rulesApplyTo>",
        ),
        (
            "SystemPasswordRulesGetRequest16",
            "",
            "SystemPasswordRulesGetResponse16",
            "<minLength>8</minLength>",
        ),
        (
            "SystemSIPAuthenticationPasswordRulesGetRequest",
            "",
            "SystemSIPAuthenticationPasswordRulesGetResponse",
            "<disallowAuthenticationName>true</disallowAuthenticationName>",
        ),
        (
            "ServiceProviderSIPAuthenticationPasswordRulesGetRequest",
            sp.as_str(),
            "ServiceProviderSIPAuthenticationPasswordRulesGetResponse",
            "<useServiceProviderSettings>true</useServiceProviderSettings><disallowAuthenticationName>",
        ),
        (
            "GroupPortalPasscodeRulesGetRequest19",
            group.as_str(),
            "GroupPortalPasscodeRulesGetResponse19",
            "<useRuleLevel>Group</useRuleLevel><disallowRepeatedDigits>true</disallowRepeatedDigits><numberOfRepeatedDigits>2</numberOfRepeatedDigits>",
        ),
        (
            "ServiceProviderPortalPasscodeRulesGetRequest19",
            sp.as_str(),
            "ServiceProviderPortalPasscodeRulesGetResponse19",
            "<minCodeLength>4</minCodeLength><maxCodeLength>8</maxCodeLength>",
        ),
        (
            "SystemPortalPasscodeRulesGetRequest19",
            "",
            "SystemPortalPasscodeRulesGetResponse19",
            "<defaultPassword>",
        ),
        (
            "UserPortalPasscodeRulesGetRequest",
            &fields(&[("userId", ALICE)]),
            "UserPortalPasscodeRulesGetResponse",
            "<disallowRepeatedDigits>true</disallowRepeatedDigits>",
        ),
    ];
    for (request, children, response, fragment) in cases {
        let reply = client.one(request, children).await;
        assert_eq!(reply_types(&reply), [response], "{request}: {reply}");
        assert!(
            reply.contains(fragment),
            "{request}: {fragment} not in {reply}"
        );
    }
    let reply = client
        .one(
            "ServiceProviderSIPAuthenticationPasswordRulesGetRequest",
            &fields(&[("serviceProviderId", "nope")]),
        )
        .await;
    assert_eq!(
        summaries(&reply),
        ["[Error 4006] Service provider not found: nope"]
    );
}

// ---- releases ----

#[tokio::test]
async fn release_21_lacks_generation_22v5_and_user_passcode_rules() {
    let sim = start(SimConfig::with_users(3).with_ocip(OcipFrontConfig {
        release: Release::R21,
        fixed_nonce: true,
        ..OcipFrontConfig::default()
    }))
    .await;
    let mut client = Client::connect(&sim).await;
    let reply = client
        .one(
            "LoginRequest22V5",
            &fields(&[("userId", "admin"), ("password", "admin")]),
        )
        .await;
    assert!(summaries(&reply)[0].contains("LoginRequest22V5"), "{reply}");
    client.login().await;
    let reply = client
        .call(&[
            command("PasswordGenerateRequest", &format!("<userPassword><serviceProviderId>{SP}</serviceProviderId><groupId>{GROUP}</groupId><generatePasscode>true</generatePasscode></userPassword>")),
            command("UserPortalPasscodeRulesGetRequest", &fields(&[("userId", ALICE)])),
            command("GroupPortalPasscodeRulesGetRequest19", &fields(&[("serviceProviderId", SP), ("groupId", GROUP)])),
        ])
        .await;
    assert_eq!(
        reply_types(&reply),
        [ERROR, ERROR, "GroupPortalPasscodeRulesGetResponse19"]
    );
    let refusals = summaries(&reply);
    assert!(refusals[0].contains("PasswordGenerateRequest"));
    assert!(refusals[1].contains("UserPortalPasscodeRulesGetRequest"));
    assert_eq!("24".parse::<Release>(), Ok(Release::R24));
    assert!("22".parse::<Release>().is_err());
}

// ---- faults ----

#[tokio::test]
async fn shared_fault_flags_fail_drop_and_limit_oci_p_commands() {
    let sim = start(config()).await;
    let mut client = Client::connect(&sim).await;
    client.login().await;
    sim.set_faults(Faults {
        fail_rate: 1.0,
        ..Faults::default()
    });
    let reply = client.call(&[modify_web(ALICE, "Fault-Pass-1")]).await;
    assert_eq!(
        summaries(&reply),
        ["[Error 5000] Injected failure: internal server error"]
    );
    assert_eq!(
        sim.credentials(ALICE).unwrap().changes.web,
        0,
        "failed before applying"
    );

    sim.set_faults(Faults {
        fail_after_rate: 1.0,
        ..Faults::default()
    });
    let reply = client.call(&[modify_web(ALICE, "Fault-Pass-2")]).await;
    assert_eq!(reply_types(&reply), [ERROR]);
    assert_eq!(
        sim.credentials(ALICE).unwrap().web_password.as_deref(),
        Some("Fault-Pass-2")
    );

    sim.set_faults(Faults {
        rate_limit: Some(1.0),
        ..Faults::default()
    });
    let reply = client
        .call(&[
            modify_web(ALICE, "Fault-Pass-3"),
            modify_web(ALICE, "Fault-Pass-4"),
        ])
        .await;
    assert_eq!(reply_types(&reply), [SUCCESS, ERROR]);
    assert!(
        summaries(&reply)[0].starts_with("[Error 4290] Server busy"),
        "{reply}"
    );

    sim.set_faults(Faults {
        truncated_json_rate: 1.0,
        ..Faults::default()
    });
    client
        .send_raw(document(&[modify_web(ALICE, "Fault-Pass-5")]).as_bytes())
        .await;
    assert!(
        client.read_reply().await.is_none(),
        "the reply is cut and the connection closed"
    );
    assert_eq!(
        sim.credentials(ALICE).unwrap().web_password.as_deref(),
        Some("Fault-Pass-5")
    );

    sim.set_faults(Faults {
        drop_rate: 1.0,
        ..Faults::default()
    });
    let mut client = Client::connect(&sim).await;
    client.login().await;
    client
        .send_raw(document(&[modify_web(ALICE, "Fault-Pass-6")]).as_bytes())
        .await;
    assert!(client.is_closed().await, "dropped without a reply");

    sim.set_faults(Faults {
        echo_secret_rate: 1.0,
        ..Faults::default()
    });
    let mut client = Client::connect(&sim).await;
    client.login().await;
    let reply = client.call(&[modify_web(ALICE, "Fault-Pass-7")]).await;
    assert!(summaries(&reply)[0].contains("Fault-Pass-7"));
    sim.set_faults(Faults::default());
    let stats = sim.stats();
    assert_eq!(
        stats.count_with_status("OCIP", "PasswordModifyRequest", 0),
        1
    );
    assert_eq!(
        stats.count_with_status("OCIP", "PasswordModifyRequest", 429),
        1
    );
}

#[tokio::test]
async fn a_session_expires_after_the_token_lifetime() {
    let sim = start(SimConfig {
        token_ttl: std::time::Duration::ZERO,
        ..config()
    })
    .await;
    let mut client = Client::connect(&sim).await;
    client.login().await;
    let reply = client
        .call(&[
            modify_web(ALICE, "Late-Pass-1"),
            modify_web(ALICE, "Late-Pass-2"),
        ])
        .await;
    let refusals = summaries(&reply);
    assert_eq!(refusals[0], "[Error 4912] Session expired: log in again");
    assert!(refusals[1].contains("Not logged in"));
    assert_eq!(sim.credentials(ALICE).unwrap().changes.web, 0);
}

#[tokio::test]
async fn revoking_every_token_ends_oci_p_logins_too() {
    let sim = start(config()).await;
    let mut client = Client::connect(&sim).await;
    client.login().await;
    assert_eq!(
        reply_types(&client.call(&[modify_web(ALICE, "Before-Pass-1")]).await),
        [SUCCESS]
    );
    sim.revoke_all_tokens();
    let reply = client.call(&[modify_web(ALICE, "After-Pass-2")]).await;
    assert_eq!(
        summaries(&reply),
        ["[Error 4912] Session expired: log in again"]
    );
    client.login().await;
    assert_eq!(
        reply_types(&client.call(&[modify_web(ALICE, "After-Pass-3")]).await),
        [SUCCESS]
    );
    assert_eq!(sim.credentials(ALICE).unwrap().changes.web, 2);
}

#[tokio::test]
async fn oci_p_only_faults() {
    let sim = start(config()).await;
    let mut client = Client::connect(&sim).await;
    client.login().await;

    sim.set_ocip_faults(OcipFaults {
        fail_nth: Some(("PasswordModifyRequest".to_owned(), 2)),
        error_code: true,
        ..OcipFaults::default()
    });
    let reply = client
        .call(&[
            modify_web(ALICE, "Nth-Pass-1"),
            modify_web(ALICE, "Nth-Pass-2"),
            modify_web(ALICE, "Nth-Pass-3"),
        ])
        .await;
    assert_eq!(reply_types(&reply), [SUCCESS, ERROR, SUCCESS]);
    assert!(
        reply.contains("<errorCode>5000</errorCode><summary>[Error 5000]"),
        "{reply}"
    );

    sim.set_ocip_faults(OcipFaults {
        dribble: Some(3),
        ..OcipFaults::default()
    });
    let reply = client
        .one(
            "UserAuthenticationGetRequest",
            &fields(&[("userId", ALICE)]),
        )
        .await;
    assert_eq!(reply_types(&reply), ["UserAuthenticationGetResponse"]);

    sim.set_ocip_faults(OcipFaults {
        refuse_system_reads: true,
        ..OcipFaults::default()
    });
    let reply = client
        .call(&[
            command("SystemPasswordRulesGetRequest16", ""),
            command(
                "GroupPasswordRulesGetRequest16",
                &fields(&[("serviceProviderId", SP), ("groupId", GROUP)]),
            ),
        ])
        .await;
    assert_eq!(
        reply_types(&reply),
        [ERROR, "GroupPasswordRulesGetResponse16"]
    );

    sim.set_ocip_faults(OcipFaults {
        drop_after_apply: Some("UserPortalPasscodeModifyRequest".to_owned()),
        ..OcipFaults::default()
    });
    client
        .send_raw(document(&[modify_passcode(ALICE, "97531")]).as_bytes())
        .await;
    assert!(client.read_reply().await.is_none());
    assert_eq!(
        sim.credentials(ALICE).unwrap().portal_passcode.as_deref(),
        Some("97531"),
        "applied, then dropped"
    );

    sim.set_ocip_faults(OcipFaults {
        cut_replies_after: Some(10),
        ..OcipFaults::default()
    });
    let mut client = Client::connect(&sim).await;
    client
        .send_raw(
            document(&[command("AuthenticationRequest", "<userId>admin</userId>")]).as_bytes(),
        )
        .await;
    assert!(client.read_reply().await.is_none());

    sim.set_ocip_faults(OcipFaults {
        refuse_login: true,
        ..OcipFaults::default()
    });
    let mut client = Client::connect(&sim).await;
    assert_eq!(
        summaries(&client.login_with("admin").await),
        ["[Error 4962] Invalid password"]
    );

    sim.set_ocip_faults(OcipFaults {
        close_on_accept: true,
        ..OcipFaults::default()
    });
    let mut client = Client::connect(&sim).await;
    assert!(client.is_closed().await);

    sim.set_ocip_faults(OcipFaults::default());
    let mut client = Client::connect(&sim).await;
    client.login().await;
}

// ---- one truth ----

#[tokio::test]
async fn the_truth_endpoints_show_what_oci_p_set_and_count_it() {
    let sim = start(config()).await;
    let mut client = Client::connect(&sim).await;
    client.login().await;
    client
        .call(&[
            modify_sip(BOB, "Truth-Sip-1"),
            modify_passcode(BOB, "80642"),
            modify_web(BOB, "Truth-Web-2"),
            modify_web("ghost@x", "Truth-Web-3"),
        ])
        .await;
    let url = format!("{}/_sim/credentials?userId={BOB}", sim.root_url());
    // reqwest is built without a default TLS provider and insists on one even for http.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let truth: serde_json::Value = reqwest::get(&url).await.unwrap().json().await.unwrap();
    assert_eq!(truth["sipPassword"], "Truth-Sip-1");
    assert_eq!(truth["portalPasscode"], "80642");
    assert_eq!(truth["webPassword"], "Truth-Web-2");
    assert_eq!(
        truth["changes"],
        serde_json::json!({"sip": 1, "vm": 1, "web": 1})
    );
    let stats: serde_json::Value = reqwest::get(format!("{}/_sim/stats", sim.root_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let rows = stats["requests"].as_array().unwrap();
    let row = |route: &str, status: u64| {
        rows.iter()
            .find(|row| row["method"] == "OCIP" && row["route"] == route && row["status"] == status)
            .map(|row| row["count"].as_u64().unwrap())
    };
    assert_eq!(row("PasswordModifyRequest", 200), Some(1));
    assert_eq!(row("PasswordModifyRequest", 400), Some(1));
    assert_eq!(row("LoginRequest14sp4", 200), Some(1));
    assert_eq!(row("AuthenticationRequest", 200), Some(1));
}

// ---- the binary ----

#[test]
fn the_binary_prints_the_oci_p_line_and_writes_the_certificate() {
    use std::io::{BufRead, BufReader};
    let directory = tempfile::tempdir().unwrap();
    let cert = directory.path().join("ca.pem");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_odin-sim"))
        .args([
            "--ocip-listen",
            "127.0.0.1:0",
            "--ocip-tls",
            "--ocip-cert-out",
        ])
        .arg(&cert)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let second = lines.next().unwrap().unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        first.starts_with("odin-sim listening on http://127.0.0.1:"),
        "{first}"
    );
    let port = second
        .strip_prefix("odin-sim ocip listening on ocips://127.0.0.1:")
        .unwrap_or_else(|| panic!("{second}"));
    assert!(port.parse::<u16>().unwrap() > 0);
    let pem = std::fs::read_to_string(&cert).unwrap();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
}

#[test]
fn a_simulator_on_its_own_thread_serves_oci_p_too() {
    use std::io::{Read, Write};
    let sim = odin_sim::SimHandle::start_in_thread(config()).unwrap();
    let mut stream = std::net::TcpStream::connect(sim.ocip_addr().unwrap()).unwrap();
    let request = document(&[command("AuthenticationRequest", "<userId>admin</userId>")]);
    stream.write_all(request.as_bytes()).unwrap();
    let mut reply = Vec::new();
    let mut chunk = [0u8; 1024];
    while !reply.ends_with(b"</BroadsoftDocument>\n") {
        let read = stream.read(&mut chunk).unwrap();
        assert!(read > 0, "closed before a whole reply");
        reply.extend_from_slice(&chunk[..read]);
    }
    let reply = String::from_utf8(reply).unwrap();
    assert_eq!(reply_types(&reply), ["AuthenticationResponse"]);
    assert_eq!(
        sim.ocip_url(),
        Some(format!("ocip://{}", sim.ocip_addr().unwrap()))
    );
}

#[test]
fn trace_logs_of_the_binary_hold_no_secret() {
    use std::io::{BufRead, BufReader, Read, Write};
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_odin-sim"))
        .args([
            "--users",
            "2",
            "--login",
            "admin:Login-Secret-9",
            "--ocip-listen",
            "127.0.0.1:0",
        ])
        .env("RUST_LOG", "trace")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let _http = lines.next().unwrap().unwrap();
    let ocip = lines.next().unwrap().unwrap();
    let addr = ocip
        .strip_prefix("odin-sim ocip listening on ocip://")
        .unwrap();
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    let mut exchange = |text: String| {
        stream.write_all(text.as_bytes()).unwrap();
        let mut reply = Vec::new();
        let mut chunk = [0u8; 4096];
        while !reply.ends_with(b"</BroadsoftDocument>\n") {
            let read = stream.read(&mut chunk).unwrap();
            assert!(read > 0);
            reply.extend_from_slice(&chunk[..read]);
        }
        String::from_utf8(reply).unwrap()
    };
    let reply = exchange(document(&[command(
        "AuthenticationRequest",
        "<userId>admin</userId>",
    )]));
    let nonce = between(&reply, "<nonce>", "</nonce>").unwrap().to_owned();
    let signature = signed(&nonce, "Login-Secret-9");
    let reply = exchange(document(&[command(
        "LoginRequest14sp4",
        &fields(&[("userId", "admin"), ("signedPassword", &signature)]),
    )]));
    assert_eq!(reply_types(&reply), ["LoginResponse14sp4"]);
    let reply = exchange(document(&[
        modify_sip(ALICE, "Trace-Sip-Secret-1"),
        modify_passcode(ALICE, "80531"),
        modify_web(ALICE, "Trace-Web-Secret-2"),
        command(
            "UserPortalPasscodeGetInfoRequest",
            &fields(&[("userId", ALICE)]),
        ),
    ]));
    assert_eq!(reply_types(&reply)[..3], [SUCCESS, SUCCESS, SUCCESS]);
    drop(stream);
    let _ = child.kill();
    let output = child.wait_with_output().unwrap();
    let logs = String::from_utf8_lossy(&output.stderr);
    // The scan means something only if commands are logged at all.
    assert!(logs.contains("UserAuthenticationModifyRequest"), "{logs}");
    for secret in [
        "Login-Secret-9",
        signature.as_str(),
        "Trace-Sip-Secret-1",
        "80531",
        "Trace-Web-Secret-2",
    ] {
        assert!(!logs.contains(secret), "a secret in the logs");
    }
}

// ---- devices and registrations ----

fn group_device_command(name: &str, device: &str) -> String {
    command(
        name,
        &fields(&[
            ("serviceProviderId", SP),
            ("groupId", GROUP),
            ("deviceName", device),
        ]),
    )
}

#[tokio::test]
async fn device_rebuild_reset_and_registrations_work_on_the_rest_fronts_model() {
    let mut sim_config = config();
    sim_config.devices.reboot = std::time::Duration::ZERO;
    let sim = start(sim_config).await;
    let phone = |sim: &odin_sim::SimHandle| {
        sim.devices()
            .into_iter()
            .find(|device| device.device_name == "phone-0001")
            .expect("alice's phone")
    };
    let mut client = Client::connect(&sim).await;
    client.login().await;
    let reply = client.call(&[modify_sip(ALICE, "Fine-Pass-123")]).await;
    assert_eq!(reply_types(&reply), [SUCCESS], "{reply}");
    assert!(
        !phone(&sim).config_current,
        "a SIP change makes the file stale"
    );

    let reply = client
        .call(&[
            group_device_command("GroupCPEConfigRebuildDeviceConfigFileRequest", "phone-0001"),
            group_device_command("GroupCPEConfigResetDeviceRequest", "phone-0001"),
            group_device_command("GroupAccessDeviceResetRequest", "phone-0001"),
            command(
                "UserAccessDeviceResetRequest",
                &format!(
                    "<userId>{ALICE}</userId><accessDevice><deviceLevel>Group</deviceLevel><deviceName>phone-0001</deviceName></accessDevice>"
                ),
            ),
        ])
        .await;
    assert_eq!(reply_types(&reply), [SUCCESS; 4], "{reply}");
    let truth = phone(&sim);
    assert_eq!((truth.rebuilds, truth.resets), (1, 3));
    assert!(truth.config_current && truth.registered);

    let reply = client
        .one(
            "UserGetRegistrationListRequest",
            &fields(&[("userId", ALICE)]),
        )
        .await;
    assert!(
        reply.contains("<registrationTable><colHeading>Device Level</colHeading><colHeading>Device Name</colHeading><colHeading>Order</colHeading><colHeading>URI</colHeading><colHeading>Expiration</colHeading><colHeading>Line/Port</colHeading><colHeading>Endpoint Type</colHeading><colHeading>User Agent</colHeading>"),
        "{reply}"
    );
    assert!(
        reply.contains("<row><col>Group</col><col>phone-0001</col><col>1</col>"),
        "{reply}"
    );

    // Refusals in the REST front's words; nothing changes.
    let reply = client
        .call(&[
            group_device_command("GroupAccessDeviceResetRequest", "nope"),
            command(
                "UserAccessDeviceResetRequest",
                &format!(
                    "<userId>{ALICE}</userId><accessDevice><deviceLevel>Group</deviceLevel><deviceName>phone-0002</deviceName></accessDevice>"
                ),
            ),
            command(
                "UserGetRegistrationListRequest",
                &fields(&[("userId", "ghost@x")]),
            ),
        ])
        .await;
    assert_eq!(
        summaries(&reply),
        [
            format!("[Error 4010] Device not found: nope in {SP}/{GROUP}"),
            format!("[Error 4010] Device not found: phone-0002 in the devices of {ALICE}"),
            "[Error 4008] User not found: ghost@x".to_owned(),
        ]
    );
    assert_eq!(phone(&sim).resets, 3);
}

/// The reads that find a user's devices: `UserGetRequest22` with the primary device,
/// `UserSharedCallAppearanceGetRequest21sp1`'s table, `GroupAccessDeviceGetRequest18sp1`; and
/// `UserGetRequest22` unknown on release 21.
#[tokio::test]
async fn a_users_devices_are_found_with_the_schemas_reads() {
    let sim = start(config()).await;
    let mut client = Client::connect(&sim).await;
    client.login().await;
    let reply = client
        .call(&[
            command("UserGetRequest22", &fields(&[("userId", ALICE)])),
            command(
                "UserSharedCallAppearanceGetRequest21sp1",
                &fields(&[("userId", ALICE)]),
            ),
            group_device_command("GroupAccessDeviceGetRequest18sp1", "phone-0001"),
            command("UserGetRequest22", &fields(&[("userId", "ghost@x")])),
        ])
        .await;
    assert_eq!(
        reply_types(&reply),
        [
            "UserGetResponse22",
            "UserSharedCallAppearanceGetResponse21sp1",
            "GroupAccessDeviceGetResponse18sp1",
            ERROR
        ],
        "{reply}"
    );
    assert!(
        reply.contains(&format!("<serviceProviderId>{SP}</serviceProviderId><groupId>{GROUP}</groupId><userId>{ALICE}</userId>")),
        "{reply}"
    );
    assert!(
        reply.contains("<accessDeviceEndpoint><accessDevice><deviceLevel>Group</deviceLevel><deviceName>phone-0001</deviceName></accessDevice>"),
        "{reply}"
    );
    assert!(
        reply.contains("<endpointTable><colHeading>Device Level</colHeading><colHeading>Device Name</colHeading><colHeading>Device Type</colHeading>"),
        "{reply}"
    );
    assert!(
        reply.contains("<deviceType>Generic SIP Phone</deviceType>")
            && reply.contains("<useCustomUserNamePassword>false</useCustomUserNamePassword>"),
        "{reply}"
    );
    assert_eq!(summaries(&reply), ["[Error 4008] User not found: ghost@x"]);

    let old = start(SimConfig::with_users(3).with_ocip(OcipFrontConfig {
        release: Release::R21,
        ..OcipFrontConfig::default()
    }))
    .await;
    let mut client = Client::connect(&old).await;
    client.login().await;
    let reply = client
        .one("UserGetRequest22", &fields(&[("userId", ALICE)]))
        .await;
    assert!(summaries(&reply)[0].contains("[Error 4100]"), "{reply}");
}
