//! The pooled HTTP client (timeouts, trusted roots, proxy, no redirects) and the reading of the
//! TLS failures it reports.

use std::time::Duration;

use tracing::debug;

use crate::config::ClientConfig;
use crate::error::{Error, TlsProblem};
use crate::wire;

pub(crate) fn build_http_client(config: &ClientConfig) -> Result<reqwest::Client, Error> {
    // reqwest is built without a default crypto provider; installing ring twice is harmless
    // (the second call reports the first one, which is fine).
    let _ = rustls::crypto::ring::default_provider().install_default();
    if config.connect_timeout.is_zero()
        || config.request_timeout.is_zero()
        || config.first_answer_timeout.is_zero()
    {
        return Err(Error::config("timeouts must be longer than zero"));
    }
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .referer(false)
        .connect_timeout(config.connect_timeout)
        .timeout(config.request_timeout)
        .pool_max_idle_per_host(config.pool_max_idle_per_host)
        .pool_idle_timeout(Duration::from_secs(60))
        .tcp_nodelay(true)
        .user_agent(concat!("bwreset-odin-client/", env!("CARGO_PKG_VERSION")));
    // Only the proxy the configuration names: reqwest would otherwise read the environment
    // itself, and this crate never does (the caller decides, see `crate::proxy`).
    builder = match &config.proxy {
        None => builder.no_proxy(),
        Some(proxy) => {
            let proxy = reqwest::Proxy::all(proxy.as_str()).map_err(|_| {
                Error::config(format!(
                    "the proxy `{}` is not a usable proxy url",
                    crate::proxy::redact_proxy_url(proxy)
                ))
            })?;
            builder.proxy(proxy)
        }
    };
    if let Some(pem) = &config.tls.ca_cert_pem {
        let certificates = reqwest::Certificate::from_pem_bundle(pem).map_err(|error| {
            Error::config(format!(
                "the CA certificate is not valid PEM: {}",
                wire::describe_transport_error(error)
            ))
        })?;
        if certificates.is_empty() {
            return Err(Error::config(
                "the CA certificate file holds no certificate",
            ));
        }
        builder = builder.tls_certs_merge(certificates);
    }
    if config.tls.insecure {
        // The caller warns the operator (once); here it is a detail for the debug log.
        debug!("TLS certificate verification is off");
        builder = builder.tls_danger_accept_invalid_certs(true);
    }
    builder.build().map_err(|error| {
        Error::config(format!(
            "could not build the http client: {}",
            wire::describe_transport_error(error)
        ))
    })
}

/// The TLS failure behind a failed request, if a TLS handshake failed, and rustls's words for
/// it: rustls's error, found in the chain of causes (inside the I/O error that carries it).
pub(crate) fn tls_problem(error: &reqwest::Error) -> Option<(TlsProblem, String)> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = cause {
        if let Some(problem) = rustls_inside(current) {
            return Some(problem);
        }
        cause = current.source();
    }
    None
}

/// rustls's error, as this cause or inside the I/O errors that wrap it (`io::Error::source`
/// skips the error an I/O error wraps, so each is opened with `get_ref`).
fn rustls_inside(cause: &(dyn std::error::Error + 'static)) -> Option<(TlsProblem, String)> {
    let mut current = cause;
    for _ in 0..8 {
        if let Some(tls) = current.downcast_ref::<rustls::Error>() {
            return Some((classify_tls(tls), wire::sanitise(&tls.to_string(), 300)));
        }
        let inner = current.downcast_ref::<std::io::Error>()?.get_ref()?;
        current = inner;
    }
    None
}

/// What a rustls error means for the operator.
pub(crate) fn classify_tls(error: &rustls::Error) -> TlsProblem {
    use rustls::{AlertDescription, CertificateError};
    match error {
        rustls::Error::InvalidCertificate(certificate) => match certificate {
            CertificateError::UnknownIssuer
            | CertificateError::BadSignature
            | CertificateError::UnhandledCriticalExtension => TlsProblem::UntrustedCertificate,
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                TlsProblem::WrongHostName
            }
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                TlsProblem::Expired
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                TlsProblem::NotYetValid
            }
            _ => TlsProblem::UntrustedCertificate,
        },
        rustls::Error::AlertReceived(
            AlertDescription::ProtocolVersion | AlertDescription::InsufficientSecurity,
        )
        | rustls::Error::PeerIncompatible(_) => TlsProblem::ProtocolVersion,
        rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. } => {
            TlsProblem::NotTls
        }
        _ => TlsProblem::Other,
    }
}
