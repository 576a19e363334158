//! The command line: every subcommand, flag and help text, with the examples `--help` shows.
//!
//! Only clap types live here; what the flags mean once combined with the environment and the
//! config file is decided in `settings`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

// The headings of `reset --help` and `resume --help`: the flags in the groups an operator looks
// for, in this order (clap orders headings by their first flag).
/// What is reset, and whose.
const TARGETS: &str = "Targets";
/// Where the results go.
const OUTPUT: &str = "Output";
/// The journal a resume finishes.
const JOURNAL: &str = "Journal";
/// What guards against a mistake: the dry run and the question.
const SAFETY: &str = "Safety";
/// The device follow-up of a SIP reset.
const PHONES: &str = "Phones (SIP only)";
/// How to reach and log in to the server.
const CONNECTION: &str = "Connection";

/// The exit codes, shown at the end of `--help`; one text so that every page says the same.
macro_rules! exit_codes {
    () => {
        "Exit codes:
  0  every user was set (with --devices: and every phone action succeeded)
  1  some users failed or are uncertain (see the failures file), a phone action did not
     succeed (see <out>.devices.csv), or the run stopped
     part-way (server down, Ctrl-C); `bwreset resume --journal FILE` finishes it
  2  bad arguments or input; nothing was changed
  3  could not start (login refused, server unreachable); nothing was changed"
    };
}

const MAIN_AFTER_HELP: &str = concat!(
    "\
Try it first without a server:
  bwreset demo

Reset the SIP passwords of the users listed in users.txt:
  export ODIN_BASE_URL=https://odin.example.net/api/v2 ODIN_USERNAME=ops-admin
  bwreset reset --type sip --service-provider acme-sp --group acme-hq \\
      --users-file users.txt --out sip-passwords.json

",
    exit_codes!()
);

const RESET_AFTER_HELP: &str = concat!(
    "\
Examples:
  # SIP passwords of the users in users.txt (one userId per line, or CSV with a userId column)
  bwreset reset --type sip --service-provider acme-sp --group acme-hq \\
      --users-file users.txt --out sip-passwords.json

  # voicemail passcodes of two users, as CSV
  bwreset reset --type vm --service-provider acme-sp --group acme-hq \\
      --user alice@acme.example --user bob@acme.example --out passcodes.csv

  # see what a web-password reset of the whole group would do, changing nothing
  bwreset reset --type web --service-provider acme-sp --group acme-hq --all-users --dry-run

  # users across groups and service providers, from a CSV file with the columns
  # serviceProviderId,groupId,userId
  bwreset reset --type sip --targets targets.csv --out sip-passwords.json

  # every user of every group of a service provider (or enterprise)
  bwreset reset --type vm --service-provider acme-sp --all-groups --out passcodes.csv

The password is read from `ODIN_PASSWORD` or, on a terminal, asked for; it is never a flag.
Users that fail go to `<out>.failed.csv`, which can be given back as `--users-file` (or, for a
run across groups, as `--targets`).
The journal (`<out>.journal` unless `--journal` says otherwise) lets `bwreset resume` finish
an interrupted run; it holds the new values, so keep it as safe as the output.

  # encrypted with age: neither the output nor the journal holds a value in clear
  bwreset reset --type sip --service-provider acme-sp --group acme-hq \\
      --users-file users.txt --out sip-passwords.json.age --encrypt-to age1...
  age -d -i key.txt sip-passwords.json.age

",
    exit_codes!()
);

const RESUME_AFTER_HELP: &str = concat!(
    "\
Example:
  # the reset of sip-passwords.json was interrupted (or some users are uncertain): finish it
  bwreset resume --journal sip-passwords.json.journal

  # the same for a reset with `--encrypt-to`: the identity opens the journal's values
  bwreset resume --journal sip-passwords.json.age.journal --identity key.txt

The output, the failures file and the audit record are written again, as a clean run would have
written them; the target and the base URL come from the journal.

",
    exit_codes!()
);

const CHECK_AFTER_HELP: &str = "\
Example:
  # before the first real run: is everything in place to reset group acme-hq?
  bwreset check --service-provider acme-sp --group acme-hq

Resolves the settings as `reset` would, connects, shows the server's TLS certificate (subject,
issuer, expiry), logs in, lists the group if one is given, logs out, and says on one screen what
works and what to fix. Nothing is changed and no value is generated.

Exit codes:
  0  everything works
  2  bad arguments or settings
  3  something does not work (see the lines marked `FAIL`)";

const DEMO_AFTER_HELP: &str = "\
Example:
  bwreset demo

Starts a simulated Odin server on a free loopback port, resets the SIP passwords of a few of its
users with the same code as `bwreset reset`, and explains what happened. Needs no configuration.";

const COMPLETIONS_AFTER_HELP: &str = "\
Example:
  bwreset completions bash > ~/.local/share/bash-completion/completions/bwreset";

/// Reset SIP passwords, voicemail passcodes or web passwords in bulk on Cisco BroadWorks,
/// through the Odin API or OCI-P.
#[derive(Debug, Parser)]
#[command(name = "bwreset", version, after_help = MAIN_AFTER_HELP)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// Show what bwreset and its libraries do on stderr (debug log lines, never a secret);
    /// `RUST_LOG` chooses other levels
    #[arg(long, short = 'v', global = true)]
    pub verbose: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Reset the credentials of some users, of every user of a group, or of users across groups
    /// and service providers
    #[command(after_help = RESET_AFTER_HELP)]
    Reset(ResetArgs),
    /// Finish an interrupted or partly failed reset from its journal
    #[command(after_help = RESUME_AFTER_HELP)]
    Resume(ResumeArgs),
    /// Check the settings and the server, changing nothing: connection, TLS certificate, login,
    /// one group listing
    #[command(after_help = CHECK_AFTER_HELP)]
    Check(CheckArgs),
    /// Run a reset end to end against a built-in simulator, with no configuration
    #[command(after_help = DEMO_AFTER_HELP)]
    Demo(DemoArgs),
    /// Print a shell completion script on stdout
    #[command(after_help = COMPLETIONS_AFTER_HELP)]
    Completions(CompletionsArgs),
}

/// Which credential to reset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "lower")]
pub(crate) enum PasswordTypeArg {
    /// SIP authentication password (the phone's registration password)
    Sip,
    /// Voice portal passcode (voicemail)
    #[value(alias = "voicemail")]
    Vm,
    /// Web portal password
    Web,
}

/// The output file's format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[value(rename_all = "lower")]
#[serde(rename_all = "lowercase")]
pub(crate) enum OutputFormat {
    /// A JSON array of {"userId", "newPassword"} (or "newPasscode")
    Json,
    /// CSV with the columns userId,newPassword (or newPasscode)
    Csv,
}

#[derive(Debug, Args)]
pub(crate) struct ResetArgs {
    /// Which credential to reset
    #[arg(long = "type", value_name = "TYPE", ignore_case = true, help_heading = TARGETS)]
    pub password_type: PasswordTypeArg,

    /// The service provider (or enterprise) the group belongs to; with `--all-groups`, the one
    /// whose groups are all reset
    #[arg(
        long,
        value_name = "ID",
        help_heading = TARGETS,
        required_unless_present = "targets",
        conflicts_with = "targets"
    )]
    pub service_provider: Option<String>,

    /// The group whose users are reset
    #[arg(
        long,
        value_name = "ID",
        help_heading = TARGETS,
        required_unless_present_any = ["targets", "all_groups"],
        conflicts_with_all = ["targets", "all_groups"]
    )]
    pub group: Option<String>,

    #[command(flatten)]
    pub targets: TargetArgs,

    /// SIP only: give each user a new SIP authentication user name together with the new
    /// password (after toll fraud: both halves of the credential). Every phone of these users
    /// stops registering until its configuration is rebuilt and it is reset (`--devices reset`)
    /// [config file key `new_user_names`]
    #[arg(long, help_heading = TARGETS, overrides_with = "no_new_user_names")]
    pub new_user_names: bool,

    /// The password alone, whatever the config file's `new_user_names` says
    #[arg(long, help_heading = TARGETS, overrides_with = "new_user_names")]
    pub no_new_user_names: bool,

    /// The form of the new user names: `{random}` (12 lowercase letters and digits, the
    /// default) or `{random:N}` (N of them, at least 8), with `{local}` and `{domain}` (the
    /// user ID's parts), letters, digits, `.`, `-` and `_` around it; at most 80 characters
    /// [config file key `user_name_template`]
    #[arg(long, value_name = "TEMPLATE", help_heading = TARGETS)]
    pub user_name_template: Option<String>,

    /// Where the new credentials go (created with mode 0600, never overwritten); `-` for stdout
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "dry_run",
        help_heading = OUTPUT
    )]
    pub out: Option<PathBuf>,

    /// Output format [default: csv if --out ends in .csv, else json]
    #[arg(long, value_enum, value_name = "FORMAT", help_heading = OUTPUT)]
    pub format: Option<OutputFormat>,

    /// The journal that makes the run resumable [default: <out>.journal]
    #[arg(long, value_name = "FILE", help_heading = OUTPUT)]
    pub journal: Option<PathBuf>,

    /// Encrypt the output and the journal's values with age to this recipient (`age1...`;
    /// repeat for several), so that no new credential is written in clear. Decrypt the output
    /// with `age -d -i KEY FILE`; `resume` needs `--identity KEY`. Needs a build with the
    /// `encrypt` feature
    #[arg(long = "encrypt-to", value_name = "RECIPIENT", help_heading = OUTPUT)]
    pub encrypt_to: Vec<String>,

    /// Log in and check every user on its own (existence, group, and for SIP the
    /// Authentication service), print what would be done, change nothing. A real run checks
    /// less up front: membership from one listing per group, the rest from each setter's
    /// answer (one request per user)
    #[arg(long, help_heading = SAFETY)]
    pub dry_run: bool,

    /// Do not ask for confirmation (needed when not on a terminal)
    #[arg(long, short = 'y', help_heading = SAFETY)]
    pub yes: bool,

    #[command(flatten)]
    pub devices: DeviceArgs,

    #[command(flatten)]
    pub connection: ConnectionArgs,
}

/// The device follow-up of a SIP reset.
#[derive(Clone, Debug, Default, Args)]
#[command(next_help_heading = PHONES)]
pub(crate) struct DeviceArgs {
    /// After a SIP reset, rebuild the configuration files of the phones of the users set, and
    /// with `reset` also reset them and wait until they register again [default: none; config
    /// file key `devices`]
    #[arg(long, value_enum, value_name = "WHAT", ignore_case = true)]
    pub(crate) devices: Option<DevicesArg>,

    /// Phones reset per second, at most [default: 10]
    #[arg(long, value_name = "R", value_parser = parse_device_rate)]
    pub(crate) reset_rate: Option<f64>,

    /// Seconds to wait for reset phones to register again; 0 does not check [default: 180]
    #[arg(long, value_name = "SECONDS")]
    pub(crate) registration_timeout: Option<u64>,
}

/// What to do with the phones after a SIP reset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[value(rename_all = "lower")]
#[serde(rename_all = "lowercase")]
pub(crate) enum DevicesArg {
    /// Leave the phones alone (they keep the old password until rebuilt and reset)
    None,
    /// Rebuild their configuration files only
    Rebuild,
    /// Rebuild, reset, and wait until they register again
    Reset,
}

/// Where the new values of an OCI-P run come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[value(rename_all = "lower")]
#[serde(rename_all = "lowercase")]
pub(crate) enum OcipValuesArg {
    /// The server's generator (`PasswordGenerateRequest`), where the server has it
    Server,
    /// Made by bwreset from the rules the server reports
    Local,
}

/// The protocol a server URL speaks, when its path does not say (a front end that rewrites it).
/// Kept in the journal's header (`meta.protocol`, the same words) so that `resume` speaks it too.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[value(rename_all = "kebab-case")]
#[serde(rename_all = "kebab-case")]
pub(crate) enum ProtocolArg {
    /// The Odin API (`https://HOST/api/v2`)
    Odin,
    /// OCI-P over SOAP, the provisioning web service
    /// (`https://HOST/webservice/services/ProvisioningService`)
    OcipSoap,
}

fn parse_device_rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(rate) if rate.is_finite() && rate >= 0.01 => Ok(rate),
        _ => Err(format!(
            "`{text}` is not a number of phones per second of at least 0.01"
        )),
    }
}

/// Exactly one way of naming the users.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
#[command(next_help_heading = TARGETS)]
pub(crate) struct TargetArgs {
    /// A file of user IDs: one per line, or CSV with a `userId` column
    #[arg(long, value_name = "FILE")]
    pub users_file: Option<PathBuf>,

    /// A user ID (repeat the flag for several users)
    #[arg(long = "user", value_name = "ID")]
    pub users: Vec<String>,

    /// Every user of the group
    #[arg(long)]
    pub all_users: bool,

    /// Users across groups and service providers: a CSV file whose header names the columns
    /// `serviceProviderId`, `groupId` and `userId` (any order; other columns ignored). Replaces
    /// `--service-provider` and `--group`
    #[arg(long, value_name = "FILE")]
    pub targets: Option<PathBuf>,

    /// Every user of every group of `--service-provider`
    #[arg(long, requires = "service_provider")]
    pub all_groups: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ResumeArgs {
    /// The journal of the run to finish
    #[arg(long, value_name = "FILE", help_heading = JOURNAL)]
    pub journal: PathBuf,

    /// The age identity file (`AGE-SECRET-KEY-1...`, as `age-keygen` writes it) that opens the
    /// journal of a reset run with `--encrypt-to`
    #[arg(long, value_name = "FILE", help_heading = JOURNAL)]
    pub identity: Option<PathBuf>,

    /// Do not ask for confirmation (needed when not on a terminal)
    #[arg(long, short = 'y', help_heading = SAFETY)]
    pub yes: bool,

    /// Show what the journal holds (users set, failed, never started, uncertain; which files
    /// exist) and change nothing: no login, no request
    #[arg(long, help_heading = SAFETY, conflicts_with = "files_only")]
    pub dry_run: bool,

    /// Write the output, the failures file and the audit record from what the journal holds,
    /// and stop: no login, no request (for a run stopped on purpose)
    #[arg(long, help_heading = SAFETY)]
    pub files_only: bool,

    /// The device follow-up, for a SIP run that had none or to change its pacing [default:
    /// the run's own]
    #[command(flatten)]
    pub devices: DeviceArgs,

    /// Reset once more the phones that were reset and did not register again (only those),
    /// and wait for them; without it `resume` only checks them again
    #[arg(long, help_heading = PHONES)]
    pub reset_unregistered: bool,

    #[command(flatten)]
    pub connection: ConnectionArgs,
}

/// How to reach and log in to Odin, and how hard to push it.
///
/// The environment variables named in the help are read by `settings.rs` as a layer of their
/// own (flags, then environment, then config file), not by clap: clap's `env` feature is off,
/// and the help names them by hand.
#[derive(Clone, Debug, Default, Args)]
#[command(next_help_heading = CONNECTION)]
pub(crate) struct ConnectionArgs {
    /// The server, whose scheme picks the protocol: `https://HOST/api/v2` (Odin),
    /// `ocips://HOST[:2209]` (OCI-P over TLS) or `ocip://HOST[:2208]` (plain OCI-P)
    /// [env: BWRESET_SERVER]
    #[arg(long, value_name = "URL", conflicts_with = "base_url")]
    pub server: Option<String>,

    /// Odin API base URL, ending in /api/v2 (the same as `--server`) [env: ODIN_BASE_URL]
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,

    /// User name to log in with [env: BWRESET_USERNAME, ODIN_USERNAME]; the password comes
    /// from `BWRESET_PASSWORD` (or `ODIN_PASSWORD`) or a prompt
    #[arg(long, value_name = "NAME")]
    pub username: Option<String>,

    /// Profile of the config file to use [env: BWRESET_PROFILE]
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,

    /// Config file [env: BWRESET_CONFIG] [default: <config dir>/bwreset/config.toml]
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Users processed at the same time [default: 16]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: Option<u16>,

    /// At most this many requests per second
    #[arg(long, value_name = "R", value_parser = parse_rate)]
    pub max_rate: Option<f64>,

    /// Trust this CA certificate (PEM) for the server's TLS certificate
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,

    /// Do not verify the server's TLS certificate (dangerous: anyone on the path can read the
    /// new credentials)
    #[arg(long)]
    pub insecure: bool,

    /// Allow plain http:// to a host other than loopback (the credentials travel in clear)
    #[arg(long)]
    pub allow_http: bool,

    /// Allow plain `ocip://` to a host other than loopback (the login and every new value
    /// travel in clear)
    #[arg(long)]
    pub allow_plaintext: bool,

    /// Seconds to wait for a connection (and its TLS handshake) before giving up [default: 10]
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=600))]
    pub connect_timeout: Option<u64>,

    /// Seconds the login waits for the server's answer, counted from sending it [default: 15,
    /// and never less than --connect-timeout]. A server that stays silent this long is reported
    /// at once instead of being tried again
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=600))]
    pub first_answer_timeout: Option<u64>,

    /// Open a new connection for every request (the benchmark's baseline; never faster)
    #[arg(long, hide = true)]
    pub no_connection_reuse: bool,

    /// OCI-P: the most commands in one document (the benchmark's comparison; default 15)
    #[arg(long, hide = true, value_name = "N", value_parser = clap::value_parser!(u8).range(1..=15))]
    pub ocip_batch: Option<u8>,

    /// OCI-P: the most connections, each logged in (default: `--concurrency`, at most 64)
    #[arg(long, hide = true, value_name = "N", value_parser = clap::value_parser!(u8).range(1..=64))]
    pub ocip_connections: Option<u8>,

    /// OCI-P: where new values come from: `server` (PasswordGenerateRequest, one command per
    /// user; values made here from the reported rules on a release without it) or `local` (made
    /// here from the rules the server reports: half the commands; the server still judges each
    /// value) [default: server]
    #[arg(long, value_enum, value_name = "FROM")]
    pub ocip_values: Option<OcipValuesArg>,

    /// What an `http(s)://` server speaks, whatever its path says: `odin` or `ocip-soap` (for a
    /// front end that rewrites the paths) [default: the path: `/api/v2` is Odin,
    /// `/webservice/services/ProvisioningService` is OCI-P over SOAP]
    #[arg(long, value_enum, value_name = "PROTOCOL")]
    pub protocol: Option<ProtocolArg>,
}

#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// The service provider of the group to list
    #[arg(long, value_name = "ID", requires = "group")]
    pub service_provider: Option<String>,

    /// A group to list (read only), as `reset` would
    #[arg(long, value_name = "ID", requires = "service_provider")]
    pub group: Option<String>,

    #[command(flatten)]
    pub connection: ConnectionArgs,
}

#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// How many users' SIP passwords the demo resets
    #[arg(long, value_name = "N", default_value_t = 8,
          value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub users: u16,

    /// Talk to the simulator over OCI-P (its plain-TCP front on loopback) instead of the Odin API
    #[arg(long)]
    pub ocip: bool,

    /// Talk to the simulator over OCI-P over SOAP (its web service front, on loopback) instead
    /// of the Odin API
    #[arg(long, conflicts_with = "ocip")]
    pub soap: bool,
}

#[derive(Debug, Args)]
pub(crate) struct CompletionsArgs {
    /// The shell to generate completions for
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

fn parse_rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(rate) if rate.is_finite() && rate > 0.0 => Ok(rate),
        _ => Err(format!(
            "`{text}` is not a positive number of requests per second"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn exactly_one_way_of_naming_users_is_accepted() {
        let base = [
            "bwreset",
            "reset",
            "--type",
            "sip",
            "--service-provider",
            "sp",
            "--group",
            "g",
        ];
        let with = |extra: &[&str]| {
            let mut arguments: Vec<&str> = base.to_vec();
            arguments.extend_from_slice(extra);
            arguments.extend_from_slice(&["--out", "x.json"]);
            Cli::try_parse_from(arguments)
        };
        assert!(with(&["--user", "a", "--user", "b"]).is_ok());
        assert!(with(&["--all-users"]).is_ok());
        assert!(with(&["--users-file", "u.txt"]).is_ok());
        assert!(with(&[]).is_err());
        assert!(with(&["--all-users", "--user", "a"]).is_err());
    }

    #[test]
    fn targets_and_all_groups_replace_the_group() {
        let parse = |arguments: &[&str]| {
            let mut all = vec!["bwreset", "reset", "--type", "sip", "--out", "x.json"];
            all.extend_from_slice(arguments);
            Cli::try_parse_from(all)
        };
        assert!(parse(&["--targets", "t.csv"]).is_ok());
        assert!(parse(&["--service-provider", "sp", "--all-groups"]).is_ok());
        // A targets file names its own groups.
        assert!(parse(&["--targets", "t.csv", "--group", "g"]).is_err());
        assert!(parse(&["--targets", "t.csv", "--service-provider", "sp"]).is_err());
        assert!(parse(&["--targets", "t.csv", "--all-users"]).is_err());
        // Every group of a service provider: that one, and no group.
        assert!(parse(&["--all-groups"]).is_err());
        assert!(parse(&["--service-provider", "sp", "--group", "g", "--all-groups"]).is_err());
        // The single-group forms still need both.
        assert!(parse(&["--service-provider", "sp", "--all-users"]).is_err());
        assert!(parse(&["--group", "g", "--all-users"]).is_err());
    }

    #[test]
    fn type_accepts_any_case_and_the_voicemail_alias() {
        for (given, expected) in [
            ("SIP", PasswordTypeArg::Sip),
            ("voicemail", PasswordTypeArg::Vm),
            ("Web", PasswordTypeArg::Web),
        ] {
            let cli = Cli::try_parse_from([
                "bwreset",
                "reset",
                "--type",
                given,
                "--service-provider",
                "sp",
                "--group",
                "g",
                "--all-users",
                "--dry-run",
            ])
            .expect("parses");
            let Command::Reset(arguments) = cli.command else {
                panic!("not a reset")
            };
            assert_eq!(arguments.password_type, expected);
        }
    }

    #[test]
    fn out_is_required_unless_dry_run() {
        let arguments = [
            "bwreset",
            "reset",
            "--type",
            "vm",
            "--service-provider",
            "sp",
            "--group",
            "g",
            "--all-users",
        ];
        assert!(Cli::try_parse_from(arguments).is_err());
        let mut dry_run = arguments.to_vec();
        dry_run.push("--dry-run");
        assert!(Cli::try_parse_from(dry_run).is_ok());
    }

    #[test]
    fn rates_must_be_positive() {
        assert!(parse_rate("12.5").is_ok());
        assert!(parse_rate("0").is_err());
        assert!(parse_rate("-1").is_err());
        assert!(parse_rate("NaN").is_err());
    }
}
