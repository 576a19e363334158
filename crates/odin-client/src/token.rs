//! The bearer token and its life cycle: the token (a secret), its generation (for single-flight
//! re-login) and when to refresh it; logging in, refreshing before expiry and logging in again
//! after a 401, each as one request through the call path of every other request (`call.rs`).

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Method;
use reqwest::header::HeaderValue;
use secrecy::zeroize::Zeroizing;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use tracing::{debug, warn};

use crate::Error;
use crate::call::{Call, Kind};
use crate::client::Inner;
use crate::metrics::Counters;
use crate::wire;

/// Refresh this long before `exp` at most...
const MAX_REFRESH_MARGIN: Duration = Duration::from_secs(300);
/// ...and at least this long (when the lifetime allows).
const MIN_REFRESH_MARGIN: Duration = Duration::from_secs(5);
/// After a failed refresh, wait this long before the next try.
const REFRESH_RETRY_PAUSE: Duration = Duration::from_secs(5);

/// One token as issued by login or refresh. Immutable; replaced whole.
pub(crate) struct TokenState {
    /// `Bearer <token>`, marked sensitive so that `http` never prints it.
    pub(crate) header: HeaderValue,
    /// The raw token, kept for logout's body.
    pub(crate) token: secrecy::SecretString,
    /// Bumped on every new token: a caller that saw a 401 with generation `g` re-logs in only if
    /// the current generation is still `g`.
    pub(crate) generation: u64,
    /// When to refresh proactively; `None` when `exp` is unknown (no proactive refresh).
    pub(crate) refresh_at: Option<Instant>,
}

impl fmt::Debug for TokenState {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("TokenState")
            .field("token", &"[redacted]")
            .field("generation", &self.generation)
            .field("refresh_at", &self.refresh_at)
            .finish()
    }
}

impl TokenState {
    /// Wraps a freshly issued token. Fails (without echoing it) when the token cannot be a header.
    pub(crate) fn new(token: secrecy::SecretString, generation: u64) -> Result<Self, Error> {
        use secrecy::ExposeSecret;
        let raw = token.expose_secret();
        if raw.is_empty() {
            return Err(Error::decode("the server issued an empty token"));
        }
        let mut header = HeaderValue::from_str(&format!("Bearer {raw}")).map_err(|_| {
            Error::decode("the server issued a token that cannot be sent in a header")
        })?;
        header.set_sensitive(true);
        let refresh_at = jwt_expiry(raw).and_then(|exp| {
            refresh_deadline(exp, SystemTime::now()).map(|wait| Instant::now() + wait)
        });
        Ok(Self {
            header,
            token,
            generation,
            refresh_at,
        })
    }

    /// The same token with the next refresh attempt postponed (after a failed refresh).
    pub(crate) fn postponed(&self, until: Instant) -> Self {
        Self {
            header: self.header.clone(),
            token: self.token.clone(),
            generation: self.generation,
            refresh_at: Some(until),
        }
    }
}

impl Inner {
    pub(crate) fn current_token(&self) -> Arc<TokenState> {
        self.token
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn store_token(&self, state: TokenState) {
        *self
            .token
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(state);
    }

    /// The token to send, refreshed first if it is due and nobody else is refreshing it (the
    /// others go on with the current token, which is still alive).
    pub(crate) async fn token_for_request(&self) -> Arc<TokenState> {
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
        let call = Call::with_body(Method::PUT, "/auth/token", None, "", Kind::Refresh);
        // Boxed: the call path may come back here (a read's token is refreshed first).
        let result = match Box::pin(self.call(&call)).await {
            Ok(body) => token_from_answer(&body, &call),
            Err(error) => Err(error),
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
                if let Ok(token) = self.login_token(false).await
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
    pub(crate) async fn relogin(&self, failed_generation: u64) -> Result<(), Error> {
        let _guard = self.auth_lock.lock().await;
        let current = self.current_token();
        if current.generation != failed_generation {
            return Ok(());
        }
        debug!("token refused; logging in again");
        let token = self.login_token(false).await?;
        Counters::bump(&self.counters.relogins);
        self.store_token(TokenState::new(token, current.generation + 1)?);
        Ok(())
    }

    /// `POST /auth/token` through the one call path: retried per the policy, a 401 final
    /// ([`Error::Unauthorized`]). On the `first_contact`, silence is final too ([`Error::Timeout`]).
    pub(crate) async fn login_token(&self, first_contact: bool) -> Result<SecretString, Error> {
        let body = Zeroizing::new(
            serde_json::to_vec(&LoginBody {
                username: &self.username,
                password: self.password.expose_secret(),
            })
            .map_err(|_| Error::config("could not encode the login request"))?,
        );
        let mut call = Call::with_body(
            Method::POST,
            "/auth/token",
            Some(&body),
            "username,password",
            Kind::Login,
        );
        call.first_contact = first_contact;
        // Boxed: the call path may come back here (a 401 leads to a fresh login).
        let answer = Box::pin(self.call(&call)).await?;
        token_from_answer(&answer, &call)
    }
}

#[derive(Serialize)]
struct LoginBody<'a> {
    username: &'a str,
    password: &'a str,
}

#[derive(serde::Deserialize)]
struct TokenAnswer {
    #[serde(default)]
    token: Option<SecretString>,
}

fn token_from_answer(body: &[u8], call: &Call<'_>) -> Result<SecretString, Error> {
    let answer: TokenAnswer = serde_json::from_slice(body)
        .map_err(|error| Error::decode(wire::describe_json_error(&error, &call.name())))?;
    answer
        .token
        .ok_or_else(|| Error::decode(format!("the answer to {} holds no token", call.name())))
}

/// The `exp` claim (seconds since the epoch) of a JWT, read without verifying anything.
/// `None` when the token is not a JWT or carries no numeric `exp`.
pub(crate) fn jwt_expiry(token: &str) -> Option<u64> {
    let mut parts = token.split('.');
    let (_header, payload, _signature) = (parts.next()?, parts.next()?, parts.next()?);
    let payload = payload.trim_end_matches('=');
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let exp = claims.get("exp")?;
    if let Some(seconds) = exp.as_u64() {
        return Some(seconds);
    }
    let seconds = exp.as_f64()?;
    (seconds.is_finite() && seconds > 0.0).then_some(seconds as u64)
}

/// How long from `now` until a token expiring at `exp` should be refreshed: a margin of a fifth
/// of the remaining lifetime, between 5 s and 5 min. `None` when the token is already (or almost)
/// expired by our clock: then clocks disagree and only a 401 can tell; refreshing on every
/// request would be worse.
pub(crate) fn refresh_deadline(exp: u64, now: SystemTime) -> Option<Duration> {
    let now = now.duration_since(UNIX_EPOCH).ok()?;
    let remaining = Duration::from_secs(exp).checked_sub(now)?;
    let margin = (remaining / 5).clamp(MIN_REFRESH_MARGIN, MAX_REFRESH_MARGIN);
    let wait = remaining.checked_sub(margin)?;
    (!wait.is_zero()).then_some(wait)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE;

    fn jwt(claims: &str) -> String {
        format!(
            "{}.{}.signature",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"JWT"}"#),
            URL_SAFE_NO_PAD.encode(claims)
        )
    }

    #[test]
    fn reads_exp() {
        assert_eq!(
            jwt_expiry(&jwt(r#"{"sub":"admin","exp":1700000000}"#)),
            Some(1_700_000_000)
        );
        assert_eq!(
            jwt_expiry(&jwt(r#"{"exp":1700000000.5}"#)),
            Some(1_700_000_000)
        );
        // Padded base64url is tolerated.
        let padded = format!("a.{}.c", URL_SAFE.encode(r#"{"exp":12}"#));
        assert_eq!(jwt_expiry(&padded), Some(12));
    }

    #[test]
    fn unknown_exp_is_none() {
        assert_eq!(jwt_expiry("opaque-token"), None);
        assert_eq!(jwt_expiry("a.b"), None);
        assert_eq!(jwt_expiry("a.!!!.c"), None);
        assert_eq!(jwt_expiry(&jwt(r#"{"sub":"x"}"#)), None);
        assert_eq!(jwt_expiry(&jwt(r#"{"exp":"soon"}"#)), None);
        assert_eq!(jwt_expiry(&jwt(r#"{"exp":-5}"#)), None);
        assert_eq!(jwt_expiry(&jwt("not json")), None);
    }

    #[test]
    fn refresh_margin() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        // 12 h lifetime: refresh 5 min before the end.
        assert_eq!(
            refresh_deadline(1_000_000 + 43_200, now),
            Some(Duration::from_secs(43_200 - 300))
        );
        // 100 s: a fifth of it, 20 s, before.
        assert_eq!(
            refresh_deadline(1_000_100, now),
            Some(Duration::from_secs(80))
        );
        // 10 s: at least 5 s before.
        assert_eq!(
            refresh_deadline(1_000_010, now),
            Some(Duration::from_secs(5))
        );
        // Too short, expired, or far in the past: no proactive refresh.
        assert_eq!(refresh_deadline(1_000_004, now), None);
        assert_eq!(refresh_deadline(999_000, now), None);
        assert_eq!(refresh_deadline(0, now), None);
    }

    #[test]
    fn token_state_is_redacted_and_sensitive() {
        let token = jwt(r#"{"exp":99999999999}"#);
        let state = TokenState::new(secrecy::SecretString::from(token.clone()), 1).unwrap();
        assert!(state.header.is_sensitive());
        assert!(state.refresh_at.is_some());
        let shown = format!("{state:?}");
        assert!(!shown.contains(&token), "{shown}");
        assert!(!format!("{:?}", state.header).contains(&token));
        assert!(TokenState::new(secrecy::SecretString::from(""), 1).is_err());
        let error = TokenState::new(secrecy::SecretString::from("bad\nsecret"), 1).unwrap_err();
        assert!(!error.to_string().contains("secret"));
        let opaque = TokenState::new(secrecy::SecretString::from("opaque"), 2).unwrap();
        assert!(opaque.refresh_at.is_none());
    }
}
