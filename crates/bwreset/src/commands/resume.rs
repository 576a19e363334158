//! `bwreset resume`: finish an interrupted or partly failed reset from its journal, and write
//! the files a clean run would have written.

use std::path::Path;
use std::process::ExitCode;
use std::time::SystemTime;

use bwreset_core::{Counts, Journal, JournalHeader, JournalReport, OutcomeKind};

use crate::cli::ResumeArgs;
use crate::commands::place::Place;
use crate::commands::{self, RunMeta, WriteMode, confirm, log_in};
use crate::encryption;
use crate::errors::Failure;
use crate::output::RunFiles;
use crate::progress::ProgressReporter;
use crate::settings::{self, ConnectionSettings, Environment, Recorded};

pub(crate) fn run(arguments: ResumeArgs, mut environment: Environment) -> anyhow::Result<ExitCode> {
    let journal_path = std::path::absolute(&arguments.journal).map_err(|error| {
        Failure::usage(format!(
            "cannot use journal path `{}`: {error}",
            arguments.journal.display()
        ))
    })?;
    let cannot_resume = || {
        Failure::usage(format!(
            "cannot resume from journal `{}`",
            journal_path.display()
        ))
    };
    // The header first: it says whether the journal's values are encrypted, and so how to
    // open it.
    let header = Journal::read_header(&journal_path)
        .map_err(|error| anyhow::Error::new(error).context(cannot_resume()))?;
    let (meta, recorded_username) = run_meta(&header, &journal_path)?;
    let sealer = sealer_for(
        &meta.files.encrypt_to,
        arguments.identity.as_deref(),
        &journal_path,
    )?;
    let opened = match &sealer {
        Some(sealer) => Journal::open_sealed(&journal_path, std::sync::Arc::clone(sealer)),
        None => Journal::open(&journal_path),
    };
    let journal = opened.map_err(|error| {
        let failure = match &error {
            bwreset_core::Error::JournalLocked { .. } => cannot_resume()
                .with_hint("another bwreset is working on this journal: wait for it to finish"),
            bwreset_core::Error::JournalSealed { .. } if arguments.identity.is_none() => cannot_resume()
                .with_hint("its values are encrypted: give the identity that opens them with `--identity FILE`"),
            _ => cannot_resume(),
        };
        anyhow::Error::new(error).context(failure)
    })?;
    if journal.header() != &header {
        return Err(cannot_resume()
            .with_hint("the journal changed while it was being opened: try again")
            .into());
    }
    // A device phase already journaled: its phones may be reset, whatever this resume does.
    let phones_touched = journal
        .device_action()
        .map_err(|error| anyhow::Error::new(error).context(cannot_resume()))?
        .is_some();
    // The journal may have been moved since the run started: the one given is the one in use.
    let files = RunFiles {
        journal: journal_path.clone(),
        ..meta.files
    };

    if arguments.dry_run || arguments.files_only {
        let look = Look {
            journal_path: &journal_path,
            header: &header,
            username: recorded_username.as_deref().unwrap_or_default(),
            phones_touched,
        };
        return look_only(journal, look, files, arguments.dry_run);
    }

    let device_settings =
        crate::devices::for_resume(&arguments.devices, meta.devices, header.password_type)?;
    check_reset_unregistered(arguments.reset_unregistered, device_settings, &journal_path)?;
    let file_settings = settings::load_config_file(&arguments.connection, &environment)?;
    let recorded = Recorded {
        base_url: Some(&header.server),
        username: recorded_username.as_deref(),
        protocol: meta.protocol,
    };
    let connection = settings::resolve_connection(
        &arguments.connection,
        &environment,
        &file_settings,
        recorded,
    )?;
    let password = settings::obtain_password(&mut environment, &connection)?;
    let (left, complete) = left_to_do(&journal, &journal_path)?;

    commands::runtime()?.block_on(async {
        let started_at = SystemTime::now();
        let client = log_in(&connection, password).await?;
        // A finished journal changes nothing when resumed: no question to ask.
        if !complete || device_settings.is_some() {
            let mut description = describe(&header, &journal_path, left, &connection, &files);
            if let Some(template) = &header.user_name_template {
                description.push_str(&format!(
                    "\n  user names:       {}",
                    crate::user_names::phones_warning(template)
                ));
            }
            if let Some(settings) = device_settings {
                description.push_str(&format!(
                    "\n  phones:           {} the phones of the users set (those not done yet)",
                    match settings.action {
                        bwreset_core::DeviceAction::Rebuild => "rebuild",
                        bwreset_core::DeviceAction::Reset => "rebuild, reset and check",
                    }
                ));
                if arguments.reset_unregistered {
                    description.push_str(
                        "; the phones reset before that did not register again are reset once more",
                    );
                }
            }
            description.push_str(&settings::describe_sources(&connection));
            if let Err(refusal) = confirm(&description, arguments.yes) {
                commands::log_out(&client).await;
                return Err(refusal);
            }
        }

        let engine_config = commands::engine_config(&connection);
        let progress = ProgressReporter::for_stderr();
        let phases = commands::Phases {
            client: &client,
            progress: &progress,
            devices: device_settings.map(|settings| bwreset_core::DeviceOptions {
                reset_unregistered: arguments.reset_unregistered,
                ..crate::devices::options(settings, engine_config.concurrency)
            }),
            sealer,
        };
        let finished = commands::FinishedRun {
            command: "resume",
            started_at,
            username: connection.username.clone(),
            base_url: connection.base_url.clone(),
            files,
            mode: WriteMode::Again,
            devices: None,
            credential_files: None,
            phones_took: None,
            phones_touched,
            resumable: true,
        };
        let credentials = bwreset_core::resume(
            &client,
            journal,
            bwreset_core::RunOptions::new(&engine_config, &progress),
        );
        commands::run_phases(phases, credentials, finished).await
    })
}

/// What the journal's header says about its run, and the login it recorded: a `bwreset reset`
/// run names its files and its login. A journal of the seed-style call (`bulk_password_reset`,
/// the Python package's drop-in `Scripter`) names neither, as that call writes no file: its
/// files go beside the journal, the output `<journal>.json` in the seed's shape, and the login
/// comes from the settings.
fn run_meta(
    header: &JournalHeader,
    journal_path: &Path,
) -> anyhow::Result<(RunMeta, Option<String>)> {
    if bwreset_core::is_bulk_journal(header) {
        let mut out = journal_path.as_os_str().to_owned();
        out.push(".json");
        let files = RunFiles::plan(Path::new(&out), None, Some(journal_path))?;
        let meta = RunMeta {
            files,
            username: String::new(),
            devices: None,
            protocol: None,
        };
        return Ok((meta, None));
    }
    let meta: RunMeta = serde_json::from_value(header.meta.clone()).map_err(|_| {
        Failure::usage(format!(
            "journal `{}` was not written by `bwreset reset`: it does not say where the output goes",
            journal_path.display()
        ))
    })?;
    let username = meta.username.clone();
    Ok((meta, Some(username)))
}

/// The sealer that opens the journal's values: none for a journal in clear, else one from the
/// identity given.
#[expect(clippy::print_stderr, reason = "a note to the operator")]
fn sealer_for(
    encrypt_to: &[String],
    identity: Option<&Path>,
    journal_path: &Path,
) -> anyhow::Result<Option<std::sync::Arc<dyn bwreset_core::ValueSealer>>> {
    Ok(match (encrypt_to.is_empty(), identity) {
        (true, None) => None,
        (true, Some(identity)) => {
            eprintln!(
                "warning: `--identity {}` is not needed: journal `{}` is not encrypted",
                identity.display(),
                journal_path.display()
            );
            None
        }
        (false, _) if !encryption::AVAILABLE => {
            return Err(encryption::not_built(&format!(
                "journal `{}` is encrypted with age: resuming it",
                journal_path.display()
            ))
            .into());
        }
        (false, None) => {
            return Err(Failure::usage(format!(
                "journal `{}` is encrypted with age (to {}): its values cannot be read without a key; nothing was changed",
                journal_path.display(),
                encrypt_to.join(", ")
            ))
            .with_hint(format!(
                "give the identity file of one of its recipients: `bwreset resume --journal {} --identity key.txt`",
                journal_path.display()
            ))
            .into());
        }
        (false, Some(identity)) => Some(encryption::sealer(encrypt_to, Some(identity))?),
    })
}

/// What the journal leaves to do, and whether it is complete.
fn left_to_do(journal: &Journal, journal_path: &Path) -> anyhow::Result<(Left, bool)> {
    let read_error = |error| {
        anyhow::Error::new(error).context(Failure::usage(format!(
            "cannot read journal `{}`",
            journal_path.display()
        )))
    };
    let (counts, complete) = journal.summary().map_err(read_error)?;
    let never_started = journal.never_started().map_err(read_error)?;
    Ok((
        Left {
            counts,
            never_started,
        },
        complete,
    ))
}

/// What `--dry-run` and `--files-only` need to know about the journal besides its report.
struct Look<'a> {
    journal_path: &'a Path,
    header: &'a JournalHeader,
    username: &'a str,
    phones_touched: bool,
}

/// `resume --dry-run` (the journal's state) or `--files-only` (its files written): no login, no
/// request.
fn look_only(
    journal: Journal,
    look: Look<'_>,
    files: RunFiles,
    dry_run: bool,
) -> anyhow::Result<ExitCode> {
    let report = JournalReport::read(journal, std::time::Duration::ZERO).map_err(|error| {
        anyhow::Error::new(error).context(Failure::usage(format!(
            "cannot read journal `{}`",
            look.journal_path.display()
        )))
    })?;
    if dry_run {
        return Ok(show_state(&report, look.header, look.journal_path, &files));
    }
    let finished = commands::FinishedRun {
        command: "resume --files-only",
        started_at: SystemTime::now(),
        username: look.username.to_owned(),
        base_url: look.header.server.clone(),
        files,
        mode: WriteMode::Again,
        devices: None,
        credential_files: None,
        phones_took: None,
        phones_touched: look.phones_touched,
        resumable: true,
    };
    commands::write_files_only(&report, &finished)
}

/// `--reset-unregistered` needs the phones reset.
fn check_reset_unregistered(
    asked: bool,
    device_settings: Option<crate::devices::DeviceSettings>,
    journal_path: &Path,
) -> Result<(), Failure> {
    if asked
        && device_settings
            .is_none_or(|settings| settings.action != bwreset_core::DeviceAction::Reset)
    {
        return Err(Failure::usage(
            "`--reset-unregistered` resets phones again: it needs the phones reset (`--devices reset`)",
        )
        .with_hint(format!(
            "`bwreset resume --journal {} --devices reset --reset-unregistered`",
            journal_path.display()
        )));
    }
    Ok(())
}

/// What the operator is asked to confirm: the run being finished and what is left of it.
/// What a journal leaves to do: its counts, and the failed users never started.
#[derive(Clone, Copy, Debug)]
struct Left {
    counts: Counts,
    never_started: usize,
}

fn describe(
    header: &JournalHeader,
    journal_path: &Path,
    left: Left,
    connection: &ConnectionSettings,
    files: &RunFiles,
) -> String {
    let Left {
        counts,
        never_started,
    } = left;
    let failed = counts.failed.saturating_sub(never_started);
    let noun = if header.password_type.is_passcode() {
        "passcodes"
    } else {
        "passwords"
    };
    let target = Place::of(&header.scope).confirmation(|groups| {
        let shown: Vec<String> = groups
            .iter()
            .take(super::GROUPS_SHOWN)
            .map(|group| format!("`{}` / `{}`", group.service_provider_id, group.group_id))
            .collect();
        let more = match groups.len().saturating_sub(shown.len()) {
            0 => String::new(),
            more => format!(" and {more} more"),
        };
        vec![format!(
            "{} group(s): {}{more}",
            groups.len(),
            shown.join(", ")
        )]
    });
    format!(
        "about to finish the {} {noun} reset recorded in `{}`
{target}  users:            {} ({} set already; {never_started} never started are started, {failed} failed are tried again, {} uncertain get the same value again)
  server:           `{}` as `{}`{}
  output:           {} (written when the run ends{})
  files now:        {}",
        header.password_type,
        journal_path.display(),
        counts.total(),
        counts.set,
        counts.uncertain,
        connection.base_url,
        connection.username,
        commands::proxy_line(connection),
        files.output.describe(),
        if files.encrypt_to.is_empty() {
            ""
        } else {
            ", encrypted with age to the same recipients"
        },
        describe_files(files),
    )
}

/// How many users of a journal ended each way, never-started users apart from failed ones.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct StateCounts {
    pub set: usize,
    pub failed: usize,
    pub not_started: usize,
    pub uncertain: usize,
}

impl StateCounts {
    pub(crate) fn of(report: &JournalReport) -> StateCounts {
        let mut counts = StateCounts::default();
        for entry in report.entries() {
            match entry.kind {
                OutcomeKind::Set => counts.set += 1,
                OutcomeKind::Uncertain => counts.uncertain += 1,
                OutcomeKind::Failed
                    if entry
                        .reason
                        .is_some_and(|reason| reason.starts_with("not attempted:")) =>
                {
                    counts.not_started += 1;
                }
                OutcomeKind::Failed => counts.failed += 1,
            }
        }
        counts
    }
}

/// `resume --dry-run`: the journal's state and which of the run's files exist, on stderr;
/// nothing is changed. Exit 0 when the run is complete, else 1 (what `resume` would finish).
#[expect(
    clippy::print_stderr,
    reason = "the journal's state is for the operator"
)]
fn show_state(
    report: &JournalReport,
    header: &JournalHeader,
    journal_path: &Path,
    files: &RunFiles,
) -> ExitCode {
    let counts = StateCounts::of(report);
    let place = Place::of(&header.scope).state();
    let mut text = format!(
        "journal `{}`: a {} reset {place} on `{}`, {} user(s)
  set:            {}
  failed:         {} (a resume tries them again)
  never started:  {}
  uncertain:      {} (sent without a clear answer; a resume sends the same value again)
",
        journal_path.display(),
        header.password_type,
        header.server,
        report.counts().total(),
        counts.set,
        counts.failed,
        counts.not_started,
        counts.uncertain,
    );
    if let Some(reason) = report.stop_reason() {
        text.push_str(&format!("  stopped:        {reason}\n"));
    }
    text.push_str(&format!("  files:          {}\n", describe_files(files)));
    let next = if report.is_complete() {
        format!(
            "every user is set; `bwreset resume --journal {} --files-only` writes the files again",
            journal_path.display()
        )
    } else {
        format!(
            "`bwreset resume --journal {0}` finishes the run; `bwreset resume --journal {0} --files-only` writes the files of what it holds and changes nothing",
            journal_path.display()
        )
    };
    eprintln!("{text}nothing was changed; {next}");
    ExitCode::from(if report.is_complete() {
        crate::errors::exit::SUCCESS
    } else {
        crate::errors::exit::SOME_USERS_NOT_SET
    })
}

/// Which of a run's files exist: the output, the failures file, the audit record.
pub(crate) fn describe_files(files: &RunFiles) -> String {
    let state = |path: &Path| {
        if path.exists() {
            format!("`{}`", path.display())
        } else {
            format!("`{}` (not written)", path.display())
        }
    };
    let output = match &files.output {
        crate::output::OutputTarget::Stdout => "output to standard output".to_owned(),
        crate::output::OutputTarget::File(path) => format!("output {}", state(path)),
    };
    format!(
        "{output}, failures {}, audit {}",
        state(&files.failures),
        state(&files.audit)
    )
}
