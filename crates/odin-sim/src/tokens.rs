//! Session tokens: JWT-shaped strings with an `exp` claim, and the set of those still alive.
//!
//! Nothing verifies a signature: a token is alive because the simulator issued it, it has not
//! expired and nobody logged it out, which is what a client can observe of a real server.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use rand::rngs::StdRng;

pub(crate) struct TokenStore {
    live: HashMap<String, Instant>,
    issued: u64,
    /// How many times every token was killed at once; OCI-P logins older than the last time
    /// are dead too.
    revocations: u64,
    rng: StdRng,
}

/// Tokens are secrets: Debug output shows how many there are, never one of them.
impl std::fmt::Debug for TokenStore {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("TokenStore")
            .field("live", &self.live.len())
            .field("issued", &self.issued)
            .finish_non_exhaustive()
    }
}

impl TokenStore {
    pub(crate) fn new(rng: StdRng) -> Self {
        TokenStore {
            live: HashMap::new(),
            issued: 0,
            revocations: 0,
            rng,
        }
    }

    /// Issues a token for `subject` that lives `ttl`.
    pub(crate) fn issue(&mut self, subject: &str, ttl: Duration) -> String {
        self.issued += 1;
        // Tokens pile up when a client logs in for every call; expired ones go now and then.
        if self.issued.is_multiple_of(1024) {
            let now = Instant::now();
            self.live.retain(|_, expires| *expires > now);
        }
        let issued_at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|since| since.as_secs())
            .unwrap_or(0);
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let claims = serde_json::json!({
            "sub": subject,
            "iss": "odin-sim",
            "iat": issued_at,
            "exp": issued_at + ttl.as_secs(),
            "jti": self.issued,
        });
        let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
        let mut signature = [0u8; 32];
        self.rng.fill_bytes(&mut signature);
        let token = format!("{header}.{payload}.{}", URL_SAFE_NO_PAD.encode(signature));
        self.live.insert(token.clone(), Instant::now() + ttl);
        token
    }

    /// Whether `token` is alive; an expired one is forgotten.
    pub(crate) fn is_live(&mut self, token: &str) -> bool {
        match self.live.get(token) {
            Some(expires) if *expires > Instant::now() => true,
            Some(_) => {
                self.live.remove(token);
                false
            }
            None => false,
        }
    }

    /// Kills one token; says whether it was alive.
    pub(crate) fn revoke(&mut self, token: &str) -> bool {
        self.live.remove(token).is_some()
    }

    /// Kills every token; returns how many there were.
    pub(crate) fn revoke_all(&mut self) -> usize {
        let count = self.live.len();
        self.live.clear();
        self.revocations += 1;
        count
    }

    /// How many times [`TokenStore::revoke_all`] was called.
    pub(crate) fn revocations(&self) -> u64 {
        self.revocations
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn tokens_are_jwt_shaped_with_exp() {
        let mut store = TokenStore::new(StdRng::seed_from_u64(1));
        let token = store.issue("admin", Duration::from_secs(3600));
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(claims["sub"], "admin");
        let exp = claims["exp"].as_u64().unwrap();
        let iat = claims["iat"].as_u64().unwrap();
        assert_eq!(exp - iat, 3600);
        assert!(store.is_live(&token));
        assert!(store.revoke(&token));
        assert!(!store.is_live(&token));
    }

    #[test]
    fn a_zero_lifetime_token_is_dead_at_once() {
        let mut store = TokenStore::new(StdRng::seed_from_u64(1));
        let token = store.issue("admin", Duration::ZERO);
        assert!(!store.is_live(&token));
    }
}
