//! The client against a scripted loopback server: hostile answers, retries, 401 recovery,
//! redirects, body caps and query encoding, counted by the requests the server saw.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly where its precondition breaks"
)]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use odin_client::{
    ClientConfig, Error, ExposeSecret, GroupScope, OdinClient, SecretString, TlsProblem,
};
use support::{Recorded, Reply, Stub, jwt, token_reply};

const TOKEN: &str = "tok-A1-opaque";

/// Answers login with [`TOKEN`] and everything else with `answer`.
async fn stub(answer: impl Fn(&Recorded) -> Reply + Send + Sync + 'static) -> Stub {
    Stub::start(move |request| {
        if request.is("POST", "/api/v2/auth/token") {
            token_reply(TOKEN)
        } else {
            answer(request)
        }
    })
    .await
}

async fn login(stub: &Stub) -> OdinClient {
    OdinClient::login(stub.config()).await.expect("login")
}

fn scope() -> GroupScope<'static> {
    GroupScope {
        service_provider_id: "sp",
        group_id: "grp",
    }
}

#[tokio::test]
async fn login_sends_credentials_and_bearer_afterwards() {
    let stub =
        stub(|_| Reply::ok(r#"{"userId":"admin","loginType":"System","isSystemAdmin":true}"#))
            .await;
    let client = login(&stub).await;
    let session = client.session().await.unwrap();
    assert_eq!(session.user_id, "admin");
    assert_eq!(session.is_system_admin, Some(true));

    let requests = stub.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(
        requests[0].json(),
        serde_json::json!({"username": "admin", "password": "login-pw-9f3k"})
    );
    assert_eq!(requests[0].bearer(), None);
    assert!(requests[1].is("GET", "/api/v2/auth/session"));
    assert_eq!(requests[1].bearer(), Some(TOKEN));
    assert_eq!(client.base_url(), stub.base_url());
}

#[tokio::test]
async fn trailing_slash_in_base_url_is_not_doubled() {
    let stub = stub(|_| Reply::ok(r#"{"userId":"admin"}"#)).await;
    let config = support::config_for(&format!("{}/", stub.base_url()));
    let client = OdinClient::login(config).await.unwrap();
    client.session().await.unwrap();
    let paths: Vec<String> = stub
        .requests()
        .iter()
        .map(|r| r.path().to_owned())
        .collect();
    assert_eq!(paths, ["/api/v2/auth/token", "/api/v2/auth/session"]);
}

#[tokio::test]
async fn refused_login_is_unauthorized_and_not_retried() {
    let stub =
        Stub::start(|_| Reply::error(401, "[Error 4961] Invalid username or password")).await;
    let error = OdinClient::login(stub.config()).await.unwrap_err();
    assert!(matches!(error, Error::Unauthorized { .. }), "{error:?}");
    assert_eq!(error.status(), Some(401));
    assert!(error.to_string().contains("[Error 4961]"), "{error}");
    assert!(!error.to_string().contains("login-pw-9f3k"));
    assert_eq!(stub.requests().len(), 1);
}

#[tokio::test]
async fn login_is_retried_on_server_errors() {
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let stub = Stub::start(move |_| {
        if seen.fetch_add(1, Ordering::SeqCst) == 0 {
            Reply::error(502, "[Error 5000] Injected failure")
        } else {
            token_reply(TOKEN)
        }
    })
    .await;
    let client = OdinClient::login(stub.config()).await.unwrap();
    assert_eq!(stub.count("POST", "/api/v2/auth/token"), 2);
    assert_eq!(client.metrics().retries, 1);
}

#[tokio::test]
async fn unauthorized_mid_run_logs_in_again_and_repeats_once() {
    let logins = Arc::new(AtomicUsize::new(0));
    let counter = logins.clone();
    let stub = Stub::start(move |request| {
        if request.is("POST", "/api/v2/auth/token") {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            return token_reply(&format!("token-{n}"));
        }
        match request.bearer() {
            Some("token-0") => Reply::error(401, "[Error 4962] Token missing, expired or revoked"),
            Some(_) => Reply::ok(r#"{"userId":"u1","userName":"alice"}"#),
            None => Reply::error(401, "missing"),
        }
    })
    .await;
    let client = login(&stub).await;
    let authentication = client.user_authentication("u1").await.unwrap();
    assert_eq!(authentication.user_name, "alice");
    let sequence: Vec<(String, Option<String>)> = stub
        .requests()
        .iter()
        .map(|r| {
            (
                format!("{} {}", r.method, r.path()),
                r.bearer().map(str::to_owned),
            )
        })
        .collect();
    assert_eq!(
        sequence,
        [
            ("POST /api/v2/auth/token".to_owned(), None),
            (
                "GET /api/v2/users/authentication".to_owned(),
                Some("token-0".to_owned())
            ),
            ("POST /api/v2/auth/token".to_owned(), None),
            (
                "GET /api/v2/users/authentication".to_owned(),
                Some("token-1".to_owned())
            ),
        ]
    );
    let metrics = client.metrics();
    assert_eq!(metrics.relogins, 1);
    assert_eq!(metrics.retries, 0);
}

#[tokio::test]
async fn unauthorized_after_three_fresh_logins_is_final() {
    let stub = stub(|_| Reply::error(401, "[Error 4962] Token missing, expired or revoked")).await;
    let client = login(&stub).await;
    let error = client.user("u1").await.unwrap_err();
    assert!(matches!(error, Error::Unauthorized { .. }), "{error:?}");
    assert!(error.to_string().contains("[Error 4962]"));
    // login, call, then three times re-login and repeat: nothing more.
    assert_eq!(stub.requests().len(), 8);
    assert_eq!(client.metrics().relogins, 3);
}

/// A token that dies again during the backoff after a failure (tokens that live seconds) costs
/// one more login, not the call.
#[tokio::test]
async fn a_token_that_dies_again_while_a_call_waits_is_replaced_again() {
    let logins = Arc::new(AtomicUsize::new(0));
    let gets = Arc::new(AtomicUsize::new(0));
    let (login_counter, get_counter) = (logins.clone(), gets.clone());
    let stub = Stub::start(move |request| {
        if request.is("POST", "/api/v2/auth/token") {
            let n = login_counter.fetch_add(1, Ordering::SeqCst);
            return token_reply(&format!("token-{n}"));
        }
        // Expired, then a failure (backoff), expired again, then the answer.
        match get_counter.fetch_add(1, Ordering::SeqCst) {
            0 | 2 => Reply::error(401, "[Error 4962] Token missing, expired or revoked"),
            1 => Reply::error(500, "[Error 5000] Injected failure: internal server error"),
            _ => Reply::json(
                200,
                r#"{"userId": "u1", "firstName": "U", "lastName": "One"}"#,
            ),
        }
    })
    .await;
    let client = login(&stub).await;
    let user = client.user("u1").await.unwrap();
    assert_eq!(user.user_id, "u1");
    assert_eq!(logins.load(Ordering::SeqCst), 3);
    assert_eq!(client.metrics().relogins, 2);
}

#[tokio::test]
async fn concurrent_unauthorized_calls_share_one_login() {
    let logins = Arc::new(AtomicUsize::new(0));
    let counter = logins.clone();
    let stub = Stub::start(move |request| {
        if request.is("POST", "/api/v2/auth/token") {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            return token_reply(&format!("token-{n}"));
        }
        match request.bearer() {
            Some("token-0") => Reply::error(401, "[Error 4962] Token missing, expired or revoked"),
            _ => Reply::ok(r#"{"userId":"u","userServices":[{"serviceName":"Authentication"}]}"#),
        }
    })
    .await;
    let client = login(&stub).await;
    let mut tasks = Vec::new();
    for _ in 0..24 {
        let client = client.clone();
        tasks.push(tokio::spawn(
            async move { client.assigned_services("u").await },
        ));
    }
    for task in tasks {
        assert!(
            task.await
                .unwrap()
                .unwrap()
                .has_user_service("Authentication")
        );
    }
    assert_eq!(
        logins.load(Ordering::SeqCst),
        2,
        "one login, one shared re-login"
    );
    assert_eq!(client.metrics().relogins, 1);
}

#[tokio::test]
async fn token_is_refreshed_before_it_expires() {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    // Expires in 6 to 7 s: due for refresh (5 s margin) within about 2 s.
    let first = jwt("admin", now + 7);
    let second = jwt("admin", now + 43_200);
    let (first_for_stub, second_for_stub) = (first.clone(), second.clone());
    let stub = Stub::start(move |request| {
        if request.is("POST", "/api/v2/auth/token") {
            token_reply(&first_for_stub)
        } else if request.is("PUT", "/api/v2/auth/token") {
            assert_eq!(request.bearer(), Some(first_for_stub.as_str()));
            token_reply(&second_for_stub)
        } else {
            Reply::ok(r#"{"userId":"admin"}"#)
        }
    })
    .await;
    let mut config = stub.config();
    // The client paces its own polling.
    config.pacing.max_rate = Some(50.0);
    let client = OdinClient::login(config).await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while client.metrics().refreshes == 0 {
        assert!(std::time::Instant::now() < deadline, "no refresh happened");
        client.session().await.unwrap();
    }
    client.session().await.unwrap();
    let requests = stub.requests();
    assert_eq!(stub.count("PUT", "/api/v2/auth/token"), 1);
    assert_eq!(stub.count("POST", "/api/v2/auth/token"), 1);
    assert_eq!(requests.last().unwrap().bearer(), Some(second.as_str()));
}

#[tokio::test]
async fn reads_are_retried_on_server_errors() {
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let stub = stub(move |_| match seen.fetch_add(1, Ordering::SeqCst) {
        0 => Reply::error(500, "[Error 5000] Injected failure"),
        1 => Reply::error(504, "[Error 5000] Injected failure"),
        _ => Reply::ok(r#"[{"userId":"u1"},{"userId":"u2","extension":12}]"#),
    })
    .await;
    let client = login(&stub).await;
    let users = client.group_users("sp", "grp").await.unwrap();
    assert_eq!(users.len(), 2);
    assert_eq!(users[1].extension.as_deref(), Some("12"));
    assert_eq!(stub.count("GET", "/api/v2/users"), 3);
    assert_eq!(client.metrics().retries, 2);
    assert_eq!(client.metrics().responses_5xx, 2);
}

#[tokio::test]
async fn reads_give_up_after_max_attempts() {
    let stub = stub(|_| Reply::error(500, "[Error 5000] Injected failure")).await;
    let client = login(&stub).await;
    let error = client.user("u1").await.unwrap_err();
    assert_eq!(error.status(), Some(500));
    assert!(error.is_retryable() && error.may_have_applied());
    assert_eq!(stub.count("GET", "/api/v2/users"), 3, "max_attempts = 3");
}

#[tokio::test]
async fn setters_are_not_retried_when_they_may_have_applied() {
    let stub = stub(|_| Reply::error(500, "[Error 5000] Injected failure")).await;
    let client = login(&stub).await;
    let error = client
        .set_web_password("u1", &SecretString::from("NewWeb-Pass-1"))
        .await
        .unwrap_err();
    assert!(error.may_have_applied(), "{error:?}");
    assert_eq!(stub.count("PUT", "/api/v2/users/passwords"), 1);
}

#[tokio::test]
async fn setters_are_retried_on_503_and_429() {
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let stub = stub(move |_| match seen.fetch_add(1, Ordering::SeqCst) {
        0 => Reply::error(503, "[Error 5000] Injected failure"),
        1 => Reply::error(429, "[Error 4290] Rate limit exceeded").header("Retry-After", "0"),
        _ => Reply::ok("[]"),
    })
    .await;
    let client = login(&stub).await;
    client
        .set_portal_passcode("u1", &SecretString::from("48213957"))
        .await
        .unwrap();
    let puts: Vec<Recorded> = stub
        .requests()
        .into_iter()
        .filter(|r| r.is("PUT", "/api/v2/users/portal-passcode"))
        .collect();
    assert_eq!(puts.len(), 3);
    for put in &puts {
        assert_eq!(
            put.json(),
            serde_json::json!({"userId": "u1", "newPasscode": "48213957"})
        );
    }
    assert_eq!(client.metrics().rate_limited, 1);
}

#[tokio::test]
async fn retry_after_longer_than_the_budget_is_not_cut_short() {
    let stub =
        stub(|_| Reply::error(429, "[Error 4290] Rate limit exceeded").header("Retry-After", "30"))
            .await;
    let mut config = stub.config();
    config.retry.max_elapsed = Duration::from_secs(5);
    let client = OdinClient::login(config).await.unwrap();
    let error = client.user("u1").await.unwrap_err();
    match error {
        Error::RateLimited { retry_after } => {
            assert_eq!(retry_after, Some(Duration::from_secs(30)))
        }
        other => panic!("expected rate limited, got {other:?}"),
    }
    // The server asked for 30 s; the client did not ask again sooner.
    assert_eq!(stub.count("GET", "/api/v2/users"), 1);
    assert_eq!(client.metrics().rate_limited, 1);
}

#[tokio::test]
async fn retry_after_as_a_past_http_date_is_retried() {
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let stub = stub(move |_| {
        if seen.fetch_add(1, Ordering::SeqCst) < 2 {
            Reply::error(429, "[Error 4290] Rate limit exceeded")
                .header("Retry-After", "Wed, 21 Oct 2015 07:28:00 GMT")
        } else {
            Reply::ok(r#"{"userId":"u1"}"#)
        }
    })
    .await;
    let client = login(&stub).await;
    client.user("u1").await.unwrap();
    assert_eq!(stub.count("GET", "/api/v2/users"), 3);
    assert_eq!(client.metrics().rate_limited, 2);
}

#[tokio::test]
async fn odd_user_ids_are_encoded_in_the_query() {
    let odd = "a&b?c#d%e+f g/h=i@example.com";
    let stub = stub(move |request| {
        let user = request
            .query_pairs()
            .into_iter()
            .find(|(key, _)| key == "userId")
            .map(|(_, value)| value)
            .unwrap_or_default();
        Reply::ok(serde_json::json!({"userId": user, "userName": "n"}).to_string())
    })
    .await;
    let client = login(&stub).await;
    let authentication = client.user_authentication(odd).await.unwrap();
    assert_eq!(authentication.user_id, odd);
    let request = stub.requests().pop().unwrap();
    let query = request.query().unwrap();
    assert!(!query.contains('#') && !query.contains(' '), "{query}");
    assert_eq!(query.matches('&').count(), 0, "{query}");
    assert_eq!(
        request.query_pairs(),
        [("userId".to_owned(), odd.to_owned())]
    );
    assert_eq!(request.path(), "/api/v2/users/authentication");
}

#[tokio::test]
async fn generator_parameters_and_both_answer_shapes() {
    let stub = stub(|request| {
        let limit = request
            .query_pairs()
            .into_iter()
            .find(|(key, _)| key == "limit")
            .map(|(_, value)| value);
        match (request.path(), limit.as_deref()) {
            ("/api/v2/password/generate", Some("1")) => Reply::ok(r#"{"password":"Single-1"}"#),
            ("/api/v2/password/generate", _) => {
                Reply::ok(r#"{"passwords":["A-1","","A-1","bad\u0007ctl","x","y"],"extra":true}"#)
            }
            ("/api/v2/passcode/generate", _) => Reply::ok(r#"{"passcode":"12345678"}"#),
            _ => Reply::error(404, "no"),
        }
    })
    .await;
    let client = login(&stub).await;
    let single = client.generate_passwords(Some(scope()), 1).await.unwrap();
    assert_eq!(single.len(), 1);
    assert_eq!(single[0].expose_secret(), "Single-1");
    let many = client.generate_passwords(None, 5).await.unwrap();
    let values: Vec<&str> = many.iter().map(ExposeSecret::expose_secret).collect();
    assert_eq!(
        values,
        ["A-1", "", "A-1", "bad\u{7}ctl", "x"],
        "as sent, capped at limit"
    );
    let passcodes = client.generate_passcodes(scope(), 3).await.unwrap();
    assert_eq!(passcodes.len(), 1, "a short answer is returned short");
    assert!(
        client
            .generate_passcodes(scope(), 0)
            .await
            .unwrap()
            .is_empty()
    );

    let requests = stub.requests();
    let scoped = &requests[1];
    assert_eq!(
        scoped.query_pairs(),
        [
            ("serviceProviderId".to_owned(), "sp".to_owned()),
            ("groupId".to_owned(), "grp".to_owned()),
            ("limit".to_owned(), "1".to_owned())
        ]
    );
    assert_eq!(
        requests[2].query_pairs(),
        [("limit".to_owned(), "5".to_owned())]
    );
    assert_eq!(requests.len(), 4, "limit 0 sends nothing");
}

#[tokio::test]
async fn generator_answer_without_values_is_a_decode_error() {
    let stub = stub(|_| Reply::ok(r#"{"passcode":"1"}"#)).await;
    let client = login(&stub).await;
    let error = client.generate_passwords(None, 3).await.unwrap_err();
    assert!(matches!(error, Error::Decode { .. }), "{error:?}");
    assert!(error.to_string().contains("`passwords`"), "{error}");
}

#[tokio::test]
async fn non_json_error_body_keeps_status_and_start_of_text() {
    let html = format!(
        "<html><head><title>502 Bad Gateway</title></head>\r\n<body>\x1b[31m{}</body></html>",
        "proxy says no ".repeat(100)
    );
    let stub = stub(move |_| Reply::text(502, "text/html", html.clone())).await;
    let client = login(&stub).await;
    let error = client.user("u1").await.unwrap_err();
    match &error {
        Error::Api { status, details } => {
            assert_eq!(*status, 502);
            assert!(
                details.starts_with("<html><head><title>502 Bad Gateway"),
                "{details}"
            );
            assert!(details.len() <= 300, "{}", details.len());
            assert!(!details.chars().any(char::is_control), "{details:?}");
        }
        other => panic!("expected an api error, got {other:?}"),
    }
}

#[tokio::test]
async fn api_errors_keep_the_server_details() {
    let stub = stub(|_| Reply::error(400, "[Error 4008] User not found: ghost@example.com")).await;
    let client = login(&stub).await;
    let error = client.user("ghost@example.com").await.unwrap_err();
    assert_eq!(error.status(), Some(400));
    assert_eq!(
        error.details(),
        Some("[Error 4008] User not found: ghost@example.com")
    );
    assert!(!error.is_retryable());
    assert_eq!(stub.count("GET", "/api/v2/users"), 1);
}

#[tokio::test]
async fn success_status_with_an_error_body_is_an_api_error() {
    let stub = stub(|_| {
        Reply::ok(r#"{"status":400,"error":"Bad Request","details":"[Error 4410] Service not assigned: Authentication"}"#)
    })
    .await;
    let client = login(&stub).await;
    let error = client.user_authentication("u1").await.unwrap_err();
    assert_eq!(error.status(), Some(400));
    assert!(error.to_string().contains("[Error 4410]"), "{error}");
}

#[tokio::test]
async fn html_or_truncated_json_on_success_is_a_decode_error() {
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let stub = stub(move |_| {
        if seen.fetch_add(1, Ordering::SeqCst) == 0 {
            Reply::text(200, "text/html", "<html>login portal</html>")
        } else {
            Reply::ok(r#"{"userId":"u1","userName":"al"#)
        }
    })
    .await;
    let client = login(&stub).await;
    let html = client.user_authentication("u1").await.unwrap_err();
    assert!(matches!(html, Error::Decode { .. }), "{html:?}");
    assert!(html.to_string().contains("not valid JSON"), "{html}");
    let truncated = client.user_authentication("u1").await.unwrap_err();
    assert!(truncated.to_string().contains("truncated"), "{truncated}");
    assert!(!truncated.to_string().contains("\"al"), "{truncated}");
}

#[tokio::test]
async fn an_answer_about_another_user_is_refused() {
    let stub = stub(|request| {
        if request.method == "PUT" {
            Reply::ok(r#"{"userId":"mallory@example.com","userName":"m","newPassword":""}"#)
        } else {
            Reply::ok(r#"{"userId":"mallory@example.com","userName":"m"}"#)
        }
    })
    .await;
    let client = login(&stub).await;
    let read = client
        .user_authentication("alice@example.com")
        .await
        .unwrap_err();
    assert!(matches!(read, Error::Decode { .. }), "{read:?}");
    assert!(read.to_string().contains("mallory@example.com"), "{read}");
    let set = client
        .set_sip_password("alice@example.com", &SecretString::from("Sip-Pass-1234"))
        .await
        .unwrap_err();
    assert!(matches!(set, Error::Decode { .. }), "{set:?}");
    assert!(set.may_have_applied());
    assert!(!set.to_string().contains("Sip-Pass-1234"));
    // Case differences are not a different user.
    let stub = Stub::start(|request| {
        if request.method == "POST" {
            token_reply(TOKEN)
        } else {
            Reply::ok(r#"{"userId":"Alice@Example.com","userName":"a"}"#)
        }
    })
    .await;
    let client = login(&stub).await;
    client
        .user_authentication("alice@example.com")
        .await
        .unwrap();
}

#[tokio::test]
async fn setter_bodies_and_answers() {
    let stub = stub(|request| match request.path() {
        "/api/v2/users/authentication" => {
            Reply::ok(r#"{"userId":"u1","userName":"u1-auth","newPassword":""}"#)
        }
        "/api/v2/users/portal-passcode" => Reply::ok("[]"),
        "/api/v2/users/passwords" => Reply::text(204, "application/json", ""),
        _ => Reply::error(404, "no"),
    })
    .await;
    let client = login(&stub).await;
    client
        .set_sip_password("u1", &SecretString::from("SipSecret-77"))
        .await
        .unwrap();
    client
        .set_portal_passcode("u1", &SecretString::from("90817263"))
        .await
        .unwrap();
    client
        .set_web_password("u1", &SecretString::from("WebSecret-88"))
        .await
        .unwrap();
    let bodies: Vec<serde_json::Value> = stub
        .requests()
        .iter()
        .filter(|r| r.method == "PUT")
        .map(Recorded::json)
        .collect();
    assert_eq!(
        bodies,
        [
            serde_json::json!({"userId": "u1", "newPassword": "SipSecret-77"}),
            serde_json::json!({"userId": "u1", "newPasscode": "90817263"}),
            serde_json::json!({"userId": "u1", "newPassword": "WebSecret-88"}),
        ]
    );
    for put in stub.requests().iter().filter(|r| r.method == "PUT") {
        assert_eq!(put.header("content-type"), Some("application/json"));
        assert_eq!(put.bearer(), Some(TOKEN));
    }
}

#[tokio::test]
async fn bodies_over_the_cap_are_refused() {
    let big = format!(
        r#"[{}{{"userId":"u"}}]"#,
        r#"{"userId":"u"},"#.repeat(20_000)
    );
    let stub = stub(move |request| {
        if request.query_pairs().iter().any(|(key, _)| key == "groupId") {
            Reply::ok(big.clone())
        } else {
            // Chunked, with no length announced: the cap must hold while reading.
            let mut raw = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
            for _ in 0..100 {
                raw.extend_from_slice(format!("400\r\n{}\r\n", " ".repeat(0x400)).as_bytes());
            }
            raw.extend_from_slice(b"0\r\n\r\n");
            Reply::raw(raw)
        }
    })
    .await;
    let mut config = stub.config();
    config.max_body_bytes = 64 * 1024;
    let client = OdinClient::login(config).await.unwrap();
    let error = client.group_users("sp", "grp").await.unwrap_err();
    assert!(matches!(error, Error::Decode { .. }), "{error:?}");
    assert!(error.to_string().contains("65536 bytes"), "{error}");
    let error = client.user("u1").await.unwrap_err();
    assert!(error.to_string().contains("65536 bytes"), "{error}");
}

#[tokio::test]
async fn group_listings_are_decoded_as_they_arrive() {
    let stub = stub(|request| {
        let group = request
            .query_pairs()
            .iter()
            .find(|(key, _)| key == "groupId")
            .map(|(_, value)| value.clone())
            .unwrap_or_default();
        match group.as_str() {
            // Chunked, with chunk boundaries inside strings and escapes.
            "chunked" => {
                let body = r#"[{"userId":"a\"1","firstName":"x,]}"},{"extension":7,"userId":"b2"}]"#;
                let mut raw = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
                for piece in body.as_bytes().chunks(5) {
                    raw.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
                    raw.extend_from_slice(piece);
                    raw.extend_from_slice(b"\r\n");
                }
                raw.extend_from_slice(b"0\r\n\r\n");
                Reply::raw(raw)
            }
            "one" => Reply::ok(r#"{"userId":"solo","groupId":"one"}"#),
            "error" => Reply::ok(
                r#"{"status":400,"error":"Bad Request","details":"[Error 4003] Group not found"}"#,
            ),
            "broken" => Reply::ok(r#"[{"userId":"a"},{"userId":}]"#),
            _ => Reply::ok("[]"),
        }
    })
    .await;
    let client = login(&stub).await;
    assert_eq!(
        client.group_user_ids("sp", "chunked").await.unwrap(),
        ["a\"1", "b2"]
    );
    assert_eq!(client.group_user_ids("sp", "one").await.unwrap(), ["solo"]);
    assert!(
        client
            .group_user_ids("sp", "empty")
            .await
            .unwrap()
            .is_empty()
    );
    let error = client.group_user_ids("sp", "error").await.unwrap_err();
    assert!(matches!(error, Error::Api { status: 400, .. }), "{error:?}");
    assert!(error.to_string().contains("[Error 4003]"), "{error}");
    let error = client.group_user_ids("sp", "broken").await.unwrap_err();
    assert!(matches!(error, Error::Decode { .. }), "{error:?}");
    assert!(error.to_string().contains("element 2"), "{error}");
}

#[tokio::test]
async fn a_body_that_breaks_off_is_a_transport_error() {
    let stub = stub(|_| {
        Reply::raw(&b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{\"userId\":"[..])
    })
    .await;
    let client = login(&stub).await;
    let error = client
        .set_sip_password("u1", &SecretString::from("Sip-Pass-x1"))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Transport { .. }), "{error:?}");
    assert!(error.may_have_applied());
    assert_eq!(
        stub.count("PUT", "/api/v2/users/authentication"),
        1,
        "not retried"
    );
    // A read is retried.
    let error = client.user("u1").await.unwrap_err();
    assert!(matches!(error, Error::Transport { .. }), "{error:?}");
    assert_eq!(stub.count("GET", "/api/v2/users"), 3);
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let stub = stub(|_| {
        Reply::json(302, "{}").header("Location", "https://collector.example.net/steal?x=1")
    })
    .await;
    let client = login(&stub).await;
    let error = client
        .set_web_password("u1", &SecretString::from("Web-Pass-1"))
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(302));
    assert!(
        error.to_string().contains("`collector.example.net`"),
        "{error}"
    );
    assert!(!error.to_string().contains("steal"), "{error}");
    assert!(!error.may_have_applied());
    assert_eq!(stub.requests().len(), 2);
}

#[tokio::test]
async fn connection_refused_is_a_connect_error() {
    // Bind then drop a listener: its port is (very likely) closed now.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let config = support::config_for(&format!("http://127.0.0.1:{port}/api/v2"));
    let error = OdinClient::login(config).await.unwrap_err();
    assert!(matches!(error, Error::Connect { .. }), "{error:?}");
    assert!(error.is_retryable() && !error.may_have_applied());
    assert!(!error.to_string().contains("login-pw-9f3k"));
}

#[tokio::test]
async fn plain_http_to_a_remote_host_is_refused_before_any_connection() {
    let config = ClientConfig::new(
        "http://odin.example.com/api/v2",
        "admin",
        SecretString::from("pw"),
    );
    let error = OdinClient::login(config).await.unwrap_err();
    assert!(matches!(error, Error::Config { .. }), "{error:?}");
    assert!(error.to_string().contains("plain http"), "{error}");
}

#[tokio::test]
async fn a_bad_ca_certificate_is_a_config_error() {
    let mut config = ClientConfig::new(
        "https://odin.example.com/api/v2",
        "admin",
        SecretString::from("pw"),
    );
    config.tls.ca_cert_pem = Some(b"this is not a certificate".to_vec());
    let error = OdinClient::login(config).await.unwrap_err();
    assert!(matches!(error, Error::Config { .. }), "{error:?}");
    assert!(error.to_string().contains("certificate"), "{error}");
}

#[tokio::test]
async fn debug_output_never_shows_secrets() {
    let stub = stub(|_| Reply::ok("[]")).await;
    let config = stub.config();
    let shown = format!("{config:?}");
    assert!(!shown.contains("login-pw-9f3k"), "{shown}");
    let client = login(&stub).await;
    let shown = format!("{client:?}");
    assert!(
        !shown.contains(TOKEN) && !shown.contains("login-pw-9f3k"),
        "{shown}"
    );
    let values = client.generate_passwords(None, 2).await;
    assert!(values.is_err(), "`[]` holds no passwords");
    let secret = SecretString::from("GeneratedValue-1");
    assert!(!format!("{secret:?}").contains("GeneratedValue-1"));
}

#[tokio::test]
async fn tls_is_verified_by_default() {
    let stub = Stub::start_tls(|request| {
        if request.method == "POST" {
            token_reply(TOKEN)
        } else {
            Reply::ok(r#"{"userId":"admin"}"#)
        }
    })
    .await;
    // The test CA is not trusted by default: the handshake fails and nothing is sent.
    let error = OdinClient::login(stub.config()).await.unwrap_err();
    assert!(
        matches!(
            error,
            Error::Tls {
                problem: TlsProblem::UntrustedCertificate,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(stub.requests().is_empty());
}

#[tokio::test]
async fn a_private_ca_is_trusted_when_given() {
    let stub = Stub::start_tls(|request| {
        if request.method == "POST" {
            token_reply(TOKEN)
        } else {
            Reply::ok(r#"{"userId":"admin"}"#)
        }
    })
    .await;
    let mut config = stub.config();
    config.tls.ca_cert_pem = Some(include_bytes!("fixtures/ca.pem").to_vec());
    let client = OdinClient::login(config).await.unwrap();
    assert_eq!(client.session().await.unwrap().user_id, "admin");
    assert!(client.base_url().starts_with("https://127.0.0.1:"));
}

#[tokio::test]
async fn insecure_accepts_an_unknown_certificate() {
    let stub = Stub::start_tls(|request| {
        if request.method == "POST" {
            token_reply(TOKEN)
        } else {
            Reply::ok(r#"{"userId":"admin"}"#)
        }
    })
    .await;
    let mut config = stub.config();
    config.tls.insecure = true;
    let client = OdinClient::login(config).await.unwrap();
    assert_eq!(client.session().await.unwrap().user_id, "admin");
}

/// Compiles only if every call's future can move between threads (the engine spawns them).
#[expect(dead_code)]
fn futures_are_send(client: &OdinClient, secret: &SecretString) {
    fn send<T: Send>(_: T) {}
    send(OdinClient::login(support::config_for(
        "http://127.0.0.1:1/api/v2",
    )));
    send(client.session());
    send(client.logout());
    send(client.group_users("sp", "grp"));
    send(client.user("u"));
    send(client.assigned_services("u"));
    send(client.user_authentication("u"));
    send(client.generate_passwords(Some(scope()), 3));
    send(client.generate_passcodes(scope(), 3));
    send(client.generate_sip_passwords(None, 3));
    send(client.set_sip_password("u", secret));
    send(client.set_portal_passcode("u", secret));
    send(client.set_web_password("u", secret));
    fn sync<T: Send + Sync + Clone + 'static>(_: &T) {}
    sync(client);
}
