//! odin-sim: an in-memory simulator of the slice of the Odin API (the REST front end of Cisco
//! BroadWorks) that bwreset speaks, with BroadWorks' credential rules, phones that must be
//! rebuilt and reset after a SIP change (`devices`), truth endpoints for tests and switchable
//! faults.
//!
//! The contract it implements is docs/odin-api.md; its OCI-P front ([`ocip`], docs/ocip.md)
//! serves the same world over BroadWorks' own XML protocol, on a TCP listener of its own and as
//! a SOAP web service on the HTTP listener (`/webservice/services/ProvisioningService`). Tests start it with [`spawn`] (or
//! [`SimHandle::start_in_thread`]) on `127.0.0.1:0` and point a client at
//! [`SimHandle::base_url`]; in-process tests call [`router`] with a [`SimState`].

mod api;
mod changes;
pub mod cli;
mod config;
mod device_routes;
pub mod devices;
mod faults;
pub mod generate;
pub mod ocip;
mod reply;
pub mod rules;
mod server;
mod soap;
mod state;
mod stats;
mod tokens;
mod truth;
mod world;

pub use api::router;
pub use config::SimConfig;
pub use devices::{
    DeviceError, DeviceLevel, DevicePlace, DeviceRef, DeviceSettings, DeviceSpec, DeviceTruth,
    DeviceUser, Registration, UserDevice,
};
pub use faults::Faults;
pub use ocip::{OcipFaults, OcipFrontConfig, Release};
pub use server::{SimHandle, spawn};
pub use soap::{FrontFault, SoapFaults};
pub use state::SimState;
pub use stats::{RequestCount, Stats};
pub use truth::{Changes, Credentials};
pub use world::{AUTHENTICATION, GroupSpec, ServiceProviderSpec, SipUserName, UserSpec, WorldSpec};

/// What Debug output shows in place of a password, passcode or token.
pub(crate) const REDACTED: &str = "[redacted]";

/// `Some("[redacted]")` for a present secret, so that Debug output still tells set from unset.
pub(crate) fn redact(secret: &Option<String>) -> Option<&'static str> {
    secret.as_ref().map(|_| REDACTED)
}

/// Marks a response that must not be sent: the connection is closed instead (the `drop_rate`
/// fault). In-process tests see it in the response's extensions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DropConnection;

/// What can go wrong when starting the simulator.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The world (fixture or spec) is inconsistent or malformed.
    #[error("invalid world: {message}")]
    InvalidWorld { message: String },
    /// A fault setting is out of range.
    #[error("invalid faults: {message}")]
    InvalidFaults { message: String },
    /// The listening socket could not be opened.
    #[error("cannot listen on `{addr}`")]
    Bind {
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// The runtime or thread that serves requests could not be started.
    #[error("cannot start the server")]
    Start(#[source] std::io::Error),
}
