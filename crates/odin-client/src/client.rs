//! [`OdinClient`]: one method per endpoint. Every request goes through one call path
//! (`call.rs`: the token, the 401 rule, the retries); the token's life cycle is in `token.rs`
//! and the HTTP client is built in `http.rs`.

use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use reqwest::Method;
use secrecy::zeroize::Zeroizing;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::{Level, debug, trace};

use crate::Error;
use crate::call::{Body, Call, Kind};
use crate::config::{ClientConfig, RetryPolicy};
use crate::listing::{Collect, Listing, SinkError};
use crate::metrics::{ClientMetrics, Counters};
use crate::pacing::Pacer;
use crate::token::TokenState;
use crate::types::{
    AssignedServices, GeneratorAnswer, GroupScope, ListedUser, NamesUser, SessionInfo, User,
    UserAuthentication,
};
use crate::wire;
use bwreset_backend::UserIdList;

/// The typed async client. Cheap to clone: clones share the connection pool, the token, the
/// pacing and the counters.
#[derive(Clone)]
pub struct OdinClient {
    pub(crate) inner: Arc<Inner>,
}

impl fmt::Debug for OdinClient {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("OdinClient")
            .field("base_url", &self.inner.base_url)
            .field("username", &self.inner.username)
            .finish_non_exhaustive()
    }
}

/// What the clones of one client share.
pub(crate) struct Inner {
    pub(crate) http: reqwest::Client,
    pub(crate) base_url: String,
    /// `base_url`, parsed once.
    pub(crate) base: url::Url,
    pub(crate) username: String,
    pub(crate) password: SecretString,
    pub(crate) retry: RetryPolicy,
    pub(crate) connect_timeout: Duration,
    pub(crate) first_answer_timeout: Duration,
    pub(crate) max_body_bytes: usize,
    pub(crate) max_listing_bytes: usize,
    /// The current token; read on every request (a short read lock, never held across awaits).
    pub(crate) token: RwLock<Arc<TokenState>>,
    /// Held while a login or refresh is under way, so that concurrent 401s share one re-login.
    pub(crate) auth_lock: tokio::sync::Mutex<()>,
    pub(crate) pacer: Pacer,
    pub(crate) counters: Counters,
}
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NewPasswordBody<'a> {
    user_id: &'a str,
    new_password: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NewSipCredentialsBody<'a> {
    user_id: &'a str,
    user_name: &'a str,
    new_password: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NewPasscodeBody<'a> {
    user_id: &'a str,
    new_passcode: &'a str,
}

#[derive(Serialize)]
struct LogoutBody<'a> {
    token: &'a str,
}

impl OdinClient {
    /// Checks the configuration, builds the pooled HTTP client and logs in (`POST /auth/token`).
    ///
    /// Fails with [`Error::Config`] for an unusable configuration, [`Error::Unauthorized`] when
    /// the server refuses the credentials, or the error of the last login attempt.
    pub async fn login(config: ClientConfig) -> Result<Self, Error> {
        let base_url = wire::normalise_base_url(&config.base_url, config.allow_plain_http)?;
        let base = url::Url::parse(&base_url)
            .map_err(|error| Error::config(format!("base url is not a valid url: {error}")))?;
        let http = crate::http::build_http_client(&config)?;
        let placeholder = TokenState::new(SecretString::from("not-logged-in"), 0)?;
        let client = Self {
            inner: Arc::new(Inner {
                http,
                base_url,
                base,
                username: config.username,
                password: config.password,
                retry: config.retry,
                connect_timeout: config.connect_timeout,
                first_answer_timeout: config.first_answer_timeout,
                max_body_bytes: config.max_body_bytes.max(1024),
                max_listing_bytes: config.max_listing_bytes.max(config.max_body_bytes),
                token: RwLock::new(Arc::new(placeholder)),
                auth_lock: tokio::sync::Mutex::new(()),
                pacer: Pacer::new(config.pacing.max_in_flight, config.pacing.max_rate),
                counters: Counters::default(),
            }),
        };
        let token = client.inner.login_token(true).await?;
        client.inner.store_token(TokenState::new(token, 1)?);
        debug!(base_url = %client.inner.base_url, "logged in");
        Ok(client)
    }

    /// The base URL in use, without a trailing `/`.
    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    /// `GET /auth/session`: who is logged in.
    pub async fn session(&self) -> Result<SessionInfo, Error> {
        let call = Call::get("/auth/session", &[]);
        let body = self.inner.call(&call).await?;
        decode(&body, &call)
    }

    /// `POST /auth/token/logout`: the token is dead afterwards. A 401 counts as done (the token
    /// was dead already). Later calls on this client would log in again.
    pub async fn logout(&self) -> Result<(), Error> {
        let current = self.inner.current_token();
        let body = Zeroizing::new(
            serde_json::to_vec(&LogoutBody {
                token: current.token.expose_secret(),
            })
            .map_err(|_| Error::config("could not encode the logout request"))?,
        );
        let call = Call::with_body(
            Method::POST,
            "/auth/token/logout",
            Some(&body),
            "token",
            Kind::Logout,
        );
        match self.inner.call(&call).await {
            Ok(_) | Err(Error::Unauthorized { .. }) => Ok(()),
            Err(error) => Err(error),
        }
    }

    /// `GET /users?serviceProviderId=&groupId=`: every user of a group.
    pub async fn group_users(
        &self,
        service_provider_id: &str,
        group_id: &str,
    ) -> Result<Vec<User>, Error> {
        let query = [
            ("serviceProviderId", service_provider_id),
            ("groupId", group_id),
        ];
        let call = Call::get("/users", &query);
        let body = self.inner.call(&call).await?;
        match first_byte(&body) {
            Some(b'{') => Ok(vec![decode(&body, &call)?]),
            _ => decode(&body, &call),
        }
    }

    /// `GET /users?serviceProviderId=&groupId=`: the `userId` of every user of a group, in the
    /// order listed.
    ///
    /// Unlike [`Self::group_users`], the answer is decoded as it arrives, one user at a time, and
    /// only the IDs are kept: a listing of 100,000 users (some 18 MB of JSON) costs the memory of
    /// its IDs, not of its text. Each user's entry may be up to
    /// [`ClientConfig::max_body_bytes`](crate::ClientConfig::max_body_bytes) long and the whole
    /// answer up to [`ClientConfig::max_listing_bytes`](crate::ClientConfig::max_listing_bytes).
    pub async fn group_user_ids(
        &self,
        service_provider_id: &str,
        group_id: &str,
    ) -> Result<UserIdList, Error> {
        let query = [
            ("serviceProviderId", service_provider_id),
            ("groupId", group_id),
        ];
        let call = Call::get("/users", &query);
        let mut listing = Listing::<ListedUser, ListedIds>::new(
            self.inner.max_body_bytes,
            self.inner.max_listing_bytes,
        );
        self.inner.call_into(&call, &mut listing).await?;
        let users = listing.finish().map_err(|problem| match problem {
            SinkError::Decode(problem) => {
                Error::decode(format!("the answer to {} {problem}", call.name()))
            }
            SinkError::TooLarge { limit } => Error::decode(format!(
                "the answer to {} is larger than the limit of {limit} bytes",
                call.name()
            )),
        })?;
        let users = users.0;
        if tracing::enabled!(Level::TRACE) {
            trace!(method = %call.method, route = call.route, users = users.len(), "group listing");
        }
        Ok(users)
    }

    /// `GET /groups?serviceProviderId=`: the `groupId` of every group of a service provider (or
    /// enterprise), in the order listed. An unknown service provider is an [`Error::Api`]
    /// (`[Error 4006]`).
    pub async fn service_provider_group_ids(
        &self,
        service_provider_id: &str,
    ) -> Result<Vec<String>, Error> {
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct ListedGroup {
            group_id: String,
        }
        let query = [("serviceProviderId", service_provider_id)];
        let call = Call::get("/groups", &query);
        let body = self.inner.call(&call).await?;
        let groups: Vec<ListedGroup> = match first_byte(&body) {
            Some(b'{') => vec![decode(&body, &call)?],
            _ => decode(&body, &call)?,
        };
        Ok(groups.into_iter().map(|group| group.group_id).collect())
    }

    /// `GET /users?userId=`: one user; an unknown user is an [`Error::Api`] (`[Error 4008]`).
    pub async fn user(&self, user_id: &str) -> Result<User, Error> {
        self.one_user(user_id).await
    }

    /// `GET /users?userId=` decoded as `T`: the answer's entry for this user (leniently, a list
    /// holding it), refused as [`Error::Decode`] when it names another user.
    pub(crate) async fn one_user<T: AboutOneUser>(&self, user_id: &str) -> Result<T, Error> {
        let query = [("userId", user_id)];
        let call = Call::get("/users", &query);
        let body = self.inner.call(&call).await?;
        if first_byte(&body) == Some(b'[') {
            // Leniently, a list: the entry for this user.
            let users: Vec<T> = decode(&body, &call)?;
            return users
                .into_iter()
                .find(|user| same_user(user.user_id(), user_id))
                .ok_or_else(|| {
                    Error::decode(format!(
                        "the answer to {} does not list user `{}`",
                        call.name(),
                        wire::sanitise(user_id, 200)
                    ))
                });
        }
        let user: T = decode(&body, &call)?;
        check_same_user(Some(user.user_id()), user_id, &call)?;
        Ok(user)
    }

    /// `GET /users/services/assigned?userId=`: the user's and group's services.
    pub async fn assigned_services(&self, user_id: &str) -> Result<AssignedServices, Error> {
        let query = [("userId", user_id)];
        let call = Call::get("/users/services/assigned", &query);
        let body = self.inner.call(&call).await?;
        let services: AssignedServices = decode(&body, &call)?;
        check_same_user(Some(&services.user_id), user_id, &call)?;
        Ok(services)
    }

    /// `GET /users/authentication?userId=`: the SIP authentication `userName`. For a user without
    /// the Authentication service the server answers an error (`[Error 4410]`).
    pub async fn user_authentication(&self, user_id: &str) -> Result<UserAuthentication, Error> {
        let query = [("userId", user_id)];
        let call = Call::get("/users/authentication", &query);
        let body = self.inner.call(&call).await?;
        let authentication: UserAuthentication = decode(&body, &call)?;
        check_same_user(Some(&authentication.user_id), user_id, &call)?;
        Ok(authentication)
    }

    /// `GET /password/generate`: up to `limit` web (or SIP) passwords under the group's rules
    /// (the system's without a scope). One call; the answer may hold fewer than `limit` values
    /// (the caller asks again). Values are returned as the server sent them (empty, duplicated or
    /// odd ones included; filtering is the caller's job), never more than `limit`.
    pub async fn generate_passwords(
        &self,
        scope: Option<GroupScope<'_>>,
        limit: usize,
    ) -> Result<Vec<SecretString>, Error> {
        self.generate("/password/generate", scope, limit, false)
            .await
    }

    /// `GET /passcode/generate`: up to `limit` voice portal passcodes (see
    /// [`Self::generate_passwords`]).
    pub async fn generate_passcodes(
        &self,
        scope: GroupScope<'_>,
        limit: usize,
    ) -> Result<Vec<SecretString>, Error> {
        self.generate("/passcode/generate", Some(scope), limit, true)
            .await
    }

    /// `GET /sip-password/generate` (its parameters are unverified on real Odin; bwreset uses
    /// [`Self::generate_passwords`] for SIP, as the published bulk reset does).
    pub async fn generate_sip_passwords(
        &self,
        scope: Option<GroupScope<'_>>,
        limit: usize,
    ) -> Result<Vec<SecretString>, Error> {
        self.generate("/sip-password/generate", scope, limit, false)
            .await
    }

    async fn generate(
        &self,
        route: &'static str,
        scope: Option<GroupScope<'_>>,
        limit: usize,
        passcodes: bool,
    ) -> Result<Vec<SecretString>, Error> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let limit_text = limit.to_string();
        let mut query = Vec::with_capacity(3);
        if let Some(scope) = scope {
            query.push(("serviceProviderId", scope.service_provider_id));
            query.push(("groupId", scope.group_id));
        }
        query.push(("limit", limit_text.as_str()));
        let call = Call::get(route, &query);
        let body = self.inner.call(&call).await?;
        let answer: GeneratorAnswer = decode(&body, &call)?;
        let (singular, plural) = if passcodes {
            ("passcode", "passcodes")
        } else {
            ("password", "passwords")
        };
        let mut values = answer.into_values(passcodes).ok_or_else(|| {
            Error::decode(format!(
                "the answer to {} holds neither `{singular}` nor `{plural}`",
                call.name()
            ))
        })?;
        values.truncate(limit);
        Ok(values)
    }

    /// `PUT /users/authentication`: sets the user's SIP authentication password.
    ///
    /// Retried inside the client only where nothing can have been applied (no connection, 429,
    /// 503). Any other failure comes back at once; where [`Error::may_have_applied`] is true the
    /// caller should send the same value again and read the answer.
    pub async fn set_sip_password(
        &self,
        user_id: &str,
        password: &SecretString,
    ) -> Result<(), Error> {
        let body = encode_secret_body(&NewPasswordBody {
            user_id,
            new_password: password.expose_secret(),
        })?;
        self.set(
            "/users/authentication",
            user_id,
            &body,
            "userId,newPassword",
        )
        .await
    }

    /// `PUT /users/authentication` with `userName`: sets the user's SIP authentication user name
    /// and password together (both change or neither does; a name another user holds is
    /// refused). The same retry rules as [`Self::set_sip_password`].
    pub async fn set_sip_credentials(
        &self,
        user_id: &str,
        user_name: &str,
        password: &SecretString,
    ) -> Result<(), Error> {
        let body = encode_secret_body(&NewSipCredentialsBody {
            user_id,
            user_name,
            new_password: password.expose_secret(),
        })?;
        self.set(
            "/users/authentication",
            user_id,
            &body,
            "userId,userName,newPassword",
        )
        .await
    }

    /// `PUT /users/portal-passcode`: sets the user's voice portal passcode (see
    /// [`Self::set_sip_password`] for the retry rules).
    pub async fn set_portal_passcode(
        &self,
        user_id: &str,
        passcode: &SecretString,
    ) -> Result<(), Error> {
        let body = encode_secret_body(&NewPasscodeBody {
            user_id,
            new_passcode: passcode.expose_secret(),
        })?;
        self.set(
            "/users/portal-passcode",
            user_id,
            &body,
            "userId,newPasscode",
        )
        .await
    }

    /// `PUT /users/passwords`: sets the user's web portal password (see
    /// [`Self::set_sip_password`] for the retry rules).
    pub async fn set_web_password(
        &self,
        user_id: &str,
        password: &SecretString,
    ) -> Result<(), Error> {
        let body = encode_secret_body(&NewPasswordBody {
            user_id,
            new_password: password.expose_secret(),
        })?;
        self.set("/users/passwords", user_id, &body, "userId,newPassword")
            .await
    }

    async fn set(
        &self,
        route: &'static str,
        user_id: &str,
        body: &[u8],
        body_fields: &'static str,
    ) -> Result<(), Error> {
        let call = Call::with_body(Method::PUT, route, Some(body), body_fields, Kind::Setter);
        let answer = self.inner.call(&call).await?;
        match first_byte(&answer) {
            // An empty 2xx body (204-style) is a plain success.
            None => {}
            // Decoded straight into the one field looked at (no intermediate JSON value: this is
            // the one answer every user gets).
            Some(b'{') => {
                let named: NamesUser = decode(&answer, &call)?;
                check_same_user(named.user_id.as_deref(), user_id, &call)?;
            }
            Some(_) => {
                let _: serde::de::IgnoredAny = decode(&answer, &call)?;
            }
        }
        Ok(())
    }

    /// A snapshot of the counters.
    pub fn metrics(&self) -> ClientMetrics {
        self.inner
            .counters
            .snapshot(self.inner.pacer.adaptive_rate())
    }
}

fn encode_secret_body(body: &impl Serialize) -> Result<Body, Error> {
    serde_json::to_vec(body)
        .map(Zeroizing::new)
        .map_err(|_| Error::config("could not encode the request body"))
}

/// An answer about one user, which names the user it is about.
pub(crate) trait AboutOneUser: DeserializeOwned {
    fn user_id(&self) -> &str;
}

impl AboutOneUser for User {
    fn user_id(&self) -> &str {
        &self.user_id
    }
}

pub(crate) fn decode<T: DeserializeOwned>(body: &[u8], call: &Call<'_>) -> Result<T, Error> {
    serde_json::from_slice(body)
        .map_err(|error| Error::decode(wire::describe_json_error(&error, &call.name())))
}

pub(crate) fn first_byte(body: &[u8]) -> Option<u8> {
    body.iter()
        .copied()
        .find(|byte| !byte.is_ascii_whitespace())
}

/// BroadWorks user IDs compare without regard to ASCII case.
pub(crate) fn same_user(answered: &str, asked: &str) -> bool {
    answered.trim().eq_ignore_ascii_case(asked.trim())
}

/// An answer about somebody else is an error, never silently accepted.
pub(crate) fn check_same_user(
    answered: Option<&str>,
    asked: &str,
    call: &Call<'_>,
) -> Result<(), Error> {
    match answered {
        Some(answered) if !same_user(answered, asked) => Err(Error::decode(format!(
            "the answer to {} names user `{}`, not the user asked for, `{}`",
            call.name(),
            wire::sanitise(answered, 200),
            wire::sanitise(asked, 200)
        ))),
        _ => Ok(()),
    }
}

/// A group listing's IDs, kept compactly as each user's entry is decoded.
#[derive(Default)]
struct ListedIds(UserIdList);

impl Collect<ListedUser> for ListedIds {
    fn add(&mut self, user: ListedUser) {
        self.0.push(&user.user_id);
    }

    fn count(&self) -> usize {
        self.0.len()
    }
}
