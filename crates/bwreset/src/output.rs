//! What a run writes: the credentials (JSON or CSV), the failures file, and the audit record,
//! and where each of them goes.
//!
//! The paths are decided once ([`RunFiles`]) and recorded in the journal's header, so that
//! `resume` writes exactly the files a clean run would have written.
//!
//! Every file is written as it is serialised, a user at a time, through a buffer of 64 KiB that
//! is wiped when dropped ([`ZeroizingBufWriter`]): a run's memory does not grow with the size
//! of its output, and no copy of the values is left behind in freed memory.

use std::io::{self, Write};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use bwreset_core::{
    GroupRef, GroupedCredential, JournalReport, NewCredential, OutcomeKind, PasswordType, Scope,
};
use secrecy::ExposeSecret;
use serde::ser::SerializeSeq as _;
use serde::{Deserialize, Serialize, Serializer as _};

use crate::cli::OutputFormat;
use crate::encryption;
use crate::errors::Failure;
use crate::files;
use crate::zeroizing_writer::ZeroizingBufWriter;

/// Whether a run's files are new (a reset: never overwrite) or written again (a resume of the
/// same run: replace atomically).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WriteMode {
    New,
    Again,
}

/// Where the new credentials go.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind", content = "path")]
pub(crate) enum OutputTarget {
    /// `--out -`: the credentials are the data this command prints.
    Stdout,
    /// A file, as an absolute path.
    File(PathBuf),
}

impl OutputTarget {
    pub(crate) fn describe(&self) -> String {
        match self {
            OutputTarget::Stdout => "standard output".to_owned(),
            OutputTarget::File(path) => format!("`{}`", path.display()),
        }
    }
}

/// Every file of one run. Stored in the journal's header (`meta`), paths absolute.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RunFiles {
    pub output: OutputTarget,
    pub format: OutputFormat,
    pub journal: PathBuf,
    pub failures: PathBuf,
    pub audit: PathBuf,
    /// The age recipients the output and the journal's values are encrypted to (`--encrypt-to`);
    /// empty: in clear.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub encrypt_to: Vec<String>,
}

impl RunFiles {
    /// Decides the files of a new run from `--out`, `--format` and `--journal`. The journal
    /// defaults to `<out>.journal`; with `--out -` it must be named, and the failures file and
    /// the audit record go beside it.
    pub(crate) fn plan(
        out: &Path,
        format: Option<OutputFormat>,
        journal: Option<&Path>,
    ) -> Result<RunFiles, Failure> {
        let absolute = |path: &Path| {
            std::path::absolute(path).map_err(|error| {
                Failure::usage(format!("cannot use path `{}`: {error}", path.display()))
            })
        };
        let (output, journal, base) = if out == Path::new("-") {
            let journal = journal.ok_or_else(|| {
                Failure::usage("`--out -` needs `--journal FILE`")
                    .with_hint("the journal is what lets `bwreset resume` finish an interrupted run: name where it goes")
            })?;
            let journal = absolute(journal)?;
            (OutputTarget::Stdout, journal.clone(), journal)
        } else {
            let out = absolute(out)?;
            let journal = match journal {
                Some(journal) => absolute(journal)?,
                None => with_suffix(&out, ".journal"),
            };
            (OutputTarget::File(out.clone()), journal, out)
        };
        let format = format.unwrap_or_else(|| match &output {
            // `creds.csv.age`: CSV, encrypted.
            OutputTarget::File(path)
                if extension_is(path, "csv")
                    || (extension_is(path, "age")
                        && extension_is(
                            Path::new(path.file_stem().unwrap_or_default()),
                            "csv",
                        )) =>
            {
                OutputFormat::Csv
            }
            _ => OutputFormat::Json,
        });
        let files = RunFiles {
            output,
            format,
            journal,
            failures: with_suffix(&base, ".failed.csv"),
            audit: with_suffix(&base, ".audit.json"),
            encrypt_to: Vec::new(),
        };
        // One file doing two jobs would end with one overwriting the other: a resume writing the
        // output over its own journal, say.
        let mut paths = vec![&files.journal, &files.failures, &files.audit];
        if let OutputTarget::File(path) = &files.output {
            paths.push(path);
        }
        for (index, path) in paths.iter().enumerate() {
            if paths[..index].contains(path) {
                return Err(Failure::usage(format!(
                    "`{}` would be used for two of the run's files",
                    path.display()
                ))
                .with_hint("give `--out` and `--journal` different paths"));
            }
        }
        Ok(files)
    }

    /// How the output is protected, for the confirmation and the summary: empty in clear.
    pub(crate) fn encryption_note(&self) -> String {
        match self.encrypt_to.len() {
            0 => String::new(),
            1 => " (encrypted with age to 1 recipient)".to_owned(),
            count => format!(" (encrypted with age to {count} recipients)"),
        }
    }

    /// Refuses to start when one of the run's files exists already or cannot be created.
    pub(crate) fn ensure_creatable(&self) -> Result<(), Failure> {
        if let OutputTarget::File(path) = &self.output {
            files::ensure_creatable(path, "output file")?;
        }
        files::ensure_creatable(&self.journal, "journal").map_err(|failure| {
            failure.with_hint(format!(
                "to finish the run that journal belongs to: `bwreset resume --journal {}`",
                self.journal.display()
            ))
        })?;
        files::ensure_creatable(&self.failures, "failures file")?;
        files::ensure_creatable(&self.audit, "audit record")
    }
}

fn extension_is(path: &Path, wanted: &str) -> bool {
    path.extension()
        .is_some_and(|extension| extension.eq_ignore_ascii_case(wanted))
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut text = path.as_os_str().to_owned();
    text.push(suffix);
    PathBuf::from(text)
}

/// Writes the credentials of the users set, in input order, where the run said: a new private
/// file, the file an earlier attempt of the same run wrote (replaced atomically), or stdout;
/// encrypted with age when the run has recipients. Nothing is rendered in memory first.
pub(crate) fn write_credentials(
    files: &RunFiles,
    report: &JournalReport,
    mode: WriteMode,
) -> anyhow::Result<()> {
    // Checked before any file is created.
    let encryptor = if files.encrypt_to.is_empty() {
        None
    } else {
        Some(encryption::output_encryptor(&files.encrypt_to)?)
    };
    let format = files.format;
    let write = |out: &mut dyn Write| match encryptor {
        None => serialize_credentials(out, report, format),
        Some(encryptor) => encryptor.encrypt(out, |plaintext| {
            serialize_credentials(plaintext, report, format)
        }),
    };
    match &files.output {
        OutputTarget::Stdout => write_stdout(write)?,
        OutputTarget::File(path) => match mode {
            WriteMode::New => files::write_new_private_with(path, write),
            WriteMode::Again => files::replace_private_with(path, write),
        }
        .map_err(|error| {
            anyhow::anyhow!("cannot write output file `{}`: {error}", path.display())
        })?,
    }
    Ok(())
}

/// The credentials in the seed's shape: a pretty JSON array of `{"userId", "newPassword"}` (or
/// `"newPasscode"`), or CSV with the same columns. A run across groups adds `serviceProviderId`
/// and `groupId` (JSON keys after `userId`; CSV columns
/// `serviceProviderId,groupId,userId,newPassword`). A run that gives new SIP user names adds
/// `newUserName` right after `userId` (JSON key and CSV column), and only such a run: the
/// seed's shape stays byte for byte otherwise. Written a user at a time; each value is
/// read back from the journal (or copied from the report) into a [`NewCredential`] (wiped on
/// drop) only while its row is written.
fn serialize_credentials(
    out: &mut dyn Write,
    report: &JournalReport,
    format: OutputFormat,
) -> io::Result<()> {
    // A value that cannot be read back from the journal stops the file: `resume` writes it
    // again once the journal is readable.
    let credentials = report.credentials().map(|row| {
        row.map(|GroupedCredential { credential, group }| Row { credential, group })
            .map_err(|error| io::Error::other(format!("{error}")))
    });
    match format {
        OutputFormat::Json => {
            // The same bytes as `serde_json::to_writer_pretty` of the whole list.
            let mut serializer = serde_json::Serializer::pretty(&mut *out);
            let mut sequence = serializer.serialize_seq(None)?;
            for row in credentials {
                sequence.serialize_element(&row?)?;
            }
            sequence.end()?;
            out.write_all(b"\n")
        }
        OutputFormat::Csv => {
            let value_column = if report.password_type().is_passcode() {
                "newPasscode"
            } else {
                "newPassword"
            };
            let names = report.gives_new_user_names();
            let row_columns: &[&str] = if names {
                &["userId", "newUserName", value_column]
            } else {
                &["userId", value_column]
            };
            write_csv_record(out, &columns(report.scope(), row_columns))?;
            for grouped in credentials {
                let grouped = grouped?;
                let credential = &grouped.credential;
                let user_id = credential.user_id().as_str();
                let value = credential.value().expose_secret();
                let fields = if names {
                    let name = credential.new_user_name().unwrap_or_default();
                    row(grouped.group, &[user_id, name, value])
                } else {
                    row(grouped.group, &[user_id, value])
                };
                write_csv_record(out, &fields)?;
            }
            Ok(())
        }
    }
}

/// One row of the output: a credential, and its group in a run across groups.
struct Row<'a> {
    credential: NewCredential,
    group: Option<&'a GroupRef>,
}

/// The seed's object, or for a run across groups the same with `serviceProviderId` and
/// `groupId` after `userId` (and after `newUserName`, when the run gives new user names).
impl Serialize for Row<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let Some(group) = self.group else {
            return self.credential.serialize(serializer);
        };
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("userId", self.credential.user_id())?;
        if let Some(user_name) = self.credential.new_user_name() {
            map.serialize_entry("newUserName", user_name)?;
        }
        map.serialize_entry("serviceProviderId", &group.service_provider_id)?;
        map.serialize_entry("groupId", &group.group_id)?;
        match &self.credential {
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

/// One CSV record, as the csv crate writes it by default: a field is quoted when it holds a
/// comma, a quote, CR or LF, with its quotes doubled; records end with LF. Written here rather
/// than by `csv::Writer`, whose own buffer would keep values unwiped.
fn write_csv_record(out: &mut dyn Write, fields: &[&str]) -> io::Result<()> {
    for (index, field) in fields.iter().enumerate() {
        if index > 0 {
            out.write_all(b",")?;
        }
        write_csv_field(out, field)?;
    }
    out.write_all(b"\n")
}

fn write_csv_field(out: &mut dyn Write, field: &str) -> io::Result<()> {
    if !field
        .bytes()
        .any(|byte| matches!(byte, b',' | b'"' | b'\r' | b'\n'))
    {
        return out.write_all(field.as_bytes());
    }
    out.write_all(b"\"")?;
    for (index, piece) in field.split('"').enumerate() {
        if index > 0 {
            out.write_all(b"\"\"")?;
        }
        out.write_all(piece.as_bytes())?;
    }
    out.write_all(b"\"")
}

/// Writes the failures file: the users not set, as `userId,status,reason`, a file that can be
/// given back as `--users-file` (across groups `serviceProviderId,groupId,userId,status,reason`,
/// to be given back as `--targets`). Says whether there was one to write: when every user was set
/// there is none, and a resume removes the one an earlier attempt left (it would list users
/// now set).
pub(crate) fn write_failures(
    files: &RunFiles,
    report: &JournalReport,
    mode: WriteMode,
) -> anyhow::Result<bool> {
    let counts = report.counts();
    let any_failures = counts.failed + counts.uncertain > 0;
    let path = &files.failures;
    let write = |out: &mut dyn Write| serialize_failures(out, report);
    match (any_failures, mode) {
        (true, WriteMode::New) => files::write_new_private_with(path, write),
        (true, WriteMode::Again) => files::replace_private_with(path, write),
        (false, WriteMode::Again) => files::remove_if_present(path),
        (false, WriteMode::New) => Ok(()),
    }
    .map_err(|error| anyhow::anyhow!("cannot write failures file `{}`: {error}", path.display()))?;
    Ok(any_failures)
}

/// A header row: `columns`, after `serviceProviderId` and `groupId` when the scope's outputs
/// carry group columns (a run across groups). The one place an output asks.
pub(crate) fn columns<'a>(scope: &Scope, columns: &[&'a str]) -> Vec<&'a str> {
    let groups: &[&'a str] = if scope.group_columns() {
        &["serviceProviderId", "groupId"]
    } else {
        &[]
    };
    groups.iter().chain(columns).copied().collect()
}

/// A row's fields under [`columns`]: the user's group first when the outputs carry group
/// columns (`group` is then `Some`), then `fields`.
pub(crate) fn row<'a>(group: Option<&'a GroupRef>, fields: &[&'a str]) -> Vec<&'a str> {
    let group = group.map(|group| [group.service_provider_id.as_str(), group.group_id.as_str()]);
    group.iter().flatten().chain(fields).copied().collect()
}

/// The rows of the failures file; they hold reasons, never values.
fn serialize_failures(out: &mut dyn Write, report: &JournalReport) -> io::Result<()> {
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(columns(report.scope(), &["userId", "status", "reason"]))?;
    for entry in report.entries() {
        if entry.kind == OutcomeKind::Set {
            continue;
        }
        let status = entry.kind.to_string();
        let reason = entry.reason.unwrap_or_default();
        writer.write_record(row(entry.group, &[entry.user_id, &status, reason]))?;
    }
    writer.flush()
}

/// Runs `write` on standard output, through a buffer wiped on drop. `std::io::Stdout` keeps its
/// own line buffer, never freed nor wiped, which would hold the end of each piece written
/// (values included): so the bytes go to a duplicate of its descriptor instead, once whatever
/// `Stdout` holds is flushed, and with its lock held so that nothing else is written between.
fn write_stdout(write: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> io::Result<()> {
    let mut stdout = io::stdout().lock();
    stdout.flush()?;
    let descriptor = stdout.as_fd().try_clone_to_owned()?;
    let mut writer = ZeroizingBufWriter::new(std::fs::File::from(descriptor));
    write(&mut writer)?;
    writer.into_inner()?;
    Ok(())
}

/// The secret-free record of a run, for an incident ticket: who, where, what, when, and how
/// each user ended. A resumed run adds itself to the runs already recorded.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AuditRecord<'a> {
    pub tool: String,
    pub runs: Vec<AuditRun<'a>>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AuditRun<'a> {
    pub command: String,
    pub tool_version: String,
    pub started_at: String,
    pub finished_at: String,
    /// The local account that ran the tool, as the environment tells it.
    pub operator: Option<String>,
    /// The account that logged in to the server, over Odin or OCI-P: `serverUsername` in the
    /// file (records written before it was named so say `odinUsername`, still read).
    #[serde(rename = "serverUsername", alias = "odinUsername")]
    pub odin_username: String,
    pub base_url: String,
    pub service_provider_id: String,
    pub group_id: String,
    /// A run across groups: its groups.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<GroupRef>,
    #[serde(rename = "type")]
    pub password_type: PasswordType,
    pub users: usize,
    pub set: usize,
    pub failed: usize,
    pub uncertain: usize,
    pub duplicates: Vec<bwreset_core::Duplicate>,
    pub stop_reason: Option<String>,
    pub output: OutputTarget,
    /// The age recipients the output and the journal's values were encrypted to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub encrypted_to: Vec<String>,
    pub journal: PathBuf,
    pub failures_file: Option<PathBuf>,
    pub outcomes: AuditOutcomes<'a>,
    /// The device follow-up of a SIP run, when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub devices: Option<AuditDevices>,
}

/// The device follow-up in the audit record: the report's file and every device's row.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AuditDevices {
    pub(crate) file: PathBuf,
    pub(crate) devices: Vec<AuditDevice>,
}

/// One device in the audit record (the columns of the devices report).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AuditDevice {
    pub(crate) device_name: String,
    pub(crate) device_level: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) device_type: Option<String>,
    pub(crate) users: Vec<String>,
    pub(crate) action: String,
    pub(crate) result: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) reason: Option<String>,
}

impl AuditDevices {
    pub(crate) fn of(report: &bwreset_core::DeviceReport, file: PathBuf) -> AuditDevices {
        AuditDevices {
            file,
            devices: report
                .entries
                .iter()
                .map(|entry| AuditDevice {
                    device_name: entry.device.name.clone(),
                    device_level: entry.device.level().as_str().to_owned(),
                    device_type: entry.device_type.clone(),
                    users: entry
                        .users
                        .iter()
                        .map(|user| user.as_str().to_owned())
                        .collect(),
                    action: match entry.action {
                        None => "skip",
                        Some(bwreset_core::DeviceAction::Rebuild) => "rebuild",
                        Some(bwreset_core::DeviceAction::Reset) => "reset",
                    }
                    .to_owned(),
                    result: entry.result.as_str().to_owned(),
                    reason: entry.reason.clone(),
                })
                .collect(),
        }
    }
}

/// How each user ended.
#[derive(Clone, Debug)]
pub(crate) enum AuditOutcomes<'a> {
    /// As an earlier run recorded them, read back from its audit record.
    Recorded(Vec<AuditOutcome>),
    /// Those of the report of this run, serialised from it a user at a time rather than copied.
    Of(&'a JournalReport),
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AuditOutcome {
    pub user_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_provider_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// An [`AuditOutcome`] borrowed from a report: the same fields, serialised the same way.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AuditOutcomeOf<'a> {
    user_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    service_provider_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    group_id: Option<&'a str>,
    status: bwreset_core::OutcomeKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
}

impl Serialize for AuditOutcomes<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            AuditOutcomes::Recorded(outcomes) => outcomes.serialize(serializer),
            AuditOutcomes::Of(report) => {
                serializer.collect_seq(report.entries().map(|entry| AuditOutcomeOf {
                    user_id: entry.user_id,
                    service_provider_id:
                        entry.group.map(|group| group.service_provider_id.as_str()),
                    group_id: entry.group.map(|group| group.group_id.as_str()),
                    status: entry.kind,
                    reason: entry.reason,
                }))
            }
        }
    }
}

impl<'de> Deserialize<'de> for AuditOutcomes<'_> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Vec::deserialize(deserializer).map(AuditOutcomes::Recorded)
    }
}

/// Who ran the tool and against what: the parts of an audit run that the report does not hold.
#[derive(Clone, Debug)]
pub(crate) struct RunContext<'a> {
    pub command: &'a str,
    pub started_at: SystemTime,
    pub odin_username: &'a str,
    pub base_url: &'a str,
    pub files: &'a RunFiles,
}

impl<'a> AuditRun<'a> {
    pub(crate) fn new(
        context: &RunContext<'_>,
        report: &'a JournalReport,
        failures_written: bool,
    ) -> AuditRun<'a> {
        let counts = report.counts();
        AuditRun {
            command: context.command.to_owned(),
            tool_version: env!("CARGO_PKG_VERSION").to_owned(),
            started_at: utc_timestamp(context.started_at),
            finished_at: utc_timestamp(SystemTime::now()),
            operator: std::env::var("USER")
                .or_else(|_| std::env::var("LOGNAME"))
                .ok(),
            odin_username: context.odin_username.to_owned(),
            base_url: context.base_url.to_owned(),
            service_provider_id: report.scope().service_provider_id().to_owned(),
            group_id: report.scope().group_id().to_owned(),
            groups: report.scope().listed_groups().to_vec(),
            password_type: report.password_type(),
            users: counts.total(),
            set: counts.set,
            failed: counts.failed,
            uncertain: counts.uncertain,
            duplicates: report.duplicates().to_vec(),
            stop_reason: report.stop_reason().map(str::to_owned),
            output: context.files.output.clone(),
            encrypted_to: context.files.encrypt_to.clone(),
            journal: context.files.journal.clone(),
            failures_file: failures_written.then(|| context.files.failures.clone()),
            outcomes: AuditOutcomes::Of(report),
            devices: None,
        }
    }
}

/// Writes the audit record of a new run.
pub(crate) fn write_audit_new(path: &Path, run: AuditRun<'_>) -> anyhow::Result<()> {
    let record = AuditRecord {
        tool: "bwreset".to_owned(),
        runs: vec![run],
    };
    files::write_new_private_with(path, |writer| write_audit_record(writer, &record))
        .map_err(|error| anyhow::anyhow!("cannot write audit record `{}`: {error}", path.display()))
}

/// Adds a resumed run to the audit record (starting a new one if it is missing or unreadable).
pub(crate) fn append_audit(path: &Path, run: AuditRun<'_>) -> anyhow::Result<()> {
    // Read as a stream: the record of a big run is large.
    let mut record = std::fs::File::open(path)
        .ok()
        .and_then(|file| {
            serde_json::from_reader::<_, AuditRecord>(std::io::BufReader::new(file)).ok()
        })
        .unwrap_or_else(|| AuditRecord {
            tool: "bwreset".to_owned(),
            runs: Vec::new(),
        });
    record.runs.push(run);
    files::replace_private_with(path, |writer| write_audit_record(writer, &record))
        .map_err(|error| anyhow::anyhow!("cannot write audit record `{}`: {error}", path.display()))
}

/// The audit record as pretty JSON, written as it is produced: with a line per user it is the
/// largest file of a big run, and holds no secret.
fn write_audit_record(writer: &mut dyn Write, record: &AuditRecord<'_>) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *writer, record)?;
    writer.write_all(b"\n")
}

pub(crate) use bwreset_core::utc_timestamp;

#[cfg(test)]
mod tests {
    use super::*;
    use bwreset_core::{Outcome, Report, ReportEntry, UserId};
    use secrecy::SecretString;
    use std::time::Duration;

    fn user(id: &str) -> UserId {
        UserId::try_from(id).expect("user ID")
    }

    fn report(password_type: PasswordType) -> Report {
        Report {
            password_type,
            scope: Scope::group(GroupRef::new("sp", "g")),
            entries: vec![
                ReportEntry {
                    user_id: user("b@x"),
                    new_user_name: None,
                    group_index: 0,
                    outcome: Outcome::Set {
                        value: SecretString::from("Pw,1\"x"),
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
                        value: SecretString::from("Maybe-1"),
                        reason: "timeout".into(),
                    },
                },
            ],
            duplicates: Vec::new(),
            elapsed: Duration::ZERO,
            stop_reason: None,
        }
    }

    /// The same report as a run across two groups of two service providers.
    fn grouped_report(password_type: PasswordType) -> Report {
        let mut report = Report {
            scope: Scope::across(
                "",
                vec![GroupRef::new("sp1", "g,1"), GroupRef::new("sp2", "g2")],
            )
            .expect("two groups"),
            ..report(password_type)
        };
        for (entry, group_index) in report.entries.iter_mut().zip([1, 0, 1]) {
            entry.group_index = group_index;
        }
        report
    }

    /// A report as the CLI gets it: read from a journal holding `report`'s outcomes (written
    /// here line by line in the journal's format), kept in a directory that lives as long.
    struct Journaled {
        report: JournalReport,
        _directory: tempfile::TempDir,
    }

    impl std::ops::Deref for Journaled {
        type Target = JournalReport;

        fn deref(&self) -> &JournalReport {
            &self.report
        }
    }

    fn journaled(report: &Report) -> Journaled {
        use serde_json::json;
        let header = bwreset_core::JournalHeader::new(
            report.password_type,
            "",
            "",
            "https://odin.example/api/v2",
            serde_json::Value::Null,
        )
        .with_scope(report.scope.clone());
        let mut header = serde_json::to_value(&header).expect("header");
        header["record"] = json!("header");
        let users: Vec<&str> = report
            .entries
            .iter()
            .map(|entry| entry.user_id.as_str())
            .collect();
        let mut targets = json!({"record": "targets", "users": users});
        if report.scope.group_columns() {
            let groups: Vec<u32> = report
                .entries
                .iter()
                .map(|entry| entry.group_index)
                .collect();
            targets["groups"] = json!(groups);
        }
        let mut lines = vec![header, targets];
        if !report.duplicates.is_empty() {
            lines.push(json!({"record": "duplicates", "duplicates": report.duplicates}));
        }
        lines.push(json!({"record": "planEnd", "users": users.len()}));
        for entry in &report.entries {
            let user = entry.user_id.as_str();
            if let Some(value) = entry.outcome.value() {
                lines.push(json!({"record": "intent", "user": user, "value": value.expose_secret(), "attempt": 1}));
            }
            let result = entry.outcome.kind().to_string();
            lines.push(json!({"record": "outcome", "user": user, "result": result, "reason": entry.outcome.reason()}));
        }
        if let Some(reason) = &report.stop_reason {
            lines.push(json!({"record": "stopped", "reason": reason}));
        }
        let directory = tempfile::tempdir().expect("temporary directory");
        let path = directory.path().join("run.journal");
        let text: String = lines.iter().map(|line| format!("{line}\n")).collect();
        std::fs::write(&path, text).expect("journal written");
        let journal = bwreset_core::Journal::open(&path).expect("journal read");
        Journaled {
            report: JournalReport::read(journal, report.elapsed).expect("report read"),
            _directory: directory,
        }
    }

    fn serialized_text(report: &Report, format: OutputFormat) -> String {
        let mut out = Vec::new();
        serialize_credentials(&mut out, &journaled(report), format).expect("serialised");
        String::from_utf8(out).expect("UTF-8")
    }

    #[test]
    fn a_run_across_groups_adds_the_group_to_every_row() {
        let grouped = grouped_report(PasswordType::Sip);
        assert_eq!(
            serialized_text(&grouped, OutputFormat::Json),
            "[\n  {\n    \"userId\": \"b@x\",\n    \"serviceProviderId\": \"sp2\",\n    \"groupId\": \"g2\",\n    \"newPassword\": \"Pw,1\\\"x\"\n  }\n]\n"
        );
        assert_eq!(
            serialized_text(&grouped_report(PasswordType::Vm), OutputFormat::Csv),
            "serviceProviderId,groupId,userId,newPasscode\nsp2,g2,b@x,\"Pw,1\"\"x\"\n"
        );
        let mut failures = Vec::new();
        serialize_failures(&mut failures, &journaled(&grouped)).expect("serialised");
        assert_eq!(
            String::from_utf8(failures).expect("UTF-8"),
            "serviceProviderId,groupId,userId,status,reason\nsp1,\"g,1\",a@x,failed,[Error 4008] User not found: a@x\nsp2,g2,c@x,uncertain,timeout\n"
        );
        // One group: the seed's shape, byte for byte.
        assert_eq!(
            serialized_text(&report(PasswordType::Sip), OutputFormat::Csv),
            "userId,newPassword\nb@x,\"Pw,1\"\"x\"\n"
        );
        let grouped = journaled(&grouped);
        let audit = serde_json::to_string(&AuditOutcomes::Of(&grouped)).expect("json");
        assert!(
            audit.contains(
                r#"{"userId":"a@x","serviceProviderId":"sp1","groupId":"g,1","status":"failed""#
            ),
            "{audit}"
        );
    }

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(
            utc_timestamp(SystemTime::UNIX_EPOCH),
            "1970-01-01T00:00:00Z"
        );
        let leap_day = SystemTime::UNIX_EPOCH + Duration::from_secs(951_782_400 + 3_723);
        assert_eq!(utc_timestamp(leap_day), "2000-02-29T01:02:03Z");
        let later = SystemTime::UNIX_EPOCH + Duration::from_secs(1_735_689_599);
        assert_eq!(utc_timestamp(later), "2024-12-31T23:59:59Z");
    }

    #[test]
    fn run_files_follow_out_and_journal() {
        let files = RunFiles::plan(Path::new("/tmp/x/creds.csv"), None, None).expect("planned");
        assert_eq!(files.output, OutputTarget::File("/tmp/x/creds.csv".into()));
        assert_eq!(files.format, OutputFormat::Csv);
        assert_eq!(files.journal, PathBuf::from("/tmp/x/creds.csv.journal"));
        assert_eq!(files.failures, PathBuf::from("/tmp/x/creds.csv.failed.csv"));
        assert_eq!(files.audit, PathBuf::from("/tmp/x/creds.csv.audit.json"));

        let files = RunFiles::plan(Path::new("/tmp/x/creds.out"), None, None).expect("planned");
        assert_eq!(files.format, OutputFormat::Json);
        let files = RunFiles::plan(Path::new("/tmp/x/creds.CSV.age"), None, None).expect("planned");
        assert_eq!(files.format, OutputFormat::Csv);
        let files =
            RunFiles::plan(Path::new("/tmp/x/creds.json.age"), None, None).expect("planned");
        assert_eq!(files.format, OutputFormat::Json);

        assert!(RunFiles::plan(Path::new("-"), None, None).is_err());
        let files = RunFiles::plan(
            Path::new("-"),
            Some(OutputFormat::Csv),
            Some(Path::new("/tmp/j")),
        )
        .expect("planned");
        assert_eq!(files.output, OutputTarget::Stdout);
        assert_eq!(files.failures, PathBuf::from("/tmp/j.failed.csv"));
        assert_eq!(files.format, OutputFormat::Csv);

        let relative = RunFiles::plan(Path::new("creds.json"), None, None).expect("planned");
        assert!(relative.journal.is_absolute());

        let same = RunFiles::plan(Path::new("/tmp/x/a"), None, Some(Path::new("/tmp/x/a")));
        assert!(
            same.expect_err("one path for two files")
                .to_string()
                .contains("two of")
        );
        let clash = RunFiles::plan(
            Path::new("/tmp/x/a"),
            None,
            Some(Path::new("/tmp/x/a.audit.json")),
        );
        assert!(clash.is_err());
    }

    #[test]
    fn run_files_survive_the_journal_header() {
        let files = RunFiles::plan(Path::new("/tmp/x/creds.json"), None, None).expect("planned");
        let value = serde_json::to_value(&files).expect("serialises");
        let back: RunFiles = serde_json::from_value(value).expect("deserialises");
        assert_eq!(back, files);
    }

    fn serialized(report: &Report, format: OutputFormat) -> Vec<u8> {
        let mut bytes = Vec::new();
        serialize_credentials(&mut bytes, &journaled(report), format).expect("serialised");
        bytes
    }

    #[test]
    fn credentials_are_written_in_the_seed_shape() {
        let json = serialized(&report(PasswordType::Vm), OutputFormat::Json);
        let parsed: serde_json::Value = serde_json::from_slice(&json).expect("valid JSON");
        assert_eq!(
            parsed,
            serde_json::json!([{"userId": "b@x", "newPasscode": "Pw,1\"x"}])
        );

        let csv = serialized(&report(PasswordType::Sip), OutputFormat::Csv);
        assert_eq!(
            std::str::from_utf8(&csv).expect("UTF-8"),
            "userId,newPassword\nb@x,\"Pw,1\"\"x\"\n"
        );

        let mut nobody = report(PasswordType::Web);
        nobody.entries.clear();
        assert_eq!(serialized(&nobody, OutputFormat::Json), b"[]\n");
        assert_eq!(
            serialized(&nobody, OutputFormat::Csv),
            b"userId,newPassword\n"
        );
    }

    /// A run of a few thousand users, values with every character CSV and JSON treat specially:
    /// written a user at a time, the output is byte for byte what serialising the whole list at
    /// once gave (`serde_json::to_writer_pretty`, `csv::Writer`).
    #[test]
    fn streamed_credentials_are_the_bytes_of_the_whole_list_serialised_at_once() {
        let awkward = [
            "plain-Value-1",
            "comma,inside",
            "quote\"inside\"",
            "\"leading quote",
            "line\nfeed",
            "carriage\rreturn",
            "crlf\r\nboth",
            "back\\slash",
            " spaces around ",
            "#hash",
            "tab\there",
            "unicode-é-ß-€-😀",
            "",
            "\u{1}control",
        ];
        for password_type in [PasswordType::Sip, PasswordType::Vm] {
            let mut report = report(password_type);
            report.entries = (0..3_000)
                .map(|index| ReportEntry {
                    user_id: user(&format!("user{index},\"x\"@example.com")),
                    new_user_name: None,
                    group_index: 0,
                    outcome: match index % 11 {
                        5 => Outcome::Failed {
                            reason: "no".into(),
                        },
                        _ => Outcome::Set {
                            value: SecretString::from(awkward[index % awkward.len()]),
                        },
                    },
                })
                .collect();
            let credentials = report.credentials();

            let mut whole_json = serde_json::to_vec_pretty(&credentials).expect("json");
            whole_json.push(b'\n');
            assert_eq!(serialized(&report, OutputFormat::Json), whole_json);

            let mut whole_csv = csv::Writer::from_writer(Vec::new());
            let value_column = if password_type.is_passcode() {
                "newPasscode"
            } else {
                "newPassword"
            };
            whole_csv
                .write_record(["userId", value_column])
                .expect("csv");
            for credential in &credentials {
                whole_csv
                    .write_record([
                        credential.user_id().as_str(),
                        credential.value().expose_secret(),
                    ])
                    .expect("csv");
            }
            let whole_csv = whole_csv.into_inner().expect("csv");
            assert_eq!(
                String::from_utf8(serialized(&report, OutputFormat::Csv)).expect("UTF-8"),
                String::from_utf8(whole_csv).expect("UTF-8")
            );
        }
    }

    #[test]
    fn a_new_output_is_private_and_a_resume_replaces_it() {
        let directory = tempfile::tempdir().expect("temporary directory");
        let files =
            RunFiles::plan(&directory.path().join("creds.csv"), None, None).expect("planned");
        let OutputTarget::File(path) = &files.output else {
            panic!("a file")
        };
        let report = report(PasswordType::Sip);
        let expected = serialized(&report, OutputFormat::Csv);

        write_credentials(&files, &journaled(&report), WriteMode::New).expect("written");
        assert_eq!(std::fs::read(path).expect("read"), expected);
        let message = write_credentials(&files, &journaled(&report), WriteMode::New)
            .expect_err("never overwritten")
            .to_string();
        assert!(message.contains("cannot write output file"), "{message}");
        assert!(!message.contains("Pw,1"), "{message}");

        // What a run killed while writing leaves: a part of the file.
        std::fs::write(path, &expected[..10]).expect("truncated");
        write_credentials(&files, &journaled(&report), WriteMode::Again).expect("replaced");
        assert_eq!(std::fs::read(path).expect("read"), expected);
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(path).expect("metadata").permissions(),
        );
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn failures_list_failed_and_uncertain_users_without_values() {
        let mut failures = Vec::new();
        serialize_failures(&mut failures, &journaled(&report(PasswordType::Web))).expect("csv");
        let text = String::from_utf8(failures).expect("UTF-8");
        assert_eq!(
            text,
            "userId,status,reason\na@x,failed,[Error 4008] User not found: a@x\nc@x,uncertain,timeout\n"
        );
        assert!(!text.contains("Maybe-1"));
        let users =
            crate::users_file::parse_users(text.as_bytes(), "failed.csv").expect("readable back");
        assert_eq!(users.len(), 2);
    }

    #[test]
    fn the_failures_file_is_written_only_when_users_were_not_set() {
        let directory = tempfile::tempdir().expect("temporary directory");
        let files =
            RunFiles::plan(&directory.path().join("creds.json"), None, None).expect("planned");
        let mut report = report(PasswordType::Sip);
        assert!(write_failures(&files, &journaled(&report), WriteMode::New).expect("written"));
        assert!(files.failures.exists());

        report
            .entries
            .retain(|entry| matches!(entry.outcome, Outcome::Set { .. }));
        assert!(!write_failures(&files, &journaled(&report), WriteMode::Again).expect("removed"));
        assert!(
            !files.failures.exists(),
            "a resume that set everyone removes it"
        );
    }

    #[test]
    fn audit_runs_hold_no_values() {
        let files = RunFiles::plan(Path::new("/tmp/x/creds.json"), None, None).expect("planned");
        let context = RunContext {
            command: "reset",
            started_at: SystemTime::now(),
            odin_username: "admin",
            base_url: "https://odin.example/api/v2",
            files: &files,
        };
        let report = journaled(&report(PasswordType::Sip));
        let run = AuditRun::new(&context, &report, true);
        let text = serde_json::to_string(&run).expect("serialises");
        assert!(
            !text.contains("Pw,1") && !text.contains("Maybe-1"),
            "{text}"
        );
        assert!(text.contains("\"status\":\"uncertain\""), "{text}");
        assert!(text.contains("\"type\":\"sip\""), "{text}");
    }

    #[test]
    fn the_login_is_recorded_as_server_username_and_the_old_name_still_reads() {
        let files = RunFiles::plan(Path::new("/tmp/x/creds.json"), None, None).expect("planned");
        let context = RunContext {
            command: "reset",
            started_at: SystemTime::now(),
            odin_username: "ops",
            base_url: "ocips://bw.example:2209",
            files: &files,
        };
        let report = journaled(&report(PasswordType::Sip));
        let run = AuditRun::new(&context, &report, true);
        let text = serde_json::to_string(&run).expect("serialises");
        assert!(text.contains("\"serverUsername\":\"ops\""), "{text}");
        assert!(!text.contains("odinUsername"), "{text}");
        let old = text.replace("serverUsername", "odinUsername");
        let read: AuditRun<'_> = serde_json::from_str(&old).expect("an old record reads");
        assert_eq!(read.odin_username, "ops");
    }

    #[test]
    fn outcomes_serialised_from_the_report_read_back_as_recorded() {
        let report = report(PasswordType::Vm);
        let copied: Vec<AuditOutcome> = report
            .entries
            .iter()
            .map(|entry| AuditOutcome {
                user_id: entry.user_id.as_str().to_owned(),
                service_provider_id: None,
                group_id: None,
                status: entry.outcome.kind().to_string(),
                reason: entry.outcome.reason().map(str::to_owned),
            })
            .collect();
        let report = journaled(&report);
        let streamed = serde_json::to_string_pretty(&AuditOutcomes::Of(&report)).expect("json");
        assert_eq!(
            streamed,
            serde_json::to_string_pretty(&AuditOutcomes::Recorded(copied)).expect("json")
        );

        let directory = tempfile::tempdir().expect("temporary directory");
        let files =
            RunFiles::plan(&directory.path().join("creds.json"), None, None).expect("planned");
        let context = RunContext {
            command: "reset",
            started_at: SystemTime::now(),
            odin_username: "admin",
            base_url: "https://odin.example/api/v2",
            files: &files,
        };
        write_audit_new(&files.audit, AuditRun::new(&context, &report, true)).expect("written");
        append_audit(&files.audit, AuditRun::new(&context, &report, true)).expect("appended");
        let record: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&files.audit).expect("read")).expect("JSON");
        let runs = record["runs"].as_array().expect("runs");
        assert_eq!(runs.len(), 2);
        assert_eq!(runs[0]["outcomes"], runs[1]["outcomes"]);
        assert_eq!(
            runs[0]["outcomes"][1],
            serde_json::json!({"userId": "a@x", "status": "failed", "reason": "[Error 4008] User not found: a@x"})
        );
        assert_eq!(
            runs[0]["outcomes"][0],
            serde_json::json!({"userId": "b@x", "status": "set"})
        );
    }
}
