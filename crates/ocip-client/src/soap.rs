//! OCI-P over SOAP: the link under a pooled session when the server is the provisioning web
//! service (`https://HOST/webservice/services/ProvisioningService`). The document is the same
//! as over TCP; it travels escaped as the one argument (`in0`, document/literal) of
//! `processOCIMessage`, and its answer comes back escaped as the return. One HTTP/1.1 request
//! per document, over keep-alive sockets the sessions share; the login lives in the session's
//! own `JSESSIONID` cookie together with its own sessionId. The request envelope is written by
//! hand in one pass; the answer is read with quick-xml and its return unescaped in one pass into
//! the bytes the OCI-P parser reads. Anything but the service's answer (a SOAP Fault, a front's HTML page, 401,
//! 403, a redirect, an envelope without a return, a dropped cookie) is [`Error::Front`], named.
//! Nothing here logs an envelope or a cookie: the documents are logged, redacted, above.

use std::time::Duration;

use bytes::Bytes;

use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;
use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap, HeaderValue};

use crate::config::OcipConfig;
use crate::error::Error;
use crate::xml;

/// How much of a front's words an error quotes at most.
const QUOTED_CHARACTERS: usize = 200;

/// The web service: its URL and the HTTP client every session sends through.
pub(crate) struct Service {
    http: reqwest::Client,
    url: reqwest::Url,
    server: String,
}

impl Service {
    /// The HTTP client as for Odin: rustls with ring, verified against the system's roots and
    /// the CA given, or not at all with `insecure` (the caller warns); the proxy the caller
    /// chose, else none (this crate never reads the environment); redirects never followed.
    pub(crate) fn new(config: &OcipConfig, url: url::Url, server: &str) -> Result<Service, Error> {
        let config_error = |message: String| Error::Config { message };
        // reqwest is built without a default crypto provider; a second install is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .referer(false)
            .connect_timeout(config.connect_timeout)
            .pool_max_idle_per_host(config.connections.max(1))
            .pool_idle_timeout(Duration::from_secs(60))
            .tcp_nodelay(true)
            .http1_only()
            .user_agent(concat!("bwreset-ocip-client/", env!("CARGO_PKG_VERSION")));
        builder = match &config.proxy {
            None => builder.no_proxy(),
            Some(proxy) => builder.proxy(
                reqwest::Proxy::all(proxy.as_str())
                    .map_err(|_| config_error("the proxy is not a usable proxy URL".into()))?,
            ),
        };
        if let Some(pem) = &config.ca_cert_pem {
            let certificates = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|_| config_error("the CA certificate file is not valid PEM".into()))?;
            if certificates.is_empty() {
                return Err(config_error(
                    "the CA certificate file holds no certificate".into(),
                ));
            }
            builder = builder.tls_certs_merge(certificates);
        }
        let proxied_over_tls = config
            .proxy
            .as_ref()
            .is_some_and(|proxy| !proxy.trim().to_ascii_lowercase().starts_with("http://"));
        if url.scheme() == "http" && !proxied_over_tls {
            // Plain HTTP all the way (redirects are not followed): no TLS will be spoken, so the
            // system's roots are not loaded (parsing them costs milliseconds at every start).
            builder = builder.tls_certs_only(Vec::new());
        }
        if config.insecure {
            tracing::debug!("TLS certificate verification is off");
            builder = builder.tls_danger_accept_invalid_certs(true);
        }
        let http = builder.build().map_err(|error| {
            config_error(format!(
                "could not build the HTTP client: {}",
                chain(&error)
            ))
        })?;
        Ok(Service {
            http,
            url,
            server: server.to_owned(),
        })
    }

    /// A new session: no cookie yet.
    pub(crate) fn session(&self) -> SoapLink {
        SoapLink {
            http: self.http.clone(),
            url: self.url.clone(),
            server: self.server.clone(),
            cookies: Vec::new(),
            cookie_header: None,
            exchanges: 0,
        }
    }
}

/// One session's link: the shared HTTP client and this session's cookies.
pub(crate) struct SoapLink {
    http: reqwest::Client,
    url: reqwest::Url,
    server: String,
    /// `name=value` pairs the server set, sent back with every request. They hold the login:
    /// never logged.
    cookies: Vec<(String, String)>,
    /// The `Cookie` header they make, built when they change (not at every request).
    cookie_header: Option<HeaderValue>,
    exchanges: u64,
}

impl SoapLink {
    /// Sends one document (ISO-8859-1 bytes, as over TCP) and returns the document that
    /// answers it, as ISO-8859-1 bytes again.
    pub(crate) async fn exchange(
        &mut self,
        document: &[u8],
        timeout: Duration,
        max_reply_bytes: usize,
    ) -> Result<Vec<u8>, Error> {
        // The login's first step set no cookie: the next request would be refused, or worse,
        // start a session of its own. Nothing is sent.
        if self.exchanges > 0 && self.cookies.is_empty() {
            return Err(Error::Front {
                message: format!(
                    "`{}` set no session cookie (`JSESSIONID`) on the login's first step: something between here and the service drops it, and no login can last without it",
                    self.server
                ),
                sent: false,
                lasting: true,
            });
        }
        self.exchanges += 1;
        let body = envelope(document);
        let exchange = self.post(body, max_reply_bytes);
        match tokio::time::timeout(timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(Error::Timeout {
                waited: timeout,
                sent: true,
            }),
        }
    }

    async fn post(&mut self, body: Vec<u8>, max_reply_bytes: usize) -> Result<Vec<u8>, Error> {
        let mut request = self
            .http
            .post(self.url.clone())
            .header(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/xml; charset=utf-8"),
            )
            .header("SOAPAction", HeaderValue::from_static("\"\""))
            .body(body);
        if let Some(cookie) = &self.cookie_header {
            request = request.header(header::COOKIE, cookie.clone());
        }
        let response = request
            .send()
            .await
            .map_err(|error| self.transport_error(&error))?;
        let status = response.status();
        self.keep_cookies(response.headers());
        let headers = (status != StatusCode::OK).then(|| response.headers().clone());
        let bytes = self.read_body(response, max_reply_bytes).await?;
        if let Some(headers) = headers {
            return Err(self.front_error(status, &headers, &bytes));
        }
        match read_envelope(&bytes)? {
            Returned::Document(bytes) => {
                if bytes.len() > max_reply_bytes {
                    return Err(Error::Decode {
                        message: format!("the answer is larger than {max_reply_bytes} bytes"),
                    });
                }
                Ok(bytes)
            }
            Returned::Fault(fault) => Err(self.fault_error(status, &fault)),
            Returned::Nothing => Err(Error::Front {
                message: format!(
                    "`{}` answered with a SOAP envelope that holds no `processOCIMessageReturn`: no answer to the document",
                    self.server
                ),
                sent: true,
                lasting: false,
            }),
        }
    }

    /// The answer's body, at most twice `max_reply_bytes` and a little (an envelope escapes the
    /// document's markup). A body of announced length within that comes whole, as hyper read it
    /// (no copy); any other is read chunk by chunk, and refused once it grows past the cap.
    async fn read_body(
        &self,
        mut response: reqwest::Response,
        max_reply_bytes: usize,
    ) -> Result<Bytes, Error> {
        let cap = max_reply_bytes.saturating_mul(2).saturating_add(4096);
        let too_large = || Error::Decode {
            message: format!("the answer is larger than {max_reply_bytes} bytes"),
        };
        match response.content_length().map(usize::try_from) {
            Some(Ok(length)) if length <= cap => {
                return response
                    .bytes()
                    .await
                    .map_err(|error| self.transport_error(&error));
            }
            Some(_) => return Err(too_large()),
            None => {}
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|error| self.transport_error(&error))?
        {
            if bytes.len() + chunk.len() > cap {
                return Err(too_large());
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(Bytes::from(bytes))
    }

    /// Keeps the `name=value` of every `Set-Cookie` (a later one replaces the same name).
    fn keep_cookies(&mut self, headers: &HeaderMap) {
        for value in headers.get_all(header::SET_COOKIE) {
            let Ok(value) = value.to_str() else { continue };
            let pair = value.split(';').next().unwrap_or_default().trim();
            let Some((name, value)) = pair.split_once('=') else {
                continue;
            };
            let (name, value) = (name.trim(), value.trim());
            if name.is_empty() {
                continue;
            }
            self.cookies.retain(|(kept, _)| kept != name);
            self.cookies.push((name.to_owned(), value.to_owned()));
            let cookie: Vec<String> = self
                .cookies
                .iter()
                .map(|(name, value)| format!("{name}={value}"))
                .collect();
            self.cookie_header = HeaderValue::from_str(&cookie.join("; "))
                .ok()
                .map(|mut value| {
                    value.set_sensitive(true);
                    value
                });
        }
    }

    /// A failed HTTP exchange: not connected (nothing sent), a TLS handshake refused, or a
    /// connection lost with the document out.
    fn transport_error(&self, error: &reqwest::Error) -> Error {
        if let Some(message) = rustls_cause(error) {
            return Error::Tls {
                server: self.server.clone(),
                message,
            };
        }
        if error.is_connect() {
            return Error::Connect {
                server: self.server.clone(),
                message: chain(error),
            };
        }
        // Anything else (a timeout included: the call has no timeout of its own but the
        // exchange's, outside) happened with the document out.
        Error::Transport {
            message: chain(error),
        }
    }

    /// An answer other than 200: a SOAP Fault (500), a redirect, a front's refusal or page.
    fn front_error(&self, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Error {
        if let Ok(Returned::Fault(fault)) = read_envelope(body) {
            return self.fault_error(status, &fault);
        }
        let server = &self.server;
        let shown = status_text(status);
        let what = match headers
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
        {
            Some(kind) if kind.to_ascii_lowercase().contains("html") => "an HTML page",
            Some(kind) if kind.to_ascii_lowercase().contains("xml") => "an XML answer",
            _ if body.is_empty() => "no body",
            _ => "a body",
        };
        if status.is_redirection() {
            let location = headers
                .get(header::LOCATION)
                .and_then(|value| value.to_str().ok())
                // The query of a login page's address may carry a token: never shown.
                .map(|location| location.split(['?', '#']).next().unwrap_or_default())
                .map(|location| quoted(location, QUOTED_CHARACTERS))
                .unwrap_or_else(|| "nowhere".into());
            return Error::Front {
                message: format!(
                    "`{server}` redirected the request ({shown}) to `{location}`, a login page of a front in between, not the provisioning service; the redirect is not followed: give the service's own address in `--server`"
                ),
                sent: true,
                lasting: true,
            };
        }
        let (hint, lasting) = match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => (
                "an HTTP front in between refuses this client (it wants its own login, or this host is not allowed); the service never answered",
                true,
            ),
            StatusCode::SERVICE_UNAVAILABLE => (
                "the service or a load balancer in front of it is unavailable; try again later",
                false,
            ),
            _ if status.is_server_error() => (
                "a load balancer or proxy in front of the service answered in its place",
                false,
            ),
            _ => ("not the provisioning service's answer", false),
        };
        Error::Front {
            message: format!("`{server}` answered {shown} with {what}: {hint}"),
            sent: true,
            lasting,
        }
    }

    fn fault_error(&self, status: StatusCode, fault: &Fault) -> Error {
        Error::Front {
            message: format!(
                "`{}` answered with a SOAP Fault (HTTP {}): `{}`: {}",
                self.server,
                status.as_u16(),
                quoted(&fault.code, 80),
                quoted(&fault.text, QUOTED_CHARACTERS)
            ),
            sent: true,
            lasting: false,
        }
    }
}

fn status_text(status: StatusCode) -> String {
    match status.canonical_reason() {
        Some(reason) => format!("HTTP {} {reason}", status.as_u16()),
        None => format!("HTTP {}", status.as_u16()),
    }
}

/// A front's words fit to quote: one line, printable, at most `most` characters.
fn quoted(text: &str, most: usize) -> String {
    let mut shown: String = text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .filter(|character| !character.is_control())
        .take(most + 1)
        .collect();
    if shown.chars().count() > most {
        shown = shown.chars().take(most).collect();
        shown.push_str("...");
    }
    shown
}

/// An error's causes, without the URL the error itself shows (the server is named around it).
fn chain(error: &reqwest::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cause = std::error::Error::source(error);
    while let Some(current) = cause {
        let text = current.to_string();
        if !parts.iter().any(|part| part.contains(&text)) {
            parts.push(text);
        }
        cause = current.source();
    }
    if parts.is_empty() {
        parts.push(if error.is_timeout() {
            "timed out".into()
        } else {
            "the request failed".into()
        });
    }
    parts.join(": ")
}

/// rustls's words, when a TLS handshake is what failed: rustls's error in the chain of causes,
/// or inside the I/O errors that wrap it (`io::Error::source` skips the error it wraps).
fn rustls_cause(error: &reqwest::Error) -> Option<String> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = cause {
        let mut inner = current;
        for _ in 0..8 {
            if let Some(tls) = inner.downcast_ref::<rustls::Error>() {
                return Some(tls.to_string());
            }
            match inner
                .downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
            {
                Some(wrapped) => inner = wrapped,
                None => break,
            }
        }
        cause = current.source();
    }
    None
}

/// The request envelope's text before and after the document.
const ENVELOPE_HEAD: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\"><soapenv:Body><processOCIMessage xmlns=\"urn:com:broadsoft:webservice\"><in0>";
const ENVELOPE_TAIL: &str = "</in0></processOCIMessage></soapenv:Body></soapenv:Envelope>";

/// The request envelope: document/literal, `processOCIMessage` with the document as the text
/// of `in0`. Written by hand in one pass into one buffer (a generic XML writer would copy the
/// document into a string, escape it into another and copy that again): the document arrives
/// as ISO-8859-1 bytes (as TCP sends it); each byte is escaped (`&`, `<`, `>`) or written as its
/// character in UTF-8, the envelope's encoding, where the document's own declaration no longer
/// matters.
pub(crate) fn envelope(document: &[u8]) -> Vec<u8> {
    let document = document.trim_ascii_end();
    let mut body = Vec::with_capacity(
        ENVELOPE_HEAD.len() + document.len() + document.len() / 4 + ENVELOPE_TAIL.len(),
    );
    body.extend_from_slice(ENVELOPE_HEAD.as_bytes());
    if document.is_ascii() {
        escape_ascii_into(&mut body, document);
    } else {
        escape_latin1_into(&mut body, document);
    }
    body.extend_from_slice(ENVELOPE_TAIL.as_bytes());
    body
}

/// The usual document, all ASCII: only the markup is escaped, in one plain loop that copies
/// the runs between it whole (markup comes every few bytes: a search that starts over at each
/// would cost more).
fn escape_ascii_into(body: &mut Vec<u8>, document: &[u8]) {
    let mut copied = 0;
    for (at, &byte) in document.iter().enumerate() {
        if matches!(byte, b'&' | b'<' | b'>') {
            body.extend_from_slice(&document[copied..at]);
            body.extend_from_slice(escaped(byte));
            copied = at + 1;
        }
    }
    body.extend_from_slice(&document[copied..]);
}

/// A document with characters beyond ASCII: each such byte (ISO-8859-1) becomes its character
/// in UTF-8 as well.
fn escape_latin1_into(body: &mut Vec<u8>, document: &[u8]) {
    for &byte in document {
        match byte {
            b'&' | b'<' | b'>' => body.extend_from_slice(escaped(byte)),
            byte if byte.is_ascii() => body.push(byte),
            byte => {
                let mut utf8 = [0; 2];
                body.extend_from_slice(char::from(byte).encode_utf8(&mut utf8).as_bytes());
            }
        }
    }
}

fn escaped(markup: u8) -> &'static [u8] {
    match markup {
        b'&' => b"&amp;",
        b'<' => b"&lt;",
        _ => b"&gt;",
    }
}

/// What an answer envelope holds.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Returned {
    /// The return's text: the answer document, unescaped, as ISO-8859-1 bytes (as TCP
    /// delivers it; a character beyond it as a character reference).
    Document(Vec<u8>),
    Fault(Fault),
    /// A readable envelope without a return (or with an empty one).
    Nothing,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Fault {
    code: String,
    text: String,
}

/// Reads an answer envelope: the return (any prefix, any element whose local name ends in
/// `Return` inside the Body, as both envelope styles write it) or a Fault.
pub(crate) fn read_envelope(body: &[u8]) -> Result<Returned, Error> {
    let not_soap = |detail: String| Error::Decode {
        message: format!("the answer is not a SOAP envelope: {detail}"),
    };
    let text = std::str::from_utf8(body).map_err(|_| not_soap("not UTF-8".into()))?;
    let mut reader = Reader::from_str(text);
    let mut path: Vec<String> = Vec::new();
    let mut returned: Option<Return> = None;
    let mut fault: Option<Fault> = None;
    let mut seen_envelope = false;
    loop {
        let position = reader.buffer_position();
        let event = reader
            .read_event()
            .map_err(|_| not_soap(format!("malformed XML after byte {position}")))?;
        match &event {
            Event::Start(start) => {
                let name = String::from_utf8_lossy(start.local_name().as_ref()).into_owned();
                seen_envelope |= path.is_empty() && name == "Envelope";
                if name == "Fault" && path.last().is_some_and(|parent| parent == "Body") {
                    fault = Some(Fault::default());
                }
                if name.ends_with("Return") && path.iter().any(|parent| parent == "Body") {
                    returned = Some(match whole_return(&mut reader, text, start) {
                        Some(bytes) => Return::Latin1(bytes),
                        None => Return::Text(String::new()),
                    });
                }
                path.push(name);
            }
            Event::End(_) => {
                path.pop();
            }
            Event::Eof if path.is_empty() => break,
            Event::Eof => return Err(not_soap("it ends before its `Envelope` closes".into())),
            Event::Text(_) | Event::CData(_) | Event::GeneralRef(_) => {
                let inside = path.last().map(String::as_str);
                let out = match (inside, fault.as_mut(), returned.as_mut()) {
                    (Some("faultcode"), Some(fault), _) => Some(&mut fault.code),
                    (Some("faultstring"), Some(fault), _) => Some(&mut fault.text),
                    (Some(name), _, Some(Return::Text(text))) if name.ends_with("Return") => {
                        Some(text)
                    }
                    _ => None,
                };
                if let Some(out) = out {
                    xml::push_text(&event, out, position)?;
                }
            }
            _ => {}
        }
    }
    if !seen_envelope {
        return Err(not_soap("no `Envelope`".into()));
    }
    if let Some(fault) = fault {
        return Ok(Returned::Fault(fault));
    }
    Ok(match returned {
        Some(Return::Latin1(bytes)) if !bytes.trim_ascii().is_empty() => Returned::Document(bytes),
        Some(Return::Text(text)) if !text.trim().is_empty() => {
            Returned::Document(xml::to_latin1(text.as_bytes()))
        }
        _ => Returned::Nothing,
    })
}

/// A return as read: in one piece, straight into ISO-8859-1 bytes (the usual case), or event
/// by event into a string (CDATA inside, or a reference to resolve one by one).
enum Return {
    Latin1(Vec<u8>),
    Text(String),
}

/// The return's text read in one piece and unescaped in one pass straight into the
/// ISO-8859-1 bytes the OCI-P parser reads (no string in between: a 2,000-user listing carries
/// tens of thousands of references). The text runs to the first `<`, which must open the
/// return's own end tag; it is found with memchr, not event by event (quick-xml gives an event
/// per reference), and the reader is moved past it so that the end tag comes next. `None`, with
/// the reader where it was, when the return holds markup (CDATA, elements) or a reference that
/// does not resolve: the caller then reads it event by event, and names what is wrong.
fn whole_return(
    reader: &mut Reader<&[u8]>,
    envelope: &str,
    start: &BytesStart<'_>,
) -> Option<Vec<u8>> {
    // What the reader has yet to read, as text: the envelope's tail (not its position, which
    // leaves out a byte order mark the reader skipped).
    let unread: &[u8] = reader.get_ref();
    let rest = envelope.get(envelope.len().checked_sub(unread.len())?..)?;
    let length = memchr::memchr(b'<', rest.as_bytes())?;
    let closes = rest.as_bytes()[length..]
        .strip_prefix(b"</")
        .and_then(|tag| tag.strip_prefix(start.name().as_ref()))
        .is_some_and(|tag| tag.trim_ascii_start().starts_with(b">"));
    if !closes {
        return None;
    }
    // `<` is ASCII: the text ends on a character boundary.
    let bytes = unescape_to_latin1(rest.get(..length)?)?;
    std::io::BufRead::consume(&mut reader.stream(), length);
    Some(bytes)
}

/// `text` with its references resolved (the five named ones and numeric ones), as ISO-8859-1
/// bytes; a character beyond ISO-8859-1 as a character reference, as [`xml::to_latin1`]
/// writes it. `None` for a reference that does not resolve. The runs between references are
/// copied whole (a listing's return has a reference every few bytes).
fn unescape_to_latin1(text: &str) -> Option<Vec<u8>> {
    let mut bytes = Vec::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = memchr::memchr(b'&', rest.as_bytes()) {
        push_text_latin1(&mut bytes, &rest[..at]);
        let reference = &rest.as_bytes()[at + 1..];
        let (markup, length) = match reference {
            [b'l', b't', b';', ..] => (b'<', 3),
            [b'g', b't', b';', ..] => (b'>', 3),
            [b'a', b'm', b'p', b';', ..] => (b'&', 4),
            [b'q', b'u', b'o', b't', b';', ..] => (b'"', 5),
            [b'a', b'p', b'o', b's', b';', ..] => (b'\'', 5),
            _ => {
                // The longest reference resolved, `&#1114111;`, has 8 characters before its `;`.
                let end = reference.iter().take(12).position(|&byte| byte == b';')?;
                let character = resolve_reference(rest.get(at + 1..at + 1 + end)?)?;
                push_latin1(&mut bytes, character);
                rest = rest.get(at + end + 2..)?;
                continue;
            }
        };
        bytes.push(markup);
        rest = rest.get(at + 1 + length..)?;
    }
    push_text_latin1(&mut bytes, rest);
    Some(bytes)
}

/// Appends text as ISO-8859-1: ASCII as it is, any other character as [`push_latin1`] does.
fn push_text_latin1(bytes: &mut Vec<u8>, text: &str) {
    if text.is_ascii() {
        bytes.extend_from_slice(text.as_bytes());
    } else {
        for character in text.chars() {
            push_latin1(bytes, character);
        }
    }
}

/// The character a reference (between `&` and `;`) stands for.
fn resolve_reference(reference: &str) -> Option<char> {
    Some(match reference {
        "lt" => '<',
        "gt" => '>',
        "amp" => '&',
        "quot" => '"',
        "apos" => '\'',
        reference => {
            let number = reference.strip_prefix('#')?;
            let code = match number.strip_prefix('x') {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => number.parse().ok()?,
            };
            char::from_u32(code).filter(|character| *character != '\0')?
        }
    })
}

/// Appends a character as ISO-8859-1: itself, or a character reference beyond it.
fn push_latin1(bytes: &mut Vec<u8>, character: char) {
    match u8::try_from(u32::from(character)) {
        Ok(byte) => bytes.push(byte),
        Err(_) => bytes.extend_from_slice(format!("&#{};", u32::from(character)).as_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_envelope_carries_the_document_escaped_and_reads_back() {
        let document = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n<BroadsoftDocument><sessionId>a&amp;b</sessionId><x>\xe9</x></BroadsoftDocument>\n";
        let written = envelope(document);
        let text = String::from_utf8(written).expect("utf-8");
        assert!(text.contains("<in0>&lt;?xml version=\"1.0\""), "{text}");
        assert!(text.contains("a&amp;amp;b"), "{text}");
        assert!(text.contains("é"), "{text}");
        // The same text read back as a return gives the document (as characters) again.
        let answer = text
            .replace(
                "<in0>",
                "<ns1:processOCIMessageReturn xmlns:ns1=\"urn:com:broadsoft:webservice\">",
            )
            .replace("</in0>", "</ns1:processOCIMessageReturn>");
        let Returned::Document(returned) = read_envelope(answer.as_bytes()).expect("readable")
        else {
            panic!("a document");
        };
        assert_eq!(returned, document.trim_ascii_end());
    }

    #[test]
    fn faults_empty_returns_and_strangers_are_told_apart() {
        let fault = b"<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\"><soapenv:Body><soapenv:Fault><faultcode>soapenv:Server</faultcode><faultstring>it &amp; failed</faultstring></soapenv:Fault></soapenv:Body></soapenv:Envelope>";
        assert_eq!(
            read_envelope(fault).expect("readable"),
            Returned::Fault(Fault {
                code: "soapenv:Server".into(),
                text: "it & failed".into()
            })
        );
        let cdata = b"<e:Envelope xmlns:e=\"x\"><e:Body><r><processOCIMessageReturn>&lt;a&gt;<![CDATA[<b/>]]>&#233;</processOCIMessageReturn></r></e:Body></e:Envelope>";
        assert_eq!(
            read_envelope(cdata).expect("readable"),
            Returned::Document(b"<a><b/>\xe9".to_vec())
        );
        let unknown = b"<e:Envelope xmlns:e=\"x\"><e:Body><processOCIMessageReturn>&nbsp;</processOCIMessageReturn></e:Body></e:Envelope>";
        assert!(read_envelope(unknown).is_err());
        let empty = b"<e:Envelope xmlns:e=\"x\"><e:Body><processOCIMessageResponse xmlns=\"\"/></e:Body></e:Envelope>";
        assert_eq!(read_envelope(empty).expect("readable"), Returned::Nothing);
        assert!(read_envelope(b"<html><body>502</body></html>").is_err());
        assert!(read_envelope(b"<e:Envelope xmlns:e=\"x\"><e:Body>").is_err());
    }

    #[test]
    fn a_return_is_unescaped_once_into_latin1() {
        assert_eq!(
            unescape_to_latin1(
                "&lt;a x=&quot;1&quot;&gt;&amp;amp;\u{e9}&#233;&#xE9;\u{20ac}&#8364;&apos;</a>"
            )
            .expect("resolves"),
            b"<a x=\"1\">&amp;\xe9\xe9\xe9&#8364;&#8364;'</a>".to_vec()
        );
        for unresolved in ["&nbsp;", "&#0;", "&#xZZ;", "a & b", "&#1114112;"] {
            assert_eq!(unescape_to_latin1(unresolved), None, "{unresolved}");
        }
        let answer = b"<e:Envelope xmlns:e=\"x\"><e:Body><processOCIMessageReturn>&lt;a&gt;&#233;</processOCIMessageReturn></e:Body></e:Envelope>";
        assert_eq!(
            read_envelope(answer).expect("readable"),
            Returned::Document(b"<a>\xe9".to_vec())
        );
    }

    #[test]
    fn the_return_read_in_one_piece_leaves_the_envelope_checked() {
        // An end tag with space before its `>`, and a prefix: read in one piece.
        let spaced = b"<e:Envelope xmlns:e=\"x\"><e:Body><n:processOCIMessageReturn xmlns:n=\"y\">&lt;a/&gt;</n:processOCIMessageReturn  ></e:Body></e:Envelope>";
        assert_eq!(
            read_envelope(spaced).expect("readable"),
            Returned::Document(b"<a/>".to_vec())
        );
        // After the return, the rest is still read: an envelope cut there is refused, and so is
        // an end tag that is not the return's own.
        let cut = b"<e:Envelope xmlns:e=\"x\"><e:Body><processOCIMessageReturn>&lt;a/&gt;</processOCIMessageReturn>";
        assert!(read_envelope(cut).is_err());
        let stranger = b"<e:Envelope xmlns:e=\"x\"><e:Body><processOCIMessageReturn>&lt;a/&gt;</processOCIMessageReturnX></e:Body></e:Envelope>";
        assert!(read_envelope(stranger).is_err());
        // An envelope that starts with a byte order mark is read from the right place.
        let marked = "\u{feff}<e:Envelope xmlns:e=\"x\"><e:Body><processOCIMessageReturn>&lt;a/&gt;</processOCIMessageReturn></e:Body></e:Envelope>";
        assert_eq!(
            read_envelope(marked.as_bytes()).expect("readable"),
            Returned::Document(b"<a/>".to_vec())
        );
        // A document past ASCII, and a long one, come back whole.
        let long = "&lt;b&gt;x&amp;amp;\u{e9}&lt;/b&gt;".repeat(500);
        let answer = format!(
            "<e:Envelope xmlns:e=\"x\"><e:Body><processOCIMessageReturn>{long}</processOCIMessageReturn></e:Body></e:Envelope>"
        );
        let Returned::Document(document) = read_envelope(answer.as_bytes()).expect("readable")
        else {
            panic!("a document");
        };
        assert_eq!(document, b"<b>x&amp;\xe9</b>".repeat(500));
    }

    #[test]
    fn the_envelope_is_the_one_a_toolkit_writes() {
        let written = envelope(b"<a b=\"c\">x & y \xe9</a>\n");
        assert_eq!(
            String::from_utf8(written).expect("utf-8"),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\"><soapenv:Body><processOCIMessage xmlns=\"urn:com:broadsoft:webservice\"><in0>&lt;a b=\"c\"&gt;x &amp; y \u{e9}&lt;/a&gt;</in0></processOCIMessage></soapenv:Body></soapenv:Envelope>"
        );
    }

    #[test]
    fn quoted_words_are_one_short_line() {
        assert_eq!(quoted("a\n  b\u{7}c", 10), "a bc");
        assert_eq!(quoted("abcdef", 3), "abc...");
    }
}
