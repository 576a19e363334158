//! `bwreset demo`: a reset end to end against a simulator started in this process, with no
//! configuration, followed by an explanation.
//!
//! The reset goes through [`reset::prepare`] and [`reset::perform`], the very code of
//! `bwreset reset`, with the settings pointing at the simulator and `--yes` implied. Afterwards
//! the output file is checked against the simulator's own record of the passwords in effect.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use odin_sim::{OcipFrontConfig, SimConfig, SimHandle};
use secrecy::SecretString;

use crate::cli::{ConnectionArgs, DemoArgs, PasswordTypeArg, ResetArgs, TargetArgs};
use crate::commands::{self, reset};
use crate::errors::exit;
use crate::files;
use crate::settings::{Environment, FileSettings};

const SERVICE_PROVIDER: &str = "demo-sp";
const GROUP: &str = "demo-group";
/// The login the simulator accepts by default.
const SIM_LOGIN: (&str, &str) = ("admin", "admin");
/// Users in the simulated group besides the ones reset, so that the check can show that the
/// others were left alone.
const BYSTANDERS: usize = 4;

pub(crate) fn run(arguments: DemoArgs) -> anyhow::Result<ExitCode> {
    let protocol = if arguments.ocip {
        DemoProtocol::Ocip
    } else if arguments.soap {
        DemoProtocol::Soap
    } else {
        DemoProtocol::Odin
    };
    commands::runtime()?.block_on(demo(usize::from(arguments.users), protocol))
}

/// Which of the simulator's fronts the demo talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DemoProtocol {
    Odin,
    Ocip,
    Soap,
}

#[expect(
    clippy::print_stderr,
    reason = "the demo says what it starts on stderr"
)]
async fn demo(user_count: usize, protocol: DemoProtocol) -> anyhow::Result<ExitCode> {
    let mut config = SimConfig::with_users(user_count + BYSTANDERS);
    if protocol == DemoProtocol::Ocip {
        config = config.with_ocip(OcipFrontConfig::default());
    }
    let simulator = odin_sim::spawn(config)
        .await
        .context("cannot start the simulator")?;
    let server = match (protocol, simulator.ocip_url()) {
        (DemoProtocol::Ocip, Some(ocip_url)) => ocip_url,
        // The web service's path picks OCI-P over SOAP.
        (DemoProtocol::Soap, _) => simulator.soap_url(),
        _ => simulator.base_url(),
    };
    let mut user_ids: Vec<String> = simulator
        .all_credentials()
        .into_iter()
        .map(|credentials| credentials.user_id)
        .collect();
    user_ids.sort();
    user_ids.truncate(user_count);

    // A directory of our own (mode 0700) that outlives the demo, so that the files can be looked at.
    let directory = tempfile::Builder::new()
        .prefix("bwreset-demo-")
        .tempdir()
        .context("cannot create a temporary directory")?
        .keep();
    let users_file = directory.join("users.txt");
    let mut listing = String::from("# the users whose SIP password the demo resets\n");
    for user_id in &user_ids {
        listing.push_str(user_id);
        listing.push('\n');
    }
    files::write_new_private(&users_file, listing.as_bytes())
        .with_context(|| format!("cannot write `{}`", users_file.display()))?;
    let out = directory.join("sip-passwords.json");

    let arguments = ResetArgs {
        password_type: PasswordTypeArg::Sip,
        service_provider: Some(SERVICE_PROVIDER.to_owned()),
        group: Some(GROUP.to_owned()),
        targets: TargetArgs {
            users_file: Some(users_file.clone()),
            users: Vec::new(),
            all_users: false,
            targets: None,
            all_groups: false,
        },
        new_user_names: false,
        no_new_user_names: false,
        user_name_template: None,
        out: Some(out.clone()),
        format: None,
        journal: None,
        encrypt_to: Vec::new(),
        dry_run: false,
        yes: true,
        devices: crate::cli::DeviceArgs::default(),
        connection: ConnectionArgs {
            server: Some(server.clone()),
            username: Some(SIM_LOGIN.0.to_owned()),
            ..ConnectionArgs::default()
        },
    };
    // The operator's own environment and config file are left out: the demo needs neither.
    let mut environment = Environment {
        password: Some(SecretString::from(SIM_LOGIN.1)),
        ..Environment::default()
    };
    let job = reset::ResetJob {
        resumable: false,
        ..reset::prepare(arguments, &mut environment, &FileSettings::default())?
    };
    eprintln!("bwreset demo: a simulated server is listening on `{server}`\n");
    let reset_exit = reset::perform(job).await?;

    let check = check_against_simulator(&out, &simulator)?;
    print_explanation(&server, &directory, &out, user_count, &check);
    Ok(
        if check.is_clean() && reset_exit == ExitCode::from(exit::SUCCESS) {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(exit::SOME_USERS_NOT_SET)
        },
    )
}

/// How the output file compares with what the simulator holds.
#[derive(Debug, Default)]
struct TruthCheck {
    /// Users in the output whose password is the one in effect.
    matching: usize,
    /// Users in the output whose password is not the one in effect.
    mismatched: Vec<String>,
    /// Users whose SIP password changed but who are not in the output.
    changed_but_missing: Vec<String>,
}

impl TruthCheck {
    fn is_clean(&self) -> bool {
        self.mismatched.is_empty() && self.changed_but_missing.is_empty()
    }
}

fn check_against_simulator(out: &Path, simulator: &SimHandle) -> anyhow::Result<TruthCheck> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Row {
        user_id: String,
        new_password: SecretString,
    }
    let text = zeroize::Zeroizing::new(
        std::fs::read(out)
            .with_context(|| format!("cannot read the demo's output `{}`", out.display()))?,
    );
    let rows: Vec<Row> =
        serde_json::from_slice(&text).context("the demo's output is not the expected JSON")?;
    let mut check = TruthCheck::default();
    for row in &rows {
        use secrecy::ExposeSecret;
        let in_effect = simulator
            .credentials(&row.user_id)
            .and_then(|credentials| credentials.sip_password);
        if in_effect.as_deref() == Some(row.new_password.expose_secret()) {
            check.matching += 1;
        } else {
            check.mismatched.push(row.user_id.clone());
        }
    }
    for credentials in simulator.all_credentials() {
        if credentials.changes.sip > 0 && !rows.iter().any(|row| row.user_id == credentials.user_id)
        {
            check.changed_but_missing.push(credentials.user_id);
        }
    }
    Ok(check)
}

#[expect(clippy::print_stdout, reason = "the demo explains itself on stdout")]
fn print_explanation(
    server: &str,
    directory: &Path,
    out: &Path,
    user_count: usize,
    check: &TruthCheck,
) {
    let verdict = if check.is_clean() {
        format!(
            "The simulator's own record agrees: all {} password(s) in the output are the ones now
     in effect, and none of the other {BYSTANDERS} users of the group was touched.",
            check.matching
        )
    } else {
        format!(
            "The simulator's own record DISAGREES: {} password(s) match; not in effect: {:?};
     changed but missing from the output: {:?}.",
            check.matching, check.mismatched, check.changed_but_missing
        )
    };
    // The explanation is what this command is for, so it goes to stdout; the reset's own
    // summary above it went to stderr like every run's.
    println!(
        "
What happened
  1. A simulated BroadWorks server started on `{server}`
     with {total} users in group `{GROUP}` of service provider `{SERVICE_PROVIDER}`.
  2. `bwreset reset` ran through the same code as against a real server, `--yes` implied:
     it logged in, checked the {user_count} users listed in
     `{users_file}`
     (they exist, belong to the group, have the Authentication service), generated new SIP
     passwords, wrote each to the journal before sending it, and set it.
  3. The new passwords are in
     `{out}` (mode 0600),
     next to the journal (`.journal`) and the secret-free audit record (`.audit.json`).
  4. {verdict}
  The simulator stopped with the demo; the files stay until you delete them.

The same against a real server
  export BWRESET_SERVER=https://odin.example.net/api/v2 BWRESET_USERNAME=your-admin
  # or, over OCI-P: BWRESET_SERVER=ocips://broadworks.example.net
  # the password comes from BWRESET_PASSWORD, or you are asked for it
  bwreset reset --type sip --service-provider YOUR-SP --group YOUR-GROUP \\
      --users-file users.txt --out sip-passwords.json --dry-run
  # then the same without --dry-run; `bwreset reset --help` shows every option",
        total = user_count + BYSTANDERS,
        users_file = directory.join("users.txt").display(),
        out = out.display(),
    );
}
