//! `reset --new-user-names` (issue 26) through the binary: bad requests end with exit 2 before
//! anything changes; a run without a phone follow-up sets every user's name and password, writes
//! `newUserName` after `userId`, and ends with exit 1 and the hint that finishes the phones.

use crate::common::{Fixture, text};

#[test]
fn bad_requests_for_new_user_names_change_nothing_and_say_what_to_do() {
    let fixture = Fixture::new(3);
    let out = fixture.path("out.csv");
    let out = out.to_str().unwrap();
    let bad_config = fixture.write(
        "names.toml",
        "new_user_names = true\nuser_name_template = \"{random:7}\"\n",
    );
    let users_file = fixture.write("odd.txt", "user0001@demo.example\nann+1@demo.example\n");
    let cases: Vec<(&str, Vec<&str>, &[&str])> = vec![
        (
            "vm",
            vec!["--all-users", "--new-user-names"],
            &["`--new-user-names` is for SIP resets only", "hint:"],
        ),
        (
            "web",
            vec!["--all-users", "--new-user-names"],
            &["`--new-user-names` is for SIP resets only"],
        ),
        (
            "sip",
            vec!["--all-users", "--user-name-template", "{random}"],
            &["without `--new-user-names`", "hint: add `--new-user-names`"],
        ),
        (
            "sip",
            vec![
                "--all-users",
                "--new-user-names",
                "--user-name-template",
                "sip-{local}",
            ],
            &[
                "has no random part",
                "hint: a template holds one `{random}`",
            ],
        ),
        (
            "sip",
            vec![
                "--all-users",
                "--new-user-names",
                "--user-name-template",
                "{random:7}",
            ],
            &["has 7 characters; at least 8 are needed"],
        ),
        (
            "sip",
            vec![
                "--all-users",
                "--new-user-names",
                "--user-name-template",
                "{phone}{random}",
            ],
            &["unknown placeholder `{phone}`"],
        ),
        (
            "sip",
            vec![
                "--all-users",
                "--new-user-names",
                "--user-name-template",
                "a b{random}",
            ],
            &["`a b{random}` has ` `, which a user name may not hold"],
        ),
        (
            "sip",
            vec![
                "--all-users",
                "--new-user-names",
                "--user-name-template",
                "{random:81}",
            ],
            &["at most 80 are allowed"],
        ),
        (
            "sip",
            vec![
                "--users-file",
                users_file.to_str().unwrap(),
                "--new-user-names",
                "--user-name-template",
                "{local}{random}",
            ],
            &["makes no valid name for user `ann+1@demo.example`"],
        ),
        (
            "sip",
            vec!["--all-users", "--config", bad_config.to_str().unwrap()],
            &["the config file's `user_name_template`", "at least 8"],
        ),
    ];
    for (password_type, mut rest, words) in cases {
        rest.extend(["--out", out, "--yes"]);
        let output = fixture.reset(password_type, &rest).output().unwrap();
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{rest:?}\n{stderr}");
        for word in words {
            assert!(
                stderr.contains(word),
                "{rest:?}: missing `{word}`\n{stderr}"
            );
        }
        assert!(
            !std::path::Path::new(out).exists(),
            "{rest:?} wrote its output"
        );
        assert_eq!(fixture.total_changes(), 0, "{rest:?} changed something");
    }
}

#[test]
fn a_run_with_new_user_names_and_no_phone_follow_up_is_not_done() {
    let fixture = Fixture::new(4);
    let before = sip_user_names(&fixture);
    // A dry run says what the names do to the phones, and changes nothing.
    let dry = fixture
        .reset("sip", &["--all-users", "--new-user-names", "--dry-run"])
        .output()
        .unwrap();
    let dry_stderr = text(&dry.stderr);
    assert_eq!(dry.status.code(), Some(0), "{dry_stderr}");
    assert!(
        dry_stderr.contains("dry run: user names: new SIP user names from `{random}`: every phone"),
        "{dry_stderr}"
    );
    assert_eq!(fixture.total_changes(), 0);
    let out = fixture.path("out.csv");
    let output = fixture
        .reset(
            "sip",
            &[
                "--all-users",
                "--new-user-names",
                "--devices",
                "none",
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
        stderr.contains("every phone of these users stops registering until its configuration is rebuilt and it is reset"),
        "{stderr}"
    );
    assert!(stderr.contains("the job is not done"), "{stderr}");
    let journal = fixture.path("out.csv.journal");
    assert!(
        stderr.contains(&format!(
            "hint: finish it with `bwreset resume --journal {} --devices reset`",
            journal.display()
        )),
        "{stderr}"
    );
    let csv = std::fs::read_to_string(&out).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("userId,newUserName,newPassword"));
    let mut names = std::collections::BTreeSet::new();
    for line in lines {
        let fields: Vec<&str> = line.split(',').collect();
        let truth = fixture.simulator.credentials(fields[0]).unwrap();
        assert_eq!(truth.sip_user_name.as_deref(), Some(fields[1]));
        assert!(
            truth.sip_password.as_deref() == Some(fields[2]),
            "{}",
            fields[0]
        );
        assert!(
            !before.contains(&Some(fields[1].to_owned())),
            "{} kept a name",
            fields[0]
        );
        assert!(names.insert(fields[1].to_owned()));
    }
    assert_eq!(names.len(), 4);
    // The journal names the template, and every intent its name; no value is on stderr.
    let journal_text = std::fs::read_to_string(&journal).unwrap();
    assert!(journal_text.contains("\"userNameTemplate\":\"{random}\""));
    assert_eq!(journal_text.matches("\"userName\":").count(), 4);
    for credentials in fixture.simulator.all_credentials() {
        assert!(!stderr.contains(credentials.sip_password.as_deref().unwrap()));
    }
}

#[test]
fn new_user_names_with_phones_only_rebuilt_are_not_done_and_with_phones_reset_are() {
    let fixture = Fixture::new(3);
    let rebuilt = fixture.path("rebuilt.csv");
    let output = fixture
        .reset(
            "sip",
            &[
                "--all-users",
                "--new-user-names",
                "--devices",
                "rebuild",
                "--out",
                rebuilt.to_str().unwrap(),
                "--yes",
            ],
        )
        .output()
        .unwrap();
    let stderr = text(&output.stderr);
    // Rebuilt, not reset: the phones still hold the old halves and stop registering.
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("the job is not done: the phones were rebuilt, not reset"),
        "{stderr}"
    );
    assert!(
        stderr.contains("--devices reset`"),
        "the hint finishes the phones: {stderr}"
    );

    let reset = fixture.path("reset.csv");
    let output = fixture
        .reset(
            "sip",
            &[
                "--all-users",
                "--new-user-names",
                "--devices",
                "reset",
                "--reset-rate",
                "100",
                "--out",
                reset.to_str().unwrap(),
                "--yes",
            ],
        )
        .output()
        .unwrap();
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    // Once the phones are rebuilt and reset, the summary no longer says they stop registering:
    // the devices line says how they came back.
    assert!(!stderr.contains("stops registering"), "{stderr}");
    assert!(!stderr.contains("the job is not done"), "{stderr}");
    assert!(stderr.contains("registered again"), "{stderr}");
}

/// `--no-new-user-names` switches off a config file's `new_user_names = true`: the names stay,
/// the passwords change, and the output has no `newUserName` column.
#[test]
fn no_new_user_names_beats_the_config_file() {
    let fixture = Fixture::new(3);
    let names_config = fixture.write(
        "names.toml",
        "new_user_names = true\nuser_name_template = \"sip-{random:9}\"\n",
    );
    let before = sip_user_names(&fixture);
    let out = fixture.path("out.csv");
    let output = fixture
        .reset(
            "sip",
            &[
                "--all-users",
                "--config",
                names_config.to_str().unwrap(),
                "--no-new-user-names",
                "--out",
                out.to_str().unwrap(),
                "--yes",
            ],
        )
        .output()
        .unwrap();
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let csv = std::fs::read_to_string(&out).unwrap();
    assert_eq!(csv.lines().next(), Some("userId,newPassword"));
    assert_eq!(csv.lines().count(), 4);
    let after = sip_user_names(&fixture);
    assert_eq!(after, before);
    assert_eq!(fixture.total_changes(), 3);
}

/// Every user's SIP authentication user name in the simulator's truth, in its order.
fn sip_user_names(fixture: &Fixture) -> Vec<Option<String>> {
    fixture
        .simulator
        .all_credentials()
        .into_iter()
        .map(|credentials| credentials.sip_user_name)
        .collect()
}
