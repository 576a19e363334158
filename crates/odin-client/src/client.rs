//! [`OdinClient`]: login, the token's life cycle, one method per endpoint, and the retry loop
//! around every request.

use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime};

use reqwest::Method;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, LOCATION, RETRY_AFTER};
use secrecy::zeroize::Zeroizing;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::{Level, debug, trace, warn};

use crate::Error;
use crate::config::{ClientConfig, RetryPolicy};
use crate::listing::{AnswerSink, Buffered, Listing, SinkError};
use crate::metrics::{ClientMetrics, Counters};
use crate::pacing::Pacer;
use crate::token::{REFRESH_RETRY_PAUSE, TokenState};
use crate::types::{
    AssignedServices, GeneratorAnswer, GroupScope, ListedUser, NamesUser, SessionInfo, User,
    UserAuthentication,
};
use crate::wire::{self, BodyError};

/// Throttled answers (429, 503) may be retried this many times per allowed attempt: the server
/// said it did not process them, so they are bounded mainly by the policy's `max_elapsed`.
const THROTTLED_TRIES_PER_ATTEMPT: u32 = 10;
/// Error bodies are read up to this size only (their first few hundred bytes are kept).
const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;
/// Fresh logins one call may wait for after 401 answers. More than one: a token, even one just
/// issued, can die again while the call waits (a retry's backoff, a rate limit's pause) when
/// tokens live that briefly. A refused login is final at once.
const MAX_RELOGINS_PER_CALL: u32 = 3;

type Body = Zeroizing<Vec<u8>>;

/// The typed async client. Cheap to clone: clones share the connection pool, the token, the
/// pacing and the counters.
#[derive(Clone)]
pub struct OdinClient {
    inner: Arc<Inner>,
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

struct Inner {
    http: reqwest::Client,
    base_url: String,
    /// `base_url`, parsed once.
    base: url::Url,
    username: String,
    password: SecretString,
    retry: RetryPolicy,
    max_body_bytes: usize,
    max_listing_bytes: usize,
    /// The current token; read on every request (a short read lock, never held across awaits).
    token: RwLock<Arc<TokenState>>,
    /// Held while a login or refresh is under way, so that concurrent 401s share one re-login.
    auth_lock: tokio::sync::Mutex<()>,
    pacer: Pacer,
    counters: Counters,
}

/// What a request is, for the retry rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// No state change: retried on every retryable error.
    Read,
    /// A state change: retried only where nothing can have been applied.
    Setter,
    /// `POST /auth/token`.
    Login,
    /// `PUT /auth/token`: one attempt, the old token stays usable if it fails.
    Refresh,
    /// `POST /auth/token/logout`.
    Logout,
}

/// One request to make.
struct Call<'a> {
    method: Method,
    route: &'static str,
    query: &'a [(&'static str, &'a str)],
    body: Option<&'a [u8]>,
    /// Names of the body's fields, for trace logs (never their values).
    body_fields: &'static str,
    kind: Kind,
}

impl<'a> Call<'a> {
    fn get(route: &'static str, query: &'a [(&'static str, &'a str)]) -> Self {
        Self {
            method: Method::GET,
            route,
            query,
            body: None,
            body_fields: "",
            kind: Kind::Read,
        }
    }

    /// `METHOD route` for messages.
    fn name(&self) -> String {
        format!("`{} {}`", self.method, self.route)
    }
}

/// A failed attempt and the `Retry-After` that came with it.
struct Failure {
    error: Error,
    retry_after: Option<Duration>,
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Self {
            error,
            retry_after: None,
        }
    }
}

#[derive(Serialize)]
struct LoginBody<'a> {
    username: &'a str,
    password: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NewPasswordBody<'a> {
    user_id: &'a str,
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

#[derive(serde::Deserialize)]
struct TokenAnswer {
    #[serde(default)]
    token: Option<SecretString>,
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
        let http = build_http_client(&config)?;
        let placeholder = TokenState::new(SecretString::from("not-logged-in"), 0)?;
        let client = Self {
            inner: Arc::new(Inner {
                http,
                base_url,
                base,
                username: config.username,
                password: config.password,
                retry: config.retry,
                max_body_bytes: config.max_body_bytes.max(1024),
                max_listing_bytes: config.max_listing_bytes.max(config.max_body_bytes),
                token: RwLock::new(Arc::new(placeholder)),
                auth_lock: tokio::sync::Mutex::new(()),
                pacer: Pacer::new(config.pacing.max_in_flight, config.pacing.max_rate),
                counters: Counters::default(),
            }),
        };
        let token = client.inner.login_token().await?;
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
        let call = Call {
            method: Method::POST,
            route: "/auth/token/logout",
            query: &[],
            body: Some(&body),
            body_fields: "token",
            kind: Kind::Logout,
        };
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
    ) -> Result<Vec<String>, Error> {
        let query = [
            ("serviceProviderId", service_provider_id),
            ("groupId", group_id),
        ];
        let call = Call::get("/users", &query);
        let mut listing =
            Listing::<ListedUser>::new(self.inner.max_body_bytes, self.inner.max_listing_bytes);
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
        if tracing::enabled!(Level::TRACE) {
            trace!(method = %call.method, route = call.route, users = users.len(), "group listing");
        }
        Ok(users.into_iter().map(|user| user.user_id).collect())
    }

    /// `GET /users?userId=`: one user; an unknown user is an [`Error::Api`] (`[Error 4008]`).
    pub async fn user(&self, user_id: &str) -> Result<User, Error> {
        let query = [("userId", user_id)];
        let call = Call::get("/users", &query);
        let body = self.inner.call(&call).await?;
        if first_byte(&body) == Some(b'[') {
            // Leniently, a list: the entry for this user.
            let users: Vec<User> = decode(&body, &call)?;
            return users
                .into_iter()
                .find(|user| same_user(&user.user_id, user_id))
                .ok_or_else(|| {
                    Error::decode(format!(
                        "the answer to {} does not list user `{}`",
                        call.name(),
                        wire::sanitise(user_id, 200)
                    ))
                });
        }
        let user: User = decode(&body, &call)?;
        check_same_user(Some(&user.user_id), user_id, &call)?;
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
        let call = Call {
            method: Method::PUT,
            route,
            query: &[],
            body: Some(body),
            body_fields,
            kind: Kind::Setter,
        };
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

impl Inner {
    fn current_token(&self) -> Arc<TokenState> {
        self.token
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn store_token(&self, state: TokenState) {
        *self
            .token
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(state);
    }

    /// The token to send, refreshed first if it is due and nobody else is refreshing it (the
    /// others go on with the current token, which is still alive).
    async fn token_for_request(&self) -> Arc<TokenState> {
        let current = self.current_token();
        let due = |state: &TokenState| state.refresh_at.is_some_and(|at| Instant::now() >= at);
        if !due(&current) {
            return current;
        }
        let Ok(_guard) = self.auth_lock.try_lock() else {
            return current;
        };
        let latest = self.current_token();
        if latest.generation == current.generation && due(&latest) {
            self.refresh(&latest).await;
        }
        self.current_token()
    }

    /// `PUT /auth/token` with the current token; on a 401 a fresh login instead; on any other
    /// failure the old token stays and the next refresh is tried a little later. Runs under the
    /// auth lock.
    async fn refresh(&self, current: &TokenState) {
        let call = Call {
            method: Method::PUT,
            route: "/auth/token",
            query: &[],
            body: None,
            body_fields: "",
            kind: Kind::Refresh,
        };
        let result = match self.attempt(&call, Some(current), 1).await {
            Ok(body) => token_from_answer(&body, &call),
            Err(failure) => Err(failure.error),
        };
        match result {
            Ok(token) => match TokenState::new(token, current.generation + 1) {
                Ok(state) => {
                    Counters::bump(&self.counters.refreshes);
                    debug!("token refreshed");
                    self.store_token(state);
                    return;
                }
                Err(error) => warn!(%error, "token refresh gave an unusable token"),
            },
            Err(Error::Unauthorized { .. }) => {
                debug!("token refresh refused; logging in again");
                if let Ok(token) = self.login_token().await
                    && let Ok(state) = TokenState::new(token, current.generation + 1)
                {
                    Counters::bump(&self.counters.relogins);
                    self.store_token(state);
                    return;
                }
            }
            Err(error) => debug!(%error, "token refresh failed; keeping the current token"),
        }
        self.store_token(current.postponed(Instant::now() + REFRESH_RETRY_PAUSE));
    }

    /// A fresh login after a 401 seen with token generation `failed_generation`; if another
    /// caller has already replaced that token, its result is used instead.
    async fn relogin(&self, failed_generation: u64) -> Result<(), Error> {
        let _guard = self.auth_lock.lock().await;
        let current = self.current_token();
        if current.generation != failed_generation {
            return Ok(());
        }
        debug!("token refused; logging in again");
        let token = self.login_token().await?;
        Counters::bump(&self.counters.relogins);
        self.store_token(TokenState::new(token, current.generation + 1)?);
        Ok(())
    }

    /// `POST /auth/token`, retried per the policy; a 401 is final ([`Error::Unauthorized`]).
    async fn login_token(&self) -> Result<SecretString, Error> {
        let body = encode_secret_body(&LoginBody {
            username: &self.username,
            password: self.password.expose_secret(),
        })?;
        let call = Call {
            method: Method::POST,
            route: "/auth/token",
            query: &[],
            body: Some(&body),
            body_fields: "username,password",
            kind: Kind::Login,
        };
        let started = Instant::now();
        let mut attempts = 0;
        let mut throttled_tries = 0;
        loop {
            attempts += 1;
            match self.attempt(&call, None, attempts).await {
                Ok(answer) => return token_from_answer(&answer, &call),
                Err(failure) => {
                    let delay = self.retry_delay(
                        &call,
                        &failure,
                        &mut attempts,
                        &mut throttled_tries,
                        started,
                    );
                    match delay {
                        Some(delay) => tokio::time::sleep(delay).await,
                        None => return Err(failure.error),
                    }
                }
            }
        }
    }

    /// Runs a call with authentication, the 401 rule and the retry rules; the whole body.
    async fn call(&self, call: &Call<'_>) -> Result<Body, Error> {
        let mut buffered = Buffered::new(self.max_body_bytes);
        self.call_into(call, &mut buffered).await?;
        let body = buffered.into_body();
        trace_fields(call, &body);
        Ok(body)
    }

    /// Runs a call with authentication, the 401 rule and the retry rules; the body of the answer
    /// that succeeded went to `sink`.
    async fn call_into(&self, call: &Call<'_>, sink: &mut dyn AnswerSink) -> Result<(), Error> {
        let started = Instant::now();
        let mut attempts = 0;
        let mut throttled_tries = 0;
        let mut relogins = 0;
        loop {
            attempts += 1;
            let token = if call.kind == Kind::Logout {
                self.current_token()
            } else {
                self.token_for_request().await
            };
            let failure = match self.attempt_into(call, Some(&token), attempts, sink).await {
                Ok(()) => return Ok(()),
                Err(failure) => failure,
            };
            if let Error::Unauthorized { .. } = failure.error
                && relogins < MAX_RELOGINS_PER_CALL
                && call.kind != Kind::Logout
            {
                // Log in again (shared with concurrent callers) and repeat the call; the repeat
                // is not a retry and does not use up an attempt.
                relogins += 1;
                self.relogin(token.generation).await?;
                attempts -= 1;
                continue;
            }
            match self.retry_delay(call, &failure, &mut attempts, &mut throttled_tries, started) {
                Some(delay) => tokio::time::sleep(delay).await,
                None => return Err(failure.error),
            }
        }
    }

    /// Whether and after how long to try a failed call again; counts the retry. Throttled
    /// answers do not use up the policy's attempts (see [`THROTTLED_TRIES_PER_ATTEMPT`]).
    fn retry_delay(
        &self,
        call: &Call<'_>,
        failure: &Failure,
        attempts: &mut u32,
        throttled_tries: &mut u32,
        started: Instant,
    ) -> Option<Duration> {
        let error = &failure.error;
        let throttled = matches!(error, Error::RateLimited { .. }) || error.status() == Some(503);
        let allowed = match call.kind {
            Kind::Read | Kind::Login | Kind::Logout => error.is_retryable(),
            // Only where the server cannot have applied anything.
            Kind::Setter => matches!(error, Error::Connect { .. }) || throttled,
            Kind::Refresh => false,
        };
        let policy = &self.retry;
        if !allowed || policy.max_attempts <= 1 {
            return None;
        }
        let delay = if throttled {
            *throttled_tries += 1;
            if *throttled_tries
                >= policy
                    .max_attempts
                    .saturating_mul(THROTTLED_TRIES_PER_ATTEMPT)
            {
                return None;
            }
            // A throttled try is not an attempt.
            *attempts -= 1;
            failure
                .retry_after
                .unwrap_or_else(|| policy.backoff(*throttled_tries))
        } else {
            if *attempts >= policy.max_attempts {
                return None;
            }
            policy.backoff(*attempts)
        };
        if started.elapsed() + delay > policy.max_elapsed {
            return None;
        }
        Counters::bump(&self.counters.retries);
        debug!(
            method = %call.method,
            route = call.route,
            delay_ms = delay.as_millis() as u64,
            error = %error,
            "retrying"
        );
        Some(delay)
    }

    /// One HTTP exchange under the pacer; the body of a 2xx answer, else the error.
    async fn attempt(
        &self,
        call: &Call<'_>,
        token: Option<&TokenState>,
        attempt: u32,
    ) -> Result<Body, Failure> {
        let mut buffered = Buffered::new(self.max_body_bytes);
        self.attempt_into(call, token, attempt, &mut buffered)
            .await?;
        let body = buffered.into_body();
        trace_fields(call, &body);
        Ok(body)
    }

    /// One HTTP exchange under the pacer; the body of a 2xx answer goes to `sink`.
    async fn attempt_into(
        &self,
        call: &Call<'_>,
        token: Option<&TokenState>,
        attempt: u32,
        sink: &mut dyn AnswerSink,
    ) -> Result<(), Failure> {
        let url = wire::route_url(&self.base, call.route);
        let mut request = self
            .http
            .request(call.method.clone(), url)
            .header(ACCEPT, "application/json");
        if !call.query.is_empty() {
            request = request.query(call.query);
        }
        if let Some(token) = token {
            request = request.header(AUTHORIZATION, token.header.clone());
        }
        if let Some(body) = call.body {
            request = request
                .header(CONTENT_TYPE, "application/json")
                .body(body.to_vec());
        }
        if tracing::enabled!(Level::TRACE) && !call.body_fields.is_empty() {
            trace!(method = %call.method, route = call.route, fields = call.body_fields, "request body");
        }

        let turn = self.pacer.turn().await;
        Counters::bump(&self.counters.requests);
        let sent = Instant::now();
        let mut response = match request.send().await {
            Ok(response) => response,
            Err(error) => {
                Counters::bump(&self.counters.transport_errors);
                let connect = error.is_connect();
                let builder = error.is_builder();
                let message = wire::describe_transport_error(error);
                debug!(
                    method = %call.method,
                    route = call.route,
                    attempt,
                    elapsed_ms = sent.elapsed().as_millis() as u64,
                    error = %message,
                    "request failed"
                );
                let error = if builder {
                    Error::config(format!("could not build the request: {message}"))
                } else if connect {
                    Error::Connect { message }
                } else {
                    Error::Transport { message }
                };
                return Err(error.into());
            }
        };
        let status = response.status().as_u16();
        self.counters.response(status);
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| wire::parse_retry_after(value, SystemTime::now()));
        let throttled = status == 429 || (status == 503 && retry_after.is_some());
        if throttled {
            Counters::bump(&self.counters.rate_limited);
            self.pacer.on_throttled(turn.sent_at, retry_after);
        } else {
            self.pacer.on_accepted();
        }

        let result = if (200..300).contains(&status) {
            match wire::read_body_into(&mut response, sink).await {
                Ok(()) => match sink.embedded_error() {
                    Some((status, details)) => {
                        let details = without_echoes(details, call, token);
                        if status == 401 {
                            Err(Error::Unauthorized { details }.into())
                        } else {
                            Err(Error::Api { status, details }.into())
                        }
                    }
                    None => Ok(()),
                },
                Err(BodyError::Sink(SinkError::TooLarge { limit })) => Err(Error::decode(format!(
                    "the answer to {} is larger than the limit of {limit} bytes",
                    call.name(),
                ))
                .into()),
                Err(BodyError::Sink(SinkError::Decode(problem))) => {
                    Err(Error::decode(format!("the answer to {} {problem}", call.name())).into())
                }
                Err(BodyError::Transport(error)) => Err(Error::Transport {
                    message: format!(
                        "the answer to {} broke off: {}",
                        call.name(),
                        wire::describe_transport_error(error)
                    ),
                }
                .into()),
            }
        } else if (300..400).contains(&status) {
            let location = response
                .headers()
                .get(LOCATION)
                .and_then(|value| value.to_str().ok());
            let host = wire::redirect_host(location, response.url());
            Err(Error::Api {
                status,
                details: format!(
                    "redirect to `{host}` not followed: credentials are only sent to the configured host"
                ),
            }
            .into())
        } else {
            let prefix = read_body_prefix(&mut response, MAX_ERROR_BODY_BYTES).await;
            let details = without_echoes(wire::error_details(&prefix), call, token);
            let error = match status {
                401 => Error::Unauthorized { details },
                429 => Error::RateLimited { retry_after },
                _ => Error::Api { status, details },
            };
            Err(Failure { error, retry_after })
        };
        drop(turn);
        debug!(
            method = %call.method,
            route = call.route,
            status,
            attempt,
            elapsed_ms = sent.elapsed().as_millis() as u64,
            "odin answered"
        );
        result
    }
}

/// The server's error details with every secret of the request quoted in them redacted (see
/// [`wire::redact_echoes`]): the values of the body's secret fields and the token.
fn without_echoes(details: String, call: &Call<'_>, token: Option<&TokenState>) -> String {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct SecretFields {
        new_password: Option<SecretString>,
        new_passcode: Option<SecretString>,
        password: Option<SecretString>,
        token: Option<SecretString>,
    }
    let fields = call
        .body
        .and_then(|body| serde_json::from_slice::<SecretFields>(body).ok());
    let mut secrets: Vec<&str> = Vec::with_capacity(5);
    if let Some(fields) = &fields {
        secrets.extend(
            [
                &fields.new_password,
                &fields.new_passcode,
                &fields.password,
                &fields.token,
            ]
            .into_iter()
            .flatten()
            .map(|secret| secret.expose_secret()),
        );
    }
    if let Some(token) = token {
        secrets.push(token.token.expose_secret());
    }
    wire::redact_echoes(details, &secrets)
}

/// Reads at most `limit` bytes of an error body; a failure mid-way keeps what arrived.
async fn read_body_prefix(response: &mut reqwest::Response, limit: usize) -> Vec<u8> {
    let mut prefix = Vec::new();
    while prefix.len() < limit {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = limit - prefix.len();
                prefix.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            Ok(None) | Err(_) => break,
        }
    }
    prefix
}

/// At trace level, the names (never the values) of an answer's top-level fields.
fn trace_fields(call: &Call<'_>, body: &[u8]) {
    if !tracing::enabled!(Level::TRACE) {
        return;
    }
    let shape = match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(map)) => map.keys().cloned().collect::<Vec<_>>().join(","),
        Ok(serde_json::Value::Array(items)) => format!("array of {}", items.len()),
        Ok(_) => "scalar".to_owned(),
        Err(_) => "not json".to_owned(),
    };
    trace!(method = %call.method, route = call.route, fields = %wire::sanitise(&shape, 300), "answer body");
}

fn build_http_client(config: &ClientConfig) -> Result<reqwest::Client, Error> {
    // reqwest is built without a default crypto provider; installing ring twice is harmless
    // (the second call reports the first one, which is fine).
    let _ = rustls::crypto::ring::default_provider().install_default();
    if config.connect_timeout.is_zero() || config.request_timeout.is_zero() {
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
        warn!("TLS certificate verification is OFF: anyone on the path can read the credentials");
        builder = builder.tls_danger_accept_invalid_certs(true);
    }
    builder.build().map_err(|error| {
        Error::config(format!(
            "could not build the http client: {}",
            wire::describe_transport_error(error)
        ))
    })
}

fn encode_secret_body(body: &impl Serialize) -> Result<Body, Error> {
    serde_json::to_vec(body)
        .map(Zeroizing::new)
        .map_err(|_| Error::config("could not encode the request body"))
}

fn token_from_answer(body: &[u8], call: &Call<'_>) -> Result<SecretString, Error> {
    let answer: TokenAnswer = decode(body, call)?;
    answer
        .token
        .ok_or_else(|| Error::decode(format!("the answer to {} holds no token", call.name())))
}

fn decode<T: DeserializeOwned>(body: &[u8], call: &Call<'_>) -> Result<T, Error> {
    serde_json::from_slice(body)
        .map_err(|error| Error::decode(wire::describe_json_error(&error, &call.name())))
}

fn first_byte(body: &[u8]) -> Option<u8> {
    body.iter()
        .copied()
        .find(|byte| !byte.is_ascii_whitespace())
}

/// BroadWorks user IDs compare without regard to ASCII case.
fn same_user(answered: &str, asked: &str) -> bool {
    answered.trim().eq_ignore_ascii_case(asked.trim())
}

/// An answer about somebody else is an error, never silently accepted.
fn check_same_user(answered: Option<&str>, asked: &str, call: &Call<'_>) -> Result<(), Error> {
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
