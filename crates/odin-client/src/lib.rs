//! A typed async client for the slice of the Odin REST API (Cisco BroadWorks) that bwreset
//! speaks: login, users, generators and the three credential setters.
//!
//! ```no_run
//! # async fn example() -> Result<(), odin_client::Error> {
//! use odin_client::{ClientConfig, GroupScope, OdinClient, SecretString};
//!
//! let config = ClientConfig::new(
//!     "https://tenant.prod.odinapi.net/api/v2",
//!     "admin",
//!     SecretString::from("password from a prompt"),
//! );
//! let client = OdinClient::login(config).await?;
//! let scope = GroupScope { service_provider_id: "sp", group_id: "group" };
//! let values = client.generate_passcodes(scope, 10).await?;
//! client.set_portal_passcode("user@example.com", &values[0]).await?;
//! # Ok(())
//! # }
//! ```
//!
//! # One client, many requests
//!
//! [`OdinClient`] is cheap to clone; clones share one pooled keep-alive connection pool, one
//! token, one pacer and one set of counters ([`OdinClient::metrics`]). It never prints and
//! never reads the environment; it logs through `tracing` only: method, route path (never the
//! query), status, attempt and elapsed time at debug level, and at trace level the *names* of
//! body fields. No value of a password, passcode or token ever reaches a log line, an error
//! message or a `Debug` output.
//!
//! # Authentication
//!
//! [`OdinClient::login`] posts the credentials to `POST /auth/token`; every other call carries
//! the bearer token. When the token is a JWT with a readable `exp`, it is refreshed with
//! `PUT /auth/token` shortly before it expires (a fifth of its remaining lifetime, between 5 s and
//! 5 min, early); an opaque token or an unreadable `exp` means no proactive refresh. On a 401 the
//! client logs in again and repeats the call, up to three times in one call (a token can die
//! again while a call waits out a backoff or a pause, when tokens live that briefly). The
//! re-login is single-flight: callers that see a 401 for the same token wait for one shared login
//! instead of each logging in. A 401 after the third, or a refused login, is
//! [`Error::Unauthorized`].
//!
//! # As a bwreset backend
//!
//! [`OdinClient`] implements `bwreset_backend::Backend`, the seam the engine works through
//! (`src/backend.rs`): the group listing, a user check (`GET /users/authentication` for SIP,
//! which gives existence, the Authentication service, the group and the SIP user name;
//! `GET /users?userId=` otherwise), the generators (`GET /password/generate` for SIP and web
//! passwords, under the group's rules; `GET /passcode/generate`), the three setters, a SIP
//! password with a new authentication user name (`PUT /users/authentication` with `userName`)
//! and the read of a user's current name. It is also where Odin's answers are read for what they mean (`bwreset_backend::ErrorKind`): a 400
//! whose details say "Invalid password"/"Invalid passcode" is a rule rejection, and a history
//! rejection when they say "old password", "old passcode" or "last N passwords/passcodes" (but
//! not "reverse"); "User name already in use" is a taken SIP user name; "User not found", "Service not assigned", "Group not found" and "Service
//! provider not found" name what was missing; a 4xx without BroadWorks' `[Error NNNN]` text is
//! an unclear refusal (a proxy's page); transport failures, undecodable answers and 5xx other
//! than 503 are ambiguous; no connection is unreachable; 429 and 503 are unavailable. For reads
//! the client has already retried every failure of the exchange, so what is left of those is
//! unavailable; only an answer it could not understand stays ambiguous.
//!
//! # Retries
//!
//! Failed attempts are retried with exponential backoff and full jitter ([`RetryPolicy`], over
//! the workspace's one `bwreset_backend::Backoff`),
//! bounded in attempts and in total time. A `Retry-After` (seconds or an HTTP date) on 429 or 503
//! replaces the backoff; answers 429/503 do not use up attempts (the server did not process the
//! request) but stay bounded by `max_elapsed` and a hard ceiling.
//!
//! - Reads, generators, login and logout are retried on every retryable error
//!   ([`Error::is_retryable`]: no connection, transport failure, 429, 5xx). The login goes
//!   through the same call path as every other request.
//! - A TLS handshake that fails for good ([`Error::Tls`]: a certificate not trusted, for another
//!   host name or expired; no common TLS version) is never retried: nothing was sent, and trying
//!   again cannot change the answer.
//! - The first contact, the login of [`OdinClient::login`], waits for its answer at most
//!   [`ClientConfig::first_answer_timeout`] (and for a connection at most
//!   [`ClientConfig::connect_timeout`]); silence there is [`Error::Timeout`] at once, not retried.
//!   Later, a timeout is a [`Error::Connect`] or [`Error::Transport`] and follows their rules.
//! - Setters are retried only where nothing can have been applied: no connection, 429 and 503.
//!   Every other failure comes back at once, and [`Error::may_have_applied`] tells the caller
//!   whether the value may be in effect (then it should send the same value again and read
//!   the answer; a "same as the old value" rejection proves it is).
//!
//! # Pacing
//!
//! All requests of a client pass one pacer: at most [`PacingConfig::max_in_flight`] in flight,
//! at most [`PacingConfig::max_rate`] per second if set, and an adaptive rate. On a 429 (or a 503
//! with `Retry-After`) the whole client pauses for the `Retry-After` time, then goes on at a
//! little below the rate the server accepted, which climbs back gradually while answers are
//! clean and is dropped when the server no longer objects. A 503 without `Retry-After` is treated
//! as a server failure of that request (backed off and retried) rather than as a request to slow
//! everything down: injected or transient failures should not starve the run.
//!
//! # Transport safety
//!
//! TLS (rustls with the `ring` provider) is verified by default; [`TlsConfig`] adds a private CA
//! or, dangerously, turns verification off. [`inspect_certificate`] shows an operator the
//! certificate a server presents (trusted or not) without sending anything. The only proxy used
//! is [`ClientConfig::proxy`]; [`ProxyVariables`] decides it from `HTTPS_PROXY` and its kin the
//! way curl does, from variables the caller hands over (loopback always goes directly). Plain `http://` is refused for anything but a
//! loopback host unless [`ClientConfig::allow_plain_http`]. Redirects are never followed (a 3xx
//! is an [`Error::Api`] naming the other host), so credentials only go to the configured host.
//! Connect and request timeouts apply to every request, and answer bodies are read in chunks up
//! to [`ClientConfig::max_body_bytes`]. The one answer that grows with the size of a run, the
//! group listing, has its own method, [`OdinClient::group_user_ids`], which decodes it as it
//! arrives, keeps only the user IDs, and reads up to [`ClientConfig::max_listing_bytes`].
//!
//! # Hostile answers
//!
//! Nothing a server sends makes the client panic. Non-JSON error bodies keep their status and
//! their first 300 bytes, control characters removed; a 2xx whose body is an error object is an
//! [`Error::Api`]; a 2xx that cannot be decoded is an [`Error::Decode`] whose message describes
//! the problem without quoting the data; an answer naming a different user than the one asked
//! about is an [`Error::Decode`]. Generated values come back exactly as the server sent them
//! (as [`SecretString`]s): checking them is the caller's job.

mod backend;
mod call;
mod client;
mod config;
mod devices;
mod error;
mod http;
mod listing;
mod metrics;
mod pacing;
mod probe;
mod proxy;
mod token;
mod types;
mod wire;
mod x509;

pub use client::OdinClient;
pub use config::{ClientConfig, PacingConfig, RetryPolicy, TlsConfig};
pub use devices::{
    AccessDevice, AccessDeviceEndpoint, DeviceRegistration, DeviceUserEntry, SharedCallAppearance,
    UserEndpoint, UserRegistration,
};
pub use error::{Error, TlsProblem};
pub use metrics::ClientMetrics;
pub use probe::{ServerCertificate, inspect_certificate};
pub use proxy::{ProxyVariables, redact_proxy_url};
pub use secrecy::{ExposeSecret, SecretString};
pub use types::{AssignedServices, GroupScope, SessionInfo, User, UserAuthentication};
pub use x509::{CertificateSummary, format_utc};
