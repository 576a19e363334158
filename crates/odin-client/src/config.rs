//! Client configuration: where to connect, how to authenticate, how hard to retry and how fast to go.

use std::fmt;
use std::time::Duration;

use bwreset_backend::Backoff;
use secrecy::SecretString;

/// Everything [`crate::OdinClient::login`] needs.
///
/// `Debug` never shows the password (nor credentials embedded in the base URL).
#[derive(Clone)]
pub struct ClientConfig {
    /// The API base, ending in `/api/v2`, e.g. `https://tenant.prod.odinapi.net/api/v2`.
    /// A trailing `/` is accepted; routes are joined without doubling or dropping a slash.
    pub base_url: String,
    /// The login name sent to `POST /auth/token`.
    pub username: String,
    /// The login password: a secret.
    pub password: SecretString,
    /// How often and how long a failed request is tried again.
    pub retry: RetryPolicy,
    /// How many requests may be in flight and how fast they may go.
    pub pacing: PacingConfig,
    /// Certificate checking for `https://`.
    pub tls: TlsConfig,
    /// Plain `http://` to a host that is not loopback is refused unless this is true.
    pub allow_plain_http: bool,
    /// Time allowed to establish a connection (default 10 s).
    pub connect_timeout: Duration,
    /// Time allowed for one request, from connecting to the last byte of the answer (default 30 s).
    pub request_timeout: Duration,
    /// Time the first contact, the login of [`crate::OdinClient::login`], waits for its answer,
    /// counted from sending it, the connection included (default 15 s; the connect timeout if
    /// that is longer). Silence there ends the login at once with [`crate::Error::Timeout`]
    /// instead of being retried: a server that accepts connections and never answers is named
    /// within this time.
    pub first_answer_timeout: Duration,
    /// The HTTP proxy to go through (`http://host:port`, credentials allowed), or `None` to
    /// connect directly. Never read from the environment by this crate: see
    /// [`crate::ProxyVariables`] for the `HTTPS_PROXY` convention.
    pub proxy: Option<String>,
    /// Largest answer body read (default 8 MiB); a bigger answer is an error, never read whole.
    pub max_body_bytes: usize,
    /// Largest group listing read by [`crate::OdinClient::group_user_ids`] (default 256 MiB,
    /// over a million users), which decodes the listing as it arrives and keeps only the IDs;
    /// each user's entry is still limited to `max_body_bytes`.
    pub max_listing_bytes: usize,
    /// Idle keep-alive connections kept in the pool (default: the pacing's `max_in_flight`).
    pub pool_max_idle_per_host: usize,
}

impl ClientConfig {
    /// A configuration with the defaults: verified TLS, no proxy, [`RetryPolicy::default`],
    /// [`PacingConfig::default`], 10 s connect, 15 s first-answer and 30 s request timeouts,
    /// 8 MiB body cap, 256 MiB listing cap.
    pub fn new(
        base_url: impl Into<String>,
        username: impl Into<String>,
        password: SecretString,
    ) -> Self {
        let pacing = PacingConfig::default();
        Self {
            base_url: base_url.into(),
            username: username.into(),
            password,
            retry: RetryPolicy::default(),
            pool_max_idle_per_host: pacing.max_in_flight,
            pacing,
            tls: TlsConfig::default(),
            allow_plain_http: false,
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            first_answer_timeout: Duration::from_secs(15),
            proxy: None,
            max_body_bytes: 8 * 1024 * 1024,
            max_listing_bytes: 256 * 1024 * 1024,
        }
    }
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("ClientConfig")
            .field("base_url", &redact_url_credentials(&self.base_url))
            .field("username", &self.username)
            .field("password", &"[redacted]")
            .field("retry", &self.retry)
            .field("pacing", &self.pacing)
            .field("tls", &self.tls)
            .field("allow_plain_http", &self.allow_plain_http)
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("first_answer_timeout", &self.first_answer_timeout)
            .field(
                "proxy",
                &self.proxy.as_deref().map(crate::proxy::redact_proxy_url),
            )
            .field("max_body_bytes", &self.max_body_bytes)
            .field("max_listing_bytes", &self.max_listing_bytes)
            .field("pool_max_idle_per_host", &self.pool_max_idle_per_host)
            .finish()
    }
}

/// Replaces a `user:password@` part of a URL so that a mistyped base URL never prints a secret.
fn redact_url_credentials(text: &str) -> String {
    match url::Url::parse(text) {
        Ok(mut parsed) if !parsed.username().is_empty() || parsed.password().is_some() => {
            let _ = parsed.set_username("[redacted]");
            let _ = parsed.set_password(None);
            parsed.to_string()
        }
        Ok(_) => text.to_owned(),
        // Unparseable text might hold anything; only show it if it has no '@'.
        Err(_) if text.contains('@') => "[unparseable url redacted]".to_owned(),
        Err(_) => text.to_owned(),
    }
}

/// Certificate checking for `https://` base URLs.
#[derive(Clone, Default)]
pub struct TlsConfig {
    /// PEM bundle of extra trusted roots (a private CA), added to the system's roots.
    pub ca_cert_pem: Option<Vec<u8>>,
    /// Accept any certificate. Dangerous: the caller should warn the operator loudly.
    pub insecure: bool,
}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("TlsConfig")
            .field(
                "ca_cert_pem",
                &self
                    .ca_cert_pem
                    .as_ref()
                    .map(|pem| format!("{} bytes", pem.len())),
            )
            .field("insecure", &self.insecure)
            .finish()
    }
}

/// Retry bounds: exponential backoff with full jitter, bounded in attempts and in total time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1 = never retry). Answers 429 are bounded by
    /// `max_elapsed` only (the server said it did not process the request), up to a hard ceiling.
    pub max_attempts: u32,
    /// Ceiling of the first backoff.
    pub initial_backoff: Duration,
    /// Largest ceiling of any backoff.
    pub max_backoff: Duration,
    /// No retry starts once this much time has passed since the first attempt.
    pub max_elapsed: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(10),
            max_elapsed: Duration::from_secs(120),
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries (one attempt).
    pub fn no_retries() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// The backoff between attempts, the workspace's one ([`bwreset_backend::Backoff`]).
    pub fn backoff_schedule(&self) -> Backoff {
        Backoff {
            initial: self.initial_backoff,
            max: self.max_backoff,
        }
    }

    /// The ceiling of the backoff after `attempt` failed attempts (1 = after the first failure):
    /// `initial_backoff * 2^(attempt-1)`, capped at `max_backoff`.
    pub fn backoff_ceiling(&self, attempt: u32) -> Duration {
        self.backoff_schedule().ceiling(attempt)
    }

    /// The wait after `attempt` failed attempts (1 = after the first failure): exponential with
    /// full jitter, a uniformly random duration between zero and [`Self::backoff_ceiling`].
    pub fn backoff(&self, attempt: u32) -> Duration {
        self.backoff_schedule().delay(attempt)
    }
}

/// Pacing shared by every request of one client (and its clones).
#[derive(Clone, Debug, PartialEq)]
pub struct PacingConfig {
    /// Requests in flight at most (at least 1 is used).
    pub max_in_flight: usize,
    /// A hard cap in requests per second, for operators who must promise a rate.
    pub max_rate: Option<f64>,
}

impl Default for PacingConfig {
    fn default() -> Self {
        Self {
            max_in_flight: 32,
            max_rate: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_stays_within_the_exponential_ceiling() {
        let policy = RetryPolicy {
            max_attempts: 10,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
            max_elapsed: Duration::from_secs(60),
        };
        assert_eq!(policy.backoff_ceiling(1), Duration::from_millis(100));
        assert_eq!(policy.backoff_ceiling(2), Duration::from_millis(200));
        assert_eq!(policy.backoff_ceiling(3), Duration::from_millis(400));
        assert_eq!(policy.backoff_ceiling(6), Duration::from_secs(2));
        assert_eq!(policy.backoff_ceiling(u32::MAX), Duration::from_secs(2));
        for attempt in 0..40 {
            for _ in 0..50 {
                assert!(policy.backoff(attempt) <= policy.backoff_ceiling(attempt));
            }
        }
    }

    #[test]
    fn debug_redacts_the_password_and_url_credentials() {
        let mut config = ClientConfig::new(
            "https://admin:hunter2@example.com/api/v2",
            "admin",
            SecretString::from("s3cr3t-pw"),
        );
        config.tls.ca_cert_pem = Some(b"-----BEGIN CERTIFICATE-----".to_vec());
        let shown = format!("{config:?}");
        assert!(!shown.contains("s3cr3t-pw"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains("BEGIN CERTIFICATE"), "{shown}");
        assert!(shown.contains("[redacted]"), "{shown}");
        assert!(shown.contains("example.com"), "{shown}");
        assert!(!format!("{:#?}", config).contains("s3cr3t-pw"));
    }

    #[test]
    fn unparseable_url_with_at_sign_is_hidden() {
        assert_eq!(
            redact_url_credentials("no scheme user:pw@host"),
            "[unparseable url redacted]"
        );
        assert_eq!(redact_url_credentials("not a url"), "not a url");
    }
}
