//! The SOAP front: OCI-P as the web service of an Xtended Services Platform, on the HTTP
//! listener (`POST /webservice/services/ProvisioningService`, the WSDL at `?wsdl`), over the
//! same world and the same OCI-P server as the TCP front.
//!
//! A call's envelope is read (`envelope`), the document it carries is handed to the OCI-P
//! front's own code (`crate::ocip`: the same parsing, commands, faults and statistics), and the
//! answer document goes back escaped in an envelope of the call's style. The login lives in a
//! session: the `JSESSIONID` cookie together with the document's `sessionId` (`sessions`).
//! Hostile fronts (load balancers, portals) are faults of their own (`front`). The contract is
//! docs/ocip.md, "OCI-P over SOAP".

mod envelope;
mod front;
mod sessions;
mod wsdl;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, Request, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

pub use front::{FrontFault, SoapFaults};
pub(crate) use sessions::SoapShared;

use crate::DropConnection;
use crate::ocip::xml::{self, RequestDocument};
use crate::ocip::{After, Login, OcipServer, Refusal};
use crate::state::{SimState, lock};
use envelope::{Operation, Return, Style};
use sessions::Binding;

/// Where the service lives.
pub(crate) const SOAP_PATH: &str = "/webservice/services/ProvisioningService";

/// The cookie that carries the session.
const COOKIE_NAME: &str = "JSESSIONID";

/// SOAP 1.1's content type.
const XML_CONTENT_TYPE: &str = "text/xml; charset=utf-8";

/// The SOAP front's routes, and the login page a hostile front redirects to.
pub(crate) fn routes() -> Router<SimState> {
    Router::new()
        .route(SOAP_PATH, get(describe).post(process))
        .route(
            front::LOGIN_PAGE_PATH,
            get(front::login_page).post(front::login_page),
        )
}

/// `GET` of the service: the WSDL with `?wsdl`, else a short page saying what lives here.
async fn describe(State(state): State<SimState>, uri: Uri, headers: HeaderMap) -> Response {
    let asks_wsdl = uri.query().is_some_and(|query| {
        query
            .split('&')
            .any(|part| part.eq_ignore_ascii_case("wsdl"))
    });
    if !asks_wsdl {
        return front::html(
            StatusCode::OK,
            "ProvisioningService",
            "The OCI-P web service of odin-sim. POST SOAP 1.1 calls of processOCIMessage here; the WSDL is at ?wsdl.",
        );
    }
    let host = headers
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
        .filter(|host| !host.is_empty())
        .unwrap_or("127.0.0.1");
    let scheme = if state.shared.tls { "https" } else { "http" };
    let location = format!("{scheme}://{host}{SOAP_PATH}");
    xml_response(StatusCode::OK, wsdl::wsdl(&location))
}

/// The most a call's body may hold: axum's default body limit, which the routed `POST` has.
const BODY_LIMIT: usize = 2 * 1024 * 1024;

/// Whether a request is a `POST` of the service, which the accept loop serves with
/// [`serve_post`] rather than through the router.
pub(crate) fn is_post(request: &Request<Body>) -> bool {
    request.method() == Method::POST && request.uri().path() == SOAP_PATH
}

/// A `POST` of the service served straight from the connection, without the router: the same
/// call as the router's `POST` route ([`process`]), counted in the statistics as the router's
/// counting layer counts it. SOAP clients call this one path for every document, so it skips
/// the router's matching and its middleware's boxing per call.
pub(crate) async fn serve_post(state: SimState, request: Request<Body>) -> Response {
    let (parts, body) = request.into_parts();
    let response = match axum::body::to_bytes(body, BODY_LIMIT).await {
        Ok(body) => process(State(state.clone()), parts.headers, body).await,
        Err(_) => (
            StatusCode::PAYLOAD_TOO_LARGE,
            "the request body is too large or could not be read",
        )
            .into_response(),
    };
    let status = if response.extensions().get::<DropConnection>().is_some() {
        0
    } else {
        response.status().as_u16()
    };
    lock(&state.shared.stats).record(&Method::POST, SOAP_PATH, status);
    tracing::debug!(method = %Method::POST, route = SOAP_PATH, status, "request");
    response
}

/// `POST` of the service: one `processOCIMessage` call.
async fn process(State(state): State<SimState>, headers: HeaderMap, body: Bytes) -> Response {
    let call = envelope::read_call(&body);
    let parsed = call
        .as_ref()
        .ok()
        .map(|call| xml::parse_str(&call.document));
    let names: Vec<&str> = match &parsed {
        Some(Ok(document)) => document
            .commands
            .iter()
            .filter_map(|command| command.type_name.as_deref())
            .collect(),
        _ => Vec::new(),
    };
    let drawn = state.shared.soap.draw(&names);
    drop(names);
    let shape = call
        .as_ref()
        .map_or((Style::Document, Operation::ProcessOciMessage), |call| {
            (call.style, call.operation)
        });
    if let Some(kind) = drawn.before() {
        return front::answer(kind, shape, None);
    }
    let call = match call {
        Ok(call) => call,
        Err(fault) => {
            tracing::debug!(reason = %fault.reason, "SOAP envelope refused");
            return xml_response(StatusCode::INTERNAL_SERVER_ERROR, envelope::fault(&fault));
        }
    };
    let parsed = parsed.unwrap_or_else(|| xml::parse_str(&call.document));
    let cookie = if drawn.drops_cookie() {
        None
    } else {
        session_cookie(&headers)
    };
    let server = OcipServer {
        state: state.clone(),
        tls: state.shared.tls,
    };
    let (reply, after, new_cookie) = run_document(&server, cookie.as_deref(), parsed).await;
    let document = returned_text(reply);
    if let Some(kind) = drawn.after() {
        // The front answers in place of the service, whose answer (and cookie) is lost.
        return front::answer(kind, shape, Some(&document));
    }
    let (style, operation) = shape;
    let answer = envelope::answer(style, operation, Return::Document(&document));
    let cut = match after {
        After::Close => {
            let mut response = StatusCode::OK.into_response();
            response.extensions_mut().insert(DropConnection);
            return response;
        }
        After::Cut(_) => Some(answer.len() / 2),
        After::Reply => state.shared.ocip.extras().cut_replies_after,
    };
    let mut answer = answer;
    if let Some(cut) = cut {
        answer.truncate(cut);
    }
    let mut response = xml_response(StatusCode::OK, answer);
    if let Some(cookie) = new_cookie.filter(|_| !drawn.drops_cookie()) {
        let secure = if state.shared.tls { "; Secure" } else { "" };
        let value = format!("{COOKIE_NAME}={cookie}; Path=/webservice; HttpOnly{secure}");
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(header::SET_COOKIE, value);
        }
    }
    response
}

/// Runs a document under the session its cookie and sessionId name: the reply document, what
/// happens to the connection, and the cookie of a session this request started.
async fn run_document(
    server: &OcipServer,
    cookie: Option<&str>,
    parsed: Result<RequestDocument, xml::BadDocument>,
) -> (Vec<u8>, After, Option<String>) {
    let document = match parsed {
        Ok(document) if (1..=xml::MAX_COMMANDS).contains(&document.commands.len()) => document,
        // Unreadable, or no command or too many: refused whole, no session needed.
        other => {
            let (reply, after) = server.answer(&mut Login::Connected, other).await;
            return (reply, after, None);
        }
    };
    let starts_login = document
        .commands
        .first()
        .and_then(|command| command.type_name.as_deref())
        .is_some_and(|name| matches!(name, "AuthenticationRequest" | "LoginRequest22V5"));
    let sessions = &server.state.shared.soap;
    let ttl = server.state.shared.token_ttl;
    let (cookie, mut login, created) =
        match sessions.bind(cookie, &document.session_id, starts_login, ttl) {
            Binding::Known { cookie, login } => (cookie, login, false),
            Binding::New { cookie } => (cookie, Login::Connected, true),
            Binding::Refused(reason) => {
                let refusal = Refusal::new(401, format!("[Error 4911] Not logged in: {reason}"));
                return (server.refuse_all(&document, &refusal), After::Reply, None);
            }
        };
    let logs_out = document
        .commands
        .iter()
        .any(|command| command.type_name.as_deref() == Some("LogoutRequest"));
    let session_id = document.session_id.clone();
    let (reply, after) = server.answer(&mut login, Ok(document)).await;
    let ended = logs_out && matches!(login, Login::Connected);
    sessions.store(&cookie, &session_id, login, ended);
    (reply, after, created.then_some(cookie))
}

/// The reply document as text: its ISO-8859-1 bytes as characters (anything beyond is already a
/// character reference), without the newline that ends a document on TCP. The usual reply is
/// ASCII, taken as it is, without a copy.
fn returned_text(mut reply: Vec<u8>) -> String {
    if reply.last() == Some(&b'\n') {
        reply.pop();
    }
    if reply.is_ascii() {
        // ASCII is UTF-8: this never fails.
        return String::from_utf8(reply).unwrap_or_default();
    }
    reply.iter().map(|&byte| char::from(byte)).collect()
}

/// The `JSESSIONID` of a request's `Cookie` headers.
fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value.trim().to_owned())
        .filter(|value| !value.is_empty())
}

fn xml_response(status: StatusCode, body: Vec<u8>) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(XML_CONTENT_TYPE),
    );
    response
}
