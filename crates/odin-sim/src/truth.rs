//! The simulator's own endpoints under `/_sim/`: the true credentials, the request counts, and
//! runtime control of faults and tokens. They are never faulted and need no token.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use serde::{Deserialize, Serialize};

use crate::faults::Faults;
use crate::reply::{ApiError, json, ok};
use crate::soap::SoapFaults;
use crate::state::SimState;
use crate::world::User;

/// How many changes of each credential were accepted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Changes {
    pub sip: u64,
    pub vm: u64,
    pub web: u64,
}

/// One user's true credentials, in plain text.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Credentials {
    pub user_id: String,
    pub sip_user_name: Option<String>,
    pub sip_password: Option<String>,
    pub portal_passcode: Option<String>,
    pub web_password: Option<String>,
    pub changes: Changes,
}

/// Values stay out of Debug output so that a failing assertion or a log line does not print
/// them; tests compare fields directly.
impl std::fmt::Debug for Credentials {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redacted = |value: &Option<String>| value.as_ref().map(|_| "[redacted]");
        formatter
            .debug_struct("Credentials")
            .field("user_id", &self.user_id)
            .field("sip_user_name", &self.sip_user_name)
            .field("sip_password", &redacted(&self.sip_password))
            .field("portal_passcode", &redacted(&self.portal_passcode))
            .field("web_password", &redacted(&self.web_password))
            .field("changes", &self.changes)
            .finish()
    }
}

impl Credentials {
    pub(crate) fn of(user: &User) -> Self {
        Credentials {
            user_id: user.user_id.clone(),
            sip_user_name: user.sip_user_name.as_ref().map(|name| name.as_text()),
            sip_password: user.sip_password.current.clone(),
            portal_passcode: user.portal_passcode.current.clone(),
            web_password: user.web_password.current.clone(),
            changes: Changes {
                sip: user.sip_password.changes,
                vm: user.portal_passcode.changes,
                web: user.web_password.changes,
            },
        }
    }
}

/// `GET /_sim/credentials[?userId=]`: one user's credentials, or everyone's.
pub(crate) async fn credentials(State(state): State<SimState>, uri: Uri) -> Response {
    let user_id = uri.query().and_then(|query| {
        form_urlencoded::parse(query.as_bytes())
            .find(|(key, value)| key == "userId" && !value.is_empty())
            .map(|(_, value)| value.into_owned())
    });
    match user_id {
        Some(user_id) => match state.credentials(&user_id) {
            Some(credentials) => ok(&credentials),
            None => json(
                StatusCode::NOT_FOUND,
                &ErrorAnswer::new(
                    StatusCode::NOT_FOUND,
                    format!("[Error 4008] User not found: {user_id}"),
                ),
            ),
        },
        None => ok(&state.all_credentials()),
    }
}

#[derive(Serialize)]
struct ErrorAnswer {
    status: u16,
    error: &'static str,
    details: String,
}

impl ErrorAnswer {
    fn new(status: StatusCode, details: String) -> Self {
        ErrorAnswer {
            status: status.as_u16(),
            error: status.canonical_reason().unwrap_or("Error"),
            details,
        }
    }
}

/// `GET /_sim/stats`.
pub(crate) async fn stats(State(state): State<SimState>) -> Response {
    ok(&state.stats())
}

/// `GET /_sim/faults`: the current switches.
pub(crate) async fn get_faults(State(state): State<SimState>) -> Response {
    ok(&state.faults())
}

/// `PUT /_sim/faults`: replaces every switch (those left out are off); answers the new ones.
pub(crate) async fn put_faults(
    State(state): State<SimState>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let faults: Faults = serde_json::from_slice(&body).map_err(|error| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("[Error 4002] Invalid value for faults: {error}"),
        )
    })?;
    faults.validate().map_err(|error| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("[Error 4002] Invalid value for faults: {error}"),
        )
    })?;
    state.set_faults(faults);
    Ok(ok(&state.faults()))
}

/// `GET /_sim/soap-faults`: the SOAP front's hostile-front faults in force.
pub(crate) async fn get_soap_faults(State(state): State<SimState>) -> Response {
    ok(&state.shared.soap.faults())
}

/// `PUT /_sim/soap-faults`: replaces them (keys left out are off, so `{}` clears them) and
/// counts their hits from zero; answers the new ones. What `SimHandle::set_soap_faults` does,
/// for a simulator in another process.
pub(crate) async fn put_soap_faults(
    State(state): State<SimState>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let faults: SoapFaults = serde_json::from_slice(&body).map_err(|error| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("[Error 4002] Invalid value for SOAP faults: {error}"),
        )
    })?;
    state.shared.soap.set_faults(faults);
    Ok(ok(&state.shared.soap.faults()))
}

/// `DELETE /_sim/tokens`: kills every live token (as if they had all expired).
pub(crate) async fn revoke_tokens(State(state): State<SimState>) -> Response {
    let revoked = state.revoke_all_tokens();
    ok(&serde_json::json!({ "revoked": revoked }))
}
