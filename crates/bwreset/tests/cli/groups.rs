//! Runs across groups (`--targets FILE`, `--service-provider SP --all-groups`) against a
//! simulator of two service providers of three groups each: outputs compared with the
//! simulator's truth, the wrong-group and unknown users, the bad inputs, and the same run over
//! OCI-P.

use std::collections::BTreeMap;

use odin_sim::{OcipFrontConfig, SimConfig};

use crate::common::{Fixture, text};

/// Two service providers (`sp1`, `sp2`) of three groups (`sp1-g1`, ...) of three users each,
/// with an OCI-P front too.
fn fixture() -> Fixture {
    Fixture::with_config(SimConfig::with_groups(2, 3, 3).with_ocip(OcipFrontConfig::default()))
}

fn user(group: &str, number: usize) -> String {
    format!("{group}-user{number:04}@demo.example")
}

/// A targets file over four groups of two service providers, as a spreadsheet saves it (a
/// byte-order mark, CRLF, the columns in another order, one more column, a comment, a blank
/// line), with a user listed under a group it is not in, an unknown user and a duplicate.
fn targets_text() -> String {
    let rows = [
        ("sp1", "sp1-g1", user("sp1-g1", 1)),
        ("sp2", "sp2-g2", user("sp2-g2", 3)),
        // In sp1-g2, listed under sp1-g1: must not be touched.
        ("sp1", "sp1-g1", user("sp1-g2", 1)),
        ("sp1", "sp1-g3", user("sp1-g3", 2)),
        ("sp2", "sp2-g1", "ghost@demo.example".to_owned()),
        ("sp2", "sp2-g1", user("sp2-g1", 1)),
        ("sp1", "sp1-g1", user("sp1-g1", 2)),
        // Again: reset once, reported.
        ("sp2", "sp2-g2", user("sp2-g2", 3)),
    ];
    let mut text =
        String::from("\u{feff}# incident 4711\r\nuserId,note,GROUPID,serviceProviderId\r\n\r\n");
    for (provider, group, user) in rows {
        text.push_str(&format!("{user},x,{group},{provider}\r\n"));
    }
    text
}

/// The users the targets file gets set, in its order, with their groups.
fn expected_set() -> Vec<(String, String, String)> {
    [
        ("sp1", "sp1-g1", user("sp1-g1", 1)),
        ("sp2", "sp2-g2", user("sp2-g2", 3)),
        ("sp1", "sp1-g3", user("sp1-g3", 2)),
        ("sp2", "sp2-g1", user("sp2-g1", 1)),
        ("sp1", "sp1-g1", user("sp1-g1", 2)),
    ]
    .map(|(provider, group, user)| (provider.to_owned(), group.to_owned(), user))
    .to_vec()
}

fn reset_across(fixture: &Fixture, password_type: &str, rest: &[&str]) -> std::process::Output {
    let mut command = fixture.bwreset();
    command.args(["reset", "--type", password_type]).args(rest);
    command.output().expect("runs")
}

/// The rows of a JSON output across groups: (serviceProviderId, groupId, userId, value), each
/// row's keys checked to be exactly these four, `userId` first.
fn json_rows(path: &std::path::Path, value_key: &str) -> Vec<(String, String, String, String)> {
    let output = std::fs::read_to_string(path).unwrap();
    // The keys' order, from the text itself.
    let first = output.find("\"userId\"").unwrap();
    let provider = output.find("\"serviceProviderId\"").unwrap();
    let group = output.find("\"groupId\"").unwrap();
    let value = output.find(&format!("\"{value_key}\"")).unwrap();
    assert!(
        first < provider && provider < group && group < value,
        "{}",
        output.len()
    );
    let rows: Vec<serde_json::Map<String, serde_json::Value>> =
        serde_json::from_str(&output).unwrap();
    rows.into_iter()
        .map(|row| {
            assert_eq!(row.len(), 4);
            let field = |key: &str| row[key].as_str().unwrap().to_owned();
            (
                field("serviceProviderId"),
                field("groupId"),
                field("userId"),
                field(value_key),
            )
        })
        .collect()
}

/// Checks a run of the targets file: the output holds the users set, in input order, each with
/// its group and the value the simulator holds; the failures file (usable as `--targets`)
/// holds the wrong-group user with a reason naming the group given, and the unknown user.
fn check_targets_run(fixture: &Fixture, output: &std::process::Output, out: &std::path::Path) {
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("across 4 group(s) of 2 service provider(s)"),
        "{stderr}"
    );
    assert!(stderr.contains("listed more than once"), "{stderr}");
    assert!(stderr.contains("--targets"), "{stderr}");
    let rows = json_rows(out, "newPassword");
    let shown: Vec<(String, String, String)> = rows
        .iter()
        .map(|(provider, group, user, _)| (provider.clone(), group.clone(), user.clone()))
        .collect();
    assert_eq!(shown, expected_set());
    for (_, _, user, value) in &rows {
        assert_eq!(
            fixture.value_in_effect(user, "sip").as_ref(),
            Some(value),
            "{user}"
        );
    }
    let wrong = fixture.simulator.credentials(&user("sp1-g2", 1)).unwrap();
    assert_eq!(
        wrong.changes.sip, 0,
        "the user of another group was changed"
    );
    let failures = std::fs::read_to_string(fixture.path("out.json.failed.csv")).unwrap();
    let mut lines = failures.lines();
    assert_eq!(
        lines.next(),
        Some("serviceProviderId,groupId,userId,status,reason")
    );
    let failed: BTreeMap<String, String> = lines
        .map(|line| {
            let fields: Vec<&str> = line.splitn(5, ',').collect();
            assert_eq!(fields[3], "failed", "{line}");
            (fields[2].to_owned(), line.to_owned())
        })
        .collect();
    assert_eq!(failed.len(), 2, "{failures}");
    let wrong_line = &failed[&user("sp1-g2", 1)];
    assert!(wrong_line.starts_with("sp1,sp1-g1,"), "{wrong_line}");
    assert!(wrong_line.contains("not in group `sp1-g1`"), "{wrong_line}");
    assert!(failed["ghost@demo.example"].starts_with("sp2,sp2-g1,"));
}

#[test]
fn a_targets_file_across_four_groups_is_one_run() {
    let fixture = fixture();
    let targets = fixture.write("targets.csv", targets_text());
    let out = fixture.path("out.json");
    let output = reset_across(
        &fixture,
        "sip",
        &[
            "--targets",
            targets.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--yes",
        ],
    );
    check_targets_run(&fixture, &output, &out);
    // Over Odin the check says where the user is: both groups are named.
    let failures = std::fs::read_to_string(fixture.path("out.json.failed.csv")).unwrap();
    assert!(
        failures.contains("it is in group `sp1-g2` of `sp1`"),
        "{failures}"
    );

    // One audit record, with each user's group.
    let audit: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixture.path("out.json.audit.json")).unwrap(),
    )
    .unwrap();
    let run = &audit["runs"][0];
    assert_eq!(run["groups"].as_array().unwrap().len(), 4);
    assert_eq!(run["outcomes"][0]["groupId"], "sp1-g1");

    // The failures file given back as `--targets`: a dry run checks the two again, changing
    // nothing, and shows them with their groups.
    let changes = fixture.total_changes();
    let output = reset_across(
        &fixture,
        "sip",
        &[
            "--targets",
            fixture.path("out.json.failed.csv").to_str().unwrap(),
            "--dry-run",
        ],
    );
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(
        stdout.starts_with("serviceProviderId,groupId,userId,status,reason\n"),
        "{stdout}"
    );
    assert_eq!(stdout.lines().count(), 3, "{stdout}");
    assert!(stdout.contains(&format!("sp1,sp1-g1,{},rejected,", user("sp1-g2", 1))));
    assert_eq!(fixture.total_changes(), changes);
}

/// The same targets file over OCI-P, over TCP and over SOAP: the same users set (compared with
/// the simulator), the same two failed. OCI-P's check does not say where a user is: the reason
/// names the group given, and that the user is not among its users.
#[test]
fn a_targets_file_across_groups_over_ocip() {
    for over_soap in [false, true] {
        let fixture = fixture();
        let targets = fixture.write("targets.csv", targets_text());
        let out = fixture.path("out.json");
        let server = if over_soap {
            fixture.simulator.soap_url()
        } else {
            fixture.simulator.ocip_url().unwrap()
        };
        let mut command = fixture.bwreset();
        command
            .args(["reset", "--type", "sip", "--targets"])
            .arg(&targets)
            .args(["--out", out.to_str().unwrap(), "--yes"])
            .env("BWRESET_SERVER", server);
        let output = command.output().expect("runs");
        check_targets_run(&fixture, &output, &out);
        let failures = std::fs::read_to_string(fixture.path("out.json.failed.csv")).unwrap();
        assert!(
            failures.contains("not among the group's users"),
            "{failures}"
        );
    }
}

/// Every group of a service provider, as CSV: by group in the server's order, then the
/// group's order; the other service provider untouched. Its dry run changes nothing.
#[test]
fn all_groups_of_a_service_provider() {
    let fixture = fixture();
    let output = reset_across(
        &fixture,
        "vm",
        &["--service-provider", "sp2", "--all-groups", "--dry-run"],
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert_eq!(stdout.lines().count(), 10, "{stdout}");
    assert!(stdout.contains(&format!("sp2,sp2-g3,{},ready,", user("sp2-g3", 3))));
    assert_eq!(fixture.total_changes(), 0);

    let out = fixture.path("out.csv");
    let output = reset_across(
        &fixture,
        "vm",
        &[
            "--service-provider",
            "sp2",
            "--all-groups",
            "--out",
            out.to_str().unwrap(),
            "--yes",
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let csv = std::fs::read_to_string(&out).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("serviceProviderId,groupId,userId,newPasscode")
    );
    let mut expected = Vec::new();
    for group in ["sp2-g1", "sp2-g2", "sp2-g3"] {
        for number in 1..=3 {
            expected.push((group.to_owned(), user(group, number)));
        }
    }
    let rows: Vec<(String, String)> = lines
        .map(|line| {
            let fields: Vec<&str> = line.split(',').collect();
            assert_eq!(fields.len(), 4, "{line}");
            assert_eq!(fields[0], "sp2");
            assert_eq!(
                fixture.value_in_effect(fields[2], "vm").as_deref(),
                Some(fields[3]),
                "{}",
                fields[2]
            );
            (fields[1].to_owned(), fields[2].to_owned())
        })
        .collect();
    assert_eq!(rows, expected);
    for group in ["sp1-g1", "sp1-g2", "sp1-g3"] {
        let untouched = fixture.simulator.credentials(&user(group, 1)).unwrap();
        assert_eq!(untouched.changes.vm, 0);
    }
}

/// A run across groups resumed: the journal is version 5 with its groups, and `resume` writes
/// the same files (here after the output was lost).
#[test]
fn a_run_across_groups_is_resumed() {
    let fixture = fixture();
    let out = fixture.path("out.json");
    let output = reset_across(
        &fixture,
        "web",
        &[
            "--service-provider",
            "sp1",
            "--all-groups",
            "--out",
            out.to_str().unwrap(),
            "--yes",
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let first = std::fs::read_to_string(&out).unwrap();
    let journal = fixture.path("out.json.journal");
    let header: serde_json::Value = serde_json::from_str(
        std::fs::read_to_string(&journal)
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["version"], bwreset_core::JOURNAL_VERSION);
    assert_eq!(header["groups"].as_array().unwrap().len(), 3);
    std::fs::remove_file(&out).unwrap();
    let mut command = fixture.bwreset();
    command.args(["resume", "--journal", journal.to_str().unwrap(), "--yes"]);
    let output = command.output().expect("runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), first);
}

/// Each bad input: exit 2, a message naming the problem, nothing changed and no file written.
#[test]
fn bad_inputs_across_groups_change_nothing() {
    let fixture = fixture();
    let out = fixture.path("out.json");
    let out = out.to_str().unwrap();
    let file =
        |name: &str, contents: &str| fixture.write(name, contents).to_str().unwrap().to_owned();
    let no_group = file("no-group.csv", "serviceProviderId,userId\nsp1,a@x\n");
    let empty_cell = file(
        "empty.csv",
        "serviceProviderId,groupId,userId\nsp1,sp1-g1,a@x\nsp1,,b@x\n",
    );
    let good = file(
        "good.csv",
        &format!(
            "serviceProviderId,groupId,userId\nsp1,sp1-g1,{}\n",
            user("sp1-g1", 1)
        ),
    );
    let unknown_group = file(
        "unknown.csv",
        &format!(
            "serviceProviderId,groupId,userId\nsp1,sp1-g1,{}\nsp1,sp1-g9,{}\n",
            user("sp1-g1", 1),
            user("sp1-g1", 2)
        ),
    );
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--targets", &no_group], "no `groupId` column"),
        (
            vec!["--targets", &empty_cell],
            "line 3 has no value in the `groupId` column",
        ),
        (
            vec!["--targets", &good, "--group", "sp1-g1"],
            "cannot be used with",
        ),
        (
            vec!["--targets", &good, "--service-provider", "sp1"],
            "cannot be used with",
        ),
        (vec!["--all-groups"], "--service-provider"),
        (vec!["--targets", &unknown_group], "`sp1-g9`"),
        (vec!["--service-provider", "sp9", "--all-groups"], "`sp9`"),
    ];
    for (arguments, expected) in cases {
        let mut all = arguments.clone();
        all.extend(["--out", out, "--yes"]);
        let output = reset_across(&fixture, "sip", &all);
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{arguments:?}: {stderr}");
        assert!(stderr.contains(expected), "{arguments:?}: {stderr}");
        assert!(!std::path::Path::new(out).exists(), "{arguments:?}");
        assert_eq!(fixture.total_changes(), 0, "{arguments:?}");
    }
}

/// `--all-groups` over OCI-P: the groups come from `GroupGetListInServiceProviderRequest`; an
/// unknown service provider is refused there too (exit 2, nothing changed).
#[test]
fn all_groups_over_ocip() {
    let fixture = fixture();
    let server = fixture.simulator.ocip_url().unwrap();
    let out = fixture.path("out.json");
    let run = |provider: &str| {
        let mut command = fixture.bwreset();
        command
            .args(["reset", "--type", "web", "--service-provider", provider])
            .args(["--all-groups", "--out", out.to_str().unwrap(), "--yes"])
            .env("BWRESET_SERVER", &server);
        command.output().expect("runs")
    };
    let output = run("sp9");
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("`sp9`"), "{stderr}");
    assert!(!out.exists());
    assert_eq!(fixture.total_changes(), 0);

    let output = run("sp1");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let rows = json_rows(&out, "newPassword");
    assert_eq!(rows.len(), 9);
    for (provider, group, user, value) in &rows {
        assert_eq!(provider, "sp1");
        assert!(user.starts_with(&format!("{group}-")), "{user} in {group}");
        assert_eq!(fixture.value_in_effect(user, "web").as_ref(), Some(value));
    }
    assert_eq!(fixture.total_changes(), 9);
}

/// `--devices reset` across groups: the phones of the users set, in their own groups, are
/// rebuilt, reset once and seen registering again; the phones of the others are not touched.
#[test]
fn devices_across_groups() {
    let mut config = SimConfig::with_groups(2, 3, 2);
    config.devices.reboot = std::time::Duration::ZERO;
    let fixture = Fixture::with_config(config);
    let targets = fixture.write(
        "targets.csv",
        format!(
            "serviceProviderId,groupId,userId\nsp1,sp1-g2,{}\nsp2,sp2-g3,{}\n",
            user("sp1-g2", 1),
            user("sp2-g3", 2)
        ),
    );
    let out = fixture.path("out.json");
    let output = reset_across(
        &fixture,
        "sip",
        &[
            "--targets",
            targets.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--yes",
            "--devices",
            "reset",
            "--reset-rate",
            "1000",
            "--registration-timeout",
            "10",
        ],
    );
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let report = std::fs::read_to_string(fixture.path("out.json.devices.csv")).unwrap();
    assert_eq!(report.lines().count(), 3, "{report}");
    assert_eq!(report.matches(",registered,").count(), 2, "{report}");
    for device in fixture.simulator.devices() {
        let ours = device
            .lines
            .iter()
            .any(|line| *line == user("sp1-g2", 1) || *line == user("sp2-g3", 2));
        let touched = (device.rebuilds, device.resets);
        if ours {
            assert_eq!(touched, (1, 1), "{device:?}");
            assert!(device.config_current && device.registered, "{device:?}");
        } else {
            assert_eq!(touched, (0, 0), "{device:?}");
        }
    }
}

/// A SIP dry run of one group names a user of another group as such over OCI-P too, whose
/// checks do not say where a user is (the group's listing is read then).
#[test]
fn a_dry_run_of_one_group_over_ocip_tells_a_user_of_another_group() {
    let fixture = fixture();
    for over_ocip in [false, true] {
        let mut command = fixture.bwreset();
        command.args([
            "reset",
            "--type",
            "sip",
            "--service-provider",
            "sp1",
            "--group",
            "sp1-g1",
            "--user",
            &user("sp1-g1", 1),
            "--user",
            &user("sp1-g2", 1),
            "--dry-run",
        ]);
        if over_ocip {
            command.env("BWRESET_SERVER", fixture.simulator.ocip_url().unwrap());
        }
        let output = command.output().expect("runs");
        assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
        let stdout = text(&output.stdout);
        assert!(
            stdout.contains(&format!("{},ready,", user("sp1-g1", 1))),
            "{stdout}"
        );
        assert!(
            stdout.contains(&format!(
                "{},rejected,user is not in group `sp1-g1` of service provider `sp1`",
                user("sp1-g2", 1)
            )),
            "{stdout}"
        );
    }
    assert_eq!(fixture.total_changes(), 0);
}
