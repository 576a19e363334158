//! The TLS side of the simulator's listeners (OCI-P's, and the HTTP one when it serves HTTPS): a
//! private CA and a server certificate for `127.0.0.1` and `localhost`, both made at start and
//! never written anywhere but the CA's PEM (for clients' `--ca-cert`). One simulator makes one
//! identity, which every TLS listener of it serves.

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::TlsAcceptor;

/// What a TLS listener needs: the acceptor, and the CA certificate clients must trust.
pub(crate) struct TlsIdentity {
    pub acceptor: TlsAcceptor,
    /// The CA certificate in PEM; it signed the server certificate.
    pub ca_pem: String,
}

impl std::fmt::Debug for TlsIdentity {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("TlsIdentity")
            .finish_non_exhaustive()
    }
}

/// Makes a fresh CA and a server certificate signed by it, and the acceptor that serves it.
pub(crate) fn make_identity() -> Result<TlsIdentity, String> {
    let failed = |error: rcgen::Error| format!("cannot make the TLS certificate: {error}");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(failed)?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "odin-sim test CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().map_err(failed)?)
        .map_err(failed)?;

    let server_key = KeyPair::generate().map_err(failed)?;
    let mut server_params =
        CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .map_err(failed)?;
    server_params
        .distinguished_name
        .push(DnType::CommonName, "odin-sim");
    server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    server_params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    let server_certificate = server_params.signed_by(&server_key, &ca).map_err(failed)?;

    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der()));
    let chain = vec![server_certificate.der().clone(), ca.der().clone()];
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| format!("cannot configure TLS: {error}"))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|error| format!("cannot configure TLS: {error}"))?;
    Ok(TlsIdentity {
        acceptor: TlsAcceptor::from(Arc::new(config)),
        ca_pem: ca.pem(),
    })
}

/// Makes the identity, as a start-up error.
pub(crate) fn make() -> Result<TlsIdentity, crate::Error> {
    make_identity().map_err(|message| crate::Error::Start(std::io::Error::other(message)))
}

/// Writes the CA's PEM to `path`, for clients to trust.
pub(crate) fn write_ca(identity: &TlsIdentity, path: &std::path::Path) -> Result<(), crate::Error> {
    std::fs::write(path, &identity.ca_pem).map_err(|error| {
        crate::Error::Start(std::io::Error::new(
            error.kind(),
            format!(
                "cannot write the certificate to `{}`: {error}",
                path.display()
            ),
        ))
    })
}
