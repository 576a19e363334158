//! Unit tests of the journal: torn lines, corruption, locking, modes, replay.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

use std::fs::OpenOptions;
use std::path::Path;

use secrecy::{ExposeSecret, SecretString};

use super::records::{encode, rfc3339};
use super::*;
use crate::report::{Duplicate, OutcomeKind};
use crate::types::{PasswordType, UserId};

fn header() -> JournalHeader {
    JournalHeader::new(
        PasswordType::Vm,
        "sp",
        "group",
        "http://127.0.0.1:1/api/v2",
        serde_json::json!({ "out": "new.json" }),
    )
}

fn ids(names: &[&str]) -> Vec<UserId> {
    names
        .iter()
        .map(|name| UserId::try_from(*name).unwrap())
        .collect()
}

fn secret(value: &str) -> SecretString {
    SecretString::from(value)
}

/// A journal holding every state a user can be in.
async fn write_every_state(journal: &Journal) {
    let users = ids(&[
        "set",
        "pending",
        "uncertain",
        "retried",
        "rejected",
        "never",
        "failed",
    ]);
    let duplicates = vec![Duplicate {
        user_id: users[0].clone(),
        occurrences: 2,
    }];
    let rejected_reason = "[Error 4008] User not found: rejected";
    journal
        .append_all_durable(&plan_records(
            &users.iter().collect(),
            &[],
            &duplicates,
            [(users[4].as_str(), rejected_reason)].into_iter(),
        ))
        .await
        .unwrap();
    let value = |text: &str| secret(text);
    let (v1, v2, v3, v4, v5, v6) = (
        value("11111111"),
        value("22222222"),
        value("33333333"),
        value("44444444"),
        value("55555555"),
        value("66666666"),
    );
    journal
        .append_durable(&RecordOut::intent(&users[0], &v1, 1, None))
        .await
        .unwrap();
    journal.append(&RecordOut::outcome(&users[0], OutcomeRecord::Set, None));
    journal
        .append_durable(&RecordOut::intent(&users[1], &v2, 1, None))
        .await
        .unwrap();
    journal
        .append_durable(&RecordOut::intent(&users[2], &v3, 1, None))
        .await
        .unwrap();
    journal.append(&RecordOut::outcome(
        &users[2],
        OutcomeRecord::Uncertain,
        Some("no clear answer"),
    ));
    journal
        .append_durable(&RecordOut::intent(&users[3], &v4, 1, None))
        .await
        .unwrap();
    journal.append(&RecordOut::outcome(
        &users[3],
        OutcomeRecord::Rejected,
        Some("[Error 4421] Invalid passcode: must not contain a repeated pattern"),
    ));
    journal
        .append_durable(&RecordOut::intent(&users[3], &v5, 2, None))
        .await
        .unwrap();
    journal.append(&RecordOut::outcome(&users[3], OutcomeRecord::Set, None));
    journal
        .append_durable(&RecordOut::intent(&users[6], &v6, 1, None))
        .await
        .unwrap();
    journal.append(&RecordOut::outcome(
        &users[6],
        OutcomeRecord::Failed,
        Some("[Error 4008] User not found: failed"),
    ));
    journal.sync().await.unwrap();
}

fn check_every_state(report: &Report) {
    let summary: Vec<(&str, OutcomeKind, Option<String>, Option<&str>)> = report
        .entries
        .iter()
        .map(|entry| {
            (
                entry.user_id.as_str(),
                entry.outcome.kind(),
                entry
                    .outcome
                    .value()
                    .map(|value| value.expose_secret().to_owned()),
                entry.outcome.reason(),
            )
        })
        .collect();
    assert_eq!(
        summary[0],
        ("set", OutcomeKind::Set, Some("11111111".into()), None)
    );
    assert_eq!(summary[1].0, "pending");
    assert_eq!(summary[1].1, OutcomeKind::Uncertain);
    assert_eq!(summary[1].2.as_deref(), Some("22222222"));
    assert_eq!(
        summary[2],
        (
            "uncertain",
            OutcomeKind::Uncertain,
            Some("33333333".into()),
            Some("no clear answer")
        )
    );
    assert_eq!(
        summary[3],
        ("retried", OutcomeKind::Set, Some("55555555".into()), None)
    );
    assert_eq!(
        summary[4],
        (
            "rejected",
            OutcomeKind::Failed,
            None,
            Some("[Error 4008] User not found: rejected")
        )
    );
    assert_eq!(summary[5].0, "never");
    assert_eq!(summary[5].1, OutcomeKind::Failed);
    assert!(summary[5].3.unwrap().starts_with("not attempted:"));
    assert_eq!(
        summary[6],
        (
            "failed",
            OutcomeKind::Failed,
            None,
            Some("[Error 4008] User not found: failed")
        )
    );
    assert_eq!(report.duplicates.len(), 1);
    assert_eq!(report.password_type, PasswordType::Vm);
    assert_eq!(report.scope.service_provider_id(), "sp");
}

#[tokio::test]
async fn replay_rebuilds_every_state_from_a_file() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("run.journal");
    let journal = Journal::create(&path, header()).unwrap();
    write_every_state(&journal).await;
    check_every_state(&journal.report().unwrap());
    drop(journal);

    let reopened = Journal::open(&path).unwrap();
    assert_eq!(reopened.header(), &header_without_time(&reopened));
    assert!(reopened.has_plan().unwrap());
    check_every_state(&reopened.report().unwrap());
}

fn header_without_time(journal: &Journal) -> JournalHeader {
    JournalHeader {
        created_at: journal.header().created_at.clone(),
        ..header()
    }
}

#[tokio::test]
async fn replay_rebuilds_every_state_in_memory() {
    let journal = Journal::memory(header());
    assert!(journal.path().is_none());
    write_every_state(&journal).await;
    check_every_state(&journal.report().unwrap());
}

#[tokio::test]
async fn values_appear_only_in_intent_lines() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("run.journal");
    let journal = Journal::create(&path, header()).unwrap();
    write_every_state(&journal).await;
    drop(journal);
    let text = std::fs::read_to_string(&path).unwrap();
    for line in text.lines() {
        let has_value = ["11111111", "22222222", "33333333", "55555555"]
            .iter()
            .any(|value| line.contains(value));
        if has_value {
            assert!(line.starts_with(r#"{"record":"intent""#), "{line}");
        }
    }
    assert!(text.ends_with('\n'));
}

#[test]
fn a_new_journal_is_private_and_never_replaces_a_file() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("run.journal");
    let journal = Journal::create(&path, header()).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert_eq!(journal.path(), Some(path.as_path()));
    drop(journal);

    let error = Journal::create(&path, header()).unwrap_err();
    assert!(matches!(error, Error::JournalExists { .. }), "{error}");

    // A symbolic link is refused, even one pointing nowhere.
    let link = directory.path().join("link.journal");
    std::os::unix::fs::symlink(directory.path().join("target"), &link).unwrap();
    assert!(Journal::create(&link, header()).is_err());
    assert!(!directory.path().join("target").exists());
    // Opening through a link is refused too.
    let link_to_journal = directory.path().join("link2.journal");
    std::os::unix::fs::symlink(&path, &link_to_journal).unwrap();
    assert!(matches!(
        Journal::open(&link_to_journal),
        Err(Error::JournalIo { .. })
    ));
}

#[test]
fn opening_a_readable_journal_makes_it_private() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("run.journal");
    drop(Journal::create(&path, header()).unwrap());
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    drop(Journal::open(&path).unwrap());
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

#[test]
fn a_second_writer_is_refused_while_the_first_holds_the_journal() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("run.journal");
    let first = Journal::create(&path, header()).unwrap();
    let error = Journal::open(&path).unwrap_err();
    assert!(matches!(error, Error::JournalLocked { .. }), "{error}");
    let message = error.to_string();
    assert!(message.contains("in use by another"), "{message}");
    assert!(message.contains("run.journal"), "{message}");
    drop(first);
    let second = Journal::open(&path).unwrap();
    assert!(matches!(
        Journal::open(&path),
        Err(Error::JournalLocked { .. })
    ));
    drop(second);
}

async fn journal_with_plan(path: &Path) {
    let journal = Journal::create(path, header()).unwrap();
    let users = ids(&["a", "b"]);
    journal
        .append_all_durable(&plan_records(
            &users.iter().collect(),
            &[],
            &[],
            std::iter::empty(),
        ))
        .await
        .unwrap();
    journal
        .append_durable(&RecordOut::intent(&users[0], &secret("12345678"), 1, None))
        .await
        .unwrap();
    journal.append(&RecordOut::outcome(&users[0], OutcomeRecord::Set, None));
    journal.sync().await.unwrap();
}

fn append_raw(path: &Path, bytes: &[u8]) {
    let mut file = OpenOptions::new().append(true).open(path).unwrap();
    file.write_all(bytes).unwrap();
}

#[tokio::test]
async fn a_torn_last_line_is_removed_and_not_fatal() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("run.journal");
    journal_with_plan(&path).await;
    let good_length = std::fs::metadata(&path).unwrap().len();
    append_raw(&path, br#"{"record":"intent","user":"b","value":"8765"#);

    let journal = Journal::open(&path).unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().len(), good_length);
    let report = journal.report().unwrap();
    assert_eq!(report.entries[0].outcome.kind(), OutcomeKind::Set);
    assert_eq!(report.entries[1].outcome.kind(), OutcomeKind::Failed);

    // Appending after the repair gives well-formed lines.
    journal
        .append_durable(&RecordOut::intent(
            &UserId::try_from("b").unwrap(),
            &secret("87654321"),
            1,
            None,
        ))
        .await
        .unwrap();
    drop(journal);
    let report = Journal::open(&path).unwrap().report().unwrap();
    assert_eq!(report.entries[1].outcome.kind(), OutcomeKind::Uncertain);
}

#[tokio::test]
async fn a_journal_that_holds_nothing_sent_is_removed_and_no_other() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("run.journal");
    drop(Journal::create(&path, header()).unwrap());
    let header_line = std::fs::read(&path).unwrap();

    // What a kill between creating the journal and the end of its plan can leave.
    let users: bwreset_backend::UserIdList = ids(&["a", "b"]).iter().collect();
    let mut targets_line = encode(&plan_records(&users, &[], &[], std::iter::empty())[0]).to_vec();
    let leftovers: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("a torn header", header_line[..12].to_vec()),
        ("a header", header_line.clone()),
        ("a header and part of a plan", {
            let mut bytes = header_line.clone();
            bytes.append(&mut targets_line.clone());
            bytes
        }),
        ("a header and a torn plan line", {
            let mut bytes = header_line.clone();
            targets_line.truncate(9);
            bytes.append(&mut targets_line);
            bytes
        }),
    ];
    for (what, bytes) in leftovers {
        std::fs::write(&path, &bytes).unwrap();
        assert!(Journal::remove_if_unused(&path).unwrap(), "{what}");
        assert!(!path.exists(), "{what}");
    }
    assert!(!Journal::remove_if_unused(&path).unwrap(), "no file");

    // A journal with a plan may have sent values: never removed.
    journal_with_plan(&path).await;
    assert!(!Journal::remove_if_unused(&path).unwrap());
    let report = Journal::open(&path).unwrap().report().unwrap();
    assert_eq!(report.entries[0].outcome.kind(), OutcomeKind::Set);
    // Nor one that is in use, nor a file that is not a journal.
    let other = directory.path().join("other.journal");
    let in_use = Journal::create(&other, header()).unwrap();
    assert!(matches!(
        Journal::remove_if_unused(&other),
        Err(Error::JournalLocked { .. })
    ));
    drop(in_use);
    let notes = directory.path().join("notes.txt");
    std::fs::write(&notes, "not a journal\n").unwrap();
    assert!(!Journal::remove_if_unused(&notes).unwrap());
    assert!(notes.exists());
}

#[tokio::test]
async fn garbage_at_the_very_end_is_a_torn_line() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("run.journal");
    journal_with_plan(&path).await;
    let good_length = std::fs::metadata(&path).unwrap().len();
    // A crash can leave zeros where the last block was to be written.
    append_raw(&path, &[0u8; 64]);
    drop(Journal::open(&path).unwrap());
    assert_eq!(std::fs::metadata(&path).unwrap().len(), good_length);
    // A complete but unreadable last line is treated the same way.
    append_raw(&path, b"{\"record\":\"outco\n");
    drop(Journal::open(&path).unwrap());
    assert_eq!(std::fs::metadata(&path).unwrap().len(), good_length);
}

#[tokio::test]
async fn an_unreadable_line_in_the_middle_is_corruption() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("run.journal");
    journal_with_plan(&path).await;
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    let line_count = lines.len();
    // Break the intent line (line 4: header, targets, planEnd, intent) keeping its value.
    let broken = lines[3].replacen('{', "{{", 1);
    lines[3] = &broken;
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();

    let error = Journal::open(&path).unwrap_err();
    match &error {
        Error::JournalCorrupt { line, .. } => assert_eq!(*line, 4),
        other => panic!("expected JournalCorrupt, got {other}"),
    }
    assert!(!error.to_string().contains("12345678"), "{error}");
    assert_eq!(line_count, 5);
}

#[tokio::test]
async fn inconsistent_records_are_corruption() {
    let directory = tempfile::tempdir().unwrap();
    // An outcome "set" for a user who was never sent anything.
    let path = directory.path().join("a.journal");
    journal_with_plan(&path).await;
    append_raw(
        &path,
        b"{\"record\":\"outcome\",\"user\":\"b\",\"result\":\"set\"}\n",
    );
    append_raw(&path, b"{\"record\":\"stopped\",\"reason\":\"x\"}\n");
    assert!(matches!(
        Journal::open(&path),
        Err(Error::JournalCorrupt { line: 6, .. })
    ));
    // A record for someone not among the targets.
    let path = directory.path().join("b.journal");
    journal_with_plan(&path).await;
    append_raw(
        &path,
        b"{\"record\":\"outcome\",\"user\":\"zed\",\"result\":\"failed\"}\n",
    );
    append_raw(&path, b"{\"record\":\"stopped\",\"reason\":\"x\"}\n");
    assert!(matches!(
        Journal::open(&path),
        Err(Error::JournalCorrupt { line: 6, .. })
    ));
    // No header at all.
    let path = directory.path().join("c.journal");
    std::fs::write(&path, "{\"record\":\"planEnd\",\"users\":0}\n").unwrap();
    assert!(matches!(
        Journal::open(&path),
        Err(Error::JournalCorrupt { line: 1, .. })
    ));
    // An empty file (a crash during create).
    let path = directory.path().join("d.journal");
    std::fs::write(&path, "").unwrap();
    assert!(matches!(
        Journal::open(&path),
        Err(Error::JournalCorrupt { .. })
    ));
}

#[tokio::test]
async fn stop_and_resume_records_set_the_reason_of_unattempted_users() {
    let journal = Journal::memory(header());
    let users = ids(&["a"]);
    journal
        .append_all_durable(&plan_records(
            &users.iter().collect(),
            &[],
            &[],
            std::iter::empty(),
        ))
        .await
        .unwrap();
    journal.append(&RecordOut::Stopped {
        reason: "server unavailable",
    });
    let report = journal.report().unwrap();
    assert_eq!(
        report.entries[0].outcome.reason(),
        Some("not attempted: server unavailable")
    );
    assert_eq!(report.stop_reason.as_deref(), Some("server unavailable"));
    journal.append(&RecordOut::Resumed { at: rfc3339_now() });
    assert_eq!(journal.report().unwrap().stop_reason, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_durable_appends_all_land_as_whole_lines() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("run.journal");
    let journal = Arc::new(Journal::create(&path, header()).unwrap());
    let users: Vec<UserId> = (0..400)
        .map(|number| UserId::try_from(format!("user{number}").as_str()).unwrap())
        .collect();
    journal
        .append_all_durable(&plan_records(
            &users.iter().collect(),
            &[],
            &[],
            std::iter::empty(),
        ))
        .await
        .unwrap();
    let users = Arc::new(users);
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..8 {
        let (journal, users) = (Arc::clone(&journal), Arc::clone(&users));
        tasks.spawn(async move {
            for user in users.iter().skip(worker).step_by(8) {
                let value = SecretString::from(format!("{:08}", user.as_str().len()));
                journal
                    .append_durable(&RecordOut::intent(user, &value, 1, None))
                    .await
                    .unwrap();
                journal.append(&RecordOut::outcome(user, OutcomeRecord::Set, None));
            }
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined.unwrap();
    }
    journal.sync().await.unwrap();
    let report = journal.report().unwrap();
    assert_eq!(report.counts().set, 400);
    drop(report);
    drop(journal);
    let text = std::fs::read_to_string(&path).unwrap();
    // Header, one targets line, planEnd, then an intent and an outcome per user.
    assert_eq!(text.lines().count(), 3 + 800);
}

#[test]
fn rfc3339_formats_known_instants() {
    assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
    assert_eq!(rfc3339(u64::MAX), "9999-12-31T23:59:59Z");
}

#[tokio::test]
async fn debug_of_a_journal_and_its_report_hides_values() {
    let journal = Journal::memory(header());
    let users = ids(&["a"]);
    journal
        .append_all_durable(&plan_records(
            &users.iter().collect(),
            &[],
            &[],
            std::iter::empty(),
        ))
        .await
        .unwrap();
    journal
        .append_durable(&RecordOut::intent(&users[0], &secret("99999999"), 1, None))
        .await
        .unwrap();
    let debug = format!("{journal:?} {:?}", journal.replay().unwrap());
    assert!(!debug.contains("99999999"), "{debug}");
    let report = crate::report::JournalReport::read(journal, Duration::ZERO).unwrap();
    let debug = format!("{report:?}");
    assert!(!debug.contains("99999999"), "{debug}");
    assert_eq!(report.counts().uncertain, 1);
}

#[tokio::test]
async fn a_journal_without_a_header_is_refused_not_reported_as_sip() {
    // A VM journal whose file loses its content while this process holds it: the replay finds
    // no header, and the report must not make one up (it used to say SIP with empty IDs).
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("run.journal");
    let journal = Journal::create(&path, header()).unwrap();
    let users = ids(&["a"]);
    journal
        .append_all_durable(&plan_records(
            &users.iter().collect(),
            &[],
            &[],
            std::iter::empty(),
        ))
        .await
        .unwrap();
    std::fs::write(&path, "").unwrap();
    match journal.report() {
        Err(Error::JournalCorrupt { line, message, .. }) => {
            assert_eq!(line, 1);
            assert!(message.contains("no header"), "{message}");
        }
        Err(other) => panic!("expected JournalCorrupt, got {other}"),
        Ok(report) => panic!(
            "a report of type {:?} from a journal without a header",
            report.password_type
        ),
    }
    assert!(matches!(
        journal.has_plan(),
        Err(Error::JournalCorrupt { line: 1, .. })
    ));
}

#[tokio::test]
async fn a_reset_intent_keeps_the_registrations_before_it_and_one_without_them_replays() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("run.journal");
    journal_with_plan(&path).await;
    let journal = Journal::open(&path).unwrap();
    let device = |name: &str| DeviceRecord {
        name: name.to_owned(),
        level: "Group".to_owned(),
        service_provider_id: Some("sp".to_owned()),
        group_id: Some("group".to_owned()),
        device_type: None,
        users: ids(&["a"]),
        own_credentials: false,
    };
    let (first, second) = (device("phone-a"), device("phone-b"));
    journal
        .append_all_durable(&[
            RecordOut::Device(&first),
            RecordOut::Device(&second),
            RecordOut::DevicesEnd {
                devices: 2,
                action: DeviceAction::Reset,
                users: &ids(&["a"]),
            },
        ])
        .await
        .unwrap();
    let kept = [RegistrationMark {
        user: "a".to_owned(),
        expiration: Some("Tue, 01 Dec 2026 03:00:00 GMT".to_owned()),
    }];
    journal
        .append_durable(&RecordOut::DeviceIntent {
            device: 0,
            action: DeviceAction::Reset,
            before: Some(&kept),
        })
        .await
        .unwrap();
    drop(journal);
    // A reset intent as journals wrote it before the registrations were kept.
    append_raw(
        &path,
        b"{\"record\":\"deviceIntent\",\"device\":1,\"action\":\"reset\"}\n",
    );

    let replay = Journal::open(&path).unwrap().replay().unwrap();
    assert_eq!(replay.devices[0].reset, DeviceStep::Pending);
    assert_eq!(replay.devices[0].reset_before.as_deref(), Some(&kept[..]));
    assert_eq!(replay.devices[1].reset, DeviceStep::Pending);
    assert_eq!(replay.devices[1].reset_before, None);
}

/// A journal across groups: the header's groups and each target's index are read back; targets
/// whose groups do not fit the header are corruption, never guessed.
#[tokio::test]
async fn groups_of_a_run_across_groups_replay_and_are_checked() {
    use crate::Scope;
    use crate::types::GroupRef;
    let groups = vec![GroupRef::new("sp1", "g1"), GroupRef::new("sp2", "g2")];
    let journal = Journal::memory(header().with_scope(Scope::across("", groups.clone()).unwrap()));
    let users = ids(&["a", "b", "c"]);
    journal
        .append_all_durable(&plan_records(
            &users.iter().collect(),
            &[1, 0, 1],
            &[],
            std::iter::empty(),
        ))
        .await
        .unwrap();
    let report = journal.report().unwrap();
    assert_eq!(report.scope.groups(), groups);
    assert_eq!(report.column_group(0), Some(&groups[1]));
    assert_eq!(report.column_group(1), Some(&groups[0]));
    assert_eq!(report.column_group(2), Some(&groups[1]));

    // What a corrupt or hand-edited journal may hold.
    for (header, targets, expected) in [
        (
            header(),
            r#"{"record":"targets","users":["a"],"groups":[0]}"#,
            "journal of one group",
        ),
        (
            header().with_scope(Scope::across("", groups.clone()).unwrap()),
            r#"{"record":"targets","users":["a"]}"#,
            "without their groups",
        ),
        (
            header().with_scope(Scope::across("", groups.clone()).unwrap()),
            r#"{"record":"targets","users":["a","b"],"groups":[0]}"#,
            "with 1 groups",
        ),
        (
            header().with_scope(Scope::across("", groups.clone()).unwrap()),
            r#"{"record":"targets","users":["a"],"groups":[2]}"#,
            "group 2, of the 2 groups",
        ),
    ] {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("j.journal");
        let mut text = String::from_utf8(encode(&RecordOut::Header(&header)).to_vec()).unwrap();
        text.push_str(targets);
        text.push_str("\n{\"record\":\"planEnd\",\"users\":1}\n");
        std::fs::write(&path, text).unwrap();
        let error = Journal::open(&path).expect_err(expected).to_string();
        assert!(error.contains(expected), "{error}");
    }
}

#[test]
fn the_header_writes_its_server_as_server_and_reads_the_old_base_url() {
    let header = JournalHeader::new(
        PasswordType::Sip,
        "sp",
        "group",
        "ocips://bw.example:2209",
        serde_json::Value::Null,
    );
    let written = serde_json::to_value(&header).unwrap();
    assert_eq!(written["server"], "ocips://bw.example:2209");
    assert!(written.get("baseUrl").is_none(), "{written}");
    let mut old = written;
    let fields = old.as_object_mut().unwrap();
    fields.remove("server");
    fields.insert("baseUrl".into(), "https://odin.example/api/v2".into());
    let read: JournalHeader = serde_json::from_value(old).unwrap();
    assert_eq!(read.server, "https://odin.example/api/v2");
}

/// Issue 26: an `intent` may carry the new SIP user name sent with its value. Without one the
/// line is what every earlier journal holds, byte for byte; with one it reads back, and the
/// journal replays as before.
#[tokio::test]
async fn an_intent_carries_a_new_user_name_only_when_one_is_sent() {
    let user = UserId::try_from("a").unwrap();
    let value = secret("12345678");
    assert_eq!(
        &encode(&RecordOut::intent(&user, &value, 1, None,))[..],
        b"{\"record\":\"intent\",\"user\":\"a\",\"value\":\"12345678\",\"attempt\":1}\n"
    );
    let named = RecordOut::Intent {
        user: &user,
        value: &value,
        attempt: 2,
        user_name: Some("k3v9x2m4q8w1"),
    };
    let line = encode(&named);
    assert_eq!(
        &line[..],
        b"{\"record\":\"intent\",\"user\":\"a\",\"value\":\"12345678\",\"attempt\":2,\"userName\":\"k3v9x2m4q8w1\"}\n"
    );
    match records::parse_line(&line[..line.len() - 1]).unwrap() {
        records::RecordIn::Intent {
            user_name, attempt, ..
        } => assert_eq!((user_name.as_deref(), attempt), (Some("k3v9x2m4q8w1"), 2)),
        _ => panic!("not an intent"),
    }

    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("run.journal");
    let journal = Journal::create(&path, header()).unwrap();
    let users = ids(&["a", "b"]);
    journal
        .append_all_durable(&plan_records(
            &users.iter().collect(),
            &[],
            &[],
            std::iter::empty(),
        ))
        .await
        .unwrap();
    journal.append_durable(&named).await.unwrap();
    drop(journal);
    let report = Journal::open(&path).unwrap().report().unwrap();
    assert_eq!(report.entries[0].outcome.kind(), OutcomeKind::Uncertain);
    assert_eq!(
        report.entries[0]
            .outcome
            .value()
            .map(|value| value.expose_secret().to_owned())
            .as_deref(),
        Some("12345678")
    );
}
