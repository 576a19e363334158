//! One OCI-P connection: TCP or TLS, the framing (a document ends at its closing root tag, with
//! no length prefix), one exchange at a time, and the login that belongs to the connection.

use std::sync::Arc;
use std::time::Duration;

use md5::{Digest as _, Md5};
use secrecy::{ExposeSecret, SecretString};
use sha1::Sha1;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::commands::{self, Command};
use crate::config::{OcipConfig, Target};
use crate::error::Error;
use crate::xml;

/// How long a login step may wait for its answer (at most the reply timeout).
const LOGIN_TIMEOUT: Duration = Duration::from_secs(30);

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// A connected, logged-in (once [`Connection::finish_login`] succeeded) OCI-P connection.
pub(crate) struct Connection {
    stream: Box<dyn Stream>,
    /// Bytes read past the end of the last document.
    buffer: Vec<u8>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Connection")
            .field("buffered", &self.buffer.len())
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// Connects (and for `ocips://`, completes the TLS handshake) within the connect timeout.
    pub(crate) async fn open(
        target: &Target,
        tls: Option<&TlsConnector>,
        timeout: Duration,
    ) -> Result<Connection, Error> {
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
            Ok(Connection {
                stream,
                buffer: Vec::with_capacity(8192),
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
    pub(crate) async fn exchange(
        &mut self,
        document: &[u8],
        timeout: Duration,
        max_reply_bytes: usize,
    ) -> Result<Vec<u8>, Error> {
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
    async fn read_document(&mut self, max_reply_bytes: usize) -> Result<Vec<u8>, Error> {
        // Positions in an answer are kept as `u32` (a table's cells): 4 GiB at most.
        let max_reply_bytes = max_reply_bytes.min(u32::MAX as usize);
        let mut searched = 0;
        loop {
            if let Some(end) = document_end(&self.buffer, searched) {
                let rest = self.buffer.split_off(end);
                let document = std::mem::replace(&mut self.buffer, rest);
                let start = document
                    .iter()
                    .position(|byte| !byte.is_ascii_whitespace())
                    .unwrap_or(0);
                return Ok(document[start..].to_vec());
            }
            if self.buffer.len() > max_reply_bytes {
                return Err(Error::Decode {
                    message: format!("the answer is larger than {max_reply_bytes} bytes"),
                });
            }
            searched = self.buffer.len().saturating_sub(64);
            // Read straight into the buffer, with room for at least as much again as it holds:
            // a long answer (a group's listing) comes in a few reads, not hundreds.
            self.buffer.reserve(self.buffer.len().max(16384));
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

    /// The login's first step, which carries no secret: `AuthenticationRequest`, whose nonce the
    /// second step ([`Connection::finish_login`], `LoginRequest14sp4` with the MD5 of
    /// `nonce:sha1(password)`) signs; `None` for `LoginRequest22V5` over TLS, which has no first
    /// step. A connection closed or silent before a login step is answered is a connection
    /// failure (an access list turns hosts away so), apart from a refused login.
    pub(crate) async fn authenticate(
        &mut self,
        config: &OcipConfig,
        session_id: &str,
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
            .login_step(
                config,
                session_id,
                &commands::authentication(&config.username),
                server,
            )
            .await?;
        Ok(Some(nonce))
    }

    /// The login's second step, the one with the password: `LoginRequest14sp4` signing the
    /// nonce of [`Connection::authenticate`], or `LoginRequest22V5` when there is none.
    pub(crate) async fn finish_login(
        &mut self,
        config: &OcipConfig,
        session_id: &str,
        nonce: Option<String>,
        server: &str,
    ) -> Result<(), Error> {
        let login = match nonce {
            None => commands::plaintext_login(&config.username, config.password.clone()),
            Some(nonce) => {
                commands::signed_login(&config.username, signed_password(&nonce, &config.password))
            }
        };
        self.login_step(config, session_id, &login, server).await
    }

    async fn login_step<A>(
        &mut self,
        config: &OcipConfig,
        session_id: &str,
        command: &Command<A>,
        server: &str,
    ) -> Result<A, Error> {
        let request = &command.request;
        if tracing::enabled!(tracing::Level::TRACE) {
            let redacted = xml::request_document(session_id, &[request], true);
            tracing::trace!(document = %String::from_utf8_lossy(&redacted).trim_end(), "OCI-P request");
        }
        let document = xml::request_document(session_id, &[request], false);
        let reply = self
.exchange(
                &document,
                config.reply_timeout.min(LOGIN_TIMEOUT),
                config.max_reply_bytes,
            )
            .await
            .map_err(|error| match error {
                Error::Transport { message } => Error::Connect {
                    server: server.to_owned(),
                    message: format!("the server closed the connection before answering the login ({message}); is this host on its OCI-P access list?"),
                },
                Error::Timeout { waited, .. } => Error::Timeout { waited, sent: false },
                other => other,
            })?;
        let mut document = xml::parse_reply(&reply)?;
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
    pub(crate) async fn send_logout(&mut self, config: &OcipConfig, session_id: &str) -> bool {
        let logout = commands::logout(&config.username);
        let document = xml::request_document(session_id, &[&logout.request], false);
        let sent = async {
            self.stream.write_all(&document).await?;
            self.stream.flush().await
        };
        matches!(tokio::time::timeout(LOGOUT_WAIT, sent).await, Ok(Ok(())))
    }

    /// Waits briefly for the answer to the `LogoutRequest` sent, then closes; failures change
    /// nothing (the login ends with the connection anyway).
    pub(crate) async fn end_logout(mut self) {
        let _ = tokio::time::timeout(LOGOUT_WAIT, self.read_document(1 << 16)).await;
        let _ = self.stream.shutdown().await;
    }
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
}
