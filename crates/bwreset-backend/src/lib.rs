//! The seam between bwreset's engine and a BroadWorks server.
//!
//! The engine (`bwreset-core`) resets credentials through the [`Backend`] trait and nothing else:
//! it lists a group's users, checks a user, asks for generated values and sets one user's value.
//! A backend (the Odin REST client, the OCI-P client) implements the trait over its own
//! protocol and decides, on its side of the seam, what each refusal of its server *means*
//! ([`ErrorKind`]). The engine reads only the kinds, never a status code or a server's wording.
//!
//! BroadWorks' meaning that both clients share lives here once: where a device is defined
//! ([`DeviceId`], [`DevicePlace`]), what a refusal's wording says ([`wording`]), and how a failed
//! read or group listing is taken ([`BackendError::of_read`], [`BackendError::of_listing`]).
//!
//! The one backoff function of the workspace, [`Backoff`], lives here too, so that a client's
//! retries and the engine's re-sends wait the same way.
//!
//! The device follow-up of a SIP reset (rebuild and reset the phones, then see them register
//! again) has its own trait, [`DeviceBackend`], so that a backend without device support is a
//! compile-time fact.
//!
//! Nothing here performs I/O; the crate is small on purpose, so that both sides can depend on it.

mod backoff;
mod device;
mod error;
mod user_ids;
pub mod wording;

use std::future::Future;

pub use backoff::Backoff;
pub use device::{
    DeviceBackend, DeviceFacts, DeviceId, DeviceLevel, DevicePlace, DeviceRole, RegisteredDevice,
    UserDevice, UserRegistrations,
};
pub use error::{BackendError, ErrorKind};
pub use secrecy::{ExposeSecret, SecretString};
pub use user_ids::UserIdList;

/// The credential a request is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Credential {
    /// The SIP authentication password a phone registers with (needs the Authentication
    /// service).
    SipPassword,
    /// The voice portal (voicemail) passcode: digits only.
    PortalPasscode,
    /// The web portal password.
    WebPassword,
}

/// What a backend learned about one user when checking it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserFacts {
    /// The user's service provider, when the server said.
    pub service_provider_id: Option<String>,
    /// The user's group, when the server said.
    pub group_id: Option<String>,
    /// For [`Credential::SipPassword`]: the SIP authentication user name, which a new password
    /// must not contain.
    pub sip_user_name: Option<String>,
}

/// A group of a service provider (or enterprise) as one request names it: two borrowed
/// strings, copied freely, living no longer than the call. The engine keeps its groups owned
/// (`bwreset_core::GroupRef`, whose `scope()` lends one as a `GroupScope`); whom a whole run
/// targets is `bwreset_core::Scope`, a table of those.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GroupScope<'a> {
    /// The service provider or enterprise.
    pub service_provider_id: &'a str,
    /// The group.
    pub group_id: &'a str,
}

/// The operations a bulk reset needs of a BroadWorks server.
///
/// A backend is cheap to clone (clones share one session, one pacer and one set of counters) and
/// usable from many tasks at once. Every method is one logical request; the backend retries
/// inside it only what the server certainly did not process (see the workspace's `ARCHITECTURE.md`,
/// "Who retries what"), and reports every other failure at once as a [`BackendError`] whose
/// [`ErrorKind`] says what it means for the value sent.
///
/// No method ever puts a password, passcode or session secret in an error, a log line or a
/// `Debug` output.
pub trait Backend: Clone + Send + Sync + 'static {
    /// The server this backend talks to, as recorded in a journal and compared on resume (a URL
    /// without credentials).
    fn server(&self) -> &str;

    /// The IDs of every user of a group, in the server's order, kept compactly (a group may
    /// hold a million users).
    fn group_user_ids(
        &self,
        group: GroupScope<'_>,
    ) -> impl Future<Output = Result<UserIdList, BackendError>> + Send;

    /// The IDs of every group of a service provider (or enterprise), in the server's order: what
    /// a run over "all groups" of it resets. An unknown service provider is
    /// [`ErrorKind::GroupNotFound`]. Changes nothing.
    ///
    /// The default answers [`ErrorKind::Config`]: a backend that cannot list groups serves
    /// every run that names its groups.
    fn service_provider_groups(
        &self,
        service_provider_id: &str,
    ) -> impl Future<Output = Result<Vec<String>, BackendError>> + Send {
        let _ = service_provider_id;
        async {
            Err(BackendError::new(
                ErrorKind::Config,
                None,
                "this backend cannot list the groups of a service provider",
            ))
        }
    }

    /// Checks that a user exists and can take `credential`, and says where the user is. Changes
    /// nothing. For [`Credential::SipPassword`] a user without the Authentication service is
    /// [`ErrorKind::ServiceNotAssigned`] and the facts carry the SIP user name.
    fn check_user(
        &self,
        user_id: &str,
        credential: Credential,
    ) -> impl Future<Output = Result<UserFacts, BackendError>> + Send;

    /// Up to `count` values for `credential` under the group's rules, as the server made them
    /// (checking them is the caller's job). One request; the answer may hold fewer. Changes
    /// nothing.
    fn generate(
        &self,
        credential: Credential,
        group: GroupScope<'_>,
        count: usize,
    ) -> impl Future<Output = Result<Vec<SecretString>, BackendError>> + Send;

    /// Whether values for `credential` are now best made one per user, by
    /// [`Backend::generate_for`]: a generator told the user (OCI-P's `PasswordGenerateRequest`
    /// with a `userId`) applies the user's own rules (history, the SIP user name) as well as the
    /// group's. It may change during a run (a server that refuses the command). The default is
    /// `false`: values come from [`Backend::generate`], in batches.
    fn generates_per_user(&self, credential: Credential) -> bool {
        let _ = credential;
        false
    }

    /// One value for `credential` of `user_id`, a user of the group, under the group's rules and
    /// the user's own, as the server made it (checking it is the caller's job; an empty text is
    /// a value that is no use). `Ok(None)`: this backend makes no values per user (any more);
    /// take one from [`Backend::generate`]. Changes nothing.
    ///
    /// The default answers `Ok(None)`.
    fn generate_for(
        &self,
        credential: Credential,
        group: GroupScope<'_>,
        user_id: &str,
    ) -> impl Future<Output = Result<Option<SecretString>, BackendError>> + Send {
        let _ = (credential, group, user_id);
        async { Ok(None) }
    }

    /// Sets one user's `credential` to `value` (an administrator's change: no old value).
    fn set(
        &self,
        credential: Credential,
        user_id: &str,
        value: &SecretString,
    ) -> impl Future<Output = Result<(), BackendError>> + Send;

    /// Sets one user's SIP password and, when `user_name` is given, a new SIP authentication
    /// user name with it, in one request (both halves change together or neither does). A name
    /// another user holds is [`ErrorKind::UserNameTaken`]. Without a name it is
    /// [`Backend::set`] of [`Credential::SipPassword`].
    ///
    /// The default serves `None` only and answers [`ErrorKind::Config`] for a name: a backend
    /// that cannot change names says so before anything is sent.
    fn set_sip_credentials(
        &self,
        user_id: &str,
        user_name: Option<&str>,
        password: &SecretString,
    ) -> impl Future<Output = Result<(), BackendError>> + Send {
        async move {
            match user_name {
                None => self.set(Credential::SipPassword, user_id, password).await,
                Some(_) => Err(BackendError::new(
                    ErrorKind::Config,
                    None,
                    "this backend cannot change a SIP authentication user name",
                )),
            }
        }
    }

    /// The user's current SIP authentication user name (`None`: the server gave none), by a
    /// read that reveals no secret: what settles whether an uncertain change of the name took
    /// effect. Errors as [`Backend::check_user`]'s for [`Credential::SipPassword`].
    ///
    /// The default reads it through [`Backend::check_user`].
    fn sip_user_name(
        &self,
        user_id: &str,
    ) -> impl Future<Output = Result<Option<String>, BackendError>> + Send {
        async move {
            self.check_user(user_id, Credential::SipPassword)
                .await
                .map(|facts| facts.sip_user_name)
        }
    }
}
