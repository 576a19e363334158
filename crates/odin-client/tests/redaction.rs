//! Everything the client logs at trace level, searched for the secrets it handled: the login
//! password, the token, generated values and the values set. None may appear.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly where its precondition breaks"
)]

mod support;

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use odin_client::{ExposeSecret, GroupScope, OdinClient};
use support::{Reply, Stub, token_reply};
use tracing_subscriber::fmt::MakeWriter;

/// Collects log output in memory.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = Capture;

    fn make_writer(&'a self) -> Capture {
        self.clone()
    }
}

const TOKENS: [&str; 2] = ["tok-FIRST-7c1e9a", "tok-SECOND-44b0d2"];
const GENERATED_PASSWORD: &str = "GenPw-Zq81-xW";
const GENERATED_PASSCODE: &str = "73019284";

#[tokio::test]
async fn trace_logs_hold_no_secret() {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(capture.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let logins = Arc::new(AtomicUsize::new(0));
    let rate_limited = Arc::new(AtomicUsize::new(0));
    let (login_counter, limit_counter) = (logins.clone(), rate_limited.clone());
    let stub = Stub::start(move |request| {
        let path = request.path();
        if request.is("POST", "/api/v2/auth/token") {
            let n = login_counter.fetch_add(1, Ordering::SeqCst).min(1);
            return token_reply(TOKENS[n]);
        }
        if request.bearer() == Some(TOKENS[0]) && path != "/api/v2/auth/session" {
            return Reply::error(401, "[Error 4962] Token missing, expired or revoked");
        }
        match path {
            "/api/v2/auth/session" => Reply::ok(r#"{"userId":"admin"}"#),
            "/api/v2/password/generate" => {
                Reply::ok(format!(r#"{{"passwords":["{GENERATED_PASSWORD}"]}}"#))
            }
            "/api/v2/passcode/generate" => {
                Reply::ok(format!(r#"{{"passcode":"{GENERATED_PASSCODE}"}}"#))
            }
            "/api/v2/users/authentication" if limit_counter.fetch_add(1, Ordering::SeqCst) == 0 => {
                Reply::error(429, "[Error 4290] Rate limit exceeded").header("Retry-After", "0")
            }
            "/api/v2/users/authentication" => Reply::ok(r#"{"userId":"u1","userName":"u1"}"#),
            "/api/v2/users/portal-passcode" => Reply::error(500, "[Error 5000] Injected failure"),
            _ => Reply::ok(r#"{"userId":"u1"}"#),
        }
    })
    .await;
    let config = stub.config();
    let login_password = config.password.expose_secret().to_owned();
    let client = OdinClient::login(config).await.unwrap();
    client.session().await.unwrap();
    let scope = GroupScope {
        service_provider_id: "sp",
        group_id: "grp",
    };
    let password = client
        .generate_passwords(Some(scope), 1)
        .await
        .unwrap()
        .remove(0);
    let passcode = client.generate_passcodes(scope, 1).await.unwrap().remove(0);
    assert_eq!(password.expose_secret(), GENERATED_PASSWORD);
    client.set_sip_password("u1", &password).await.unwrap();
    client.set_web_password("u1", &password).await.unwrap();
    let failed = client
        .set_portal_passcode("u1", &passcode)
        .await
        .unwrap_err();
    assert!(!format!("{failed} {failed:?}").contains(GENERATED_PASSCODE));
    client.logout().await.unwrap();
    assert_eq!(client.metrics().relogins, 1);
    assert_eq!(client.metrics().rate_limited, 1);

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    // The logs were captured and say what happened...
    assert!(logs.contains("/users/authentication"), "{logs}");
    assert!(logs.contains("newPassword"), "field names are fine: {logs}");
    assert!(logs.contains("retrying"), "{logs}");
    // ...and hold none of the secrets.
    for secret in [
        login_password.as_str(),
        TOKENS[0],
        TOKENS[1],
        GENERATED_PASSWORD,
        GENERATED_PASSCODE,
    ] {
        assert!(
            !logs.contains(secret),
            "`{secret}` found in the logs:\n{logs}"
        );
    }
    // Nor the query values.
    assert!(!logs.contains("userId=u1"), "{logs}");
}
