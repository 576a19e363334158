//! Building answers: JSON bodies, and the error body `{"status", "error", "details"}` with the
//! BroadWorks-style `details` texts that clients match on.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::rules::RuleViolation;

const JSON: HeaderValue = HeaderValue::from_static("application/json");

/// A JSON answer with `status`.
pub(crate) fn json<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => json_bytes(status, body),
        Err(error) => ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("[Error 5001] Cannot encode the answer: {error}"),
        )
        .into_response(),
    }
}

/// A 200 JSON answer.
pub(crate) fn ok<T: Serialize + ?Sized>(value: &T) -> Response {
    json(StatusCode::OK, value)
}

pub(crate) fn json_bytes(status: StatusCode, body: Vec<u8>) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, JSON);
    response
}

/// The JSON error body for `status` and `details`.
pub(crate) fn error_body(status: StatusCode, details: &str) -> Vec<u8> {
    #[derive(Serialize)]
    struct ErrorBody<'a> {
        status: u16,
        error: &'a str,
        details: &'a str,
    }
    let body = ErrorBody {
        status: status.as_u16(),
        error: status.canonical_reason().unwrap_or("Error"),
        details,
    };
    serde_json::to_vec(&body).unwrap_or_else(|_| b"{}".to_vec())
}

/// An error answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub details: String,
    /// Seconds for a `Retry-After` header.
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, details: impl Into<String>) -> Self {
        ApiError {
            status,
            details: details.into(),
            retry_after: None,
        }
    }

    fn bad_request(details: String) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, details)
    }

    pub(crate) fn user_not_found(user_id: &str) -> Self {
        ApiError::bad_request(format!("[Error 4008] User not found: {user_id}"))
    }

    pub(crate) fn user_not_in_group(
        user_id: &str,
        service_provider_id: &str,
        group_id: &str,
    ) -> Self {
        ApiError::bad_request(format!(
            "[Error 4009] User not in group: {user_id} is not in {service_provider_id}/{group_id}"
        ))
    }

    pub(crate) fn service_provider_not_found(service_provider_id: &str) -> Self {
        ApiError::bad_request(format!(
            "[Error 4006] Service provider not found: {service_provider_id}"
        ))
    }

    pub(crate) fn group_not_found(service_provider_id: &str, group_id: &str) -> Self {
        ApiError::bad_request(format!(
            "[Error 4007] Group not found: {group_id} in {service_provider_id}"
        ))
    }

    pub(crate) fn service_not_assigned(service: &str) -> Self {
        ApiError::bad_request(format!("[Error 4410] Service not assigned: {service}"))
    }

    pub(crate) fn missing_field(name: &str) -> Self {
        ApiError::bad_request(format!("[Error 4001] Missing mandatory field: {name}"))
    }

    pub(crate) fn invalid_value(name: &str) -> Self {
        ApiError::bad_request(format!("[Error 4002] Invalid value for {name}"))
    }

    pub(crate) fn invalid_body() -> Self {
        ApiError::bad_request(
            "[Error 4000] Invalid request body: expected a JSON object".to_owned(),
        )
    }

    /// A new SIP authentication user name that another user holds (names are unique across the
    /// system). The code and wording are ours: the real text is not on record.
    pub(crate) fn user_name_in_use(name: &str) -> Self {
        ApiError::bad_request(format!("[Error 4420] User name already in use: {name}"))
    }

    pub(crate) fn rule(violation: &RuleViolation) -> Self {
        ApiError::bad_request(violation.details())
    }

    pub(crate) fn bad_login() -> Self {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "[Error 4961] Invalid username or password",
        )
    }

    pub(crate) fn bad_token() -> Self {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "[Error 4962] Token missing, expired or revoked",
        )
    }

    pub(crate) fn rate_limited(retry_after: u64) -> Self {
        ApiError {
            retry_after: Some(retry_after),
            ..ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "[Error 4290] Rate limit exceeded",
            )
        }
    }

    pub(crate) fn injected(status: StatusCode) -> Self {
        let reason = status
            .canonical_reason()
            .unwrap_or("failure")
            .to_lowercase();
        ApiError::new(status, format!("[Error 5000] Injected failure: {reason}"))
    }

    pub(crate) fn not_found(method: &str, path: &str) -> Self {
        ApiError::new(
            StatusCode::NOT_FOUND,
            format!("[Error 4040] No such endpoint: {method} {path}"),
        )
    }

    pub(crate) fn method_not_allowed(method: &str, path: &str) -> Self {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("[Error 4050] Method not allowed: {method} {path}"),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = json_bytes(self.status, error_body(self.status, &self.details));
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}
