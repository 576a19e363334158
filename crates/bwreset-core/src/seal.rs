//! Sealing the values the journal holds: a hook, so that a caller can keep every new credential
//! encrypted on disk without the engine knowing how.
//!
//! By default a journal writes each `intent` value as it is. A journal given a [`ValueSealer`]
//! ([`crate::Journal::create_sealed`], [`crate::Journal::open_sealed`]) writes
//! `"value": <sealer.seal(value)>, "sealed": <sealer.scheme()>` instead, and turns such a line
//! back into the value with [`ValueSealer::open`] when it replays. A journal opened without a
//! sealer refuses a sealed value ([`crate::Error::JournalSealed`]): it never mistakes a sealed
//! value for a credential.

use std::fmt;

use secrecy::SecretString;

/// Seals values for the journal and opens them again. Implementations must be cheap to share
/// between the engine's workers; `seal` is called once for each value sent, before it is sent.
pub trait ValueSealer: Send + Sync + fmt::Debug {
    /// The name written beside each sealed value (`"sealed": "<scheme>"`), such as `age`.
    fn scheme(&self) -> &str;

    /// Seals one value: what is written to the journal in its place (one JSON string: no
    /// newline needed, any text allowed).
    fn seal(&self, value: &SecretString) -> Result<String, SealError>;

    /// Opens a value this sealer (or an earlier one with the same keys) sealed.
    fn open(&self, sealed: &str) -> Result<SecretString, SealError>;
}

/// Why a value could not be sealed or opened. The message never holds a value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealError {
    message: String,
}

impl SealError {
    /// An error with this message (which must not quote a value).
    pub fn new(message: impl Into<String>) -> Self {
        SealError {
            message: message.into(),
        }
    }
}

impl fmt::Display for SealError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.message)
    }
}

impl std::error::Error for SealError {}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use secrecy::{ExposeSecret, SecretString};

    use super::{SealError, ValueSealer};
    use crate::journal::{OutcomeRecord, RecordOut, plan_records};
    use crate::{Error, Journal, JournalHeader, OutcomeKind, PasswordType, UserId};

    /// A toy sealer: the value's bytes XORed with a key, in hex. Opening with another key
    /// fails (the first byte is the key itself, sealed).
    #[derive(Debug)]
    struct Toy {
        key: u8,
        broken: AtomicBool,
    }

    impl Toy {
        fn new(key: u8) -> Arc<Toy> {
            Arc::new(Toy {
                key,
                broken: AtomicBool::new(false),
            })
        }
    }

    impl ValueSealer for Toy {
        fn scheme(&self) -> &str {
            "toy"
        }

        fn seal(&self, value: &SecretString) -> Result<String, SealError> {
            if self.broken.load(Ordering::SeqCst) {
                return Err(SealError::new("the toy is broken"));
            }
            Ok(std::iter::once(0)
                .chain(value.expose_secret().bytes())
                .map(|byte| format!("{:02x}", byte ^ self.key))
                .collect())
        }

        fn open(&self, sealed: &str) -> Result<SecretString, SealError> {
            let bytes: Vec<u8> = (0..sealed.len())
                .step_by(2)
                .map(|index| u8::from_str_radix(&sealed[index..index + 2], 16).unwrap() ^ self.key)
                .collect();
            if bytes.first() != Some(&0) {
                return Err(SealError::new("no key matches"));
            }
            Ok(SecretString::from(
                String::from_utf8(bytes[1..].to_vec()).unwrap(),
            ))
        }
    }

    fn header() -> JournalHeader {
        JournalHeader::new(
            PasswordType::Sip,
            "sp",
            "group",
            "http://127.0.0.1:1/api/v2",
            serde_json::json!({ "sealedFor": "toy" }),
        )
    }

    fn users() -> Vec<UserId> {
        ["a@x", "b@x", "c@x"]
            .into_iter()
            .map(|id| UserId::try_from(id).unwrap())
            .collect()
    }

    /// `a` set, `b` pending, `c` never started.
    async fn write(journal: &Journal, users: &[UserId]) {
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
            .append_durable(&RecordOut::intent(
                &users[0],
                &SecretString::from("Alpha-Value-1"),
                1,
                None,
            ))
            .await
            .unwrap();
        journal.append(&RecordOut::outcome(&users[0], OutcomeRecord::Set, None));
        journal
            .append_durable(&RecordOut::intent(
                &users[1],
                &SecretString::from("Bravo-Value-2"),
                1,
                None,
            ))
            .await
            .unwrap();
        journal.sync().await.unwrap();
    }

    fn values(journal: &Journal) -> Vec<(OutcomeKind, Option<String>)> {
        journal
            .report()
            .unwrap()
            .entries
            .iter()
            .map(|entry| {
                (
                    entry.outcome.kind(),
                    entry
                        .outcome
                        .value()
                        .map(|value| value.expose_secret().to_owned()),
                )
            })
            .collect()
    }

    /// Issue 26: a new SIP user name journaled with a sealed value stays in plain text (a name is
    /// no secret); the value alone is sealed, and opens as before.
    #[tokio::test]
    async fn a_user_name_beside_a_sealed_value_is_not_sealed() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("run.journal");
        let users = users();
        let journal = Journal::create_sealed(&path, header(), Toy::new(0x5a)).unwrap();
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
            .append_durable(&RecordOut::Intent {
                user: &users[0],
                value: &SecretString::from("Alpha-Value-1"),
                attempt: 1,
                user_name: Some("k3v9x2m4q8w1"),
            })
            .await
            .unwrap();
        drop(journal);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("Alpha"), "{text}");
        let intent = text
            .lines()
            .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
            .find(|record| record["record"] == "intent")
            .unwrap();
        assert_eq!(intent["userName"], "k3v9x2m4q8w1");
        assert_eq!(intent["sealed"], "toy");
        let reopened = Journal::open_sealed(&path, Toy::new(0x5a)).unwrap();
        assert_eq!(
            values(&reopened)[0],
            (OutcomeKind::Uncertain, Some("Alpha-Value-1".to_owned()))
        );
    }

    #[tokio::test]
    async fn sealed_values_never_reach_the_file_and_replay_as_they_were() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("run.journal");
        let users = users();
        let journal = Journal::create_sealed(&path, header(), Toy::new(0x5a)).unwrap();
        write(&journal, &users).await;
        let expected = vec![
            (OutcomeKind::Set, Some("Alpha-Value-1".to_owned())),
            (OutcomeKind::Uncertain, Some("Bravo-Value-2".to_owned())),
            (OutcomeKind::Failed, None),
        ];
        assert_eq!(
            values(&journal),
            expected,
            "the writer reads its own values"
        );
        drop(journal);

        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("Alpha") && !text.contains("Bravo"), "{text}");
        let intents: Vec<serde_json::Value> = text
            .lines()
            .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
            .filter(|record| record["record"] == "intent")
            .collect();
        assert_eq!(intents.len(), 2);
        for intent in &intents {
            assert_eq!(intent["sealed"], "toy");
            assert!(intent["value"].as_str().unwrap().starts_with("5a"));
        }

        let header = Journal::read_header(&path).unwrap();
        assert_eq!(header.version, crate::JOURNAL_VERSION);
        assert_eq!(header.meta["sealedFor"], "toy");

        let reopened = Journal::open_sealed(&path, Toy::new(0x5a)).unwrap();
        assert_eq!(values(&reopened), expected);
    }

    #[tokio::test]
    async fn a_sealed_journal_without_its_key_is_refused_and_left_whole() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("run.journal");
        let users = users();
        let journal = Journal::create_sealed(&path, header(), Toy::new(0x5a)).unwrap();
        write(&journal, &users).await;
        drop(journal);
        let before = std::fs::read(&path).unwrap();

        for (opened, words) in [
            (Journal::open(&path), "no key"),
            (Journal::open_sealed(&path, Toy::new(0x33)), "cannot open"),
        ] {
            let error = opened.expect_err("refused");
            let message = error.to_string();
            assert!(matches!(error, Error::JournalSealed { .. }), "{message}");
            assert!(
                message.contains(words) && message.contains("line"),
                "{message}"
            );
            assert!(message.contains("`a@x`"), "{message}");
        }
        assert_eq!(
            std::fs::read(&path).unwrap(),
            before,
            "a value that cannot be opened is not a torn line: nothing is cut"
        );
    }

    #[tokio::test]
    async fn a_value_that_cannot_be_sealed_is_not_written() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("run.journal");
        let users = users();
        let toy = Toy::new(1);
        let journal = Journal::create_sealed(&path, header(), toy.clone()).unwrap();
        journal
            .append_all_durable(&plan_records(
                &users.iter().collect(),
                &[],
                &[],
                std::iter::empty(),
            ))
            .await
            .unwrap();
        toy.broken.store(true, Ordering::SeqCst);
        let error = journal
            .append_durable(&RecordOut::intent(
                &users[0],
                &SecretString::from("Never-Written-3"),
                1,
                None,
            ))
            .await
            .expect_err("cannot seal");
        assert!(matches!(error, Error::JournalSealed { .. }), "{error}");
        drop(journal);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            !text.contains("Never") && !text.contains("intent"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn plain_and_version_1_journals_read_as_before() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("run.journal");
        let users = users();
        let journal = Journal::create(&path, header()).unwrap();
        write(&journal, &users).await;
        drop(journal);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("Alpha-Value-1") && !text.contains("\"sealed\""));

        // The same journal as a version-1 build wrote it.
        let current = format!("\"version\":{}", crate::JOURNAL_VERSION);
        let old = directory.path().join("old.journal");
        let old_text =
            text.replacen(&current, "\"version\":1", 1)
                .replacen("\"server\":", "\"baseUrl\":", 1);
        std::fs::write(&old, old_text).unwrap();
        let reopened = Journal::open(&old).unwrap();
        assert_eq!(reopened.header().version, 1);
        assert_eq!(values(&reopened)[0].1.as_deref(), Some("Alpha-Value-1"));

        let future = directory.path().join("future.journal");
        let newer = crate::JOURNAL_VERSION + 1;
        std::fs::write(
            &future,
            text.replacen(&current, &format!("\"version\":{newer}"), 1),
        )
        .unwrap();
        let message = Journal::open(&future).expect_err("too new").to_string();
        assert!(message.contains(&format!("version {newer}")), "{message}");
    }
}
