//! The screens, one snapshot each.

use std::path::Path;
use std::process::Output;

use crate::common::{self, Fixture, GROUP, PASSWORD, SERVICE_PROVIDER};
use crate::terminal;

/// The exit code, stdout and stderr of a run, as one text to compare.
pub(crate) fn screen(output: &Output) -> String {
    let mut text = format!("exit code: {:?}\n", output.status.code());
    for (name, bytes) in [("stdout", &output.stdout), ("stderr", &output.stderr)] {
        if !bytes.is_empty() {
            text.push_str(&format!("----- {name} -----\n{}", common::text(bytes)));
        }
    }
    text
}

/// Compares `text` with the snapshot `name`, with what changes from run to run replaced: the
/// test's directory, the simulator's port, a run's duration and dates.
pub(crate) fn assert_screen(name: &str, text: &str, directory: &Path) {
    let text = text.replace(&directory.display().to_string(), "[DIR]");
    let mut settings = insta::Settings::clone_current();
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.add_filter(r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]");
    settings.add_filter(r"\bin \d+(\.\d+)? s\b", "in [SECONDS] s");
    settings.add_filter(
        r"\(phones \d+(\.\d+)? s; \d+(\.\d+)? s in all\)",
        "(phones [SECONDS] s; [SECONDS] s in all)",
    );
    settings.add_filter(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", "[TIME]");
    settings.add_filter(r"\d{8}T\d{6}Z", "[STAMP]");
    settings.add_filter(r"\(\d+ day\(s\) left\)", "([DAYS] day(s) left)");
    settings.bind(|| insta::assert_snapshot!(name, text));
}

fn help_of(arguments: &[&str]) -> String {
    let home = tempfile::tempdir().unwrap();
    // clap wraps the help at the terminal's width, which `COLUMNS` can name.
    let output = common::bare_bwreset(home.path())
        .env_remove("COLUMNS")
        .args(arguments)
        .arg("--help")
        .output()
        .unwrap();
    screen(&output)
}

#[test]
fn the_help_of_every_command() {
    let directory = tempfile::tempdir().unwrap();
    for (name, arguments) in [
        ("help_main", &[][..]),
        ("help_reset", &["reset"][..]),
        ("help_resume", &["resume"][..]),
        ("help_check", &["check"][..]),
        ("help_demo", &["demo"][..]),
        ("help_completions", &["completions"][..]),
    ] {
        assert_screen(name, &help_of(arguments), directory.path());
    }
}

/// The binary as `Fixture::bwreset` gives it, but as a `std::process::Command` (for a terminal).
fn plain_command(fixture: &Fixture) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_bwreset"));
    let home = fixture.directory.path();
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("TMPDIR", home)
        .env("ODIN_BASE_URL", fixture.simulator.base_url())
        .env("ODIN_USERNAME", "admin")
        .env("ODIN_PASSWORD", PASSWORD);
    command
}

#[test]
fn the_confirmation_refused() {
    let fixture = Fixture::new(3);
    let out = fixture.path("sip.json");
    let mut command = plain_command(&fixture);
    command.args([
        "reset",
        "--type",
        "sip",
        "--service-provider",
        SERVICE_PROVIDER,
        "--group",
        GROUP,
        "--user",
        "user0001@demo.example",
        "--user",
        "user0002@demo.example",
        "--out",
        out.to_str().unwrap(),
    ]);
    let output = terminal::run_answering(command, "n");
    assert_eq!(output.status.code(), Some(2), "{}", screen(&output));
    assert_eq!(fixture.total_changes(), 0);
    assert_screen("confirmation", &screen(&output), fixture.directory.path());
}

#[test]
fn the_summary_of_a_clean_run() {
    let fixture = Fixture::new(3);
    let out = fixture.path("sip.json");
    let output = fixture
        .reset(
            "sip",
            &["--all-users", "--out", out.to_str().unwrap(), "--yes"],
        )
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", screen(&output));
    assert_screen("summary_exit_0", &screen(&output), fixture.directory.path());
}

#[test]
fn the_summary_of_a_run_with_a_user_not_set() {
    let fixture = Fixture::new(3);
    let out = fixture.path("sip.csv");
    let output = fixture
        .reset(
            "sip",
            &[
                "--user",
                "user0001@demo.example",
                "--user",
                "nobody@demo.example",
                "--out",
                out.to_str().unwrap(),
                "--yes",
            ],
        )
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", screen(&output));
    assert_screen("summary_exit_1", &screen(&output), fixture.directory.path());
}

#[test]
fn the_error_of_bad_settings() {
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("bwreset.toml");
    std::fs::write(
        &config,
        "[profiles.lab]\nserver = \"ocip://127.0.0.1\"\n\n[profiles.prod]\nserver = \"ocips://bw.example.net\"\n",
    )
    .unwrap();
    let output = common::bare_bwreset(home.path())
        .args(["check", "--config", config.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", screen(&output));
    assert_screen("error_exit_2", &screen(&output), home.path());
}

#[test]
fn the_error_of_a_refused_login() {
    let fixture = Fixture::new(3);
    let out = fixture.path("sip.json");
    let output = fixture
        .reset(
            "sip",
            &["--all-users", "--out", out.to_str().unwrap(), "--yes"],
        )
        .env("ODIN_PASSWORD", "not-the-password")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3), "{}", screen(&output));
    assert_eq!(fixture.total_changes(), 0);
    assert_screen("error_exit_3", &screen(&output), fixture.directory.path());
}

#[test]
fn the_check_screen() {
    let fixture = Fixture::new(3);
    let output = fixture
        .bwreset()
        .args([
            "check",
            "--service-provider",
            SERVICE_PROVIDER,
            "--group",
            GROUP,
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", screen(&output));
    assert_screen("check", &screen(&output), fixture.directory.path());
}

/// A variable left from an earlier `export` beats the server and login of an explicit profile:
/// said on stderr before anything is sent, and on `check`'s screen with every source.
#[test]
fn the_check_screen_with_a_profile_overridden_by_variables() {
    let fixture = Fixture::new(3);
    let config = fixture.write(
        "bwreset.toml",
        "[profiles.prod]\nserver = \"https://prod.example.invalid/api/v2\"\nusername = \"ops-admin\"\n\n[profiles.lab]\nserver = \"ocip://127.0.0.1\"\n",
    );
    let output = fixture
        .bwreset()
        .args([
            "check",
            "--config",
            config.to_str().unwrap(),
            "--profile",
            "prod",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", screen(&output));
    let stderr = common::text(&output.stderr);
    assert!(stderr.starts_with("warning: `ODIN_BASE_URL`"), "{stderr}");
    assert_screen(
        "check_profile_overridden",
        &screen(&output),
        fixture.directory.path(),
    );
}

/// The resume's confirmation counts each kind of user left apart (never started, failed,
/// uncertain), says which of the run's files exist, and where the settings came from.
#[test]
fn the_resume_confirmation_counts_each_kind_apart() {
    let fixture = Fixture::new(3);
    let out = fixture.path("vm.json");
    let output = fixture
        .reset(
            "vm",
            &[
                "--user",
                "user0001@demo.example",
                "--user",
                "user0002@demo.example",
                "--user",
                "user0003@demo.example",
                "--user",
                "nobody@demo.example",
                "--out",
                out.to_str().unwrap(),
                "--yes",
            ],
        )
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", screen(&output));
    // As a stop would leave it: user0002 sent without an answer, user0003 never started, and
    // no output written yet.
    let journal = fixture.path("vm.json.journal");
    let text = std::fs::read_to_string(&journal).unwrap();
    let kept: String = text
        .lines()
        .filter(|line| {
            let user2 = line.contains("\"user0002@demo.example\"");
            let user3 = line.contains("\"user0003@demo.example\"");
            let outcome = line.contains("\"record\":\"outcome\"");
            let intent = line.contains("\"record\":\"intent\"");
            !((user2 && outcome) || (user3 && (outcome || intent)))
        })
        .map(|line| format!("{line}\n"))
        .collect();
    std::fs::write(&journal, kept).unwrap();
    std::fs::remove_file(&out).unwrap();
    let changes = fixture.total_changes();

    let mut command = plain_command(&fixture);
    command.args(["resume", "--journal", journal.to_str().unwrap()]);
    let output = terminal::run_answering(command, "n");
    assert_eq!(output.status.code(), Some(2), "{}", screen(&output));
    assert_eq!(fixture.total_changes(), changes);
    assert_screen(
        "resume_confirmation",
        &screen(&output),
        fixture.directory.path(),
    );
}
