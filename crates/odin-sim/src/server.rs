//! Serving the router over TCP (or TLS): our own accept loop around hyper, so that a response
//! marked [`DropConnection`] closes the connection without an answer and the SOAP service's
//! `POST` goes straight to its handler (the one call SOAP clients make per document), and a
//! handle that stops the server when dropped.

use std::convert::Infallible;
use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tower::ServiceExt;

use crate::faults::Faults;
use crate::ocip::tls::{self, TlsIdentity};
use crate::ocip::{self, OcipFaults, OcipListener};
use crate::soap::{self, SoapFaults};
use crate::stats::Stats;
use crate::truth::Credentials;
use crate::{DropConnection, Error, SimConfig, SimState, router};

/// How long a stopping server lets requests in flight finish.
const GRACE: Duration = Duration::from_secs(2);

/// What a connection's service returns to make hyper close the connection unanswered.
#[derive(Debug)]
struct ConnectionDropped;

impl fmt::Display for ConnectionDropped {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("connection dropped on purpose")
    }
}

impl std::error::Error for ConnectionDropped {}

/// Starts a simulator on the current tokio runtime. When this returns, the socket is bound and
/// connections are accepted.
pub async fn spawn(config: SimConfig) -> Result<SimHandle, Error> {
    let listen = config.listen;
    let identity = identity_for(&config)?;
    let http_tls = identity.as_ref().filter(|_| config.tls);
    let ocip_config = config.ocip.clone();
    let state = SimState::try_new(config)?;
    let ocip = ocip_config
        .map(|ocip_config| ocip::bind(&state, &ocip_config, identity.as_ref()))
        .transpose()?;
    let acceptor = http_tls.map(|identity| identity.acceptor.clone());
    let ca_pem = identity.as_ref().map(|identity| identity.ca_pem.clone());
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|source| Error::Bind {
            addr: listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| Error::Bind {
        addr: listen,
        source,
    })?;
    let (stop, stopped) = watch::channel(false);
    let (endpoint, ocip_task) = match ocip {
        Some(listener) => {
            let endpoint = OcipEndpoint::of(&listener);
            let task = tokio::spawn(listener.serve(stopped.clone()));
            (Some(endpoint), Some(task))
        }
        None => (None, None),
    };
    let tls = acceptor.is_some();
    let app = router(state.clone());
    let task = tokio::spawn(serve(listener, app, state.clone(), stopped, acceptor));
    Ok(SimHandle {
        addr,
        tls,
        ca_pem,
        state,
        stop: Some(stop),
        runner: Some(Runner::Task(task)),
        ocip: endpoint,
        ocip_task,
    })
}

enum Runner {
    Task(tokio::task::JoinHandle<()>),
    Thread(std::thread::JoinHandle<()>),
}

/// A running simulator. Dropping it stops the server.
pub struct SimHandle {
    addr: SocketAddr,
    /// Whether the HTTP listener serves HTTPS.
    tls: bool,
    /// The CA that signed every TLS certificate of this simulator (HTTPS and OCI-P).
    ca_pem: Option<String>,
    state: SimState,
    stop: Option<watch::Sender<bool>>,
    runner: Option<Runner>,
    ocip: Option<OcipEndpoint>,
    /// The OCI-P accept loop, when it runs as a task of the caller's runtime.
    ocip_task: Option<tokio::task::JoinHandle<()>>,
}

/// What a handle knows of its OCI-P listener.
struct OcipEndpoint {
    addr: SocketAddr,
    tls: bool,
    ca_pem: Option<String>,
}

impl OcipEndpoint {
    fn of(listener: &OcipListener) -> Self {
        OcipEndpoint {
            addr: listener.addr,
            tls: listener.tls,
            ca_pem: listener.ca_pem.clone(),
        }
    }
}

/// The TLS identity every TLS listener of a simulator serves, made once when one needs it; its
/// CA is written where `cert_out` says.
fn identity_for(config: &SimConfig) -> Result<Option<TlsIdentity>, Error> {
    let ocip_tls = config.ocip.as_ref().is_some_and(|ocip| ocip.tls);
    if !config.tls && !ocip_tls {
        return Ok(None);
    }
    let identity = tls::make()?;
    if let Some(path) = config.cert_out.as_deref().filter(|_| config.tls) {
        tls::write_ca(&identity, path)?;
    }
    Ok(Some(identity))
}

impl fmt::Debug for SimHandle {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("SimHandle")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl SimHandle {
    /// Starts a simulator on a runtime of its own in a new thread, for tests that are not async.
    /// When this returns, the socket is bound and connections are accepted.
    pub fn start_in_thread(config: SimConfig) -> Result<SimHandle, Error> {
        let listen = config.listen;
        let identity = identity_for(&config)?;
        let acceptor = config
            .tls
            .then(|| identity.as_ref().map(|identity| identity.acceptor.clone()))
            .flatten();
        let ca_pem = identity.as_ref().map(|identity| identity.ca_pem.clone());
        let ocip_config = config.ocip.clone();
        let state = SimState::try_new(config)?;
        let ocip = ocip_config
            .map(|ocip_config| ocip::bind(&state, &ocip_config, identity.as_ref()))
            .transpose()?;
        let endpoint = ocip.as_ref().map(OcipEndpoint::of);
        let listener = std::net::TcpListener::bind(listen)
            .and_then(|listener| listener.set_nonblocking(true).map(|()| listener))
            .map_err(|source| Error::Bind {
                addr: listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| Error::Bind {
            addr: listen,
            source,
        })?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(Error::Start)?;
        let (stop, stopped) = watch::channel(false);
        let app = router(state.clone());
        let served = state.clone();
        let tls = acceptor.is_some();
        let thread = std::thread::Builder::new()
            .name(format!("odin-sim {addr}"))
            .spawn(move || {
                runtime.block_on(async move {
                    let ocip_task = ocip.map(|ocip| tokio::spawn(ocip.serve(stopped.clone())));
                    match TcpListener::from_std(listener) {
                        Ok(listener) => serve(listener, app, served, stopped, acceptor).await,
                        Err(error) => tracing::error!(%error, "cannot serve"),
                    }
                    if let Some(task) = ocip_task {
                        let _ = task.await;
                    }
                });
            })
            .map_err(Error::Start)?;
        Ok(SimHandle {
            addr,
            tls,
            ca_pem,
            state,
            stop: Some(stop),
            runner: Some(Runner::Thread(thread)),
            ocip: endpoint,
            ocip_task: None,
        })
    }

    /// The Odin base URL, e.g. `http://127.0.0.1:PORT/api/v2`.
    pub fn base_url(&self) -> String {
        format!("{}/api/v2", self.root_url())
    }

    /// The server's root, e.g. `http://127.0.0.1:PORT` (`https://` when it serves HTTPS; the
    /// `/_sim/` endpoints live here).
    pub fn root_url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// The SOAP front's URL, `http://127.0.0.1:PORT/webservice/services/ProvisioningService`
    /// (`https://` when the simulator serves HTTPS); its WSDL is this with `?wsdl`.
    pub fn soap_url(&self) -> String {
        format!("{}{}", self.root_url(), crate::soap::SOAP_PATH)
    }

    /// The PEM of the CA that signed the simulator's TLS certificates (the HTTPS listener's
    /// and the OCI-P listener's: one CA), when either serves TLS.
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The OCI-P listener's address, when the simulator was started with one.
    pub fn ocip_addr(&self) -> Option<SocketAddr> {
        self.ocip.as_ref().map(|ocip| ocip.addr)
    }

    /// The OCI-P listener's URL: `ocip://127.0.0.1:PORT`, or `ocips://...` with TLS.
    pub fn ocip_url(&self) -> Option<String> {
        self.ocip.as_ref().map(|ocip| {
            let scheme = if ocip.tls { "ocips" } else { "ocip" };
            format!("{scheme}://{}", ocip.addr)
        })
    }

    /// The PEM of the CA that signed the OCI-P TLS certificate (TLS listeners only).
    pub fn ocip_ca_pem(&self) -> Option<&str> {
        self.ocip.as_ref().and_then(|ocip| ocip.ca_pem.as_deref())
    }

    /// Replaces the OCI-P-only fault switches (both fronts: TCP and SOAP).
    pub fn set_ocip_faults(&self, faults: OcipFaults) {
        self.state.shared.ocip.set_extras(faults);
    }

    /// Replaces the SOAP front's hostile-front faults.
    pub fn set_soap_faults(&self, faults: SoapFaults) {
        self.state.shared.soap.set_faults(faults);
    }

    /// The SOAP front's hostile-front faults in force (`GET /_sim/soap-faults`).
    pub fn soap_faults(&self) -> SoapFaults {
        self.state.shared.soap.faults()
    }

    /// The state behind the server, for anything the other methods do not cover.
    pub fn state(&self) -> &SimState {
        &self.state
    }

    /// The true credentials of one user, or `None` for an unknown user.
    pub fn credentials(&self, user_id: &str) -> Option<Credentials> {
        self.state.credentials(user_id)
    }

    /// The truth about every device, as `GET /_sim/devices` answers it.
    pub fn devices(&self) -> Vec<crate::DeviceTruth> {
        self.state.devices()
    }

    /// The true credentials of every user.
    pub fn all_credentials(&self) -> Vec<Credentials> {
        self.state.all_credentials()
    }

    /// Replaces the fault switches.
    pub fn set_faults(&self, faults: Faults) {
        self.state.set_faults(faults);
    }

    /// The current fault switches.
    pub fn faults(&self) -> Faults {
        self.state.faults()
    }

    /// Every request answered or dropped so far.
    pub fn stats(&self) -> Stats {
        self.state.stats()
    }

    /// Kills every live token, as if they had all expired.
    pub fn revoke_all_tokens(&self) {
        self.state.revoke_all_tokens();
    }

    /// Stops accepting, lets requests in flight finish (for a short while) and waits until the
    /// server has stopped.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(true);
        }
        match self.runner.take() {
            Some(Runner::Task(task)) => {
                let _ = task.await;
                if let Some(ocip_task) = self.ocip_task.take() {
                    let _ = ocip_task.await;
                }
            }
            Some(Runner::Thread(thread)) => {
                let _ = tokio::task::spawn_blocking(move || thread.join()).await;
            }
            None => {}
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(true);
        }
        // A thread-backed server is joined so that the port is free when drop returns; a task
        // stops on its own runtime.
        if let Some(Runner::Thread(thread)) = self.runner.take() {
            let _ = thread.join();
        }
    }
}

/// Accepts connections until told to stop, then gives those still open a grace period.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    state: SimState,
    mut stopped: watch::Receiver<bool>,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            biased;
            _ = stopped.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    let _ = stream.set_nodelay(true);
                    let (app, state, stopped) = (app.clone(), state.clone(), stopped.clone());
                    match &acceptor {
                        Some(acceptor) => {
                            let acceptor = acceptor.clone();
                            connections.spawn(async move {
                                // A client that gives up on the handshake is its own affair.
                                if let Ok(stream) = acceptor.accept(stream).await {
                                    serve_connection(stream, app, state, stopped).await;
                                }
                            });
                        }
                        None => {
                            connections.spawn(serve_connection(stream, app, state, stopped));
                        }
                    }
                }
                Err(error) => {
                    // Out of file descriptors and the like: wait a little rather than spin.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            },
        }
        while connections.try_join_next().is_some() {}
    }
    drop(listener);
    let _ = tokio::time::timeout(GRACE, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
}

/// Serves one connection: the SOAP service's `POST`, the call its clients make for every
/// document, straight to its handler ([`soap::serve_post`]); everything else through the router.
async fn serve_connection<S>(
    stream: S,
    app: Router,
    state: SimState,
    mut stopped: watch::Receiver<bool>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        let (app, state) = (app.clone(), state.clone());
        async move {
            let request = request.map(Body::new);
            let response = if soap::is_post(&request) {
                soap::serve_post(state, request).await
            } else {
                app.oneshot(request)
                    .await
                    .unwrap_or_else(|never: Infallible| match never {})
            };
            if response.extensions().get::<DropConnection>().is_some() {
                Err(ConnectionDropped)
            } else {
                Ok(response)
            }
        }
    });
    // No timer: hyper's header-read timeout would arm and cancel a timer for every request, a
    // cost a loopback test server has no need to pay.
    let connection = http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    tokio::select! {
        _ = connection.as_mut() => {}
        _ = stopped.changed() => {
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
        }
    }
}
