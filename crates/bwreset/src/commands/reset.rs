//! `bwreset reset`: check the users, confirm, reset one credential for each, write the results.
//!
//! `demo` runs the same [`perform`] against its simulator, so what the demo shows is what a real
//! reset does.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::SystemTime;

use bwreset_core::{
    Checks, DeviceOptions, ErrorKind, GroupRef, GroupedUsers, Journal, JournalHeader, PasswordType,
    Plan, PlannedStatus, ResetRequest, Targets, UserId, UserIdList, UserNameTemplate,
};
use secrecy::SecretString;

use crate::cli::{PasswordTypeArg, ResetArgs, TargetArgs};
use crate::commands::place::Place;
use crate::commands::{self, RunMeta, WriteMode, confirm, log_in};
use crate::devices::{self, DeviceSettings};
use crate::encryption;
use crate::errors::{Failure, exit};
use crate::output::RunFiles;
use crate::progress::ProgressReporter;
use crate::settings::{self, ConnectionSettings, Environment, FileSettings, Recorded};
use crate::user_names::{self, UserNameArgs};
use crate::users_file;

/// A reset with every setting decided and every input read: what [`perform`] needs.
#[derive(Debug)]
pub(crate) struct ResetJob {
    pub connection: ConnectionSettings,
    pub password: SecretString,
    pub password_type: PasswordType,
    /// Whom, each kind of target with its own group, groups or service provider.
    pub targets: Targets,
    pub mode: Mode,
    pub assume_yes: bool,
    /// The device follow-up of a SIP reset (`--devices`), if any.
    pub devices: Option<DeviceSettings>,
    /// A SIP reset that gives new authentication user names: their template
    /// (`--new-user-names`, `--user-name-template`).
    pub user_names: Option<UserNameTemplate>,
    /// Whether a `resume` can reach the server later: false for the demo, whose simulator
    /// stops with it.
    pub resumable: bool,
}

/// A real reset and where its results go, or a dry run.
#[derive(Debug)]
pub(crate) enum Mode {
    /// `--dry-run`: the pre-checks only. `--out`, when given, is checked as the real run would.
    DryRun { files: Option<RunFiles> },
    /// A reset that writes these files.
    Reset { files: RunFiles },
}

/// Reads the inputs, resolves the settings, and performs the reset.
pub(crate) fn run(arguments: ResetArgs, mut environment: Environment) -> anyhow::Result<ExitCode> {
    let file_settings = settings::load_config_file(&arguments.connection, &environment)?;
    let job = prepare(arguments, &mut environment, &file_settings)?;
    commands::runtime()?.block_on(perform(job))
}

/// Everything a reset does before it talks to the server: read the users, decide and check the
/// files, resolve the settings, get the password. Nothing here changes anything, but for the
/// removal of a journal that provably holds nothing sent (see [`remove_unused_journal`]).
pub(crate) fn prepare(
    arguments: ResetArgs,
    environment: &mut Environment,
    file_settings: &FileSettings,
) -> anyhow::Result<ResetJob> {
    // A targets file names its own groups; `--all-groups` has no group (clap sees to it).
    let targets = read_targets(
        &arguments.targets,
        arguments.service_provider.as_deref().unwrap_or_default(),
        arguments.group.as_deref().unwrap_or_default(),
    )?;
    let devices = devices::for_reset(
        &arguments.devices,
        file_settings.devices,
        password_type(arguments.password_type),
    )?;
    let user_names = user_names::for_reset(
        &UserNameArgs {
            new_user_names: match (arguments.new_user_names, arguments.no_new_user_names) {
                (true, _) => Some(true),
                (_, true) => Some(false),
                _ => None,
            },
            template: arguments.user_name_template.as_deref(),
        },
        file_settings,
        password_type(arguments.password_type),
        &targets,
    )?;
    let encrypt_to = encryption::check_recipients(&arguments.encrypt_to)?;
    let files = match &arguments.out {
        Some(out) => Some(RunFiles {
            encrypt_to,
            ..RunFiles::plan(out, arguments.format, arguments.journal.as_deref())?
        }),
        None => None,
    };
    if let Some(files) = &files {
        if !arguments.dry_run {
            remove_unused_journal(&files.journal);
        }
        // Also for a dry run: better to learn now that the real run could not write its output.
        files.ensure_creatable()?;
    }
    let connection = settings::resolve_connection(
        &arguments.connection,
        environment,
        file_settings,
        Recorded::default(),
    )?;
    let password = settings::obtain_password(environment, &connection)?;
    // clap requires `--out` unless `--dry-run` is given, so every run without files is a dry run.
    let mode = match (arguments.dry_run, files) {
        (false, Some(files)) => Mode::Reset { files },
        (_, files) => Mode::DryRun { files },
    };
    Ok(ResetJob {
        connection,
        password,
        password_type: password_type(arguments.password_type),
        targets,
        mode,
        assume_yes: arguments.yes,
        devices,
        user_names,
        resumable: true,
    })
}

/// A run killed after creating its journal and before its plan was durable leaves a journal
/// that `resume` cannot finish (it holds no plan) and that would stop this run from creating its
/// own: it holds nothing sent, so it goes, with a note. Any other journal stays, and the check
/// of the files refuses it.
#[expect(clippy::print_stderr, reason = "a note to the operator")]
fn remove_unused_journal(path: &std::path::Path) {
    match Journal::remove_if_unused(path) {
        Ok(true) => eprintln!(
            "note: removed journal `{}`: the run that created it stopped before sending anything",
            path.display()
        ),
        Ok(false) => {}
        Err(error) => tracing::debug!(%error, "journal left in place"),
    }
}

pub(crate) fn password_type(argument: PasswordTypeArg) -> PasswordType {
    match argument {
        PasswordTypeArg::Sip => PasswordType::Sip,
        PasswordTypeArg::Vm => PasswordType::Vm,
        PasswordTypeArg::Web => PasswordType::Web,
    }
}

fn read_targets(
    arguments: &TargetArgs,
    service_provider_id: &str,
    group_id: &str,
) -> anyhow::Result<Targets> {
    let group = GroupRef::new(service_provider_id, group_id);
    if arguments.all_users {
        return Ok(Targets::AllUsers { group });
    }
    if arguments.all_groups {
        return Ok(Targets::AllGroups {
            service_provider_id: service_provider_id.to_owned(),
        });
    }
    if let Some(path) = &arguments.targets {
        let mut grouped = GroupedUsers::new();
        for row in users_file::read_targets_file(path)? {
            let line = row.line;
            let user_id = UserId::try_from(row.user_id).map_err(|error| {
                Failure::usage(format!(
                    "targets file `{}` line {line}: {error}",
                    path.display(),
                ))
            })?;
            grouped.push(&row.service_provider_id, &row.group_id, user_id);
        }
        return Ok(Targets::Grouped(grouped));
    }
    if let Some(path) = &arguments.users_file {
        // Each ID is trimmed, not empty and free of control characters: a user ID (the plan
        // checks again). Kept compactly: a list of a million users costs some 32 MB.
        let users: UserIdList = users_file::read_users_file(path)?;
        return Ok(Targets::Users { group, users });
    }
    // clap makes sure one of the ways to name users was used, and the others are handled
    // above, so `--user` was given at least once.
    let user_ids = arguments
        .users
        .iter()
        .map(|user| {
            UserId::try_from(user.as_str())
                .map_err(|error| Failure::usage(format!("`--user`: {error}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Targets::Users {
        group,
        users: user_ids.iter().collect(),
    })
}

/// Logs in, runs the pre-checks, asks for confirmation, resets, and writes the run's files.
pub(crate) async fn perform(job: ResetJob) -> anyhow::Result<ExitCode> {
    let started_at = SystemTime::now();
    let client = log_in(&job.connection, job.password).await?;
    tracing::debug!("phase: logged in");
    let engine_config = bwreset_core::EngineConfig {
        new_user_names: job.user_names.clone(),
        ..commands::engine_config(&job.connection)
    };
    let request = ResetRequest {
        password_type: job.password_type,
        targets: job.targets,
    };
    // A dry run checks every user on its own (the complete picture, nothing written); a real
    // run learns membership from the group listing and the rest from each setter's answer.
    let checks = match job.mode {
        Mode::DryRun { .. } => Checks::Full,
        Mode::Reset { .. } => Checks::Membership,
    };
    // The request's list of users becomes the plan's: a long list is held once.
    let place = PlanPlace::of(&request.targets);
    let plan = bwreset_core::plan(&client, request, &engine_config, checks)
        .await
        .map_err(|error| plan_failure(error, &place))?;
    tracing::debug!(users = plan.len(), "phase: plan ready");

    // The phones of the users ready to be set, found without changing anything.
    let device_plan = match job.devices {
        Some(_) => {
            let ready: Vec<UserId> = plan
                .users()
                .filter(|user| matches!(user.status, PlannedStatus::Ready { .. }))
                .map(|user| user.user_id)
                .collect();
            let found = bwreset_core::plan_devices(&client, &ready, engine_config.concurrency)
                .await
                .map_err(|error| {
                    anyhow::Error::new(error).context(Failure::could_not_start(
                        "the users' phones could not be read; nothing was changed",
                    ))
                })?;
            Some(found)
        }
        None => None,
    };
    let device_line = device_plan
        .as_ref()
        .zip(job.devices)
        .map(|(found, settings)| devices::describe_plan(found, settings));

    let files = match job.mode {
        Mode::DryRun { files } => {
            commands::log_out(&client).await;
            return print_dry_run(
                &plan,
                files.as_ref(),
                device_line.as_deref(),
                job.user_names.as_ref(),
            );
        }
        Mode::Reset { files } => files,
    };

    let mut description = describe(&plan, &job.connection, &files);
    if let Some(template) = &job.user_names {
        description.push_str(&format!(
            "\n  user names:       {}",
            user_names::phones_warning(&template.to_string())
        ));
    }
    if let Some(line) = &device_line {
        description.push_str(&format!("\n  phones:           {line}"));
    }
    description.push_str(&settings::describe_sources(&job.connection));
    if let Err(refusal) = confirm(&description, job.assume_yes) {
        commands::log_out(&client).await;
        return Err(refusal);
    }

    let meta = RunMeta {
        files: files.clone(),
        username: job.connection.username.clone(),
        devices: job.devices,
        protocol: commands::recorded_protocol(&job.connection),
    };
    let mut header = JournalHeader::for_plan(
        &plan,
        job.connection.base_url.clone(),
        serde_json::to_value(&meta)?,
    );
    if let Some(template) = &job.user_names {
        header = header.with_user_name_template(template);
    }
    let sealer = if files.encrypt_to.is_empty() {
        None
    } else {
        Some(encryption::sealer(&files.encrypt_to, None)?)
    };
    let journal = match &sealer {
        None => Journal::create(&files.journal, header),
        Some(sealer) => Journal::create_sealed(&files.journal, header, Arc::clone(sealer)),
    }
    .map_err(|error| {
        let failure = Failure::usage(format!(
            "cannot create journal `{}`; nothing was changed",
            files.journal.display()
        ));
        anyhow::Error::new(error).context(failure)
    })?;
    tracing::debug!("phase: journal created");

    let progress = ProgressReporter::for_stderr();
    let devices = job.devices.map(|settings| DeviceOptions {
        found: device_plan,
        ..devices::options(settings, engine_config.concurrency)
    });
    let phases = commands::Phases {
        client: &client,
        progress: &progress,
        devices,
        sealer,
    };
    let finished = commands::FinishedRun {
        command: "reset",
        started_at,
        username: job.connection.username.clone(),
        base_url: job.connection.base_url.clone(),
        files,
        mode: WriteMode::New,
        devices: None,
        credential_files: None,
        phones_took: None,
        phones_touched: false,
        resumable: job.resumable,
    };
    // The report stays in the journal and is read back as the files are written: a run of a
    // million users ends in a few dozen megabytes.
    let credentials = bwreset_core::execute(
        &client,
        plan,
        journal,
        bwreset_core::RunOptions::new(&engine_config, &progress),
    );
    commands::run_phases(phases, credentials, finished).await
}

/// Where a plan was made, for the words of its failure.
struct PlanPlace {
    /// The group of a run of one group, or the service provider of `--all-groups`; empty
    /// otherwise.
    group_id: String,
    service_provider_id: String,
    all_groups: bool,
    /// A `--targets` file named each user's group.
    named_groups: bool,
}

impl PlanPlace {
    fn of(targets: &Targets) -> PlanPlace {
        let (service_provider_id, group_id) = match targets {
            Targets::Users { group, .. } | Targets::AllUsers { group } => {
                (group.service_provider_id.clone(), group.group_id.clone())
            }
            Targets::AllGroups {
                service_provider_id,
            } => (service_provider_id.clone(), String::new()),
            Targets::Grouped(_) => (String::new(), String::new()),
        };
        PlanPlace {
            group_id,
            service_provider_id,
            all_groups: matches!(targets, Targets::AllGroups { .. }),
            named_groups: matches!(targets, Targets::Grouped(_)),
        }
    }
}

/// What a plan that could not be made tells the operator: always that nothing was changed.
fn plan_failure(error: bwreset_core::Error, place: &PlanPlace) -> anyhow::Error {
    let PlanPlace {
        group_id,
        service_provider_id,
        all_groups,
        named_groups,
    } = place;
    let (all_groups, named_groups) = (*all_groups, *named_groups);
    let failure = match &error {
        bwreset_core::Error::NoUsers if all_groups => {
            Failure::usage(format!(
                "no users to reset in the groups of service provider `{}`; nothing was changed",
                service_provider_id
            ))
        }
        bwreset_core::Error::NoUsers => Failure::usage(format!(
            "no users to reset in group `{}` of service provider `{}`; nothing was changed",
            group_id, service_provider_id
        )),
        // A group or service provider named that the server does not know.
        bwreset_core::Error::UnknownGroup { .. } => {
            Failure::usage("a group or service provider named does not exist; nothing was changed")
                .with_hint(if all_groups {
                    "check `--service-provider`"
                } else {
                    "check the serviceProviderId and groupId columns of `--targets`"
                })
        }
        _ if all_groups || named_groups => Failure::could_not_start(
            "the pre-checks could not run; nothing was changed",
        ),
        // The server refused the listing itself (an unknown service provider or
        // group): the arguments are wrong, not the server.
        bwreset_core::Error::Backend(backend_error)
            if matches!(
                backend_error.kind(),
                ErrorKind::GroupNotFound | ErrorKind::UnclearRefusal
            ) =>
        {
            Failure::usage(format!(
                "the server refused to list group `{}` of service provider `{}`; nothing was changed",
                group_id, service_provider_id
            ))
            .with_hint("check `--service-provider` and `--group`")
        }
        _ => Failure::could_not_start(format!(
            "the pre-checks of group `{}` could not run; nothing was changed",
            group_id
        )),
    };
    anyhow::Error::new(error).context(failure)
}

/// What the operator is asked to confirm: the target, the counts and the server.
fn describe(plan: &Plan, connection: &ConnectionSettings, files: &RunFiles) -> String {
    let noun = if plan.password_type.is_passcode() {
        "passcodes"
    } else {
        "passwords"
    };
    let target = Place::of(plan.scope()).confirmation(|_| group_lines(plan));
    format!(
        "about to reset {} {noun}
{target}  users:            {} ({} ready, {} rejected by the pre-checks{})
  server:           `{}` as `{}`{}
  output:           {}{}",
        plan.password_type,
        plan.len(),
        plan.ready_count(),
        plan.rejected_count(),
        match plan.duplicates.len() {
            0 => String::new(),
            count => format!(
                ", {count} listed more than once: {}",
                commands::duplicate_names(&plan.duplicates)
            ),
        },
        connection.base_url,
        connection.username,
        commands::proxy_line(connection),
        files.output.describe(),
        files.encryption_note(),
    )
}

/// The users per group of a plan across groups, as lines: the first [`super::GROUPS_SHOWN`]
/// groups (service provider, group, users, ready), then how many more, and the totals.
fn group_lines(plan: &Plan) -> Vec<String> {
    let groups = plan.scope().groups();
    let mut counts = vec![(0usize, 0usize); groups.len()];
    for (position, user) in plan.users().enumerate() {
        if let Some(count) = counts.get_mut(plan.group_index(position) as usize) {
            count.0 += 1;
            if matches!(user.status, PlannedStatus::Ready { .. }) {
                count.1 += 1;
            }
        }
    }
    let mut lines: Vec<String> = groups
        .iter()
        .zip(&counts)
        .take(super::GROUPS_SHOWN)
        .map(|(group, (users, ready))| {
            format!(
                "`{}` / `{}`: {users} user(s), {ready} ready",
                group.service_provider_id, group.group_id
            )
        })
        .collect();
    if groups.len() > super::GROUPS_SHOWN {
        lines.push(format!(
            "... and {} more group(s)",
            groups.len() - super::GROUPS_SHOWN
        ));
    }
    lines.push(format!(
        "{} group(s) of {} service provider(s) in all",
        groups.len(),
        super::service_provider_count(groups)
    ));
    lines
}

/// A dry run's result: every user with what the pre-checks found, as CSV on stdout (the same
/// columns as the failures file, so the rejected rows can be fed back), and a summary on stderr.
/// A result that cannot be written (stdout closed, disk full) is an error, exit 2: nothing was
/// changed, and the operator did not get what was asked for.
#[expect(
    clippy::print_stderr,
    reason = "the dry run's human summary goes to stderr, its data to stdout"
)]
fn print_dry_run(
    plan: &Plan,
    files: Option<&RunFiles>,
    device_plan: Option<&str>,
    user_names: Option<&UserNameTemplate>,
) -> anyhow::Result<ExitCode> {
    write_dry_run(std::io::stdout().lock(), plan).map_err(|error| {
        Failure::usage(format!(
            "cannot write the dry run's result to stdout: {}; nothing was changed",
            describe_csv_error(error)
        ))
        .with_hint("send stdout to a file or to a command that reads all of it")
    })?;

    let place = Place::of(plan.scope()).dry_run(|_| group_lines(plan));
    let mut summary = format!(
        "dry run: a {} reset {place} would set {} user(s); {} rejected by the pre-checks",
        plan.password_type,
        plan.ready_count(),
        plan.rejected_count(),
    );
    if !plan.duplicates.is_empty() {
        summary.push_str(&format!(
            "; {} listed more than once (each would be reset once): {}",
            plan.duplicates.len(),
            commands::duplicate_names(&plan.duplicates)
        ));
    }
    if let Some(files) = files {
        summary.push_str(&format!("; output would go to {}", files.output.describe()));
    }
    if let Some(template) = user_names {
        summary.push_str(&format!(
            "\ndry run: user names: {}",
            user_names::phones_warning(&template.to_string())
        ));
    }
    if let Some(line) = device_plan {
        summary.push_str(&format!("\ndry run: phones: {line}"));
    }
    eprintln!("{summary}\nnothing was changed and no value was generated");
    Ok(if plan.rejected_count() == 0 {
        ExitCode::from(exit::SUCCESS)
    } else {
        ExitCode::from(exit::SOME_USERS_NOT_SET)
    })
}

/// The dry run's CSV rows, header first, all flushed to `out`; across groups each row starts
/// with its service provider and group (so that the rows can be given back as `--targets`).
fn write_dry_run(out: impl std::io::Write, plan: &Plan) -> Result<(), csv::Error> {
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(crate::output::columns(
        plan.scope(),
        &["userId", "status", "reason"],
    ))?;
    for (position, user) in plan.users().enumerate() {
        let (status, reason) = match &user.status {
            PlannedStatus::Ready { .. } => ("ready", ""),
            PlannedStatus::Rejected { reason } => ("rejected", reason.as_str()),
        };
        let group = plan.scope().column_group(plan.group_index(position));
        writer.write_record(crate::output::row(
            group,
            &[user.user_id.as_str(), status, reason],
        ))?;
    }
    writer.flush()?;
    Ok(())
}

/// The I/O error inside a csv error, as the operating system words it (the rows themselves
/// are plain strings, so nothing else can go wrong).
fn describe_csv_error(error: csv::Error) -> String {
    match error.kind() {
        csv::ErrorKind::Io(source) => source.to_string(),
        _ => error.to_string(),
    }
}
