//! A look at the server's TLS certificate for the operator's doctor (`bwreset check`): one
//! connection (through the configured proxy, if any), one handshake that accepts any certificate
//! so that even an untrusted one can be shown, nothing sent, and the connection closed. Whether
//! the certificate is trusted is decided by the login, never here.

use std::sync::Arc;

use rustls::DigitallySignedStruct;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::config::ClientConfig;
use crate::x509::{self, CertificateSummary};
use crate::{Error, wire};

/// What the server showed in its TLS handshake.
#[derive(Clone, Debug)]
pub struct ServerCertificate {
    /// The server's own certificate; `None` if it could not be read.
    pub certificate: Option<CertificateSummary>,
    /// The TLS version agreed on (`TLSv1_3`, `TLSv1_2`).
    pub tls_version: String,
}

/// Connects to the configured base URL (`https://` only) and reads the server's certificate,
/// within the configured connect timeout. Fails with [`Error::Connect`] when no connection is
/// made, [`Error::Timeout`] when it takes too long, [`Error::Tls`] when no handshake is possible
/// at all (no common TLS version, not TLS), and [`Error::Config`] for a base URL that is not
/// `https://`.
pub async fn inspect_certificate(config: &ClientConfig) -> Result<ServerCertificate, Error> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let base_url = wire::normalise_base_url(&config.base_url, config.allow_plain_http)?;
    let base = url::Url::parse(&base_url)
        .map_err(|error| Error::config(format!("base url is not a valid url: {error}")))?;
    if base.scheme() != "https" {
        return Err(Error::config(
            "the base url is not https: there is no certificate",
        ));
    }
    let host = base
        .host_str()
        .ok_or_else(|| Error::config("base url has no host"))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = base.port_or_known_default().unwrap_or(443);
    let handshake = handshake(config, &host, port);
    match tokio::time::timeout(config.connect_timeout, handshake).await {
        Ok(result) => result,
        Err(_) => Err(Error::Timeout {
            waited: config.connect_timeout,
            connected: false,
        }),
    }
}

async fn handshake(
    config: &ClientConfig,
    host: &str,
    port: u16,
) -> Result<ServerCertificate, Error> {
    let stream = match &config.proxy {
        None => TcpStream::connect((host, port))
            .await
            .map_err(|error| Error::Connect {
                message: format!("connecting to `{host}:{port}`: {error}"),
            })?,
        Some(proxy) => through_proxy(proxy, host, port).await?,
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(ShowAnyCertificate {
        algorithms: provider.signature_verification_algorithms,
    });
    let tls = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|error| Error::config(format!("tls setup: {error}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    let server_name = ServerName::try_from(host.to_owned())
        .map_err(|_| Error::config(format!("`{host}` is not a valid tls server name")))?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(tls));
    let mut stream = connector
        .connect(server_name, stream)
        .await
        .map_err(|error| {
            let problem = error
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
                .map(crate::http::classify_tls);
            match problem {
                Some(problem) => Error::Tls {
                    problem,
                    message: wire::sanitise(&error.to_string(), 300),
                },
                None => Error::Connect {
                    message: format!("tls handshake: {}", wire::sanitise(&error.to_string(), 300)),
                },
            }
        })?;
    let (_, connection) = stream.get_ref();
    let certificate = connection
        .peer_certificates()
        .and_then(|chain| chain.first())
        .and_then(|certificate| x509::summarise(certificate.as_ref()));
    let tls_version = connection
        .protocol_version()
        .map_or_else(|| "unknown".to_owned(), |version| format!("{version:?}"));
    let _ = stream.shutdown().await;
    Ok(ServerCertificate {
        certificate,
        tls_version,
    })
}

/// A tunnel to `host:port` through an HTTP proxy (`CONNECT`).
async fn through_proxy(proxy: &str, host: &str, port: u16) -> Result<TcpStream, Error> {
    let shown = crate::proxy::redact_proxy_url(proxy);
    let parsed = url::Url::parse(proxy)
        .map_err(|_| Error::config(format!("the proxy `{shown}` is not a valid url")))?;
    if parsed.scheme() != "http" {
        return Err(Error::config(format!(
            "the certificate can only be read through an http:// proxy, not `{shown}`"
        )));
    }
    let proxy_host = parsed
        .host_str()
        .ok_or_else(|| Error::config(format!("the proxy `{shown}` has no host")))?
        .trim_start_matches('[')
        .trim_end_matches(']');
    let proxy_port = parsed.port_or_known_default().unwrap_or(80);
    let mut stream = TcpStream::connect((proxy_host, proxy_port))
        .await
        .map_err(|error| Error::Connect {
            message: format!("connecting to the proxy `{shown}`: {error}"),
        })?;
    let target = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let mut request = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n");
    if !parsed.username().is_empty() {
        use base64::Engine as _;
        let credentials = format!(
            "{}:{}",
            percent_decode(parsed.username()),
            percent_decode(parsed.password().unwrap_or(""))
        );
        let encoded = base64::engine::general_purpose::STANDARD.encode(credentials);
        request.push_str(&format!("Proxy-Authorization: Basic {encoded}\r\n"));
    }
    request.push_str("\r\n");
    let proxy_error = |error: std::io::Error| Error::Connect {
        message: format!("through the proxy `{shown}`: {error}"),
    };
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(proxy_error)?;
    // The answer's head, byte by byte: nothing of the tunnel must be read past it.
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 16 * 1024 {
            return Err(Error::Connect {
                message: format!("the proxy `{shown}` sent an endless answer to CONNECT"),
            });
        }
        let byte = stream.read_u8().await.map_err(proxy_error)?;
        head.push(byte);
    }
    let status_line = String::from_utf8_lossy(&head);
    let status_line = status_line.lines().next().unwrap_or("");
    let status = status_line.split_whitespace().nth(1).unwrap_or("");
    if status != "200" {
        return Err(Error::Connect {
            message: format!(
                "the proxy `{shown}` refused the tunnel to `{target}`: {}",
                wire::sanitise(status_line, 200)
            ),
        });
    }
    Ok(stream)
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let hex = bytes
            .get(index + 1..index + 3)
            .and_then(|pair| std::str::from_utf8(pair).ok())
            .and_then(|pair| u8::from_str_radix(pair, 16).ok());
        match (bytes[index], hex) {
            (b'%', Some(byte)) => {
                decoded.push(byte);
                index += 3;
            }
            (byte, _) => {
                decoded.push(byte);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

/// Accepts any certificate (it is only shown), but checks the handshake's signatures.
#[derive(Debug)]
struct ShowAnyCertificate {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for ShowAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, certificate, signature, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, certificate, signature, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("us%40er"), "us@er");
        assert_eq!(percent_decode("p%3Ass%2"), "p:ss%2");
        assert_eq!(percent_decode("plain"), "plain");
    }
}
