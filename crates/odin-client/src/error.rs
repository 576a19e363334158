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
    /// 401 even after one fresh login and one repeat of the call (or the login itself refused).
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
            Error::Config { .. } | Error::Unauthorized { .. } | Error::Decode { .. } => false,
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
            | Error::RateLimited { .. } => false,
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
            | Error::Decode { .. } => None,
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
