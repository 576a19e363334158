//! `bwreset demo` works with no configuration and says the truth matched (or, in a build
//! without the `demo` feature, says that it is not there); completions and help.

use crate::common::{bare_bwreset, text};

#[cfg(feature = "demo")]
#[test]
fn the_demo_runs_end_to_end_without_configuration() {
    let home = tempfile::tempdir().expect("temporary directory");
    let output = bare_bwreset(home.path())
        .args(["demo", "--users", "3"])
        .output()
        .expect("runs");
    let stdout = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "stdout: {stdout}\nstderr: {}",
        text(&output.stderr)
    );
    assert!(
        stdout.contains("record agrees: all 3 password(s) in the output are the ones now"),
        "{stdout}"
    );
    assert!(
        stdout.contains("bwreset reset --type sip"),
        "it shows how to run against a real server: {stdout}"
    );
    // Its simulator stops with it: no hint may send the operator to `resume` against it.
    let stderr = text(&output.stderr);
    assert!(!stderr.contains("bwreset resume"), "{stderr}");
}

#[cfg(not(feature = "demo"))]
#[test]
fn without_the_demo_feature_the_demo_says_so() {
    let home = tempfile::tempdir().expect("temporary directory");
    let output = bare_bwreset(home.path())
        .args(["demo", "--users", "3"])
        .output()
        .expect("runs");
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "stderr: {stderr}");
    assert!(
        stderr.contains("built without the `demo` feature"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty());
}

#[test]
fn completions_are_generated() {
    let home = tempfile::tempdir().expect("temporary directory");
    let output = bare_bwreset(home.path())
        .args(["completions", "bash"])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(0));
    assert!(text(&output.stdout).contains("bwreset"));
}

#[test]
fn help_documents_the_exit_codes_and_an_example() {
    let home = tempfile::tempdir().expect("temporary directory");
    for subcommand in [&["--help"][..], &["reset", "--help"], &["resume", "--help"]] {
        let output = bare_bwreset(home.path())
            .args(subcommand)
            .output()
            .expect("runs");
        let stdout = text(&output.stdout);
        assert_eq!(output.status.code(), Some(0));
        assert!(
            stdout.contains("Exit codes:") && stdout.contains("3  could not start"),
            "{stdout}"
        );
        assert!(stdout.contains("bwreset "), "{stdout}");
    }
}

#[cfg(feature = "demo")]
#[test]
fn the_demo_runs_over_soap() {
    let home = tempfile::tempdir().expect("temporary directory");
    let output = bare_bwreset(home.path())
        .args(["demo", "--users", "3", "--soap"])
        .output()
        .expect("runs");
    let stdout = text(&output.stdout);
    let stderr = text(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(0),
        "stdout: {stdout}\nstderr: {stderr}"
    );
    assert!(
        stderr.contains("/webservice/services/ProvisioningService"),
        "{stderr}"
    );
    assert!(
        stdout.contains("record agrees: all 3 password(s) in the output are the ones now"),
        "{stdout}"
    );
}
