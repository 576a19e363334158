//! What a run writes: the credentials (JSON or CSV), the failures file, and the audit record,
//! and where each of them goes.
//!
//! The paths are decided once ([`RunFiles`]) and recorded in the journal's header, so that
//! `resume` writes exactly the files a clean run would have written.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use bwreset_core::{NewCredential, Outcome, PasswordType, Report};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::cli::OutputFormat;
use crate::errors::Failure;
use crate::files;

/// Where the new credentials go.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind", content = "path")]
pub enum OutputTarget {
    /// `--out -`: the credentials are the data this command prints.
    Stdout,
    /// A file, as an absolute path.
    File(PathBuf),
}

impl OutputTarget {
    pub fn describe(&self) -> String {
        match self {
            OutputTarget::Stdout => "standard output".to_owned(),
            OutputTarget::File(path) => format!("`{}`", path.display()),
        }
    }
}

/// Every file of one run. Stored in the journal's header (`meta`), paths absolute.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunFiles {
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
    pub fn plan(
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
    pub fn encryption_note(&self) -> String {
        match self.encrypt_to.len() {
            0 => String::new(),
            1 => " (encrypted with age to 1 recipient)".to_owned(),
            count => format!(" (encrypted with age to {count} recipients)"),
        }
    }

    /// Refuses to start when one of the run's files exists already or cannot be created.
    pub fn ensure_creatable(&self) -> Result<(), Failure> {
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

/// The credentials in the chosen format. The buffer is wiped when dropped.
pub fn render_credentials(
    password_type: PasswordType,
    credentials: &[NewCredential],
    format: OutputFormat,
) -> anyhow::Result<Zeroizing<Vec<u8>>> {
    // Measured first and reserved exactly, so that growing the buffer leaves no unwiped copies
    // behind, and so that a large run does not reserve a generous guess per user.
    let mut length = ByteCount(0);
    write_credentials(&mut length, password_type, credentials, format)?;
    let mut buffer = Zeroizing::new(Vec::with_capacity(length.0));
    write_credentials(&mut *buffer, password_type, credentials, format)?;
    Ok(buffer)
}

/// Counts what is written to it, and keeps nothing.
struct ByteCount(usize);

impl Write for ByteCount {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0 += bytes.len();
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn write_credentials(
    mut out: impl Write,
    password_type: PasswordType,
    credentials: &[NewCredential],
    format: OutputFormat,
) -> anyhow::Result<()> {
    match format {
        OutputFormat::Json => {
            serde_json::to_writer_pretty(&mut out, credentials)?;
            out.write_all(b"\n")?;
        }
        OutputFormat::Csv => {
            let value_column = if password_type.is_passcode() {
                "newPasscode"
            } else {
                "newPassword"
            };
            let mut writer = csv::Writer::from_writer(&mut out);
            writer.write_record(["userId", value_column])?;
            for credential in credentials {
                writer.write_record([
                    credential.user_id().as_str(),
                    credential.value().expose_secret(),
                ])?;
            }
            writer.flush()?;
        }
    }
    Ok(())
}

/// The users not set, as `userId,status,reason`: a file that can be given back as `--users-file`.
/// `None` when every user was set.
pub fn render_failures(report: &Report) -> anyhow::Result<Option<Vec<u8>>> {
    let mut rows = report
        .entries
        .iter()
        .filter(|entry| !matches!(entry.outcome, Outcome::Set { .. }))
        .peekable();
    if rows.peek().is_none() {
        return Ok(None);
    }
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(["userId", "status", "reason"])?;
    for entry in rows {
        let status = entry.outcome.kind().to_string();
        writer.write_record([
            entry.user_id.as_str(),
            &status,
            entry.outcome.reason().unwrap_or_default(),
        ])?;
    }
    Ok(Some(
        writer
            .into_inner()
            .map_err(|error| anyhow::anyhow!("{}", error.error()))?,
    ))
}

/// Writes the credentials where the run said: a new private file, or stdout.
pub fn write_credentials_new(files: &RunFiles, contents: &[u8]) -> anyhow::Result<()> {
    match &files.output {
        OutputTarget::Stdout => write_stdout(contents),
        OutputTarget::File(path) => files::write_new_private(path, contents).map_err(|error| {
            anyhow::anyhow!("cannot write output file `{}`: {error}", path.display())
        }),
    }
}

/// Writes the credentials again for a resumed run, replacing the file a previous attempt wrote.
pub fn write_credentials_again(files: &RunFiles, contents: &[u8]) -> anyhow::Result<()> {
    match &files.output {
        OutputTarget::Stdout => write_stdout(contents),
        OutputTarget::File(path) => files::replace_private(path, contents).map_err(|error| {
            anyhow::anyhow!("cannot write output file `{}`: {error}", path.display())
        }),
    }
}

fn write_stdout(contents: &[u8]) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(contents)?;
    stdout.flush()?;
    Ok(())
}

/// The secret-free record of a run, for an incident ticket: who, where, what, when, and how
/// each user ended. A resumed run adds itself to the runs already recorded.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditRecord {
    pub tool: String,
    pub runs: Vec<AuditRun>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditRun {
    pub command: String,
    pub tool_version: String,
    pub started_at: String,
    pub finished_at: String,
    /// The local account that ran the tool, as the environment tells it.
    pub operator: Option<String>,
    /// The Odin account that logged in.
    pub odin_username: String,
    pub base_url: String,
    pub service_provider_id: String,
    pub group_id: String,
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
    pub outcomes: Vec<AuditOutcome>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditOutcome {
    pub user_id: String,
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Who ran the tool and against what: the parts of an audit run that the report does not hold.
#[derive(Clone, Debug)]
pub struct RunContext<'a> {
    pub command: &'a str,
    pub started_at: SystemTime,
    pub odin_username: &'a str,
    pub base_url: &'a str,
    pub files: &'a RunFiles,
}

impl AuditRun {
    pub fn new(context: &RunContext<'_>, report: &Report, failures_written: bool) -> AuditRun {
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
            service_provider_id: report.service_provider_id.clone(),
            group_id: report.group_id.clone(),
            password_type: report.password_type,
            users: report.entries.len(),
            set: counts.set,
            failed: counts.failed,
            uncertain: counts.uncertain,
            duplicates: report.duplicates.clone(),
            stop_reason: report.stop_reason.clone(),
            output: context.files.output.clone(),
            encrypted_to: context.files.encrypt_to.clone(),
            journal: context.files.journal.clone(),
            failures_file: failures_written.then(|| context.files.failures.clone()),
            outcomes: report
                .entries
                .iter()
                .map(|entry| AuditOutcome {
                    user_id: entry.user_id.as_str().to_owned(),
                    status: entry.outcome.kind().to_string(),
                    reason: entry.outcome.reason().map(str::to_owned),
                })
                .collect(),
        }
    }
}

/// Writes the audit record of a new run.
pub fn write_audit_new(path: &Path, run: AuditRun) -> anyhow::Result<()> {
    let record = AuditRecord {
        tool: "bwreset".to_owned(),
        runs: vec![run],
    };
    files::write_new_private_with(path, |writer| write_audit_record(writer, &record))
        .map_err(|error| anyhow::anyhow!("cannot write audit record `{}`: {error}", path.display()))
}

/// Adds a resumed run to the audit record (starting a new one if it is missing or unreadable).
pub fn append_audit(path: &Path, run: AuditRun) -> anyhow::Result<()> {
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
fn write_audit_record(writer: &mut dyn Write, record: &AuditRecord) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *writer, record)?;
    writer.write_all(b"\n")
}

pub use bwreset_core::utc_timestamp;

#[cfg(test)]
mod tests {
    use super::*;
    use bwreset_core::{ReportEntry, UserId};
    use secrecy::SecretString;
    use std::time::Duration;

    fn user(id: &str) -> UserId {
        UserId::try_from(id).expect("user ID")
    }

    fn report(password_type: PasswordType) -> Report {
        Report {
            password_type,
            service_provider_id: "sp".into(),
            group_id: "g".into(),
            entries: vec![
                ReportEntry {
                    user_id: user("b@x"),
                    outcome: Outcome::Set {
                        value: SecretString::from("Pw,1\"x"),
                    },
                },
                ReportEntry {
                    user_id: user("a@x"),
                    outcome: Outcome::Failed {
                        reason: "[Error 4008] User not found: a@x".into(),
                    },
                },
                ReportEntry {
                    user_id: user("c@x"),
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

    #[test]
    fn credentials_render_in_the_seed_shape() {
        let report = report(PasswordType::Vm);
        let json = render_credentials(PasswordType::Vm, &report.credentials(), OutputFormat::Json)
            .expect("json");
        let parsed: serde_json::Value = serde_json::from_slice(&json).expect("valid JSON");
        assert_eq!(
            parsed,
            serde_json::json!([{"userId": "b@x", "newPasscode": "Pw,1\"x"}])
        );

        let report = self::report(PasswordType::Sip);
        let csv = render_credentials(PasswordType::Sip, &report.credentials(), OutputFormat::Csv)
            .expect("csv");
        assert_eq!(
            std::str::from_utf8(&csv).expect("UTF-8"),
            "userId,newPassword\nb@x,\"Pw,1\"\"x\"\n"
        );

        let empty = render_credentials(PasswordType::Web, &[], OutputFormat::Json).expect("json");
        assert_eq!(&**empty, b"[]\n");
    }

    #[test]
    fn failures_list_failed_and_uncertain_users_without_values() {
        let failures = render_failures(&report(PasswordType::Web))
            .expect("csv")
            .expect("some failures");
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
    fn audit_runs_hold_no_values() {
        let files = RunFiles::plan(Path::new("/tmp/x/creds.json"), None, None).expect("planned");
        let context = RunContext {
            command: "reset",
            started_at: SystemTime::now(),
            odin_username: "admin",
            base_url: "https://odin.example/api/v2",
            files: &files,
        };
        let run = AuditRun::new(&context, &report(PasswordType::Sip), true);
        let text = serde_json::to_string(&run).expect("serialises");
        assert!(
            !text.contains("Pw,1") && !text.contains("Maybe-1"),
            "{text}"
        );
        assert!(text.contains("\"status\":\"uncertain\""), "{text}");
        assert!(text.contains("\"type\":\"sip\""), "{text}");
    }
}
