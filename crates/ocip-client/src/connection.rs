//! One OCI-P connection, under the pool: its link, TCP (or TLS, with the framing: a document
//! ends at its closing root tag, with no length prefix) or SOAP (one HTTP request per document,
//! the session's own cookie, `soap.rs`), one exchange at a time, and the login that belongs to
//! it. Everything above [`Connection::exchange`] is the same for both links.

use std::sync::Arc;
use std::time::Duration;

use md5::{Digest as _, Md5};
use secrecy::{ExposeSecret, SecretString};
use sha1::Sha1;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_rustls::TlsConnector;

use crate::commands::{self, Command};
use crate::config::{OcipConfig, Target};
use crate::error::Error;
use crate::xml;

/// How long a login step may wait for its answer (at most the reply timeout).
const LOGIN_TIMEOUT: Duration = Duration::from_secs(30);

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// The most a login step's answer may take. A login's answer is a few hundred bytes; a server
/// that sends more (an endless reply) is refused at this size, not at the answers' cap, so that
/// every connection of a warm-up holds kilobytes, not megabytes.
pub(crate) const MAX_LOGIN_REPLY_BYTES: usize = 64 << 10;

/// What a connection may buffer of an answer without asking the [`ReplyBudget`]: enough for a
/// login, a logout and nearly every document of commands.
const FREE_BYTES: usize = 64 << 10;

/// How much of answers not yet read whole every connection of a client may hold together, in
/// KiB: `OcipConfig::max_reply_bytes`, so that one answer may take all of it. A connection whose
/// answer outgrows [`FREE_BYTES`] takes room from it as its buffer grows and gives it back when
/// the answer has been parsed; one that finds no room waits (within the reply timeout) for
/// another connection's answer to be parsed.
#[derive(Clone, Debug)]
pub(crate) struct ReplyBudget {
    kib: Arc<Semaphore>,
}

impl ReplyBudget {
    pub(crate) fn new(max_reply_bytes: usize) -> ReplyBudget {
        // One answer may reach its cap (plus one read's margin) on its own.
        let kib = max_reply_bytes.min(u32::MAX as usize).div_ceil(1024) + READ_MARGIN / 1024;
        ReplyBudget {
            kib: Arc::new(Semaphore::new(kib)),
        }
    }

    /// KiB not taken now (for tests).
    #[cfg(test)]
    fn available_kib(&self) -> usize {
        self.kib.available_permits()
    }
}

/// Room added to a buffer at least, and the margin over the cap a buffer may reach (so that an
/// answer just over the cap is seen to be over).
const READ_MARGIN: usize = 16 << 10;

/// An answer read whole, holding its share of the [`ReplyBudget`] until dropped (once parsed).
pub(crate) struct Answer {
    bytes: Vec<u8>,
    _room: Option<OwnedSemaphorePermit>,
    /// Whether it came as a SOAP envelope's return (an error then says so).
    returned_by_soap: bool,
}

impl Answer {
    #[cfg(test)]
    fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The answer document parsed; over SOAP a document that does not parse is said to be the
    /// envelope's return.
    pub(crate) fn parse(&self) -> Result<xml::ReplyDocument, Error> {
        xml::parse_reply(&self.bytes).map_err(|error| match error {
            Error::Decode { message } if self.returned_by_soap => Error::Decode {
                message: format!(
                    "the document the SOAP envelope returned does not parse as OCI-P: {message}"
                ),
            },
            other => other,
        })
    }
}

/// How the pool's connections are made: the one thing that differs between the transports.
pub(crate) enum Dialer {
    /// A TCP connection per session, TLS for `ocips://`.
    Tcp { tls: Option<TlsConnector> },
    /// OCI-P over SOAP: one HTTP client (its keep-alive sockets shared by every session), each
    /// session with its own cookie and its own sessionId.
    Soap(crate::soap::Service),
}

impl std::fmt::Debug for Dialer {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Dialer::Tcp { tls } => write!(formatter, "Tcp {{ tls: {} }}", tls.is_some()),
            Dialer::Soap(_) => formatter.write_str("Soap"),
        }
    }
}

/// A connected, logged-in (once [`Connection::finish_login`] succeeded) OCI-P session: the
/// sessionId its documents carry and the link they travel on.
pub(crate) struct Connection {
    session_id: String,
    link: Link,
}

enum Link {
    Tcp(TcpLink),
    Soap(crate::soap::SoapLink),
}

/// One TCP (or TLS) connection and its framing.
struct TcpLink {
    stream: Box<dyn Stream>,
    /// Bytes read past the end of the last document.
    buffer: Vec<u8>,
    /// The client's budget for answers being read, and the room this connection's buffer takes
    /// from it (beyond [`FREE_BYTES`]).
    budget: ReplyBudget,
    room: Option<OwnedSemaphorePermit>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let link = match &self.link {
            Link::Tcp(_) => "tcp",
            Link::Soap(_) => "soap",
        };
        formatter
            .debug_struct("Connection")
            .field("link", &link)
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// Opens a session's link: over TCP connects (and for `ocips://`, completes the TLS
    /// handshake) within the connect timeout; over SOAP nothing is sent until the first
    /// document (the HTTP client connects, or reuses a kept-alive socket, then).
    pub(crate) async fn open(
        target: &Target,
        dialer: &Dialer,
        session_id: String,
        timeout: Duration,
        budget: ReplyBudget,
    ) -> Result<Connection, Error> {
        let link = match dialer {
            Dialer::Tcp { tls } => {
                Link::Tcp(TcpLink::open(target, tls.as_ref(), timeout, budget).await?)
            }
            Dialer::Soap(service) => Link::Soap(service.session()),
        };
        Ok(Connection { session_id, link })
    }

    /// The sessionId this session's documents carry.
    pub(crate) fn session_id(&self) -> &str {
        &self.session_id
    }

    /// Sends one document and reads the one document that answers it.
    pub(crate) async fn exchange(
        &mut self,
        document: &[u8],
        timeout: Duration,
        max_reply_bytes: usize,
    ) -> Result<Answer, Error> {
        match &mut self.link {
            Link::Tcp(link) => link.exchange(document, timeout, max_reply_bytes).await,
            Link::Soap(link) => {
                let bytes = link.exchange(document, timeout, max_reply_bytes).await?;
                Ok(Answer {
                    bytes,
                    _room: None,
                    returned_by_soap: true,
                })
            }
        }
    }
}

impl TcpLink {
    async fn open(
        target: &Target,
        tls: Option<&TlsConnector>,
        timeout: Duration,
        budget: ReplyBudget,
    ) -> Result<TcpLink, Error> {
        let connect = async {
            let tcp = TcpStream::connect((target.host.as_str(), target.port))
                .await
                .map_err(|error| Error::Connect {
                    server: target.server.clone(),
                    message: error.to_string(),
                })?;
            // Documents are written whole: waiting to coalesce them only adds latency.
            let _ = tcp.set_nodelay(true);
            let stream: Box<dyn Stream> = match tls {
                None => Box::new(tcp),
                Some(connector) => {
                    let name = rustls::pki_types::ServerName::try_from(target.host.clone())
                        .map_err(|_| Error::Config {
                            message: format!("`{}` is not a valid TLS server name", target.host),
                        })?;
                    let stream =
                        connector
                            .connect(name, tcp)
                            .await
                            .map_err(|error| Error::Tls {
                                server: target.server.clone(),
                                message: error.to_string(),
                            })?;
                    Box::new(stream)
                }
            };
            Ok(TcpLink {
                stream,
                buffer: Vec::with_capacity(8192),
                budget,
                room: None,
            })
        };
        tokio::time::timeout(timeout, connect)
            .await
            .map_err(|_| Error::Timeout {
                waited: timeout,
                sent: false,
            })?
    }

    /// Sends one document and reads the one document that answers it.
    async fn exchange(
        &mut self,
        document: &[u8],
        timeout: Duration,
        max_reply_bytes: usize,
    ) -> Result<Answer, Error> {
        let lost = |error: std::io::Error| Error::Transport {
            message: error.to_string(),
        };
        let exchange = async {
            self.stream.write_all(document).await.map_err(lost)?;
            self.stream.flush().await.map_err(lost)?;
            self.read_document(max_reply_bytes).await
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| Error::Timeout {
                waited: timeout,
                sent: true,
            })?
    }

    /// Reads up to the first closing root tag, keeping what follows for the next document.
    async fn read_document(&mut self, max_reply_bytes: usize) -> Result<Answer, Error> {
        // Positions in an answer are kept as `u32` (a table's cells): 4 GiB at most.
        let max_reply_bytes = max_reply_bytes.min(u32::MAX as usize);
        let mut searched = 0;
        loop {
            if let Some(end) = document_end(&self.buffer, searched) {
                // The document keeps the buffer; what follows it starts a fresh, small one.
                let rest = self.buffer.get(end..).unwrap_or_default();
                let mut next = Vec::with_capacity(rest.len().max(8192));
                next.extend_from_slice(rest);
                let mut document = std::mem::replace(&mut self.buffer, next);
                document.truncate(end);
                let start = document
                    .iter()
                    .position(|byte| !byte.is_ascii_whitespace())
                    .unwrap_or(0);
                document.drain(..start);
                return Ok(Answer {
                    bytes: document,
                    _room: self.room.take(),
                    returned_by_soap: false,
                });
            }
            if self.buffer.len() > max_reply_bytes {
                return Err(too_large(max_reply_bytes));
            }
            searched = self.buffer.len().saturating_sub(64);
            self.make_room(max_reply_bytes).await;
            let read = self
                .stream
                .read_buf(&mut self.buffer)
                .await
                .map_err(|error| Error::Transport {
                    message: error.to_string(),
                })?;
            if read == 0 {
                return Err(Error::Transport {
                    message: "the server closed the connection without a complete answer".into(),
                });
            }
        }
    }

    /// Room in the buffer for the next read: at least as much again as it holds (a long answer,
    /// a group's listing, comes in a few reads, not hundreds), never more than the cap and a
    /// read's margin. Room beyond [`FREE_BYTES`] is taken from the client's budget first.
    async fn make_room(&mut self, max_reply_bytes: usize) {
        let length = self.buffer.len();
        if self.buffer.capacity() - length >= READ_MARGIN {
            return;
        }
        let wanted = length
            .saturating_mul(2)
            .max(length + READ_MARGIN)
            .min(max_reply_bytes + READ_MARGIN);
        let wanted_kib = wanted.saturating_sub(FREE_BYTES).div_ceil(1024);
        let held_kib = self.room.as_ref().map_or(0, |room| room.num_permits());
        if wanted_kib > held_kib {
            let more = u32::try_from(wanted_kib - held_kib).unwrap_or(u32::MAX);
            // Never closed; a failure would only leave the budget unenforced.
            if let Ok(permit) = Arc::clone(&self.budget.kib).acquire_many_owned(more).await {
                match &mut self.room {
                    Some(room) => room.merge(permit),
                    None => self.room = Some(permit),
                }
            }
        }
        self.buffer.reserve_exact(wanted.saturating_sub(length));
    }
}

impl Connection {
    /// The login's first step, which carries no secret: `AuthenticationRequest`, whose nonce the
    /// second step ([`Connection::finish_login`], `LoginRequest14sp4` with the MD5 of
    /// `nonce:sha1(password)`) signs; `None` for `LoginRequest22V5` over TLS, which has no first
    /// step. A connection closed or silent before a login step is answered is a connection
    /// failure (an access list turns hosts away so), apart from a refused login.
    pub(crate) async fn authenticate(
        &mut self,
        config: &OcipConfig,
        over_tls: bool,
        server: &str,
    ) -> Result<Option<String>, Error> {
        if !config.password.expose_secret().is_ascii() {
            return Err(Error::Config {
                message: "the OCI-P password must be ASCII (servers and clients disagree on other characters)".into(),
            });
        }
        if over_tls && config.plaintext_login {
            return Ok(None);
        }
        let nonce = self
            .login_step(config, &commands::authentication(&config.username), server)
            .await?;
        Ok(Some(nonce))
    }

    /// The login's second step, the one with the password: `LoginRequest14sp4` signing the
    /// nonce of [`Connection::authenticate`], or `LoginRequest22V5` when there is none.
    pub(crate) async fn finish_login(
        &mut self,
        config: &OcipConfig,
        nonce: Option<String>,
        server: &str,
    ) -> Result<(), Error> {
        let login = match nonce {
            None => commands::plaintext_login(&config.username, config.password.clone()),
            Some(nonce) => {
                commands::signed_login(&config.username, signed_password(&nonce, &config.password))
            }
        };
        self.login_step(config, &login, server).await
    }

    async fn login_step<A>(
        &mut self,
        config: &OcipConfig,
        command: &Command<A>,
        server: &str,
    ) -> Result<A, Error> {
        let request = &command.request;
        let session_id = self.session_id.clone();
        let session_id = session_id.as_str();
        let over_tcp = matches!(self.link, Link::Tcp(_));
        if tracing::enabled!(tracing::Level::TRACE) {
            let redacted = xml::request_document(session_id, &[request], true);
            tracing::trace!(document = %String::from_utf8_lossy(&redacted).trim_end(), "OCI-P request");
        }
        let document = xml::request_document(session_id, &[request], false);
        // A login's answer is small: the cap is the login's own, not the answers' (`config`'s).
        let limit = MAX_LOGIN_REPLY_BYTES.min(config.max_reply_bytes);
        let reply = self
            .exchange(&document, config.reply_timeout.min(LOGIN_TIMEOUT), limit)
            .await
            .map_err(|error| match error {
                Error::Decode { message } if message == too_large_message(limit) => Error::Decode {
                    message: format!(
                        "the answer to {} is larger than {limit} bytes, and a login's answer takes well under 1 KiB: is `{server}` an OCI-P server?",
                        request.type_name
                    ),
                },
                Error::Transport { message } if over_tcp => Error::Connect {
                    server: server.to_owned(),
                    message: format!("the server closed the connection before answering the login ({message}); is this host on its OCI-P access list?"),
                },
                Error::Timeout { waited, .. } => Error::Timeout { waited, sent: false },
                other => other,
            })?;
        let mut document = reply.parse()?;
        drop(reply);
        document.accept_session(session_id, request.type_name);
        if document.commands.len() != 1 {
            return Err(Error::Decode {
                message: format!(
                    "{} answered with {} commands",
                    request.type_name,
                    document.commands.len()
                ),
            });
        }
        let reply = document.commands.remove(0);
        let answer = reply
            .into_result()
            .map_err(|response| Error::LoginRefused {
                summary: response.text(),
            })?;
        command.answer(&answer)
    }

    /// Sends `LogoutRequest` without reading its answer: `false` when it could not be written
    /// (the connection is then of no use). Read the answer with [`Connection::end_logout`].
    /// Over SOAP nothing is written here: the request and its answer are one HTTP exchange,
    /// which [`Connection::end_logout`] makes.
    pub(crate) async fn send_logout(&mut self, config: &OcipConfig) -> bool {
        let Link::Tcp(link) = &mut self.link else {
            return true;
        };
        let document = logout_document(&self.session_id, &config.username);
        let sent = async {
            link.stream.write_all(&document).await?;
            link.stream.flush().await
        };
        matches!(tokio::time::timeout(LOGOUT_WAIT, sent).await, Ok(Ok(())))
    }

    /// Over TCP, waits briefly for the answer to the `LogoutRequest` sent, then closes; failures
    /// change nothing (the login ends with the connection anyway). Over SOAP, makes the logout's
    /// exchange (briefly at most): the session, kept by the server under its cookie, would
    /// otherwise outlive the run.
    pub(crate) async fn end_logout(self, username: &str) {
        match self.link {
            Link::Tcp(mut link) => {
                let _ = tokio::time::timeout(LOGOUT_WAIT, link.read_document(1 << 16)).await;
                let _ = link.stream.shutdown().await;
            }
            Link::Soap(mut link) => {
                let document = logout_document(&self.session_id, username);
                let _ = link
                    .exchange(&document, LOGOUT_WAIT, MAX_LOGIN_REPLY_BYTES)
                    .await;
            }
        }
    }

    /// Whether the login outlives this connection: over SOAP the server keeps it under the
    /// session's cookie, so only the logout's answer ends it.
    pub(crate) fn login_outlives_connection(&self) -> bool {
        matches!(self.link, Link::Soap(_))
    }
}

fn logout_document(session_id: &str, username: &str) -> Vec<u8> {
    let logout = commands::logout(username);
    xml::request_document(session_id, &[&logout.request], false)
}

/// An answer over the cap.
fn too_large(max_reply_bytes: usize) -> Error {
    Error::Decode {
        message: too_large_message(max_reply_bytes),
    }
}

fn too_large_message(max_reply_bytes: usize) -> String {
    format!("the answer is larger than {max_reply_bytes} bytes")
}

/// How long a logout may wait to be written, and then for its answer.
const LOGOUT_WAIT: Duration = Duration::from_secs(2);

/// The lowercase hex MD5 of `nonce:h`, where `h` is the lowercase hex SHA-1 of the password.
pub(crate) fn signed_password(nonce: &str, password: &SecretString) -> SecretString {
    let sha1 = hex(&Sha1::digest(password.expose_secret().as_bytes()));
    let mut md5 = Md5::new();
    md5.update(nonce.as_bytes());
    md5.update(b":");
    md5.update(sha1.as_bytes());
    SecretString::from(hex(&md5.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, byte| {
            let _ = write!(out, "{byte:02x}");
            out
        })
}

/// Where the first complete document in `buffer` ends (just past `</BroadsoftDocument>`, or a
/// prefixed `</p:BroadsoftDocument>`), searching from `from`.
fn document_end(buffer: &[u8], from: usize) -> Option<usize> {
    const TAIL: &[u8] = b"BroadsoftDocument>";
    let mut start = from;
    while let Some(offset) = buffer
        .get(start..)?
        .windows(TAIL.len())
        .position(|window| window == TAIL)
    {
        let at = start + offset;
        let before = &buffer[..at];
        let is_closing = before.ends_with(b"</")
            || before
                .iter()
                .rposition(|&byte| byte == b'<')
                .is_some_and(|open| {
                    let name = &before[open + 1..];
                    name.first() == Some(&b'/')
                        && name.last() == Some(&b':')
                        && name[1..name.len() - 1]
                            .iter()
                            .all(|byte| byte.is_ascii_alphanumeric() || b"_-.".contains(byte))
                });
        if is_closing {
            return Some(at + TAIL.len());
        }
        start = at + 1;
    }
    None
}

/// The TLS connector: the given CA certificates only when there are some, else the operating
/// system's trust (the platform verifier), always with the ring provider.
pub(crate) fn tls_connector(ca_cert_pem: Option<&[u8]>) -> Result<TlsConnector, Error> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let config_error = |message: String| Error::Config { message };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|error| config_error(format!("TLS setup failed: {error}")))?;
    let config = match ca_cert_pem {
        Some(pem) => {
            let mut roots = rustls::RootCertStore::empty();
            for certificate in CertificateDer::pem_slice_iter(pem) {
                let certificate = certificate.map_err(|error| {
                    config_error(format!("the CA certificate file is not PEM: {error}"))
                })?;
                roots.add(certificate).map_err(|error| {
                    config_error(format!("the CA certificate cannot be used: {error}"))
                })?;
            }
            if roots.is_empty() {
                return Err(config_error(
                    "the CA certificate file holds no certificate".into(),
                ));
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        None => {
            let verifier = rustls_platform_verifier::Verifier::new(provider).map_err(|error| {
                config_error(format!("cannot load the system's TLS roots: {error}"))
            })?;
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(verifier))
                .with_no_client_auth()
        }
    };
    Ok(TlsConnector::from(Arc::new(config)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signed_password_matches_the_specification() {
        for (password, expected) in [
            ("password", "77e4a6de3a1e00be05e121cf0ebee860"),
            ("secret", "8231b8845dbfc352f89a0f2dc48f6425"),
        ] {
            let signed = signed_password("1234567890123", &SecretString::from(password));
            assert_eq!(signed.expose_secret(), expected);
        }
    }

    #[test]
    fn documents_end_at_the_closing_root_tag_with_or_without_a_prefix() {
        let two = b"<a:BroadsoftDocument></a:BroadsoftDocument>\n<BroadsoftDocument/>";
        assert_eq!(document_end(two, 0), Some(43));
        let plain = b"  <BroadsoftDocument x=\"1\"><c/></BroadsoftDocument>\nrest";
        let end = document_end(plain, 0).expect("an end");
        assert_eq!(&plain[end..], b"\nrest");
        assert_eq!(document_end(b"<BroadsoftDocument>", 0), None);
        assert_eq!(document_end(b"</BroadsoftDocum", 0), None);
    }

    fn over(stream: tokio::io::DuplexStream, budget: &ReplyBudget) -> TcpLink {
        TcpLink {
            stream: Box::new(stream),
            buffer: Vec::new(),
            budget: budget.clone(),
            room: None,
        }
    }

    /// A document of about `size` bytes.
    fn document(size: usize) -> Vec<u8> {
        let mut bytes = b"<BroadsoftDocument>".to_vec();
        bytes.resize(size, b'x');
        bytes.extend_from_slice(b"</BroadsoftDocument>\n");
        bytes
    }

    #[tokio::test]
    async fn a_large_answer_takes_room_from_the_budget_until_it_is_parsed() {
        let budget = ReplyBudget::new(1 << 20);
        let full = budget.available_kib();
        let (client, mut server) = tokio::io::duplex(1 << 16);
        let mut connection = over(client, &budget);
        let writer = tokio::spawn(async move {
            server
                .write_all(&document(600 << 10))
                .await
                .expect("written");
            server
        });
        let answer = connection.read_document(1 << 20).await.expect("an answer");
        assert!(answer.bytes().ends_with(b"</BroadsoftDocument>"));
        // The answer holds its room (beyond what a connection may buffer freely) until dropped.
        let taken = full - budget.available_kib();
        assert!(taken >= (600 - 64), "{taken} KiB taken");
        drop(answer);
        assert_eq!(budget.available_kib(), full);
        // A small answer after it takes nothing from the budget.
        let mut server = writer.await.expect("writer");
        server.write_all(&document(1 << 10)).await.expect("written");
        let small = connection.read_document(1 << 20).await.expect("an answer");
        assert_eq!(budget.available_kib(), full);
        drop(small);
    }

    #[tokio::test]
    async fn an_answer_over_the_cap_is_refused_and_gives_its_room_back() {
        let budget = ReplyBudget::new(1 << 20);
        let full = budget.available_kib();
        let (client, mut server) = tokio::io::duplex(1 << 16);
        let mut connection = over(client, &budget);
        tokio::spawn(async move {
            // Endless: never closes the document.
            let chunk = vec![b'x'; 1 << 16];
            server.write_all(b"<BroadsoftDocument>").await.ok();
            while server.write_all(&chunk).await.is_ok() {}
        });
        let error = connection
            .read_document(MAX_LOGIN_REPLY_BYTES)
            .await
            .err()
            .expect("refused");
        assert_eq!(
            error.to_string(),
            too_large(MAX_LOGIN_REPLY_BYTES).to_string()
        );
        // The buffer never grew far past the cap.
        assert!(connection.buffer.capacity() <= MAX_LOGIN_REPLY_BYTES + 2 * READ_MARGIN);
        drop(connection);
        assert_eq!(budget.available_kib(), full);
    }
}
