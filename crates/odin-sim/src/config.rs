//! What a simulator is started with: address, TLS, login, world, faults, token lifetime, seed
//! and the OCI-P listener.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use crate::devices::DeviceSettings;
use crate::faults::Faults;
use crate::ocip::OcipFrontConfig;
use crate::world::WorldSpec;

/// The default token lifetime: 12 hours, as in the one public token sample.
pub(crate) const DEFAULT_TOKEN_TTL: Duration = Duration::from_secs(12 * 60 * 60);

/// Everything a simulator needs to start.
#[derive(Clone)]
pub struct SimConfig {
    /// Where to listen; default `127.0.0.1:0` (loopback, a free port).
    pub listen: SocketAddr,
    /// Serve HTTPS on that address (the Odin API, the SOAP front and `/_sim/`), with a
    /// certificate for `127.0.0.1` and `localhost` made at start by a private CA; default off.
    pub tls: bool,
    /// Where to write the PEM of that CA, for clients to trust (with `tls`, or with the OCI-P
    /// listener's: one simulator has one CA).
    pub cert_out: Option<PathBuf>,
    /// The one administrator login (user, password); default `admin` / `admin`.
    pub login: (String, String),
    /// The BroadWorks model to load.
    pub world: WorldSpec,
    /// The faults to inject; all off by default.
    pub faults: Faults,
    /// How long a token lives; default 12 h. Zero makes every token dead on arrival.
    pub token_ttl: Duration,
    /// Makes random faults and generated values repeatable.
    pub seed: Option<u64>,
    /// How devices behave after a reset: reboot time, offline share.
    pub devices: DeviceSettings,
    /// An OCI-P listener beside the HTTP one; none by default. Its release and nonce setting
    /// are the SOAP front's too (release 24 and fresh nonces without one).
    pub ocip: Option<OcipFrontConfig>,
}

impl std::fmt::Debug for SimConfig {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("SimConfig")
            .field("listen", &self.listen)
            .field("tls", &self.tls)
            .field("cert_out", &self.cert_out)
            .field("login", &(&self.login.0, crate::REDACTED))
            .field("world", &self.world)
            .field("faults", &self.faults)
            .field("token_ttl", &self.token_ttl)
            .field("seed", &self.seed)
            .field("devices", &self.devices)
            .field("ocip", &self.ocip)
            .finish()
    }
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            tls: false,
            cert_out: None,
            login: ("admin".to_owned(), "admin".to_owned()),
            world: WorldSpec::default(),
            faults: Faults::default(),
            token_ttl: DEFAULT_TOKEN_TTL,
            seed: None,
            devices: DeviceSettings::default(),
            ocip: None,
        }
    }
}

impl SimConfig {
    /// Service provider `demo-sp`, group `demo-group` and `users` users
    /// `user0001@demo.example`, ..., all with the Authentication service.
    pub fn with_users(users: usize) -> Self {
        SimConfig {
            world: WorldSpec::seeded("demo-sp", "demo-group", users),
            ..SimConfig::default()
        }
    }

    /// `service_providers` service providers of `groups` groups of `users` users each (see
    /// [`WorldSpec::seeded_groups`]).
    pub fn with_groups(service_providers: usize, groups: usize, users: usize) -> Self {
        SimConfig {
            world: WorldSpec::seeded_groups(service_providers, groups, users),
            ..SimConfig::default()
        }
    }

    /// The same configuration with these faults.
    pub fn with_faults(self, faults: Faults) -> Self {
        SimConfig { faults, ..self }
    }

    /// The same configuration with an OCI-P listener.
    pub fn with_ocip(self, ocip: OcipFrontConfig) -> Self {
        SimConfig {
            ocip: Some(ocip),
            ..self
        }
    }

    /// The same configuration serving HTTPS (see [`SimConfig::tls`]).
    pub fn with_tls(self) -> Self {
        SimConfig { tls: true, ..self }
    }

    /// The same configuration with this seed.
    pub fn with_seed(self, seed: u64) -> Self {
        SimConfig {
            seed: Some(seed),
            ..self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_shows_no_secret() {
        let world = WorldSpec::from_json(
            r#"{"serviceProviders": [{"serviceProviderId": "sp", "groups": [{"groupId": "g",
                "users": [{"userId": "u@x", "sipPassword": "Sip-Secret-1",
                           "portalPasscode": "80531794", "webPassword": "Web-Secret-2"}]}]}]}"#,
        )
        .unwrap();
        let config = SimConfig {
            login: ("admin".to_owned(), "Login-Secret-3".to_owned()),
            world,
            ..SimConfig::default()
        };
        let printed = format!("{config:?}");
        for secret in ["Sip-Secret-1", "80531794", "Web-Secret-2", "Login-Secret-3"] {
            assert!(!printed.contains(secret), "{secret} in {printed}");
        }
        assert!(printed.contains("u@x"));
        let state = crate::SimState::new(config);
        let printed = format!("{state:?}");
        assert!(!printed.contains("Sip-Secret-1"));
    }
}
