//! Hostile servers: each simulator fault must end in a clear message and the right exit code,
//! and nothing may be lost: every value in the output is the one in effect, and every user whose
//! credential changed without being in the output is listed as uncertain in the failures file.

use std::path::Path;
use std::process::Output;

use odin_sim::{Faults, SimConfig};

use crate::common::{Fixture, text};

const USERS: usize = 6;

/// Every user in the output has the value in effect; every changed user is in the output or
/// listed as uncertain.
fn assert_nothing_lost(fixture: &Fixture, out: &Path, password_type: &str) {
    let value_key = if password_type == "vm" {
        "newPasscode"
    } else {
        "newPassword"
    };
    let rows = if out.exists() {
        crate::common::read_json_output(out, value_key)
    } else {
        Vec::new()
    };
    for (user_id, value) in &rows {
        assert_eq!(
            fixture.value_in_effect(user_id, password_type).as_deref(),
            Some(value.as_str()),
            "the output's value of {user_id} is the one in effect"
        );
    }
    let failures_path = {
        let mut name = out.as_os_str().to_owned();
        name.push(".failed.csv");
        std::path::PathBuf::from(name)
    };
    let failures = std::fs::read_to_string(&failures_path).unwrap_or_default();
    for credentials in fixture.simulator.all_credentials() {
        let changes = match password_type {
            "sip" => credentials.changes.sip,
            "vm" => credentials.changes.vm,
            _ => credentials.changes.web,
        };
        let in_output = rows
            .iter()
            .any(|(user_id, _)| *user_id == credentials.user_id);
        if changes > 0 && !in_output {
            assert!(
                failures.contains(&format!("{},uncertain,", credentials.user_id)),
                "{} changed but is neither in the output nor uncertain:\n{failures}",
                credentials.user_id
            );
        }
    }
}

fn run(fixture: &Fixture, password_type: &str, out: &Path) -> Output {
    fixture
        .reset(
            password_type,
            &["--all-users", "--out", out.to_str().unwrap(), "--yes"],
        )
        .output()
        .expect("runs")
}

struct Case {
    name: &'static str,
    password_type: &'static str,
    faults: Faults,
    /// Exit codes accepted (random faults may or may not hit the last attempt).
    codes: &'static [i32],
    words: &'static [&'static str],
}

/// Faults that stop the run at login: exit 3, and nothing changed.
fn login_failure_cases() -> Vec<Case> {
    vec![
        Case {
            name: "login answered with an HTML error page",
            password_type: "sip",
            faults: Faults {
                html_error_rate: 1.0,
                ok_with_error_rate: 1.0,
                ..Faults::default()
            },
            codes: &[3],
            words: &["nothing was changed"],
        },
        Case {
            name: "every answer followed by an enormous body",
            password_type: "web",
            faults: Faults {
                enormous_body_rate: 1.0,
                ..Faults::default()
            },
            codes: &[3],
            words: &["nothing was changed"],
        },
        Case {
            name: "every 2xx answer truncated",
            password_type: "vm",
            faults: Faults {
                truncated_json_rate: 1.0,
                ..Faults::default()
            },
            codes: &[3],
            words: &["nothing was changed"],
        },
        Case {
            name: "every answer a 200 carrying an error body",
            password_type: "web",
            faults: Faults {
                ok_with_error_rate: 1.0,
                ..Faults::default()
            },
            codes: &[3],
            words: &["cannot log in", "nothing was changed"],
        },
        Case {
            name: "errors quoting the login password",
            password_type: "sip",
            faults: Faults {
                echo_secret_rate: 1.0,
                ..Faults::default()
            },
            codes: &[3],
            words: &["cannot log in", "`[redacted]`", "nothing was changed"],
        },
    ]
}

/// Generated values the run must refuse: empty, of the wrong kind, with control characters,
/// against the rules, or repeated.
fn bad_value_cases() -> Vec<Case> {
    vec![
        Case {
            name: "the generator answers empty strings",
            password_type: "sip",
            faults: Faults {
                empty_value_rate: 1.0,
                ..Faults::default()
            },
            codes: &[1],
            words: &["0 set", "failures"],
        },
        Case {
            name: "letters in passcodes",
            password_type: "vm",
            faults: Faults {
                wrong_kind_rate: 1.0,
                ..Faults::default()
            },
            codes: &[1],
            words: &["0 set", "failures"],
        },
        Case {
            name: "control characters in generated values",
            password_type: "web",
            faults: Faults {
                control_char_rate: 1.0,
                ..Faults::default()
            },
            codes: &[1],
            words: &["0 set", "failures"],
        },
        Case {
            name: "generated values that break the rules",
            password_type: "sip",
            faults: Faults {
                bad_value_rate: 1.0,
                ..Faults::default()
            },
            codes: &[1],
            words: &["0 set", "failures"],
        },
        Case {
            name: "numbers instead of password strings",
            password_type: "web",
            faults: Faults {
                wrong_kind_rate: 1.0,
                ..Faults::default()
            },
            codes: &[1],
            words: &["0 set", "failures"],
        },
        Case {
            name: "the generator repeats itself",
            password_type: "web",
            faults: Faults {
                duplicate_value_rate: 1.0,
                ..Faults::default()
            },
            codes: &[0, 1],
            words: &["set"],
        },
    ]
}

/// Faults that hit now and then: the run ends 0 or 1, saying what it set and where its journal is.
fn occasional_fault_cases() -> Vec<Case> {
    vec![
        Case {
            name: "now and then a 200 carrying an error body",
            password_type: "sip",
            faults: Faults {
                ok_with_error_rate: 0.3,
                ..Faults::default()
            },
            codes: &[0, 1],
            words: &["set,", "journal:"],
        },
        Case {
            name: "now and then an HTML error page after login",
            password_type: "vm",
            faults: Faults {
                fail_rate: 0.4,
                html_error_rate: 1.0,
                ..Faults::default()
            },
            codes: &[0, 1],
            words: &["set,", "journal:"],
        },
        Case {
            name: "now and then a truncated answer, after the value took effect",
            password_type: "web",
            faults: Faults {
                truncated_json_rate: 0.3,
                ..Faults::default()
            },
            codes: &[0, 1],
            words: &["set,", "journal:"],
        },
        Case {
            name: "now and then an enormous body",
            password_type: "sip",
            faults: Faults {
                enormous_body_rate: 0.2,
                ..Faults::default()
            },
            codes: &[0, 1],
            words: &["set,", "journal:"],
        },
        Case {
            name: "now and then an answer naming another user",
            password_type: "vm",
            faults: Faults {
                other_user_rate: 0.3,
                ..Faults::default()
            },
            codes: &[0, 1],
            words: &["set,", "journal:"],
        },
        Case {
            name: "now and then an error quoting the value sent, after it took effect",
            password_type: "web",
            faults: Faults {
                echo_secret_rate: 0.4,
                ..Faults::default()
            },
            codes: &[0, 1],
            words: &["set,", "journal:"],
        },
    ]
}

/// Odd answers a run must get through with every user set.
fn harmless_oddity_cases() -> Vec<Case> {
    vec![
        Case {
            // A real run reads no single user's answer (membership comes from the listing, the
            // rest from the setters' answers), so such answers cannot mislead it.
            name: "answers naming another user",
            password_type: "sip",
            faults: Faults {
                other_user_rate: 1.0,
                ..Faults::default()
            },
            codes: &[0],
            words: &["6 set, 0 failed, 0 uncertain"],
        },
        Case {
            name: "a generator capped at one value per answer",
            password_type: "vm",
            faults: Faults {
                generator_cap: Some(1),
                ..Faults::default()
            },
            codes: &[0],
            words: &["6 set, 0 failed, 0 uncertain"],
        },
    ]
}

#[test]
fn hostile_answers_end_clearly_and_lose_nothing() {
    let cases: Vec<Case> = [
        login_failure_cases(),
        bad_value_cases(),
        occasional_fault_cases(),
        harmless_oddity_cases(),
    ]
    .into_iter()
    .flatten()
    .collect();

    let mut problems = Vec::new();
    for case in &cases {
        let fixture = Fixture::with_config(
            SimConfig::with_users(USERS)
                .with_seed(7)
                .with_faults(case.faults.clone()),
        );
        let out = fixture.path("out.json");
        let output = run(&fixture, case.password_type, &out);
        let stderr = text(&output.stderr);
        if !output
            .status
            .code()
            .is_some_and(|code| case.codes.contains(&code))
        {
            problems.push(format!(
                "{}: exit {:?}, expected one of {:?}\n{stderr}",
                case.name,
                output.status.code(),
                case.codes
            ));
            continue;
        }
        for word in case.words {
            if !stderr.contains(word) {
                problems.push(format!("{}: message lacks `{word}`\n{stderr}", case.name));
            }
        }
        if stderr.contains("panicked") {
            problems.push(format!("{}: panic\n{stderr}", case.name));
        }
        if output.status.code() == Some(3) {
            assert_eq!(
                fixture.total_changes(),
                0,
                "{}: exit 3 promises nothing changed",
                case.name
            );
        }
        assert_nothing_lost(&fixture, &out, case.password_type);
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

#[test]
fn a_run_through_faults_is_finished_by_resume_and_loses_nothing() {
    let faults = Faults {
        fail_after_rate: 0.3,
        drop_rate: 0.1,
        fail_rate: 0.1,
        ..Faults::default()
    };
    let fixture = Fixture::with_config(SimConfig::with_users(12).with_seed(11).with_faults(faults));
    let out = fixture.path("out.json");
    let first = run(&fixture, "sip", &out);
    let stderr = text(&first.stderr);
    assert!(matches!(first.status.code(), Some(0 | 1)), "{stderr}");
    assert_nothing_lost(&fixture, &out, "sip");

    fixture.simulator.set_faults(Faults::default());
    let journal = fixture.path("out.json.journal");
    let resumed = fixture
        .bwreset()
        .args(["resume", "--journal", journal.to_str().unwrap(), "--yes"])
        .output()
        .expect("runs");
    assert_eq!(resumed.status.code(), Some(0), "{}", text(&resumed.stderr));
    assert_nothing_lost(&fixture, &out, "sip");
    let rows = crate::common::read_json_output(&out, "newPassword");
    assert_eq!(
        rows.len(),
        12,
        "every user is in the output after the resume"
    );
    assert!(
        !fixture.path("out.json.failed.csv").exists(),
        "no failure is left to list"
    );
}
