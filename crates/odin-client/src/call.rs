//! One call path for every request, the login included: the token to send, the 401 rule, the
//! retry rules and one HTTP exchange under the pacer.

use std::time::{Duration, Instant, SystemTime};

use reqwest::Method;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, LOCATION, RETRY_AFTER};
use secrecy::zeroize::Zeroizing;
use secrecy::{ExposeSecret, SecretString};
use tracing::{Level, debug, trace};

use crate::Error;
use crate::client::Inner;
use crate::http;
use crate::listing::{AnswerSink, Buffered, SinkError};
use crate::metrics::Counters;
use crate::token::TokenState;
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

/// An answer body, wiped when dropped (it may hold generated values or a token).
pub(crate) type Body = Zeroizing<Vec<u8>>;

/// What a request is, for the retry rules and the token it carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// No state change: retried on every retryable error.
    Read,
    /// A state change: retried only where nothing can have been applied.
    Setter,
    /// `POST /auth/token`: carries no token; a 401 is final.
    Login,
    /// `PUT /auth/token`: one attempt with the current token, which stays usable if it fails.
    Refresh,
    /// `POST /auth/token/logout`: the current token, never refreshed first; a 401 is final.
    Logout,
}

/// One request to make.
pub(crate) struct Call<'a> {
    pub(crate) method: Method,
    pub(crate) route: &'static str,
    pub(crate) query: &'a [(&'static str, &'a str)],
    pub(crate) body: Option<&'a [u8]>,
    /// Names of the body's fields, for trace logs (never their values).
    pub(crate) body_fields: &'static str,
    pub(crate) kind: Kind,
    /// The first contact with the server (the first login): silence is given up on after the
    /// configured connect and first-answer timeouts, with an [`Error::Timeout`] that says so,
    /// instead of being retried like a timeout during a run.
    pub(crate) first_contact: bool,
}

impl<'a> Call<'a> {
    pub(crate) fn get(route: &'static str, query: &'a [(&'static str, &'a str)]) -> Self {
        Self {
            method: Method::GET,
            route,
            query,
            body: None,
            body_fields: "",
            kind: Kind::Read,
            first_contact: false,
        }
    }

    /// A request with a JSON body (or none) of the given kind.
    pub(crate) fn with_body(
        method: Method,
        route: &'static str,
        body: Option<&'a [u8]>,
        body_fields: &'static str,
        kind: Kind,
    ) -> Self {
        Self {
            method,
            route,
            query: &[],
            body,
            body_fields,
            kind,
            first_contact: false,
        }
    }

    /// `METHOD route` for messages.
    pub(crate) fn name(&self) -> String {
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

impl Inner {
    /// Runs a call with authentication, the 401 rule and the retry rules; the whole body.
    pub(crate) async fn call(&self, call: &Call<'_>) -> Result<Body, Error> {
        let mut buffered = Buffered::new(self.max_body_bytes);
        self.call_into(call, &mut buffered).await?;
        let body = buffered.into_body();
        trace_fields(call, &body);
        Ok(body)
    }

    /// Runs a call with authentication, the 401 rule and the retry rules; the body of the answer
    /// that succeeded went to `sink`.
    pub(crate) async fn call_into(
        &self,
        call: &Call<'_>,
        sink: &mut dyn AnswerSink,
    ) -> Result<(), Error> {
        let started = Instant::now();
        let mut attempts = 0;
        let mut throttled_tries = 0;
        let mut relogins = 0;
        loop {
            attempts += 1;
            let token = match call.kind {
                Kind::Login => None,
                Kind::Refresh | Kind::Logout => Some(self.current_token()),
                Kind::Read | Kind::Setter => Some(self.token_for_request().await),
            };
            let failure = match self
                .attempt_into(call, token.as_deref(), attempts, sink)
                .await
            {
                Ok(()) => return Ok(()),
                Err(failure) => failure,
            };
            if let (Error::Unauthorized { .. }, Some(token), Kind::Read | Kind::Setter) =
                (&failure.error, &token, call.kind)
                && relogins < MAX_RELOGINS_PER_CALL
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

    /// How long the first login waits for its answer, from sending it: the first-answer timeout,
    /// or the connect timeout if that is longer.
    fn first_contact_timeout(&self) -> Duration {
        self.first_answer_timeout.max(self.connect_timeout)
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
        if call.first_contact {
            // Counted from sending, the connection included. Never shorter than the connect
            // timeout, so that when it runs out the connection was made: the server is silent.
            request = request.timeout(self.first_contact_timeout());
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
                return Err(self.transport_failure(call, error, attempt, sent).into());
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

    /// What a request that got no answer means: a request that could not be built, a TLS
    /// failure, a silent server at first contact, no connection, or a broken exchange.
    fn transport_failure(
        &self,
        call: &Call<'_>,
        error: reqwest::Error,
        attempt: u32,
        sent: Instant,
    ) -> Error {
        let connect = error.is_connect();
        let builder = error.is_builder();
        let timed_out = error.is_timeout();
        let tls_problem = http::tls_problem(&error);
        let message = wire::describe_transport_error(error);
        debug!(
            method = %call.method,
            route = call.route,
            attempt,
            elapsed_ms = sent.elapsed().as_millis() as u64,
            error = %message,
            "request failed"
        );
        if builder {
            Error::config(format!("could not build the request: {message}"))
        } else if let Some((problem, words)) = tls_problem {
            Error::Tls {
                problem,
                message: words,
            }
        } else if call.first_contact && timed_out {
            Error::Timeout {
                waited: if connect {
                    self.connect_timeout
                } else {
                    self.first_contact_timeout()
                },
                connected: !connect,
            }
        } else if connect {
            Error::Connect { message }
        } else {
            Error::Transport { message }
        }
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
