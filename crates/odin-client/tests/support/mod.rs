//! A tiny scripted HTTP/1.1 server on loopback for answers the simulator cannot give: every
//! request is recorded and answered by a closure, byte for byte if need be.

#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use odin_client::{ClientConfig, RetryPolicy, SecretString};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// One request as the stub saw it.
#[derive(Clone, Debug)]
pub(crate) struct Recorded {
    pub method: String,
    /// Path and query as sent on the request line.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Recorded {
    pub(crate) fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }

    pub(crate) fn query(&self) -> Option<&str> {
        self.target.split_once('?').map(|(_, query)| query)
    }

    /// The decoded query pairs (form encoding: `+` is a space).
    pub(crate) fn query_pairs(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(self.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect()
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    pub(crate) fn bearer(&self) -> Option<&str> {
        self.header("authorization")
            .and_then(|value| value.strip_prefix("Bearer "))
    }

    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    pub(crate) fn is(&self, method: &str, path: &str) -> bool {
        self.method == method && self.path() == path
    }
}

/// What the stub answers.
#[derive(Clone, Debug)]
pub(crate) struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// Written as is, then the connection is closed.
    raw: Option<Vec<u8>>,
}

impl Reply {
    pub(crate) fn json(status: u16, body: impl Into<String>) -> Self {
        Self {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: body.into().into_bytes(),
            raw: None,
        }
    }

    pub(crate) fn ok(body: impl Into<String>) -> Self {
        Self::json(200, body)
    }

    pub(crate) fn error(status: u16, details: &str) -> Self {
        Self::json(
            status,
            serde_json::json!({"status": status, "error": "Error", "details": details}).to_string(),
        )
    }

    pub(crate) fn text(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Self {
            status,
            headers: vec![("Content-Type".into(), content_type.into())],
            body: body.into(),
            raw: None,
        }
    }

    pub(crate) fn raw(bytes: impl Into<Vec<u8>>) -> Self {
        Self {
            status: 0,
            headers: Vec::new(),
            body: Vec::new(),
            raw: Some(bytes.into()),
        }
    }

    pub(crate) fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    fn bytes(&self) -> Vec<u8> {
        if let Some(raw) = &self.raw {
            return raw.clone();
        }
        let mut out = format!("HTTP/1.1 {} Whatever\r\n", self.status);
        for (name, value) in &self.headers {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
        out.push_str(&format!("Content-Length: {}\r\n\r\n", self.body.len()));
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(&self.body);
        bytes
    }
}

type Handler = dyn Fn(&Recorded) -> Reply + Send + Sync;

/// The running stub; dropped, it stops accepting.
pub(crate) struct Stub {
    address: std::net::SocketAddr,
    log: Arc<Mutex<Vec<Recorded>>>,
    task: tokio::task::JoinHandle<()>,
    secure: bool,
    /// Connections accepted (over TLS: handshakes attempted).
    connections: Arc<AtomicUsize>,
}

impl Drop for Stub {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Stub {
    pub(crate) async fn start(
        handler: impl Fn(&Recorded) -> Reply + Send + Sync + 'static,
    ) -> Stub {
        Self::start_with(handler, None).await
    }

    /// The same over TLS, with the test certificate in `tests/fixtures` (issued for
    /// `localhost` and `127.0.0.1` by the test CA `tests/fixtures/ca.pem`; test-only keys).
    pub(crate) async fn start_tls(
        handler: impl Fn(&Recorded) -> Reply + Send + Sync + 'static,
    ) -> Stub {
        Self::start_tls_with(
            include_bytes!("../fixtures/server.pem"),
            include_bytes!("../fixtures/server.key"),
            handler,
        )
        .await
    }

    /// The same with another certificate and key (PEM), e.g. from `tests/fixtures/first-contact`.
    pub(crate) async fn start_tls_with(
        certificate: &[u8],
        key: &[u8],
        handler: impl Fn(&Recorded) -> Reply + Send + Sync + 'static,
    ) -> Stub {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let certificates: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(certificate)
                .collect::<Result<_, _>>()
                .expect("test certificate");
        let key = PrivateKeyDer::from_pem_slice(key).expect("test key");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_no_client_auth()
            .with_single_cert(certificates, key)
            .expect("server config");
        Self::start_with(
            handler,
            Some(tokio_rustls::TlsAcceptor::from(Arc::new(config))),
        )
        .await
    }

    async fn start_with(
        handler: impl Fn(&Recorded) -> Reply + Send + Sync + 'static,
        tls: Option<tokio_rustls::TlsAcceptor>,
    ) -> Stub {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let address = listener.local_addr().expect("local address");
        let log = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let task_log = log.clone();
        let secure = tls.is_some();
        let connections = Arc::new(AtomicUsize::new(0));
        let counted = connections.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                let handler = handler.clone();
                let log = task_log.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
                    match tls {
                        None => serve(stream, handler, log).await,
                        // A refused handshake just ends the connection.
                        Some(acceptor) => {
                            if let Ok(stream) = acceptor.accept(stream).await {
                                serve(stream, handler, log).await;
                            }
                        }
                    }
                });
            }
        });
        Stub {
            address,
            log,
            task,
            secure,
            connections,
        }
    }

    /// Connections accepted so far (over TLS: handshakes attempted).
    pub(crate) fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    pub(crate) fn address(&self) -> std::net::SocketAddr {
        self.address
    }

    pub(crate) fn base_url(&self) -> String {
        let scheme = if self.secure { "https" } else { "http" };
        format!("{scheme}://{}/api/v2", self.address)
    }

    pub(crate) fn requests(&self) -> Vec<Recorded> {
        self.log.lock().unwrap().clone()
    }

    pub(crate) fn count(&self, method: &str, path: &str) -> usize {
        self.requests()
            .iter()
            .filter(|request| request.is(method, path))
            .count()
    }

    /// A client config for this stub with fast retries.
    pub(crate) fn config(&self) -> ClientConfig {
        config_for(&self.base_url())
    }
}

pub(crate) fn config_for(base_url: &str) -> ClientConfig {
    let mut config = ClientConfig::new(base_url, "admin", SecretString::from("login-pw-9f3k"));
    config.retry = RetryPolicy {
        max_attempts: 3,
        initial_backoff: std::time::Duration::from_millis(1),
        max_backoff: std::time::Duration::from_millis(5),
        max_elapsed: std::time::Duration::from_secs(10),
    };
    config
}

async fn serve(
    stream: impl tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    handler: Arc<Handler>,
    log: Arc<Mutex<Vec<Recorded>>>,
) {
    let (read, mut write) = tokio::io::split(stream);
    let mut reader = BufReader::new(read);
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or("").to_owned();
        let target = parts.next().unwrap_or("").to_owned();
        let mut headers = Vec::new();
        loop {
            let mut header = String::new();
            match reader.read_line(&mut header).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                headers.push((name.trim().to_owned(), value.trim().to_owned()));
            }
        }
        let length = headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, value)| value.parse::<usize>().ok())
            .unwrap_or(0);
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).await.is_err() {
            return;
        }
        let request = Recorded {
            method,
            target,
            headers,
            body,
        };
        log.lock().unwrap().push(request.clone());
        let reply = handler(&request);
        if write.write_all(&reply.bytes()).await.is_err() {
            return;
        }
        if reply.raw.is_some() {
            let _ = write.shutdown().await;
            return;
        }
    }
}

/// A JWT (unsigned, as far as the client cares) with the given `exp`.
pub(crate) fn jwt(subject: &str, exp: u64) -> String {
    use base64::Engine as _;
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    format!(
        "{}.{}.c2lnbmF0dXJl",
        engine.encode(r#"{"alg":"HS256","typ":"JWT"}"#),
        engine.encode(format!(r#"{{"sub":"{subject}","exp":{exp}}}"#))
    )
}

pub(crate) fn token_reply(token: &str) -> Reply {
    Reply::ok(serde_json::json!({ "token": token }).to_string())
}
