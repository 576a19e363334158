//! Helpers at the edge of HTTP: base URL checks, `Retry-After`, bounded body reads and the
//! turning of unfriendly answers into short, printable, secret-free texts.

use std::net::IpAddr;
use std::time::{Duration, SystemTime};

use crate::Error;
use crate::listing::{AnswerSink, SinkError};

/// Longest piece of server text kept in an error.
pub(crate) const MAX_DETAILS_BYTES: usize = 300;

/// Checks a base URL and returns it without a trailing `/`, ready for [`join`].
pub(crate) fn normalise_base_url(base_url: &str, allow_plain_http: bool) -> Result<String, Error> {
    let trimmed = base_url.trim();
    let parsed = url::Url::parse(trimmed)
        .map_err(|error| Error::config(format!("base url is not a valid url: {error}")))?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(Error::config(
            "base url must not contain credentials; pass the username and password separately",
        ));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(Error::config(
            "base url must not contain a query or a fragment",
        ));
    }
    let host = parsed
        .host()
        .ok_or_else(|| Error::config("base url has no host"))?;
    match parsed.scheme() {
        "https" => {}
        "http" if allow_plain_http || is_loopback(&host) => {}
        "http" => {
            return Err(Error::config(format!(
                "plain http to `{host}` is refused: credentials would cross the network in clear; \
                 use https or allow plain http explicitly"
            )));
        }
        other => {
            return Err(Error::config(format!(
                "base url scheme `{other}` is not supported; use https"
            )));
        }
    }
    Ok(parsed.as_str().trim_end_matches('/').to_owned())
}

/// `localhost` (and `*.localhost`), `127.0.0.0/8`, `::1`.
pub(crate) fn is_loopback(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(name) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            name == "localhost" || name.ends_with(".localhost")
        }
        url::Host::Ipv4(address) => IpAddr::V4(*address).is_loopback(),
        url::Host::Ipv6(address) => IpAddr::V6(*address).is_loopback(),
    }
}

/// `base` (no trailing slash) joined with `route` (with or without a leading slash).
pub(crate) fn join(base: &str, route: &str) -> String {
    format!("{base}/{}", route.trim_start_matches('/'))
}

/// [`join`] on a base already parsed: the same URL, without parsing text again for every
/// request (which showed up in profiles of large runs).
pub(crate) fn route_url(base: &url::Url, route: &str) -> url::Url {
    let mut url = base.clone();
    let joined = match url.path_segments_mut() {
        Ok(mut segments) => {
            segments
                .pop_if_empty()
                .extend(route.split('/').filter(|segment| !segment.is_empty()));
            true
        }
        // Not reachable for the http(s) bases `normalise_base_url` lets through.
        Err(()) => false,
    };
    if joined {
        return url;
    }
    url::Url::parse(&join(base.as_str().trim_end_matches('/'), route)).unwrap_or(url)
}

/// The wait a `Retry-After` value asks for: whole (or, leniently, fractional) seconds, or an HTTP
/// date (a date in the past means no wait). `None` when it is neither.
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    if let Ok(seconds) = value.parse::<f64>() {
        return (seconds.is_finite() && seconds >= 0.0)
            .then(|| Duration::try_from_secs_f64(seconds).ok())
            .flatten();
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Keeps printable characters only, folds runs of whitespace to one space and cuts the text at
/// `max_bytes` (on a character boundary): what a server sent, made safe for a terminal or a log.
pub(crate) fn sanitise(text: &str, max_bytes: usize) -> String {
    let mut clean = String::with_capacity(text.len().min(max_bytes));
    let mut pending_space = false;
    for character in text.chars() {
        if character.is_whitespace() {
            pending_space = !clean.is_empty();
            continue;
        }
        if character.is_control() || is_format_control(character) {
            continue;
        }
        let needed = character.len_utf8() + usize::from(pending_space);
        if clean.len() + needed > max_bytes {
            break;
        }
        if pending_space {
            clean.push(' ');
            pending_space = false;
        }
        clean.push(character);
    }
    clean
}

/// Invisible characters that reorder or hide text (bidi overrides and the like).
fn is_format_control(character: char) -> bool {
    matches!(character, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

/// The server's explanation in an error body: the `details` of the JSON error object (or its
/// `message`/`error`), else the start of the body as text.
pub(crate) fn error_details(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct ErrorBody {
        #[serde(default)]
        details: Option<serde_json::Value>,
        #[serde(default)]
        message: Option<serde_json::Value>,
        #[serde(default)]
        error: Option<serde_json::Value>,
    }
    if let Ok(parsed) = serde_json::from_slice::<ErrorBody>(body) {
        let text = [parsed.details, parsed.message, parsed.error]
            .into_iter()
            .flatten()
            .find_map(|value| match value {
                serde_json::Value::String(text) if !text.trim().is_empty() => Some(text),
                serde_json::Value::Null | serde_json::Value::String(_) => None,
                other => Some(other.to_string()),
            });
        if let Some(text) = text {
            return sanitise(&text, MAX_DETAILS_BYTES);
        }
    }
    let start = &body[..body.len().min(MAX_DETAILS_BYTES * 4)];
    let text = sanitise(&String::from_utf8_lossy(start), MAX_DETAILS_BYTES);
    if text.is_empty() {
        "(empty answer body)".to_owned()
    } else {
        text
    }
}

/// Error details are the server's text, and a server may quote what it was sent: every
/// occurrence of a secret of the request (a value set, the login password, the token), as sent
/// or JSON-escaped, becomes `[redacted]`, and so does the start of one where the details were
/// cut short. No message, log line or failure reason can then show it.
pub(crate) fn redact_echoes(details: String, secrets: &[&str]) -> String {
    const REDACTED: &str = "[redacted]";
    let mut forms: Vec<String> = Vec::new();
    for secret in secrets.iter().filter(|secret| !secret.is_empty()) {
        let escaped = serde_json::to_string(secret).unwrap_or_default();
        let escaped = escaped
            .strip_prefix('"')
            .and_then(|rest| rest.strip_suffix('"'))
            .unwrap_or_default()
            .to_owned();
        for form in [(*secret).to_owned(), escaped, sanitise(secret, usize::MAX)] {
            if !form.is_empty() && !forms.contains(&form) {
                forms.push(form);
            }
        }
    }
    // The longest first: a secret that contains another is replaced whole.
    forms.sort_by_key(|form| std::cmp::Reverse(form.len()));
    let mut details = details;
    for form in &forms {
        if details.contains(form.as_str()) {
            details = details.replace(form.as_str(), REDACTED);
        }
    }
    // Details cut at the length limit may end in the first part of a secret.
    if details.len() + 4 >= MAX_DETAILS_BYTES {
        let cut = forms.iter().find_map(|form| {
            (3..form.len())
                .rev()
                .filter(|&length| form.is_char_boundary(length))
                .find(|&length| details.ends_with(&form[..length]))
                .map(|length| details.len() - length)
        });
        if let Some(cut) = cut {
            details.truncate(cut);
            details.push_str(REDACTED);
        }
    }
    details
}

/// A 2xx body that is in fact an error object (`{"status": 4xx/5xx, "error"|"details": ..}`).
pub(crate) fn embedded_error(body: &[u8]) -> Option<(u16, String)> {
    #[derive(serde::Deserialize)]
    struct Probe {
        // Optional, so that an ordinary answer (no `status`) costs no error value.
        #[serde(default)]
        status: Option<serde_json::Value>,
        #[serde(default)]
        error: Option<serde::de::IgnoredAny>,
        #[serde(default)]
        details: Option<serde::de::IgnoredAny>,
    }
    let first = body.iter().find(|byte| !byte.is_ascii_whitespace())?;
    if *first != b'{' {
        return None;
    }
    let probe: Probe = serde_json::from_slice(body).ok()?;
    if probe.error.is_none() && probe.details.is_none() {
        return None;
    }
    let status = match probe.status? {
        serde_json::Value::Number(number) => number.as_u64(),
        serde_json::Value::String(text) => text.trim().parse::<u64>().ok(),
        _ => None,
    }?;
    let status = u16::try_from(status).ok().filter(|status| *status >= 400)?;
    Some((status.min(599), error_details(body)))
}

/// A description of a JSON decoding failure that never quotes the data (serde's own message may
/// quote a value, which could be a secret).
pub(crate) fn describe_json_error(error: &serde_json::Error, what: &str) -> String {
    use serde_json::error::Category;
    let kind = match error.classify() {
        Category::Io => "could not be read",
        Category::Syntax => "is not valid JSON",
        Category::Data => "does not have the expected shape",
        Category::Eof => "is truncated JSON",
    };
    format!(
        "the answer to {what} {kind} (line {}, column {})",
        error.line(),
        error.column()
    )
}

/// What a response body read ended in.
pub(crate) enum BodyError {
    /// The sink refused the body: too large, or not what was expected.
    Sink(SinkError),
    /// The connection failed mid-body.
    Transport(reqwest::Error),
}

/// Reads a body chunk by chunk into `sink`, which refuses (rather than allocates) more than its
/// limit and may decode as the bytes arrive.
pub(crate) async fn read_body_into(
    response: &mut reqwest::Response,
    sink: &mut dyn AnswerSink,
) -> Result<(), BodyError> {
    sink.start(response.content_length())
        .map_err(BodyError::Sink)?;
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Transport)? {
        sink.push(&chunk).map_err(BodyError::Sink)?;
    }
    Ok(())
}

/// The host a redirect points to, for an error that names it (never the full location, which
/// could carry a query with something private).
pub(crate) fn redirect_host(location: Option<&str>, request_url: &url::Url) -> String {
    location
        .and_then(|location| request_url.join(location).ok())
        .and_then(|target| target.host_str().map(str::to_owned))
        .map_or_else(|| "an unknown host".to_owned(), |host| sanitise(&host, 100))
}

/// A `reqwest` error as text: its chain of causes, never its URL.
pub(crate) fn describe_transport_error(error: reqwest::Error) -> String {
    let error = error.without_url();
    let mut text = if error.is_timeout() {
        "timed out".to_owned()
    } else {
        error.to_string()
    };
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    sanitise(&text, 500)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_normalised_and_joined() {
        let base = normalise_base_url("http://127.0.0.1:8080/api/v2/", false).unwrap();
        assert_eq!(base, "http://127.0.0.1:8080/api/v2");
        assert_eq!(
            join(&base, "/auth/token"),
            "http://127.0.0.1:8080/api/v2/auth/token"
        );
        assert_eq!(
            join(&base, "auth/token"),
            "http://127.0.0.1:8080/api/v2/auth/token"
        );
        let base = normalise_base_url(" https://odin.example.com/api/v2 ", false).unwrap();
        assert_eq!(
            join(&base, "/users"),
            "https://odin.example.com/api/v2/users"
        );
        let root = normalise_base_url("https://odin.example.com", false).unwrap();
        assert_eq!(join(&root, "/users"), "https://odin.example.com/users");
        let root = normalise_base_url("https://odin.example.com/", false).unwrap();
        assert_eq!(join(&root, "users"), "https://odin.example.com/users");
        for base in [
            "http://127.0.0.1:8080/api/v2/",
            "https://odin.example.com",
            "https://odin.example.com/",
            "https://odin.example.com/a%20b/api/v2",
        ] {
            let base = normalise_base_url(base, false).unwrap();
            let parsed = url::Url::parse(&base).unwrap();
            for route in [
                "/auth/token",
                "auth/token",
                "/users",
                "/users/authentication",
            ] {
                assert_eq!(
                    route_url(&parsed, route).as_str(),
                    url::Url::parse(&join(&base, route)).unwrap().as_str(),
                    "{base} + {route}"
                );
            }
        }
    }

    #[test]
    fn plain_http_only_to_loopback_unless_allowed() {
        for loopback in [
            "http://127.0.0.1:1/api/v2",
            "http://127.8.9.10/api/v2",
            "http://[::1]:8080/api/v2",
            "http://localhost:3000/api/v2",
            "http://sim.localhost/api/v2",
        ] {
            assert!(normalise_base_url(loopback, false).is_ok(), "{loopback}");
        }
        let refused = normalise_base_url("http://odin.example.com/api/v2", false).unwrap_err();
        assert!(matches!(refused, Error::Config { .. }));
        assert!(
            refused.to_string().contains("odin.example.com"),
            "{refused}"
        );
        assert!(normalise_base_url("http://odin.example.com/api/v2", true).is_ok());
        assert!(normalise_base_url("http://10.0.0.1/api/v2", false).is_err());
    }

    #[test]
    fn bad_base_urls_refused() {
        for bad in [
            "",
            "odin.example.com/api/v2",
            "ftp://odin.example.com/api/v2",
            "https://user:pw@odin.example.com/api/v2",
            "https://odin.example.com/api/v2?x=1",
            "https://odin.example.com/api/v2#frag",
            "file:///etc/passwd",
        ] {
            let error = normalise_base_url(bad, true).unwrap_err();
            assert!(matches!(error, Error::Config { .. }), "{bad}");
            assert!(!error.to_string().contains("pw@"), "{error}");
        }
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480);
        assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("1.5", now),
            Some(Duration::from_millis(1500))
        );
        // 1445412480 is Wed, 21 Oct 2015 07:28:00 GMT.
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("-1", now), None);
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("", now), None);
        assert_eq!(parse_retry_after("NaN", now), None);
        assert_eq!(parse_retry_after("1e400", now), None);
    }

    #[test]
    fn sanitise_strips_controls_and_caps() {
        assert_eq!(sanitise("a\x1b[31mb\u{7}\n\n  c\r\n", 100), "a[31mb c");
        assert_eq!(sanitise("x\u{202e}y", 100), "xy");
        assert_eq!(sanitise(&"é".repeat(400), 301).len(), 300);
        assert_eq!(sanitise("   ", 10), "");
    }

    #[test]
    fn error_details_from_json_or_text() {
        assert_eq!(
            error_details(
                br#"{"status":400,"error":"Bad Request","details":"[Error 4008] User not found: u1"}"#
            ),
            "[Error 4008] User not found: u1"
        );
        assert_eq!(
            error_details(br#"{"status":502,"error":"Bad Gateway"}"#),
            "Bad Gateway"
        );
        let html = format!(
            "<html>\r\n<body>\x1b]0;evil\x07{}</body></html>",
            "x".repeat(2000)
        );
        let details = error_details(html.as_bytes());
        assert!(details.starts_with("<html> <body>]0;evil"), "{details}");
        assert!(details.len() <= MAX_DETAILS_BYTES);
        assert!(!details.chars().any(char::is_control));
        assert_eq!(error_details(b""), "(empty answer body)");
        assert_eq!(error_details(&[0xff, 0xfe, b'a']), "\u{fffd}\u{fffd}a");
    }

    #[test]
    fn echoed_secrets_are_redacted_as_sent_escaped_or_cut_short() {
        let secrets = ["Echo\"Pass-1", "token-abc"];
        assert_eq!(
            redact_echoes(
                "could not confirm `Echo\"Pass-1` (was Echo\\\"Pass-1) for token-abc".into(),
                &secrets
            ),
            "could not confirm `[redacted]` (was [redacted]) for [redacted]"
        );
        assert_eq!(
            redact_echoes("nothing to hide".into(), &secrets),
            "nothing to hide"
        );
        assert_eq!(redact_echoes("x".into(), &[""]), "x");
        let cut = format!("{}Echo\"Pa", "x".repeat(MAX_DETAILS_BYTES - 7));
        let redacted = redact_echoes(cut, &secrets);
        assert!(redacted.ends_with("x[redacted]"), "{redacted}");
        let details = error_details(
            format!(
                r#"{{"details":"{} Echo\"Pass-1"}}"#,
                "y".repeat(MAX_DETAILS_BYTES - 10)
            )
            .as_bytes(),
        );
        assert!(details.contains("Echo"), "{details}");
        let redacted = redact_echoes(details, &secrets);
        assert!(!redacted.contains("Echo"), "{redacted}");
    }

    #[test]
    fn embedded_errors_detected() {
        assert_eq!(
            embedded_error(br#"{"status":400,"error":"Bad Request","details":"[Error 4008] x"}"#),
            Some((400, "[Error 4008] x".to_owned()))
        );
        assert_eq!(
            embedded_error(br#" {"status":"503","error":"Service Unavailable"}"#),
            Some((503, "Service Unavailable".to_owned()))
        );
        assert_eq!(embedded_error(br#"{"status":200,"error":"none"}"#), None);
        assert_eq!(embedded_error(br#"{"status":"active","userId":"u"}"#), None);
        assert_eq!(embedded_error(br#"{"userId":"u"}"#), None);
        assert_eq!(embedded_error(br#"[]"#), None);
        assert_eq!(embedded_error(br#"{"status":404}"#), None);
    }

    #[test]
    fn json_errors_never_quote_values() {
        let error = serde_json::from_str::<Vec<u32>>(r#"["hunter2"]"#).unwrap_err();
        let text = describe_json_error(&error, "`GET /x`");
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("expected shape"), "{text}");
        let error = serde_json::from_str::<Vec<u32>>(r#"[1, 2"#).unwrap_err();
        assert!(describe_json_error(&error, "x").contains("truncated"));
    }

    #[test]
    fn redirect_host_named() {
        let request = url::Url::parse("https://odin.example.com/api/v2/users?userId=x").unwrap();
        assert_eq!(
            redirect_host(Some("https://evil.example.net/steal?token=1"), &request),
            "evil.example.net"
        );
        assert_eq!(redirect_host(Some("/other"), &request), "odin.example.com");
        assert_eq!(redirect_host(None, &request), "an unknown host");
    }
}
