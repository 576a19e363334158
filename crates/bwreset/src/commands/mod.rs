//! The subcommands, one file each, and what `reset` and `resume` share: logging in, asking for
//! confirmation, writing a run's files and telling the operator how it went.

pub(crate) mod check;
pub(crate) mod completions;
#[cfg(feature = "demo")]
pub(crate) mod demo;
#[cfg(not(feature = "demo"))]
pub(crate) mod demo {
    //! `bwreset demo` in a build without the `demo` feature (and so without the simulator).

    use std::process::ExitCode;

    use crate::cli::DemoArgs;
    use crate::errors::Failure;

    pub(crate) fn run(_arguments: DemoArgs) -> anyhow::Result<ExitCode> {
        Err(Failure::usage("this bwreset was built without the `demo` feature")
            .with_hint("build it with the default features to run the demo: `cargo install --path crates/bwreset`")
            .into())
    }
}
pub(crate) mod place;
pub(crate) mod reset;
pub(crate) mod resume;

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use std::sync::Arc;

use bwreset_core::{DeviceOptions, EngineConfig, JournalReport, ValueSealer};
use ocip_client::{OcipClient, OcipConfig};
use odin_client::{ClientConfig, OdinClient, PacingConfig, TlsConfig};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::backend::AnyBackend;
use crate::errors::{Failure, exit};
use crate::output::{self, AuditRun, RunFiles};
pub(crate) use crate::output::{RunContext, WriteMode};
use crate::progress::ProgressReporter;
use crate::settings::ConnectionSettings;

/// What bwreset keeps in the journal's header (`meta`) so that `resume` can write the same files
/// as the run it finishes, and log in as the same user by default.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RunMeta {
    pub files: RunFiles,
    pub username: String,
    /// The device follow-up of a SIP run (`--devices`), when asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub devices: Option<crate::devices::DeviceSettings>,
    /// What the `http(s)://` server speaks (Odin or OCI-P over SOAP, however it was chosen:
    /// path or `--protocol`), so that `resume` needs no `--protocol`. Absent for `ocip(s)://`
    /// servers (the scheme says) and in journals of earlier builds (the path, or the flag, says).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<crate::cli::ProtocolArg>,
}

/// What `protocol` a journal records for these settings (see [`RunMeta::protocol`]).
pub(crate) fn recorded_protocol(settings: &ConnectionSettings) -> Option<crate::cli::ProtocolArg> {
    use crate::backend::Protocol;
    match crate::backend::protocol_of(settings) {
        Protocol::Ocip => None,
        Protocol::Odin => Some(crate::cli::ProtocolArg::Odin),
        Protocol::OcipSoap => Some(crate::cli::ProtocolArg::OcipSoap),
    }
}

/// The runtime for the commands that talk to a server: one thread. The work is waiting on the
/// network, a few microseconds of CPU per request; on one thread the tasks never wake each other
/// across threads and all memory comes from one allocator arena. Measured with 20,000 users
/// against a local simulator: about 20% less CPU time and 15% less peak memory than the
/// multi-threaded runtime, at the same speed. (The journal writes on a thread of its own.)
pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

/// The engine's tuning from the settings. Over OCI-P, `--concurrency` counts documents in
/// flight, as it counts requests over Odin: each document carries up to 15 users' commands, so
/// the engine keeps that many more users in flight, and asks for generated values a document
/// per connection at a time.
pub(crate) fn engine_config(settings: &ConnectionSettings) -> EngineConfig {
    let defaults = EngineConfig::default();
    let concurrency = settings.concurrency.unwrap_or(defaults.concurrency);
    if crate::backend::speaks_ocip(settings) {
        let per_document = settings
            .ocip_batch
            .map_or(ocip_client::MAX_COMMANDS_PER_DOCUMENT, usize::from);
        return EngineConfig {
            concurrency: concurrency * per_document,
            generate_batch: ocip_client::MAX_COMMANDS_PER_DOCUMENT * ocip_connections(settings),
            ..defaults
        };
    }
    EngineConfig {
        concurrency,
        ..defaults
    }
}

/// The most OCI-P connections a run opens, whatever `--concurrency` says.
const MAX_OCIP_CONNECTIONS: usize = 64;

/// The OCI-P pool's size: one connection (each logged in) per document in flight, so
/// `--concurrency` connections (at most [`MAX_OCIP_CONNECTIONS`]) unless told otherwise.
fn ocip_connections(settings: &ConnectionSettings) -> usize {
    match settings.ocip_connections {
        Some(connections) => usize::from(connections),
        None => settings
            .concurrency
            .unwrap_or(EngineConfig::default().concurrency)
            .clamp(1, MAX_OCIP_CONNECTIONS),
    }
}

/// Ends the session so that the token (or the OCI-P login) dies with the run; a failure here
/// changes nothing.
pub(crate) async fn log_out(client: &AnyBackend) {
    client.log_out().await;
}

/// What [`finish_run`] needs to know about a finished run, owned, so that the files can be written
/// on a blocking thread while the logout goes out.
pub(crate) struct FinishedRun {
    pub command: &'static str,
    pub started_at: std::time::SystemTime,
    pub username: String,
    pub base_url: String,
    pub files: RunFiles,
    pub mode: WriteMode,
    /// The device follow-up's report, when there was one.
    pub devices: Option<bwreset_core::DeviceReport>,
    /// `Some(failures written)` once the output and the failures file are written (at the end of
    /// the credential phase, before any phone is touched).
    pub credential_files: Option<bool>,
    /// How long the device phase took, when there was one.
    pub phones_took: Option<Duration>,
    /// Whether the journal held a device phase before this command (its phones may be reset
    /// already).
    pub phones_touched: bool,
    /// Whether a `resume` can reach the server later (not the demo's simulator, which stops with
    /// the command): the summary offers one only then.
    pub resumable: bool,
}

/// Logs out while the output, failures file and audit record are written: the logout's round trip
/// overlaps with the disk work (over OCI-P its answers are read only until the files are
/// written: [`AnyBackend::log_out_during`]). The runtime has one thread, so the files are
/// written on a blocking thread; the exit code is [`finish_run`]'s.
pub(crate) async fn log_out_while_finishing(
    client: &AnyBackend,
    report: JournalReport,
    run: FinishedRun,
) -> anyhow::Result<ExitCode> {
    let writer = tokio::task::spawn_blocking(move || {
        let finished = finish_run(&report, &run);
        tracing::debug!("phase: files written");
        finished
    });
    let written = client.log_out_during(writer).await;
    tracing::debug!("phase: logged out");
    match written {
        Ok(finished) => finished,
        // A panic while writing is a bug: let the panic hook report it as it would any other.
        Err(join_error) if join_error.is_panic() => {
            std::panic::resume_unwind(join_error.into_panic())
        }
        Err(join_error) => Err(anyhow::Error::new(join_error)),
    }
}

/// What runs a reset's or a resume's phases: the credentials, then the phones when asked.
pub(crate) struct Phases<'a> {
    pub client: &'a AnyBackend,
    pub progress: &'a ProgressReporter,
    /// The device follow-up, when asked for.
    pub devices: Option<DeviceOptions>,
    /// The sealer the journal was opened with, to open it again after a stop.
    pub sealer: Option<Arc<dyn ValueSealer>>,
}

/// Runs the credential phase (`credentials`: [`bwreset_core::execute`] or
/// [`bwreset_core::resume`]), writes the output and the failures file as soon as it ends (before
/// any phone is touched), runs the device phase when asked, and finishes the run. A stop after
/// the first change (Ctrl-C, a server gone, an error) still writes every file from what the
/// journal holds, then ends in the stop's error; a stop that changed nothing writes nothing.
pub(crate) async fn run_phases(
    phases: Phases<'_>,
    credentials: impl Future<Output = Result<JournalReport, bwreset_core::Error>>,
    mut run: FinishedRun,
) -> anyhow::Result<ExitCode> {
    let Phases {
        client,
        progress,
        devices,
        sealer,
    } = phases;
    let report = match until_interrupted(credentials, &run.files, Phase::Credentials).await {
        Ok(report) => report,
        Err(error) => {
            progress.finish();
            if !may_have_changed(&error) {
                return Err(error);
            }
            return Err(write_after_stop(error, sealer, &run).await);
        }
    };
    tracing::debug!("phase: run finished");
    let Some(options) = devices else {
        progress.finish();
        return log_out_while_finishing(client, report, run).await;
    };
    // The values first: whatever happens to the phones, the output is there.
    let failures_written = match write_credential_files(&report, &run.files, run.mode) {
        Ok(written) => written,
        Err(error) => {
            progress.finish();
            return Err(error);
        }
    };
    run.credential_files = Some(failures_written);
    let phones_started = std::time::Instant::now();
    let follow_up = bwreset_core::follow_up_devices(client, report.journal(), &options, progress);
    let devices = until_interrupted(follow_up, &run.files, Phase::Devices).await;
    progress.finish();
    run.phones_took = Some(phones_started.elapsed());
    match devices {
        Ok(devices) => {
            run.devices = Some(devices);
            log_out_while_finishing(client, report, run).await
        }
        Err(error) => {
            let reason = stop_reason_of(&error);
            let devices =
                bwreset_core::read_device_report(report.journal(), &options, Some(reason.clone()))
                    .await;
            let devices = match devices {
                Ok(devices) => Some(devices),
                Err(read_error) => {
                    tracing::debug!(%read_error, "the devices report could not be read");
                    None
                }
            };
            let context = run.context();
            if let Err(write_error) = write_audit(
                &report,
                devices.as_ref(),
                &context,
                run.mode,
                failures_written,
                None,
            ) {
                warn_not_written(&write_error);
                return Err(error);
            }
            let times = run.phones_took.map(|phones| Times {
                phones,
                total: run.started_at.elapsed().unwrap_or_default(),
            });
            let notes = Notes {
                times,
                ..run.notes()
            };
            print_summary(
                &report,
                devices.as_ref(),
                &run.files,
                failures_written,
                notes,
            );
            Err(error)
        }
    }
}

/// Whether a stop may have left a change behind: every stop but those that say nothing was
/// changed (refused before the first request).
fn may_have_changed(error: &anyhow::Error) -> bool {
    error
        .downcast_ref::<Failure>()
        .is_none_or(|failure| failure.kind() == crate::errors::FailureKind::Interrupted)
}

/// The stop's own words, for the audit record and the devices report.
fn stop_reason_of(error: &anyhow::Error) -> String {
    match error.downcast_ref::<Failure>() {
        Some(failure) => failure.to_string(),
        None => format!("{error:#}"),
    }
}

/// After the credential phase stopped part-way: the journal opened again (once the stopped
/// run's tasks let go of it) and read as it stands, and the output, the failures file and the
/// audit record written from it, the summary printed. Gives back the stop's error, with what
/// could not be written added.
async fn write_after_stop(
    error: anyhow::Error,
    sealer: Option<Arc<dyn ValueSealer>>,
    run: &FinishedRun,
) -> anyhow::Error {
    let reason = stop_reason_of(&error);
    let journal = match reopen_journal(&run.files.journal, sealer).await {
        Ok(journal) => journal,
        Err(open_error) => {
            tracing::debug!(%open_error, "the journal could not be opened again after the stop");
            return error;
        }
    };
    let elapsed = run.started_at.elapsed().unwrap_or_default();
    let written = JournalReport::read(journal, elapsed)
        .map_err(anyhow::Error::new)
        .and_then(|report| {
            let failures_written = write_credential_files(&report, &run.files, run.mode)?;
            write_audit(
                &report,
                None,
                &run.context(),
                run.mode,
                failures_written,
                Some(&reason),
            )?;
            let notes = Notes {
                stopped: Some(&reason),
                ..run.notes()
            };
            print_summary(&report, None, &run.files, failures_written, notes);
            Ok(())
        });
    if let Err(write_error) = written {
        warn_not_written(&write_error);
    }
    error
}

/// A file a stopped run could not write: said, and the stop's own error follows (its hint, a
/// `resume`, writes the files again).
#[expect(clippy::print_stderr, reason = "a warning to the operator")]
fn warn_not_written(error: &anyhow::Error) {
    eprintln!("warning: {error:#}");
}

/// Opens the journal of a stopped phase again. The stopped run's tasks are aborted, not yet
/// dropped: each lets go of the journal (and its lock) when the runtime next gets to it, so a
/// locked journal is tried again for a while.
async fn reopen_journal(
    path: &std::path::Path,
    sealer: Option<Arc<dyn ValueSealer>>,
) -> Result<bwreset_core::Journal, bwreset_core::Error> {
    const TRIES: u32 = 400;
    let mut tries = 0;
    loop {
        tokio::task::yield_now().await;
        let opened = match &sealer {
            Some(sealer) => bwreset_core::Journal::open_sealed(path, Arc::clone(sealer)),
            None => bwreset_core::Journal::open(path),
        };
        match opened {
            Err(bwreset_core::Error::JournalLocked { .. }) if tries < TRIES => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            other => return other,
        }
    }
}

impl FinishedRun {
    /// What the summary says beyond the report, as far as the run knows it.
    fn notes(&self) -> Notes<'static> {
        Notes {
            stopped: None,
            times: None,
            phones_touched: self.phones_touched,
            resumable: self.resumable,
        }
    }

    fn context(&self) -> RunContext<'_> {
        RunContext {
            command: self.command,
            started_at: self.started_at,
            odin_username: &self.username,
            base_url: &self.base_url,
            files: &self.files,
        }
    }
}

/// Which part of a run [`until_interrupted`] watches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// The credentials: an error before anything was sent changed nothing.
    Credentials,
    /// The device follow-up, after the credentials were set: whatever stops it, the new values
    /// are in the journal and `resume` finishes the run (and writes the files).
    Devices,
}

/// Runs a phase of the engine until it returns, or until the operator presses Ctrl-C. Either
/// way whatever was sent is in the journal, and `resume` finishes the run.
pub(crate) async fn until_interrupted<T>(
    run: impl Future<Output = Result<T, bwreset_core::Error>>,
    files: &RunFiles,
    phase: Phase,
) -> anyhow::Result<T> {
    let resume_hint = format!(
        "the journal holds every value sent; finish the run with `bwreset resume --journal {}`",
        files.journal.display()
    );
    tokio::select! {
        result = run => result.map_err(|error| {
            let failure = match (&error, phase) {
                (_, Phase::Devices) => Failure::interrupted(
                    "the device phase stopped after the new credentials were set",
                )
                .with_hint(resume_hint),
                // Found before anything was sent: the journal does not fit, or the server
                // refused the re-checks that start a resume.
                (bwreset_core::Error::JournalMismatch { .. }, Phase::Credentials) => {
                    Failure::usage("this journal cannot be used here; nothing was changed")
                }
                // A resume across groups found one of them gone.
                (bwreset_core::Error::UnknownGroup { .. }, Phase::Credentials) => Failure::usage(
                    "a group of the run does not exist (any more); nothing was changed",
                ),
                (bwreset_core::Error::Backend(_), Phase::Credentials) => {
                    Failure::could_not_start("the run could not start; nothing was changed")
                }
                (_, Phase::Credentials) => {
                    Failure::interrupted("the run stopped before it finished").with_hint(resume_hint)
                }
            };
            anyhow::Error::new(error).context(failure)
        }),
        () = crate::interrupt::ctrl_c() => Err(Failure::interrupted(match phase {
            Phase::Credentials => {
                "interrupted; the users in flight may or may not have their new value"
            }
            Phase::Devices => "interrupted in the device phase; the new credentials are set",
        })
        .with_hint(resume_hint)
        .into()),
    }
}

/// Writes the output, the failures file (unless `credential_files` says they are written
/// already) and the audit record, prints the summary, and gives the exit code. The values are
/// safe in the journal whatever happens here, so a failure to write says how to write the files
/// again.
pub(crate) fn finish_run(report: &JournalReport, run: &FinishedRun) -> anyhow::Result<ExitCode> {
    let context = run.context();
    let (devices, mode) = (run.devices.as_ref(), run.mode);
    let files = context.files;
    let failures_written = match run.credential_files {
        Some(failures_written) => failures_written,
        None => write_credential_files(report, files, mode)?,
    };
    write_audit(report, devices, &context, mode, failures_written, None)
        .map_err(|error| error.context(files_not_written(files)))?;

    let notes = Notes {
        times: run.phones_took.map(|phones| Times {
            phones,
            total: run.started_at.elapsed().unwrap_or_default(),
        }),
        ..run.notes()
    };
    print_summary(report, devices, files, failures_written, notes);
    let code = exit_code_for(report);
    // New user names with no phone follow-up: the phones stop registering, the job is not done.
    if code == ExitCode::from(exit::SUCCESS)
        && (devices.is_some_and(|devices| !devices.is_complete())
            || crate::user_names::phones_left_behind(report, devices))
    {
        return Ok(ExitCode::from(exit::SOME_USERS_NOT_SET));
    }
    Ok(code)
}

/// `resume --files-only`: the output, the failures file and the audit record of what the
/// journal holds, and the summary; no request is made.
pub(crate) fn write_files_only(
    report: &JournalReport,
    run: &FinishedRun,
) -> anyhow::Result<ExitCode> {
    let failures_written = write_credential_files(report, &run.files, run.mode)?;
    write_audit(
        report,
        None,
        &run.context(),
        run.mode,
        failures_written,
        None,
    )
    .map_err(|error| error.context(files_not_written(&run.files)))?;
    print_summary(report, None, &run.files, failures_written, run.notes());
    Ok(exit_code_for(report))
}

/// The failure of a run whose files could not all be written, and how to write them again.
fn files_not_written(files: &RunFiles) -> Failure {
    Failure::interrupted("the run finished but its files are not all written").with_hint(format!(
        "the new values are in the journal: once the problem is fixed, `bwreset resume --journal {}` writes the files again",
        files.journal.display()
    ))
}

/// Writes the output and the failures file; true when there were failures to write. Each file
/// is written as it is serialised, a user at a time, the values read back from the journal:
/// nothing of the size of the run is held but the report's compact entries.
pub(crate) fn write_credential_files(
    report: &JournalReport,
    files: &RunFiles,
    mode: WriteMode,
) -> anyhow::Result<bool> {
    (|| {
        output::write_credentials(files, report, mode)?;
        output::write_failures(files, report, mode)
    })()
    .map_err(|error| error.context(files_not_written(files)))
}

/// Writes the devices report (when there is one) and the audit record; `stopped`: why the run
/// stopped, when it was stopped from outside (Ctrl-C) and the journal does not say.
fn write_audit(
    report: &JournalReport,
    devices: Option<&bwreset_core::DeviceReport>,
    context: &RunContext<'_>,
    mode: WriteMode,
    failures_written: bool,
    stopped: Option<&str>,
) -> anyhow::Result<()> {
    let files = context.files;
    let mut audit_run = AuditRun::new(context, report, failures_written);
    if audit_run.stop_reason.is_none() {
        audit_run.stop_reason = stopped.map(str::to_owned);
    }
    if let Some(devices) = devices {
        let path = crate::devices::report_path(&files.failures);
        crate::devices::write_report(&path, devices, mode)?;
        audit_run.devices = Some(output::AuditDevices::of(devices, path));
    }
    match mode {
        WriteMode::New => output::write_audit_new(&files.audit, audit_run),
        WriteMode::Again => output::append_audit(&files.audit, audit_run),
    }
}

/// Builds the client configuration and logs in, to Odin or over OCI-P as the server URL's
/// scheme says. Every failure here happens before anything is changed: a bad CA file or a
/// refused plain-http (or plain-TCP) URL is a usage error, an unreachable server or a refused
/// login means the run could not start.
pub(crate) async fn log_in(
    settings: &ConnectionSettings,
    password: SecretString,
) -> anyhow::Result<AnyBackend> {
    tokio::select! {
        login = log_in_to(settings, password) => login,
        () = crate::interrupt::requested() => Err(interrupted_login()),
    }
}

/// A login abandoned on request (the Python caller's Ctrl-C): nothing was changed.
pub(crate) fn interrupted_login() -> anyhow::Error {
    Failure::could_not_start("interrupted during the login; nothing was changed").into()
}

async fn log_in_to(
    settings: &ConnectionSettings,
    password: SecretString,
) -> anyhow::Result<AnyBackend> {
    if crate::backend::speaks_ocip(settings) {
        let config = ocip_config(settings, password)?;
        if config.soap {
            connection_notes(settings);
        }
        return match OcipClient::login(config).await {
            Ok(client) => Ok(AnyBackend::Ocip(client)),
            Err(error) => Err(check::explain_ocip_login_failure(settings, error).await),
        };
    }
    let config = client_config(settings, password)?;
    connection_notes(settings);
    OdinClient::login(config)
        .await
        .map(AnyBackend::Odin)
        .map_err(|error| login_failure(settings, error))
}

/// Over HTTP(S) (Odin, OCI-P over SOAP): the warning of `--insecure` and the proxy in use.
#[expect(
    clippy::print_stderr,
    reason = "a note to the operator about the connection"
)]
fn connection_notes(settings: &ConnectionSettings) {
    insecure_warning(settings);
    if let Some(proxy) = &settings.proxy {
        eprintln!(
            "note: connecting to `{}` through the proxy `{}` (from the proxy variables; `NO_PROXY` lists hosts reached directly)",
            settings.base_url,
            proxy.shown()
        );
    }
}

/// The one warning of `--insecure` over HTTP(S), for a run and for `check`.
#[expect(clippy::print_stderr, reason = "a warning to the operator")]
pub(crate) fn insecure_warning(settings: &ConnectionSettings) {
    if settings.insecure {
        eprintln!(
            "warning: `--insecure`: the server's TLS certificate is NOT checked; anyone between you and \
             `{}` can read the login password and every new credential",
            settings.base_url
        );
    }
}

/// The OCI-P client's configuration from the settings. Over TCP, `--insecure` and proxies are
/// not available: OCI-P always verifies TLS and connects directly. Over SOAP (HTTPS) they act
/// as for Odin.
pub(crate) fn ocip_config(
    settings: &ConnectionSettings,
    password: SecretString,
) -> anyhow::Result<OcipConfig> {
    let soap = crate::backend::speaks_ocip_over_soap(settings);
    if settings.insecure && !soap {
        return Err(Failure::usage("`--insecure` is not available over OCI-P")
            .with_hint("give the server's CA certificate with `--ca-cert FILE` instead")
            .into());
    }
    let mut config = OcipConfig::new(
        settings.base_url.clone(),
        settings.username.clone(),
        password,
    );
    config.ca_cert_pem = read_ca_cert(settings)?;
    config.allow_plaintext = settings.allow_plaintext;
    if soap {
        config.soap = true;
        config.insecure = settings.insecure;
        config.proxy = settings.proxy.as_ref().map(|proxy| proxy.url.clone());
        // Plain http:// over SOAP is allowed as plain http:// to Odin is.
        config.allow_plaintext |= settings.allow_http;
    }
    if let Some(timeout) = settings.connect_timeout {
        config.connect_timeout = timeout;
    }
    if let Some(batch) = settings.ocip_batch {
        config.max_commands_per_document = usize::from(batch);
    }
    config.connections = ocip_connections(settings);
    // A run uses the whole pool at once: its connections log in together, before they are
    // needed.
    config.warm_up = true;
    // The server's generator by default (issue 16: where the server has it); values made here
    // from the rules the server reports cost no command, the server's one per user
    // (docs/ocip.md §10).
    config.local_generation = settings.ocip_local_values;
    Ok(config)
}

fn read_ca_cert(settings: &ConnectionSettings) -> anyhow::Result<Option<Vec<u8>>> {
    match &settings.ca_cert {
        Some(path) => Ok(Some(crate::files::read_ca_cert(path)?)),
        None => Ok(None),
    }
}

/// The URL fit to print: a `user:password@` in it replaced.
fn without_credentials(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_owned();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{}[redacted]@{}", &url[..scheme_end + 3], &rest[at + 1..]),
        None => url.to_owned(),
    }
}

/// What a failed OCI-P login tells the operator.
pub(crate) fn ocip_login_failure(
    settings: &ConnectionSettings,
    error: ocip_client::Error,
) -> anyhow::Error {
    let server = &without_credentials(&settings.base_url);
    let failure = match &error {
        ocip_client::Error::Config { .. } if server.to_ascii_lowercase().starts_with("ocip://") => {
            Failure::usage(format!("cannot use `{server}`")).with_hint(
                "plain `ocip://` is only allowed to loopback unless `--allow-plaintext` is given; prefer `ocips://` (TLS, port 2209)",
            )
        }
        ocip_client::Error::Config { .. } => Failure::usage(format!("cannot use `{server}`")),
        ocip_client::Error::LoginRefused { .. } => Failure::could_not_start(format!(
            "login to `{server}` as `{}` was refused; nothing was changed",
            settings.username
        ))
        .with_hint("check the user name (`--username`, `BWRESET_USERNAME`) and the password (`BWRESET_PASSWORD`)"),
        ocip_client::Error::Front { .. } => Failure::could_not_start(format!(
            "`{server}` did not answer as the OCI-P web service; nothing was changed"
        ))
        .with_hint("the answer came from something in front of the service (a load balancer, a proxy, a single-sign-on portal): ask for a direct path to `/webservice/services/ProvisioningService`, or try again later if it said it is busy"),
        ocip_client::Error::Decode { .. } if crate::backend::speaks_ocip_over_soap(settings) => Failure::could_not_start(format!(
            "`{server}` did not answer as the OCI-P web service; nothing was changed"
        ))
        .with_hint("check that `--server` is the web service's address (`https://HOST/webservice/services/ProvisioningService`)"),
        ocip_client::Error::Tls { .. } if crate::backend::speaks_ocip_over_soap(settings) => Failure::could_not_start(format!(
            "the TLS handshake with `{server}` failed; nothing was changed"
        ))
        .with_hint("if the server's certificate comes from your organisation's own CA, give that CA's certificate (PEM) with `--ca-cert FILE`"),
        ocip_client::Error::Tls { .. } => Failure::could_not_start(format!(
            "the TLS handshake with `{server}` failed; nothing was changed"
        ))
        .with_hint("if the server's certificate comes from your organisation's own CA, give that CA's certificate (PEM) with `--ca-cert FILE`; check that the port speaks TLS (`ocips://`, 2209)"),
        _ if crate::backend::speaks_ocip_over_soap(settings) => Failure::could_not_start(format!("cannot reach `{server}` over OCI-P over SOAP; nothing was changed"))
            .with_hint("check the host, port and path in `--server` (`https://HOST/webservice/services/ProvisioningService`) and the proxy variables"),
        _ => Failure::could_not_start(format!("cannot reach `{server}` over OCI-P; nothing was changed"))
            .with_hint("check the host and port in `--server` and that this machine is on the server's OCI-P access list"),
    };
    anyhow::Error::new(error).context(failure)
}

/// What a failed login tells the operator: the cause in plain words, once, and the fix.
pub(crate) fn login_failure(
    settings: &ConnectionSettings,
    error: odin_client::Error,
) -> anyhow::Error {
    let base_url = &settings.base_url;
    let failure = match &error {
        odin_client::Error::Config { .. } if base_url.starts_with("http://") => {
            Failure::usage(format!("cannot use `{base_url}`"))
                .with_hint("plain `http://` is only allowed to loopback unless `--allow-http` is given")
        }
        odin_client::Error::Config { .. } => Failure::usage(format!("cannot use `{base_url}`")),
        odin_client::Error::Unauthorized { .. } => Failure::could_not_start(format!(
            "login to `{base_url}` as `{}` was refused; nothing was changed",
            settings.username
        ))
        .with_hint("check the user name (`--username`, `ODIN_USERNAME`) and the password (`ODIN_PASSWORD`)"),
        odin_client::Error::Tls { problem, message } => {
            // The plain words are the message; the TLS library's own words the one cause.
            let failure = tls_failure(settings, *problem);
            return anyhow::Error::msg(message.clone()).context(failure);
        }
        odin_client::Error::Timeout { waited, connected } => {
            let seconds = waited.as_secs();
            let failure = if *connected {
                Failure::could_not_start(format!(
                    "`{base_url}` accepted the connection and did not answer in {seconds} s; nothing was changed"
                ))
                .with_hint(format!(
                    "check that `--base-url` is the Odin API (it ends in `/api/v2`) and not another service on that port{}; a slow server may need `--first-answer-timeout SECONDS`",
                    proxy_note(settings)
                ))
            } else {
                let what = if base_url.starts_with("https://") {
                    "neither the connection nor its TLS handshake completed"
                } else {
                    "the connection did not complete"
                };
                Failure::could_not_start(format!(
                    "no connection to `{base_url}` within {seconds} s ({what}); nothing was changed"
                ))
                .with_hint(format!(
                    "check the host and port in `--base-url` and that a firewall lets this machine through{}; `--connect-timeout SECONDS` waits longer",
                    proxy_note(settings)
                ))
            };
            return failure.into();
        }
        odin_client::Error::Connect { .. } | odin_client::Error::Transport { .. } => {
            Failure::could_not_start(format!("cannot reach `{base_url}`; nothing was changed"))
                .with_hint(format!(
                    "check `--base-url` (it ends in `/api/v2`) and that the server is reachable from here{}",
                    proxy_note(settings)
                ))
        }
        _ => Failure::could_not_start(format!("cannot log in to `{base_url}`; nothing was changed")),
    };
    anyhow::Error::new(error).context(failure)
}

/// The failure for a TLS handshake that failed for good: what is wrong and what fixes it.
fn tls_failure(settings: &ConnectionSettings, problem: odin_client::TlsProblem) -> Failure {
    use odin_client::TlsProblem;
    let base_url = &settings.base_url;
    let check = "`bwreset check` shows the certificate's subject, issuer and expiry";
    match problem {
        TlsProblem::UntrustedCertificate => {
            let hint = match &settings.ca_cert {
                None => format!(
                    "if the server's certificate comes from your organisation's own CA, give that CA's certificate (PEM) with `--ca-cert FILE` or `ca_cert` in the config file; {check}"
                ),
                Some(path) => format!(
                    "the CA in `{}` did not issue it: give the CA that did (the issuer shown by `bwreset check`) with `--ca-cert FILE`",
                    path.display()
                ),
            };
            Failure::could_not_start(format!(
                "the TLS certificate of `{base_url}` is not signed by an authority bwreset trusts; nothing was changed"
            ))
            .with_hint(hint)
        }
        TlsProblem::WrongHostName => Failure::could_not_start(format!(
            "the TLS certificate of `{base_url}` is issued for another host name; nothing was changed"
        ))
        .with_hint(format!(
            "use the host name the certificate names in `--base-url` (not an IP address or an alias); {check}"
        )),
        TlsProblem::Expired | TlsProblem::NotYetValid => {
            let state = if problem == TlsProblem::Expired {
                "has expired"
            } else {
                "is not valid yet"
            };
            Failure::could_not_start(format!(
                "the TLS certificate of `{base_url}` {state}; nothing was changed"
            ))
            .with_hint(format!(
                "the server's operator must renew it, unless this machine's clock is wrong; {check}"
            ))
        }
        TlsProblem::ProtocolVersion => Failure::could_not_start(format!(
            "`{base_url}` refused the TLS versions bwreset speaks (1.2 and 1.3); nothing was changed"
        ))
        .with_hint("the server, or a TLS front before it, offers only an older TLS version: its operator must enable TLS 1.2 or newer"),
        TlsProblem::NotTls => Failure::could_not_start(format!(
            "`{base_url}` did not answer in TLS; nothing was changed"
        ))
        .with_hint("check the scheme and port of `--base-url`: `https://` to a port that speaks plain http fails this way"),
        _ => Failure::could_not_start(format!(
            "the TLS handshake with `{base_url}` failed; nothing was changed"
        ))
        .with_hint(check),
    }
}

/// ", through the proxy `URL`..." when a proxy is in use: it may be the one to blame.
fn proxy_note(settings: &ConnectionSettings) -> String {
    match &settings.proxy {
        Some(proxy) => format!(
            " (the connection goes through the proxy `{}` from the proxy variables; list the host in `NO_PROXY` to connect directly)",
            proxy.shown()
        ),
        None => String::new(),
    }
}

/// The confirmation's line naming the proxy, when one is used.
pub(crate) fn proxy_line(settings: &ConnectionSettings) -> String {
    match &settings.proxy {
        Some(proxy) => format!("\n  proxy:            `{}`", proxy.shown()),
        None => String::new(),
    }
}

/// The client configuration the settings describe; reads the CA file, prints nothing.
pub(crate) fn client_config(
    settings: &ConnectionSettings,
    password: SecretString,
) -> anyhow::Result<ClientConfig> {
    let mut config = ClientConfig::new(
        settings.base_url.clone(),
        settings.username.clone(),
        password,
    );
    let ca_cert_pem = match &settings.ca_cert {
        Some(path) => Some(crate::files::read_ca_cert(path)?),
        None => None,
    };
    config.tls = TlsConfig {
        ca_cert_pem,
        insecure: settings.insecure,
    };
    config.allow_plain_http = settings.allow_http;
    if let Some(concurrency) = settings.concurrency {
        config.pacing = PacingConfig {
            max_in_flight: concurrency,
            ..config.pacing
        };
        config.pool_max_idle_per_host = concurrency;
    }
    config.pacing.max_rate = settings.max_rate;
    if settings.no_connection_reuse {
        // No idle connection is kept, so every request opens its own: the baseline behaviour
        // of the published Python library, measured by the benchmark.
        config.pool_max_idle_per_host = 0;
    }
    if let Some(timeout) = settings.connect_timeout {
        config.connect_timeout = timeout;
    }
    if let Some(timeout) = settings.first_answer_timeout {
        config.first_answer_timeout = timeout;
    }
    config.proxy = settings.proxy.as_ref().map(|proxy| proxy.url.clone());
    Ok(config)
}

/// Asks the operator to confirm before anything is changed. `--yes` skips the question; without
/// a terminal to ask on, and without `--yes`, the run is refused.
pub(crate) fn confirm(description: &str, assume_yes: bool) -> anyhow::Result<()> {
    if assume_yes {
        return Ok(());
    }
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(Failure::usage(
            "refusing to change credentials without confirmation: there is no terminal to ask on",
        )
        .with_hint("add `--yes` to go ahead without a question; nothing was changed")
        .into());
    }
    let mut stderr = std::io::stderr().lock();
    write!(stderr, "{description}\ngo ahead? [y/N] ")?;
    stderr.flush()?;
    let mut answer = String::new();
    stdin.lock().read_line(&mut answer)?;
    match answer.trim().to_ascii_lowercase().as_str() {
        "y" | "yes" => Ok(()),
        _ => Err(Failure::usage("not confirmed; nothing was changed").into()),
    }
}

/// The summary on stderr: counts, duplicates, time, and where every file went.
#[expect(
    clippy::print_stderr,
    reason = "the run's summary is for the operator, on stderr"
)]
fn print_summary(
    report: &JournalReport,
    devices: Option<&bwreset_core::DeviceReport>,
    files: &RunFiles,
    failures_written: bool,
    notes: Notes<'_>,
) {
    let Notes {
        stopped,
        times,
        phones_touched,
        resumable,
    } = notes;
    let counts = report.counts();
    let place = place::Place::of(report.scope()).summary();
    let mut text = format!(
        "{} reset {place}: {} set, {} failed, {} uncertain, in {}\n",
        report.password_type(),
        counts.set,
        counts.failed,
        counts.uncertain,
        match times {
            None => format_duration(report.elapsed()),
            Some(times) => format!(
                "{} (phones {}; {} in all)",
                format_duration(report.elapsed()),
                format_duration(times.phones),
                format_duration(times.total)
            ),
        },
    );
    if let Some(reason) = report.stop_reason().or(stopped) {
        text.push_str(&format!("the run stopped before it finished: {reason}\n"));
    }
    let duplicates = report.duplicates();
    if !duplicates.is_empty() {
        text.push_str(&format!(
            "duplicates: {} users were listed more than once and reset once: {}\n",
            duplicates.len(),
            duplicate_names(duplicates)
        ));
    }
    text.push_str(&format!(
        "output:   {} ({} user(s) set){}\n",
        files.output.describe(),
        counts.set,
        files.encryption_note(),
    ));
    if failures_written {
        text.push_str(&format!(
            "failures: `{}` ({} user(s){})\n",
            files.failures.display(),
            counts.failed + counts.uncertain,
            failures_advice(report, resumable),
        ));
    }
    text.push_str(&format!("journal:  `{}`", files.journal.display()));
    if resumable && (counts.uncertain > 0 || report.stop_reason().is_some() || stopped.is_some()) {
        text.push_str(&format!(
            " (finish the run with `bwreset resume --journal {}`)",
            files.journal.display()
        ));
    }
    text.push('\n');
    text.push_str(&format!("audit:    `{}`\n", files.audit.display()));
    if counts.set + counts.uncertain > 0 && files.encrypt_to.is_empty() {
        text.push_str(
            "the output and the journal hold new credentials: keep them safe, and delete the journal once they are handed over\n",
        );
    } else if counts.set + counts.uncertain > 0 {
        text.push_str(
            "the output and the journal's values are encrypted with age: decrypt the output with `age -d -i KEY FILE`; finish or re-write the run with `bwreset resume --journal FILE --identity KEY`\n",
        );
    }
    text.push_str(&crate::user_names::summary_lines(
        report,
        devices,
        &files.journal,
        resumable,
    ));
    if let Some(devices) = devices {
        text.push_str(&crate::devices::summary_line(
            devices,
            &crate::devices::report_path(&files.failures),
            &files.journal,
        ));
    } else if !resumable {
        // The demo: its simulator stops with it, so no `resume` could follow.
    } else if report.password_type() == bwreset_core::PasswordType::Sip
        && counts.set > 0
        && phones_touched
    {
        text.push_str(&crate::devices::advice_after_phones(&files.journal));
    } else if report.password_type() == bwreset_core::PasswordType::Sip
        && counts.set > 0
        && !report.gives_new_user_names()
    {
        text.push_str(&crate::devices::advice(&files.journal));
    }
    eprint!("{text}");
}

/// What the summary says beyond the report: why the run stopped (from outside), the phases'
/// times, and whether the phones were touched before.
#[derive(Clone, Copy, Debug)]
struct Notes<'a> {
    stopped: Option<&'a str>,
    times: Option<Times>,
    phones_touched: bool,
    resumable: bool,
}

/// How long the phases of a run with a device phase took: the phones, and the whole command.
#[derive(Clone, Copy, Debug)]
struct Times {
    phones: Duration,
    total: Duration,
}

/// The users listed more than once: the first five with their counts, then how many more.
pub(crate) fn duplicate_names(duplicates: &[bwreset_core::Duplicate]) -> String {
    let names: Vec<String> = duplicates
        .iter()
        .take(5)
        .map(|duplicate| format!("`{}` ({}x)", duplicate.user_id, duplicate.occurrences))
        .collect();
    match duplicates.len().saturating_sub(names.len()) {
        0 => names.join(", "),
        more => format!("{} and {more} more", names.join(", ")),
    }
}

/// Why users of the failures file were not set, as far as a retry is concerned.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct FailureSorts {
    /// The server knows no such user: nothing to retry.
    not_found: usize,
    /// In another group (named, or just not among the group's users): a retry of the same
    /// group cannot help.
    elsewhere: usize,
    /// Everything else (uncertain, not attempted, refused for now): worth trying again.
    retryable: usize,
}

impl FailureSorts {
    fn of(report: &JournalReport) -> FailureSorts {
        let mut sorts = FailureSorts::default();
        for outcome in report.entries() {
            if outcome.kind == bwreset_core::OutcomeKind::Set {
                continue;
            }
            let reason = outcome.reason.unwrap_or_default().to_ascii_lowercase();
            if outcome.kind == bwreset_core::OutcomeKind::Failed
                && (reason.contains("not found") || reason.contains("does not exist"))
            {
                sorts.not_found += 1;
            } else if outcome.kind == bwreset_core::OutcomeKind::Failed
                && reason.starts_with("user is not in ")
            {
                sorts.elsewhere += 1;
            } else {
                sorts.retryable += 1;
            }
        }
        sorts
    }
}

/// What the failures file is good for, by the reasons in it: `resume` for what a retry can
/// settle, `--targets` for users in another group, nothing for users not found.
fn failures_advice(report: &JournalReport, resumable: bool) -> String {
    let sorts = FailureSorts::of(report);
    let mut parts = Vec::new();
    if sorts.retryable > 0 {
        parts.push(if resumable {
            format!(
                "{} to try again: `bwreset resume` does, or give the file back with `{}`",
                sorts.retryable,
                place::Place::of(report.scope()).failures_flag()
            )
        } else {
            format!("{} to try again", sorts.retryable)
        });
    }
    if sorts.elsewhere > 0 {
        parts.push(format!(
            "{} not in the group given: name each with its own group in a `--targets` file (the reason says where it is, when the server did)",
            sorts.elsewhere
        ));
    }
    if sorts.not_found > 0 {
        parts.push(format!(
            "{} not found on the server: nothing to retry, check the user IDs",
            sorts.not_found
        ));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("; {}", parts.join("; "))
    }
}

/// How many groups a confirmation or a dry run names one by one; the rest are counted.
pub(crate) const GROUPS_SHOWN: usize = 10;

/// How many service providers the groups belong to.
pub(crate) fn service_provider_count(groups: &[bwreset_core::GroupRef]) -> usize {
    let mut providers: Vec<&str> = groups
        .iter()
        .map(|group| group.service_provider_id.as_str())
        .collect();
    providers.sort_unstable();
    providers.dedup();
    providers.len()
}

/// The exit code a finished run ends with.
fn exit_code_for(report: &JournalReport) -> ExitCode {
    if report.stop_reason().is_some() {
        ExitCode::from(exit::INTERRUPTED)
    } else if report.is_complete() {
        ExitCode::from(exit::SUCCESS)
    } else {
        ExitCode::from(exit::SOME_USERS_NOT_SET)
    }
}

fn format_duration(duration: Duration) -> String {
    let seconds = duration.as_secs_f64();
    if seconds < 60.0 {
        format!("{seconds:.1} s")
    } else {
        let whole = duration.as_secs();
        format!("{} min {:02} s", whole / 60, whole % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errors::FailureKind;

    /// The same server failure means "nothing was changed" before the credentials are sent,
    /// and "finish with resume" once they are set (the device phase).
    #[tokio::test]
    async fn an_error_after_the_credentials_never_says_nothing_was_changed() {
        let files =
            RunFiles::plan(std::path::Path::new("/tmp/out.json"), None, None).expect("files");
        let failed = || async {
            Err::<(), _>(bwreset_core::Error::Backend(
                bwreset_core::BackendError::new(
                    bwreset_core::ErrorKind::Unavailable,
                    None,
                    "server down",
                ),
            ))
        };
        // The message and its hint, as `{:?}` shows them.
        let failure_of = |error: anyhow::Error| {
            let failure = error.downcast::<Failure>().expect("a failure");
            (failure.kind(), format!("{failure:?}"))
        };
        let (kind, text) = failure_of(
            until_interrupted(failed(), &files, Phase::Credentials)
                .await
                .unwrap_err(),
        );
        assert_eq!(kind, FailureKind::CouldNotStart);
        assert!(text.contains("nothing was changed"), "{text}");
        let (kind, text) = failure_of(
            until_interrupted(failed(), &files, Phase::Devices)
                .await
                .unwrap_err(),
        );
        assert_eq!(kind, FailureKind::Interrupted);
        assert!(!text.contains("nothing was changed"), "{text}");
        assert!(
            text.contains("bwreset resume --journal /tmp/out.json.journal"),
            "{text}"
        );
    }
}
