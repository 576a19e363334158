//! Connection settings: flags beat the environment, which beats the config file.
//!
//! Reading the environment and the config file happens once, up front ([`Environment::from_process`],
//! [`load_config_file`]); combining them ([`resolve_connection`]) is pure, so that the precedence
//! rules can be tested without touching the process. The password is never a setting: it comes
//! from `BWRESET_PASSWORD` (or `ODIN_PASSWORD`) or a prompt, see [`obtain_password`].

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use odin_client::ProxyVariables;
use secrecy::SecretString;
use serde::Deserialize;

use crate::cli::ConnectionArgs;
use crate::errors::Failure;

/// The environment variables bwreset reads; empty values count as unset.
#[derive(Debug, Default)]
pub(crate) struct Environment {
    /// `BWRESET_SERVER`, which beats `ODIN_BASE_URL`.
    pub server: Option<String>,
    pub base_url: Option<String>,
    pub username: Option<String>,
    /// The variable `username` came from (`BWRESET_USERNAME` or `ODIN_USERNAME`).
    pub username_variable: &'static str,
    pub password: Option<SecretString>,
    /// The password was handed over by the program that runs the command in its process (the
    /// Python package's `password=`), not read from `BWRESET_PASSWORD` or `ODIN_PASSWORD`.
    pub password_from_caller: bool,
    pub config: Option<PathBuf>,
    pub profile: Option<String>,
    /// `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY` (and their lower-case forms).
    pub proxy: ProxyVariables,
}

impl Environment {
    pub(crate) fn from_process() -> Self {
        let read = |name: &str| {
            std::env::var(name)
                .ok()
                .filter(|value| !value.trim().is_empty())
        };
        let secret = |name: &str| {
            std::env::var(name)
                .ok()
                .filter(|value| !value.is_empty())
                .map(SecretString::from)
        };
        Environment {
            server: read("BWRESET_SERVER"),
            base_url: read("ODIN_BASE_URL"),
            username: read("BWRESET_USERNAME").or_else(|| read("ODIN_USERNAME")),
            username_variable: if read("BWRESET_USERNAME").is_some() {
                "BWRESET_USERNAME"
            } else {
                "ODIN_USERNAME"
            },
            password: secret("BWRESET_PASSWORD").or_else(|| secret("ODIN_PASSWORD")),
            password_from_caller: false,
            config: read("BWRESET_CONFIG").map(PathBuf::from),
            profile: read("BWRESET_PROFILE"),
            proxy: ProxyVariables::from_lookup(|name| std::env::var(name).ok()),
        }
    }
}

/// The settings a config file may hold, at its top level or in a `[profiles.NAME]` table.
/// There is no password here on purpose; a `password` key is refused with an explanation.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileSettings {
    /// The server URL (any backend); beats `base_url`.
    pub server: Option<String>,
    pub base_url: Option<String>,
    pub username: Option<String>,
    pub concurrency: Option<u16>,
    pub max_rate: Option<f64>,
    pub ca_cert: Option<PathBuf>,
    pub insecure: Option<bool>,
    pub allow_http: Option<bool>,
    pub allow_plaintext: Option<bool>,
    pub connect_timeout: Option<u64>,
    pub first_answer_timeout: Option<u64>,
    /// The default of `--devices` for SIP resets (`none`, `rebuild`, `reset`).
    pub devices: Option<crate::cli::DevicesArg>,
    /// Where an OCI-P run's values come from (`server`, `local`).
    pub ocip_values: Option<crate::cli::OcipValuesArg>,
    /// The default of `--new-user-names` for SIP resets.
    pub new_user_names: Option<bool>,
    /// The default of `--user-name-template`, used when new user names are given.
    pub user_name_template: Option<String>,
    #[serde(default)]
    password: Option<toml::Value>,
    /// The file these settings were read from, if any (not a key of the file).
    #[serde(skip)]
    pub origin: Option<ConfigOrigin>,
}

/// Where a config file's settings came from: the file, the profile chosen, and the profiles it
/// defines, so that the messages can name them.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct ConfigOrigin {
    pub path: PathBuf,
    /// The profile chosen (`--profile` or `BWRESET_PROFILE`), if any.
    pub profile: Option<String>,
    /// Every profile the file defines, sorted.
    pub profiles: Vec<String>,
    /// The connection keys (`server`, `base_url`, `username`) the chosen profile itself sets,
    /// rather than the file's top level.
    pub profile_keys: Vec<&'static str>,
}

/// The keys a config file may hold, for the message about an unknown one. `password` is not
/// among them: it is refused with its own message.
const KNOWN_KEYS: [&str; 15] = [
    "server",
    "base_url",
    "username",
    "concurrency",
    "max_rate",
    "ca_cert",
    "insecure",
    "allow_http",
    "allow_plaintext",
    "connect_timeout",
    "first_answer_timeout",
    "devices",
    "ocip_values",
    "new_user_names",
    "user_name_template",
];

/// Refuses a key bwreset does not know, naming the keys it does (never `password`), before
/// serde's own message (which would list `password`) can be shown.
fn refuse_unknown_keys(table: &toml::Table, path: &Path, place: &str) -> Result<(), Failure> {
    let unknown = table
        .keys()
        .find(|key| key.as_str() != "password" && !KNOWN_KEYS.contains(&key.as_str()));
    match unknown {
        None => Ok(()),
        Some(key) => Err(Failure::usage(format!(
            "config file `{}`{place}: unknown key `{key}`",
            path.display()
        ))
        .with_hint(format!(
            "the keys a config file may hold: {}",
            KNOWN_KEYS
                .iter()
                .map(|key| format!("`{key}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

impl FileSettings {
    /// The fields of `profile` where it has them, else ours.
    fn overlaid_with(self, profile: FileSettings) -> FileSettings {
        FileSettings {
            server: profile.server.or(self.server),
            base_url: profile.base_url.or(self.base_url),
            username: profile.username.or(self.username),
            concurrency: profile.concurrency.or(self.concurrency),
            max_rate: profile.max_rate.or(self.max_rate),
            ca_cert: profile.ca_cert.or(self.ca_cert),
            insecure: profile.insecure.or(self.insecure),
            allow_http: profile.allow_http.or(self.allow_http),
            allow_plaintext: profile.allow_plaintext.or(self.allow_plaintext),
            connect_timeout: profile.connect_timeout.or(self.connect_timeout),
            first_answer_timeout: profile.first_answer_timeout.or(self.first_answer_timeout),
            devices: profile.devices.or(self.devices),
            ocip_values: profile.ocip_values.or(self.ocip_values),
            new_user_names: profile.new_user_names.or(self.new_user_names),
            user_name_template: profile.user_name_template.or(self.user_name_template),
            password: None,
            origin: self.origin,
        }
    }
}

/// Parses a config file's text and picks the profile: the top-level settings, overlaid with
/// those of `[profiles.NAME]` when a profile is chosen. A relative `ca_cert` is taken relative
/// to the file's directory.
pub(crate) fn parse_config_file(
    text: &str,
    path: &Path,
    profile: Option<&str>,
) -> Result<FileSettings, Failure> {
    let shown = path.display();
    // Only the parser's message and line are shown: its full text quotes the offending line,
    // which could be a misplaced password.
    let mut table: toml::Table = toml::from_str(text).map_err(|error: toml::de::Error| {
        let line = error.span().map(|span| {
            let before = &text.as_bytes()[..span.start.min(text.len())];
            before.iter().filter(|&&byte| byte == b'\n').count() + 1
        });
        let place = line
            .map(|line| format!(", line {line}"))
            .unwrap_or_default();
        Failure::usage(format!(
            "config file `{shown}` is not valid TOML{place}: {}",
            error.message().trim()
        ))
    })?;
    let profiles_value = table.remove("profiles");
    refuse_unknown_keys(&table, path, "")?;
    let top_level: FileSettings = table
        .try_into()
        .map_err(|error| Failure::usage(format!("config file `{shown}`: {error}")))?;
    refuse_password(&top_level, path, None)?;

    let profile_tables: BTreeMap<String, toml::Table> = match profiles_value {
        None => BTreeMap::new(),
        Some(value) => value.try_into().map_err(|error| {
            Failure::usage(format!("config file `{shown}`, table `profiles`: {error}"))
        })?,
    };
    for (name, profile_table) in &profile_tables {
        refuse_unknown_keys(profile_table, path, &format!(", profile `{name}`"))?;
    }
    let profile_names: Vec<String> = profile_tables.keys().cloned().collect();
    let mut profiles: BTreeMap<String, FileSettings> = profile_tables
        .into_iter()
        .map(|(name, profile_table)| {
            let settings = profile_table.try_into().map_err(|error| {
                Failure::usage(format!("config file `{shown}`, profile `{name}`: {error}"))
            })?;
            Ok((name, settings))
        })
        .collect::<Result<_, Failure>>()?;
    for (name, settings) in &profiles {
        refuse_password(settings, path, Some(name))?;
    }

    let mut origin = ConfigOrigin {
        path: path.to_owned(),
        profile: profile.map(str::to_owned),
        profiles: profile_names,
        profile_keys: Vec::new(),
    };
    let mut chosen = match profile {
        None => top_level,
        Some(name) => match profiles.remove(name) {
            Some(settings) => {
                origin.profile_keys = [
                    ("server", settings.server.is_some()),
                    ("base_url", settings.base_url.is_some()),
                    ("username", settings.username.is_some()),
                ]
                .into_iter()
                .filter_map(|(key, set)| set.then_some(key))
                .collect();
                top_level.overlaid_with(settings)
            }
            None => {
                let known: Vec<String> = profiles.keys().map(|name| format!("`{name}`")).collect();
                let known = if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                };
                return Err(Failure::usage(format!(
                    "no profile `{name}` in config file `{shown}`"
                ))
                .with_hint(format!("the profiles it defines: {known}")));
            }
        },
    };
    if let (Some(ca_cert), Some(directory)) = (&chosen.ca_cert, path.parent())
        && ca_cert.is_relative()
    {
        chosen.ca_cert = Some(directory.join(ca_cert));
    }
    chosen.origin = Some(origin);
    Ok(chosen)
}

fn refuse_password(
    settings: &FileSettings,
    path: &Path,
    profile: Option<&str>,
) -> Result<(), Failure> {
    if settings.password.is_none() {
        return Ok(());
    }
    let place = match profile {
        Some(name) => format!(" (profile `{name}`)"),
        None => String::new(),
    };
    Err(Failure::usage(format!(
        "config file `{}` holds a password{place}",
        path.display()
    ))
    .with_hint("remove it: bwreset reads the password from `BWRESET_PASSWORD` (or `ODIN_PASSWORD`) or asks for it"))
}

/// Reads the config file named by `--config`, else `BWRESET_CONFIG`, else the one in the
/// platform's config directory if it exists, and picks the profile (`--profile`, else
/// `BWRESET_PROFILE`). No file at all gives empty settings.
pub(crate) fn load_config_file(
    flags: &ConnectionArgs,
    environment: &Environment,
) -> Result<FileSettings, Failure> {
    let profile = flags.profile.as_deref().or(environment.profile.as_deref());
    let explicit = flags.config.clone().or_else(|| environment.config.clone());
    let path = match explicit {
        Some(path) => path,
        None => match default_config_path().filter(|path| path.exists()) {
            Some(path) => path,
            None => {
                return match profile {
                    None => Ok(FileSettings::default()),
                    Some(name) => Err(Failure::usage(format!(
                        "profile `{name}` asked for, but there is no config file"
                    ))
                    .with_hint(config_file_hint())),
                };
            }
        },
    };
    let text = std::fs::read_to_string(&path).map_err(|error| {
        Failure::usage(format!(
            "cannot read config file `{}`: {error}",
            path.display()
        ))
    })?;
    parse_config_file(&text, &path, profile)
}

/// Where the config file lives when nothing says otherwise.
pub(crate) fn default_config_path() -> Option<PathBuf> {
    dirs::config_dir().map(|directory| directory.join("bwreset").join("config.toml"))
}

fn config_file_hint() -> String {
    match default_config_path() {
        Some(path) => format!("create `{}` or name one with `--config`", path.display()),
        None => "name one with `--config`".to_owned(),
    }
}

/// Everything needed to reach and log in to Odin, except the password.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ConnectionSettings {
    pub base_url: String,
    pub username: String,
    pub concurrency: Option<usize>,
    pub max_rate: Option<f64>,
    pub ca_cert: Option<PathBuf>,
    pub insecure: bool,
    pub allow_http: bool,
    /// Plain `ocip://` allowed to a host that is not loopback.
    pub allow_plaintext: bool,
    pub no_connection_reuse: bool,
    /// OCI-P tuning for the benchmark: commands per document, connections.
    pub ocip_batch: Option<u8>,
    pub ocip_connections: Option<u8>,
    /// OCI-P: values made here from the reported rules rather than by the server's generator.
    pub ocip_local_values: bool,
    /// Time to wait for a connection; `None`: the client's default.
    pub connect_timeout: Option<Duration>,
    /// Time the login waits for an answer once connected; `None`: the client's default.
    pub first_answer_timeout: Option<Duration>,
    /// The HTTP proxy the server is reached through, if any.
    pub proxy: Option<Proxy>,
    /// Where the server and the login came from.
    pub sources: Sources,
    /// `--protocol`: what an `http(s)://` server speaks, whatever its path.
    pub protocol: Option<crate::cli::ProtocolArg>,
}

/// A proxy in use: its URL (which may hold credentials, so `Debug` and [`Proxy::shown`] hide
/// them) and the variable it came from.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Proxy {
    pub url: String,
}

impl Proxy {
    /// The URL fit to print: `user:password@` replaced.
    pub(crate) fn shown(&self) -> String {
        odin_client::redact_proxy_url(&self.url)
    }
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_tuple("Proxy").field(&self.shown()).finish()
    }
}

/// What a run already knows about its target, which the settings must agree with: a resumed run
/// goes back to the server its journal was written against.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Recorded<'a> {
    pub base_url: Option<&'a str>,
    pub username: Option<&'a str>,
    /// What the recorded `http(s)://` server speaks (journals of earlier builds do not say).
    pub protocol: Option<crate::cli::ProtocolArg>,
}

/// Combines flags, environment and file: flags beat the environment, which beats the file.
/// Pure: no IO.
pub(crate) fn resolve_connection(
    flags: &ConnectionArgs,
    environment: &Environment,
    file: &FileSettings,
    recorded: Recorded<'_>,
) -> Result<ConnectionSettings, Failure> {
    let (base_url, server_source) = resolve_server(flags, environment, file, recorded)?;
    let base_url = base_url.trim().to_owned();
    let lower = base_url.to_ascii_lowercase();
    let known_scheme = ["https://", "http://", "ocips://", "ocip://"]
        .iter()
        .any(|scheme| lower.starts_with(scheme));
    if !known_scheme {
        return Err(Failure::usage(format!(
            "server URL `{base_url}` does not start with `https://`, `ocips://` or `ocip://`"
        ))
        .with_hint("the scheme picks the protocol: `https://odin.example.net/api/v2` for the Odin API (base URL), `ocips://bw.example.net` for OCI-P over TLS (port 2209), `ocip://HOST` for plain OCI-P (port 2208)"));
    }
    let (username, username_source) = resolve_username(flags, environment, file, recorded)?;
    let mut overrides = Vec::new();
    if let (Source::Variable(variable), Some((name, value))) =
        (&server_source, profile_value(file, &["server", "base_url"]))
    {
        overrides.push(format!(
            "`{variable}` (`{base_url}`) overrides the server of profile `{name}` (`{value}`)"
        ));
    }
    if let (Source::Variable(variable), Some((name, value))) =
        (&username_source, profile_value(file, &["username"]))
    {
        overrides.push(format!(
            "`{variable}` (`{username}`) overrides the user name of profile `{name}` (`{value}`)"
        ));
    }
    let sources = Sources {
        server: server_source,
        username: username_source,
        config: file.origin.clone(),
        overrides,
    };

    let proxy = environment
        .proxy
        .proxy_for(&base_url)
        .map_err(|error| {
            Failure::usage(format!("cannot use the proxy settings: {error}")).with_hint(
                "set `HTTPS_PROXY` to an http:// proxy (`http://HOST:PORT`), or list the Odin host in `NO_PROXY` to connect directly",
            )
        })?
        .map(|url| Proxy { url });
    let seconds = |value: Option<u64>| value.map(Duration::from_secs);
    Ok(ConnectionSettings {
        base_url,
        username,
        concurrency: flags.concurrency.or(file.concurrency).map(usize::from),
        max_rate: flags.max_rate.or(file.max_rate),
        ca_cert: flags.ca_cert.clone().or_else(|| file.ca_cert.clone()),
        insecure: flags.insecure || file.insecure.unwrap_or(false),
        allow_http: flags.allow_http || file.allow_http.unwrap_or(false),
        allow_plaintext: flags.allow_plaintext || file.allow_plaintext.unwrap_or(false),
        no_connection_reuse: flags.no_connection_reuse,
        ocip_batch: flags.ocip_batch,
        ocip_connections: flags.ocip_connections,
        ocip_local_values: flags.ocip_values.or(file.ocip_values)
            == Some(crate::cli::OcipValuesArg::Local),
        connect_timeout: seconds(flags.connect_timeout.or(file.connect_timeout)),
        first_answer_timeout: seconds(flags.first_answer_timeout.or(file.first_answer_timeout)),
        proxy,
        sources,
        protocol: resolve_protocol(flags.protocol, recorded)?,
    })
}

/// `--protocol`, or for a resumed run the protocol its journal records: the same server is
/// spoken to the same way, so a flag may only repeat it.
fn resolve_protocol(
    flag: Option<crate::cli::ProtocolArg>,
    recorded: Recorded<'_>,
) -> Result<Option<crate::cli::ProtocolArg>, Failure> {
    use clap::ValueEnum as _;
    match (flag, recorded.protocol) {
        (Some(given), Some(kept)) if given != kept => {
            let name = |protocol: crate::cli::ProtocolArg| {
                protocol
                    .to_possible_value()
                    .map(|value| value.get_name().to_owned())
                    .unwrap_or_default()
            };
            Err(Failure::usage(format!(
                "`--protocol {}` differs from `{}`, the protocol the journal was written with",
                name(given),
                name(kept)
            ))
            .with_hint(
                "a journal is resumed the way its run spoke to the server: leave out `--protocol`",
            ))
        }
        (flag, kept) => Ok(kept.or(flag)),
    }
}

/// The server and where it came from: the journal's for a resumed run (a flag may only repeat
/// it), else the first of the flags, the variables and the file.
fn resolve_server(
    flags: &ConnectionArgs,
    environment: &Environment,
    file: &FileSettings,
    recorded: Recorded<'_>,
) -> Result<(String, Source), Failure> {
    let given_flag = flags
        .server
        .as_ref()
        .map(|server| ("--server", server))
        .or_else(|| {
            flags
                .base_url
                .as_ref()
                .map(|base_url| ("--base-url", base_url))
        });
    if let Some(recorded_base_url) = recorded.base_url {
        if let Some((flag, given)) = given_flag
            && normalise_url(given) != normalise_url(recorded_base_url)
        {
            return Err(Failure::usage(format!(
                "`{flag} {given}` differs from `{recorded_base_url}`, the server the journal was written against"
            ))
            .with_hint(format!("a journal can only be resumed against its own server: leave out `{flag}`")));
        }
        return Ok((recorded_base_url.to_owned(), Source::Journal));
    }
    let from_flag = given_flag.map(|(flag, given)| (given.clone(), Source::Flag(flag)));
    from_flag
        .or_else(|| {
            let variable = |value: &Option<String>, name| {
                value.clone().map(|value| (value, Source::Variable(name)))
            };
            variable(&environment.server, "BWRESET_SERVER")
                .or_else(|| variable(&environment.base_url, "ODIN_BASE_URL"))
        })
        .or_else(|| {
            file.server
                .clone()
                .map(|server| (server, file_source(file, "server")))
        })
        .or_else(|| {
            file.base_url
                .clone()
                .map(|base_url| (base_url, file_source(file, "base_url")))
        })
        .ok_or_else(|| {
            Failure::usage("no server given (an Odin base URL or an OCI-P URL)").with_hint(
                unpicked_profiles(file).unwrap_or_else(|| "give `--server https://HOST/api/v2` (Odin) or `--server ocips://HOST` (OCI-P), set `BWRESET_SERVER` (or `ODIN_BASE_URL`), or put `server` in the config file".to_owned()),
            )
        })
}

/// The user name and where it came from: a flag, a variable, the file, else the journal's.
fn resolve_username(
    flags: &ConnectionArgs,
    environment: &Environment,
    file: &FileSettings,
    recorded: Recorded<'_>,
) -> Result<(String, Source), Failure> {
    let variable = if environment.username_variable.is_empty() {
        "BWRESET_USERNAME"
    } else {
        environment.username_variable
    };
    [
        (flags.username.clone(), Source::Flag("--username")),
        (environment.username.clone(), Source::Variable(variable)),
        (file.username.clone(), file_source(file, "username")),
        (recorded.username.map(str::to_owned), Source::Journal),
    ]
    .into_iter()
    .find_map(|(value, source)| value.map(|value| (value, source)))
    .map(|(username, source)| (username.trim().to_owned(), source))
    .filter(|(username, _)| !username.is_empty())
    .ok_or_else(|| {
        Failure::usage("no user name given").with_hint(unpicked_profiles(file).unwrap_or_else(|| {
            "give `--username NAME`, set `BWRESET_USERNAME` (or `ODIN_USERNAME`), or put `username` in the config file".to_owned()
        }))
    })
}

/// Where a value the config file gave came from: the chosen profile when it sets `key`, else
/// the file's top level.
fn file_source(file: &FileSettings, key: &str) -> Source {
    match &file.origin {
        Some(ConfigOrigin {
            profile: Some(name),
            profile_keys,
            ..
        }) if profile_keys.contains(&key) => Source::Profile(name.clone()),
        _ => Source::ConfigFile,
    }
}

/// The chosen profile's name and its value for the first of `keys` it sets itself, if any.
fn profile_value(file: &FileSettings, keys: &[&str]) -> Option<(String, String)> {
    let origin = file.origin.as_ref()?;
    let name = origin.profile.clone()?;
    let key = keys.iter().find(|key| origin.profile_keys.contains(key))?;
    let value = match *key {
        "server" => file.server.clone(),
        "base_url" => file.base_url.clone(),
        "username" => file.username.clone(),
        _ => None,
    }?;
    Some((name, value))
}

/// Where a connection setting came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Source {
    /// A command-line flag, by name (`--server`).
    Flag(&'static str),
    /// An environment variable, by name (`BWRESET_SERVER`).
    Variable(&'static str),
    /// The chosen profile of the config file, by name.
    Profile(String),
    /// The config file's top level.
    ConfigFile,
    /// The journal of the run being resumed.
    Journal,
}

impl std::fmt::Display for Source {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Flag(flag) => write!(formatter, "flag `{flag}`"),
            Source::Variable(variable) => write!(formatter, "variable `{variable}`"),
            Source::Profile(name) => write!(formatter, "profile `{name}`"),
            Source::ConfigFile => formatter.write_str("config file"),
            Source::Journal => formatter.write_str("journal"),
        }
    }
}

/// Where the server and the login came from, the config file in use, and the values of the
/// chosen profile that an environment variable overrode (one sentence each).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Sources {
    pub server: Source,
    pub username: Source,
    pub config: Option<ConfigOrigin>,
    pub overrides: Vec<String>,
}

impl Sources {
    /// The config file in use and its profile, as one phrase.
    pub(crate) fn config_phrase(&self) -> String {
        match &self.config {
            None => "none".to_owned(),
            Some(origin) => match &origin.profile {
                Some(name) => format!("`{}`, profile `{name}`", origin.path.display()),
                None => format!("`{}` (no profile chosen)", origin.path.display()),
            },
        }
    }
}

/// The confirmation's lines saying where the settings came from, each starting with a newline:
/// the config file and profile, the source of the server and of the login, and every value of
/// the chosen profile a variable overrode.
pub(crate) fn describe_sources(connection: &ConnectionSettings) -> String {
    let sources = &connection.sources;
    let mut lines = format!(
        "\n  settings:         server from {}, login from {}\n  config file:      {}",
        sources.server,
        sources.username,
        sources.config_phrase()
    );
    for sentence in &sources.overrides {
        lines.push_str(&format!("\n  WARNING:          {sentence}"));
    }
    lines
}

/// Says on stderr, before the password is asked for and before anything is sent, which values
/// of the chosen profile an environment variable overrode: a variable left from an earlier
/// `export` must not silently send the run to another server.
#[expect(clippy::print_stderr, reason = "a warning to the operator")]
fn warn_about_overrides(settings: &ConnectionSettings) {
    for sentence in &settings.sources.overrides {
        eprintln!(
            "warning: {sentence}; unset the variable (or give the flag) if that is not what you meant"
        );
    }
}

/// When a setting is missing and the config file has profiles but none was chosen: the hint
/// that names them and says how to pick one.
fn unpicked_profiles(file: &FileSettings) -> Option<String> {
    let origin = file.origin.as_ref()?;
    if origin.profile.is_some() || origin.profiles.is_empty() {
        return None;
    }
    let names: Vec<String> = origin
        .profiles
        .iter()
        .map(|name| format!("`{name}`"))
        .collect();
    Some(format!(
        "config file `{}` defines the profile(s) {}, and none was chosen: pick one with `--profile NAME` (or set `BWRESET_PROFILE`)",
        origin.path.display(),
        names.join(", ")
    ))
}

fn normalise_url(url: &str) -> &str {
    url.trim().trim_end_matches('/')
}

/// The password: `BWRESET_PASSWORD` (or `ODIN_PASSWORD`), else a hidden prompt when there is a terminal to ask on.
/// Every command calls it once its settings are resolved and before it sends anything, so it is
/// also where a profile's value overridden by a variable is announced (see
/// [`warn_about_overrides`]), before the operator types a password for the wrong server.
pub(crate) fn obtain_password(
    environment: &mut Environment,
    settings: &ConnectionSettings,
) -> anyhow::Result<SecretString> {
    warn_about_overrides(settings);
    if let Some(password) = environment.password.take() {
        return Ok(password);
    }
    if !std::io::stdin().is_terminal() {
        return Err(Failure::usage(
            "no password: `BWRESET_PASSWORD` (or `ODIN_PASSWORD`) is not set and there is no terminal to ask on",
        )
        .with_hint("set `BWRESET_PASSWORD` (or `ODIN_PASSWORD`) in the environment (never on the command line)")
        .into());
    }
    let prompt = format!(
        "password for `{}` at `{}`: ",
        settings.username, settings.base_url
    );
    let password = rpassword::prompt_password(prompt)
        .map_err(|error| Failure::usage(format!("could not read the password: {error}")))?;
    if password.is_empty() {
        return Err(Failure::usage("empty password").into());
    }
    Ok(SecretString::from(password))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags() -> ConnectionArgs {
        ConnectionArgs::default()
    }

    fn environment() -> Environment {
        Environment::default()
    }

    fn file(text: &str, profile: Option<&str>) -> Result<FileSettings, Failure> {
        parse_config_file(text, Path::new("/etc/bwreset/config.toml"), profile)
    }

    #[test]
    fn flags_beat_environment_beat_file() {
        let file_settings = file(
            "base_url = \"https://file.example/api/v2\"\nusername = \"file-user\"\nconcurrency = 4\n",
            None,
        )
        .expect("parses");
        let mut environment = environment();
        let mut flags = flags();

        let resolved =
            resolve_connection(&flags, &environment, &file_settings, Recorded::default())
                .expect("resolves");
        assert_eq!(resolved.base_url, "https://file.example/api/v2");
        assert_eq!(resolved.username, "file-user");
        assert_eq!(resolved.concurrency, Some(4));

        environment.base_url = Some("https://env.example/api/v2".into());
        environment.username = Some("env-user".into());
        let resolved =
            resolve_connection(&flags, &environment, &file_settings, Recorded::default())
                .expect("resolves");
        assert_eq!(resolved.base_url, "https://env.example/api/v2");
        assert_eq!(resolved.username, "env-user");

        flags.base_url = Some("https://flag.example/api/v2".into());
        flags.username = Some("flag-user".into());
        flags.concurrency = Some(9);
        let resolved =
            resolve_connection(&flags, &environment, &file_settings, Recorded::default())
                .expect("resolves");
        assert_eq!(resolved.base_url, "https://flag.example/api/v2");
        assert_eq!(resolved.username, "flag-user");
        assert_eq!(resolved.concurrency, Some(9));
    }

    #[test]
    fn the_devices_key_is_read_from_the_file_and_a_profile() {
        use crate::cli::DevicesArg;
        let text = "devices = \"rebuild\"\n[profiles.prod]\ndevices = \"reset\"\n";
        assert_eq!(
            file(text, None).expect("parses").devices,
            Some(DevicesArg::Rebuild)
        );
        assert_eq!(
            file(text, Some("prod")).expect("parses").devices,
            Some(DevicesArg::Reset)
        );
        let refusal = file("devices = \"reboot\"\n", None)
            .expect_err("refused")
            .to_string();
        assert!(
            refusal.contains("devices") || refusal.contains("reboot"),
            "{refusal}"
        );
    }

    #[test]
    fn a_missing_base_url_or_username_says_where_to_put_it() {
        let error = resolve_connection(
            &flags(),
            &environment(),
            &FileSettings::default(),
            Recorded::default(),
        )
        .expect_err("no base URL");
        assert!(error.to_string().contains("base URL"));

        let mut flags = flags();
        flags.base_url = Some("https://odin.example/api/v2".into());
        let error = resolve_connection(
            &flags,
            &environment(),
            &FileSettings::default(),
            Recorded::default(),
        )
        .expect_err("no user name");
        assert!(error.to_string().contains("user name"));
    }

    #[test]
    fn the_server_setting_beats_the_odin_names_at_every_layer() {
        let file_settings = file(
            "base_url = \"https://file.example/api/v2\"\nserver = \"ocips://file.example\"\nusername = \"u\"\nallow_plaintext = true\n",
            None,
        )
        .expect("parses");
        let resolved = resolve_connection(
            &flags(),
            &environment(),
            &file_settings,
            Recorded::default(),
        )
        .expect("resolves");
        assert_eq!(resolved.base_url, "ocips://file.example");
        assert!(resolved.allow_plaintext);

        let mut environment = environment();
        environment.base_url = Some("https://env.example/api/v2".into());
        let resolved =
            resolve_connection(&flags(), &environment, &file_settings, Recorded::default())
                .expect("resolves");
        assert_eq!(resolved.base_url, "https://env.example/api/v2");
        environment.server = Some("ocip://127.0.0.1".into());
        let resolved =
            resolve_connection(&flags(), &environment, &file_settings, Recorded::default())
                .expect("resolves");
        assert_eq!(resolved.base_url, "ocip://127.0.0.1");

        let mut flags = flags();
        flags.server = Some("ocips://flag.example:3000".into());
        let resolved =
            resolve_connection(&flags, &environment, &file_settings, Recorded::default())
                .expect("resolves");
        assert_eq!(resolved.base_url, "ocips://flag.example:3000");

        // A resumed run keeps its recorded server whichever flag names another.
        let recorded = Recorded {
            base_url: Some("ocips://journal.example:2209"),
            username: Some("u"),
            protocol: None,
        };
        let error = resolve_connection(&flags, &environment, &file_settings, recorded)
            .expect_err("another server");
        assert!(error.to_string().contains("`--server"), "{error}");
    }

    #[test]
    fn a_resumed_run_speaks_the_protocol_its_journal_records() {
        use crate::cli::ProtocolArg;
        let recorded = Recorded {
            base_url: Some("https://front.example/bw/ocip"),
            username: Some("u"),
            protocol: Some(ProtocolArg::OcipSoap),
        };
        let resolve = |flag: Option<ProtocolArg>, recorded: Recorded<'_>| {
            let mut flags = flags();
            flags.protocol = flag;
            resolve_connection(&flags, &environment(), &FileSettings::default(), recorded)
        };
        for flag in [None, Some(ProtocolArg::OcipSoap)] {
            let resolved = resolve(flag, recorded).expect("resolves");
            assert_eq!(resolved.protocol, Some(ProtocolArg::OcipSoap));
            assert_eq!(
                crate::backend::protocol_of(&resolved),
                crate::backend::Protocol::OcipSoap
            );
        }
        let error = resolve(Some(ProtocolArg::Odin), recorded).expect_err("another protocol");
        assert_eq!(error.kind(), crate::errors::FailureKind::Usage);
        assert!(
            error
                .to_string()
                .contains("`--protocol odin` differs from `ocip-soap`"),
            "{error}"
        );
        // A journal of an earlier build records none: the flag (or the path) says.
        let older = Recorded {
            protocol: None,
            ..recorded
        };
        let resolved = resolve(Some(ProtocolArg::OcipSoap), older).expect("resolves");
        assert_eq!(resolved.protocol, Some(ProtocolArg::OcipSoap));
        assert_eq!(resolve(None, older).expect("resolves").protocol, None);
    }

    #[test]
    fn a_base_url_without_a_scheme_is_refused() {
        let mut flags = flags();
        flags.base_url = Some("odin.example/api/v2".into());
        flags.username = Some("u".into());
        let error = resolve_connection(
            &flags,
            &environment(),
            &FileSettings::default(),
            Recorded::default(),
        )
        .expect_err("no scheme");
        assert_eq!(error.kind(), crate::errors::FailureKind::Usage);
    }

    #[test]
    fn a_resumed_run_keeps_its_recorded_server() {
        let mut environment = environment();
        environment.base_url = Some("https://other.example/api/v2".into());
        let recorded = Recorded {
            base_url: Some("https://journal.example/api/v2"),
            username: Some("journal-user"),
            protocol: None,
        };
        let resolved =
            resolve_connection(&flags(), &environment, &FileSettings::default(), recorded)
                .expect("resolves");
        assert_eq!(resolved.base_url, "https://journal.example/api/v2");
        assert_eq!(resolved.username, "journal-user");

        let mut flags = flags();
        flags.base_url = Some("https://journal.example/api/v2/".into());
        assert!(
            resolve_connection(&flags, &environment, &FileSettings::default(), recorded).is_ok()
        );
        flags.base_url = Some("https://other.example/api/v2".into());
        assert!(
            resolve_connection(&flags, &environment, &FileSettings::default(), recorded).is_err()
        );
    }

    #[test]
    fn a_profile_overlays_the_top_level_settings() {
        let text = "
username = \"everyone\"
base_url = \"https://default.example/api/v2\"

[profiles.lab]
base_url = \"https://lab.example/api/v2\"
ca_cert = \"lab-ca.pem\"
";
        let lab = file(text, Some("lab")).expect("parses");
        assert_eq!(lab.base_url.as_deref(), Some("https://lab.example/api/v2"));
        assert_eq!(lab.username.as_deref(), Some("everyone"));
        assert_eq!(lab.ca_cert, Some(PathBuf::from("/etc/bwreset/lab-ca.pem")));

        let top = file(text, None).expect("parses");
        assert_eq!(
            top.base_url.as_deref(),
            Some("https://default.example/api/v2")
        );

        let error = file(text, Some("prod")).expect_err("no such profile");
        assert!(error.to_string().contains("`prod`"));
    }

    #[test]
    fn a_password_in_the_config_file_is_refused() {
        let error = file("password = \"hunter2\"\n", None).expect_err("password");
        assert!(error.to_string().contains("holds a password"));
        assert!(!error.to_string().contains("hunter2"));
        let error =
            file("[profiles.lab]\npassword = \"hunter2\"\n", Some("lab")).expect_err("password");
        assert!(error.to_string().contains("profile `lab`"));
    }

    #[test]
    fn timeouts_come_from_flags_else_the_file() {
        let file_settings = file(
            "base_url = \"https://odin.example/api/v2\"\nusername = \"u\"\nconnect_timeout = 4\nfirst_answer_timeout = 20\n",
            None,
        )
        .expect("parses");
        let mut flags = flags();
        let resolved =
            resolve_connection(&flags, &environment(), &file_settings, Recorded::default())
                .expect("resolves");
        assert_eq!(resolved.connect_timeout, Some(Duration::from_secs(4)));
        assert_eq!(resolved.first_answer_timeout, Some(Duration::from_secs(20)));
        flags.first_answer_timeout = Some(3);
        let resolved =
            resolve_connection(&flags, &environment(), &file_settings, Recorded::default())
                .expect("resolves");
        assert_eq!(resolved.first_answer_timeout, Some(Duration::from_secs(3)));
        let none = resolve_connection(
            &flags_for("https://odin.example/api/v2"),
            &environment(),
            &FileSettings::default(),
            Recorded::default(),
        )
        .expect("resolves");
        assert_eq!(
            (none.connect_timeout, none.first_answer_timeout),
            (None, None)
        );
    }

    fn flags_for(base_url: &str) -> ConnectionArgs {
        ConnectionArgs {
            base_url: Some(base_url.into()),
            username: Some("u".into()),
            ..ConnectionArgs::default()
        }
    }

    fn with_proxy(pairs: &[(&'static str, &'static str)]) -> Environment {
        let pairs = pairs.to_vec();
        Environment {
            proxy: ProxyVariables::from_lookup(|name| {
                pairs
                    .iter()
                    .find(|(key, _)| *key == name)
                    .map(|(_, value)| (*value).to_owned())
            }),
            ..Environment::default()
        }
    }

    #[test]
    fn the_proxy_is_resolved_for_the_base_url_and_never_shown_with_its_password() {
        let environment = with_proxy(&[("HTTPS_PROXY", "http://ops:Pr0xy-pw@proxy.corp:3128")]);
        let resolved = resolve_connection(
            &flags_for("https://odin.example/api/v2"),
            &environment,
            &FileSettings::default(),
            Recorded::default(),
        )
        .expect("resolves");
        let proxy = resolved.proxy.expect("a proxy");
        assert_eq!(proxy.url, "http://ops:Pr0xy-pw@proxy.corp:3128");
        assert_eq!(proxy.shown(), "http://[redacted]@proxy.corp:3128");
        assert!(!format!("{proxy:?}").contains("Pr0xy-pw"));

        let loopback = resolve_connection(
            &flags_for("https://127.0.0.1:8443/api/v2"),
            &environment,
            &FileSettings::default(),
            Recorded::default(),
        )
        .expect("resolves");
        assert_eq!(loopback.proxy, None);

        let socks = with_proxy(&[("HTTPS_PROXY", "socks5h://proxy.corp:1080")]);
        let error = resolve_connection(
            &flags_for("https://odin.example/api/v2"),
            &socks,
            &FileSettings::default(),
            Recorded::default(),
        )
        .expect_err("socks is refused");
        assert_eq!(error.kind(), crate::errors::FailureKind::Usage);
        assert!(error.to_string().contains("socks5h"), "{error}");
    }

    #[test]
    fn unknown_keys_and_bad_toml_are_refused() {
        assert!(file("base_urll = \"x\"\n", None).is_err());
        assert!(file("base_url = \n", None).is_err());
    }

    #[test]
    fn an_unknown_key_names_the_known_ones_but_never_password() {
        for (text, place) in [
            ("base_urll = \"x\"\n", "unknown key `base_urll`"),
            (
                "[profiles.lab]\nusername = \"u\"\nserverr = \"x\"\n",
                "profile `lab`: unknown key `serverr`",
            ),
        ] {
            let error = file(text, None).expect_err("unknown key");
            assert!(error.to_string().contains(place), "{error}");
            let hint = error.hint().expect("a hint");
            assert!(
                hint.contains("`base_url`") && hint.contains("`ocip_values`"),
                "{hint}"
            );
            assert!(!hint.contains("password"), "{hint}");
        }
    }

    #[test]
    fn each_source_is_named_and_a_variable_over_a_profile_is_an_override() {
        let text = "username = \"top\"\n[profiles.prod]\nserver = \"ocips://prod.example\"\n";
        let prod = file(text, Some("prod")).expect("parses");
        let resolved = resolve_connection(&flags(), &environment(), &prod, Recorded::default())
            .expect("resolves");
        assert_eq!(resolved.sources.server, Source::Profile("prod".into()));
        assert_eq!(resolved.sources.username, Source::ConfigFile);
        assert!(resolved.sources.overrides.is_empty());
        assert!(describe_sources(&resolved).contains("profile `prod`"));

        let mut environment = environment();
        environment.server = Some("ocip://127.0.0.1".into());
        environment.username = Some("env-user".into());
        environment.username_variable = "ODIN_USERNAME";
        let resolved = resolve_connection(&flags(), &environment, &prod, Recorded::default())
            .expect("resolves");
        assert_eq!(resolved.sources.server, Source::Variable("BWRESET_SERVER"));
        assert_eq!(resolved.sources.username, Source::Variable("ODIN_USERNAME"));
        // The profile set the server, not the user name (the top level did).
        assert_eq!(
            resolved.sources.overrides.len(),
            1,
            "{:?}",
            resolved.sources
        );
        assert!(resolved.sources.overrides[0].contains("`BWRESET_SERVER`"));
        assert!(resolved.sources.overrides[0].contains("`ocips://prod.example`"));

        // A flag is explicit: no warning.
        let mut flags = flags();
        flags.server = Some("ocip://127.0.0.2".into());
        let resolved =
            resolve_connection(&flags, &environment, &prod, Recorded::default()).expect("resolves");
        assert_eq!(resolved.sources.server, Source::Flag("--server"));
        assert!(resolved.sources.overrides.is_empty());
    }

    #[test]
    fn a_missing_server_names_the_profiles_of_the_file() {
        let text = "[profiles.lab]\nserver = \"ocip://127.0.0.1\"\n[profiles.prod]\nserver = \"ocips://bw.example\"\n";
        let file_settings = file(text, None).expect("parses");
        let error = resolve_connection(
            &flags(),
            &environment(),
            &file_settings,
            Recorded::default(),
        )
        .expect_err("no server");
        let hint = error.hint().expect("a hint");
        assert!(hint.contains("`lab`, `prod`"), "{hint}");
        assert!(hint.contains("--profile"), "{hint}");
        // With a profile chosen, the ordinary hint.
        let mut lab = file(text, Some("lab")).expect("parses");
        lab.server = None;
        let error = resolve_connection(&flags(), &environment(), &lab, Recorded::default())
            .expect_err("no server");
        assert!(!error.hint().unwrap_or_default().contains("`prod`"));
    }
}
