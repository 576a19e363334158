//! What a journal line says: the header, every record as written (borrowed) and as read (owned),
//! their one-line JSON encoding, the plan's records, and the journal's timestamp format.

use std::time::{SystemTime, UNIX_EPOCH};

use bwreset_backend::UserIdList;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::report::Duplicate;
use crate::scope::Scope;
use crate::types::{GroupRef, PasswordType, UserId};

/// The journal format version written by this build. Version 2 added the optional `sealed`
/// field of `intent` records, version 3 the device records (`device`, `devicesEnd`,
/// `deviceIntent` (a reset's with the device's registrations before it, `before`),
/// `deviceOutcome`, `deviceRegistered`), version 4 the runs across groups (the header's
/// `groups`, and the `groups` of `targets` records: each user's index in them), version 5 the
/// header's server written `server` (it was `baseUrl`, although an OCI-P server's address is no
/// base URL; read under either name), version 6 the new SIP authentication user names (issue
/// 26: the header's `userNameTemplate`, and the `userName` of an `intent`, the name sent with
/// its value, never sealed), so that an older build refuses such a journal instead of sending a
/// password again without its name; this build reads versions 1 to 6, a fixture of each of 1 to
/// 5 kept under `tests/fixtures` (a run without new names writes the lines version 5 did).
pub const JOURNAL_VERSION: u32 = 6;

/// The oldest journal format version this build reads.
pub(super) const OLDEST_JOURNAL_VERSION: u32 = 1;

/// Target IDs per `targets` line.
const TARGETS_PER_LINE: usize = 1000;

/// The first line of a journal: what the run is about.
///
/// Its `scope` is written as the fields every version wrote: `serviceProviderId` and `groupId`
/// (a run of one group), and for a run across groups `groups` (then `groupId` is empty); see
/// [`Scope::service_provider_id`], [`Scope::group_id`] and [`Scope::listed_groups`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(into = "HeaderFields", from = "HeaderFields")]
pub struct JournalHeader {
    /// The journal format version ([`JOURNAL_VERSION`]).
    pub version: u32,
    /// The version of the tool that created the journal.
    pub tool_version: String,
    /// The credential reset.
    pub password_type: PasswordType,
    /// Whom the run targets: its groups, and whether its outputs carry group columns.
    pub scope: Scope,
    /// The server the run talks to (`Backend::server`: an Odin base URL or an OCI-P server's
    /// `ocips://` address), compared on resume. Written as `server`; journals of earlier builds
    /// call it `baseUrl`.
    pub server: String,
    /// When the journal was created, RFC 3339 in UTC.
    pub created_at: String,
    /// Opaque to the engine: the caller keeps what it needs to resume (output path, format).
    pub meta: serde_json::Value,
    /// A run that gives each user a new SIP authentication user name: the template the names
    /// come from ([`crate::UserNameTemplate`]), kept so that `resume` makes fresh names the same
    /// way. Absent in every other run (and in every journal before version 6).
    pub user_name_template: Option<String>,
}

/// The header as its line holds it (the format of every version).
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct HeaderFields {
    version: u32,
    tool_version: String,
    password_type: PasswordType,
    service_provider_id: String,
    group_id: String,
    #[serde(alias = "baseUrl")]
    server: String,
    created_at: String,
    #[serde(default)]
    meta: serde_json::Value,
    /// A run across groups: every group once. Empty: the run's one group is
    /// `serviceProviderId`/`groupId` (version 3 and older journals, and every run of one group).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    groups: Vec<GroupRef>,
    /// See [`JournalHeader::user_name_template`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    user_name_template: Option<String>,
}

impl From<JournalHeader> for HeaderFields {
    fn from(header: JournalHeader) -> HeaderFields {
        HeaderFields {
            version: header.version,
            tool_version: header.tool_version,
            password_type: header.password_type,
            service_provider_id: header.scope.service_provider_id().to_owned(),
            group_id: header.scope.group_id().to_owned(),
            server: header.server,
            created_at: header.created_at,
            meta: header.meta,
            groups: header.scope.listed_groups().to_vec(),
            user_name_template: header.user_name_template,
        }
    }
}

impl From<HeaderFields> for JournalHeader {
    fn from(fields: HeaderFields) -> JournalHeader {
        JournalHeader {
            version: fields.version,
            tool_version: fields.tool_version,
            password_type: fields.password_type,
            scope: Scope::from_header_fields(
                fields.service_provider_id,
                fields.group_id,
                fields.groups,
            ),
            server: fields.server,
            created_at: fields.created_at,
            meta: fields.meta,
            user_name_template: fields.user_name_template,
        }
    }
}

impl JournalHeader {
    /// A header for a run of group `group_id` of `service_provider_id`, created now, with this
    /// crate's version ([`JournalHeader::with_scope`] makes it a run across groups).
    pub fn new(
        password_type: PasswordType,
        service_provider_id: impl Into<String>,
        group_id: impl Into<String>,
        server: impl Into<String>,
        meta: serde_json::Value,
    ) -> Self {
        let scope = Scope::group(GroupRef::new(service_provider_id, group_id));
        JournalHeader::for_scope(password_type, scope, server.into(), meta)
    }

    /// A header created now, for a run of `scope`.
    fn for_scope(
        password_type: PasswordType,
        scope: Scope,
        server: String,
        meta: serde_json::Value,
    ) -> Self {
        JournalHeader {
            version: JOURNAL_VERSION,
            tool_version: env!("CARGO_PKG_VERSION").to_owned(),
            password_type,
            scope,
            server,
            created_at: rfc3339_now(),
            meta,
            user_name_template: None,
        }
    }

    /// The header for a run of `plan`, created now: its type and its scope
    /// ([`crate::Plan::scope`]). What [`crate::execute`] checks the journal against.
    pub fn for_plan(
        plan: &crate::Plan,
        server: impl Into<String>,
        meta: serde_json::Value,
    ) -> Self {
        JournalHeader::for_scope(
            plan.password_type,
            plan.scope().clone(),
            server.into(),
            meta,
        )
    }

    /// The same header for a run of `scope`.
    pub fn with_scope(self, scope: Scope) -> Self {
        JournalHeader { scope, ..self }
    }

    /// The same header for a run that gives each user a new SIP authentication user name from
    /// `template` (what [`crate::EngineConfig::new_user_names`] must hold for [`crate::execute`]).
    pub fn with_user_name_template(self, template: &crate::UserNameTemplate) -> Self {
        JournalHeader {
            user_name_template: Some(template.to_string()),
            ..self
        }
    }
}

/// A record as written (borrowed fields).
#[derive(Serialize)]
#[serde(tag = "record", rename_all = "camelCase")]
pub(crate) enum RecordOut<'a> {
    Header(&'a JournalHeader),
    Targets {
        users: TargetsOut<'a>,
        /// A run across groups: each user's index in the header's `groups`.
        #[serde(skip_serializing_if = "Option::is_none")]
        groups: Option<&'a [u32]>,
    },
    Duplicates {
        duplicates: &'a [Duplicate],
    },
    Rejected {
        user: &'a str,
        reason: &'a str,
    },
    PlanEnd {
        users: u64,
    },
    Intent {
        user: &'a str,
        #[serde(serialize_with = "serialize_secret")]
        value: &'a SecretString,
        attempt: u32,
        /// The new SIP authentication user name sent with `value` (issue 26); left out, as in
        /// every journal written before it, when none is sent.
        #[serde(rename = "userName", skip_serializing_if = "Option::is_none")]
        user_name: Option<&'a str>,
    },
    Outcome {
        user: &'a str,
        result: OutcomeRecord,
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<&'a str>,
    },
    Stopped {
        reason: &'a str,
    },
    Resumed {
        at: String,
    },
    Device(&'a DeviceRecord),
    DevicesEnd {
        devices: u64,
        action: DeviceAction,
        users: &'a [UserId],
    },
    DeviceIntent {
        device: u32,
        action: DeviceAction,
        /// For a reset: the device's registrations just before it was sent.
        #[serde(skip_serializing_if = "Option::is_none")]
        before: Option<&'a [RegistrationMark]>,
    },
    DeviceOutcome {
        device: u32,
        action: DeviceAction,
        result: DeviceStepRecord,
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<&'a str>,
    },
    DeviceRegistered {
        device: u32,
        registered: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<&'a str>,
    },
}

/// A device found for the device follow-up, as journaled (`device` record).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DeviceRecord {
    pub name: String,
    pub level: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_provider_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_type: Option<String>,
    /// The run's users (set ones) on the device.
    pub users: Vec<UserId>,
    /// The device registers with its own credentials: skipped.
    pub own_credentials: bool,
}

/// One registration of a device's user, as a group registration read showed it: the user and
/// the registration's `expiration`, which the server renews each time the device registers. A
/// mark absent from the ones kept before a reset is a registration made after that reset.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub(crate) struct RegistrationMark {
    /// The user, lowercased.
    pub user: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration: Option<String>,
}

/// What the device follow-up does to each device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceAction {
    /// Rebuild the configuration files only.
    Rebuild,
    /// Rebuild, then reset the device and wait for it to register again.
    Reset,
}

/// The result of one device request, as journaled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum DeviceStepRecord {
    /// The server answered that it was done.
    Done,
    /// Certainly not done.
    Failed,
    /// No clear answer: it may have been done.
    Uncertain,
}

impl<'a> RecordOut<'a> {
    pub(crate) fn intent(
        user: &'a str,
        value: &'a SecretString,
        attempt: u32,
        user_name: Option<&'a str>,
    ) -> Self {
        RecordOut::Intent {
            user,
            value,
            attempt,
            user_name,
        }
    }

    pub(crate) fn outcome(user: &'a str, result: OutcomeRecord, reason: Option<&'a str>) -> Self {
        RecordOut::Outcome {
            user,
            result,
            reason,
        }
    }
}

/// The one place a value is exposed for the journal.
fn serialize_secret<S: serde::Serializer>(
    value: &&SecretString,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(value.expose_secret())
}

/// An `intent` whose value is sealed: the value as the sealer wrote it, and the sealer's scheme.
#[derive(Serialize)]
pub(super) struct SealedIntentOut<'a> {
    pub(super) record: &'static str,
    pub(super) user: &'a str,
    pub(super) value: &'a str,
    pub(super) attempt: u32,
    pub(super) sealed: &'a str,
    /// Not sealed: a user name is no secret (a read shows it to any administrator).
    #[serde(rename = "userName", skip_serializing_if = "Option::is_none")]
    pub(super) user_name: Option<&'a str>,
}

/// The result of one attempt, as journaled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum OutcomeRecord {
    /// The value is in effect.
    Set,
    /// The user ends unchanged (the value was certainly not applied).
    Failed,
    /// The value may be in effect.
    Uncertain,
    /// The server refused the value for a rule (certainly not applied); a fresh value follows.
    Rejected,
}

/// A record as read.
#[derive(Deserialize)]
#[serde(tag = "record", rename_all = "camelCase")]
pub(super) enum RecordIn {
    Header(JournalHeader),
    Targets {
        users: Vec<UserId>,
        #[serde(default)]
        groups: Option<Vec<u32>>,
    },
    Duplicates {
        duplicates: Vec<Duplicate>,
    },
    Rejected {
        user: UserId,
        reason: String,
    },
    PlanEnd {
        users: u64,
    },
    Intent {
        user: UserId,
        value: SecretString,
        attempt: u32,
        /// The sealer's scheme when `value` is sealed.
        #[serde(default)]
        sealed: Option<String>,
        /// The new SIP authentication user name sent with `value`, when one was (issue 26).
        #[serde(default, rename = "userName")]
        user_name: Option<String>,
    },
    Outcome {
        user: UserId,
        result: OutcomeRecord,
        #[serde(default)]
        reason: Option<String>,
    },
    Stopped {
        reason: String,
    },
    Resumed {
        #[expect(dead_code)]
        at: String,
    },
    Device(DeviceRecord),
    DevicesEnd {
        devices: u64,
        action: DeviceAction,
        #[serde(default)]
        users: Vec<UserId>,
    },
    DeviceIntent {
        device: u32,
        action: DeviceAction,
        #[serde(default)]
        before: Option<Vec<RegistrationMark>>,
    },
    DeviceOutcome {
        device: u32,
        action: DeviceAction,
        result: DeviceStepRecord,
        #[serde(default)]
        reason: Option<String>,
    },
    DeviceRegistered {
        device: u32,
        registered: bool,
        #[serde(default)]
        reason: Option<String>,
    },
}

/// One record as one line. The buffer is wiped when dropped: it may hold a value.
pub(super) fn encode(record: &impl Serialize) -> Zeroizing<Vec<u8>> {
    let mut line = Zeroizing::new(Vec::with_capacity(256));
    // Serialising these types cannot fail: plain strings, numbers and enums.
    if serde_json::to_writer(&mut *line, record).is_err() {
        line.clear();
        line.extend_from_slice(b"{}");
    }
    line.push(b'\n');
    line
}

pub(super) fn parse_line(line: &[u8]) -> Result<RecordIn, String> {
    serde_json::from_slice::<RecordIn>(line).map_err(|error| {
        // serde_json's message may quote a piece of the line (a value): keep only the category
        // and the position.
        let category = match error.classify() {
            serde_json::error::Category::Io => "read error",
            serde_json::error::Category::Syntax => "invalid JSON",
            serde_json::error::Category::Data => "unexpected record shape",
            serde_json::error::Category::Eof => "truncated JSON",
        };
        format!("{category} at column {}", error.column())
    })
}

/// Now as RFC 3339 in UTC, to the second.
pub(crate) fn rfc3339_now() -> String {
    utc_timestamp(SystemTime::now())
}

/// `time` as RFC 3339 in UTC, to the second, e.g. `2024-05-01T02:13:07Z` (times before 1970
/// read as 1970): the one timestamp format of journals and of the CLI's audit records.
pub fn utc_timestamp(time: SystemTime) -> String {
    rfc3339(
        time.duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_secs()),
    )
}

pub(super) fn rfc3339(unix_seconds: u64) -> String {
    i64::try_from(unix_seconds)
        .ok()
        .and_then(|seconds| time::OffsetDateTime::from_unix_timestamp(seconds).ok())
        .and_then(|utc| {
            utc.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        // Past the year 9999 (a clock gone wrong): the largest time RFC 3339 can say.
        .unwrap_or_else(|| "9999-12-31T23:59:59Z".to_owned())
}

/// The plan's records, written durably before any request (`append_all_durable`).
/// `user_groups`: for a run across groups, each user's index in the header's groups; empty
/// otherwise.
pub(crate) fn plan_records<'a>(
    users: &'a UserIdList,
    user_groups: &'a [u32],
    duplicates: &'a [Duplicate],
    rejected: impl Iterator<Item = (&'a str, &'a str)>,
) -> Vec<RecordOut<'a>> {
    let mut records: Vec<RecordOut<'a>> = (0..users.len())
        .step_by(TARGETS_PER_LINE)
        .map(|start| {
            let end = (start + TARGETS_PER_LINE).min(users.len());
            RecordOut::Targets {
                users: TargetsOut { users, start, end },
                groups: (!user_groups.is_empty()).then(|| {
                    &user_groups[start.min(user_groups.len())..end.min(user_groups.len())]
                }),
            }
        })
        .collect();
    records.extend(
        duplicates
            .chunks(TARGETS_PER_LINE)
            .map(|duplicates| RecordOut::Duplicates { duplicates }),
    );
    records.extend(rejected.map(|(user, reason)| RecordOut::Rejected { user, reason }));
    records.push(RecordOut::PlanEnd {
        users: users.len() as u64,
    });
    records
}

/// A `targets` line's users: a range of the plan's list, serialised as an array of strings.
#[derive(Clone, Copy)]
pub(crate) struct TargetsOut<'a> {
    users: &'a UserIdList,
    start: usize,
    end: usize,
}

impl Serialize for TargetsOut<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(
            (self.start..self.end).map(|position| self.users.get(position).unwrap_or_default()),
        )
    }
}

/// How every journal's first line starts (the record tag is serialised first).
pub(super) const HEADER_START: &[u8] = b"{\"record\":\"header\"";
