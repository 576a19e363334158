//! `bwreset reset` end to end: every type, the truth checked user by user on the simulator.

use crate::common::{Fixture, mode, read_json_output, text};

/// Resets `users` of a fresh simulator and checks the output against the simulator's truth.
fn reset_and_check(password_type: &str, value_key: &str) {
    let fixture = Fixture::new(6);
    let users: Vec<String> = fixture.user_ids().into_iter().take(5).collect();
    let users_file = fixture.write("users.txt", format!("# to reset\n{}\n", users.join("\n")));
    let out = fixture.path("out.json");

    let output = fixture
        .reset(
            password_type,
            &[
                "--users-file",
                users_file.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
                "--yes",
            ],
        )
        .output()
        .expect("runs");
    assert_eq!(
        output.status.code(),
        Some(0),
        "stderr: {}",
        text(&output.stderr)
    );
    assert!(
        output.stdout.is_empty(),
        "stdout carries no data when the output is a file"
    );

    let rows = read_json_output(&out, value_key);
    let listed: Vec<&str> = rows.iter().map(|(user_id, _)| user_id.as_str()).collect();
    assert_eq!(
        listed,
        users.iter().map(String::as_str).collect::<Vec<_>>(),
        "input order"
    );
    for (user_id, value) in &rows {
        assert_eq!(
            fixture.value_in_effect(user_id, password_type).as_deref(),
            Some(value.as_str()),
            "{user_id}"
        );
    }
    // The sixth user was not listed and is untouched.
    assert_eq!(fixture.total_changes(), 5);

    assert_eq!(mode(&out), 0o600);
    let journal = fixture.path("out.json.journal");
    assert_eq!(mode(&journal), 0o600);
    assert!(
        !fixture.path("out.json.failed.csv").exists(),
        "no failures, no failures file"
    );

    let audit = std::fs::read_to_string(fixture.path("out.json.audit.json")).expect("audit record");
    assert_eq!(mode(&fixture.path("out.json.audit.json")), 0o600);
    for (_, value) in &rows {
        assert!(
            !audit.contains(value.as_str()),
            "the audit record holds no value"
        );
    }
    let audit: serde_json::Value = serde_json::from_str(&audit).expect("audit is JSON");
    let run = &audit["runs"][0];
    assert_eq!(run["type"], password_type);
    assert_eq!(run["set"], 5);
    assert_eq!(run["serverUsername"], "admin");
    assert!(
        run.get("odinUsername").is_none(),
        "the Odin-only name is gone"
    );
    assert_eq!(run["outcomes"].as_array().map(Vec::len), Some(5));

    let stderr = text(&output.stderr);
    assert!(stderr.contains("5 set, 0 failed, 0 uncertain"), "{stderr}");
    assert!(
        stderr.contains(out.to_str().unwrap()),
        "the summary says where the output went: {stderr}"
    );
}

#[test]
fn sip_passwords_are_reset_and_match_the_truth() {
    reset_and_check("sip", "newPassword");
}

#[test]
fn voicemail_passcodes_are_reset_and_match_the_truth() {
    reset_and_check("vm", "newPasscode");
}

#[test]
fn web_passwords_are_reset_and_match_the_truth() {
    reset_and_check("web", "newPassword");
}

#[test]
fn csv_output_with_duplicates_and_a_failure() {
    let fixture = Fixture::new(3);
    let users = fixture.user_ids();
    let out = fixture.path("passcodes.csv");
    let output = fixture
        .reset(
            "VM",
            &[
                "--user",
                &users[0],
                "--user",
                &users[1],
                "--user",
                &users[0],
                "--user",
                "nobody@demo.example",
                "--out",
                out.to_str().unwrap(),
                "--yes",
            ],
        )
        .output()
        .expect("runs");
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "one user failed: {stderr}");
    assert!(
        stderr.contains("duplicates") && stderr.contains(&users[0]),
        "{stderr}"
    );

    let written = std::fs::read_to_string(&out).expect("output");
    let mut lines = written.lines();
    assert_eq!(lines.next(), Some("userId,newPasscode"));
    let rows: Vec<(String, String)> = lines
        .map(|line| {
            let (user_id, value) = line.split_once(',').expect("two columns");
            (user_id.to_owned(), value.to_owned())
        })
        .collect();
    assert_eq!(
        rows.len(),
        2,
        "each user once, the failed one left out: {written}"
    );
    assert_eq!(rows[0].0, users[0]);
    assert_eq!(rows[1].0, users[1]);
    for (user_id, value) in &rows {
        assert_eq!(
            fixture.value_in_effect(user_id, "vm").as_deref(),
            Some(value.as_str())
        );
        assert_eq!(
            fixture
                .simulator
                .credentials(user_id)
                .expect("user")
                .changes
                .vm,
            1,
            "reset once"
        );
    }

    let failures =
        std::fs::read_to_string(fixture.path("passcodes.csv.failed.csv")).expect("failures file");
    assert!(failures.starts_with("userId,status,reason\n"), "{failures}");
    assert!(
        failures.contains("nobody@demo.example,failed,"),
        "{failures}"
    );
    assert_eq!(
        crate::common::mode(&fixture.path("passcodes.csv.failed.csv")),
        0o600
    );
}

#[test]
fn the_failures_file_can_be_fed_back() {
    let fixture = Fixture::new(2);
    let users = fixture.user_ids();
    let failures = fixture.write(
        "previous.failed.csv",
        format!("userId,status,reason\n{},uncertain,timeout\n{},failed,\"[Error 5000] Injected failure, twice\"\n", users[0], users[1]),
    );
    let out = fixture.path("again.json");
    let output = fixture
        .reset(
            "web",
            &[
                "--users-file",
                failures.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
                "--yes",
            ],
        )
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(read_json_output(&out, "newPassword").len(), 2);
}

#[test]
fn all_users_of_the_group_to_stdout() {
    let fixture = Fixture::new(4);
    let journal = fixture.path("run.journal");
    let output = fixture
        .reset(
            "sip",
            &[
                "--all-users",
                "--out",
                "-",
                "--journal",
                journal.to_str().unwrap(),
                "--yes",
            ],
        )
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let rows: Vec<serde_json::Value> =
        serde_json::from_slice(&output.stdout).expect("stdout is the JSON output");
    assert_eq!(rows.len(), 4);
    for row in &rows {
        let user_id = row["userId"].as_str().expect("userId");
        assert_eq!(
            fixture.value_in_effect(user_id, "sip").as_deref(),
            row["newPassword"].as_str()
        );
    }
    assert!(
        fixture.path("run.journal.audit.json").exists(),
        "the audit record goes beside the journal"
    );
}

#[test]
fn without_yes_and_without_a_terminal_nothing_is_changed() {
    let fixture = Fixture::new(3);
    let out = fixture.path("out.json");
    let output = fixture
        .reset("sip", &["--all-users", "--out", out.to_str().unwrap()])
        .output()
        .expect("runs");
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("error: ") && stderr.contains("confirmation") && stderr.contains("--yes"),
        "{stderr}"
    );
    assert_eq!(fixture.total_changes(), 0);
    assert!(
        !out.exists() && !fixture.path("out.json.journal").exists(),
        "no file left behind"
    );
}

#[test]
fn an_existing_output_file_is_never_overwritten() {
    let fixture = Fixture::new(3);
    let out = fixture.write("out.json", "precious\n");
    let output = fixture
        .reset(
            "sip",
            &["--all-users", "--out", out.to_str().unwrap(), "--yes"],
        )
        .output()
        .expect("runs");
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("already exists") && stderr.contains("hint:"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(&out).expect("still there"),
        "precious\n"
    );
    assert_eq!(fixture.total_changes(), 0);
}

#[test]
fn a_symlink_at_the_output_path_is_refused() {
    let fixture = Fixture::new(2);
    let target = fixture.path("elsewhere");
    let out = fixture.path("out.json");
    std::os::unix::fs::symlink(&target, &out).expect("symlink");
    let output = fixture
        .reset(
            "sip",
            &["--all-users", "--out", out.to_str().unwrap(), "--yes"],
        )
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2), "{}", text(&output.stderr));
    assert!(!target.exists());
    assert_eq!(fixture.total_changes(), 0);
}

#[test]
fn dry_run_checks_and_changes_nothing() {
    let fixture = Fixture::new(3);
    let users = fixture.user_ids();
    let out = fixture.path("out.json");
    let output = fixture
        .reset(
            "sip",
            &[
                "--user",
                &users[0],
                "--user",
                &users[1],
                "--user",
                "ghost@demo.example",
                "--out",
                out.to_str().unwrap(),
                "--dry-run",
            ],
        )
        .output()
        .expect("runs");
    let stdout = text(&output.stdout);
    let stderr = text(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(1),
        "one user would be rejected: {stderr}"
    );
    assert!(stdout.starts_with("userId,status,reason\n"), "{stdout}");
    assert!(stdout.contains(&format!("{},ready,", users[0])), "{stdout}");
    assert!(stdout.contains("ghost@demo.example,rejected,"), "{stdout}");
    assert!(stderr.contains("nothing was changed"), "{stderr}");
    assert_eq!(fixture.total_changes(), 0);
    assert!(!out.exists() && !fixture.path("out.json.journal").exists());

    let clean = fixture
        .reset("web", &["--all-users", "--dry-run"])
        .output()
        .expect("runs");
    assert_eq!(clean.status.code(), Some(0), "{}", text(&clean.stderr));
    assert_eq!(fixture.total_changes(), 0);
}

/// A dry run whose result cannot be written (stdout is a pipe nobody reads) says so and exits
/// 2, never 0: the operator did not get the list that was asked for.
#[test]
fn a_dry_run_whose_stdout_is_closed_fails() {
    let fixture = Fixture::new(3);
    let prepared = fixture.reset("sip", &["--all-users", "--dry-run"]);
    // The same program, arguments and environment, with stdout set to the closed pipe (which
    // assert_cmd cannot do).
    let mut command = std::process::Command::new(prepared.get_program());
    command.args(prepared.get_args());
    for (name, value) in prepared.get_envs() {
        match value {
            Some(value) => command.env(name, value),
            None => command.env_remove(name),
        };
    }
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    let output = command
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .expect("runs");
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("error: cannot write the dry run's result to stdout")
            && stderr.contains("nothing was changed"),
        "{stderr}"
    );
    assert_eq!(fixture.total_changes(), 0);
}

/// Full runs at `RUST_LOG=trace`: every crate logs at its most verbose (the client, the engine,
/// and, through the `log` bridge, reqwest, hyper and rustls), on the clean path and through
/// failing, dropped, HTML and ambiguous answers. Nothing printed, nor the failures file, nor the
/// audit record, may hold the login password, a token, or any value the run sent (every
/// `intent` of the journal, the ones rejected or left uncertain included).
#[test]
fn full_runs_at_trace_level_print_no_secret() {
    const LOGIN_SECRET: &str = "Login-Secret-9x";
    let error_paths = odin_sim::Faults {
        fail_rate: 0.2,
        fail_after_rate: 0.3,
        drop_rate: 0.1,
        html_error_rate: 0.3,
        ..odin_sim::Faults::default()
    };
    // A server that quotes what it was sent in its errors: values and the login password.
    let echoes = |rate: f64| odin_sim::Faults {
        echo_secret_rate: rate,
        ..odin_sim::Faults::default()
    };
    // (type, name, faults, exit codes, at least this many values sent)
    let cases = [
        ("sip", "clean", odin_sim::Faults::default(), &[0][..], 4),
        ("vm", "clean", odin_sim::Faults::default(), &[0], 4),
        ("web", "clean", odin_sim::Faults::default(), &[0], 4),
        ("sip", "error paths", error_paths.clone(), &[0, 1], 4),
        ("vm", "error paths", error_paths, &[0, 1], 4),
        ("web", "echoed secrets", echoes(0.5), &[0, 1], 4),
        ("sip", "every secret echoed", echoes(1.0), &[3], 0),
    ];
    for (password_type, name, faults, codes, min_sent) in cases {
        let mut config = odin_sim::SimConfig::with_users(4)
            .with_seed(5)
            .with_faults(faults);
        config.login = ("operator".to_owned(), LOGIN_SECRET.to_owned());
        // 12-digit passcodes: a 6-digit one could turn up by chance in a timestamp.
        config.world.passcode_rules =
            serde_json::from_value(serde_json::json!({"minCodeLength": 12, "maxCodeLength": 12}))
                .expect("passcode rules");
        let fixture = Fixture::with_config(config);
        let out = fixture.path("out.json");
        let output = fixture
            .reset(
                password_type,
                &["--all-users", "--out", out.to_str().unwrap(), "--yes"],
            )
            .env("ODIN_USERNAME", "operator")
            .env("ODIN_PASSWORD", LOGIN_SECRET)
            .env("RUST_LOG", "trace")
            .output()
            .expect("runs");
        let case = format!("{password_type}, {name}");
        let printed = format!("{}{}", text(&output.stdout), text(&output.stderr));
        assert!(
            output
                .status
                .code()
                .is_some_and(|code| codes.contains(&code)),
            "{case}: exit {:?}",
            output.status.code()
        );
        // Trace logging is on, for this code and for the HTTP stack under it.
        assert!(printed.contains("TRACE"), "{case}: no trace line");
        assert!(
            printed.contains("request body") && printed.contains("username,password"),
            "{case}: the request body's field names are traced"
        );
        assert!(
            printed.contains("connect"),
            "{case}: the HTTP stack's own log lines are in the output"
        );

        let mut files = printed.clone();
        for name in ["out.json.failed.csv", "out.json.audit.json"] {
            files.push_str(&std::fs::read_to_string(fixture.path(name)).unwrap_or_default());
        }
        assert!(
            !files.contains(LOGIN_SECRET),
            "{case}: the login password was printed or written"
        );
        // Every JWT starts with the base64 of `{"`: no token is printed either.
        assert!(!files.contains("eyJ"), "{case}: a token was printed");
        let journal = std::fs::read_to_string(fixture.path("out.json.journal")).unwrap_or_default();
        let mut sent = 0;
        for line in journal.lines() {
            let record: serde_json::Value = serde_json::from_str(line).expect("JSON line");
            if record["record"] != "intent" {
                continue;
            }
            sent += 1;
            let value = record["value"].as_str().expect("value");
            assert!(
                !files.contains(value),
                "{case}: a value sent to {} was printed or written outside the output",
                record["user"]
            );
        }
        assert!(sent >= min_sent, "{case}: every user was sent a value");
        if name.contains("echo") {
            assert!(
                printed.contains("[redacted]"),
                "{case}: the echoes were seen, and redacted"
            );
        }
    }
}

#[test]
fn files_are_private_whatever_the_umask() {
    for umask in ["000", "277"] {
        let fixture = Fixture::new(2);
        let users = fixture.user_ids();
        let out = fixture.path("out.json");
        let binary = assert_cmd::cargo::cargo_bin("bwreset");
        let output = fixture
            .with_environment(assert_cmd::Command::new("sh"))
            .env("BWRESET_UNDER_TEST", binary)
            .args([
                "-c",
                &format!("umask {umask} && exec \"$BWRESET_UNDER_TEST\" \"$@\""),
                "bwreset",
            ])
            .args([
                "reset",
                "--type",
                "sip",
                "--service-provider",
                "demo-sp",
                "--group",
                "demo-group",
            ])
            .args([
                "--user",
                &users[0],
                "--user",
                "ghost@demo.example",
                "--out",
                out.to_str().unwrap(),
                "--yes",
            ])
            .output()
            .expect("runs");
        assert_eq!(
            output.status.code(),
            Some(1),
            "umask {umask}: {}",
            text(&output.stderr)
        );
        for name in [
            "out.json",
            "out.json.journal",
            "out.json.failed.csv",
            "out.json.audit.json",
        ] {
            assert_eq!(mode(&fixture.path(name)), 0o600, "umask {umask}: {name}");
        }
    }
}

#[test]
fn a_config_file_profile_supplies_the_connection() {
    let fixture = Fixture::new(2);
    let config = fixture.write(
        "bwreset.toml",
        format!(
            "base_url = \"https://wrong.example/api/v2\"\n\n[profiles.lab]\nbase_url = \"{}\"\nusername = \"admin\"\nconcurrency = 2\n",
            fixture.simulator.base_url()
        ),
    );
    let out = fixture.path("out.json");
    let output = fixture
        .reset(
            "web",
            &[
                "--all-users",
                "--out",
                out.to_str().unwrap(),
                "--yes",
                "--profile",
                "lab",
            ],
        )
        .env_remove("ODIN_BASE_URL")
        .env_remove("ODIN_USERNAME")
        .env("BWRESET_CONFIG", &config)
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(read_json_output(&out, "newPassword").len(), 2);
}

#[test]
fn thousands_of_duplicates_are_reset_once_and_reported() {
    let fixture = Fixture::new(2);
    let users = fixture.user_ids();
    let listing: String = (0..3000)
        .map(|index| format!("{}\r\n", users[index % 2]))
        .collect();
    let users_file = fixture.write("users.txt", listing);
    let out = fixture.path("out.json");
    let output = fixture
        .reset(
            "sip",
            &[
                "--users-file",
                users_file.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
                "--yes",
            ],
        )
        .output()
        .expect("runs");
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("2 users were listed more than once") && stderr.contains("1500x"),
        "{stderr}"
    );
    assert_eq!(read_json_output(&out, "newPassword").len(), 2);
    assert_eq!(fixture.total_changes(), 2, "each user reset once");
}

/// User IDs with `&`, `?`, `#`, `%`, `+` and spaces travel percent-encoded in query strings and
/// as they are in JSON bodies: the simulator sees (and changes) exactly the user named, never a
/// decoy that a wrong encoding or decoding would reach (`%41` read as `A`, `+` read as a space).
#[test]
fn user_ids_with_url_special_characters_reach_the_server_exactly() {
    const SPECIAL: [&str; 6] = [
        "a&b=c@demo.example",
        "q?x=1@demo.example",
        "h#frag@demo.example",
        "p%41c@demo.example",
        "plus+tag@demo.example",
        "with space@demo.example",
    ];
    const DECOYS: [&str; 5] = [
        "a@demo.example",
        "q@demo.example",
        "h@demo.example",
        "pAc@demo.example",
        "plus tag@demo.example",
    ];
    let mut config = odin_sim::SimConfig::with_users(1);
    for (index, user_id) in SPECIAL.iter().chain(DECOYS.iter()).enumerate() {
        let user: odin_sim::UserSpec = serde_json::from_value(serde_json::json!({
            "userId": user_id,
            "sipUserName": format!("special{index}"),
        }))
        .expect("user spec");
        config.world.service_providers[0].groups[0].users.push(user);
    }
    let fixture = Fixture::with_config(config);
    for password_type in ["sip", "web"] {
        let out = fixture.path(&format!("{password_type}.json"));
        let users_file = fixture.write(
            &format!("{password_type}-users.txt"),
            SPECIAL.join("\n") + "\n",
        );
        let output = fixture
            .reset(
                password_type,
                &[
                    "--users-file",
                    users_file.to_str().unwrap(),
                    "--out",
                    out.to_str().unwrap(),
                    "--yes",
                ],
            )
            .output()
            .expect("runs");
        assert_eq!(
            output.status.code(),
            Some(0),
            "{password_type}: {}",
            text(&output.stderr)
        );
        let rows = read_json_output(&out, "newPassword");
        let listed: Vec<&str> = rows.iter().map(|(user_id, _)| user_id.as_str()).collect();
        assert_eq!(
            listed, SPECIAL,
            "{password_type}: each user by its exact ID"
        );
        for (user_id, value) in &rows {
            assert!(
                fixture.value_in_effect(user_id, password_type).as_deref() == Some(value.as_str()),
                "{password_type}: the value of `{user_id}` is the one in effect"
            );
        }
    }
    for user_id in SPECIAL {
        let changes = fixture
            .simulator
            .credentials(user_id)
            .expect("user")
            .changes;
        assert_eq!(
            (changes.sip, changes.web),
            (1, 1),
            "`{user_id}` changed once each"
        );
    }
    for user_id in DECOYS {
        let changes = fixture
            .simulator
            .credentials(user_id)
            .expect("decoy")
            .changes;
        assert_eq!(
            (changes.sip, changes.vm, changes.web),
            (0, 0, 0),
            "decoy `{user_id}` untouched"
        );
    }
}

/// The screens name what they count: the dry run names the users listed twice, and the failures
/// line says, by reason, what a retry can do (nothing for a user the server does not know).
#[test]
fn the_dry_run_names_duplicates_and_the_failures_line_follows_the_reasons() {
    let fixture = Fixture::new(3);
    let user = fixture.user_ids()[0].clone();
    let output = fixture
        .reset("vm", &["--user", &user, "--user", &user, "--dry-run"])
        .output()
        .unwrap();
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "1 listed more than once (each would be reset once): `{user}` (2x)"
        )),
        "{stderr}"
    );

    let out = fixture.path("out.json");
    let output = fixture
        .reset(
            "vm",
            &[
                "--user",
                &user,
                "--user",
                "nobody@nowhere.example",
                "--out",
                out.to_str().unwrap(),
                "--yes",
            ],
        )
        .output()
        .unwrap();
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("1 not found on the server: nothing to retry"),
        "{stderr}"
    );
    assert!(!stderr.contains("to try again"), "{stderr}");
}
