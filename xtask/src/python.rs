//! The `python` scenario: the published Python library (odins-spear) and bwreset side by side,
//! against one simulator, in one run.
//!
//! One `odin-sim` holds twice the users; the Python library resets the first half through
//! `tests/interop/side_by_side.py`, then `bwreset reset --users-file` the second half. Both
//! outputs are checked against the simulator's truth once both have run, so a client that
//! touched the other's users shows up too. The scenario is opt-in (`--only python`): it needs
//! python3 with venv and, the first time, PyPI to install the library into a venv that is kept
//! under `target/`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::{
    BenchArgs, Binaries, CredentialType, Measured, RequestCounts, RunResult, RunSpec, Simulator,
    Targets, check_against_truth, measured_command, print_requests_per_user, print_result,
    run_bwreset, run_measured, tail, write_users_file,
};

/// The version the interop check (`tests/interop/run.sh`) also pins.
const ODINS_SPEAR_VERSION: &str = "2.3.0";

/// Refuses what the library cannot do, before anything is built or started.
pub(crate) fn check_type(kind: CredentialType) -> Result<()> {
    if kind == CredentialType::Web {
        bail!(
            "the python scenario cannot reset `web`: odins-spear {ODINS_SPEAR_VERSION}'s WEB mode calls a method the library does not have and fails before sending a request; use `--type sip` or `--type vm`"
        );
    }
    Ok(())
}

pub(crate) fn side_by_side_scenario(
    root: &Path,
    binaries: &Binaries,
    args: &BenchArgs,
    kind: CredentialType,
) -> Result<usize> {
    check_type(kind)?;
    let users = if args.quick { 100 } else { 2_000 };
    println!(
        "\n# python ({}): odins-spear {ODINS_SPEAR_VERSION} and bwreset side by side, {users} users each, one simulator, 10 ms added latency per request",
        kind.as_arg()
    );
    println!(
        "  odins-spear runs with rate_limit=False, its best (its default, True, holds it to 5 requests/s)"
    );
    let venv = PythonVenv::ensure(root)?;
    let bwreset_spec = RunSpec::concurrency_32(users, 10);
    let simulator = Simulator::start(
        &binaries.odin_sim,
        &RunSpec {
            users: 2 * users,
            ..bwreset_spec
        },
    )?;
    let user_ids = simulator.user_ids()?;
    if user_ids.len() != 2 * users {
        bail!(
            "odin-sim seeded {} users, not {}",
            user_ids.len(),
            2 * users
        );
    }
    let (python_users, bwreset_users) = user_ids.split_at(users);

    let python = run_python(root, &venv, kind, &simulator, python_users)?;
    let bwreset = run_bwreset(
        binaries,
        kind,
        &bwreset_spec,
        &simulator,
        Targets::Listed(bwreset_users),
    )?;
    let truth = simulator.credentials()?;
    let python_result = python.checked_result(python_users, &truth, kind);

    print_result(
        &format!("odins-spear {ODINS_SPEAR_VERSION}"),
        &python_result,
    );
    print_requests_per_user(&python_result);
    print_result(bwreset_spec.label, &bwreset);
    print_requests_per_user(&bwreset);
    println!(
        "  bwreset/python: {:.1}x users/s (target >= 30x), the Python library timed on its bulk_password_reset call alone, bwreset on its whole process (start, login, pre-checks, resets, logout, output files); the Python process took {:.2}s with interpreter start, imports and login",
        bwreset.users_per_second() / python_result.users_per_second(),
        python.process.wall.as_secs_f64(),
    );
    Ok(usize::from(!python_result.is_clean()) + usize::from(!bwreset.is_clean()))
}

/// A Python venv with odins-spear, kept under `target/` so that a second run does not
/// reinstall it.
struct PythonVenv {
    python: PathBuf,
}

impl PythonVenv {
    fn ensure(root: &Path) -> Result<Self> {
        let directory = root.join("target/bench-python-venv");
        let venv = PythonVenv {
            python: directory.join("bin/python"),
        };
        if venv.has_library() {
            return Ok(venv);
        }
        if directory.exists() {
            std::fs::remove_dir_all(&directory)
                .with_context(|| format!("could not remove `{}`", directory.display()))?;
        }
        eprintln!(
            "creating a Python venv with odins-spear=={ODINS_SPEAR_VERSION} from PyPI in `{}` ...",
            directory.display()
        );
        let created = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&directory)
            .status()
            .context("could not run `python3`; the python scenario needs python3 with venv")?;
        if !created.success() {
            bail!(
                "`python3 -m venv` failed; the python scenario needs python3 with venv (Debian: the python3-venv package)"
            );
        }
        let installed = Command::new(&venv.python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .arg(format!("odins-spear=={ODINS_SPEAR_VERSION}"))
            .status()
            .context("could not run pip in the new venv")?;
        if !installed.success() {
            bail!(
                "pip could not install `odins-spear=={ODINS_SPEAR_VERSION}` (is PyPI reachable?)"
            );
        }
        if !venv.has_library() {
            bail!(
                "odins-spear {ODINS_SPEAR_VERSION} does not import in the new venv `{}`",
                directory.display()
            );
        }
        Ok(venv)
    }

    /// Whether the venv's Python imports the library at the pinned version.
    fn has_library(&self) -> bool {
        let check = format!(
            "import importlib.metadata, odins_spear; assert importlib.metadata.version('odins-spear') == '{ODINS_SPEAR_VERSION}'"
        );
        Command::new(&self.python)
            .args(["-c", &check])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    }
}

/// What one run of the Python driver measured, before its rows are checked.
struct PythonRun {
    /// The driver's own timing of the bulk_password_reset call; the process's wall time if
    /// the driver failed.
    call_wall: Duration,
    call_cpu: Duration,
    /// The whole process: wall time, peak RSS, exit code.
    process: Measured,
    requests: RequestCounts,
    rows: Vec<serde_json::Value>,
}

fn run_python(
    root: &Path,
    venv: &PythonVenv,
    kind: CredentialType,
    simulator: &Simulator,
    users: &[String],
) -> Result<PythonRun> {
    let work = tempfile::tempdir().context("could not create a temporary directory")?;
    let stdout_path = work.path().join("stdout.json");
    let stderr_path = work.path().join("stderr.txt");
    let figures = work.path().join("measured.txt");
    let mut command = measured_command(&venv.python, &figures)?;
    command
        .arg(root.join("tests/interop/side_by_side.py"))
        .arg(&simulator.base_url)
        .arg(kind.as_arg())
        .arg(write_users_file(work.path(), users)?)
        .stdin(Stdio::null())
        .stdout(Stdio::from(
            std::fs::File::create(&stdout_path).context("could not create the stdout capture")?,
        ))
        .stderr(Stdio::from(
            std::fs::File::create(&stderr_path).context("could not create the stderr capture")?,
        ));
    let before = simulator.api_request_counts()?;
    let process = run_measured(&mut command, &figures)?;
    let requests = simulator.api_request_counts()?.since(&before);

    let report: Option<serde_json::Value> = std::fs::read_to_string(&stdout_path)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok());
    let seconds = |key: &str| {
        report
            .as_ref()
            .and_then(|report| report[key].as_f64())
            .and_then(|seconds| Duration::try_from_secs_f64(seconds).ok())
    };
    if process.exit_code != 0 || report.is_none() {
        let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
        eprintln!(
            "the Python driver exited {} without a report; its stderr ends:\n{}",
            process.exit_code,
            tail(&stderr, 20)
        );
    }
    Ok(PythonRun {
        call_wall: seconds("elapsedSeconds").unwrap_or(process.wall),
        call_cpu: seconds("cpuSeconds").unwrap_or(process.cpu),
        rows: report
            .as_ref()
            .and_then(|report| report["rows"].as_array().cloned())
            .unwrap_or_default(),
        process,
        requests,
    })
}

impl PythonRun {
    fn checked_result(
        &self,
        expected: &[String],
        truth: &std::collections::HashMap<String, serde_json::Value>,
        kind: CredentialType,
    ) -> RunResult {
        let check = check_against_truth(&self.rows, expected, truth, kind);
        RunResult {
            users: expected.len(),
            wall: self.call_wall,
            cpu: self.call_cpu,
            max_rss_kib: self.process.max_rss_kib,
            api_requests: self.requests.total,
            rate_limited: self.requests.rate_limited,
            by_route: self.requests.by_route.clone(),
            exit_code: self.process.exit_code,
            set: check.set,
            not_set: check.not_set,
            truth_mismatches: check.mismatches,
            ocip_totals: None,
            journal_bytes: 0,
            audit_bytes: 0,
        }
    }
}
