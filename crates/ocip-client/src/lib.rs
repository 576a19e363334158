//! A typed async client for the slice of OCI-P (BroadWorks' own provisioning protocol: XML
//! documents over TCP or TLS) that bwreset speaks, and its implementation of the seam
//! [`bwreset_backend::Backend`] and of the device follow-up's [`bwreset_backend::DeviceBackend`]
//! (`devices.rs`).
//!
//! - **Transport.** `ocips://host[:2209]`: TLS by rustls (ring), the system's roots or the CA
//!   given ([`OcipConfig::ca_cert_pem`]). `ocip://host[:2208]`: plain TCP, to loopback only
//!   unless [`OcipConfig::allow_plaintext`], because every new password would cross the network
//!   in clear. `https://host/webservice/services/ProvisioningService` (or any `http(s)://` path
//!   with [`OcipConfig::soap`]): the same documents over SOAP (`soap.rs`), HTTP/1.1 keep-alive
//!   through reqwest, verified as for Odin ([`OcipConfig::insecure`], [`OcipConfig::proxy`]).
//!   The pool holds sessions over either link (`connection.rs`); everything above a document's
//!   exchange is shared.
//! - **Session.** Each connection logs in (the signed login, or `LoginRequest22V5` over TLS when
//!   asked; over SOAP each session with its own `JSESSIONID` cookie and sessionId); a small pool
//!   keeps them; a connection that fails or loses its login is dropped and
//!   the next one logs in again.
//! - **Documents.** Up to 15 commands each. Concurrent single commands (the engine's setters,
//!   pre-checks and values made per user) wait in a batcher that fills a document whenever a connection frees up; each
//!   caller gets its own command's answer, and a document whose answer is lost leaves every
//!   command in it uncertain.
//! - **Secrets** (passwords, passcodes, the signed hash) never reach a log line or an error:
//!   the documents logged at trace level are written with `[redacted]` in their place, and a
//!   value echoed in a server's refusal is replaced before it is kept.
//! - **Commands.** One function per command bwreset sends, in `commands.rs`: the request built
//!   from typed arguments, the answer read into a typed value; nothing else spells an element
//!   name. The client carries commands; the connection underneath carries documents (a
//!   document in, a document out).
//! - **Errors.** [`Error`] here, with [`Error::may_have_been_processed`], on which the setters'
//!   retry rule rests; what each error means for a reset ([`bwreset_backend::ErrorKind`]) is
//!   decided in one place, `backend.rs`, with the seam's wording classifier.
//!
//! The contract is the shared OCI-P specification; `docs/ocip.md` says how the simulator plays
//! it.

mod backend;
mod client;
mod commands;
mod config;
mod connection;
mod devices;
mod error;
mod generate;
mod probe;
mod soap;
mod xml;

pub use client::{Counts, LogoutAnswers, OcipClient};
pub use config::{
    MAX_COMMANDS_PER_DOCUMENT, OcipConfig, PLAIN_PORT, SOAP_SERVICE_PATH, TLS_PORT, is_ocip_url,
    is_soap_url,
};
pub use error::{Error, ErrorResponse};
pub use probe::{ServerAddress, answers_plain_ocip, server_address};
