//! The client's error type, classified by what the caller can do about it.

use std::time::Duration;

/// Everything that can go wrong in a call. Messages never contain a secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration cannot work: bad base URL, plain http refused, bad CA certificate.
    #[error("invalid client configuration: {message}")]
    Config {
        /// What is wrong.
        message: String,
    },
    /// No connection could be made: nothing was sent.
    #[error("could not connect to the server: {message}")]
    Connect {
        /// Why.
        message: String,
    },
    /// The request may have been sent but no clear answer came: reset, timeout, truncated body.
    #[error("no clear answer from the server: {message}")]
    Transport {
        /// Why.
        message: String,
    },
    /// 401 even after three fresh logins, each followed by a repeat of the call (or the login
    /// itself refused).
    #[error("unauthorized: {details}")]
    Unauthorized {
        /// The server's details text.
        details: String,
    },
    /// 429 until the retry budget ran out.
    #[error("rate limited by the server{}", match retry_after {
        Some(wait) => format!(" (retry after {} ms)", wait.as_millis()),
        None => String::new(),
    })]
    RateLimited {
        /// The server's last `Retry-After`, if it sent one.
        retry_after: Option<Duration>,
    },
    /// Any other non-2xx answer (or a 2xx whose body is an error object).
    #[error("server answered {status}: {details}")]
    Api {
        /// HTTP status (or the `status` of an error object in a 2xx body).
        status: u16,
        /// The server's `details` text, or the start of a non-JSON body, control characters removed.
        details: String,
    },
    /// The TLS handshake failed for a reason that trying again does not change (a certificate
    /// that is not trusted, is for another host name or has expired; no common TLS version).
    /// Nothing was sent; never retried.
    #[error("{problem}: {message}")]
    Tls {
        /// What is wrong, in plain words; decides the operator's fix.
        problem: TlsProblem,
        /// The TLS library's own words.
        message: String,
    },
    /// The first contact (the first login) met silence: no connection within the connect
    /// timeout, or a connection and no answer within the first-answer timeout. Not retried, so
    /// that a silent server is named within a bounded time. During a run a timeout is a
    /// [`Error::Connect`] or [`Error::Transport`] and follows their rules.
    #[error("{}", describe_timeout(*waited, *connected))]
    Timeout {
        /// The timeout that ran out.
        waited: Duration,
        /// Whether a connection was made (then the server did not answer the request).
        connected: bool,
    },
    /// A 2xx answer that could not be understood (or that names another user).
    #[error("could not understand the server's answer: {message}")]
    Decode {
        /// What was wrong with it (never its values).
        message: String,
    },
}

impl Error {
    /// Whether trying the same call again later may succeed: connect and transport failures,
    /// rate limiting and 5xx answers.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Connect { .. } | Error::Transport { .. } | Error::RateLimited { .. } => true,
            Error::Api { status, .. } => *status >= 500,
            Error::Config { .. }
            | Error::Unauthorized { .. }
            | Error::Decode { .. }
            | Error::Tls { .. }
            | Error::Timeout { .. } => false,
        }
    }

    /// Whether a state-changing request may have taken effect although it failed: the request was
    /// (maybe) sent and no clear answer came back (transport failure, a 5xx other than 503, or a
    /// 2xx that could not be understood).
    pub fn may_have_applied(&self) -> bool {
        match self {
            Error::Transport { .. } | Error::Decode { .. } => true,
            Error::Api { status, .. } => *status >= 500 && *status != 503,
            Error::Config { .. }
            | Error::Connect { .. }
            | Error::Unauthorized { .. }
            | Error::RateLimited { .. }
            | Error::Tls { .. }
            | Error::Timeout { .. } => false,
        }
    }

    /// The HTTP status behind the error, where there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } => Some(*status),
            Error::Unauthorized { .. } => Some(401),
            Error::RateLimited { .. } => Some(429),
            Error::Config { .. }
            | Error::Connect { .. }
            | Error::Transport { .. }
            | Error::Decode { .. }
            | Error::Tls { .. }
            | Error::Timeout { .. } => None,
        }
    }

    /// The server's details text, for API and authorization errors.
    pub fn details(&self) -> Option<&str> {
        match self {
            Error::Api { details, .. } | Error::Unauthorized { details } => Some(details),
            _ => None,
        }
    }

    pub(crate) fn config(message: impl Into<String>) -> Self {
        Error::Config {
            message: message.into(),
        }
    }

    pub(crate) fn decode(message: impl Into<String>) -> Self {
        Error::Decode {
            message: message.into(),
        }
    }
}

/// Why a TLS handshake failed, in terms of what the operator can do about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlsProblem {
    /// The certificate is not signed by an authority this client trusts (a private CA that was
    /// not given, or a self-signed certificate).
    UntrustedCertificate,
    /// The certificate is valid, but for other host names than the one in the base URL.
    WrongHostName,
    /// The certificate has expired (or this machine's clock is wrong).
    Expired,
    /// The certificate is not valid yet (or this machine's clock is wrong).
    NotYetValid,
    /// The server and this client have no TLS version (1.2, 1.3) or cipher in common.
    ProtocolVersion,
    /// What answered is not speaking TLS (plain http on an `https://` port, say).
    NotTls,
    /// Any other handshake failure.
    Other,
}

impl std::fmt::Display for TlsProblem {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(match self {
            TlsProblem::UntrustedCertificate => {
                "the server's TLS certificate is not signed by a trusted authority"
            }
            TlsProblem::WrongHostName => {
                "the server's TLS certificate is not valid for the host name in the base url"
            }
            TlsProblem::Expired => "the server's TLS certificate has expired",
            TlsProblem::NotYetValid => "the server's TLS certificate is not valid yet",
            TlsProblem::ProtocolVersion => {
                "the server refused the TLS versions this client speaks (1.2 and 1.3)"
            }
            TlsProblem::NotTls => "the server did not answer in TLS",
            TlsProblem::Other => "the TLS handshake with the server failed",
        })
    }
}

fn describe_timeout(waited: Duration, connected: bool) -> String {
    let seconds = waited.as_secs_f64();
    if connected {
        format!("the server accepted the connection and did not answer in {seconds} s")
    } else {
        format!("no connection to the server within {seconds} s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16) -> Error {
        Error::Api {
            status,
            details: "x".into(),
        }
    }

    #[test]
    fn classification() {
        let connect = Error::Connect {
            message: "refused".into(),
        };
        let transport = Error::Transport {
            message: "reset".into(),
        };
        let limited = Error::RateLimited { retry_after: None };
        let unauthorized = Error::Unauthorized {
            details: "no".into(),
        };
        let decode = Error::decode("bad");
        let config = Error::config("bad");

        assert!(connect.is_retryable() && !connect.may_have_applied());
        assert!(transport.is_retryable() && transport.may_have_applied());
        assert!(limited.is_retryable() && !limited.may_have_applied());
        assert!(!unauthorized.is_retryable() && !unauthorized.may_have_applied());
        assert!(!decode.is_retryable() && decode.may_have_applied());
        assert!(!config.is_retryable() && !config.may_have_applied());

        assert!(!api(400).is_retryable() && !api(400).may_have_applied());
        assert!(!api(302).is_retryable() && !api(302).may_have_applied());
        for status in [500, 502, 504] {
            assert!(api(status).is_retryable() && api(status).may_have_applied());
        }
        assert!(api(503).is_retryable() && !api(503).may_have_applied());

        assert_eq!(api(404).status(), Some(404));
        assert_eq!(unauthorized.status(), Some(401));
        assert_eq!(limited.status(), Some(429));
        assert_eq!(transport.status(), None);
    }

    #[test]
    fn messages_are_lower_case() {
        let errors = [
            Error::config("x"),
            Error::Connect {
                message: "x".into(),
            },
            Error::Transport {
                message: "x".into(),
            },
            Error::Unauthorized {
                details: "x".into(),
            },
            Error::RateLimited {
                retry_after: Some(Duration::from_secs(2)),
            },
            api(400),
            Error::decode("x"),
        ];
        for error in errors {
            let text = error.to_string();
            let first = text.chars().next().unwrap_or('x');
            assert!(first.is_lowercase(), "{text}");
            assert!(!text.ends_with('.'), "{text}");
        }
        assert_eq!(
            Error::RateLimited {
                retry_after: Some(Duration::from_secs(2))
            }
            .to_string(),
            "rate limited by the server (retry after 2000 ms)"
        );
    }
}
