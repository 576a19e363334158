//! A raw OCI-P client for the tests: writes documents byte for byte as given, reads replies
//! framed on `</BroadsoftDocument>\n`, and logs in with the signed flow.

#![allow(dead_code)]

use std::sync::Arc;

use odin_sim::{OcipFrontConfig, SimConfig, SimHandle};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

pub(crate) const ALICE: &str = "user0001@demo.example";
pub(crate) const BOB: &str = "user0002@demo.example";
pub(crate) const SP: &str = "demo-sp";
pub(crate) const GROUP: &str = "demo-group";

pub(crate) trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// Three users, seed 1, an OCI-P listener with the fixed nonce.
pub(crate) fn config() -> SimConfig {
    SimConfig::with_users(3)
        .with_seed(1)
        .with_ocip(OcipFrontConfig {
            fixed_nonce: true,
            ..OcipFrontConfig::default()
        })
}

pub(crate) async fn start(config: SimConfig) -> SimHandle {
    odin_sim::spawn(config).await.expect("start the simulator")
}

/// The document around `commands`, as the broadworks-ocip package writes it.
pub(crate) fn document(commands: &[String]) -> String {
    let mut text = String::from(
        "<?xml version='1.0' encoding='ISO-8859-1'?>\n<BroadsoftDocument protocol=\"OCI\" xmlns=\"C\" \
         xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"><sessionId xmlns=\"\">s-1</sessionId>",
    );
    for command in commands {
        text.push_str(command);
    }
    text.push_str("</BroadsoftDocument>\n");
    text
}

/// One `command` element of type `name` with `children`.
pub(crate) fn command(name: &str, children: &str) -> String {
    format!("<command xsi:type=\"{name}\" xmlns=\"\">{children}</command>")
}

/// `<name>value</name>` for each pair.
pub(crate) fn fields(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(name, value)| format!("<{name}>{value}</{name}>"))
        .collect()
}

/// The text between the first `open` and the next `close`, if any.
pub(crate) fn between<'a>(text: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = text.find(open)? + open.len();
    let end = text[start..].find(close)? + start;
    Some(&text[start..end])
}

/// The `summary` of every ErrorResponse in a reply, in order.
pub(crate) fn summaries(reply: &str) -> Vec<String> {
    reply
        .split("<summary>")
        .skip(1)
        .filter_map(|part| part.split("</summary>").next())
        .map(str::to_owned)
        .collect()
}

/// The reply commands' types, in order (`c:SuccessResponse`, `c:ErrorResponse` or a data type).
pub(crate) fn reply_types(reply: &str) -> Vec<String> {
    reply
        .split("xsi:type=\"")
        .skip(1)
        .filter_map(|part| part.split('"').next())
        .map(str::to_owned)
        .collect()
}

pub(crate) struct Client {
    pub stream: Box<dyn Stream>,
    buffer: Vec<u8>,
}

impl Client {
    pub(crate) async fn connect(handle: &SimHandle) -> Client {
        let stream = TcpStream::connect(handle.ocip_addr().expect("an OCI-P listener"))
            .await
            .expect("connect");
        Client::over(Box::new(stream))
    }

    pub(crate) fn over(stream: Box<dyn Stream>) -> Client {
        Client {
            stream,
            buffer: Vec::new(),
        }
    }

    /// Connects over TLS, trusting only `ca_pem`, verifying the name `server_name`.
    pub(crate) async fn connect_tls(handle: &SimHandle, ca_pem: &str, server_name: &str) -> Client {
        let mut roots = rustls::RootCertStore::empty();
        let certificate = rustls::pki_types::pem::PemObject::from_pem_slice(ca_pem.as_bytes())
            .expect("a PEM certificate");
        roots.add(certificate).expect("a usable CA");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let tcp = TcpStream::connect(handle.ocip_addr().unwrap())
            .await
            .unwrap();
        let name = rustls::pki_types::ServerName::try_from(server_name.to_owned()).unwrap();
        let stream = connector.connect(name, tcp).await.expect("TLS handshake");
        Client::over(Box::new(stream))
    }

    pub(crate) async fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("write");
        self.stream.flush().await.expect("flush");
    }

    /// The next reply (ISO-8859-1 decoded), or `None` when the server closed the connection
    /// before a whole one arrived.
    pub(crate) async fn read_reply(&mut self) -> Option<String> {
        const END: &[u8] = b"</BroadsoftDocument>\n";
        loop {
            if let Some(at) = self.buffer.windows(END.len()).position(|w| w == END) {
                let rest = self.buffer.split_off(at + END.len());
                let reply = std::mem::replace(&mut self.buffer, rest);
                return Some(reply.iter().map(|&byte| char::from(byte)).collect());
            }
            let mut chunk = [0u8; 4096];
            match self.stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return None,
                Ok(read) => self.buffer.extend_from_slice(&chunk[..read]),
            }
        }
    }

    /// Whether the server closed the connection without sending anything more. A server that
    /// keeps it open fails the test after a long guard instead of hanging it.
    pub(crate) async fn is_closed(&mut self) -> bool {
        let mut rest = Vec::new();
        let read = tokio::time::timeout(
            std::time::Duration::from_secs(30),
            self.stream.read_to_end(&mut rest),
        )
        .await
        .expect("the server did not close the connection");
        // A reset counts as closed as well as a clean end.
        let _ = read;
        rest.is_empty()
    }

    /// Sends one document with these commands and reads its reply.
    pub(crate) async fn call(&mut self, commands: &[String]) -> String {
        self.send_raw(document(commands).as_bytes()).await;
        self.read_reply().await.expect("a reply")
    }

    pub(crate) async fn one(&mut self, name: &str, children: &str) -> String {
        self.call(&[command(name, children)]).await
    }

    /// The signed login for `admin` with `password`, against the fixed nonce.
    pub(crate) async fn login_with(&mut self, password: &str) -> String {
        let reply = self
            .one("AuthenticationRequest", "<userId>admin</userId>")
            .await;
        let nonce = between(&reply, "<nonce>", "</nonce>")
            .expect("a nonce")
            .to_owned();
        let signed = signed(&nonce, password);
        self.one(
            "LoginRequest14sp4",
            &fields(&[("userId", "admin"), ("signedPassword", &signed)]),
        )
        .await
    }

    pub(crate) async fn login(&mut self) {
        let reply = self.login_with("admin").await;
        assert!(reply.contains("LoginResponse14sp4"), "{reply}");
    }
}

/// The signed password, computed here independently of the simulator.
pub(crate) fn signed(nonce: &str, password: &str) -> String {
    use md5::Digest;
    let sha = sha1::Sha1::digest(password.as_bytes());
    let sha_hex: String = sha.iter().map(|byte| format!("{byte:02x}")).collect();
    let md5 = md5::Md5::digest(format!("{nonce}:{sha_hex}").as_bytes());
    md5.iter().map(|byte| format!("{byte:02x}")).collect()
}
