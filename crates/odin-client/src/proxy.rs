//! Which HTTP proxy, if any, a base URL is reached through, decided from the proxy variables
//! the way curl reads them. This crate never reads the environment itself: the caller passes the
//! variables in ([`ProxyVariables::from_lookup`]) and puts the result in
//! [`ClientConfig::proxy`](crate::ClientConfig::proxy).

use std::net::IpAddr;

use crate::Error;
use crate::wire;

/// The proxy variables, as curl reads them: the lower-case name first, then the upper-case one.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ProxyVariables {
    /// `https_proxy` / `HTTPS_PROXY`: the proxy for `https://` base URLs.
    pub https_proxy: Option<String>,
    /// `http_proxy` / `HTTP_PROXY`: the proxy for `http://` base URLs.
    pub http_proxy: Option<String>,
    /// `all_proxy` / `ALL_PROXY`: the proxy for either, when the one above is not set.
    pub all_proxy: Option<String>,
    /// `no_proxy` / `NO_PROXY`: hosts reached directly (comma-separated names, `.domain`
    /// suffixes, IP addresses, `address/bits` networks, or `*` for every host).
    pub no_proxy: Option<String>,
}

impl std::fmt::Debug for ProxyVariables {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = |value: &Option<String>| value.as_deref().map(redact_proxy_url);
        formatter
            .debug_struct("ProxyVariables")
            .field("https_proxy", &shown(&self.https_proxy))
            .field("http_proxy", &shown(&self.http_proxy))
            .field("all_proxy", &shown(&self.all_proxy))
            .field("no_proxy", &self.no_proxy)
            .finish()
    }
}

impl ProxyVariables {
    /// Reads the variables through `lookup` (for a process: `|name| std::env::var(name).ok()`);
    /// empty values count as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let read = |lower: &str, upper: &str| {
            lookup(lower)
                .or_else(|| lookup(upper))
                .map(|value| value.trim().to_owned())
                .filter(|value| !value.is_empty())
        };
        Self {
            https_proxy: read("https_proxy", "HTTPS_PROXY"),
            http_proxy: read("http_proxy", "HTTP_PROXY"),
            all_proxy: read("all_proxy", "ALL_PROXY"),
            no_proxy: read("no_proxy", "NO_PROXY"),
        }
    }

    /// The proxy URL to reach `base_url` through, or `None` to connect directly: loopback hosts
    /// and hosts `no_proxy` names always go directly. A proxy without a scheme is taken as
    /// `http://`, as curl does. Fails for a proxy this client cannot use (a SOCKS proxy, an
    /// unparseable URL); the message never shows the proxy's credentials. A base URL that does
    /// not parse gets `None`: [`crate::OdinClient::login`] refuses it with its own message.
    pub fn proxy_for(&self, base_url: &str) -> Result<Option<String>, Error> {
        let Ok(base) = url::Url::parse(base_url.trim()) else {
            return Ok(None);
        };
        let Some(host) = base.host() else {
            return Ok(None);
        };
        // Loopback never goes through a proxy.
        if wire::is_loopback(&host) || self.excludes(&host) {
            return Ok(None);
        }
        let (chosen, name) = match base.scheme() {
            "https" => (self.https_proxy.as_deref(), "HTTPS_PROXY"),
            _ => (self.http_proxy.as_deref(), "HTTP_PROXY"),
        };
        let (proxy, name) = match (chosen, self.all_proxy.as_deref()) {
            (Some(proxy), _) => (proxy, name),
            (None, Some(proxy)) => (proxy, "ALL_PROXY"),
            (None, None) => return Ok(None),
        };
        let with_scheme = if proxy.contains("://") {
            proxy.to_owned()
        } else {
            format!("http://{proxy}")
        };
        let parsed = url::Url::parse(&with_scheme).map_err(|_| {
            Error::config(format!(
                "the proxy in `{name}`, `{}`, is not a valid url",
                redact_proxy_url(proxy)
            ))
        })?;
        match parsed.scheme() {
            "http" | "https" if parsed.host().is_some() => Ok(Some(with_scheme)),
            "http" | "https" => Err(Error::config(format!(
                "the proxy in `{name}`, `{}`, has no host",
                redact_proxy_url(proxy)
            ))),
            other => Err(Error::config(format!(
                "the proxy in `{name}` uses `{other}://`; only http:// and https:// proxies are supported"
            ))),
        }
    }

    /// Whether `no_proxy` names this host.
    fn excludes(&self, host: &url::Host<&str>) -> bool {
        let Some(list) = &self.no_proxy else {
            return false;
        };
        list.split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .any(|entry| entry_matches(entry, host))
    }
}

/// One `no_proxy` entry against a host: `*`, an IP address or network, or a domain name that
/// matches itself and its subdomains (a leading `.` changes nothing, as in curl).
fn entry_matches(entry: &str, host: &url::Host<&str>) -> bool {
    if entry == "*" {
        return true;
    }
    let address = match host {
        url::Host::Ipv4(address) => Some(IpAddr::V4(*address)),
        url::Host::Ipv6(address) => Some(IpAddr::V6(*address)),
        url::Host::Domain(_) => None,
    };
    let entry_text = entry.trim_start_matches('[').trim_end_matches(']');
    if let Some(address) = address {
        if let Some((network, bits)) = entry_text.split_once('/') {
            return match (network.parse::<IpAddr>(), bits.parse::<u32>()) {
                (Ok(network), Ok(bits)) => in_network(address, network, bits),
                _ => false,
            };
        }
        return entry_text.parse::<IpAddr>() == Ok(address);
    }
    let url::Host::Domain(name) = host else {
        return false;
    };
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    let entry = entry
        .trim_start_matches('.')
        .trim_end_matches('.')
        .to_ascii_lowercase();
    name == entry || name.ends_with(&format!(".{entry}"))
}

fn in_network(address: IpAddr, network: IpAddr, bits: u32) -> bool {
    match (address, network) {
        (IpAddr::V4(address), IpAddr::V4(network)) if bits <= 32 => {
            let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
            u32::from(address) & mask == u32::from(network) & mask
        }
        (IpAddr::V6(address), IpAddr::V6(network)) if bits <= 128 => {
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            u128::from(address) & mask == u128::from(network) & mask
        }
        _ => false,
    }
}

/// A proxy URL fit to show: `user:password@` becomes `[redacted]@`, nothing else changes.
pub fn redact_proxy_url(proxy: &str) -> String {
    match proxy.rsplit_once('@') {
        Some((before, after)) => match before.split_once("://") {
            Some((scheme, _credentials)) => format!("{scheme}://[redacted]@{after}"),
            None => format!("[redacted]@{after}"),
        },
        None => proxy.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn variables(pairs: &[(&str, &str)]) -> ProxyVariables {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect();
        ProxyVariables::from_lookup(|name| {
            pairs
                .iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.clone())
        })
    }

    const BASE: &str = "https://odin.example.net/api/v2";

    #[test]
    fn the_scheme_of_the_base_url_picks_the_variable() {
        let set = variables(&[
            ("HTTPS_PROXY", "http://secure-proxy:3128"),
            ("HTTP_PROXY", "http://plain-proxy:3128"),
        ]);
        assert_eq!(
            set.proxy_for(BASE).unwrap().as_deref(),
            Some("http://secure-proxy:3128")
        );
        assert_eq!(
            set.proxy_for("http://odin.example.net/api/v2")
                .unwrap()
                .as_deref(),
            Some("http://plain-proxy:3128")
        );
        assert_eq!(variables(&[]).proxy_for(BASE).unwrap(), None);
        // Only HTTP_PROXY: an https base URL goes directly, as with curl.
        let plain_only = variables(&[("HTTP_PROXY", "http://plain-proxy:3128")]);
        assert_eq!(plain_only.proxy_for(BASE).unwrap(), None);
    }

    #[test]
    fn lower_case_wins_and_all_proxy_is_the_fallback() {
        let set = variables(&[
            ("https_proxy", "lower:1"),
            ("HTTPS_PROXY", "upper:2"),
            ("ALL_PROXY", "all:3"),
        ]);
        assert_eq!(
            set.proxy_for(BASE).unwrap().as_deref(),
            Some("http://lower:1")
        );
        let all = variables(&[("ALL_PROXY", "http://all:3")]);
        assert_eq!(
            all.proxy_for(BASE).unwrap().as_deref(),
            Some("http://all:3")
        );
    }

    #[test]
    fn loopback_never_goes_through_a_proxy() {
        let set = variables(&[("HTTPS_PROXY", "http://proxy:1"), ("HTTP_PROXY", "proxy:1")]);
        for base in [
            "https://127.0.0.1:8443/api/v2",
            "http://127.0.0.9/api/v2",
            "https://[::1]:8443/api/v2",
            "https://localhost/api/v2",
            "https://odin.localhost/api/v2",
        ] {
            assert_eq!(set.proxy_for(base).unwrap(), None, "{base}");
        }
    }

    #[test]
    fn no_proxy_names_hosts_domains_addresses_and_networks() {
        let set = variables(&[
            ("HTTPS_PROXY", "http://proxy:1"),
            (
                "NO_PROXY",
                "internal.example, .corp.example,10.0.0.0/8, 192.168.1.7,[fd00::1]",
            ),
        ]);
        let direct = [
            "https://internal.example/api/v2",
            "https://odin.internal.example/api/v2",
            "https://corp.example/api/v2",
            "https://odin.corp.example/api/v2",
            "https://10.20.30.40/api/v2",
            "https://192.168.1.7/api/v2",
            "https://[fd00::1]/api/v2",
        ];
        for base in direct {
            assert_eq!(set.proxy_for(base).unwrap(), None, "{base}");
        }
        let proxied = [
            "https://notinternal.example/api/v2",
            "https://192.168.1.8/api/v2",
            "https://11.0.0.1/api/v2",
            BASE,
        ];
        for base in proxied {
            assert!(set.proxy_for(base).unwrap().is_some(), "{base}");
        }
        let everything = variables(&[("HTTPS_PROXY", "http://proxy:1"), ("no_proxy", "*")]);
        assert_eq!(everything.proxy_for(BASE).unwrap(), None);
    }

    #[test]
    fn unusable_proxies_are_refused_without_their_credentials() {
        let socks = variables(&[("HTTPS_PROXY", "socks5://user:s3cret@proxy:1080")]);
        let error = socks.proxy_for(BASE).unwrap_err().to_string();
        assert!(error.contains("socks5"), "{error}");
        assert!(!error.contains("s3cret"), "{error}");
        let garbage = variables(&[("HTTPS_PROXY", "http://user:s3cret@[bad")]);
        let error = garbage.proxy_for(BASE).unwrap_err().to_string();
        assert!(
            error.contains("HTTPS_PROXY") && !error.contains("s3cret"),
            "{error}"
        );
    }

    #[test]
    fn credentials_are_never_shown() {
        assert_eq!(
            redact_proxy_url("http://user:s3cret@proxy:3128"),
            "http://[redacted]@proxy:3128"
        );
        assert_eq!(redact_proxy_url("proxy:3128"), "proxy:3128");
        let set = variables(&[("HTTPS_PROXY", "http://user:s3cret@proxy:3128")]);
        assert!(!format!("{set:?}").contains("s3cret"));
    }
}
