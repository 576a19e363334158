//! One OCI-P connection: read a document, answer each of its commands in order, write one reply
//! document, repeat until the peer hangs up. The login lives here, on the connection, never on
//! the sessionId.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Instant;

use axum::http::Method;
use md5::{Digest, Md5};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sha1::Sha1;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use super::commands::{self, Answer, Outcome, Refusal};
use super::frame::FrameReader;
use super::xml::{self, BadDocument, MAX_COMMANDS, ReplyBody, RequestDocument, field, flag};
use super::{OcipFaults, Release};
use crate::faults::{DropMoment, RequestFaults};
use crate::state::{SimState, lock};

/// The nonce handed out when the simulator is asked for the spec's test vectors.
pub(crate) const FIXED_NONCE: &str = "1234567890123";

/// The domain a login answers with (`userDomain`).
const USER_DOMAIN: &str = "odin-sim.invalid";

/// What `/_sim/stats` counts OCI-P commands under, as the method.
const STATS_METHOD: &str = "OCIP";

/// The route under which documents that could not be read are counted.
const MALFORMED: &str = "(malformed document)";

/// What every OCI-P front of one simulator shares (the TCP listener and the SOAP front are one
/// server): the release it plays, the nonces, the OCI-P-only faults and the calls counted for
/// them. It lives in the simulator's state.
pub(crate) struct OcipShared {
    pub release: Release,
    fixed_nonce: bool,
    nonces: Mutex<StdRng>,
    method: Method,
    extras: Mutex<OcipFaults>,
    /// Calls of each command since the extras were last set (for `fail_nth`).
    calls: Mutex<HashMap<String, u64>>,
}

impl std::fmt::Debug for OcipShared {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("OcipShared")
            .field("release", &self.release)
            .field("fixed_nonce", &self.fixed_nonce)
            .finish_non_exhaustive()
    }
}

impl OcipShared {
    pub(crate) fn new(release: Release, fixed_nonce: bool) -> Self {
        let seed: u64 = rand::rng().random();
        OcipShared {
            release,
            fixed_nonce,
            nonces: Mutex::new(StdRng::seed_from_u64(seed)),
            method: Method::from_bytes(STATS_METHOD.as_bytes()).unwrap_or(Method::POST),
            extras: Mutex::new(OcipFaults::default()),
            calls: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn set_extras(&self, extras: OcipFaults) {
        *lock(&self.extras) = extras;
        lock(&self.calls).clear();
    }

    pub(crate) fn extras(&self) -> OcipFaults {
        lock(&self.extras).clone()
    }

    fn nonce(&self) -> String {
        if self.fixed_nonce {
            FIXED_NONCE.to_owned()
        } else {
            lock(&self.nonces)
                .random_range(1_000_000_000_000u64..10_000_000_000_000_000)
                .to_string()
        }
    }

    /// Whether this call of `name` is the one the `fail_nth` extra names.
    fn is_nth_call(&self, name: &str, extras: &OcipFaults) -> bool {
        let Some((target, nth)) = &extras.fail_nth else {
            return false;
        };
        if target != name {
            return false;
        }
        let mut calls = lock(&self.calls);
        let seen = calls.entry(name.to_owned()).or_insert(0);
        *seen += 1;
        *seen == *nth
    }
}

/// One front of the OCI-P server: the simulator's state, and whether the front's transport is
/// encrypted (`LoginRequest22V5` is refused without it). Cheap to clone.
#[derive(Clone)]
pub(crate) struct OcipServer {
    pub state: SimState,
    pub tls: bool,
}

impl std::fmt::Debug for OcipServer {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("OcipServer")
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

/// Where a connection (or a SOAP session) stands in the login.
#[derive(Clone, Debug)]
pub(crate) enum Login {
    Connected,
    NonceIssued {
        user_id: String,
        nonce: String,
    },
    /// `revocations`: the token store's count of mass revocations at login time.
    LoggedIn {
        since: Instant,
        revocations: u64,
    },
}

/// What happens to the connection after a document.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum After {
    /// Write the whole reply and go on.
    Reply,
    /// Write the first `n` bytes of the reply, then close.
    Cut(usize),
    /// Close without writing anything.
    Close,
}

impl OcipServer {
    fn shared(&self) -> &OcipShared {
        &self.state.shared.ocip
    }

    fn extras(&self) -> OcipFaults {
        self.shared().extras()
    }

    pub(crate) fn record(&self, route: &str, status: u16) {
        // A client's made-up type name must not bloat the table.
        let route: String = route.chars().take(100).collect();
        lock(&self.state.shared.stats).record(&self.shared().method, &route, status);
        // The command's name and status only: never a document, which may hold secrets.
        tracing::debug!(command = %route, status, "OCI-P command");
    }

    fn logged_in(&self) -> Login {
        Login::LoggedIn {
            since: Instant::now(),
            revocations: lock(&self.state.shared.tokens).revocations(),
        }
    }

    /// Serves one connection until the peer hangs up (or a fault closes it).
    pub(crate) async fn serve_connection<S>(self: Arc<Self>, mut stream: S)
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let mut reader = FrameReader::default();
        let mut login = Login::Connected;
        loop {
            let document = match reader.next_document(&mut stream).await {
                Ok(Some(document)) => document,
                // EOF at any point is a normal end.
                Ok(None) => return,
                Err(super::frame::FrameError::Io(error)) => {
                    tracing::debug!(%error, "OCI-P connection failed");
                    return;
                }
                Err(super::frame::FrameError::TooLong) => {
                    tracing::debug!("OCI-P peer sent too long a document");
                    return;
                }
            };
            let (reply, after) = self.answer(&mut login, xml::parse(&document)).await;
            let extras = self.extras();
            let length = match (after, extras.cut_replies_after) {
                (After::Close, _) => return,
                (After::Cut(cut), _) => cut.min(reply.len()),
                (After::Reply, Some(cut)) => cut.min(reply.len()),
                (After::Reply, None) => reply.len(),
            };
            let written = match extras.dribble {
                Some(piece) => dribble(&mut stream, &reply[..length], piece.max(1)).await,
                None => stream.write_all(&reply[..length]).await,
            };
            // A peer that hung up without reading (broadworks-ocip's logout) is no error.
            if written.is_err() || length < reply.len() {
                let _ = stream.shutdown().await;
                return;
            }
        }
    }

    /// The reply to one document (as parsed), and what to do with the connection.
    pub(crate) async fn answer(
        &self,
        login: &mut Login,
        parsed: Result<RequestDocument, BadDocument>,
    ) -> (Vec<u8>, After) {
        let document = match parsed {
            Ok(document) => document,
            Err(bad) => {
                self.record(MALFORMED, 400);
                let error = error_body(
                    &format!("[Error 4001] Invalid document: {}", bad.reason),
                    self.extras().error_code,
                );
                let reply = xml::reply_document(
                    &bad.session_id,
                    bad.tracking_id.as_deref(),
                    &[(None, &error)],
                );
                return (reply, After::Reply);
            }
        };
        let extras = self.extras();
        let count = document.commands.len();
        if count == 0 || count > MAX_COMMANDS {
            self.record(MALFORMED, 400);
            let error = error_body(
                &format!(
                    "[Error 4001] Invalid document: it carries {count} commands, not 1 to {MAX_COMMANDS}"
                ),
                extras.error_code,
            );
            let reply = xml::reply_document(
                &document.session_id,
                document.tracking_id.as_deref(),
                &[(None, &error)],
            );
            return (reply, After::Reply);
        }
        let plans: Vec<RequestFaults> = document
            .commands
            .iter()
            .map(|_| self.state.shared.faults.plan())
            .collect();
        // One round trip, one added latency, however many commands the document carries.
        if let Some(latency) = plans.iter().map(|plan| plan.latency).max()
            && !latency.is_zero()
        {
            crate::api::add_latency(latency).await;
        }
        let mut after = After::Reply;
        let mut bodies = Vec::with_capacity(count);
        for (command, plan) in document.commands.iter().zip(&plans) {
            let name = command.type_name.as_deref().unwrap_or_default();
            let (body, status, ending) = self.run(login, name, &command.body, plan, &extras);
            self.record(if name.is_empty() { "(no type)" } else { name }, status);
            bodies.push(body);
            if ending != After::Reply {
                after = ending;
                break;
            }
            if plan.truncate {
                after = After::Cut(usize::MAX);
            }
        }
        let replies: Vec<(Option<&str>, &ReplyBody)> = document
            .commands
            .iter()
            .zip(&bodies)
            .map(|(command, body)| (command.echo.as_deref(), body))
            .collect();
        let reply = xml::reply_document(
            &document.session_id,
            document.tracking_id.as_deref(),
            &replies,
        );
        let after = match after {
            // A reply cut in the middle: the truncated-answer fault.
            After::Cut(_) => After::Cut(reply.len() / 2),
            other => other,
        };
        (reply, after)
    }

    /// A reply that refuses every command of a document with the same answer and runs none (a
    /// SOAP request whose cookie and sessionId do not belong together).
    pub(crate) fn refuse_all(&self, document: &RequestDocument, refusal: &Refusal) -> Vec<u8> {
        let error = error_body(&refusal.summary, self.extras().error_code);
        let replies: Vec<(Option<&str>, &ReplyBody)> = document
            .commands
            .iter()
            .map(|command| {
                let name = command
                    .type_name
                    .as_deref()
                    .filter(|name| !name.is_empty())
                    .unwrap_or("(no type)");
                self.record(name, refusal.status);
                (command.echo.as_deref(), &error)
            })
            .collect();
        xml::reply_document(
            &document.session_id,
            document.tracking_id.as_deref(),
            &replies,
        )
    }

    /// Runs one command: its reply body, the status it is counted under, and what happens to
    /// the connection.
    fn run(
        &self,
        login: &mut Login,
        name: &str,
        body: &xml::Element,
        plan: &RequestFaults,
        extras: &OcipFaults,
    ) -> (ReplyBody, u16, After) {
        let reply = |outcome: Outcome| -> (ReplyBody, u16, After) {
            match outcome {
                Ok(Answer::Data(type_name, children)) => (
                    ReplyBody::Data {
                        type_name,
                        children,
                    },
                    200,
                    After::Reply,
                ),
                Ok(Answer::Success) => (ReplyBody::Success, 200, After::Reply),
                Err(refusal) => (
                    error_body(&refusal.summary, extras.error_code),
                    refusal.status,
                    After::Reply,
                ),
            }
        };
        if name.is_empty() {
            return reply(Err(Refusal::new(
                400,
                "[Error 4003] Invalid command: it has no xsi:type",
            )));
        }
        if let Some(outcome) = self.session_command(login, name, body, extras) {
            return reply(outcome);
        }
        // An unknown command is unknown whether or not the connection is logged in.
        if !commands::is_known(name, self.shared().release) {
            return reply(Err(commands::unknown_command(name)));
        }
        match login {
            Login::LoggedIn { since, revocations } => {
                let revoked = lock(&self.state.shared.tokens).revocations() != *revocations;
                if revoked || since.elapsed() >= self.state.shared.token_ttl {
                    *login = Login::Connected;
                    return reply(Err(Refusal::new(
                        401,
                        "[Error 4912] Session expired: log in again",
                    )));
                }
            }
            _ => {
                return reply(Err(Refusal::new(
                    401,
                    "[Error 4911] Not logged in: send AuthenticationRequest and LoginRequest14sp4 first",
                )));
            }
        }
        if extras.refuse_system_reads && name.starts_with("System") {
            return reply(Err(Refusal::new(
                403,
                "[Error 4220] Access denied: system-level requests need a system administrator",
            )));
        }
        if let Some(retry_after) = plan.rate_limited {
            return reply(Err(Refusal::new(
                429,
                format!(
                    "[Error 4290] Server busy: too many requests, retry in {retry_after} seconds"
                ),
            )));
        }
        if plan.fail_before.is_some() || self.shared().is_nth_call(name, extras) {
            return reply(Err(injected()));
        }
        if plan.drop == Some(DropMoment::BeforeChange) {
            return (ReplyBody::Success, 0, After::Close);
        }
        let outcome = commands::execute(&self.state, name, body);
        let applied = outcome.is_ok();
        if plan.drop == Some(DropMoment::AfterChange)
            || extras.drop_after_apply.as_deref() == Some(name)
        {
            return (ReplyBody::Success, 0, After::Close);
        }
        if applied && plan.echo_secret {
            let secret = commands::SETTERS
                .iter()
                .find(|(setter, _)| *setter == name)
                .and_then(|(_, element)| body.token(element));
            if let Some(secret) = secret {
                return reply(Err(Refusal::new(
                    500,
                    format!("[Error 5000] Injected failure: could not confirm `{secret}`"),
                )));
            }
        }
        if plan.fail_after {
            return reply(Err(injected()));
        }
        reply(outcome)
    }

    /// The login commands; `None` for any other command.
    fn session_command(
        &self,
        login: &mut Login,
        name: &str,
        body: &xml::Element,
        extras: &OcipFaults,
    ) -> Option<Outcome> {
        let outcome = match name {
            "AuthenticationRequest" => {
                let Some(user_id) = body.token("userId").filter(|id| !id.is_empty()) else {
                    return Some(Err(crate::reply::ApiError::missing_field("userId").into()));
                };
                let nonce = self.shared().nonce();
                let mut children = String::new();
                field(&mut children, "userId", &user_id);
                field(&mut children, "nonce", &nonce);
                field(&mut children, "passwordAlgorithm", "MD5");
                *login = Login::NonceIssued { user_id, nonce };
                Ok(Answer::Data("AuthenticationResponse".to_owned(), children))
            }
            "LoginRequest14sp4" => {
                // A nonce serves one attempt.
                let issued = std::mem::replace(login, Login::Connected);
                let user_id = body.token("userId").unwrap_or_default();
                let signed = body.token("signedPassword").unwrap_or_default();
                let (expected_user, password) = &self.state.shared.login;
                let accepted = match issued {
                    Login::NonceIssued {
                        user_id: asked,
                        nonce,
                    } => {
                        asked == user_id
                            && user_id == *expected_user
                            && signed.eq_ignore_ascii_case(&signed_password(&nonce, password))
                    }
                    _ => false,
                };
                if accepted && !extras.refuse_login {
                    *login = self.logged_in();
                    Ok(Answer::Data(
                        "LoginResponse14sp4".to_owned(),
                        login_children(),
                    ))
                } else {
                    Err(invalid_password())
                }
            }
            "LoginRequest22V5" if self.shared().release >= Release::R24 => {
                *login = Login::Connected;
                if !self.tls {
                    Err(Refusal::new(
                        401,
                        "[Error 4962] LoginRequest22V5 is refused on a connection without TLS: use TLS or the signed login",
                    ))
                } else {
                    let user_id = body.token("userId").unwrap_or_default();
                    let (expected_user, expected_password) = &self.state.shared.login;
                    let password = body.token("password");
                    if user_id == *expected_user
                        && password.as_deref() == Some(expected_password.as_str())
                        && !extras.refuse_login
                    {
                        *login = self.logged_in();
                        Ok(Answer::Data(
                            "LoginResponse22V5".to_owned(),
                            login_children(),
                        ))
                    } else {
                        Err(invalid_password())
                    }
                }
            }
            "LogoutRequest" => {
                // Any reason is accepted, even one outside the schema's list.
                *login = Login::Connected;
                Ok(Answer::Success)
            }
            _ => return None,
        };
        Some(outcome)
    }
}

fn invalid_password() -> Refusal {
    Refusal::new(401, "[Error 4962] Invalid password")
}

fn injected() -> Refusal {
    Refusal::new(500, "[Error 5000] Injected failure: internal server error")
}

fn error_body(summary: &str, with_code: bool) -> ReplyBody {
    // With the code extra on, the code goes out as `errorCode` too (as one client's fixtures
    // have it); the digits come from the summary's `[Error NNNN]`.
    let error_code = with_code
        .then(|| {
            summary
                .strip_prefix("[Error ")
                .and_then(|rest| rest.split(']').next())
                .and_then(|digits| digits.parse().ok())
        })
        .flatten();
    ReplyBody::Error {
        error_code,
        summary: summary.to_owned(),
        detail: None,
    }
}

/// The children of `LoginResponse14sp4` and of `LoginResponse22V5` (whose extra fields are all
/// optional).
fn login_children() -> String {
    let mut children = String::new();
    field(&mut children, "loginType", "System");
    field(&mut children, "locale", "en_US");
    field(&mut children, "encoding", "ISO-8859-1");
    flag(&mut children, "isEnterprise", false);
    field(&mut children, "userDomain", USER_DOMAIN);
    children
}

fn hex(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(text, "{byte:02x}");
    }
    text
}

/// The `signedPassword` of the signed login: hex MD5 of `nonce:hex SHA-1 of the password`.
pub(crate) fn signed_password(nonce: &str, password: &str) -> String {
    let password_hash = hex(&Sha1::digest(password.as_bytes()));
    hex(&Md5::digest(format!("{nonce}:{password_hash}").as_bytes()))
}

/// Writes `bytes` in pieces of `piece` bytes, each flushed on its own.
async fn dribble<S: AsyncWrite + Unpin>(
    stream: &mut S,
    bytes: &[u8],
    piece: usize,
) -> std::io::Result<()> {
    for chunk in bytes.chunks(piece) {
        stream.write_all(chunk).await?;
        stream.flush().await?;
        tokio::task::yield_now().await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_password_matches_the_spec_test_vectors() {
        assert_eq!(
            hex(&Sha1::digest(b"password")),
            "5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8"
        );
        assert_eq!(
            signed_password("1234567890123", "password"),
            "77e4a6de3a1e00be05e121cf0ebee860"
        );
        assert_eq!(
            signed_password("1234567890123", "secret"),
            "8231b8845dbfc352f89a0f2dc48f6425"
        );
    }

    #[test]
    fn error_codes_come_from_the_summary() {
        match error_body("[Error 4008] User not found: x", true) {
            ReplyBody::Error { error_code, .. } => assert_eq!(error_code, Some(4008)),
            other => panic!("{other:?}"),
        }
        match error_body("[Error 4008] User not found: x", false) {
            ReplyBody::Error { error_code, .. } => assert_eq!(error_code, None),
            other => panic!("{other:?}"),
        }
    }
}
