//! The command line of the `odin-sim` binary, and how it becomes a [`SimConfig`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use crate::config::DEFAULT_TOKEN_TTL;
use crate::faults::Faults;
use crate::ocip::{OcipFrontConfig, Release};
use crate::world::WorldSpec;
use crate::{Error, SimConfig};

/// What `--help` says about `--fixture`: the smallest world, and where the whole format is.
const FIXTURE_HELP: &str = r#"A fixture (`--fixture FILE`) is a JSON world; only the ids are required, unknown keys are
errors, and everything left out is generated:
  {"serviceProviders": [{"serviceProviderId": "acme",
    "groups": [{"groupId": "sales",
      "users": [{"userId": "ann@acme.example"}, {"userId": "ben@acme.example"}]}]}]}
The whole format (rules, services, initial values, phones): docs/odin-api.md, section 9."#;

/// A simulator of the Odin API slice that bwreset speaks (BroadWorks users, credentials and
/// their rules, with switchable faults). Prints `odin-sim listening on <base URL>` once it
/// accepts connections.
#[derive(Debug, Parser)]
#[command(name = "odin-sim", version, after_help = FIXTURE_HELP)]
pub struct Args {
    /// Address to listen on (port 0 picks a free port); the true credentials are served in
    /// plain text, so keep it on loopback
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,

    /// Serve HTTPS (the Odin API, the SOAP front and /_sim/), with a certificate made at start
    /// for 127.0.0.1 and localhost by a private CA
    #[arg(long)]
    pub tls: bool,

    /// Write the PEM of the CA that signed the HTTPS certificate here, for clients to trust
    #[arg(long, value_name = "FILE", requires = "tls")]
    pub cert_out: Option<PathBuf>,

    /// The administrator login that POST /auth/token accepts
    #[arg(long, value_name = "USER:PASSWORD", default_value = "admin:admin", value_parser = parse_login)]
    pub login: Login,

    /// Seed this many users user0001@demo.example, ... in one service provider and group
    #[arg(
        long,
        value_name = "N",
        default_value_t = 10,
        conflicts_with = "fixture"
    )]
    pub users: usize,

    /// Name of the seeded service provider
    #[arg(
        long,
        value_name = "ID",
        default_value = "demo-sp",
        conflicts_with = "fixture"
    )]
    pub service_provider: String,

    /// Name of the seeded group
    #[arg(
        long,
        value_name = "ID",
        default_value = "demo-group",
        conflicts_with = "fixture"
    )]
    pub group: String,

    /// Load the world from this JSON file instead of seeding one (see docs/odin-api.md)
    #[arg(long, value_name = "FILE")]
    pub fixture: Option<PathBuf>,

    /// Lifetime of session tokens and of OCI-P logins, in seconds
    #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_TOKEN_TTL.as_secs())]
    pub token_ttl: u64,

    /// Make random faults and generated values repeatable
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,

    /// Milliseconds a reset device takes to register again (only if its configuration file
    /// holds its users' current SIP passwords by then)
    #[arg(long, value_name = "MS", default_value_t = crate::devices::DEFAULT_REBOOT.as_millis() as u64)]
    pub reboot_ms: u64,

    /// Fraction of the devices (chosen with --seed) that never register again after a reset
    #[arg(long, value_name = "FRACTION", default_value_t = 0.0, value_parser = crate::devices::parse_fraction)]
    pub offline_devices: f64,

    /// Also serve OCI-P (BroadWorks' XML protocol) on this address, over the same world;
    /// prints a second line `odin-sim ocip listening on ocip://ADDR` (see docs/ocip.md)
    #[arg(long, value_name = "ADDR")]
    pub ocip_listen: Option<SocketAddr>,

    /// Serve OCI-P over TLS (`ocips://`), with a certificate made at start for 127.0.0.1 and
    /// localhost
    #[arg(long, requires = "ocip_listen")]
    pub ocip_tls: bool,

    /// Write the PEM of the CA that signed the OCI-P certificate here, for clients to trust
    #[arg(long, value_name = "FILE", requires = "ocip_tls")]
    pub ocip_cert_out: Option<PathBuf>,

    /// The OCI-P release to play, on the OCI-P listener and the SOAP front: 21 has no
    /// PasswordGenerateRequest, LoginRequest22V5 or UserPortalPasscodeRulesGetRequest
    #[arg(
        long,
        value_name = "21|24",
        default_value = "24",
        requires = "ocip_listen"
    )]
    pub ocip_release: Release,

    /// Threads that serve requests (default: one per core). On a machine the client under test
    /// shares, `--threads 1` leaves it a core, as a server elsewhere would
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub threads: Option<u16>,

    #[command(flatten)]
    pub faults: Faults,
}

/// A `USER:PASSWORD` pair.
#[derive(Clone)]
pub struct Login {
    pub user: String,
    pub password: String,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Login")
            .field("user", &self.user)
            .field("password", &crate::REDACTED)
            .finish()
    }
}

fn parse_login(text: &str) -> Result<Login, String> {
    match text.split_once(':') {
        Some((user, password)) if !user.is_empty() => Ok(Login {
            user: user.to_owned(),
            password: password.to_owned(),
        }),
        _ => Err("expected USER:PASSWORD with a non-empty USER".to_owned()),
    }
}

impl Args {
    /// The configuration these arguments describe; reads the fixture file if one is named.
    pub fn to_config(&self) -> Result<SimConfig, Error> {
        let world = match &self.fixture {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|error| Error::InvalidWorld {
                    message: format!("cannot read `{}`: {error}", path.display()),
                })?;
                WorldSpec::from_json(&text).map_err(|error| match error {
                    Error::InvalidWorld { message } => Error::InvalidWorld {
                        message: format!("`{}`: {message}", path.display()),
                    },
                    other => other,
                })?
            }
            None => WorldSpec::seeded(&self.service_provider, &self.group, self.users),
        };
        self.faults.validate()?;
        Ok(SimConfig {
            listen: self.listen,
            tls: self.tls,
            cert_out: self.cert_out.clone(),
            login: (self.login.user.clone(), self.login.password.clone()),
            world,
            faults: self.faults.clone(),
            token_ttl: Duration::from_secs(self.token_ttl),
            seed: self.seed,
            devices: crate::devices::DeviceSettings {
                reboot: Duration::from_millis(self.reboot_ms),
                offline_fraction: self.offline_devices,
            },

            ocip: self.ocip_listen.map(|listen| OcipFrontConfig {
                listen,
                tls: self.ocip_tls,
                cert_out: self.ocip_cert_out.clone(),
                release: self.ocip_release,
                fixed_nonce: false,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_become_a_config() {
        let args = Args::try_parse_from([
            "odin-sim",
            "--users",
            "3",
            "--group",
            "g1",
            "--login",
            "root:s3:cret",
            "--fail-rate",
            "0.5",
            "--rate-limit",
            "100",
            "--generator-cap",
            "7",
            "--wrong-kind-rate",
            "1",
            "--token-ttl",
            "60",
            "--seed",
            "9",
        ])
        .unwrap();
        let config = args.to_config().unwrap();
        assert_eq!(config.login, ("root".to_owned(), "s3:cret".to_owned()));
        assert_eq!(config.faults.fail_rate, 0.5);
        assert_eq!(config.faults.rate_limit, Some(100.0));
        assert_eq!(config.faults.generator_cap, Some(7));
        assert_eq!(config.faults.wrong_kind_rate, 1.0);
        assert_eq!(config.token_ttl, Duration::from_secs(60));
        assert_eq!(config.seed, Some(9));
        let groups = &config.world.service_providers[0].groups;
        assert_eq!(groups[0].group_id, "g1");
        assert_eq!(groups[0].users.len(), 3);
        assert_eq!(config.ocip, None);
        assert!(!config.tls);

        let args =
            Args::try_parse_from(["odin-sim", "--tls", "--cert-out", "http-ca.pem"]).unwrap();
        let config = args.to_config().unwrap();
        assert!(config.tls);
        assert_eq!(config.cert_out, Some(PathBuf::from("http-ca.pem")));

        let args = Args::try_parse_from([
            "odin-sim",
            "--ocip-listen",
            "127.0.0.1:2208",
            "--ocip-tls",
            "--ocip-cert-out",
            "ca.pem",
            "--ocip-release",
            "21",
        ])
        .unwrap();
        let ocip = args.to_config().unwrap().ocip.unwrap();
        assert_eq!(ocip.listen.port(), 2208);
        assert!(ocip.tls);
        assert_eq!(ocip.cert_out, Some(PathBuf::from("ca.pem")));
        assert_eq!(ocip.release, Release::R21);
    }

    #[test]
    fn bad_flags_are_refused() {
        for bad in [
            &["odin-sim", "--fail-rate", "2"][..],
            &["odin-sim", "--rate-limit", "0"],
            &["odin-sim", "--generator-cap", "0"],
            &["odin-sim", "--login", "nopassword"],
            &["odin-sim", "--fixture", "x.json", "--users", "3"],
            &["odin-sim", "--ocip-tls"],
            &["odin-sim", "--cert-out", "ca.pem"],
            &[
                "odin-sim",
                "--ocip-listen",
                "127.0.0.1:0",
                "--ocip-release",
                "25",
            ],
            &[
                "odin-sim",
                "--ocip-listen",
                "127.0.0.1:0",
                "--ocip-release",
                "22",
            ],
        ] {
            assert!(Args::try_parse_from(bad).is_err(), "{bad:?}");
        }
    }
}
