//! `reset --encrypt-to` and `resume --identity`: no new value on disk in clear, the output
//! decrypts (with the age crate, as `age -d -i key.txt` would) to exactly the simulator's truth,
//! and an encrypted journal resumes only with its key. Values are never printed by these tests.

use crate::common::{Fixture, text};

#[cfg(not(feature = "encrypt"))]
#[test]
fn without_the_feature_encryption_is_refused_clearly() {
    let fixture = Fixture::new(2);
    let out = fixture.path("out.json.age");
    let output = fixture
        .reset(
            "sip",
            &[
                "--all-users",
                "--out",
                out.to_str().unwrap(),
                "--yes",
                "--encrypt-to",
                "age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq",
            ],
        )
        .output()
        .expect("runs");
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("built without") && stderr.contains("--features encrypt"),
        "{stderr}"
    );
    assert_eq!(fixture.total_changes(), 0);
    assert!(!out.exists() && !fixture.path("out.json.age.journal").exists());
}

/// A journal whose header says its values are encrypted (as `--encrypt-to` writes it).
#[cfg(not(feature = "encrypt"))]
fn mark_encrypted(journal: &std::path::Path) {
    let text = std::fs::read_to_string(journal).expect("journal");
    let (header, rest) = text.split_once('\n').expect("a header line");
    let mut header: serde_json::Value = serde_json::from_str(header).expect("JSON");
    header["meta"]["files"]["encryptTo"] = serde_json::json!(["age1somebody"]);
    std::fs::write(journal, format!("{header}\n{rest}")).expect("write journal");
}

#[cfg(not(feature = "encrypt"))]
#[test]
fn without_the_feature_an_encrypted_journal_is_refused_clearly() {
    let fixture = Fixture::new(2);
    let out = fixture.path("out.json");
    fixture.reset_all_users("web", &out);
    let journal = fixture.path("out.json.journal");
    mark_encrypted(&journal);
    let output = fixture
        .bwreset()
        .args(["resume", "--journal", journal.to_str().unwrap(), "--yes"])
        .output()
        .expect("runs");
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("is encrypted with age") && stderr.contains("built without"),
        "{stderr}"
    );
    assert_eq!(fixture.total_changes(), 2);
}

#[cfg(feature = "encrypt")]
mod with_age {
    use std::collections::BTreeMap;
    use std::io::Read;
    use std::path::{Path, PathBuf};

    use age::secrecy::ExposeSecret;
    use odin_sim::{Faults, SimConfig};

    use super::*;
    use crate::common::mode;

    struct Key {
        identity: age::x25519::Identity,
        recipient: String,
        file: PathBuf,
    }

    /// A fresh age key, its identity file written as `age-keygen` writes one.
    fn key(fixture: &Fixture, name: &str) -> Key {
        let identity = age::x25519::Identity::generate();
        let recipient = identity.to_public().to_string();
        let file = fixture.write(
            name,
            format!(
                "# created: by the test\n# public key: {recipient}\n{}\n",
                identity.to_string().expose_secret()
            ),
        );
        Key {
            identity,
            recipient,
            file,
        }
    }

    /// The SIP passwords in effect on the simulator, by user.
    fn truth(fixture: &Fixture) -> BTreeMap<String, String> {
        fixture
            .simulator
            .all_credentials()
            .into_iter()
            .filter_map(|credentials| Some((credentials.user_id, credentials.sip_password?)))
            .collect()
    }

    /// Decrypts an armored age output with `identity`, as `age -d -i key.txt FILE` does, and
    /// reads its JSON rows.
    fn decrypt_output(path: &Path, identity: &age::x25519::Identity) -> BTreeMap<String, String> {
        let encrypted = std::fs::read(path).expect("output file");
        assert!(
            encrypted.starts_with(b"-----BEGIN AGE ENCRYPTED FILE-----\n"),
            "the output is an ASCII-armored age file"
        );
        let decryptor =
            age::Decryptor::new_buffered(age::armor::ArmoredReader::new(&encrypted[..]))
                .expect("an age file");
        let mut plaintext = Vec::new();
        decryptor
            .decrypt(std::iter::once(identity as &dyn age::Identity))
            .expect("the identity opens it")
            .read_to_end(&mut plaintext)
            .expect("decrypts");
        let rows: Vec<serde_json::Value> =
            serde_json::from_slice(&plaintext).expect("the plaintext is the JSON output");
        rows.iter()
            .map(|row| {
                (
                    row["userId"].as_str().expect("userId").to_owned(),
                    row["newPassword"].as_str().expect("newPassword").to_owned(),
                )
            })
            .collect()
    }

    /// No file of the run holds any of `values` in clear.
    fn assert_no_value_in_clear(directory: &Path, values: &BTreeMap<String, String>) {
        for entry in std::fs::read_dir(directory).expect("list") {
            let path = entry.expect("entry").path();
            let bytes = std::fs::read(&path).expect("read");
            let contents = String::from_utf8_lossy(&bytes);
            for (user_id, value) in values {
                assert!(
                    !contents.contains(value.as_str()),
                    "the new value of {user_id} is in clear in {}",
                    path.display()
                );
            }
        }
    }

    fn journal_records(path: &Path) -> Vec<serde_json::Value> {
        std::fs::read_to_string(path)
            .expect("journal")
            .lines()
            .map(|line| serde_json::from_str(line).expect("a JSON line"))
            .collect()
    }

    #[test]
    fn an_encrypted_reset_writes_no_value_in_clear_and_decrypts_to_the_truth() {
        let fixture = Fixture::new(5);
        let key = key(&fixture, "key.txt");
        let second = age::x25519::Identity::generate();
        let out = fixture.path("out.json.age");
        let output = fixture
            .reset(
                "sip",
                &[
                    "--all-users",
                    "--out",
                    out.to_str().unwrap(),
                    "--yes",
                    "--encrypt-to",
                    &key.recipient,
                    "--encrypt-to",
                    &second.to_public().to_string(),
                ],
            )
            .output()
            .expect("runs");
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{stderr}");
        assert!(
            stderr.contains("5 set") && stderr.contains("encrypted with age to 2 recipients"),
            "{stderr}"
        );

        let truth = truth(&fixture);
        assert_eq!(truth.len(), 5);
        assert_eq!(fixture.total_changes(), 5);
        assert_no_value_in_clear(fixture.directory.path(), &truth);
        assert!(
            decrypt_output(&out, &key.identity) == truth,
            "the decrypted output is exactly the simulator's truth"
        );
        assert!(
            decrypt_output(&out, &second) == truth,
            "every recipient can decrypt the output"
        );

        let journal = fixture.path("out.json.age.journal");
        assert_eq!(mode(&out), 0o600);
        assert_eq!(mode(&journal), 0o600);
        let records = journal_records(&journal);
        assert_eq!(records[0]["version"], bwreset_core::JOURNAL_VERSION);
        assert_eq!(
            records[0]["meta"]["files"]["encryptTo"],
            serde_json::json!([key.recipient, second.to_public().to_string()])
        );
        let intents: Vec<&serde_json::Value> = records
            .iter()
            .filter(|record| record["record"] == "intent")
            .collect();
        assert_eq!(intents.len(), 5);
        assert!(intents.iter().all(|intent| intent["sealed"] == "age"));

        let audit: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(fixture.path("out.json.age.audit.json")).expect("audit"),
        )
        .expect("JSON");
        assert_eq!(
            audit["runs"][0]["encryptedTo"].as_array().map(Vec::len),
            Some(2)
        );
    }

    #[test]
    fn an_encrypted_csv_to_stdout_is_armored_too() {
        let fixture = Fixture::new(2);
        let key = key(&fixture, "key.txt");
        let journal = fixture.path("run.journal");
        let output = fixture
            .reset(
                "sip",
                &[
                    "--all-users",
                    "--out",
                    "-",
                    "--format",
                    "csv",
                    "--journal",
                    journal.to_str().unwrap(),
                    "--yes",
                    "--encrypt-to",
                    &key.recipient,
                ],
            )
            .output()
            .expect("runs");
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
        let truth = truth(&fixture);
        let stdout = text(&output.stdout);
        assert!(stdout.starts_with("-----BEGIN AGE ENCRYPTED FILE-----"));
        for (user_id, value) in &truth {
            assert!(
                !stdout.contains(value.as_str()),
                "the value of {user_id} is on stdout in clear"
            );
        }
        let decryptor =
            age::Decryptor::new_buffered(age::armor::ArmoredReader::new(output.stdout.as_slice()))
                .expect("an age file");
        let mut csv = String::new();
        decryptor
            .decrypt(std::iter::once(&key.identity as &dyn age::Identity))
            .expect("opens")
            .read_to_string(&mut csv)
            .expect("UTF-8");
        let mut expected = String::from("userId,newPassword\n");
        for (user_id, value) in &truth {
            expected.push_str(&format!("{user_id},{value}\n"));
        }
        assert!(csv == expected, "the decrypted CSV is the truth");
    }

    fn encrypted_reset(fixture: &Fixture, key: &Key, out: &Path) -> std::process::Output {
        fixture
            .reset(
                "sip",
                &[
                    "--all-users",
                    "--out",
                    out.to_str().unwrap(),
                    "--yes",
                    "--encrypt-to",
                    &key.recipient,
                ],
            )
            .output()
            .expect("runs")
    }

    fn resume(fixture: &Fixture, journal: &Path, extra: &[&str]) -> std::process::Output {
        fixture
            .bwreset()
            .args(["resume", "--journal", journal.to_str().unwrap(), "--yes"])
            .args(extra)
            .output()
            .expect("runs")
    }

    #[test]
    fn an_encrypted_journal_resumes_only_with_its_identity() {
        let fixture = Fixture::new(3);
        let key = key(&fixture, "key.txt");
        let stranger = self::key(&fixture, "stranger.txt");
        let out = fixture.path("out.json.age");
        let first = encrypted_reset(&fixture, &key, &out);
        assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
        let truth = truth(&fixture);
        // The output is lost; the journal is not, and only the identity opens its values.
        std::fs::remove_file(&out).expect("remove the output");
        let journal = fixture.path("out.json.age.journal");
        let journal_before = std::fs::read(&journal).expect("journal");

        for (extra, words) in [
            (
                vec![],
                &["encrypted with age", "--identity", "nothing was changed"][..],
            ),
            (
                vec!["--identity", stranger.file.to_str().unwrap()],
                &["none of the recipients", "stranger.txt"][..],
            ),
            (
                vec!["--identity", "/nonexistent/key.txt"],
                &["cannot use identity file", "/nonexistent/key.txt"][..],
            ),
        ] {
            let refused = resume(&fixture, &journal, &extra);
            let stderr = text(&refused.stderr);
            assert_eq!(refused.status.code(), Some(2), "{extra:?}: {stderr}");
            for word in words {
                assert!(stderr.contains(word), "{extra:?}: lacks `{word}`: {stderr}");
            }
            assert_eq!(
                fixture.total_changes(),
                3,
                "a refused resume changes nothing"
            );
            assert_eq!(
                std::fs::read(&journal).expect("journal"),
                journal_before,
                "a refused resume leaves the journal as it was"
            );
            assert!(!out.exists());
        }

        let resumed = resume(
            &fixture,
            &journal,
            &["--identity", key.file.to_str().unwrap()],
        );
        let stderr = text(&resumed.stderr);
        assert_eq!(resumed.status.code(), Some(0), "{stderr}");
        assert_eq!(fixture.total_changes(), 3, "nothing was set twice");
        assert!(
            decrypt_output(&out, &key.identity) == truth,
            "the output written again from the journal decrypts to the truth"
        );
        assert_no_value_in_clear(fixture.directory.path(), &truth);
    }

    #[test]
    fn an_identity_for_a_journal_in_clear_is_only_a_warning() {
        let fixture = Fixture::new(2);
        let key = key(&fixture, "key.txt");
        let out = fixture.path("out.json");
        fixture.reset_all_users("sip", &out);
        let journal = fixture.path("out.json.journal");
        let resumed = resume(
            &fixture,
            &journal,
            &["--identity", key.file.to_str().unwrap()],
        );
        let stderr = text(&resumed.stderr);
        assert_eq!(resumed.status.code(), Some(0), "{stderr}");
        assert!(stderr.contains("warning: `--identity"), "{stderr}");
        assert_eq!(
            crate::common::read_json_output(&out, "newPassword").len(),
            2
        );
    }

    #[test]
    fn a_partly_failed_encrypted_run_is_finished_by_resume_with_the_identity() {
        let faults = Faults {
            fail_after_rate: 0.3,
            drop_rate: 0.1,
            fail_rate: 0.1,
            ..Faults::default()
        };
        let fixture =
            Fixture::with_config(SimConfig::with_users(12).with_seed(11).with_faults(faults));
        let key = key(&fixture, "key.txt");
        let out = fixture.path("out.json.age");
        let first = encrypted_reset(&fixture, &key, &out);
        let stderr = text(&first.stderr);
        assert!(matches!(first.status.code(), Some(0 | 1)), "{stderr}");
        assert_no_value_in_clear(fixture.directory.path(), &truth(&fixture));

        fixture.simulator.set_faults(Faults::default());
        let journal = fixture.path("out.json.age.journal");
        let resumed = resume(
            &fixture,
            &journal,
            &["--identity", key.file.to_str().unwrap()],
        );
        let stderr = text(&resumed.stderr);
        assert_eq!(resumed.status.code(), Some(0), "{stderr}");
        assert!(stderr.contains("12 set, 0 failed, 0 uncertain"), "{stderr}");
        let truth = truth(&fixture);
        assert!(
            decrypt_output(&out, &key.identity) == truth,
            "every user's value in effect is in the decrypted output"
        );
        assert_no_value_in_clear(fixture.directory.path(), &truth);
        assert!(!fixture.path("out.json.age.failed.csv").exists());
        let intents = journal_records(&journal)
            .into_iter()
            .filter(|record| record["record"] == "intent")
            .count();
        assert!(intents >= 12);
    }
}
