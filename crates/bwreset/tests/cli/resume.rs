//! `bwreset resume`: finishing from the journal writes what a clean run would have written.

use crate::common::{Fixture, mode, read_json_output, text};

#[test]
fn resuming_a_finished_journal_rewrites_the_same_output() {
    let fixture = Fixture::new(4);
    let out = fixture.path("creds.json");
    fixture.reset_all_users("web", &out);
    let original = read_json_output(&out, "newPassword");
    let changes = fixture.total_changes();

    // The output is lost; the journal is not.
    std::fs::remove_file(&out).expect("remove output");
    let journal = fixture.path("creds.json.journal");
    let resumed = fixture
        .bwreset()
        .args(["resume", "--journal", journal.to_str().unwrap(), "--yes"])
        .env_remove("ODIN_BASE_URL")
        .output()
        .expect("runs");
    assert_eq!(resumed.status.code(), Some(0), "{}", text(&resumed.stderr));
    assert_eq!(
        read_json_output(&out, "newPassword"),
        original,
        "the same output as the clean run"
    );
    assert_eq!(mode(&out), 0o600);
    assert_eq!(fixture.total_changes(), changes, "nothing was set twice");

    let audit: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixture.path("creds.json.audit.json")).expect("audit"),
    )
    .expect("JSON");
    let commands: Vec<&str> = audit["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .map(|run| run["command"].as_str().expect("command"))
        .collect();
    assert_eq!(
        commands,
        ["reset", "resume"],
        "the audit record keeps both runs"
    );
}

#[test]
fn resuming_keeps_the_journals_server() {
    let fixture = Fixture::new(2);
    let out = fixture.path("creds.json");
    fixture.reset_all_users("sip", &out);
    let journal = fixture.path("creds.json.journal");
    let output = fixture
        .bwreset()
        .args([
            "resume",
            "--journal",
            journal.to_str().unwrap(),
            "--yes",
            "--base-url",
            "https://other.example/api/v2",
        ])
        .output()
        .expect("runs");
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("differs"), "{stderr}");
}

#[test]
fn a_missing_journal_is_a_usage_error() {
    let fixture = Fixture::new(1);
    let output = fixture
        .bwreset()
        .args([
            "resume",
            "--journal",
            fixture.path("nope.journal").to_str().unwrap(),
            "--yes",
        ])
        .output()
        .expect("runs");
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("nope.journal"), "{stderr}");
}

#[test]
fn resuming_a_partly_failed_run_asks_first_and_tries_the_failed_users_again() {
    let fixture = Fixture::new(2);
    let users = fixture.user_ids();
    let out = fixture.path("creds.json");
    let first = fixture
        .reset(
            "sip",
            &[
                "--user",
                &users[0],
                "--user",
                "ghost@demo.example",
                "--out",
                out.to_str().unwrap(),
                "--yes",
            ],
        )
        .output()
        .expect("runs");
    assert_eq!(first.status.code(), Some(1), "{}", text(&first.stderr));
    let changes = fixture.total_changes();
    let journal = fixture.path("creds.json.journal");

    let refused = fixture
        .bwreset()
        .args(["resume", "--journal", journal.to_str().unwrap()])
        .output()
        .expect("runs");
    let stderr = text(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--yes"), "{stderr}");
    assert_eq!(
        fixture.total_changes(),
        changes,
        "a refused resume changes nothing"
    );

    let resumed = fixture
        .bwreset()
        .args(["resume", "--journal", journal.to_str().unwrap(), "--yes"])
        .output()
        .expect("runs");
    let stderr = text(&resumed.stderr);
    assert_eq!(
        resumed.status.code(),
        Some(1),
        "the ghost still does not exist: {stderr}"
    );
    assert!(stderr.contains("1 set, 1 failed"), "{stderr}");
    let rows = read_json_output(&out, "newPassword");
    assert_eq!(rows.len(), 1);
    assert_eq!(
        fixture.value_in_effect(&users[0], "sip").as_deref(),
        Some(rows[0].1.as_str())
    );
    let failures =
        std::fs::read_to_string(fixture.path("creds.json.failed.csv")).expect("failures file");
    assert!(
        failures.contains("ghost@demo.example,failed,"),
        "{failures}"
    );
}

#[test]
fn a_journal_in_use_is_refused() {
    let fixture = Fixture::new(1);
    let out = fixture.path("creds.json");
    fixture.reset_all_users("vm", &out);
    let journal = fixture.path("creds.json.journal");
    let holder = std::fs::File::open(&journal).expect("open journal");
    holder.lock().expect("lock journal");

    let output = fixture
        .bwreset()
        .args(["resume", "--journal", journal.to_str().unwrap(), "--yes"])
        .output()
        .expect("runs");
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("another bwreset"), "{stderr}");
}

/// A journal of the seed-style call (`bwreset_core::bulk_password_reset`, what the Python
/// package's drop-in `Scripter` runs) names no files and no login: the command resumes it with
/// its files beside it, `<journal>.json` in the seed's shape, and the login of the settings.
#[test]
fn resuming_a_journal_of_the_seed_style_call_writes_its_files_beside_it() {
    let fixture = Fixture::new(5);
    let journal = fixture.path("drop-in.journal");
    let users = fixture.user_ids();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let result = runtime.block_on(async {
        let config = odin_client::ClientConfig::new(
            fixture.simulator.base_url(),
            "admin",
            secrecy::SecretString::from(crate::common::PASSWORD),
        );
        let client = odin_client::OdinClient::login(config).await.expect("login");
        let users: Vec<&str> = users.iter().map(String::as_str).collect();
        bwreset_core::bulk_password_reset(
            &client,
            crate::common::SERVICE_PROVIDER,
            crate::common::GROUP,
            &users,
            "vm",
            bwreset_core::JournalStore::File(journal.clone()),
        )
        .await
        .expect("the seed-style call")
    });
    assert_eq!(result.credentials.len(), users.len());
    let changes = fixture.total_changes();

    let resumed = fixture
        .bwreset()
        .args(["resume", "--journal", journal.to_str().unwrap(), "--yes"])
        .output()
        .expect("runs");
    assert_eq!(resumed.status.code(), Some(0), "{}", text(&resumed.stderr));
    let out = fixture.path("drop-in.journal.json");
    let rows = read_json_output(&out, "newPasscode");
    assert_eq!(
        rows.iter()
            .map(|(user, _)| user.clone())
            .collect::<Vec<_>>(),
        users
    );
    for (user, value) in &rows {
        assert_eq!(
            fixture.value_in_effect(user, "vm").as_deref(),
            Some(value.as_str()),
            "{user}"
        );
    }
    assert_eq!(mode(&out), 0o600);
    assert!(fixture.path("drop-in.journal.json.audit.json").exists());
    assert_eq!(fixture.total_changes(), changes, "nothing was set twice");
}
