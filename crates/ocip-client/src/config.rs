//! How to reach an OCI-P server and how the client behaves: the target URL, the login, TLS, the
//! pool, timeouts and caps.

use std::net::IpAddr;
use std::time::Duration;

use bwreset_backend::Backoff;
use secrecy::SecretString;

use crate::error::Error;

/// The default port of plain OCI-P.
pub const PLAIN_PORT: u16 = 2208;
/// The default port of OCI-P over TLS.
pub const TLS_PORT: u16 = 2209;

/// Everything the client needs. `Debug` never shows the password.
#[derive(Clone)]
pub struct OcipConfig {
    /// `ocips://host[:2209]` (TLS) or `ocip://host[:2208]` (plain TCP); or, for OCI-P over
    /// SOAP, `https://host[:port]/webservice/services/ProvisioningService` (or `http://`).
    pub server: String,
    /// The administrator's login.
    pub username: String,
    /// The administrator's password (ASCII only: clients disagree on other bytes).
    pub password: SecretString,
    /// PEM certificates of the CA(s) to trust instead of the system's roots.
    pub ca_cert_pem: Option<Vec<u8>>,
    /// Speak OCI-P over SOAP to an `http(s)://` server URL whatever its path (a front end that
    /// rewrites paths); a URL whose path ends in `/webservice/services/ProvisioningService`
    /// speaks SOAP without it ([`is_soap_url`]).
    pub soap: bool,
    /// Over SOAP (HTTPS): do not verify the server's certificate. The caller warns the operator.
    /// Never used over TCP.
    pub insecure: bool,
    /// Over SOAP: the HTTP proxy to go through (the caller decides, from the proxy variables as
    /// curl reads them); `None`: directly. Never used over TCP.
    pub proxy: Option<String>,
    /// Allow plain TCP (or plain HTTP, over SOAP) to a host that is not loopback (every new value then crosses the network
    /// in clear).
    pub allow_plaintext: bool,
    /// Over TLS, log in with `LoginRequest22V5` (the password in clear inside TLS) instead of the
    /// signed login. Never used on plain TCP.
    pub plaintext_login: bool,
    /// How many connections (each logged in) the pool keeps at most.
    pub connections: usize,
    /// Open the pool's other connections at once, in the background and in parallel, instead
    /// of when a document first needs them: each sends the login's first step (no secret) while
    /// the first connection logs in, and the second (the password) only once that login
    /// worked. Off by default; the CLI turns it on, so that no document waits for a login.
    pub warm_up: bool,
    /// Make values on this side, from the rules the server reports (read once per run), even
    /// where the server has `PasswordGenerateRequest`: one command fewer per user, and the
    /// server still judges every value. Off by default (the server generates, and values are
    /// made here only once it refuses `PasswordGenerateRequest`); the CLI turns it on with
    /// `--ocip-values local`.
    pub local_generation: bool,
    /// The most commands in one document (1 to [`MAX_COMMANDS_PER_DOCUMENT`]).
    pub max_commands_per_document: usize,
    /// How long a connection (and its TLS handshake) may take.
    pub connect_timeout: Duration,
    /// How long an answer may take once a document is sent.
    pub reply_timeout: Duration,
    /// The largest answer read; a larger one is an error. It is also what every connection may
    /// hold together of answers being read (a connection whose answer needs more room than is
    /// left waits, within the reply timeout, for another's to be parsed). A login step's answer
    /// is capped apart, at 64 KiB: a login's answer takes well under 1 KiB.
    pub max_reply_bytes: usize,
    /// Attempts of one command when the server certainly did not process it.
    pub max_attempts: u32,
    /// The wait between those attempts.
    pub backoff: Backoff,
}

/// The most commands one OCI-P document may carry (the protocol's limit).
pub const MAX_COMMANDS_PER_DOCUMENT: usize = 15;

impl OcipConfig {
    /// A configuration with the defaults: 4 connections, 15 commands per document, 10 s to
    /// connect, 60 s for an answer, answers up to 64 MiB, 6 attempts.
    pub fn new(
        server: impl Into<String>,
        username: impl Into<String>,
        password: SecretString,
    ) -> Self {
        OcipConfig {
            server: server.into(),
            username: username.into(),
            password,
            ca_cert_pem: None,
            soap: false,
            insecure: false,
            proxy: None,
            allow_plaintext: false,
            plaintext_login: false,
            connections: 4,
            warm_up: false,
            local_generation: false,
            max_commands_per_document: MAX_COMMANDS_PER_DOCUMENT,
            connect_timeout: Duration::from_secs(10),
            reply_timeout: Duration::from_secs(60),
            max_reply_bytes: 64 << 20,
            max_attempts: 6,
            backoff: Backoff {
                initial: Duration::from_millis(200),
                max: Duration::from_secs(5),
            },
        }
    }
}

impl std::fmt::Debug for OcipConfig {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("OcipConfig")
            .field("server", &self.server)
            .field("username", &self.username)
            .field("password", &"[redacted]")
            .field("ca_cert_pem", &self.ca_cert_pem.as_ref().map(Vec::len))
            .field("soap", &self.soap)
            .field("insecure", &self.insecure)
            .field("proxy", &self.proxy.as_ref().map(|_| "[set]"))
            .field("allow_plaintext", &self.allow_plaintext)
            .field("plaintext_login", &self.plaintext_login)
            .field("connections", &self.connections)
            .field("warm_up", &self.warm_up)
            .field("local_generation", &self.local_generation)
            .field("max_commands_per_document", &self.max_commands_per_document)
            .field("connect_timeout", &self.connect_timeout)
            .field("reply_timeout", &self.reply_timeout)
            .field("max_reply_bytes", &self.max_reply_bytes)
            .finish_non_exhaustive()
    }
}

/// Where to connect, read from the server URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Target {
    pub tls: bool,
    pub host: String,
    pub port: u16,
    /// The URL as recorded in a journal: scheme, host and the port, always explicit (and over
    /// SOAP, the path).
    pub server: String,
    /// Over SOAP, the service's URL.
    pub soap: Option<url::Url>,
}

/// The path of the provisioning web service (OCI-P over SOAP).
pub const SOAP_SERVICE_PATH: &str = "/webservice/services/ProvisioningService";

/// Whether `url` names OCI-P over SOAP by its path: `http(s)://` and a path ending in
/// [`SOAP_SERVICE_PATH`].
pub fn is_soap_url(url: &str) -> bool {
    url::Url::parse(url.trim()).is_ok_and(|url| {
        matches!(url.scheme(), "http" | "https")
            && url
                .path()
                .trim_end_matches('/')
                .ends_with(SOAP_SERVICE_PATH)
    })
}

/// The server URL as a message may quote it: any `user:password@` before its host left out,
/// read as text (the URL may not parse).
fn without_userinfo(server: &str) -> String {
    let server = server.trim();
    let (scheme, rest) = match server.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, server),
    };
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    match (authority.rfind('@'), scheme) {
        (None, _) => server.to_owned(),
        (Some(at), Some(scheme)) => format!("{scheme}://{}", &rest[at + 1..]),
        (Some(at), None) => rest[at + 1..].to_owned(),
    }
}

/// Whether `url` names an OCI-P server (`ocip://` or `ocips://`).
pub fn is_ocip_url(url: &str) -> bool {
    let lower = url.trim().to_ascii_lowercase();
    lower.starts_with("ocip://") || lower.starts_with("ocips://")
}

impl Target {
    /// Reads and checks the server URL: the scheme, a host, no path, credentials or query, and
    /// plain TCP only to loopback unless allowed. `soap`: an `http(s)://` URL is OCI-P over SOAP
    /// whatever its path.
    pub(crate) fn parse(server: &str, allow_plaintext: bool, soap: bool) -> Result<Target, Error> {
        let config = |message: String| Error::Config { message };
        let url = url::Url::parse(server.trim());
        // Every message below quotes the server without a `user:password@` part (refused below).
        let shown = without_userinfo(server);
        let server = shown.as_str();
        let url = url.map_err(|error| config(format!("`{server}` is not a URL: {error}")))?;
        if matches!(url.scheme(), "http" | "https") {
            return Target::parse_soap(server, url, allow_plaintext, soap);
        }
        let tls = match url.scheme() {
            "ocips" => true,
            "ocip" => false,
            other => {
                return Err(config(format!(
                    "`{server}`: the scheme `{other}` is not OCI-P (use `ocips://HOST[:2209]` or `ocip://HOST[:2208]`)"
                )));
            }
        };
        if !url.username().is_empty() || url.password().is_some() {
            return Err(config(format!(
                "`{}`: the URL must not hold a user name or password",
                url.host_str().unwrap_or(server)
            )));
        }
        if !(url.path().is_empty() || url.path() == "/")
            || url.query().is_some()
            || url.fragment().is_some()
        {
            return Err(config(format!(
                "`{server}`: an OCI-P URL has no path, query or fragment (`ocips://HOST[:PORT]`)"
            )));
        }
        let host = url
            .host_str()
            .filter(|host| !host.is_empty())
            .ok_or_else(|| config(format!("`{server}` has no host")))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = url
            .port()
            .unwrap_or(if tls { TLS_PORT } else { PLAIN_PORT });
        if !tls && !allow_plaintext && !is_loopback(&host) {
            return Err(config(format!(
                "`{server}` is plain TCP to a host that is not loopback: every new password would cross the network in clear (use `ocips://`, or allow it with `--allow-plaintext`)"
            )));
        }
        let shown_host = if host.contains(':') {
            format!("[{host}]")
        } else {
            host.clone()
        };
        let scheme = if tls { "ocips" } else { "ocip" };
        Ok(Target {
            tls,
            server: format!("{scheme}://{shown_host}:{port}"),
            host,
            port,
            soap: None,
        })
    }

    /// An `http(s)://` URL: OCI-P over SOAP when its path names the service or `soap` says so;
    /// no credentials, query or fragment; plain HTTP only to loopback unless allowed.
    fn parse_soap(
        server: &str,
        mut url: url::Url,
        allow_plaintext: bool,
        soap: bool,
    ) -> Result<Target, Error> {
        let config = |message: String| Error::Config { message };
        let host = url
            .host_str()
            .filter(|host| !host.is_empty())
            .ok_or_else(|| config(format!("`{server}` has no host")))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        if !url.username().is_empty() || url.password().is_some() {
            return Err(config(format!(
                "`{host}`: the URL must not hold a user name or password"
            )));
        }
        if !soap
            && !url
                .path()
                .trim_end_matches('/')
                .ends_with(SOAP_SERVICE_PATH)
        {
            return Err(config(format!(
                "`{server}` is neither OCI-P (`ocips://HOST`) nor its web service (`https://HOST{SOAP_SERVICE_PATH}`); a front end that rewrites the path needs `--protocol ocip-soap`"
            )));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(config(format!(
                "`{server}`: give the web service's URL without a query or fragment (`https://HOST{SOAP_SERVICE_PATH}`, not its `?wsdl`)"
            )));
        }
        let tls = url.scheme() == "https";
        if !tls && !allow_plaintext && !is_loopback(&host) {
            return Err(config(format!(
                "`{server}` is plain HTTP to a host that is not loopback: every new password would cross the network in clear (use `https://`, or allow it with `--allow-plaintext`)"
            )));
        }
        let port = url
            .port_or_known_default()
            .unwrap_or(if tls { 443 } else { 80 });
        let shown_host = if host.contains(':') {
            format!("[{host}]")
        } else {
            host.clone()
        };
        let path = url.path().trim_end_matches('/').to_owned();
        url.set_path(&path);
        Ok(Target {
            tls,
            server: format!("{}://{shown_host}:{port}{path}", url.scheme()),
            host,
            port,
            soap: Some(url),
        })
    }
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<IpAddr>()
            .is_ok_and(|address| address.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_read_with_default_ports_and_checked() {
        let target = Target::parse("ocips://bw.example.net", false, false).expect("tls");
        assert_eq!(target.server, "ocips://bw.example.net:2209");
        assert!(target.tls);
        let target = Target::parse("ocip://127.0.0.1", false, false).expect("loopback");
        assert_eq!((target.port, target.tls), (2208, false));
        let target = Target::parse("ocip://[::1]:3000/", false, false).expect("ipv6 loopback");
        assert_eq!(target.server, "ocip://[::1]:3000");
        let error = Target::parse("ocip://bw.example.net", false, false).expect_err("plaintext");
        assert!(error.to_string().contains("--allow-plaintext"), "{error}");
        assert!(Target::parse("ocip://bw.example.net", true, false).is_ok());
        let soap = Target::parse(
            "https://bw.example.net/webservice/services/ProvisioningService/",
            false,
            false,
        )
        .expect("soap");
        assert_eq!(
            soap.server,
            "https://bw.example.net:443/webservice/services/ProvisioningService"
        );
        assert!(soap.soap.is_some() && soap.tls);
        let rewritten = Target::parse("https://bw.example.net/ocip", false, true).expect("soap");
        assert_eq!(rewritten.server, "https://bw.example.net:443/ocip");
        let error = Target::parse(
            "http://bw.example.net/webservice/services/ProvisioningService",
            false,
            false,
        )
        .expect_err("plain http");
        assert!(error.to_string().contains("--allow-plaintext"), "{error}");
        let error = Target::parse(
            "https://bw.example.net/webservice/services/ProvisioningService?wsdl",
            false,
            false,
        )
        .expect_err("wsdl");
        assert!(error.to_string().contains("?wsdl"), "{error}");
        assert!(is_soap_url(
            "http://127.0.0.1:8080/webservice/services/ProvisioningService"
        ));
        assert!(!is_soap_url("https://odin.example.net/api/v2"));
        for bad in [
            "https://bw.example.net/api/v2",
            "ocips://admin:pw@bw.example.net",
            "ocips://bw.example.net/path",
            "not a url",
        ] {
            let error = Target::parse(bad, false, false).expect_err(bad);
            assert!(matches!(error, Error::Config { .. }));
            assert!(!error.to_string().contains("pw@"), "{error}");
        }
        assert!(is_ocip_url("OCIPS://x"));
        assert!(!is_ocip_url("https://x"));
    }

    /// A URL refused for another reason before its `user:password@` is looked at never quotes
    /// the password.
    #[test]
    fn refused_urls_never_quote_a_password_they_hold() {
        for server in [
            "ftp://admin:s3cret@bw.example.net",
            "ocips://admin:s3cret@[bad",
            "admin:s3cret@bw.example.net:2209",
            "https://admin:s3cret@/webservice/services/ProvisioningService",
            "ocips://admin:s3cret@bw.example.net:2209",
        ] {
            let message = Target::parse(server, false, false)
                .err()
                .map(|error| error.to_string())
                .unwrap_or_default();
            assert!(!message.is_empty(), "{server} is refused");
            assert!(!message.contains("s3cret"), "{message}");
        }
        assert_eq!(
            without_userinfo(" ftp://a:b@host/x@y "),
            "ftp://host/x@y".to_owned()
        );
    }

    #[test]
    fn debug_hides_the_password() {
        let config = OcipConfig::new("ocips://x", "admin", SecretString::from("hunter2"));
        assert!(!format!("{config:?}").contains("hunter2"));
    }
}
