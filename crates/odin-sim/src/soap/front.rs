//! Hostile fronts: what a load balancer, a reverse proxy or a single-sign-on portal in front of
//! the web service answers instead of it, switched on by tests
//! ([`SimHandle::set_soap_faults`](crate::SimHandle::set_soap_faults)) so that clients can be
//! tested against each.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::envelope::{self, Fault, Operation, Return, Style};

/// Where the redirect to a login page points.
pub(crate) const LOGIN_PAGE_PATH: &str = "/sso/login";

/// What a hostile front does to a SOAP request. In `/_sim/soap-faults` written in snake_case
/// (`bad_gateway`), camelCase accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FrontFault {
    /// HTTP 500 with a SOAP Fault (`soapenv:Server`) from the service.
    #[serde(alias = "soapFault")]
    SoapFault,
    /// HTTP 502 with an HTML page, as a load balancer whose backend failed.
    #[serde(alias = "badGateway")]
    BadGateway,
    /// HTTP 503 with an HTML page and `Retry-After: 1`.
    Unavailable,
    /// HTTP 401 with an HTML page and `WWW-Authenticate: Basic`, as an HTTP front that wants
    /// its own login.
    Unauthorized,
    /// HTTP 403 with an HTML page.
    Forbidden,
    /// HTTP 302 to `/sso/login?goto=...`, a single-sign-on portal's login page (which answers
    /// 200 with an HTML form to whoever follows it).
    #[serde(alias = "loginRedirect")]
    LoginRedirect,
    /// HTTP 200 with an envelope whose response element holds no return.
    #[serde(alias = "noReturn")]
    NoReturn,
    /// HTTP 200 with an envelope whose return is not a whole document: the answer cut in half
    /// (with `after_apply`), or the start of one.
    #[serde(alias = "unparsableReturn")]
    UnparsableReturn,
    /// The front drops the cookie both ways: the request's `Cookie` never reaches the service
    /// and the answer's `Set-Cookie` never reaches the client, so no login survives its
    /// request. `after_apply` does not matter.
    #[serde(alias = "dropCookie")]
    DropCookie,
}

/// The SOAP front's hostile-front faults, all off by default. `GET`/`PUT /_sim/soap-faults`
/// read and replace them as JSON (snake_case keys, camelCase accepted; keys left out are off).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SoapFaults {
    /// What the front does; `None`: nothing.
    pub front: Option<FrontFault>,
    /// Only requests whose document carries this command (e.g.
    /// `UserAuthenticationModifyRequest`); `None`: every request, unreadable ones included.
    #[serde(alias = "onlyFor")]
    pub only_for: Option<String>,
    /// Let the service run the document first (its changes are applied), then answer as the
    /// fault says: the in-doubt case. Otherwise the front answers and the service never sees
    /// the request.
    #[serde(alias = "afterApply")]
    pub after_apply: bool,
    /// How many requests the fault hits, then it is spent; `None`: every one.
    pub times: Option<u64>,
}

/// The faults in force and how many requests they hit so far.
#[derive(Debug, Default)]
pub(crate) struct FaultSwitch {
    faults: SoapFaults,
    hits: u64,
}

/// What the faults say about one request.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Drawn {
    hit: Option<(FrontFault, bool)>,
}

impl Drawn {
    /// The front's answer given before the service sees the request.
    pub(crate) fn before(&self) -> Option<FrontFault> {
        match self.hit {
            Some((kind, false)) if kind != FrontFault::DropCookie => Some(kind),
            _ => None,
        }
    }

    /// The front's answer given in place of the service's, after it ran.
    pub(crate) fn after(&self) -> Option<FrontFault> {
        match self.hit {
            Some((kind, true)) if kind != FrontFault::DropCookie => Some(kind),
            _ => None,
        }
    }

    pub(crate) fn drops_cookie(&self) -> bool {
        matches!(self.hit, Some((FrontFault::DropCookie, _)))
    }
}

impl FaultSwitch {
    pub(crate) fn new(faults: SoapFaults) -> Self {
        FaultSwitch { faults, hits: 0 }
    }

    pub(crate) fn faults(&self) -> &SoapFaults {
        &self.faults
    }

    pub(crate) fn draw(&mut self, commands: &[&str]) -> Drawn {
        let Some(kind) = self.faults.front else {
            return Drawn::default();
        };
        if let Some(only) = &self.faults.only_for
            && !commands.contains(&only.as_str())
        {
            return Drawn::default();
        }
        if self.faults.times.is_some_and(|times| self.hits >= times) {
            return Drawn::default();
        }
        self.hits += 1;
        Drawn {
            hit: Some((kind, self.faults.after_apply)),
        }
    }
}

/// The front's answer, to a call of `operation` in `style`. `document`: the service's answer
/// document, when it ran.
pub(crate) fn answer(
    kind: FrontFault,
    (style, operation): (Style, Operation),
    document: Option<&str>,
) -> Response {
    match kind {
        FrontFault::SoapFault => {
            let fault = Fault {
                code: "Server",
                reason: "Injected failure: the provisioning service failed".to_owned(),
            };
            super::xml_response(StatusCode::INTERNAL_SERVER_ERROR, envelope::fault(&fault))
        }
        FrontFault::BadGateway => html(
            StatusCode::BAD_GATEWAY,
            "502 Bad Gateway",
            "The server in front of the service received no valid answer from it.",
        ),
        FrontFault::Unavailable => {
            let mut response = html(
                StatusCode::SERVICE_UNAVAILABLE,
                "503 Service Unavailable",
                "The service is down for maintenance or overloaded. Try again later.",
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            response
        }
        FrontFault::Unauthorized => {
            let mut response = html(
                StatusCode::UNAUTHORIZED,
                "401 Authorization Required",
                "This server could not verify that you are authorized to reach the service.",
            );
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"odin-sim front\""),
            );
            response
        }
        FrontFault::Forbidden => html(
            StatusCode::FORBIDDEN,
            "403 Forbidden",
            "You do not have permission to reach the service from here.",
        ),
        FrontFault::LoginRedirect => {
            let mut response = html(
                StatusCode::FOUND,
                "302 Found",
                "Sign in first: the login page has moved here.",
            );
            response.headers_mut().insert(
                header::LOCATION,
                HeaderValue::from_static(
                    "/sso/login?goto=%2Fwebservice%2Fservices%2FProvisioningService",
                ),
            );
            response
        }
        FrontFault::NoReturn => super::xml_response(
            StatusCode::OK,
            envelope::answer(style, operation, Return::Missing),
        ),
        FrontFault::UnparsableReturn => {
            let start = "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n<BroadsoftDocument protocol=\"OCI\" xmlns=\"C\"";
            let text = document.map_or(start, |document| {
                let mut half = document.len() / 2;
                while !document.is_char_boundary(half) {
                    half -= 1;
                }
                &document[..half]
            });
            super::xml_response(
                StatusCode::OK,
                envelope::answer(style, operation, Return::Document(text)),
            )
        }
        // Handled where the cookie is read and written; the service's answer goes out.
        FrontFault::DropCookie => StatusCode::OK.into_response(),
    }
}

/// An HTML page with a title and one paragraph, as fronts send.
pub(crate) fn html(status: StatusCode, title: &str, text: &str) -> Response {
    let page = format!(
        "<!DOCTYPE html>\n<html><head><title>{title}</title></head><body><h1>{title}</h1><p>{text}</p></body></html>\n"
    );
    let mut response = Html(page).into_response();
    *response.status_mut() = status;
    response
}

/// The page a login redirect leads to: a form, answered 200, so that a client which follows the
/// redirect gets HTML where it expected SOAP.
pub(crate) async fn login_page() -> Response {
    let mut response = Response::new(Body::from(
        "<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body><form method=\"post\" action=\"/sso/login\"><input name=\"username\"><input name=\"password\" type=\"password\"><button>Sign in</button></form></body></html>\n",
    ));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}
