//! The OCI-P front: BroadWorks' own XML provisioning protocol over TCP (or TLS), served beside
//! the Odin API over the same world, so that both fronts see one truth.
//!
//! The contract is docs/ocip.md. A listener is started with [`OcipFrontConfig`] in
//! [`SimConfig::ocip`](crate::SimConfig::ocip); each connection has its own login
//! (`session`), reads documents framed on their closing tag (`frame`), parses them with
//! namespaces resolved by URI (`xml`) and answers every command in order (`commands`). The
//! SOAP front (`crate::soap`) hands the documents it unwraps to the same `session` code.

mod commands;
mod frame;
mod session;
pub(crate) mod tls;
pub(crate) mod xml;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

pub(crate) use commands::Refusal;
pub(crate) use session::{After, Login, OcipServer, OcipShared};

use crate::{Error, SimState};

/// The OCI-P schema release the simulator plays: it decides which commands exist.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum Release {
    /// Release 21: no `PasswordGenerateRequest`, no `LoginRequest22V5`, no
    /// `UserPortalPasscodeRulesGetRequest`.
    R21,
    /// Release 24, the default. (No command this simulator serves differs in release 25, so
    /// it does not play 25: its `RI` forms are not served.)
    #[default]
    R24,
}

impl std::str::FromStr for Release {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().trim_start_matches(['R', 'r']) {
            "21" => Ok(Release::R21),
            "24" => Ok(Release::R24),
            _ => Err(format!("`{text}` is not an OCI-P release: use 21 or 24")),
        }
    }
}

/// How to run the OCI-P listener (TCP or TLS). Its `release` and `fixed_nonce` are those of
/// the SOAP front too: both fronts are one OCI-P server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OcipFrontConfig {
    /// Where to listen; default `127.0.0.1:0`.
    pub listen: SocketAddr,
    /// Serve TLS with a certificate made at start (for `127.0.0.1` and `localhost`).
    pub tls: bool,
    /// Where to write the PEM of the CA that signed that certificate, for clients to trust.
    pub cert_out: Option<PathBuf>,
    pub release: Release,
    /// Hand out the nonce `1234567890123` every time (the spec's test vectors) instead of a
    /// fresh one per `AuthenticationRequest`.
    pub fixed_nonce: bool,
}

impl Default for OcipFrontConfig {
    fn default() -> Self {
        OcipFrontConfig {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            tls: false,
            cert_out: None,
            release: Release::default(),
            fixed_nonce: false,
        }
    }
}

/// OCI-P faults that the shared fault flags do not cover, switched at run time by tests
/// ([`SimHandle::set_ocip_faults`](crate::SimHandle::set_ocip_faults)). All off by default.
/// They act on both fronts, TCP and SOAP (where `dribble` and `close_on_accept` have no
/// meaning).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OcipFaults {
    /// An ErrorResponse that looks like a server failure, before anything is applied, on the
    /// Nth call (1 = the next one) of the named command.
    pub fail_nth: Option<(String, u64)>,
    /// Apply the named command, then close the connection without its reply (the in-doubt
    /// case), every time.
    pub drop_after_apply: Option<String>,
    /// Write only this many bytes of each reply, then close.
    pub cut_replies_after: Option<usize>,
    /// Write each reply in pieces of this many bytes, each flushed on its own.
    pub dribble: Option<usize>,
    /// Refuse every login, whatever its password.
    pub refuse_login: bool,
    /// Close every new connection at once, before any XML (as an ACL does).
    pub close_on_accept: bool,
    /// Put `errorCode` in every ErrorResponse.
    pub error_code: bool,
    /// Refuse the system-level reads (as a server does to a group administrator).
    pub refuse_system_reads: bool,
}

/// A bound OCI-P listener, ready to serve.
pub(crate) struct OcipListener {
    pub addr: SocketAddr,
    pub tls: bool,
    /// The CA certificate (PEM) that TLS clients must trust.
    pub ca_pem: Option<String>,
    server: Arc<OcipServer>,
    listener: std::net::TcpListener,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
}

/// Binds the listener without a runtime, so that both ways of starting a simulator can use
/// it. `identity` is the certificate a TLS listener serves (made once per simulator).
pub(crate) fn bind(
    state: &SimState,
    config: &OcipFrontConfig,
    identity: Option<&tls::TlsIdentity>,
) -> Result<OcipListener, Error> {
    let bind_error = |source| Error::Bind {
        addr: config.listen,
        source,
    };
    let listener = std::net::TcpListener::bind(config.listen).map_err(bind_error)?;
    listener.set_nonblocking(true).map_err(bind_error)?;
    let addr = listener.local_addr().map_err(bind_error)?;
    let (acceptor, ca_pem) = match identity.filter(|_| config.tls) {
        Some(identity) => {
            if let Some(path) = &config.cert_out {
                tls::write_ca(identity, path)?;
            }
            (
                Some(identity.acceptor.clone()),
                Some(identity.ca_pem.clone()),
            )
        }
        None => (None, None),
    };
    let server = Arc::new(OcipServer {
        state: state.clone(),
        tls: acceptor.is_some(),
    });
    Ok(OcipListener {
        addr,
        tls: acceptor.is_some(),
        ca_pem,
        server,
        listener,
        acceptor,
    })
}

impl std::fmt::Debug for OcipListener {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("OcipListener")
            .field("addr", &self.addr)
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

impl OcipListener {
    /// Accepts connections until told to stop; open connections end with it.
    pub(crate) async fn serve(self, mut stopped: watch::Receiver<bool>) {
        let listener = match TcpListener::from_std(self.listener) {
            Ok(listener) => listener,
            Err(error) => {
                tracing::error!(%error, "cannot serve OCI-P");
                return;
            }
        };
        let mut connections = JoinSet::new();
        loop {
            tokio::select! {
                biased;
                _ = stopped.changed() => break,
                accepted = listener.accept() => match accepted {
                    Ok((stream, _peer)) => {
                        if self.server.state.shared.ocip.extras().close_on_accept {
                            drop(stream);
                            continue;
                        }
                        let _ = stream.set_nodelay(true);
                        let server = Arc::clone(&self.server);
                        match &self.acceptor {
                            Some(acceptor) => {
                                let acceptor = acceptor.clone();
                                connections.spawn(async move {
                                    if let Ok(stream) = acceptor.accept(stream).await {
                                        server.serve_connection(stream).await;
                                    }
                                });
                            }
                            None => {
                                connections.spawn(server.serve_connection(stream));
                            }
                        }
                    }
                    Err(error) => {
                        tracing::warn!(%error, "OCI-P accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    }
                },
            }
            while connections.try_join_next().is_some() {}
        }
        connections.abort_all();
        while connections.join_next().await.is_some() {}
    }
}
