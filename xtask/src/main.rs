//! Developer tasks for bwreset; today one: `cargo run --release -p xtask -- bench`.
//!
//! The benchmark starts `odin-sim` as its own process for each scenario, runs the real
//! `bwreset reset` binary against it, and measures the client from the outside: wall time,
//! CPU time and peak RSS of the `bwreset` process (from `wait4(2)`), and the requests the
//! simulator answered (from its `/_sim/stats`). Every run is also checked against the
//! simulator's truth (`/_sim/credentials`), so a fast run that loses users cannot look good.
//! The baseline is the published Python library's behaviour: one request in flight and a new
//! connection for every request. The `python` scenario (opt-in: it needs python3 and PyPI)
//! runs that library itself and bwreset side by side against one simulator. See
//! docs/benchmarks.md for the figures and the machine.

#![expect(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a developer's tool: its tables and progress are its output"
)]

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};

mod python;

#[derive(Debug, Parser)]
#[command(about = "Developer tasks for bwreset")]
struct Cli {
    #[command(subcommand)]
    command: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// Run the benchmark scenarios against odin-sim processes and print the figures
    Bench(BenchArgs),
    /// Run a program and write its wall time, CPU time, peak RSS and exit code to a file (used by
    /// `bench` to measure bwreset from a small process: see `measured_command`)
    #[command(hide = true)]
    Measure {
        /// Where the figures go
        #[arg(long)]
        report: PathBuf,
        /// The program and its arguments
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
        command: Vec<std::ffi::OsString>,
    },
}

#[derive(Debug, clap::Args)]
struct BenchArgs {
    /// Smaller user counts for a quick look; the figures are then not the documented ones
    #[arg(long)]
    quick: bool,
    /// Run only these scenarios (comma separated); by default all of them (`python` for SIP and
    /// VM, and only where python3 is present)
    #[arg(long, value_delimiter = ',')]
    only: Vec<Scenario>,
    /// Use the binaries already in target/release instead of building them first
    #[arg(long)]
    no_build: bool,
    /// Credential type to reset in every scenario
    #[arg(long, value_enum, ignore_case = true, default_value = "sip")]
    r#type: CredentialType,
    /// The `ocip` scenario's long runs: how many times each variant runs over TCP and then over
    /// SOAP (interleaved); the ratios are printed as median and range (1 with `--quick`)
    #[arg(long, default_value_t = 5)]
    repeat: usize,
    /// The `ocip` scenario's long runs with the simulator pinned to CPU 1 and bwreset to CPU 0
    /// (with `taskset`), over TCP and over SOAP alike, so that the simulator's work is not
    /// charged to the client's users/s
    #[arg(long)]
    pin: bool,
    /// The `ocip` scenario's long runs with the simulator serving on this many threads
    /// (`odin-sim --threads N`), over TCP and over SOAP alike; 1 leaves bwreset a core of its own
    /// without pinning either
    #[arg(long, value_name = "N")]
    sim_threads: Option<u16>,
}

/// Where an OCI-P run's two processes run: pinned to a core each or not, and the simulator's
/// threads (its default, one per core, when `None`).
#[derive(Clone, Copy, Default)]
struct Placement {
    pin: bool,
    sim_threads: Option<u16>,
}

impl Placement {
    fn of(args: &BenchArgs) -> Placement {
        Placement {
            pin: args.pin,
            sim_threads: args.sim_threads,
        }
    }

    fn describe(self) -> String {
        let mut words = vec![if self.pin {
            "the simulator pinned to CPU 1 and bwreset to CPU 0 (taskset), for TCP and SOAP alike"
                .to_owned()
        } else {
            "not pinned (the simulator and bwreset share the cores)".to_owned()
        }];
        if let Some(threads) = self.sim_threads {
            words.push(format!("the simulator on {threads} thread(s)"));
        }
        words.join("; ")
    }
}

/// The credential a run resets, as `bwreset --type` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "lower")]
enum CredentialType {
    Sip,
    #[value(alias = "voicemail")]
    Vm,
    Web,
}

impl CredentialType {
    fn as_arg(self) -> &'static str {
        match self {
            CredentialType::Sip => "sip",
            CredentialType::Vm => "vm",
            CredentialType::Web => "web",
        }
    }

    /// The key of the new value in a client's output row (the seed library's shape).
    fn output_key(self) -> &'static str {
        match self {
            CredentialType::Vm => "newPasscode",
            CredentialType::Sip | CredentialType::Web => "newPassword",
        }
    }

    /// The key of the value in effect in `/_sim/credentials`.
    fn truth_key(self) -> &'static str {
        match self {
            CredentialType::Sip => "sipPassword",
            CredentialType::Vm => "portalPasscode",
            CredentialType::Web => "webPassword",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    /// 2,000 users, 10 ms latency, concurrency 32, against the one-at-a-time baseline
    Concurrency,
    /// 3,000 users against a simulator limited to 300 requests per second
    RateLimit,
    /// 100,000 users, no latency: client CPU time per user and peak RSS
    Cpu,
    /// 2,000 SIP users, 10 ms latency (per request for Odin, per document for OCI-P over TCP,
    /// per `processOCIMessage` call, one document each, for OCI-P over SOAP), concurrency 32:
    /// Odin, OCI-P over TCP and OCI-P over SOAP (15 commands per document, and one) in the same
    /// run, with documents and commands per user
    Ocip,
    /// 12,000 users whose voicemail passcode rules say four digits (fewer values than users)
    Pin4,
    /// 1,000,000 users, no latency, with `--all-users` and with a users file (a fresh simulator
    /// for each): users/s, CPU per user, peak RSS, journal and audit bytes per user. Not in the
    /// default set: each simulator takes about 2 GB
    Million,
    /// The million scenario across groups: ten groups of 100,000 users in one service provider,
    /// reset with `--all-groups`, then with `--targets` listing them all. Not in the default set
    MillionGroups,
    /// The million scenario encrypted: `--all-users --encrypt-to` a key the benchmark makes
    /// (the output is decrypted to check it). Not in the default set; needs bwreset built with
    /// the `encrypt` feature (the benchmark's build asks for it)
    MillionEncrypted,
    /// The published Python library (odins-spear) and bwreset side by side, 2,000 users each,
    /// one simulator with 10 ms latency; in the default set for SIP and VM where python3 is
    /// present (it installs the library from PyPI into a venv under target/ the first time)
    Python,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Task::Bench(args) => bench(&args),
        Task::Measure { report, command } => measure(&report, &command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn bench(args: &BenchArgs) -> Result<()> {
    let root = workspace_root();
    if args.only.contains(&Scenario::Python) {
        python::check_type(args.r#type)?;
    }
    if !args.no_build {
        eprintln!("building release binaries of bwreset and odin-sim ...");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let status = Command::new(cargo)
            .current_dir(&root)
            .args(["build", "--release", "-p", "bwreset", "-p", "odin-sim"])
            .args(if args.only.contains(&Scenario::MillionEncrypted) {
                &["--features", "bwreset/encrypt"][..]
            } else {
                &[]
            })
            .status()
            .context("could not run cargo build")?;
        if !status.success() {
            bail!("cargo build --release failed");
        }
    }
    let binaries = Binaries {
        bwreset: root.join("target/release/bwreset"),
        odin_sim: root.join("target/release/odin-sim"),
    };
    for path in [&binaries.bwreset, &binaries.odin_sim] {
        if !path.exists() {
            bail!("`{}` is missing; run without --no-build", path.display());
        }
    }
    print_machine();
    let default_set = args.only.is_empty();
    let scenarios: Vec<Scenario> = if default_set {
        vec![
            Scenario::Concurrency,
            Scenario::RateLimit,
            Scenario::Cpu,
            Scenario::Ocip,
            Scenario::Pin4,
            Scenario::Python,
        ]
    } else {
        args.only.clone()
    };
    let mut problems = 0;
    for scenario in scenarios {
        problems += match scenario {
            Scenario::Concurrency => concurrency_scenario(&binaries, args)?,
            Scenario::RateLimit => rate_limit_scenario(&binaries, args)?,
            Scenario::Cpu => cpu_scenario(&binaries, args)?,
            Scenario::Ocip => ocip_scenario(&binaries, args)?,
            Scenario::Pin4 => pin4_scenario(&binaries, args)?,
            Scenario::Million => million_scenario(&binaries, args)?,
            Scenario::MillionGroups => million_groups_scenario(&binaries, args)?,
            Scenario::MillionEncrypted => million_encrypted_scenario(&binaries, args)?,
            // In the default set: SIP and VM (the library's WEB mode is broken), and only where
            // python3 can make a venv; asked for by name: the type given, and a missing python3
            // is an error.
            Scenario::Python if default_set => {
                let mut problems = 0;
                for kind in [CredentialType::Sip, CredentialType::Vm] {
                    match python::side_by_side_scenario(&root, &binaries, args, kind) {
                        Ok(count) => problems += count,
                        Err(error) => {
                            println!("\n# python ({}): skipped: {error:#}", kind.as_arg());
                            break;
                        }
                    }
                }
                problems
            }
            Scenario::Python => python::side_by_side_scenario(&root, &binaries, args, args.r#type)?,
        };
    }
    if problems > 0 {
        bail!("{problems} run(s) lost or failed users; the figures above are not valid");
    }
    Ok(())
}

struct Binaries {
    bwreset: PathBuf,
    odin_sim: PathBuf,
}

/// What one scenario asks of the simulator and of bwreset.
struct RunSpec {
    label: &'static str,
    /// A world of `users` users whose passcode rules allow exactly this many digits, instead of
    /// the simulator's seeded world.
    passcode_digits: Option<usize>,
    /// A world of `users` users in this many groups of `demo-sp` (see [`groups_world`]),
    /// instead of the simulator's seeded world of one group.
    groups: Option<usize>,
    users: usize,
    latency_ms: u64,
    rate_limit: Option<u32>,
    concurrency: usize,
    baseline: bool,
    /// Over OCI-P (the simulator's plain-TCP front, or its SOAP front) instead of the Odin API.
    ocip: Option<OcipTuning>,
}

/// How the OCI-P client is set for a run: commands per document and connections.
#[derive(Clone, Copy)]
struct OcipTuning {
    batch: u8,
    connections: u8,
    /// Values made by the client from the server's rules (`--ocip-values local`) instead of the
    /// server's `PasswordGenerateRequest`.
    local_values: bool,
    /// Over SOAP (`processOCIMessage` on the simulator's HTTP listener) instead of plain TCP.
    soap: bool,
    /// Pinned or not, and the simulator's threads.
    placement: Placement,
}

/// `taskset -c CPU program` when `pin` is set, else `program`: the program and its leading
/// arguments.
fn pinned(program: &Path, cpu: &str, pin: bool) -> (PathBuf, Vec<std::ffi::OsString>) {
    if pin {
        (
            PathBuf::from("taskset"),
            vec!["-c".into(), cpu.into(), program.as_os_str().to_owned()],
        )
    } else {
        (program.to_owned(), Vec::new())
    }
}

impl RunSpec {
    /// bwreset as the scenarios run it: `--concurrency 32`, against a simulator that adds
    /// `latency_ms` to every request and has no rate limit.
    fn concurrency_32(users: usize, latency_ms: u64) -> RunSpec {
        RunSpec {
            label: "bwreset --concurrency 32",
            passcode_digits: None,
            groups: None,
            users,
            latency_ms,
            rate_limit: None,
            concurrency: 32,
            baseline: false,
            ocip: None,
        }
    }
}

/// What one run measured.
struct RunResult {
    users: usize,
    wall: Duration,
    cpu: Duration,
    max_rss_kib: u64,
    api_requests: u64,
    rate_limited: u64,
    /// API requests by `METHOD /route` (without `/api/v2`), whatever their status.
    by_route: BTreeMap<String, u64>,
    exit_code: i32,
    set: usize,
    not_set: usize,
    truth_mismatches: usize,
    /// Over OCI-P: the documents and commands the client sent (its own count, logins
    /// included), read from its debug log.
    ocip_totals: Option<(u64, u64)>,
    /// The sizes of the journal and of the audit record the run left.
    journal_bytes: u64,
    audit_bytes: u64,
}

impl RunResult {
    fn users_per_second(&self) -> f64 {
        self.set as f64 / self.wall.as_secs_f64()
    }
    fn requests_per_second(&self) -> f64 {
        self.api_requests as f64 / self.wall.as_secs_f64()
    }
    /// Requests the server accepted (anything but 429) per second.
    fn accepted_per_second(&self) -> f64 {
        (self.api_requests - self.rate_limited) as f64 / self.wall.as_secs_f64()
    }
    fn cpu_per_user(&self) -> Duration {
        self.cpu / u32::try_from(self.users.max(1)).unwrap_or(u32::MAX)
    }
    fn is_clean(&self) -> bool {
        self.exit_code == 0 && self.not_set == 0 && self.truth_mismatches == 0
    }
}

fn print_result(label: &str, result: &RunResult) {
    println!(
        "  {:<28} users {:>6}  wall {:>7.2}s  users/s {:>8.1}  req/s {:>8.1}  cpu/user {:>6}us  peak RSS {:>6.1} MiB  429s {:>5}  not set {:>3}  truth mismatches {}  exit {}",
        label,
        result.users,
        result.wall.as_secs_f64(),
        result.users_per_second(),
        result.requests_per_second(),
        result.cpu_per_user().as_micros(),
        result.max_rss_kib as f64 / 1024.0,
        result.rate_limited,
        result.not_set,
        result.truth_mismatches,
        result.exit_code,
    );
}

/// The requests per user, route by route: the request economy of the run.
fn print_requests_per_user(result: &RunResult) {
    let users = result.users.max(1) as f64;
    let routes: Vec<String> = result
        .by_route
        .iter()
        .map(|(route, count)| format!("{route} {count} ({:.3}/user)", *count as f64 / users))
        .collect();
    println!(
        "  requests: {} = {:.3} per user (login, listing, generation and logout included): {}",
        result.api_requests,
        result.api_requests as f64 / users,
        routes.join(", ")
    );
}

fn concurrency_scenario(binaries: &Binaries, args: &BenchArgs) -> Result<usize> {
    let users = if args.quick { 300 } else { 2_000 };
    println!("\n# concurrency: {users} users, 10 ms added latency per request");
    let fast = RunSpec::concurrency_32(users, 10);
    let fast_result = run(binaries, args.r#type, &fast)?;
    print_result(fast.label, &fast_result);
    print_requests_per_user(&fast_result);
    let baseline = RunSpec {
        label: "baseline (1 in flight, no reuse)",
        baseline: true,
        concurrency: 1,
        ..fast
    };
    let baseline_result = run(binaries, args.r#type, &baseline)?;
    print_result(baseline.label, &baseline_result);
    let ideal = 32.0 / 0.010;
    println!(
        "  speed-up over baseline: {:.1}x users/s (target >= 25x); request rate {:.0}% of the ideal {:.0} req/s (target >= 85%)",
        fast_result.users_per_second() / baseline_result.users_per_second(),
        100.0 * fast_result.requests_per_second() / ideal,
        ideal
    );
    // What "10 ms" really is on this machine: the simulator's timer and scheduling add to it,
    // and no client can go faster than 32 over the real answer time.
    let answer_time = Simulator::start(&binaries.odin_sim, &fast)?.answer_time(50)?;
    let reachable = 32.0 / answer_time.as_secs_f64();
    println!(
        "  the simulator answers in {:.2} ms (mean of 50 requests one after the other, 10 ms asked): at most {:.0} req/s with 32 in flight; bwreset reached {:.0}% of that",
        answer_time.as_secs_f64() * 1000.0,
        reachable,
        100.0 * fast_result.requests_per_second() / reachable
    );
    Ok(usize::from(!fast_result.is_clean()) + usize::from(!baseline_result.is_clean()))
}

fn rate_limit_scenario(binaries: &Binaries, args: &BenchArgs) -> Result<usize> {
    let users = if args.quick { 600 } else { 3_000 };
    println!("\n# rate limit: {users} users, simulator limited to 300 requests per second");
    let spec = RunSpec {
        rate_limit: Some(300),
        ..RunSpec::concurrency_32(users, 0)
    };
    let result = run(binaries, args.r#type, &spec)?;
    print_result(spec.label, &result);
    print_requests_per_user(&result);
    // The simulator's token bucket starts full (one second's worth, 300 requests): that burst
    // is not a sustained rate, so it is taken out of the accepted requests.
    let sustained = (result.api_requests - result.rate_limited).saturating_sub(300) as f64
        / result.wall.as_secs_f64();
    // Users go at the sustained rate divided by the requests each user costs (429s not counted).
    let accepted_per_user =
        (result.api_requests - result.rate_limited) as f64 / result.users.max(1) as f64;
    println!(
        "  users/s {:.0} over the run; sustained {:.0} users/s (target >= 270 for SIP)",
        result.users_per_second(),
        sustained / accepted_per_user.max(f64::MIN_POSITIVE),
    );
    println!(
        "  accepted {:.0} req/s over the run; sustained (without the initial burst of 300) {:.0} req/s = {:.0}% of 300 (target >= 90%); {:.1}% of requests answered 429 (target < 5%); {} user(s) not set (target 0)",
        result.accepted_per_second(),
        sustained,
        100.0 * sustained / 300.0,
        100.0 * result.rate_limited as f64 / result.api_requests.max(1) as f64,
        result.not_set,
    );
    Ok(usize::from(!result.is_clean()))
}

fn pin4_scenario(binaries: &Binaries, args: &BenchArgs) -> Result<usize> {
    let users = if args.quick { 3_000 } else { 12_000 };
    println!(
        "\n# pin4: {users} users, voicemail passcodes, the group's rules say exactly four digits (fewer values than users), no added latency"
    );
    let spec = RunSpec {
        passcode_digits: Some(4),
        ..RunSpec::concurrency_32(users, 0)
    };
    let result = run(binaries, CredentialType::Vm, &spec)?;
    print_result(spec.label, &result);
    print_requests_per_user(&result);
    println!(
        "  {} of {users} set, exit {} (target: all set, exit 0)",
        result.set, result.exit_code
    );
    Ok(usize::from(!result.is_clean()))
}

/// A world of `users` users in `demo-sp`/`demo-group` (as the seeded world names them) whose
/// passcode rules allow exactly `digits` digits.
fn passcode_world(users: usize, digits: usize) -> Result<tempfile::NamedTempFile> {
    let users: Vec<serde_json::Value> = (1..=users)
        .map(|number| serde_json::json!({ "userId": format!("user{number:04}@demo.example") }))
        .collect();
    let world = serde_json::json!({
        "serviceProviders": [{
            "serviceProviderId": "demo-sp",
            "groups": [{
                "groupId": "demo-group",
                "passcodeRules": { "minCodeLength": digits, "maxCodeLength": digits },
                "users": users,
            }],
        }],
    });
    let mut file = tempfile::NamedTempFile::new().context("could not create the fixture")?;
    serde_json::to_writer(&mut file, &world).context("could not write the fixture")?;
    file.flush().context("could not write the fixture")?;
    Ok(file)
}

fn cpu_scenario(binaries: &Binaries, args: &BenchArgs) -> Result<usize> {
    let users = if args.quick { 10_000 } else { 100_000 };
    println!("\n# cpu and memory: {users} users, no added latency");
    let spec = RunSpec::concurrency_32(users, 0);
    let result = run(binaries, args.r#type, &spec)?;
    print_result(spec.label, &result);
    print_requests_per_user(&result);
    println!(
        "  client CPU per user {} us (target < 100 us); peak RSS {:.1} MiB (target < 64 MiB)",
        result.cpu_per_user().as_micros(),
        result.max_rss_kib as f64 / 1024.0
    );
    Ok(usize::from(!result.is_clean()))
}

fn million_scenario(binaries: &Binaries, args: &BenchArgs) -> Result<usize> {
    let users = if args.quick { 100_000 } else { 1_000_000 };
    println!(
        "\n# million: {users} users, {}, no added latency; --all-users, then a users file listing them all, each against a fresh simulator",
        args.r#type.as_arg()
    );
    let spec = RunSpec::concurrency_32(users, 0);
    let mut problems = 0;
    for listed in [false, true] {
        let simulator = Simulator::start(&binaries.odin_sim, &spec)?;
        let ids = if listed {
            simulator.user_ids()?
        } else {
            Vec::new()
        };
        let (label, targets) = if listed {
            ("bwreset --users-file", Targets::Listed(&ids))
        } else {
            ("bwreset --all-users", Targets::AllUsers)
        };
        let result = run_bwreset(binaries, args.r#type, &spec, &simulator, targets)?;
        problems += print_million(label, &result, 100);
    }
    Ok(problems)
}

/// Prints a row of a million scenario and its figures against a peak RSS target in MiB; 1 if
/// the run lost or failed users.
fn print_million(label: &str, result: &RunResult, target_mib: u32) -> usize {
    print_result(label, result);
    print_requests_per_user(result);
    let per_user = |bytes: u64| bytes as f64 / result.users.max(1) as f64;
    println!(
        "  {} of {} set, exit {}; client CPU per user {} us (target < 100 us); peak RSS {:.1} MiB (target < {target_mib} MiB); journal {:.0} bytes per user, audit record {:.0} bytes per user",
        result.set,
        result.users,
        result.exit_code,
        result.cpu_per_user().as_micros(),
        result.max_rss_kib as f64 / 1024.0,
        per_user(result.journal_bytes),
        per_user(result.audit_bytes),
    );
    usize::from(!result.is_clean())
}

/// The million scenario across groups: ten groups of a tenth of the users each, in `demo-sp`;
/// `--all-groups`, then `--targets` listing every user under its group, each against a fresh
/// simulator.
fn million_groups_scenario(binaries: &Binaries, args: &BenchArgs) -> Result<usize> {
    let users = if args.quick { 100_000 } else { 1_000_000 };
    let groups = 10;
    println!(
        "\n# million across groups: {users} users in {groups} groups, {}, no added latency; --all-groups, then --targets listing them all, each against a fresh simulator",
        args.r#type.as_arg()
    );
    let spec = RunSpec {
        groups: Some(groups),
        ..RunSpec::concurrency_32(users, 0)
    };
    let mut problems = 0;
    for listed in [false, true] {
        let simulator = Simulator::start(&binaries.odin_sim, &spec)?;
        let targets = if listed {
            group_members(users, groups)
        } else {
            Vec::new()
        };
        let (label, targets) = if listed {
            ("bwreset --targets", Targets::Grouped(&targets))
        } else {
            ("bwreset --all-groups", Targets::AllGroups)
        };
        let result = run_bwreset(binaries, args.r#type, &spec, &simulator, targets)?;
        problems += print_million(label, &result, 110);
    }
    Ok(problems)
}

/// The million scenario encrypted: `--all-users --encrypt-to` a key made for the run.
fn million_encrypted_scenario(binaries: &Binaries, args: &BenchArgs) -> Result<usize> {
    let users = if args.quick { 100_000 } else { 1_000_000 };
    println!(
        "\n# million encrypted: {users} users, {}, no added latency; --all-users --encrypt-to a new key",
        args.r#type.as_arg()
    );
    let spec = RunSpec::concurrency_32(users, 0);
    let simulator = Simulator::start(&binaries.odin_sim, &spec)?;
    let identity = age::x25519::Identity::generate();
    let result = run_bwreset(
        binaries,
        args.r#type,
        &spec,
        &simulator,
        Targets::Encrypted(&identity),
    )?;
    Ok(print_million("bwreset --encrypt-to", &result, 150))
}

/// Starts a simulator, runs one reset of the whole group against it, and measures both.
fn run(binaries: &Binaries, kind: CredentialType, spec: &RunSpec) -> Result<RunResult> {
    let simulator = Simulator::start(&binaries.odin_sim, spec)?;
    run_bwreset(binaries, kind, spec, &simulator, Targets::AllUsers)
}

/// The users one bwreset run resets.
#[derive(Clone, Copy)]
enum Targets<'a> {
    /// `--all-users`: every user of the group.
    AllUsers,
    /// These users, given to bwreset as a `--users-file`.
    Listed(&'a [String]),
    /// `--all-groups`: every user of every group of `demo-sp`.
    AllGroups,
    /// These users (group, user), given to bwreset as a `--targets` file.
    Grouped(&'a [(String, String)]),
    /// `--all-users` with `--encrypt-to` this identity's recipient; the output is decrypted with
    /// it to be checked.
    Encrypted(&'a age::x25519::Identity),
}

/// Runs one `bwreset reset` against a running simulator and measures it; the requests are
/// those the simulator answered while bwreset ran.
fn run_bwreset(
    binaries: &Binaries,
    kind: CredentialType,
    spec: &RunSpec,
    simulator: &Simulator,
    targets: Targets<'_>,
) -> Result<RunResult> {
    let work = tempfile::tempdir().context("could not create a temporary directory")?;
    let out = work.path().join("out.json");
    let stderr_path = work.path().join("stderr.txt");

    let figures = work.path().join("measured.txt");
    let (program, leading) = pinned(
        &binaries.bwreset,
        "0",
        spec.ocip.is_some_and(|tuning| tuning.placement.pin),
    );
    let mut command = measured_command(&program, &figures)?;
    command
        .args(leading)
        .args(["reset", "--type", kind.as_arg()]);
    match targets {
        Targets::AllUsers | Targets::Listed(_) | Targets::Encrypted(_) => {
            command.args(["--service-provider", "demo-sp", "--group", "demo-group"]);
        }
        Targets::AllGroups => {
            command.args(["--service-provider", "demo-sp"]);
        }
        Targets::Grouped(_) => {}
    }
    match targets {
        Targets::AllUsers => command.arg("--all-users"),
        Targets::Listed(users) => command
            .arg("--users-file")
            .arg(write_users_file(work.path(), users)?),
        Targets::AllGroups => command.arg("--all-groups"),
        Targets::Grouped(users) => command
            .arg("--targets")
            .arg(write_targets_file(work.path(), users)?),
        Targets::Encrypted(identity) => command
            .arg("--all-users")
            .args(["--encrypt-to", &identity.to_public().to_string()]),
    };
    command
        .arg("--out")
        .arg(&out)
        .args(["--format", "json", "--yes"])
        .args(["--username", "admin"])
        .args(["--concurrency", &spec.concurrency.to_string()])
        .env("ODIN_PASSWORD", "admin")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(
            std::fs::File::create(&stderr_path).context("could not create the stderr capture")?,
        ));
    if spec.baseline {
        command.arg("--no-connection-reuse");
    }
    match (spec.ocip, &simulator.ocip_url) {
        (Some(tuning), ocip_url) => {
            let server = match (tuning.soap, ocip_url) {
                (true, _) => simulator.soap_url()?,
                (false, Some(url)) => url.clone(),
                (false, None) => bail!("odin-sim was started without its OCI-P front"),
            };
            command
                .args(["--server", &server])
                .args(["--ocip-batch", &tuning.batch.to_string()])
                .args(["--ocip-connections", &tuning.connections.to_string()])
                .args([
                    "--ocip-values",
                    if tuning.local_values {
                        "local"
                    } else {
                        "server"
                    },
                ])
                // The client's totals come in its debug log.
                .env("RUST_LOG", "ocip_client=debug");
        }
        (None, _) => {
            command.args(["--base-url", &simulator.base_url]);
        }
    }
    let before = simulator.api_request_counts()?;
    let measured = run_measured(&mut command, &figures)?;
    let requests = simulator.api_request_counts()?.since(&before);

    let output = read_output(&out, targets)?;
    let truth = simulator.credentials()?;
    let expected: Vec<String> = match targets {
        Targets::AllUsers | Targets::AllGroups | Targets::Encrypted(_) => {
            truth.keys().cloned().collect()
        }
        Targets::Listed(users) => users.to_vec(),
        Targets::Grouped(users) => users.iter().map(|(_, user)| user.clone()).collect(),
    };
    let check = check_against_truth(&output, &expected, &truth, kind);
    let ocip_totals = spec
        .ocip
        .and_then(|_| ocip_totals(&std::fs::read_to_string(&stderr_path).unwrap_or_default()));
    let size_of = |suffix: &str| {
        let mut path = out.as_os_str().to_owned();
        path.push(suffix);
        std::fs::metadata(PathBuf::from(path)).map_or(0, |metadata| metadata.len())
    };
    let (journal_bytes, audit_bytes) = (size_of(".journal"), size_of(".audit.json"));
    if measured.exit_code != 0 {
        let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
        eprintln!(
            "bwreset exited {} in `{}`; its stderr ends:\n{}",
            measured.exit_code,
            spec.label,
            tail(&stderr, 20)
        );
    }
    Ok(RunResult {
        users: expected.len(),
        wall: measured.wall,
        cpu: measured.cpu,
        max_rss_kib: measured.max_rss_kib,
        api_requests: requests.total,
        rate_limited: requests.rate_limited,
        by_route: requests.by_route,
        exit_code: measured.exit_code,
        set: check.set,
        not_set: check.not_set,
        truth_mismatches: check.mismatches,
        ocip_totals,
        journal_bytes,
        audit_bytes,
    })
}

/// The documents and commands of the OCI-P client's "session totals" debug line.
fn ocip_totals(stderr: &str) -> Option<(u64, u64)> {
    let line = stderr
        .lines()
        .rev()
        .find(|line| line.contains("OCI-P session totals"))?;
    let field = |name: &str| -> Option<u64> {
        let start = line.find(&format!("{name}="))? + name.len() + 1;
        let digits: String = line[start..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().ok()
    };
    Some((field("documents")?, field("commands")?))
}

fn ocip_scenario(binaries: &Binaries, args: &BenchArgs) -> Result<usize> {
    let users = if args.quick { 300 } else { 2_000 };
    println!(
        "\n# ocip: {users} users, 10 ms added latency per request (Odin), per document (OCI-P over TCP) or per processOCIMessage call carrying one document (OCI-P over SOAP), --concurrency 32"
    );
    let odin = RunSpec {
        label: "Odin (REST)",
        ..RunSpec::concurrency_32(users, 10)
    };
    let odin_result = run(binaries, CredentialType::Sip, &odin)?;
    print_result(odin.label, &odin_result);
    print_requests_per_user(&odin_result);
    let mut problems = usize::from(!odin_result.is_clean());
    // 15 commands per document and one connection per document in flight: values made by the
    // client (`--ocip-values local`), then the server's generator (the default); then one
    // command per document. Each over TCP, then over SOAP.
    let variants = [
        ("OCI-P 15/doc, local values", 15, true),
        ("OCI-P 15/doc, server values", 15, false),
        ("OCI-P 1/doc, local values", 1, true),
    ];
    let mut batched = Vec::new();
    let mut soap_against_tcp = Vec::new();
    for (label, batch, local_values) in variants {
        let alone = Placement::default();
        let tcp = ocip_run(binaries, users, label, batch, local_values, false, alone)?;
        let soap = ocip_run(binaries, users, label, batch, local_values, true, alone)?;
        for (result, over) in [(&tcp, "TCP"), (&soap, "SOAP")] {
            print_result(&format!("{label}, over {over}"), result);
            print_ocip_totals(result);
            println!(
                "  {:.1}x the Odin backend's users/s",
                result.users_per_second() / odin_result.users_per_second()
            );
            problems += usize::from(!result.is_clean());
        }
        if batch > 1 {
            batched.push((label, tcp.users_per_second(), tcp.cpu_per_user()));
        }
        soap_against_tcp.push((label, soap, tcp));
    }

    for (label, users_per_second, cpu_per_user) in batched {
        println!(
            "  {label} over TCP against Odin: {:.1}x users/s (target >= 5x); client CPU per user {} us (target < 100 us)",
            users_per_second / odin_result.users_per_second(),
            cpu_per_user.as_micros()
        );
    }
    for (label, soap, tcp) in soap_against_tcp {
        println!(
            "  {label}, SOAP against TCP: {:.0}% of the users/s (target >= 90%); client CPU per user over SOAP {} us (target < 60 us), over TCP {} us",
            100.0 * soap.users_per_second() / tcp.users_per_second(),
            soap.cpu_per_user().as_micros(),
            tcp.cpu_per_user().as_micros()
        );
    }
    problems += soap_against_tcp_long(binaries, args, &variants)?;
    Ok(problems)
}

/// The `ocip` scenario's long runs: each variant with enough users that a run lasts about two
/// seconds or more, `args.repeat` times over TCP and then over SOAP, interleaved (TCP, SOAP,
/// TCP, SOAP ...), each run against its own simulator; SOAP's users/s against the TCP run just
/// before it, printed as median and range over the repetitions.
fn soap_against_tcp_long(
    binaries: &Binaries,
    args: &BenchArgs,
    variants: &[(&'static str, u8, bool)],
) -> Result<usize> {
    let repeat = if args.quick { 1 } else { args.repeat.max(1) };
    let placement = Placement::of(args);
    println!(
        "\n# ocip, SOAP against TCP in long runs: {repeat} repetition(s) of each variant, TCP then SOAP, interleaved; {}",
        placement.describe()
    );
    let mut problems = 0;
    for &(label, batch, local_values) in variants {
        // About 2 s or more per run on the documented machine (15/doc: 18,000-30,000 users/s;
        // 1/doc: about 2,700).
        let users = match (args.quick, batch > 1) {
            (true, _) => 2_000,
            (false, true) => 60_000,
            (false, false) => 6_000,
        };
        let mut ratios = Vec::new();
        let mut walls = Vec::new();
        let mut cpu = (Vec::new(), Vec::new());
        for _ in 0..repeat {
            let tcp = ocip_run(
                binaries,
                users,
                label,
                batch,
                local_values,
                false,
                placement,
            )?;
            let soap = ocip_run(binaries, users, label, batch, local_values, true, placement)?;
            problems += usize::from(!tcp.is_clean()) + usize::from(!soap.is_clean());
            ratios.push(100.0 * soap.users_per_second() / tcp.users_per_second());
            walls.extend([tcp.wall.as_secs_f64(), soap.wall.as_secs_f64()]);
            cpu.0.push(tcp.cpu_per_user().as_secs_f64() * 1e6);
            cpu.1.push(soap.cpu_per_user().as_secs_f64() * 1e6);
        }
        let each: Vec<String> = ratios.iter().map(|ratio| format!("{ratio:.0}")).collect();
        println!(
            "  {label}, {users} users, SOAP against TCP: median {:.0}% of the users/s, range {} (target >= 90%); each: {} %; runs {:.1}-{:.1} s; client CPU per user, median: SOAP {:.0} us, TCP {:.0} us",
            median(&ratios),
            range(&ratios, "%"),
            each.join(" "),
            walls.iter().copied().fold(f64::INFINITY, f64::min),
            walls.iter().copied().fold(0.0, f64::max),
            median(&cpu.1),
            median(&cpu.0),
        );
    }
    Ok(problems)
}

/// The median of some figures (the mean of the middle two for an even count; 0 for none).
fn median(figures: &[f64]) -> f64 {
    let mut sorted = figures.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => 0.0,
        len if len % 2 == 1 => sorted[len / 2],
        len => f64::midpoint(sorted[len / 2 - 1], sorted[len / 2]),
    }
}

/// `min-max` of some figures, rounded, with their unit.
fn range(figures: &[f64], unit: &str) -> String {
    let low = figures.iter().copied().fold(f64::INFINITY, f64::min);
    let high = figures.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!("{low:.0}-{high:.0}{unit}")
}

/// The rows of bwreset's JSON output (`[]` if it wrote none), decrypted with the run's
/// identity if it was encrypted.
fn read_output(out: &Path, targets: Targets<'_>) -> Result<Vec<serde_json::Value>> {
    let Ok(bytes) = std::fs::read(out) else {
        return Ok(Vec::new());
    };
    let text = match targets {
        Targets::Encrypted(identity) => {
            let decryptor =
                age::Decryptor::new_buffered(age::armor::ArmoredReader::new(&bytes[..]))
                    .context("bwreset's encrypted output is not an age file")?;
            let mut plaintext = Vec::new();
            decryptor
                .decrypt(std::iter::once(identity as &dyn age::Identity))
                .context("cannot decrypt bwreset's output")?
                .read_to_end(&mut plaintext)
                .context("cannot decrypt bwreset's output")?;
            plaintext
        }
        _ => bytes,
    };
    serde_json::from_slice(&text).context("bwreset's output is not a JSON array")
}

/// The users of [`groups_world`], each with its group, in the world's order.
fn group_members(users: usize, groups: usize) -> Vec<(String, String)> {
    let per_group = users / groups.max(1);
    (1..=groups)
        .flat_map(|group| {
            (1..=per_group).map(move |number| {
                let group_id = format!("g{group:02}");
                let user_id = format!("{group_id}-user{number:06}@demo.example");
                (group_id, user_id)
            })
        })
        .collect()
}

/// A world of `users` users in `groups` groups `g01`, `g02`, ... of `demo-sp`, users
/// `g01-user000001@demo.example`, ... (everything else generated by the simulator).
fn groups_world(users: usize, groups: usize) -> Result<tempfile::NamedTempFile> {
    let members = group_members(users, groups);
    let groups: Vec<serde_json::Value> = members
        .chunk_by(|(one, _), (other, _)| one == other)
        .map(|chunk| {
            let users: Vec<serde_json::Value> = chunk
                .iter()
                .map(|(_, user)| serde_json::json!({ "userId": user }))
                .collect();
            serde_json::json!({ "groupId": chunk[0].0, "users": users })
        })
        .collect();
    let world = serde_json::json!({
        "serviceProviders": [{ "serviceProviderId": "demo-sp", "groups": groups }],
    });
    let mut file = tempfile::NamedTempFile::new().context("could not create the fixture")?;
    serde_json::to_writer(std::io::BufWriter::new(&mut file), &world)
        .context("could not write the fixture")?;
    file.flush().context("could not write the fixture")?;
    Ok(file)
}

/// Writes a `--targets` file: `serviceProviderId,groupId,userId`, one user a line.
fn write_targets_file(directory: &Path, users: &[(String, String)]) -> Result<PathBuf> {
    let path = directory.join("targets.csv");
    let mut file = std::io::BufWriter::new(
        std::fs::File::create(&path).context("could not write the targets file")?,
    );
    writeln!(file, "serviceProviderId,groupId,userId")?;
    for (group, user) in users {
        writeln!(file, "demo-sp,{group},{user}")?;
    }
    file.flush().context("could not write the targets file")?;
    Ok(path)
}

/// One OCI-P run of the `ocip` scenario, over TCP or over SOAP: a simulator of `users` users
/// with 10 ms per document, `--concurrency 32` and 32 connections.
fn ocip_run(
    binaries: &Binaries,
    users: usize,
    label: &'static str,
    batch: u8,
    local_values: bool,
    soap: bool,
    placement: Placement,
) -> Result<RunResult> {
    let spec = RunSpec {
        label,
        concurrency: 32,
        ocip: Some(OcipTuning {
            batch,
            connections: 32,
            local_values,
            soap,
            placement,
        }),
        ..RunSpec::concurrency_32(users, 10)
    };
    run(binaries, CredentialType::Sip, &spec)
}

/// The documents and commands per user an OCI-P run's client reported.
fn print_ocip_totals(result: &RunResult) {
    let per_user = |count: u64| count as f64 / result.users.max(1) as f64;
    match result.ocip_totals {
        Some((documents, commands)) => println!(
            "  documents {documents} = {:.3} per user, commands {commands} = {:.3} per user ({:.1} commands per document; logins included)",
            per_user(documents),
            per_user(commands),
            commands as f64 / documents.max(1) as f64
        ),
        None => println!("  documents and commands: not reported by the client"),
    }
}

/// Writes one user ID a line, the form both bwreset's `--users-file` and the Python driver
/// read.
fn write_users_file(directory: &Path, users: &[String]) -> Result<PathBuf> {
    let path = directory.join("users.txt");
    let mut text = users.join("\n");
    text.push('\n');
    std::fs::write(&path, text).context("could not write the users file")?;
    Ok(path)
}

/// How a client's output compares with the simulator's truth.
struct TruthCheck {
    /// Expected users the client reported a value for.
    set: usize,
    /// Expected users the client reported nothing for.
    not_set: usize,
    /// Reported values that are not in effect on the server, values of users that were changed
    /// other than exactly once, and rows for users that were not expected.
    mismatches: usize,
}

/// Compares a client's output rows (`{"userId", "newPassword"|"newPasscode"}`) with the
/// simulator's truth: every expected user's reported value must be the one in effect, changed
/// exactly once.
fn check_against_truth(
    rows: &[serde_json::Value],
    expected: &[String],
    truth: &HashMap<String, serde_json::Value>,
    kind: CredentialType,
) -> TruthCheck {
    let mut unreported: std::collections::HashSet<&str> =
        expected.iter().map(String::as_str).collect();
    let mut mismatches = 0;
    for row in rows {
        let user = row["userId"].as_str().unwrap_or_default();
        if !unreported.remove(user) {
            mismatches += 1;
            continue;
        }
        let value = row[kind.output_key()].as_str();
        let record = truth.get(user);
        let in_effect = record.and_then(|record| record[kind.truth_key()].as_str());
        let changes = record.and_then(|record| record["changes"][kind.as_arg()].as_u64());
        if value.is_none() || value != in_effect || changes != Some(1) {
            mismatches += 1;
        }
    }
    TruthCheck {
        set: expected.len() - unreported.len(),
        not_set: unreported.len(),
        mismatches,
    }
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

struct Measured {
    wall: Duration,
    cpu: Duration,
    max_rss_kib: u64,
    exit_code: i32,
}

/// A command that runs `program` measured: through `xtask measure`, which starts it and writes
/// its figures to `report`. Arguments, environment and standard streams given to the command
/// reach the program. The program is started by that small process, not by the benchmark
/// itself, because a child's `ru_maxrss` includes the high-water mark of the process it was
/// started from (Rust spawns with `vfork` semantics and Linux carries the old memory's peak over
/// `exec`): started from a benchmark holding a million users' truth, bwreset's peak would read as
/// the benchmark's.
fn measured_command(program: &Path, report: &Path) -> Result<Command> {
    let launcher = std::env::current_exe().context("could not find the xtask binary")?;
    let mut command = Command::new(launcher);
    command
        .arg("measure")
        .arg("--report")
        .arg(report)
        .arg("--")
        .arg(program);
    Ok(command)
}

/// Runs a command made by [`measured_command`] and reads the figures it wrote to `report`.
fn run_measured(command: &mut Command, report: &Path) -> Result<Measured> {
    let status = command.status().context("could not start xtask measure")?;
    if !status.success() {
        bail!("xtask measure failed ({status})");
    }
    let text = std::fs::read_to_string(report).context("xtask measure wrote no figures")?;
    let figures: Vec<u64> = text
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()
        .context("xtask measure wrote unreadable figures")?;
    let [wall_us, cpu_us, max_rss_kib, exit_code] = figures[..] else {
        bail!("xtask measure wrote {} figures, not 4", figures.len());
    };
    Ok(Measured {
        wall: Duration::from_micros(wall_us),
        cpu: Duration::from_micros(cpu_us),
        max_rss_kib,
        exit_code: i32::try_from(exit_code).unwrap_or(-1),
    })
}

/// `xtask measure`: runs the command to completion and writes `wall_us cpu_us max_rss_kib
/// exit_code` to `report`, the usage read with `wait4(2)`, which (unlike
/// `getrusage(RUSAGE_CHILDREN)`) covers exactly that one process.
fn measure(report: &Path, command: &[std::ffi::OsString]) -> Result<()> {
    let (program, arguments) = command.split_first().context("no command to measure")?;
    let start = Instant::now();
    let child = Command::new(program)
        .args(arguments)
        .spawn()
        .with_context(|| format!("could not start `{}`", program.display()))?;
    let pid = libc::pid_t::try_from(child.id()).context("process id out of range")?;
    let (reaped, status, usage) = wait_for_child(pid);
    let wall = start.elapsed();
    // The child is reaped; dropping `Child` neither waits nor kills, so this is safe.
    drop(child);
    if reaped != pid {
        bail!("wait4 failed: {}", std::io::Error::last_os_error());
    }
    let exit_code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        255
    };
    let micros = |time: libc::timeval| {
        u64::try_from(time.tv_sec).unwrap_or(0) * 1_000_000
            + u64::try_from(time.tv_usec).unwrap_or(0)
    };
    std::fs::write(
        report,
        format!(
            "{} {} {} {}\n",
            wall.as_micros(),
            micros(usage.ru_utime) + micros(usage.ru_stime),
            usage.ru_maxrss,
            exit_code
        ),
    )
    .context("could not write the figures")?;
    Ok(())
}

/// Waits for the child `pid` with `wait4(2)`: the pid reaped (or -1), its wait status and its
/// resource usage. The one `unsafe` of the workspace's tools.
#[expect(
    unsafe_code,
    reason = "wait4(2) is the only call that gives the usage of exactly one child process"
)]
fn wait_for_child(pid: libc::pid_t) -> (libc::pid_t, libc::c_int, libc::rusage) {
    let mut status: libc::c_int = 0;
    // SAFETY: `rusage` is a plain C struct for which all-zero bytes are a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our own child, not yet reaped; both pointers are to live locals.
    let reaped = unsafe { libc::wait4(pid, &raw mut status, 0, &raw mut usage) };
    (reaped, status, usage)
}

/// An `odin-sim` process, killed when dropped.
struct Simulator {
    child: Child,
    base_url: String,
    host: String,
    /// `ocip://127.0.0.1:PORT` when the OCI-P front was asked for.
    ocip_url: Option<String>,
    /// The fixture the simulator was started with, kept until it stops.
    _fixture: Option<tempfile::NamedTempFile>,
}

struct RequestCounts {
    total: u64,
    rate_limited: u64,
    by_route: BTreeMap<String, u64>,
}

impl Simulator {
    fn start(binary: &Path, spec: &RunSpec) -> Result<Self> {
        let placement = spec.ocip.map(|tuning| tuning.placement).unwrap_or_default();
        let (program, leading) = pinned(binary, "1", placement.pin);
        let mut command = Command::new(program);
        command
            .args(leading)
            .args(["--listen", "127.0.0.1:0", "--seed", "7"]);
        let fixture = match (spec.passcode_digits, spec.groups) {
            (None, None) => {
                command.args(["--users", &spec.users.to_string()]);
                None
            }
            (Some(digits), _) => Some(passcode_world(spec.users, digits)?),
            (None, Some(groups)) => Some(groups_world(spec.users, groups)?),
        };
        if let Some(fixture) = &fixture {
            command.arg("--fixture").arg(fixture.path());
        }
        command
            .args(["--latency-ms", &spec.latency_ms.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if let Some(rate) = spec.rate_limit {
            command.args(["--rate-limit", &rate.to_string()]);
        }
        if spec.ocip.is_some() {
            command.args(["--ocip-listen", "127.0.0.1:0"]);
        }
        if let Some(threads) = placement.sim_threads {
            command.args(["--threads", &threads.to_string()]);
        }
        let mut child = command.spawn().context("could not start odin-sim")?;
        let stdout = child.stdout.take().context("odin-sim has no stdout")?;
        let mut stdout = BufReader::new(stdout);
        let mut first_line = String::new();
        stdout
            .read_line(&mut first_line)
            .context("could not read odin-sim's first line")?;
        let ocip_url = if spec.ocip.is_some() {
            let mut second_line = String::new();
            stdout
                .read_line(&mut second_line)
                .context("could not read odin-sim's OCI-P line")?;
            Some(
                second_line
                    .trim()
                    .strip_prefix("odin-sim ocip listening on ")
                    .with_context(|| format!("unexpected line from odin-sim: {second_line:?}"))?
                    .to_owned(),
            )
        } else {
            None
        };
        let base_url = first_line
            .trim()
            .strip_prefix("odin-sim listening on ")
            .with_context(|| format!("unexpected first line from odin-sim: {first_line:?}"))?
            .to_owned();
        let host = base_url
            .strip_prefix("http://")
            .and_then(|rest| rest.split('/').next())
            .context("odin-sim's base URL is not http://host:port/...")?
            .to_owned();
        Ok(Self {
            child,
            base_url,
            host,
            ocip_url,
            _fixture: fixture,
        })
    }

    /// The SOAP front's URL: the HTTP listener's root and the service's path.
    fn soap_url(&self) -> Result<String> {
        let root = self
            .base_url
            .strip_suffix("/api/v2")
            .context("odin-sim's base URL does not end in /api/v2")?;
        Ok(format!("{root}/webservice/services/ProvisioningService"))
    }

    /// A plain HTTP/1.1 GET on loopback; the simulator's truth endpoints need no token.
    fn get_json(&self, path: &str) -> Result<serde_json::Value> {
        let mut stream = TcpStream::connect(&self.host).context("could not reach odin-sim")?;
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.host
        )?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response)?;
        let text = String::from_utf8_lossy(&response);
        let (head, body) = text
            .split_once("\r\n\r\n")
            .context("odin-sim sent no HTTP header")?;
        let body = if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            dechunk(body)?
        } else {
            body.to_owned()
        };
        serde_json::from_str(&body).with_context(|| format!("odin-sim's {path} is not JSON"))
    }

    /// The mean time the simulator takes to answer `GET /auth/session`, one request after the
    /// other on one keep-alive connection (after logging in on it).
    fn answer_time(&self, samples: u32) -> Result<Duration> {
        let stream = TcpStream::connect(&self.host).context("could not reach odin-sim")?;
        // Each request goes out in one write, without waiting for an acknowledgement.
        stream.set_nodelay(true)?;
        let mut reader = BufReader::new(stream.try_clone()?);
        let mut writer = stream;
        let login = r#"{"username":"admin","password":"admin"}"#;
        let request = format!(
            "POST /api/v2/auth/token HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{login}",
            self.host,
            login.len()
        );
        writer.write_all(request.as_bytes())?;
        let answer: serde_json::Value = serde_json::from_slice(&read_response(&mut reader)?)
            .context("odin-sim's login answer is not JSON")?;
        let token = answer["token"]
            .as_str()
            .context("odin-sim's login answer holds no token")?
            .to_owned();
        let request = format!(
            "GET /api/v2/auth/session HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\n\r\n",
            self.host
        );
        let started = Instant::now();
        for _ in 0..samples {
            writer.write_all(request.as_bytes())?;
            read_response(&mut reader)?;
        }
        Ok(started.elapsed() / samples.max(1))
    }

    fn api_request_counts(&self) -> Result<RequestCounts> {
        let stats = self.get_json("/_sim/stats")?;
        let mut counts = RequestCounts {
            total: 0,
            rate_limited: 0,
            by_route: BTreeMap::new(),
        };
        // Rows are `{method, route, status, count}`, routes as routed (`/api/v2/users`); the
        // simulator's own `/_sim/...` routes are not API traffic.
        for row in stats["requests"].as_array().into_iter().flatten() {
            let route = row["route"].as_str().unwrap_or_default();
            if route.starts_with("/_sim") {
                continue;
            }
            let count = row["count"].as_u64().unwrap_or(0);
            let method = row["method"].as_str().unwrap_or("?");
            let short = route.strip_prefix("/api/v2").unwrap_or(route);
            *counts
                .by_route
                .entry(format!("{method} {short}"))
                .or_default() += count;
            counts.total += count;
            if row["status"].as_u64() == Some(429) {
                counts.rate_limited += count;
            }
        }
        Ok(counts)
    }

    fn credentials(&self) -> Result<HashMap<String, serde_json::Value>> {
        let all = self.get_json("/_sim/credentials")?;
        Ok(all
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|record| {
                let user = record["userId"].as_str()?.to_owned();
                Some((user, record.clone()))
            })
            .collect())
    }

    /// Every user ID, in the world's order (the order of `/_sim/credentials`).
    fn user_ids(&self) -> Result<Vec<String>> {
        let all = self.get_json("/_sim/credentials")?;
        Ok(all
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|record| Some(record["userId"].as_str()?.to_owned()))
            .collect())
    }
}

impl RequestCounts {
    /// The requests counted since `before`, a snapshot of the same simulator.
    fn since(self, before: &RequestCounts) -> RequestCounts {
        RequestCounts {
            total: self.total.saturating_sub(before.total),
            rate_limited: self.rate_limited.saturating_sub(before.rate_limited),
            by_route: self
                .by_route
                .into_iter()
                .map(|(route, count)| {
                    let earlier = before.by_route.get(&route).copied().unwrap_or(0);
                    (route, count.saturating_sub(earlier))
                })
                .filter(|(_, count)| *count > 0)
                .collect(),
        }
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads one HTTP/1.1 answer with a `Content-Length` from a keep-alive connection; its body.
fn read_response(reader: &mut impl BufRead) -> Result<Vec<u8>> {
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            bail!("odin-sim closed the connection");
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().context("bad content-length")?;
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    Ok(body)
}

/// Decodes an HTTP/1.1 chunked body (the simulator may answer large arrays that way).
fn dechunk(mut body: &str) -> Result<String> {
    let mut out = String::new();
    loop {
        let (size_line, rest) = body.split_once("\r\n").context("bad chunked body")?;
        let size = usize::from_str_radix(size_line.trim(), 16).context("bad chunk size")?;
        if size == 0 {
            return Ok(out);
        }
        let chunk = rest.get(..size).context("truncated chunk")?;
        out.push_str(chunk);
        body = rest.get(size + 2..).context("truncated chunk")?;
    }
}

fn print_machine() {
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split_once(':'))
                .map(|(_, name)| name.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    println!("machine: {cores} cores, {model}");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn truth(records: &[(&str, &str, u64)]) -> HashMap<String, serde_json::Value> {
        records
            .iter()
            .map(|(user, password, changes)| {
                let record = serde_json::json!({
                    "userId": user,
                    "sipPassword": password,
                    "changes": {"sip": changes, "vm": 0, "web": 0},
                });
                ((*user).to_owned(), record)
            })
            .collect()
    }

    fn row(user: &str, password: &str) -> serde_json::Value {
        serde_json::json!({"userId": user, "newPassword": password})
    }

    fn users(names: &[&str]) -> Vec<String> {
        names.iter().map(|name| (*name).to_owned()).collect()
    }

    #[test]
    fn a_value_in_effect_changed_once_is_set() {
        let truth = truth(&[("a", "Aa1-new", 1), ("b", "Bb1-new", 1)]);
        let rows = [row("a", "Aa1-new"), row("b", "Bb1-new")];
        let check = check_against_truth(&rows, &users(&["a", "b"]), &truth, CredentialType::Sip);
        assert_eq!((check.set, check.not_set, check.mismatches), (2, 0, 0));
    }

    #[test]
    fn wrong_values_repeated_changes_strangers_and_missing_users_count() {
        let truth = truth(&[("a", "in-effect", 1), ("b", "Bb1-new", 2), ("c", "Cc1", 1)]);
        let rows = [
            row("a", "reported"),
            row("b", "Bb1-new"),
            row("stranger", "x"),
            row("a", "in-effect"),
        ];
        let check =
            check_against_truth(&rows, &users(&["a", "b", "c"]), &truth, CredentialType::Sip);
        // `a` differs, `b` changed twice, `stranger` was not asked for, the second `a` is a
        // duplicate; `c` was not reported.
        assert_eq!((check.set, check.not_set, check.mismatches), (2, 1, 4));
    }
}
