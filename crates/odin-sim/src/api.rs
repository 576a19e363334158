//! The `/api/v2` routes of the Odin slice, the guard in front of them (faults, rate limit,
//! token check, hostile answers) and the request counter in front of everything.

use std::collections::HashSet;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use rand::Rng;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::DropConnection;
use crate::faults::{DropMoment, Faults, RequestFaults, chance};
use crate::generate;
use crate::reply::{ApiError, error_body, json_bytes, ok};
use crate::rules::PasscodeOwner;
use crate::state::{SimState, ValueSource, lock};
use crate::truth;
use crate::world::{AUTHENTICATION, ScopeError, ScopeRules, SipUserName, User, World};

/// The most values one generator answer holds, whatever `limit` asks (the spec allows a cap).
pub(crate) const MAX_GENERATED: usize = 10_000;

/// How much JSON whitespace the enormous-body fault appends: twice a client's usual 8 MiB cap.
const ENORMOUS_PADDING: usize = 16 * 1024 * 1024;

/// The userId that the other-user fault names when the world has only one user.
const STRANGER: &str = "someone.else@elsewhere.invalid";

/// The simulator's router: `/api/v2` (the Odin slice) and `/_sim` (truth and control).
pub fn router(state: SimState) -> Router {
    let api = Router::new()
        .route("/api/v2/auth/token", post(login).put(refresh))
        .route("/api/v2/auth/session", get(session))
        .route("/api/v2/auth/token/logout", post(logout))
        .route("/api/v2/password/generate", get(generate_passwords))
        .route("/api/v2/passcode/generate", get(generate_passcodes))
        .route("/api/v2/sip-password/generate", get(generate_sip_passwords))
        .route("/api/v2/users", get(users))
        .route("/api/v2/users/services/assigned", get(assigned_services))
        .route(
            "/api/v2/users/authentication",
            get(user_authentication).put(set_sip_password),
        )
        .route(
            "/api/v2/users/portal-passcode",
            get(portal_passcode).put(set_portal_passcode),
        )
        .route("/api/v2/users/passwords", put(set_web_password))
        .merge(crate::device_routes::api_routes())
        .route_layer(middleware::from_fn_with_state(state.clone(), guard));
    let sim = Router::new()
        .route("/_sim/credentials", get(truth::credentials))
        .route("/_sim/stats", get(truth::stats))
        .route(
            "/_sim/faults",
            get(truth::get_faults).put(truth::put_faults),
        )
        .route(
            "/_sim/soap-faults",
            get(truth::get_soap_faults).put(truth::put_soap_faults),
        )
        .route("/_sim/tokens", delete(truth::revoke_tokens))
        .route("/_sim/devices", get(crate::device_routes::sim_devices));
    api.merge(sim)
        .merge(crate::soap::routes())
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), count))
        .with_state(state)
}

async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::not_found(method.as_str(), uri.path())
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::method_not_allowed(method.as_str(), uri.path())
}

/// Counts every request by method, route and status (0 when the connection is dropped).
async fn count(State(state): State<SimState>, request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let matched = request.extensions().get::<MatchedPath>().cloned();
    let unmatched_path = match matched {
        Some(_) => None,
        None => Some(request.uri().path().to_owned()),
    };
    let response = next.run(request).await;
    let status = if response.extensions().get::<DropConnection>().is_some() {
        0
    } else {
        response.status().as_u16()
    };
    let route = matched
        .as_ref()
        .map(MatchedPath::as_str)
        .or(unmatched_path.as_deref())
        .unwrap_or_default();
    lock(&state.shared.stats).record(&method, route, status);
    tracing::debug!(method = %method, route, status, "request");
    response
}

/// The token in `Authorization: Bearer <token>`, if any.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// `[]`: what Odin answers when there is nothing to say (never an empty body).
fn empty_list() -> Response {
    json_bytes(StatusCode::OK, b"[]".to_vec())
}

fn dropped() -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    response.extensions_mut().insert(DropConnection);
    response
}

/// The last stretch of an added latency that is slept on a blocking thread, not on tokio's timer.
const PRECISE_TAIL: Duration = Duration::from_millis(2);

/// Waits `latency`, accurate to a fraction of a millisecond. Tokio's timer fires on whole
/// milliseconds and rounds up, so `tokio::time::sleep(10 ms)` alone took 11.3 ms on average
/// under load: a client measured against "10 ms" could never reach `concurrency / 10 ms`. The
/// bulk of the wait stays on tokio's timer (no thread held); the last
/// [`PRECISE_TAIL`] is a plain `nanosleep` on a blocking-pool thread, which wakes within tens of
/// microseconds of its deadline.
pub(crate) async fn add_latency(latency: Duration) {
    let deadline = std::time::Instant::now() + latency;
    if let Some(coarse) = latency.checked_sub(PRECISE_TAIL) {
        tokio::time::sleep(coarse).await;
    }
    let remaining = deadline.saturating_duration_since(std::time::Instant::now());
    if !remaining.is_zero() {
        // A failed join means the blocking pool is shutting down: the answer no longer matters.
        let _ = tokio::task::spawn_blocking(move || std::thread::sleep(remaining)).await;
    }
}

/// In front of every `/api/v2` route: latency, rate limit, failures and drops, the token check,
/// then the handler, then the faults that come after it and the hostile disguises.
async fn guard(State(state): State<SimState>, request: Request, next: Next) -> Response {
    let plan = state.shared.faults.plan();
    if !plan.latency.is_zero() {
        add_latency(plan.latency).await;
    }
    let is_login = request.method() == Method::POST && request.uri().path() == "/api/v2/auth/token";
    let response = if let Some(retry_after) = plan.rate_limited {
        ApiError::rate_limited(retry_after).into_response()
    } else if let Some(status) = plan.fail_before {
        ApiError::injected(status).into_response()
    } else if plan.drop == Some(DropMoment::BeforeChange) {
        return dropped();
    } else if !is_login
        && !bearer(request.headers()).is_some_and(|token| lock(&state.shared.tokens).is_live(token))
    {
        ApiError::bad_token().into_response()
    } else if plan.ok_with_error {
        let status = StatusCode::INTERNAL_SERVER_ERROR;
        json_bytes(
            StatusCode::OK,
            error_body(
                status,
                "[Error 5000] Injected failure: internal server error",
            ),
        )
    } else {
        let (request, echoed) = if plan.echo_secret {
            secret_of(request).await
        } else {
            (request, None)
        };
        let response = next.run(request).await;
        if plan.drop == Some(DropMoment::AfterChange) {
            return dropped();
        }
        if let Some(secret) = echoed {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("[Error 5000] Injected failure: could not confirm `{secret}`"),
            )
            .into_response()
        } else if plan.fail_after {
            ApiError::injected(StatusCode::INTERNAL_SERVER_ERROR).into_response()
        } else {
            response
        }
    };
    disguise(&plan, response).await
}

/// The fields of a request body that hold a secret.
const SECRET_FIELDS: [&str; 4] = ["newPassword", "newPasscode", "password", "token"];

/// For the `echo_secret_rate` fault: the request (its body read and put back) and the first
/// secret its JSON body carries, if any.
async fn secret_of(request: Request) -> (Request, Option<String>) {
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return (Request::from_parts(parts, Body::empty()), None);
    };
    let secret = serde_json::from_slice::<Map<String, Value>>(&bytes)
        .ok()
        .and_then(|object| {
            SECRET_FIELDS
                .iter()
                .find_map(|field| match object.get(*field) {
                    Some(Value::String(secret)) if !secret.is_empty() => Some(secret.clone()),
                    _ => None,
                })
        });
    (Request::from_parts(parts, Body::from(bytes)), secret)
}

/// The hostile-answer faults that rewrite a body: HTML error pages, truncated JSON, enormous
/// bodies.
async fn disguise(plan: &RequestFaults, response: Response) -> Response {
    let status = response.status();
    let html = plan.html_error && (status.is_client_error() || status.is_server_error());
    let truncate = plan.truncate && status.is_success();
    if !(html || truncate || plan.enormous) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    let mut bytes = if html {
        parts.headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        html_page(status).into_bytes()
    } else {
        axum::body::to_bytes(body, usize::MAX)
            .await
            .map(|bytes| bytes.to_vec())
            .unwrap_or_default()
    };
    if truncate {
        bytes.truncate(bytes.len() / 2);
    }
    if plan.enormous {
        bytes.resize(bytes.len() + ENORMOUS_PADDING, b' ');
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// The kind of page a proxy in front of a server sends.
fn html_page(status: StatusCode) -> String {
    let title = format!(
        "{} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("Error")
    );
    format!(
        "<!DOCTYPE html>\n<html>\n<head><title>{title}</title></head>\n<body>\n\
         <center><h1>{title}</h1></center>\n<hr><center>nginx</center>\n</body>\n</html>\n"
    )
}

/// The query parameters the routes read. Empty values count as absent.
#[derive(Debug, Default)]
struct Params {
    user_id: Option<String>,
    service_provider_id: Option<String>,
    group_id: Option<String>,
    limit: Option<String>,
}

fn params(uri: &Uri) -> Params {
    let mut params = Params::default();
    let Some(query) = uri.query() else {
        return params;
    };
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        if value.is_empty() {
            continue;
        }
        let slot = match &*key {
            "userId" => &mut params.user_id,
            "serviceProviderId" => &mut params.service_provider_id,
            "groupId" => &mut params.group_id,
            "limit" => &mut params.limit,
            _ => continue,
        };
        *slot = Some(value.into_owned());
    }
    params
}

/// A JSON object body; an empty body is an empty object.
pub(crate) fn body_object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice(body) {
        Ok(Value::Object(object)) => Ok(object),
        _ => Err(ApiError::invalid_body()),
    }
}

/// A string field: absent or null is `None`, anything but a string is an invalid value.
fn text_field(body: &Map<String, Value>, name: &str) -> Result<Option<String>, ApiError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(_) => Err(ApiError::invalid_value(name)),
    }
}

/// A mandatory identifier: present, a string, not empty.
pub(crate) fn required_id(body: &Map<String, Value>, name: &str) -> Result<String, ApiError> {
    text_field(body, name)?
        .filter(|text| !text.is_empty())
        .ok_or_else(|| ApiError::missing_field(name))
}

pub(crate) fn required_param(value: Option<String>, name: &str) -> Result<String, ApiError> {
    value.ok_or_else(|| ApiError::missing_field(name))
}

pub(crate) fn scope_error(
    error: ScopeError,
    service_provider_id: &str,
    group_id: &str,
) -> ApiError {
    match error {
        ScopeError::UnknownServiceProvider => {
            ApiError::service_provider_not_found(service_provider_id)
        }
        ScopeError::UnknownGroup => ApiError::group_not_found(service_provider_id, group_id),
    }
}

/// Finds a user, and when the request also named a service provider or group, checks that the
/// user is in it.
pub(crate) fn find_user(
    world: &World,
    user_id: &str,
    service_provider_id: Option<&str>,
    group_id: Option<&str>,
) -> Result<usize, ApiError> {
    let index = world
        .user(user_id)
        .ok_or_else(|| ApiError::user_not_found(user_id))?;
    let user = &world.users[index];
    let actual_sp = world.service_provider_id_of(user);
    let actual_group = world.group_id_of(user);
    let sp_differs = service_provider_id.is_some_and(|asked| asked != actual_sp);
    let group_differs = group_id.is_some_and(|asked| asked != actual_group);
    if sp_differs || group_differs {
        return Err(ApiError::user_not_in_group(
            user_id,
            service_provider_id.unwrap_or(actual_sp),
            group_id.unwrap_or(actual_group),
        ));
    }
    Ok(index)
}

/// Whom an answer about user `index` names: that user, or under the other-user fault the next
/// one (a made-up userId when there is no other).
fn answered_user(world: &World, index: usize, other: bool) -> (&User, Option<&'static str>) {
    if !other {
        (&world.users[index], None)
    } else if world.users.len() > 1 {
        (&world.users[(index + 1) % world.users.len()], None)
    } else {
        (&world.users[index], Some(STRANGER))
    }
}

impl SimState {
    fn world(&self) -> std::sync::MutexGuard<'_, World> {
        lock(&self.shared.world)
    }

    fn other_user_fault(&self) -> bool {
        self.shared.faults.roll(|faults| faults.other_user_rate)
    }
}

// ---- session ----

async fn login(State(state): State<SimState>, body: Bytes) -> Result<Response, ApiError> {
    let body = body_object(&body)?;
    let username = required_id(&body, "username")?;
    let password =
        text_field(&body, "password")?.ok_or_else(|| ApiError::missing_field("password"))?;
    let (expected_user, expected_password) = &state.shared.login;
    if username != *expected_user || password != *expected_password {
        return Err(ApiError::bad_login());
    }
    let token = lock(&state.shared.tokens).issue(&username, state.shared.token_ttl);
    Ok(ok(&serde_json::json!({ "token": token })))
}

async fn refresh(State(state): State<SimState>) -> Response {
    let token = lock(&state.shared.tokens).issue(&state.shared.login.0, state.shared.token_ttl);
    ok(&serde_json::json!({ "token": token }))
}

async fn session(State(state): State<SimState>) -> Response {
    ok(&serde_json::json!({
        "userId": state.shared.login.0,
        "loginType": "System",
        "isSystemAdmin": true,
        "readOnly": false,
        "locale": "en_US",
        "encoding": "UTF-8",
    }))
}

/// Kills the token named in the body, or the caller's own when the body names none.
async fn logout(
    State(state): State<SimState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body = body_object(&body)?;
    let named = text_field(&body, "token")?.filter(|token| !token.is_empty());
    let token = named.as_deref().or_else(|| bearer(&headers));
    if let Some(token) = token {
        lock(&state.shared.tokens).revoke(token);
    }
    Ok(empty_list())
}

// ---- generators ----

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Generator {
    /// `/password/generate`: web passwords, also good for SIP (the published bulk reset uses it
    /// for both).
    Password,
    Passcode,
    SipPassword,
}

async fn generate_passwords(State(state): State<SimState>, uri: Uri) -> Result<Response, ApiError> {
    generate_values(&state, &uri, Generator::Password)
}

async fn generate_passcodes(State(state): State<SimState>, uri: Uri) -> Result<Response, ApiError> {
    generate_values(&state, &uri, Generator::Passcode)
}

async fn generate_sip_passwords(
    State(state): State<SimState>,
    uri: Uri,
) -> Result<Response, ApiError> {
    generate_values(&state, &uri, Generator::SipPassword)
}

fn parse_limit(text: &str) -> Result<usize, ApiError> {
    match text.trim().parse::<usize>() {
        Ok(limit) if limit >= 1 => Ok(limit),
        _ => Err(ApiError::invalid_value("limit")),
    }
}

fn generate_values(
    state: &SimState,
    uri: &Uri,
    generator: Generator,
) -> Result<Response, ApiError> {
    let params = params(uri);
    let limit = params.limit.as_deref().map(parse_limit).transpose()?;
    let rules = {
        let world = state.world();
        match (
            params.service_provider_id.as_deref(),
            params.group_id.as_deref(),
        ) {
            (Some(sp), Some(group)) => world
                .group(sp, group)
                .map(|index| world.group_rules(index))
                .map_err(|error| scope_error(error, sp, group))?,
            (None, None) => world.system,
            (Some(_), None) => return Err(ApiError::missing_field("groupId")),
            (None, Some(_)) => return Err(ApiError::missing_field("serviceProviderId")),
        }
    };
    let faults = state.shared.faults.snapshot();
    let cap = faults
        .as_ref()
        .and_then(|faults| faults.generator_cap)
        .unwrap_or(usize::MAX)
        .max(1);
    let count = limit.unwrap_or(1).min(MAX_GENERATED).min(cap);
    let mut source = lock(&state.shared.values);
    // `limit=1` may come back in either shape, so clients must read both.
    let as_list = match limit {
        None => false,
        Some(1) => source.rng.random_bool(0.5),
        Some(_) => true,
    };
    let mut values = make_values(&mut source, generator, &rules, count, faults.as_ref());
    drop(source);
    let (single_key, list_key) = match generator {
        Generator::Password | Generator::SipPassword => ("password", "passwords"),
        Generator::Passcode => ("passcode", "passcodes"),
    };
    let mut answer = Map::new();
    if as_list {
        answer.insert(list_key.to_owned(), Value::Array(values));
    } else {
        answer.insert(single_key.to_owned(), values.pop().unwrap_or_default());
    }
    Ok(ok(&answer))
}

fn good_value(rng: &mut impl Rng, generator: Generator, rules: &ScopeRules) -> String {
    match generator {
        Generator::Password => generate::password(
            rng,
            &rules.web.shape().and(rules.sip.shape()),
            generate::WEB_PASSWORD_LENGTH,
        ),
        Generator::SipPassword => {
            generate::password(rng, &rules.sip.shape(), generate::SIP_PASSWORD_LENGTH)
        }
        Generator::Passcode => generate::passcode(rng, &rules.passcode),
    }
}

fn bad_value(rng: &mut impl Rng, generator: Generator, rules: &ScopeRules) -> String {
    match generator {
        Generator::Password => generate::bad_password(rng, &[rules.web.shape(), rules.sip.shape()]),
        Generator::SipPassword => generate::bad_password(rng, &[rules.sip.shape()]),
        Generator::Passcode => generate::bad_passcode(rng, &rules.passcode),
    }
}

const CONTROL_CHARACTERS: [char; 6] = ['\0', '\t', '\n', '\r', '\u{1b}', '\u{7f}'];

/// `count` values, distinct unless the value space is tiny, with the generator faults applied.
fn make_values(
    source: &mut ValueSource,
    generator: Generator,
    rules: &ScopeRules,
    count: usize,
    faults: Option<&Faults>,
) -> Vec<Value> {
    let rng = &mut source.rng;
    let mut values: Vec<Value> = Vec::with_capacity(count);
    let mut seen: HashSet<String> = HashSet::with_capacity(count);
    for _ in 0..count {
        let mut text = good_value(rng, generator, rules);
        for _ in 0..20 {
            if !seen.contains(&text) {
                break;
            }
            text = good_value(rng, generator, rules);
        }
        seen.insert(text.clone());
        let Some(faults) = faults else {
            values.push(Value::String(text));
            continue;
        };
        if chance(rng, faults.bad_value_rate) {
            text = bad_value(rng, generator, rules);
        }
        if chance(rng, faults.control_char_rate) {
            let position = rng.random_range(0..=text.chars().count());
            let byte = text
                .char_indices()
                .nth(position)
                .map_or(text.len(), |(at, _)| at);
            text.insert(
                byte,
                CONTROL_CHARACTERS[rng.random_range(0..CONTROL_CHARACTERS.len())],
            );
        }
        let mut value = Value::String(text);
        if chance(rng, faults.wrong_kind_rate) {
            value = wrong_kind(rng, generator, &value);
        }
        if chance(rng, faults.empty_value_rate) {
            value = Value::String(String::new());
        }
        if chance(rng, faults.duplicate_value_rate)
            && let Some(previous) = values.last().or(source.last.as_ref())
        {
            value = previous.clone();
        }
        values.push(value);
    }
    if let Some(last) = values.last() {
        source.last = Some(last.clone());
    }
    values
}

/// A value of the wrong kind: letters in a passcode, a number instead of a password string.
fn wrong_kind(rng: &mut impl Rng, generator: Generator, value: &Value) -> Value {
    match (generator, value) {
        (Generator::Passcode, Value::String(text)) if !text.is_empty() => {
            let mut characters: Vec<char> = text.chars().collect();
            let letters = rng.random_range(1..=characters.len().min(3));
            for _ in 0..letters {
                let position = rng.random_range(0..characters.len());
                characters[position] = char::from(b'a' + rng.random_range(0..26u8));
            }
            Value::String(characters.into_iter().collect())
        }
        (Generator::Passcode, _) => Value::String("abcd".to_owned()),
        _ => Value::from(rng.random_range(10_000_000u64..100_000_000)),
    }
}

// ---- users and services ----

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct UserAnswer<'a> {
    user_id: &'a str,
    service_provider_id: &'a str,
    group_id: &'a str,
    first_name: &'a str,
    last_name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    phone_number: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    extension: Option<&'a str>,
    /// The primary device, in the one-user read only.
    #[serde(flatten)]
    endpoint: Option<crate::device_routes::Endpoint>,
}

fn user_answer<'a>(world: &'a World, user: &'a User) -> UserAnswer<'a> {
    UserAnswer {
        user_id: &user.user_id,
        service_provider_id: world.service_provider_id_of(user),
        group_id: world.group_id_of(user),
        first_name: &user.first_name,
        last_name: &user.last_name,
        phone_number: user.phone_number.as_deref(),
        extension: user.extension.as_deref(),
        endpoint: None,
    }
}

/// `GET /users?userId=` (one user) or `GET /users?serviceProviderId=&groupId=` (a group).
async fn users(State(state): State<SimState>, uri: Uri) -> Result<Response, ApiError> {
    let params = params(&uri);
    let sp = params.service_provider_id.as_deref();
    let group = params.group_id.as_deref();
    if let Some(user_id) = params.user_id.as_deref() {
        let other = state.other_user_fault();
        let world = state.world();
        let index = find_user(&world, user_id, sp, group)?;
        let (user, stranger) = answered_user(&world, index, other);
        let mut answer = user_answer(&world, user);
        answer.endpoint = world
            .user(&user.user_id)
            .and_then(|index| crate::device_routes::endpoint(&world, index));
        if let Some(stranger) = stranger {
            answer.user_id = stranger;
        }
        return Ok(ok(&answer));
    }
    let sp = required_param(params.service_provider_id, "serviceProviderId")?;
    let group = required_param(params.group_id, "groupId")?;
    let world = state.world();
    let group_index = world
        .group(&sp, &group)
        .map_err(|error| scope_error(error, &sp, &group))?;
    let answer: Vec<UserAnswer<'_>> = world.groups[group_index]
        .users
        .iter()
        .map(|&index| user_answer(&world, &world.users[index]))
        .collect();
    Ok(ok(&answer))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ServiceAnswer<'a> {
    service_name: &'a str,
}

fn services(names: &[String]) -> Vec<ServiceAnswer<'_>> {
    names
        .iter()
        .map(|name| ServiceAnswer { service_name: name })
        .collect()
}

async fn assigned_services(State(state): State<SimState>, uri: Uri) -> Result<Response, ApiError> {
    let params = params(&uri);
    let user_id = required_param(params.user_id, "userId")?;
    let other = state.other_user_fault();
    let world = state.world();
    let index = find_user(
        &world,
        &user_id,
        params.service_provider_id.as_deref(),
        params.group_id.as_deref(),
    )?;
    let (user, stranger) = answered_user(&world, index, other);
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Answer<'a> {
        user_id: &'a str,
        user_services: Vec<ServiceAnswer<'a>>,
        group_services: Vec<ServiceAnswer<'a>>,
    }
    Ok(ok(&Answer {
        user_id: stranger.unwrap_or(&user.user_id),
        user_services: services(&user.services),
        group_services: services(&world.groups[user.group].group_services),
    }))
}

// ---- SIP authentication ----

async fn user_authentication(
    State(state): State<SimState>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let params = params(&uri);
    let user_id = required_param(params.user_id, "userId")?;
    let other = state.other_user_fault();
    let world = state.world();
    let index = find_user(
        &world,
        &user_id,
        params.service_provider_id.as_deref(),
        params.group_id.as_deref(),
    )?;
    if !world.users[index].has_service(AUTHENTICATION) {
        return Err(ApiError::service_not_assigned(AUTHENTICATION));
    }
    let (user, stranger) = answered_user(&world, index, other);
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Answer<'a> {
        user_id: &'a str,
        user_name: Option<&'a SipUserName>,
        service_provider_id: &'a str,
        group_id: &'a str,
    }
    Ok(ok(&Answer {
        user_id: stranger.unwrap_or(&user.user_id),
        user_name: user.sip_user_name.as_ref(),
        service_provider_id: world.service_provider_id_of(user),
        group_id: world.group_id_of(user),
    }))
}

async fn set_sip_password(
    State(state): State<SimState>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body = body_object(&body)?;
    let user_id = required_id(&body, "userId")?;
    let new_password =
        text_field(&body, "newPassword")?.ok_or_else(|| ApiError::missing_field("newPassword"))?;
    // A new SIP authentication user name may come with the password.
    let user_name = text_field(&body, "userName")?;
    let sp = text_field(&body, "serviceProviderId")?;
    let group = text_field(&body, "groupId")?;
    let other = state.other_user_fault();
    let mut world = state.world();
    let index = find_user(&world, &user_id, sp.as_deref(), group.as_deref())?;
    world.change_sip_credentials(index, user_name, Some(new_password), None)?;
    let (user, stranger) = answered_user(&world, index, other);
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Answer<'a> {
        user_id: &'a str,
        user_name: Option<&'a SipUserName>,
        new_password: &'a str,
    }
    Ok(ok(&Answer {
        user_id: stranger.unwrap_or(&user.user_id),
        user_name: user.sip_user_name.as_ref(),
        new_password: "",
    }))
}

// ---- voice portal passcode ----

async fn portal_passcode(State(state): State<SimState>, uri: Uri) -> Result<Response, ApiError> {
    let params = params(&uri);
    let user_id = required_param(params.user_id, "userId")?;
    let other = state.other_user_fault();
    let world = state.world();
    let index = find_user(
        &world,
        &user_id,
        params.service_provider_id.as_deref(),
        params.group_id.as_deref(),
    )?;
    let (user, stranger) = answered_user(&world, index, other);
    Ok(ok(&serde_json::json!({
        "userId": stranger.unwrap_or(&user.user_id),
        "isLoginDisabled": false,
        "expirationDays": 0,
        "passcode": "*****",
    })))
}

async fn set_portal_passcode(
    State(state): State<SimState>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body = body_object(&body)?;
    let user_id = required_id(&body, "userId")?;
    let new_passcode =
        text_field(&body, "newPasscode")?.ok_or_else(|| ApiError::missing_field("newPasscode"))?;
    let sp = text_field(&body, "serviceProviderId")?;
    let group = text_field(&body, "groupId")?;
    let mut world = state.world();
    let index = find_user(&world, &user_id, sp.as_deref(), group.as_deref())?;
    let user = &world.users[index];
    let history = user.portal_passcode.history();
    let owner = PasscodeOwner {
        phone_number: user.phone_number.as_deref(),
        extension: user.extension.as_deref(),
        history: &history,
    };
    world.groups[user.group]
        .passcode_rules
        .check(&new_passcode, &owner)
        .map_err(|violation| ApiError::rule(&violation))?;
    drop(history);
    world.users[index].portal_passcode.set(new_passcode);
    Ok(empty_list())
}

// ---- web password ----

async fn set_web_password(
    State(state): State<SimState>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body = body_object(&body)?;
    let user_id = required_id(&body, "userId")?;
    // One public client sends `password` instead of `newPassword`.
    let new_password = match text_field(&body, "newPassword")? {
        Some(password) => password,
        None => {
            text_field(&body, "password")?.ok_or_else(|| ApiError::missing_field("newPassword"))?
        }
    };
    let sp = text_field(&body, "serviceProviderId")?;
    let group = text_field(&body, "groupId")?;
    let other = state.other_user_fault();
    let mut world = state.world();
    let index = find_user(&world, &user_id, sp.as_deref(), group.as_deref())?;
    let user = &world.users[index];
    world.groups[user.group]
        .web_rules
        .check(&new_password, &user.user_id)
        .map_err(|violation| ApiError::rule(&violation))?;
    world.users[index].web_password.set(new_password);
    let (user, stranger) = answered_user(&world, index, other);
    Ok(ok(
        &serde_json::json!({ "userId": stranger.unwrap_or(&user.user_id) }),
    ))
}
