//! Trace logs of the OCI-P client over SOAP hold no secret. Alone in its test binary: a
//! subscriber set with `set_default` on one test's thread races with other tests' threads over
//! tracing's cached callsite interest, which lost the test's own events once in a full run.

#[expect(
    dead_code,
    reason = "this binary does not read the truth (`in_effect`)"
)]
mod common;

use bwreset_backend::{Backend, Credential, ExposeSecret, SecretString};
use ocip_client::{OcipClient, OcipConfig};
use odin_sim::{SimConfig, SimHandle};

use common::{GROUP, simulator, user_ids};

fn config_for(simulator: &SimHandle) -> OcipConfig {
    let mut config = OcipConfig::new(simulator.soap_url(), "admin", SecretString::from("admin"));
    config.ca_cert_pem = simulator.ca_pem().map(|pem| pem.as_bytes().to_vec());
    config.max_attempts = 2;
    config.backoff.initial = std::time::Duration::from_millis(1);
    config
}

#[derive(Clone, Default)]
struct Capture(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut kept) = self.0.lock() {
            kept.extend_from_slice(bytes);
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Capture {
    type Writer = Capture;

    fn make_writer(&'a self) -> Capture {
        self.clone()
    }
}

/// At trace level (the documents, redacted, HTTP's own lines, the simulator's), neither the
/// administrator's password (sent in clear by `LoginRequest22V5`, or signed), nor a value set,
/// nor the session's cookie appears, whichever login.
#[tokio::test]
async fn trace_logs_over_soap_hold_no_secret() {
    const ADMIN_PASSWORD: &str = "Adm1n-S3cret-pw";
    let capture = Capture::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(capture.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let simulator = simulator(SimConfig {
        login: ("admin".into(), ADMIN_PASSWORD.into()),
        ..SimConfig::with_users(2).with_tls()
    })
    .await;
    let users = user_ids(&simulator);
    let mut values = Vec::new();
    for (index, plaintext_login) in [false, true].into_iter().enumerate() {
        let mut config = config_for(&simulator);
        config.password = SecretString::from(ADMIN_PASSWORD);
        config.plaintext_login = plaintext_login;
        let client = OcipClient::login(config).await.expect("login");
        let value = format!("Tr4ce-V@lue-{index}-x<&");
        client
            .set(
                Credential::SipPassword,
                &users[index],
                &SecretString::from(value.clone()),
            )
            .await
            .expect("set");
        let passcode = client
            .generate(Credential::PortalPasscode, GROUP, 1)
            .await
            .expect("a passcode")
            .remove(0);
        client
            .set(Credential::PortalPasscode, &users[index], &passcode)
            .await
            .expect("set");
        values.push(value);
        values.push(passcode.expose_secret().to_owned());
        client.logout().await;
    }
    let logged = String::from_utf8_lossy(&capture.0.lock().expect("log")).into_owned();
    assert!(logged.contains("OCI-P request"), "trace level was on");
    assert!(
        logged.contains("[redacted]"),
        "documents were logged, redacted"
    );
    let mut secrets = vec![ADMIN_PASSWORD.to_owned()];
    secrets.extend(values);
    for secret in &secrets {
        assert!(!logged.contains(secret.as_str()), "`{secret}` in the log");
    }
    // Nor a value's escaped spelling (it holds `<` and `&`).
    assert!(!logged.contains("Tr4ce-V@lue"), "a value in the log");
    assert!(!logged.contains("JSESSIONID="), "a cookie in the log");
}
