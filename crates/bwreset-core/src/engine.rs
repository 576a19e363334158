//! The executor: workers that journal an intent, call the setter, and read the answer; and
//! `resume`, which finishes what a journal left open.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use bwreset_backend::{Backend, BackendError, ErrorKind, GroupScope, UserIdList};
use secrecy::SecretString;
use tokio::sync::mpsc;

use crate::Error;
use crate::config::EngineConfig;
use crate::journal::{Journal, OutcomeRecord, RecordOut, UserState, plan_records, rfc3339_now};
use crate::plan::{Checks, Plan, PlanParts, Scopes, precheck};
use crate::progress::Progress;
use crate::report::{JournalReport, OutcomeKind};
use crate::run_options::{PhonePhase, RunOptions};
use crate::scope::Scope;
use crate::types::{GroupRef, PasswordType};
use crate::user_names::UserNameTemplate;
use crate::values::{PrefetchedValues, ProducerEnd, ValueSource, produce};

/// Runs a plan: every ready user gets a fresh value, journaled before it is sent. Users the plan
/// rejected end failed with their reason. The journal must be new (from [`Journal::create`] or
/// [`Journal::memory`]) and written for the same type and [`crate::Scope`]
/// ([`crate::JournalHeader::for_plan`] writes such a header). `options` holds the engine's
/// settings, where progress goes and, when asked ([`RunOptions::with_phones`]), the phone
/// phase that follows on the same journal.
///
/// Ends in a [`JournalReport`]: the values stay in the journal until they are handed on, so
/// that a run of a million users ends in a few dozen megabytes
/// ([`JournalReport::into_report`] collects a small run's report whole). The journal comes back
/// inside it, for a device follow-up run on its own ([`crate::follow_up_devices`]); the phone
/// phase's report, when `options` asked for one, is [`JournalReport::phones`].
///
/// Returns `Err` only when the run as a whole could not go on (the journal became unwritable); a
/// run stopped because login no longer works or the server stays down returns a report with
/// its stop reason set, its unattempted users failed with a reason starting
/// `not attempted:`; [`resume`] finishes them.
pub async fn execute<B: Backend>(
    backend: &B,
    plan: Plan,
    mut journal: Journal,
    mut options: RunOptions<'_>,
) -> Result<JournalReport, Error> {
    let phones = options.take_phones();
    let (config, progress) = (options.config, options.progress);
    let started = Instant::now();
    let header = journal.header();
    if header.password_type != plan.password_type || header.scope != *plan.scope() {
        return Err(mismatch(
            &journal,
            format!(
                "it was written for {} in {}, the plan is for {} in {}",
                header.password_type,
                header.scope,
                plan.password_type,
                plan.scope()
            ),
        ));
    }
    let user_names = config.new_user_names.clone();
    check_user_names(&journal, plan.password_type, user_names.as_ref())?;
    let replayed = journal.take_replayed()?;
    if replayed.plan_complete {
        return Err(mismatch(
            &journal,
            "it already holds a run: resume it instead".into(),
        ));
    }
    if replayed.len() > 0 {
        return Err(mismatch(
            &journal,
            "it holds an incomplete plan (nothing was sent): start with a new journal".into(),
        ));
    }
    drop(replayed);
    let PlanParts {
        password_type,
        scope,
        users,
        verdicts,
        duplicates,
        prefetched,
        user_groups,
    } = plan.into_parts();
    journal
        .append_all_durable(&plan_records(
            &users,
            &user_groups,
            &duplicates,
            verdicts
                .rejected
                .iter()
                .filter_map(|(position, reason)| Some((users.get(*position)?, reason.as_str()))),
        ))
        .await?;
    drop(duplicates);
    let rejected_count = verdicts.rejected.len();
    progress.start(users.len() as u64);
    for _ in 0..rejected_count {
        progress.user_done(OutcomeKind::Failed);
    }
    let items: Vec<WorkItem> = (0..users.len())
        .filter(|&position| verdicts.rejection(position).is_none())
        .filter_map(|position| {
            Some(WorkItem {
                position: u32::try_from(position).ok()?,
                attempts: 0,
                group: user_groups.get(position).copied().unwrap_or(0),
            })
        })
        .collect();
    drop(user_groups);
    let work = Work {
        users,
        items,
        sip_user_names: verdicts.sip_user_names,
        resend: HashMap::new(),
        known_values: Vec::new(),
        known_user_names: HashSet::new(),
        prefetched,
    };
    let scope = RunScope {
        password_type,
        groups: scope.groups().to_vec(),
        user_names,
    };
    let report = run(backend, journal, scope, work, config, progress, started).await?;
    Ok(with_phones(report, phones, progress).await)
}

/// The report of the credentials, followed by the phone phase when one was asked for.
async fn with_phones(
    mut report: JournalReport,
    phones: Option<PhonePhase>,
    progress: &dyn Progress,
) -> JournalReport {
    if let Some(phones) = phones {
        let devices = phones.run(report.journal(), progress).await;
        report.set_phones(devices);
    }
    report
}

/// Finishes a journal: users set stay as they are; users pending or uncertain get their SAME
/// journaled value again (a history rejection proves it is in effect); users failed, rejected or
/// never started are checked again and run with fresh values. Appends to the same journal.
/// Resuming a finished journal sends no setter request and gives the same report.
///
/// The backend must talk to the server the journal names (its `server`). Takes the same
/// `options` and ends in a [`JournalReport`], as [`execute`] does (with the phone phase, when
/// asked, after the credentials).
pub async fn resume<B: Backend>(
    backend: &B,
    mut journal: Journal,
    mut options: RunOptions<'_>,
) -> Result<JournalReport, Error> {
    let phones = options.take_phones();
    let (config, progress) = (options.config, options.progress);
    let started = Instant::now();
    let mut replay = journal.take_replayed()?;
    if !replay.plan_complete {
        return Err(mismatch(
            &journal,
            "it holds no complete plan (the run stopped before sending anything): start a new run"
                .into(),
        ));
    }
    let header = journal.header().clone();
    if !same_base_url(backend.server(), &header.server) {
        return Err(mismatch(
            &journal,
            format!(
                "it was written for `{}`, the client talks to `{}`",
                header.server,
                backend.server()
            ),
        ));
    }
    let user_names = journal_user_names(&journal, config)?;
    journal.append(&RecordOut::Resumed { at: rfc3339_now() });
    let groups = header.scope.groups().to_vec();
    // Values are read back from the journal: those in effect (or that may be) are known to the
    // uniqueness check of their group; those that may be in effect are sent again.
    let mut known_values: Vec<Vec<SecretString>> = vec![Vec::new(); groups.len()];
    let mut known = |group: u32, value: SecretString| {
        if let Some(values) = known_values.get_mut(group as usize) {
            values.push(value);
        }
    };
    let mut resend = HashMap::new();
    let mut known_user_names = HashSet::new();
    let mut items: Vec<WorkItem> = Vec::with_capacity(replay.len());
    let mut to_check = UserIdList::new();
    let mut to_check_groups: Vec<u32> = Vec::new();
    let mut check_items: Vec<usize> = Vec::new();
    {
        let mut values = journal.value_reader();
        for (position, (user_id, user)) in replay.users().enumerate() {
            let Ok(position32) = u32::try_from(position) else {
                return Err(Error::Internal {
                    message: "more than four thousand million users",
                });
            };
            let group = replay.group_of(position);
            let item = WorkItem {
                position: position32,
                attempts: user.attempts(),
                group,
            };
            match (user.state, user.intent()) {
                (UserState::Set, Some(intent)) => {
                    let (value, user_name) = values.intent(intent, user_id)?;
                    known(group, value);
                    known_user_names.extend(user_name.map(|name| name.to_ascii_lowercase()));
                }
                (UserState::Pending | UserState::Uncertain, Some(intent)) => {
                    let (value, user_name) = values.intent(intent, user_id)?;
                    known(group, value.clone());
                    known_user_names
                        .extend(user_name.as_deref().map(|name| name.to_ascii_lowercase()));
                    resend.insert(position32, Journaled { value, user_name });
                    items.push(item);
                }
                _ => {
                    check_items.push(items.len());
                    to_check.push(user_id);
                    // A table of one group needs no index per user.
                    if groups.len() > 1 {
                        to_check_groups.push(group);
                    }
                    items.push(item);
                }
            }
        }
    }
    let user_ids = std::mem::take(&mut replay.user_ids);
    drop(replay);
    let mut rejected_count = 0usize;
    let mut sip_user_names = HashMap::new();
    if !to_check.is_empty() {
        let (check_scope, check_user_groups) = scope_to_check(&header.scope, &to_check_groups);
        drop(to_check_groups);
        let verdicts = precheck(
            backend,
            header.password_type,
            &Scopes {
                scope: &check_scope,
                user_groups: &check_user_groups,
            },
            &to_check,
            false,
            Checks::Membership,
            config,
        )
        .await?;
        for (checked, reason) in &verdicts.rejected {
            let at = check_items[*checked];
            let user = user_ids
                .get(items[at].position as usize)
                .unwrap_or_default();
            journal.append(&RecordOut::outcome(
                user,
                OutcomeRecord::Failed,
                Some(reason),
            ));
            rejected_count += 1;
        }
        for (checked, name) in verdicts.sip_user_names {
            sip_user_names.insert(items[check_items[checked]].position as usize, name);
        }
        let refused: HashSet<usize> = verdicts
            .rejected
            .iter()
            .map(|(checked, _)| check_items[*checked])
            .collect();
        remove_refused(&mut items, &refused);
    }
    drop(to_check);
    progress.start((items.len() + rejected_count) as u64);
    for _ in 0..rejected_count {
        progress.user_done(OutcomeKind::Failed);
    }
    let scope = RunScope {
        password_type: header.password_type,
        groups,
        user_names,
    };
    let work = Work {
        users: user_ids,
        items,
        sip_user_names,
        resend,
        known_values,
        known_user_names,
        prefetched: PrefetchedValues::default(),
    };
    let report = run(backend, journal, scope, work, config, progress, started).await?;
    Ok(with_phones(report, phones, progress).await)
}

/// Takes the items at the indexes in `refused` out of `items`.
fn remove_refused(items: &mut Vec<WorkItem>, refused: &HashSet<usize>) {
    if refused.is_empty() {
        return;
    }
    let mut index = 0;
    items.retain(|_| {
        index += 1;
        !refused.contains(&(index - 1))
    });
}

/// The scope a resume checks again: only the groups of the users to check, in the run's
/// order, and each checked user's index in them; a table of one group as it is.
fn scope_to_check(scope: &Scope, to_check_groups: &[u32]) -> (Scope, Vec<u32>) {
    let groups = scope.groups();
    if groups.len() == 1 {
        return (scope.clone(), Vec::new());
    }
    let mut wanted = vec![false; groups.len()];
    for &group in to_check_groups {
        if let Some(wanted) = wanted.get_mut(group as usize) {
            *wanted = true;
        }
    }
    let mut renumbered = vec![0u32; groups.len()];
    let mut listed = Vec::new();
    for (index, group) in groups.iter().enumerate() {
        if wanted[index] {
            renumbered[index] = u32::try_from(listed.len()).unwrap_or(u32::MAX);
            listed.push(group.clone());
        }
    }
    let of = to_check_groups
        .iter()
        .map(|&group| renumbered.get(group as usize).copied().unwrap_or(0))
        .collect();
    match Scope::across(scope.service_provider_id(), listed) {
        Some(listed) => (listed, of),
        // No user to check: the caller does not ask.
        None => (scope.clone(), Vec::new()),
    }
}

/// Checks that a new run's journal names the template the engine was given (or none, as the
/// engine was given none), and that new user names go with SIP passwords only.
fn check_user_names(
    journal: &Journal,
    password_type: PasswordType,
    user_names: Option<&UserNameTemplate>,
) -> Result<(), Error> {
    let wanted = user_names.map(ToString::to_string);
    let written = &journal.header().user_name_template;
    if wanted.is_some() && password_type != PasswordType::Sip {
        return Err(mismatch(
            journal,
            format!(
                "new SIP authentication user names go with SIP passwords only, not {password_type}"
            ),
        ));
    }
    if &wanted != written {
        let describe = |template: Option<&String>| {
            template.map_or_else(
                || "no new user names".to_owned(),
                |template| format!("new user names from `{template}`"),
            )
        };
        return Err(mismatch(
            journal,
            format!(
                "it was written for {}, the engine was given {}",
                describe(written.as_ref()),
                describe(wanted.as_ref())
            ),
        ));
    }
    Ok(())
}

/// The template a journal's run takes its new user names from (`None`: a run without them),
/// which a resume uses whatever the engine was given; a different one given is refused.
fn journal_user_names(
    journal: &Journal,
    config: &EngineConfig,
) -> Result<Option<UserNameTemplate>, Error> {
    let written = journal.header().user_name_template.as_deref();
    let template = written
        .map(UserNameTemplate::parse)
        .transpose()
        .map_err(|error| {
            mismatch(
                journal,
                format!("its user name template is unusable: {error}"),
            )
        })?;
    if let Some(given) = &config.new_user_names
        && template.as_ref() != Some(given)
    {
        return Err(mismatch(
            journal,
            format!(
                "the engine was given new user names from `{given}`, the journal's run has {}",
                written.map_or_else(|| "none".to_owned(), |written| format!("`{written}`"))
            ),
        ));
    }
    Ok(template)
}

/// Whether two base URLs name the same API (ignoring blanks, trailing slashes and case).
pub(crate) fn same_base_url(left: &str, right: &str) -> bool {
    let normalise = |url: &str| url.trim().trim_end_matches('/').to_ascii_lowercase();
    normalise(left) == normalise(right)
}

pub(crate) fn mismatch(journal: &Journal, message: String) -> Error {
    Error::JournalMismatch {
        path: journal
            .path()
            .map_or_else(|| "<memory>".into(), std::path::Path::to_path_buf),
        message,
    }
}

/// What the run is about.
struct RunScope {
    password_type: PasswordType,
    /// The run's groups: its one group, or every group of a run across groups. Values are
    /// generated per group, under its rules.
    groups: Vec<GroupRef>,
    /// SIP: the template of the new authentication user names sent with the passwords.
    user_names: Option<UserNameTemplate>,
}

/// A value as journaled in an intent, and the new SIP authentication user name sent with it.
#[derive(Clone)]
struct Journaled {
    value: SecretString,
    user_name: Option<String>,
}

/// One user to work on: 8 bytes, the rest looked up where few users have it.
#[derive(Clone, Copy)]
struct WorkItem {
    /// The user's position in [`Work::users`].
    position: u32,
    /// Attempts journaled so far.
    attempts: u32,
    /// The user's index in the run's groups.
    group: u32,
}

/// The users of a run and what sets some of them apart.
struct Work {
    users: UserIdList,
    items: Vec<WorkItem>,
    /// For SIP, when the plan learned them: the authentication user names, by position.
    sip_user_names: HashMap<usize, String>,
    /// Journaled values (and names) that may be in effect, by position: sent again, never a
    /// new one.
    resend: HashMap<u32, Journaled>,
    /// Per group, the values already given out (a resume's journal): a fresh value must differ.
    /// Handed to the pools when the run starts.
    known_values: Vec<Vec<SecretString>>,
    /// The new user names already given out (a resume's journal), lowercased: a fresh name
    /// must differ. Handed to the run when it starts.
    known_user_names: HashSet<String>,
    /// The generator's batch fetched with the plan, for the first group's pool.
    prefetched: PrefetchedValues,
}

impl Work {
    fn user(&self, item: WorkItem) -> &str {
        self.users.get(item.position as usize).unwrap_or_default()
    }
}

/// Everything the workers share.
struct Run<B> {
    backend: B,
    journal: Journal,
    scope: RunScope,
    config: EngineConfig,
    work: Work,
    next: AtomicUsize,
    /// The `concurrency` places for setter requests in flight. There are more workers than
    /// places: a worker takes a value and waits for its intent to be on disk before it asks for
    /// a place, so that a journal sync never leaves a place empty.
    in_flight: tokio::sync::Semaphore,
    /// One pool of values per group of the run (`scope.groups`), each filled by its producer
    /// with values generated under that group's rules.
    values: Vec<Arc<ValueSource>>,
    /// Set once: why the run stops early.
    stop: OnceLock<String>,
    /// Users in a row that ended on an unavailability error.
    unavailable_streak: AtomicU32,
    /// The first journal failure: the run cannot go on.
    fatal: Mutex<Option<Error>>,
    /// The new user names given out in this run (and its journal's), lowercased: no two users
    /// get the same one.
    user_names_given: Mutex<HashSet<String>>,
}

enum Event {
    Done(OutcomeKind),
    Message(String),
}

/// Runs the items with `2 * config.concurrency` workers, at most `config.concurrency` setters in
/// flight, and a value producer, then builds the report from the journal.
async fn run<B: Backend>(
    backend: &B,
    journal: Journal,
    scope: RunScope,
    mut work: Work,
    config: &EngineConfig,
    progress: &dyn Progress,
    started: Instant,
) -> Result<JournalReport, Error> {
    let group_count = scope.groups.len();
    let (value_sources, any_users) = value_sources(backend, &scope, &mut work, config)?;
    // Twice as many workers as places in flight: half of them get their next user ready (a value,
    // its intent synced) while the other half wait for answers.
    let workers = (config.workers() * 2).min(work.items.len());
    let user_names_given = Mutex::new(std::mem::take(&mut work.known_user_names));
    let run = Arc::new(Run {
        backend: backend.clone(),
        journal,
        scope,
        config: config.clone(),
        work,
        next: AtomicUsize::new(0),
        in_flight: tokio::sync::Semaphore::new(config.workers()),
        values: value_sources,
        stop: OnceLock::new(),
        unavailable_streak: AtomicU32::new(0),
        fatal: Mutex::new(None),
        user_names_given,
    });

    let (events, mut received) = mpsc::unbounded_channel();
    // In a JoinSet so that it is aborted, like the workers, if this future is dropped.
    let mut producer = tokio::task::JoinSet::new();
    // Also when every user re-sends a journaled value: one refused by a rule (a value that was
    // never in effect) needs a fresh one. Each producer asks the generator only on demand, for
    // its group. All of them share the one backend, and so its pacer.
    for group in (0..group_count).filter(|&group| any_users[group]) {
        let run = Arc::clone(&run);
        let events = events.clone();
        producer.spawn(async move {
            let group_ref = &run.scope.groups[group];
            let end = produce(
                run.backend.clone(),
                Arc::clone(&run.values[group]),
                group_ref.service_provider_id.clone(),
                group_ref.group_id.clone(),
                run.config.max_useless_batches,
                run.config.retry_backoff,
            )
            .await;
            match end {
                ProducerEnd::Unauthorized(details) => {
                    run.request_stop(format!("login no longer works ({details})"), &events);
                }
                ProducerEnd::Unavailable(error) => {
                    run.request_stop(format!("server unavailable ({error})"), &events);
                }
                ProducerEnd::GaveUp => {}
            }
        });
    }
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..workers {
        let run = Arc::clone(&run);
        let events = events.clone();
        tasks.spawn(async move { run.work(&events).await });
    }
    // Only the workers and the producer hold senders now: the loop ends when they are done.
    drop(events);
    let mut workers_left = workers;
    while workers_left > 0 {
        tokio::select! {
            event = received.recv() => match event {
                Some(Event::Done(kind)) => progress.user_done(kind),
                Some(Event::Message(message)) => progress.message(&message),
                None => break,
            },
            joined = tasks.join_next() => match joined {
                Some(Ok(())) => workers_left -= 1,
                Some(Err(join_error)) if join_error.is_panic() => {
                    std::panic::resume_unwind(join_error.into_panic())
                }
                Some(Err(_)) => workers_left -= 1,
                None => workers_left = 0,
            },
        }
    }
    join_all(&mut tasks, &mut producer, &mut received, progress).await;
    // Every worker has ended (the loop above) and the producer is joined: this is the last
    // reference, unless a bug kept one.
    let run = Arc::into_inner(run).ok_or(Error::Internal {
        message: "the run's tasks did not end",
    })?;
    let Run {
        journal,
        work,
        values,
        stop,
        fatal,
        ..
    } = run;
    // The report is read from the journal, with the run's list of users (the journal's
    // targets) rather than a second one: the rest of the work list is no longer needed.
    let Work { users, .. } = work;
    drop(values);
    let fatal = fatal
        .into_inner()
        .unwrap_or_else(|poison| poison.into_inner());
    if let Some(error) = fatal {
        // Try to leave the journal complete; the error is what matters.
        let _ = journal.sync().await;
        return Err(error);
    }
    if let Some(reason) = stop.get() {
        journal.append(&RecordOut::Stopped { reason });
    }
    journal.sync().await?;
    JournalReport::read_expecting(journal, started.elapsed(), Some(users))
}

/// One pool of values per group of the run, each told how many users will ask it for a first
/// value and which values were given out before (a resume's), the first one given the values
/// fetched with the plan; and per group whether any user of the run is in it.
fn value_sources<B: Backend>(
    backend: &B,
    scope: &RunScope,
    work: &mut Work,
    config: &EngineConfig,
) -> Result<(Vec<Arc<ValueSource>>, Vec<bool>), Error> {
    let group_count = scope.groups.len();
    // Per group: users that need a fresh value, and users at all.
    let mut fresh_users = vec![0usize; group_count];
    let mut any_users = vec![false; group_count];
    for item in &work.items {
        let group = item.group as usize;
        if group >= group_count {
            return Err(Error::Internal {
                message: "a user's group is not in the run's table",
            });
        }
        any_users[group] = true;
        if !work.resend.contains_key(&item.position) {
            fresh_users[group] += 1;
        }
    }
    let mut known_values = std::mem::take(&mut work.known_values).into_iter();
    let prefetched = std::mem::take(&mut work.prefetched);
    // Values made one per user are asked for by each user's worker: the pools then fill only
    // on demand (a server that stops making them), with no look-ahead.
    let per_user = backend.generates_per_user(scope.password_type.credential());
    let value_sources: Vec<Arc<ValueSource>> = fresh_users
        .iter()
        .map(|&fresh| {
            Arc::new(ValueSource::new(
                scope.password_type,
                config.batch(),
                config.max_local_skips_per_user,
                if per_user { 0 } else { fresh },
                known_values.next().unwrap_or_default().into_iter(),
            ))
        })
        .collect();
    drop(known_values);
    if !prefetched.is_empty()
        && let Some(first) = value_sources.first()
    {
        let answer = first.add(prefetched.into_values());
        tracing::debug!(usable = answer.usable, "values fetched with the plan");
    }
    Ok((value_sources, any_users))
}

/// Joins the workers that finished (the event loop can end on the closed channel before every
/// one was joined), aborts and joins the producers, and hands on the events still queued. A
/// panic in any task is raised again here.
async fn join_all(
    tasks: &mut tokio::task::JoinSet<()>,
    producer: &mut tokio::task::JoinSet<()>,
    received: &mut mpsc::UnboundedReceiver<Event>,
    progress: &dyn Progress,
) {
    while let Some(joined) = tasks.join_next().await {
        if let Err(join_error) = joined
            && join_error.is_panic()
        {
            std::panic::resume_unwind(join_error.into_panic());
        }
    }
    producer.abort_all();
    while let Some(joined) = producer.join_next().await {
        if let Err(join_error) = joined
            && join_error.is_panic()
        {
            std::panic::resume_unwind(join_error.into_panic());
        }
    }
    while let Ok(event) = received.try_recv() {
        match event {
            Event::Done(kind) => progress.user_done(kind),
            Event::Message(message) => progress.message(&message),
        }
    }
}

/// How one user ended in this run.
enum UserEnd {
    Finished(OutcomeKind),
    /// The run stopped before the user's value was sent.
    NotAttempted,
}

impl<B: Backend> Run<B> {
    async fn work(&self, events: &mpsc::UnboundedSender<Event>) {
        loop {
            if self.stop.get().is_some() {
                break;
            }
            let position = self.next.fetch_add(1, Ordering::Relaxed);
            let Some(&item) = self.work.items.get(position) else {
                break;
            };
            match self.process(item, events).await {
                UserEnd::Finished(kind) => {
                    let _ = events.send(Event::Done(kind));
                }
                UserEnd::NotAttempted => {}
            }
        }
    }

    fn request_stop(&self, reason: String, events: &mpsc::UnboundedSender<Event>) {
        // Only the first reason counts, and is announced once.
        if self.stop.set(reason).is_ok()
            && let Some(reason) = self.stop.get()
        {
            tracing::warn!(reason = %reason, "stopping the run; users not attempted are left for resume");
            let _ = events.send(Event::Message(format!(
                "stopping: {reason}; users not attempted are left for `resume`"
            )));
        }
    }

    fn fail_fatally(&self, error: Error, events: &mpsc::UnboundedSender<Event>) {
        let message = error.to_string();
        let mut fatal = self
            .fatal
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if fatal.is_none() {
            *fatal = Some(error);
        }
        drop(fatal);
        self.request_stop(format!("the journal cannot be written ({message})"), events);
    }

    fn outcome(&self, user: &str, result: OutcomeRecord, reason: Option<&str>) {
        self.journal
            .append(&RecordOut::outcome(user, result, reason));
    }

    /// Notes how a user ended, and stops the run when the server seems down.
    fn note_end(&self, unavailable: Option<&BackendError>, events: &mpsc::UnboundedSender<Event>) {
        match unavailable {
            None => self.unavailable_streak.store(0, Ordering::Relaxed),
            Some(error) => {
                let streak = self.unavailable_streak.fetch_add(1, Ordering::Relaxed) + 1;
                if streak >= self.config.stop_after_unavailable.max(1) {
                    self.request_stop(format!("server unavailable ({error})"), events);
                }
            }
        }
    }

    /// Sends the value in one of the places in flight. `None`: the value was never sent before
    /// (`unsent`) and the run began to stop while this worker waited for a place, so it is not
    /// sent at all.
    async fn set(
        &self,
        user: &str,
        pair: &Journaled,
        unsent: bool,
    ) -> Option<Result<(), BackendError>> {
        // The semaphore is never closed; without a place, going on is safer than failing a user.
        let _place = self.in_flight.acquire().await.ok();
        if unsent && self.stop.get().is_some() {
            return None;
        }
        Some(match pair.user_name.as_deref() {
            Some(user_name) => {
                self.backend
                    .set_sip_credentials(user, Some(user_name), &pair.value)
                    .await
            }
            None => {
                self.backend
                    .set(self.scope.password_type.credential(), user, &pair.value)
                    .await
            }
        })
    }

    /// A fresh new user name for the user, in a run that gives them; unlike every name given
    /// out in this run (and its journal's).
    fn fresh_user_name(&self, item: WorkItem) -> Result<Option<String>, FreshValueError> {
        let Some(template) = &self.scope.user_names else {
            return Ok(None);
        };
        // A random part of 8 or more characters repeats by chance about never: a few draws are
        // plenty. The name is made outside the lock, which is held only to claim it.
        for _ in 0..8 {
            let name = template
                .name_for(self.work.user(item), &mut rand::rng())
                .map_err(|error| FreshValueError::NoValue(error.to_string()))?;
            let key = name.to_ascii_lowercase();
            let claimed = self
                .user_names_given
                .lock()
                .unwrap_or_else(|poison| poison.into_inner())
                .insert(key);
            if claimed {
                return Ok(Some(name));
            }
        }
        Err(FreshValueError::NoValue(format!(
            "the user name template `{template}` keeps making names already given out"
        )))
    }

    /// Settles a journaled change of name and value that may be in effect by reading the user's
    /// authentication name (a read that reveals no secret): `Some(true)` when it is the
    /// journaled one (the pair changed together), `Some(false)` when it is another (the pair
    /// was not applied), `None` when the read gave no answer (the pair is sent again as it
    /// would have been).
    async fn journaled_name_in_effect(&self, user: &str, user_name: &str) -> Option<bool> {
        let _place = self.in_flight.acquire().await.ok();
        match self.backend.sip_user_name(user).await {
            Ok(current) => Some(current.as_deref() == Some(user_name)),
            Err(error) => {
                tracing::debug!(%error, "the user's authentication name could not be read; sending the journaled pair again");
                None
            }
        }
    }

    /// A fresh value for the user, journaled (durably) before it is returned.
    async fn fresh_value(
        &self,
        item: WorkItem,
        first: bool,
        attempt: u32,
        events: &mpsc::UnboundedSender<Event>,
    ) -> Result<Journaled, FreshValueError> {
        let Some(values) = self.values.get(item.group as usize) else {
            return Err(FreshValueError::NoValue(
                "internal error: the user's group has no pool of values".into(),
            ));
        };
        let new_user_name = self.fresh_user_name(item)?;
        // The password must not contain the name it goes with: the new one when one is sent.
        let sip_user_name = new_user_name.as_deref().or_else(|| {
            self.work
                .sip_user_names
                .get(&(item.position as usize))
                .map(String::as_str)
        });
        let value = match self
            .value_for_user(item, values, sip_user_name, events)
            .await?
        {
            Some(value) => value,
            None => values
                .take(sip_user_name, first)
                .await
                .map_err(|no_value| FreshValueError::NoValue(no_value.0))?,
        };
        if self.stop.get().is_some() {
            return Err(FreshValueError::Stopped);
        }
        match self
            .journal
            .append_durable(&RecordOut::intent(
                self.work.user(item),
                &value,
                attempt,
                new_user_name.as_deref(),
            ))
            .await
        {
            Ok(()) => Ok(Journaled {
                value,
                user_name: new_user_name,
            }),
            Err(error) => {
                self.fail_fatally(error, events);
                Err(FreshValueError::Stopped)
            }
        }
    }

    /// A value the server made for this user alone, checked, when the backend makes them so;
    /// `None`: take one from the group's pool. A server that is down or a login that is lost
    /// stops the run (the user is left for `resume`, nothing sent).
    async fn value_for_user(
        &self,
        item: WorkItem,
        values: &ValueSource,
        sip_user_name: Option<&str>,
        events: &mpsc::UnboundedSender<Event>,
    ) -> Result<Option<SecretString>, FreshValueError> {
        let credential = self.scope.password_type.credential();
        let Some(group) = self.scope.groups.get(item.group as usize) else {
            return Ok(None);
        };
        let scope = GroupScope {
            service_provider_id: &group.service_provider_id,
            group_id: &group.group_id,
        };
        let mut unfit = Vec::new();
        while self.backend.generates_per_user(credential) {
            if self.stop.get().is_some() {
                return Err(FreshValueError::Stopped);
            }
            let made = self
                .backend
                .generate_for(credential, scope, self.work.user(item))
                .await;
            let value = match made {
                Ok(Some(value)) => value,
                Ok(None) => break,
                Err(error) => {
                    let reason = match error.kind() {
                        ErrorKind::LoginLost => {
                            format!("login no longer works ({})", error.reason())
                        }
                        ErrorKind::Unavailable | ErrorKind::Unreachable => {
                            format!("server unavailable ({error})")
                        }
                        _ => {
                            return Err(FreshValueError::NoValue(format!(
                                "the server's generator failed for this user: {}",
                                error.reason()
                            )));
                        }
                    };
                    self.request_stop(reason, events);
                    return Err(FreshValueError::Stopped);
                }
            };
            match values.accept(value, sip_user_name) {
                Ok(value) => return Ok(Some(value)),
                Err(why) => {
                    unfit.push(why);
                    if unfit.len() >= self.config.max_useless_batches.max(1) as usize {
                        return Err(FreshValueError::NoValue(values.no_value_for_user(&unfit)));
                    }
                }
            }
        }
        Ok(None)
    }

    async fn process(&self, item: WorkItem, events: &mpsc::UnboundedSender<Event>) -> UserEnd {
        let user = self.work.user(item);
        let mut attempt = item.attempts;
        let resend = self.work.resend.get(&item.position);
        // Whether the value in hand may already be in effect (an earlier send of it got no clear
        // answer, or a journal says it was sent).
        let mut may_be_in_effect;
        let mut pair = match resend {
            Some(journaled) => {
                may_be_in_effect = true;
                journaled.clone()
            }
            None => {
                attempt += 1;
                may_be_in_effect = false;
                match self.fresh_value(item, true, attempt, events).await {
                    Ok(pair) => pair,
                    Err(FreshValueError::Stopped) => return UserEnd::NotAttempted,
                    Err(FreshValueError::NoValue(reason)) => {
                        self.outcome(user, OutcomeRecord::Failed, Some(&reason));
                        return UserEnd::Finished(OutcomeKind::Failed);
                    }
                }
            }
        };
        if resend.is_some() {
            match self.settle_by_name(user, &pair, events).await {
                Some(true) => return UserEnd::Finished(OutcomeKind::Set),
                Some(false) => may_be_in_effect = false,
                None => {}
            }
        }
        let mut rule_rejections = 0u32;
        let mut resends = 0u32;
        // Whether the value in hand has never been sent (in this run or an earlier one).
        let mut unsent = resend.is_none();
        loop {
            let answer = self.set(user, &pair, unsent).await;
            unsent = false;
            let Some(answer) = answer else {
                // Journaled but never sent: certainly not applied.
                let reason = format!(
                    "not attempted: {}",
                    self.stop.get().map_or("the run stopped", String::as_str)
                );
                self.outcome(user, OutcomeRecord::Failed, Some(&reason));
                return if rule_rejections == 0 {
                    UserEnd::NotAttempted
                } else {
                    UserEnd::Finished(OutcomeKind::Failed)
                };
            };
            let error = match answer {
                Ok(()) => {
                    self.outcome(user, OutcomeRecord::Set, None);
                    self.note_end(None, events);
                    return UserEnd::Finished(OutcomeKind::Set);
                }
                Err(error) => error,
            };
            match error.kind() {
                // The server refuses the value because it is the current one.
                ErrorKind::HistoryRejected if may_be_in_effect => {
                    self.outcome(
                        user,
                        OutcomeRecord::Set,
                        Some(&format!("already in effect ({})", error.reason())),
                    );
                    self.note_end(None, events);
                    return UserEnd::Finished(OutcomeKind::Set);
                }
                // A refused value, or a refused or taken name: a fresh pair may pass (a taken
                // name is another user's, so this user's earlier send did not apply it).
                ErrorKind::RuleRejected | ErrorKind::HistoryRejected | ErrorKind::UserNameTaken => {
                    let details = error.reason();
                    rule_rejections += 1;
                    if rule_rejections > self.config.max_rule_retries {
                        self.outcome(user, OutcomeRecord::Failed, Some(&details));
                        self.note_end(None, events);
                        return UserEnd::Finished(OutcomeKind::Failed);
                    }
                    self.outcome(user, OutcomeRecord::Rejected, Some(&details));
                    attempt += 1;
                    match self.fresh_value(item, false, attempt, events).await {
                        Ok(fresh) => {
                            pair = fresh;
                            may_be_in_effect = false;
                            unsent = true;
                            resends = 0;
                        }
                        Err(FreshValueError::Stopped) => {
                            // The rejection is journaled: the user is failed, resume redoes it.
                            return UserEnd::Finished(OutcomeKind::Failed);
                        }
                        Err(FreshValueError::NoValue(reason)) => {
                            self.outcome(
                                user,
                                OutcomeRecord::Failed,
                                Some(&format!("{details}; no fresh value: {reason}")),
                            );
                            return UserEnd::Finished(OutcomeKind::Failed);
                        }
                    }
                }
                ErrorKind::LoginLost => {
                    return self.end_login_lost(user, &error, may_be_in_effect, events);
                }
                // Send the same value again: nothing else is safe (ambiguous), or it may be
                // understood this time (a refusal that is not the server's own). The backend did
                // not retry these.
                kind @ (ErrorKind::Ambiguous | ErrorKind::UnclearRefusal) => {
                    if kind.may_have_applied() {
                        may_be_in_effect = true;
                    }
                    resends += 1;
                    let stopping = self.stop.get().is_some();
                    if resends > self.config.max_resends || stopping {
                        return self.end_without_answer(user, &error, may_be_in_effect, events);
                    }
                    tracing::debug!(%error, resend = resends, "no clear answer; sending the same value again");
                    tokio::time::sleep(self.config.retry_backoff.delay(resends)).await;
                }
                // The backend already retried what the server did not take: the user ends here,
                // and counts towards stopping a run against a server that is down.
                ErrorKind::Unavailable | ErrorKind::Unreachable => {
                    return self.end_without_answer(user, &error, may_be_in_effect, events);
                }
                // A clear refusal of this user: nothing applied now.
                ErrorKind::UserNotFound
                | ErrorKind::GroupNotFound
                | ErrorKind::ServiceNotAssigned
                | ErrorKind::Refused
                | ErrorKind::Config => {
                    let kind = self.end_unset(user, &error.reason(), may_be_in_effect);
                    self.note_end(None, events);
                    return UserEnd::Finished(kind);
                }
            }
        }
    }

    /// Ends a user whose send met a lost login, and stops the run.
    fn end_login_lost(
        &self,
        user: &str,
        error: &BackendError,
        may_be_in_effect: bool,
        events: &mpsc::UnboundedSender<Event>,
    ) -> UserEnd {
        let reason = format!("login no longer works ({})", error.reason());
        if may_be_in_effect {
            self.outcome(user, OutcomeRecord::Uncertain, Some(&reason));
            self.request_stop(reason, events);
            return UserEnd::Finished(OutcomeKind::Uncertain);
        }
        self.outcome(
            user,
            OutcomeRecord::Failed,
            Some(&format!("not attempted: {reason}")),
        );
        self.request_stop(reason, events);
        UserEnd::Finished(OutcomeKind::Failed)
    }

    /// For a journaled pair that may be in effect and carries a new name (a resume's): reads
    /// the user's name to settle it. `Some(true)`: the pair is in effect, the user is set
    /// (journaled); `Some(false)`: it certainly is not; `None`: not known, send it again.
    async fn settle_by_name(
        &self,
        user: &str,
        pair: &Journaled,
        events: &mpsc::UnboundedSender<Event>,
    ) -> Option<bool> {
        let user_name = pair.user_name.as_deref()?;
        let in_effect = self.journaled_name_in_effect(user, user_name).await?;
        if in_effect {
            self.outcome(
                user,
                OutcomeRecord::Set,
                Some("already in effect (the user's authentication name is the journaled one)"),
            );
            self.note_end(None, events);
        }
        Some(in_effect)
    }

    /// Ends a user whose last send got no clear answer; counted towards stopping a run whose
    /// server is down.
    fn end_without_answer(
        &self,
        user: &str,
        error: &BackendError,
        may_be_in_effect: bool,
        events: &mpsc::UnboundedSender<Event>,
    ) -> UserEnd {
        let kind = self.end_unset(user, &error.to_string(), may_be_in_effect);
        self.note_end(Some(error), events);
        UserEnd::Finished(kind)
    }

    /// Journals the end of a user whose value was not accepted this time: `uncertain` (the value
    /// kept) when an earlier send may have applied it, else `failed`.
    fn end_unset(&self, user: &str, reason: &str, may_be_in_effect: bool) -> OutcomeKind {
        if may_be_in_effect {
            self.outcome(user, OutcomeRecord::Uncertain, Some(reason));
            OutcomeKind::Uncertain
        } else {
            self.outcome(user, OutcomeRecord::Failed, Some(reason));
            OutcomeKind::Failed
        }
    }
}

enum FreshValueError {
    /// The run stops (or the journal failed): nothing was sent.
    Stopped,
    /// No usable value: the user fails with this reason.
    NoValue(String),
}
