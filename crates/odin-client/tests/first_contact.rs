//! The first contact with a server: TLS failures that are final at once, silence that is named
//! within the configured time, a proxy, and the certificate look of `inspect_certificate`. Each
//! counts the connections the server was offered.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly where its precondition breaks"
)]

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use odin_client::{Error, OdinClient, TlsProblem, inspect_certificate};
use support::{Reply, Stub, token_reply};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const CA: &[u8] = include_bytes!("fixtures/first-contact/ca.pem");

fn answers(request: &support::Recorded) -> Reply {
    if request.is("POST", "/api/v2/auth/token") {
        token_reply("tok-first-contact")
    } else {
        Reply::ok(r#"{"userId":"admin"}"#)
    }
}

async fn front(name: &str) -> Stub {
    let (certificate, key) = match name {
        "front" => (
            &include_bytes!("fixtures/first-contact/front.pem")[..],
            &include_bytes!("fixtures/first-contact/front.key")[..],
        ),
        "other-name" => (
            &include_bytes!("fixtures/first-contact/other-name.pem")[..],
            &include_bytes!("fixtures/first-contact/other-name.key")[..],
        ),
        _ => (
            &include_bytes!("fixtures/first-contact/expired.pem")[..],
            &include_bytes!("fixtures/first-contact/expired.key")[..],
        ),
    };
    Stub::start_tls_with(certificate, key, answers).await
}

#[tokio::test]
async fn certificate_problems_are_one_handshake_and_say_what_is_wrong() {
    for (name, with_ca, expected) in [
        ("front", false, TlsProblem::UntrustedCertificate),
        ("other-name", true, TlsProblem::WrongHostName),
        ("expired", true, TlsProblem::Expired),
    ] {
        let stub = front(name).await;
        let mut config = stub.config();
        if with_ca {
            config.tls.ca_cert_pem = Some(CA.to_vec());
        }
        let error = OdinClient::login(config).await.unwrap_err();
        match &error {
            Error::Tls { problem, .. } => assert_eq!(*problem, expected, "{name}: {error}"),
            other => panic!("{name}: not a TLS error: {other:?}"),
        }
        assert!(!error.is_retryable() && !error.may_have_applied());
        assert_eq!(stub.connections(), 1, "{name}: tried once");
        assert!(stub.requests().is_empty(), "{name}: nothing sent");
    }
}

#[tokio::test]
async fn the_private_ca_makes_the_front_trusted() {
    let stub = front("front").await;
    let mut config = stub.config();
    config.tls.ca_cert_pem = Some(CA.to_vec());
    let client = OdinClient::login(config).await.expect("login");
    assert_eq!(client.session().await.unwrap().user_id, "admin");
}

/// A loopback server that accepts and reads, answering only what `answer` returns something
/// for; it counts the connections.
async fn partly_silent(
    answer: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
) -> (std::net::SocketAddr, Arc<Mutex<usize>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let connections = Arc::new(Mutex::new(0));
    let counted = connections.clone();
    let answer = Arc::new(answer);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            *counted.lock().unwrap() += 1;
            let answer = answer.clone();
            tokio::spawn(async move {
                let mut buffer = vec![0u8; 16 * 1024];
                while let Ok(read) = stream.read(&mut buffer).await {
                    if read == 0 {
                        return;
                    }
                    let request = String::from_utf8_lossy(&buffer[..read]).into_owned();
                    if let Some(body) = answer(&request) {
                        let reply = format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                            body.len()
                        );
                        let _ = stream.write_all(reply.as_bytes()).await;
                    }
                }
            });
        }
    });
    (address, connections)
}

#[tokio::test]
async fn a_silent_server_ends_the_first_login_after_the_first_answer_timeout() {
    let (address, connections) = partly_silent(|_| None).await;
    let mut config = support::config_for(&format!("http://{address}/api/v2"));
    config.first_answer_timeout = Duration::from_secs(1);
    config.connect_timeout = Duration::from_secs(1);
    let error = OdinClient::login(config).await.unwrap_err();
    assert!(
        matches!(
            error,
            Error::Timeout {
                connected: true,
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "the server accepted the connection and did not answer in 1 s"
    );
    assert_eq!(*connections.lock().unwrap(), 1, "not retried");
}

#[tokio::test]
async fn silence_during_a_run_keeps_the_transport_rules() {
    // The login is answered; every later request is not.
    let (address, _) = partly_silent(|request| {
        request
            .starts_with("POST /api/v2/auth/token ")
            .then(|| r#"{"token":"tok-run"}"#.to_owned())
    })
    .await;
    let mut config = support::config_for(&format!("http://{address}/api/v2"));
    config.request_timeout = Duration::from_secs(1);
    config.retry.max_attempts = 1;
    let client = OdinClient::login(config).await.expect("login");
    let secret = odin_client::SecretString::from("Value-1");
    let error = client.set_web_password("u", &secret).await.unwrap_err();
    assert!(matches!(error, Error::Transport { .. }), "{error:?}");
    assert!(error.may_have_applied(), "the outcome stays uncertain");
}

/// A `CONNECT` proxy that tunnels to `upstream` whatever the target, recording the targets.
async fn proxy(upstream: std::net::SocketAddr) -> (std::net::SocketAddr, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let targets = Arc::new(Mutex::new(Vec::new()));
    let seen = targets.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                while !head.ends_with(b"\r\n\r\n") {
                    match stream.read_u8().await {
                        Ok(byte) => head.push(byte),
                        Err(_) => return,
                    }
                }
                let head = String::from_utf8_lossy(&head).into_owned();
                let mut words = head.split_whitespace();
                if words.next() != Some("CONNECT") {
                    return;
                }
                seen.lock()
                    .unwrap()
                    .push(words.next().unwrap_or("").to_owned());
                let Ok(mut upstream) = TcpStream::connect(upstream).await else {
                    return;
                };
                if stream
                    .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    .await
                    .is_ok()
                {
                    let _ = tokio::io::copy_bidirectional(&mut stream, &mut upstream).await;
                }
            });
        }
    });
    (address, targets)
}

#[tokio::test]
async fn requests_and_the_certificate_look_go_through_the_configured_proxy() {
    let stub = front("front").await;
    let (proxy_address, targets) = proxy(stub.address()).await;
    let target = format!("odin.test:{}", stub.address().port());
    let mut config = support::config_for(&format!("https://{target}/api/v2"));
    config.tls.ca_cert_pem = Some(CA.to_vec());
    config.proxy = Some(format!("http://{proxy_address}"));

    let client = OdinClient::login(config.clone()).await.expect("login");
    assert_eq!(client.session().await.unwrap().user_id, "admin");
    let server = inspect_certificate(&config).await.expect("certificate");
    let certificate = server.certificate.expect("readable");
    assert_eq!(certificate.subject, "CN=odin.test, O=bwreset tests");
    assert_eq!(
        certificate.issuer,
        "CN=bwreset first-contact test CA, O=bwreset tests"
    );
    let targets = targets.lock().unwrap().clone();
    assert!(targets.len() >= 2, "{targets:?}");
    assert!(targets.iter().all(|seen| seen == &target), "{targets:?}");
}

#[tokio::test]
async fn the_certificate_look_shows_even_an_untrusted_certificate_and_sends_nothing() {
    let stub = front("expired").await;
    let config = stub.config();
    let server = inspect_certificate(&config).await.expect("certificate");
    let certificate = server.certificate.expect("readable");
    assert_eq!(
        odin_client::format_utc(certificate.not_after),
        "2021-01-01 00:00:00 UTC"
    );
    assert_eq!(certificate.names, ["localhost", "127.0.0.1", "odin.test"]);
    assert_eq!(stub.connections(), 1);
    assert!(stub.requests().is_empty());
}
