//! The report of a run, built from the journal: every target user once, in input order.

use std::fmt;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use crate::Error;
use crate::devices::DeviceReport;
use crate::journal::{Journal, Replay, UserState};
use crate::scope::Scope;
use crate::types::{GroupRef, PasswordType, UserId};

/// A user named more than once in the input: reset once, reported here.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Duplicate {
    /// The user.
    pub user_id: UserId,
    /// How many times the input named the user (at least 2).
    pub occurrences: u32,
}

/// How one user ended.
#[derive(Clone)]
pub enum Outcome {
    /// The server accepted the value: it is the user's credential now.
    Set {
        /// The new value.
        value: SecretString,
    },
    /// The value was certainly not applied (or the user was never attempted): the user's
    /// credential is unchanged. `reason` is the server's text or the engine's.
    Failed {
        /// Why.
        reason: String,
    },
    /// The value was sent and no clear answer came: it may be in effect. Keep it; `resume`
    /// settles it.
    Uncertain {
        /// The value that may be in effect.
        value: SecretString,
        /// Why it is not known.
        reason: String,
    },
}

impl Outcome {
    /// The kind, without the data.
    pub fn kind(&self) -> OutcomeKind {
        match self {
            Outcome::Set { .. } => OutcomeKind::Set,
            Outcome::Failed { .. } => OutcomeKind::Failed,
            Outcome::Uncertain { .. } => OutcomeKind::Uncertain,
        }
    }

    /// The reason, for failed and uncertain users.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Outcome::Set { .. } => None,
            Outcome::Failed { reason } | Outcome::Uncertain { reason, .. } => Some(reason),
        }
    }

    /// The value that is (set) or may be (uncertain) in effect.
    pub fn value(&self) -> Option<&SecretString> {
        match self {
            Outcome::Set { value } | Outcome::Uncertain { value, .. } => Some(value),
            Outcome::Failed { .. } => None,
        }
    }
}

impl fmt::Debug for Outcome {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Set { .. } => formatter
                .debug_struct("Set")
                .field("value", &Redacted)
                .finish(),
            Outcome::Failed { reason } => formatter
                .debug_struct("Failed")
                .field("reason", reason)
                .finish(),
            Outcome::Uncertain { reason, .. } => formatter
                .debug_struct("Uncertain")
                .field("value", &Redacted)
                .field("reason", reason)
                .finish(),
        }
    }
}

/// Serialises without the value: `{"outcome": "set"}`, `{"outcome": "failed", "reason": ..}`.
impl Serialize for Outcome {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("outcome", &self.kind())?;
        if let Some(reason) = self.reason() {
            map.serialize_entry("reason", reason)?;
        }
        map.end()
    }
}

/// The kind of an [`Outcome`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutcomeKind {
    /// See [`Outcome::Set`].
    Set,
    /// See [`Outcome::Failed`].
    Failed,
    /// See [`Outcome::Uncertain`].
    Uncertain,
}

impl fmt::Display for OutcomeKind {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            OutcomeKind::Set => "set",
            OutcomeKind::Failed => "failed",
            OutcomeKind::Uncertain => "uncertain",
        })
    }
}

/// One user's line in the report.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportEntry {
    /// The user.
    pub user_id: UserId,
    /// In a run that gives new SIP authentication user names: the name that is (set) or may be
    /// (uncertain) in effect with the value. `None` otherwise.
    #[serde(rename = "newUserName", skip_serializing_if = "Option::is_none")]
    pub new_user_name: Option<String>,
    /// The index of the user's group in the report's [`Report::scope`] (0 in a run of one
    /// group); [`Report::column_group`] reads it. Not serialised.
    #[serde(skip)]
    pub group_index: u32,
    /// How the user ended.
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// How many users ended each way.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Users whose new value is in effect.
    pub set: usize,
    /// Users left unchanged.
    pub failed: usize,
    /// Users whose new value may be in effect.
    pub uncertain: usize,
}

impl Counts {
    /// All users.
    pub fn total(&self) -> usize {
        self.set + self.failed + self.uncertain
    }
}

/// A [`JournalReport`] collected whole ([`JournalReport::into_report`], [`Journal::report`]):
/// every target user exactly once, in input order, with every value and reason in memory. For
/// the small runs of a library call (the seed's [`crate::bulk_password_reset`] returns one); a
/// large run is handed on from its [`JournalReport`] one user at a time. `Serialize` leaves the
/// values out (use [`Report::credentials`] for them).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// The credential reset.
    pub password_type: PasswordType,
    /// Whom the run targeted: serialised as the journal header names it (`serviceProviderId`,
    /// `groupId`, and across groups `groups`). Each entry's [`ReportEntry::group_index`]
    /// points into its table.
    #[serde(flatten)]
    pub scope: Scope,
    /// Every target user once, in input order.
    pub entries: Vec<ReportEntry>,
    /// Users named more than once in the input.
    pub duplicates: Vec<Duplicate>,
    /// Wall time of this run (zero for a report read from a journal).
    #[serde(serialize_with = "serialize_millis", rename = "elapsedMs")]
    pub elapsed: Duration,
    /// Why the run stopped before attempting every user (login lost, server unavailable, the
    /// process interrupted), if it did. Users not attempted are failed with a reason starting
    /// `not attempted:`; `resume` finishes them.
    pub stop_reason: Option<String>,
}

fn serialize_millis<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_u64(u64::try_from(duration.as_millis()).unwrap_or(u64::MAX))
}

impl Report {
    /// The new values of the users set, in input order: what the operator must keep.
    pub fn credentials(&self) -> Vec<NewCredential> {
        self.collect(|outcome| matches!(outcome, Outcome::Set { .. }))
    }

    /// The values of the uncertain users (they may be in effect), in input order.
    pub fn uncertain_credentials(&self) -> Vec<NewCredential> {
        self.collect(|outcome| matches!(outcome, Outcome::Uncertain { .. }))
    }

    fn collect(&self, keep: impl Fn(&Outcome) -> bool) -> Vec<NewCredential> {
        self.entries
            .iter()
            .filter(|entry| keep(&entry.outcome))
            .filter_map(|entry| {
                let value = entry.outcome.value()?.clone();
                Some(
                    NewCredential::new(self.password_type, entry.user_id.clone(), value)
                        .with_user_name(entry.new_user_name.clone()),
                )
            })
            .collect()
    }

    /// How many users ended each way.
    pub fn counts(&self) -> Counts {
        let mut counts = Counts::default();
        for entry in &self.entries {
            match entry.outcome {
                Outcome::Set { .. } => counts.set += 1,
                Outcome::Failed { .. } => counts.failed += 1,
                Outcome::Uncertain { .. } => counts.uncertain += 1,
            }
        }
        counts
    }

    /// Whether every user is set: nothing is left for `resume` to do.
    pub fn is_complete(&self) -> bool {
        self.stop_reason.is_none()
            && self
                .entries
                .iter()
                .all(|entry| matches!(entry.outcome, Outcome::Set { .. }))
    }

    /// The group the group columns show for the entry at `position` (its
    /// [`ReportEntry::group_index`] in [`Scope::column_group`]): `None` for a run of one group,
    /// which has no group columns, and for a position past the entries.
    pub fn column_group(&self, position: usize) -> Option<&GroupRef> {
        let entry = self.entries.get(position)?;
        self.scope.column_group(entry.group_index)
    }

    /// The entry of one user.
    pub fn entry(&self, user_id: &str) -> Option<&ReportEntry> {
        self.entries
            .iter()
            .find(|entry| entry.user_id.as_str() == user_id)
    }
}

/// A user's new credential, in the seed's output shape: `{"userId", "newPassword"}` for SIP and
/// WEB, `{"userId", "newPasscode"}` for VM; a run that gives new SIP authentication user names
/// adds `newUserName` after `userId`. Serialising it is the one place a value is exposed, on
/// purpose.
#[derive(Clone)]
pub enum NewCredential {
    /// A SIP or web password.
    Password {
        /// The user.
        user_id: UserId,
        /// The new SIP authentication user name sent with the password, in a run that gives
        /// new names.
        new_user_name: Option<String>,
        /// The new password.
        new_password: SecretString,
    },
    /// A voice portal passcode.
    Passcode {
        /// The user.
        user_id: UserId,
        /// The new passcode.
        new_passcode: SecretString,
    },
}

impl NewCredential {
    /// The credential of `user_id` for a run of `password_type`.
    pub fn new(password_type: PasswordType, user_id: UserId, value: SecretString) -> Self {
        if password_type.is_passcode() {
            NewCredential::Passcode {
                user_id,
                new_passcode: value,
            }
        } else {
            NewCredential::Password {
                user_id,
                new_user_name: None,
                new_password: value,
            }
        }
    }

    /// The same credential with the new SIP authentication user name sent with it (a password
    /// only: a passcode has no name).
    #[must_use]
    pub fn with_user_name(self, user_name: Option<String>) -> Self {
        match self {
            NewCredential::Password {
                user_id,
                new_password,
                ..
            } => NewCredential::Password {
                user_id,
                new_user_name: user_name,
                new_password,
            },
            passcode @ NewCredential::Passcode { .. } => passcode,
        }
    }

    /// The new SIP authentication user name, in a run that gives new names.
    pub fn new_user_name(&self) -> Option<&str> {
        match self {
            NewCredential::Password { new_user_name, .. } => new_user_name.as_deref(),
            NewCredential::Passcode { .. } => None,
        }
    }

    /// The user.
    pub fn user_id(&self) -> &UserId {
        match self {
            NewCredential::Password { user_id, .. } | NewCredential::Passcode { user_id, .. } => {
                user_id
            }
        }
    }

    /// The new value.
    pub fn value(&self) -> &SecretString {
        match self {
            NewCredential::Password { new_password, .. } => new_password,
            NewCredential::Passcode { new_passcode, .. } => new_passcode,
        }
    }
}

impl fmt::Debug for NewCredential {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (name, field) = match self {
            NewCredential::Password { .. } => ("Password", "new_password"),
            NewCredential::Passcode { .. } => ("Passcode", "new_passcode"),
        };
        let mut debug = formatter.debug_struct(name);
        debug.field("user_id", self.user_id());
        if let Some(user_name) = self.new_user_name() {
            debug.field("new_user_name", &user_name);
        }
        debug.field(field, &Redacted).finish()
    }
}

impl Serialize for NewCredential {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("userId", self.user_id())?;
        if let Some(user_name) = self.new_user_name() {
            map.serialize_entry("newUserName", user_name)?;
        }
        match self {
            NewCredential::Password { new_password, .. } => {
                map.serialize_entry("newPassword", new_password.expose_secret())?;
            }
            NewCredential::Passcode { new_passcode, .. } => {
                map.serialize_entry("newPasscode", new_passcode.expose_secret())?;
            }
        }
        map.end()
    }
}

/// Prints `[redacted]` in place of a secret.
pub(crate) struct Redacted;

impl fmt::Debug for Redacted {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("[redacted]")
    }
}

/// A new credential, and the user's group in a run across groups.
#[derive(Debug)]
pub struct GroupedCredential<'a> {
    /// The credential.
    pub credential: NewCredential,
    /// The user's group, in a run across groups.
    pub group: Option<&'a GroupRef>,
}

/// The kind of outcome a journal's state of a user is reported as.
pub(crate) fn kind_of(state: UserState) -> OutcomeKind {
    match state {
        UserState::Set => OutcomeKind::Set,
        UserState::Pending | UserState::Uncertain => OutcomeKind::Uncertain,
        UserState::NotStarted | UserState::Rejected | UserState::Failed => OutcomeKind::Failed,
    }
}

/// The reason reported for a user not set in `state` (`journaled`: the reason in the journal).
fn reported_reason<'a>(state: UserState, journaled: &'a str, not_attempted: &'a str) -> &'a str {
    match state {
        UserState::NotStarted => not_attempted,
        UserState::Pending => "sent, but the run stopped before an answer was recorded",
        UserState::Set | UserState::Rejected | UserState::Failed | UserState::Uncertain => {
            journaled
        }
    }
}

/// The reason of a user never attempted, by why the run stopped.
fn not_attempted_reason(stop_reason: Option<&str>) -> String {
    format!(
        "not attempted: {}",
        stop_reason.unwrap_or("the run was interrupted")
    )
}

/// The report of a replayed journal.
impl Replay {
    /// The report: every target once, in input order, each value read back from `journal`.
    pub(crate) fn into_report(self, journal: &Journal, elapsed: Duration) -> Result<Report, Error> {
        let not_attempted = not_attempted_reason(self.stop_reason.as_deref());
        let mut values = journal.value_reader();
        let mut entries = Vec::with_capacity(self.len());
        for (user_id, user) in self.users() {
            let (value, new_user_name) = match user.intent().filter(|_| user.state.has_value()) {
                Some(position) => {
                    let (value, user_name) = values.intent(position, user_id)?;
                    (Some(value), user_name)
                }
                None => (None, None),
            };
            let reason = reported_reason(user.state, self.reason(&user), &not_attempted);
            let outcome = match (kind_of(user.state), value) {
                (OutcomeKind::Set, Some(value)) => Outcome::Set { value },
                (OutcomeKind::Uncertain, Some(value)) => Outcome::Uncertain {
                    value,
                    reason: reason.to_owned(),
                },
                _ => Outcome::Failed {
                    reason: reason.to_owned(),
                },
            };
            entries.push(ReportEntry {
                user_id: UserId::checked(user_id),
                new_user_name: new_user_name.filter(|_| outcome.value().is_some()),
                group_index: self.group_of(entries.len()),
                outcome,
            });
        }
        let header = self.header;
        Ok(Report {
            password_type: header.password_type,
            scope: header.scope,
            entries,
            duplicates: self.duplicates,
            elapsed,
            stop_reason: self.stop_reason,
        })
    }
}

/// The report of a run as its journal holds it, for runs of any size: one user at a time, in
/// input order, each value read back from the journal only while it is handed on. It holds the
/// IDs once and 24 to 32 bytes per user (16 of state, the rest an index of the IDs); [`Report`]
/// holds every value and reason for every user.
///
/// [`JournalReport::into_report`] gives the [`Report`]; [`JournalReport::journal`] the
/// journal, for a follow-up such as the device phase.
pub struct JournalReport {
    replay: Replay,
    journal: Journal,
    elapsed: Duration,
    not_attempted: String,
    counts: Counts,
    /// The phone phase's report, when the run had one ([`crate::RunOptions::with_phones`]).
    phones: Option<DeviceReport>,
}

impl fmt::Debug for JournalReport {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("JournalReport")
            .field("journal", &self.journal)
            .field("users", &self.replay.len())
            .field("counts", &self.counts)
            .field("stop_reason", &self.replay.stop_reason)
            .field("elapsed", &self.elapsed)
            .field("phones", &self.phones)
            .finish()
    }
}

/// One user's outcome, without its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserOutcome<'a> {
    /// The user.
    pub user_id: &'a str,
    /// The user's group, in a run across groups.
    pub group: Option<&'a GroupRef>,
    /// How the user ended.
    pub kind: OutcomeKind,
    /// Why, for failed and uncertain users.
    pub reason: Option<&'a str>,
}

impl JournalReport {
    /// The report of `journal` as it stands, as [`Journal::report`] gives it but without the
    /// values (no request is made; users never attempted count as failed, users sent without a
    /// recorded answer as uncertain). `elapsed`: the run's wall time, zero for a journal read
    /// on its own.
    pub fn read(journal: Journal, elapsed: Duration) -> Result<JournalReport, Error> {
        JournalReport::read_expecting(journal, elapsed, None)
    }

    /// [`JournalReport::read`] at the end of a run whose plan listed `targets`.
    pub(crate) fn read_expecting(
        journal: Journal,
        elapsed: Duration,
        targets: Option<bwreset_backend::UserIdList>,
    ) -> Result<JournalReport, Error> {
        let replay = journal.replay_expecting(targets)?;
        let mut counts = Counts::default();
        for (_, user) in replay.users() {
            match kind_of(user.state) {
                OutcomeKind::Set => counts.set += 1,
                OutcomeKind::Failed => counts.failed += 1,
                OutcomeKind::Uncertain => counts.uncertain += 1,
            }
        }
        Ok(JournalReport {
            not_attempted: not_attempted_reason(replay.stop_reason.as_deref()),
            replay,
            journal,
            elapsed,
            counts,
            phones: None,
        })
    }

    /// The credential reset.
    pub fn password_type(&self) -> PasswordType {
        self.replay.header.password_type
    }

    /// Whom the run targeted (the journal header's).
    pub fn scope(&self) -> &Scope {
        &self.replay.header.scope
    }

    /// Whether the run gives each user a new SIP authentication user name (the journal header's
    /// template): its outputs then carry `newUserName` after `userId`.
    pub fn gives_new_user_names(&self) -> bool {
        self.replay.header.user_name_template.is_some()
    }

    /// Wall time of this run.
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }

    /// Why the run stopped before attempting every user, if it did ([`Report::stop_reason`]).
    pub fn stop_reason(&self) -> Option<&str> {
        self.replay.stop_reason.as_deref()
    }

    /// Users named more than once in the input.
    pub fn duplicates(&self) -> &[Duplicate] {
        &self.replay.duplicates
    }

    /// How many users ended each way.
    pub fn counts(&self) -> Counts {
        self.counts
    }

    /// Whether every user is set: nothing is left for `resume` to do.
    pub fn is_complete(&self) -> bool {
        self.stop_reason().is_none() && self.counts.set == self.counts.total()
    }

    /// Every user once, in input order, without values.
    pub fn entries(&self) -> impl Iterator<Item = UserOutcome<'_>> + '_ {
        self.replay
            .users()
            .enumerate()
            .map(|(position, (user_id, user))| {
                let kind = kind_of(user.state);
                UserOutcome {
                    group: self.group_at(position),
                    user_id,
                    kind,
                    reason: (kind != OutcomeKind::Set).then(|| {
                        reported_reason(user.state, self.replay.reason(&user), &self.not_attempted)
                    }),
                }
            })
    }

    /// The new credential of every user set, in input order; each value is read back from the
    /// journal (and opened, if sealed) as the iterator reaches it.
    pub fn credentials(&self) -> impl Iterator<Item = Result<GroupedCredential<'_>, Error>> + '_ {
        let mut values = self.journal.value_reader();
        let password_type = self.password_type();
        self.replay
            .users()
            .enumerate()
            .filter_map(move |(position, (user_id, user))| {
                let intent = user.intent().filter(|_| user.state == UserState::Set)?;
                Some(values.intent(intent, user_id).map(|(value, user_name)| {
                    GroupedCredential {
                        credential: NewCredential::new(
                            password_type,
                            UserId::checked(user_id),
                            value,
                        )
                        .with_user_name(user_name),
                        group: self.group_at(position),
                    }
                }))
            })
    }

    /// The group of the user at `position` as the group columns name it (`None`: no group
    /// columns).
    fn group_at(&self, position: usize) -> Option<&GroupRef> {
        self.replay
            .header
            .scope
            .column_group(self.replay.group_of(position))
    }

    /// The phone phase's report, when the run went on to the phones
    /// ([`crate::RunOptions::with_phones`]); `None` otherwise.
    pub fn phones(&self) -> Option<&DeviceReport> {
        self.phones.as_ref()
    }

    pub(crate) fn set_phones(&mut self, phones: DeviceReport) {
        self.phones = Some(phones);
    }

    /// The journal the report was read from.
    pub fn journal(&self) -> &Journal {
        &self.journal
    }

    /// The whole [`Report`], every value read back from the journal.
    pub fn into_report(self) -> Result<Report, Error> {
        self.replay.into_report(&self.journal, self.elapsed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str) -> UserId {
        UserId::try_from(id).unwrap()
    }

    fn sample(password_type: PasswordType) -> Report {
        Report {
            password_type,
            scope: Scope::group(GroupRef::new("sp", "g")),
            entries: vec![
                ReportEntry {
                    user_id: user("b@x"),
                    new_user_name: None,
                    group_index: 0,
                    outcome: Outcome::Set {
                        value: SecretString::from("Secret-One-1"),
                    },
                },
                ReportEntry {
                    user_id: user("a@x"),
                    new_user_name: None,
                    group_index: 0,
                    outcome: Outcome::Failed {
                        reason: "[Error 4008] User not found: a@x".into(),
                    },
                },
                ReportEntry {
                    user_id: user("c@x"),
                    new_user_name: None,
                    group_index: 0,
                    outcome: Outcome::Uncertain {
                        value: SecretString::from("Secret-Two-2"),
                        reason: "no clear answer".into(),
                    },
                },
            ],
            duplicates: vec![Duplicate {
                user_id: user("b@x"),
                occurrences: 2,
            }],
            elapsed: Duration::from_millis(1500),
            stop_reason: None,
        }
    }

    #[test]
    fn credentials_have_the_seed_shape() {
        let report = sample(PasswordType::Sip);
        let json = serde_json::to_string(&report.credentials()).unwrap();
        assert_eq!(json, r#"[{"userId":"b@x","newPassword":"Secret-One-1"}]"#);
        let report = sample(PasswordType::Vm);
        let json = serde_json::to_string(&report.credentials()).unwrap();
        assert_eq!(json, r#"[{"userId":"b@x","newPasscode":"Secret-One-1"}]"#);
        assert_eq!(report.uncertain_credentials().len(), 1);
    }

    #[test]
    fn debug_and_report_serialisation_never_show_a_value() {
        let report = sample(PasswordType::Web);
        let debug = format!("{report:?} {:?}", report.credentials());
        assert!(!debug.contains("Secret-"), "{debug}");
        assert!(debug.contains("[redacted]"), "{debug}");
        let json = serde_json::to_string(&report).unwrap();
        assert!(!json.contains("Secret-"), "{json}");
        assert!(json.contains(r#""outcome":"uncertain""#), "{json}");
        assert!(json.contains(r#""elapsedMs":1500"#), "{json}");
    }

    #[test]
    fn counts_and_completeness() {
        let report = sample(PasswordType::Sip);
        assert_eq!(
            report.counts(),
            Counts {
                set: 1,
                failed: 1,
                uncertain: 1
            }
        );
        assert!(!report.is_complete());
        assert_eq!(report.counts().total(), 3);
        assert!(report.entry("a@x").is_some());
    }
}
