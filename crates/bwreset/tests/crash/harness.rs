//! What the crash tests share: a simulator, the real binary started as a child process, kill
//! points chosen by watching the simulator's request counts, and the final comparison of the
//! simulator's truth with the output.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use odin_sim::{Credentials, SimConfig, SimHandle, Stats};

pub(crate) const SERVICE_PROVIDER: &str = "demo-sp";
pub(crate) const GROUP: &str = "demo-group";

/// The pause between two looks at the simulator's counters while waiting for a kill point. The
/// wait ends on what the counters say; this only keeps the poll from taking a whole core from
/// the two processes under test.
const POLL_PAUSE: Duration = Duration::from_micros(250);

/// How long any one step may take before the test gives up on it: far beyond what a step needs,
/// there only so that a hung binary fails the test instead of hanging it.
const STEP_DEADLINE: Duration = Duration::from_secs(120);

/// Called with the simulator and the counts since a step started; true when done watching.
pub(crate) type Watcher<'a> = dyn FnMut(&SimHandle, &Stats) -> bool + 'a;

/// The credential a run resets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Sip,
    Vm,
    Web,
}

impl Kind {
    pub(crate) fn flag(self) -> &'static str {
        match self {
            Kind::Sip => "sip",
            Kind::Vm => "vm",
            Kind::Web => "web",
        }
    }

    /// The route of the setter.
    pub(crate) fn setter(self) -> &'static str {
        match self {
            Kind::Sip => "/users/authentication",
            Kind::Vm => "/users/portal-passcode",
            Kind::Web => "/users/passwords",
        }
    }

    /// The route of the generator the engine uses.
    pub(crate) fn generator(self) -> &'static str {
        match self {
            Kind::Vm => "/passcode/generate",
            Kind::Sip | Kind::Web => "/password/generate",
        }
    }

    /// The key of the value in the JSON output.
    pub(crate) fn value_key(self) -> &'static str {
        match self {
            Kind::Vm => "newPasscode",
            Kind::Sip | Kind::Web => "newPassword",
        }
    }

    /// Whether the server refuses the value already in effect (a history rule), so that a
    /// re-sent value never counts as a second change. Web passwords have no such rule: an
    /// administrator's reset skips the old-password checks.
    pub(crate) fn refuses_the_current_value(self) -> bool {
        matches!(self, Kind::Sip | Kind::Vm)
    }

    pub(crate) fn value_in_effect(self, credentials: &Credentials) -> Option<&str> {
        match self {
            Kind::Sip => credentials.sip_password.as_deref(),
            Kind::Vm => credentials.portal_passcode.as_deref(),
            Kind::Web => credentials.web_password.as_deref(),
        }
    }

    pub(crate) fn changes(self, credentials: &Credentials) -> u64 {
        match self {
            Kind::Sip => credentials.changes.sip,
            Kind::Vm => credentials.changes.vm,
            Kind::Web => credentials.changes.web,
        }
    }
}

/// Which users a reset names.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Targets {
    /// `--all-users`.
    AllUsers,
    /// A users file with this many of the simulator's users, in a scrambled order (the others
    /// must stay untouched).
    File(usize),
    /// A targets file (`--targets`) with this many of the users of a simulator seeded with
    /// several groups (`SimConfig::with_groups`), in a scrambled order across the groups.
    AcrossGroups(usize),
}

/// A point at which to kill the running binary: as soon as `at_least` requests of `method route`
/// (with `status`, if given) have been answered since the step started.
#[derive(Clone, Debug)]
pub(crate) struct KillPoint {
    pub method: &'static str,
    pub route: &'static str,
    pub status: Option<u16>,
    pub at_least: u64,
}

impl KillPoint {
    pub(crate) fn after(method: &'static str, route: &'static str, at_least: u64) -> Self {
        KillPoint {
            method,
            route,
            status: None,
            at_least,
        }
    }

    pub(crate) fn after_ok(method: &'static str, route: &'static str, at_least: u64) -> Self {
        KillPoint {
            method,
            route,
            status: Some(200),
            at_least,
        }
    }

    fn count(&self, stats: &Stats) -> u64 {
        match self.status {
            Some(status) => stats.count_with_status(self.method, self.route, status),
            None => stats.count(self.method, self.route),
        }
    }
}

/// How a step ended.
#[derive(Debug)]
pub(crate) enum StepEnd {
    /// Killed with SIGKILL at its kill point.
    Killed,
    /// Ended on its own with this exit code.
    Exited(i32),
}

/// One simulator, one private directory, one reset and everything that finishes it.
pub(crate) struct Scenario {
    pub simulator: SimHandle,
    pub directory: tempfile::TempDir,
    pub kind: Kind,
    pub targets: Targets,
    /// The users the reset is about, sorted.
    pub target_ids: BTreeSet<String>,
    steps: usize,
    /// For each user, at how many kills the journal held a value sent (or about to be sent)
    /// without an answer recorded: each such kill may cost one more change of a web password.
    pending_at_kills: BTreeMap<String, u64>,
    /// Kills that found at least one user pending.
    pub kills_with_pending_users: usize,
    /// Set by [`Self::interrupt_at`]: the next kill point sends SIGINT (Ctrl-C), not SIGKILL.
    interrupting: bool,
    /// Set when the simulator answers some setters after applying them with an error (or not at
    /// all): the same value is then re-sent, and a credential without a history rule may count
    /// any number of changes (all to the value in the output).
    pub ambiguous_faults: bool,
    /// Given to every `reset` and `resume`, e.g. `--concurrency 32`.
    pub extra_arguments: Vec<String>,
    /// Given to `reset` only, e.g. `--new-user-names` (a `resume` takes it from the journal).
    pub reset_only_arguments: Vec<String>,
    /// Changes made before the run under test (see [`Self::forget_changes_so_far`]).
    changes_before: BTreeMap<String, u64>,
    /// The server given as `BWRESET_SERVER` (the simulator's OCI-P front, say) instead of its
    /// Odin API.
    pub server: Option<String>,
}

impl Scenario {
    pub(crate) fn new(config: SimConfig, kind: Kind, targets: Targets) -> Self {
        let simulator = SimHandle::start_in_thread(config).expect("the simulator starts");
        let directory = tempfile::tempdir().expect("a temporary directory");
        let target_ids = match &targets {
            Targets::AllUsers => simulator
                .all_credentials()
                .into_iter()
                .map(|credentials| credentials.user_id)
                .collect(),
            Targets::File(keep) => {
                let ids = scrambled_user_ids(&simulator, *keep);
                let text: String = ids.iter().map(|id| format!("{id}\n")).collect();
                std::fs::write(directory.path().join("users.txt"), text).expect("users file");
                ids.into_iter().collect()
            }
            Targets::AcrossGroups(keep) => {
                let ids = scrambled_user_ids(&simulator, *keep);
                let mut text = String::from("userId,groupId,serviceProviderId\n");
                for id in &ids {
                    let group = seeded_group(id);
                    let provider = group.split("-g").next().expect("a service provider");
                    text.push_str(&format!("{id},{group},{provider}\n"));
                }
                std::fs::write(directory.path().join("targets.csv"), text).expect("targets file");
                ids.into_iter().collect()
            }
        };
        Scenario {
            simulator,
            directory,
            kind,
            targets,
            target_ids,
            steps: 0,
            pending_at_kills: BTreeMap::new(),
            kills_with_pending_users: 0,
            interrupting: false,
            ambiguous_faults: false,
            extra_arguments: Vec::new(),
            reset_only_arguments: Vec::new(),
            changes_before: BTreeMap::new(),
            server: None,
        }
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.directory.path().join(name)
    }

    pub(crate) fn out(&self) -> PathBuf {
        self.path("out.json")
    }

    pub(crate) fn journal(&self) -> PathBuf {
        self.path("out.json.journal")
    }

    /// The binary with an environment that holds only what the test gives it.
    fn bwreset(&self, arguments: &[&str], step: usize) -> Command {
        let mut command = bwreset(self.directory.path(), &self.simulator.base_url());
        if let Some(server) = &self.server {
            command.env("BWRESET_SERVER", server);
        }
        command
            .args(arguments)
            .stdin(Stdio::null())
            .stdout(Stdio::from(
                File::create(self.path(&format!("step-{step}.stdout"))).expect("stdout file"),
            ))
            .stderr(Stdio::from(
                File::create(self.path(&format!("step-{step}.stderr"))).expect("stderr file"),
            ));
        command
    }

    fn reset_arguments(&self) -> Vec<String> {
        let mut arguments: Vec<String> = ["reset", "--type", self.kind.flag()]
            .map(str::to_owned)
            .to_vec();
        if !matches!(self.targets, Targets::AcrossGroups(_)) {
            arguments.extend(
                ["--service-provider", SERVICE_PROVIDER, "--group", GROUP].map(str::to_owned),
            );
        }
        match &self.targets {
            Targets::AcrossGroups(_) => {
                arguments.push("--targets".into());
                arguments.push(self.path("targets.csv").display().to_string());
            }
            Targets::AllUsers => arguments.push("--all-users".into()),
            Targets::File(_) => {
                arguments.push("--users-file".into());
                arguments.push(self.path("users.txt").display().to_string());
            }
        }
        arguments.push("--out".into());
        arguments.push(self.out().display().to_string());
        arguments.push("--yes".into());
        arguments.extend(self.reset_only_arguments.iter().cloned());
        arguments
    }

    /// What an operator does next: `resume` when the journal holds a plan, otherwise (the run
    /// was stopped before its plan was durable, so nothing was sent) the same `reset` again.
    fn next_arguments(&self) -> Vec<String> {
        let mut arguments = if journal_has_plan(&self.journal()) {
            vec![
                "resume".into(),
                "--journal".into(),
                self.journal().display().to_string(),
                "--yes".into(),
            ]
        } else {
            self.reset_arguments()
        };
        arguments.extend(self.extra_arguments.iter().cloned());
        arguments
    }

    /// Starts the next command (see [`Self::next_arguments`]), kills it at `kill` if given, and
    /// says how it ended.
    pub(crate) fn step(&mut self, kill: Option<&KillPoint>) -> StepEnd {
        self.run(self.next_arguments(), None, kill)
    }

    /// Like [`Self::step`] without a kill point, with `watcher` given the simulator and the
    /// counts since the step started each time they are looked at, until it returns true; the
    /// step then runs to its end.
    pub(crate) fn step_with(&mut self, watcher: &mut Watcher<'_>) -> StepEnd {
        self.run(self.next_arguments(), Some(watcher), None)
    }

    /// Runs `bwreset` with these arguments to its end.
    pub(crate) fn command(&mut self, arguments: &[&str]) -> StepEnd {
        self.run(
            arguments
                .iter()
                .map(|argument| (*argument).to_owned())
                .collect(),
            None,
            None,
        )
    }

    fn run(
        &mut self,
        arguments: Vec<String>,
        mut watcher: Option<&mut Watcher<'_>>,
        kill: Option<&KillPoint>,
    ) -> StepEnd {
        self.steps += 1;
        let step = self.steps;
        let baseline = self.simulator.stats();
        let mut child = self
            .bwreset(
                &arguments.iter().map(String::as_str).collect::<Vec<_>>(),
                step,
            )
            .spawn()
            .expect("bwreset starts");
        let started = Instant::now();
        let mut watching = watcher.is_some();
        loop {
            if let Some(status) = child.try_wait().expect("wait for bwreset") {
                let reached = kill.is_some_and(|kill| {
                    kill.count(&difference(&self.simulator.stats(), &baseline)) >= kill.at_least
                });
                if kill.is_some() && !reached {
                    panic!(
                        "step {step} ({}) ended before its kill point {kill:?}: {}\n{}",
                        arguments[0],
                        describe(status),
                        self.stderr(step)
                    );
                }
                return StepEnd::Exited(exit_code(status, &self.stderr(step)));
            }
            if started.elapsed() > STEP_DEADLINE {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "step {step} ({}) did not end within {STEP_DEADLINE:?}\n{}",
                    arguments[0],
                    self.stderr(step)
                );
            }
            let now = self.simulator.stats();
            let since = difference(&now, &baseline);
            if let Some(kill) = kill
                && kill.count(&since) >= kill.at_least
            {
                return self.kill(child, step);
            }
            if watching && let Some(watcher) = watcher.as_mut() {
                watching = !watcher(&self.simulator, &since);
            }
            std::thread::sleep(POLL_PAUSE);
        }
    }

    fn kill(&mut self, mut child: Child, step: usize) -> StepEnd {
        if self.interrupting {
            // The child is not waited for yet, so its pid is still its own.
            let sent = Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status()
                .expect("`kill -INT` runs");
            assert!(sent.success(), "SIGINT to bwreset");
            let status = child.wait().expect("wait for bwreset");
            return StepEnd::Exited(exit_code(status, &self.stderr(step)));
        }
        child.kill().expect("SIGKILL bwreset");
        let status = child.wait().expect("wait for bwreset");
        if status.signal() != Some(libc::SIGKILL) {
            // It ended on its own between the last look and the signal: no harm, and the next
            // step goes on from whatever it left.
            return StepEnd::Exited(exit_code(status, &self.stderr(step)));
        }
        let pending = self.pending_users();
        // Shown with the test's output on failure: what each kill left behind.
        let journal = if journal_has_plan(&self.journal()) {
            "with a plan"
        } else if self.journal().exists() {
            "without a plan"
        } else {
            "absent"
        };
        eprintln!(
            "{:?} step {step}: killed; journal {journal}; {} user(s) pending",
            self.kind,
            pending.len()
        );
        if !pending.is_empty() {
            self.kills_with_pending_users += 1;
        }
        for user in pending {
            *self.pending_at_kills.entry(user).or_default() += 1;
        }
        StepEnd::Killed
    }

    /// Starts the next command and presses Ctrl-C (SIGINT) at `point`; the step then ends on
    /// its own, as an operator's Ctrl-C would end it.
    pub(crate) fn interrupt_at(&mut self, point: KillPoint) -> StepEnd {
        self.interrupting = true;
        let end = self.run(self.next_arguments(), None, Some(&point));
        self.interrupting = false;
        end
    }

    /// The step's stderr (progress and messages only: bwreset never writes a value there).
    pub(crate) fn stderr(&self, step: usize) -> String {
        std::fs::read_to_string(self.path(&format!("step-{step}.stderr"))).unwrap_or_default()
    }

    /// The stderr of the last step.
    pub(crate) fn last_stderr(&self) -> String {
        self.stderr(self.steps)
    }

    /// Users whose last journal record is an intent: a value written down, maybe sent, with no
    /// answer recorded. Only the `record` and `user` fields are read; a torn last line is
    /// ignored, as `resume` does.
    pub(crate) fn pending_users(&self) -> BTreeSet<String> {
        journal_pending_users(&self.journal())
    }

    /// Counts the changes made so far as made by someone else: the final check looks only at
    /// those made after this call.
    pub(crate) fn forget_changes_so_far(&mut self) {
        self.changes_before = self
            .simulator
            .all_credentials()
            .iter()
            .map(|credentials| (credentials.user_id.clone(), self.kind.changes(credentials)))
            .collect();
    }

    /// Starts the next command and kills it at `point`, which must come before the command's end.
    pub(crate) fn kill_at(&mut self, point: KillPoint) {
        match self.step(Some(&point)) {
            StepEnd::Killed => {}
            other => panic!(
                "step {} was to be killed at {point:?} but {other:?}\n{}",
                self.steps,
                self.last_stderr()
            ),
        }
    }

    /// Targets whose journal state is not `set` (pending, failed, uncertain or never started):
    /// what a resume still has to send. Zero when there is no journal yet... which means
    /// nothing, so callers use it after a step that wrote one.
    pub(crate) fn unset_targets(&self) -> u64 {
        let states = journal_states(&self.journal());
        self.target_ids
            .iter()
            .filter(|user| states.get(*user).map(String::as_str) != Some("set"))
            .count() as u64
    }

    /// Runs steps without kills until one ends with exit code 0, at most `attempts` times; every
    /// run before the last may end with 1 (some users not set, or the run stopped).
    pub(crate) fn finish(&mut self, attempts: usize) {
        for attempt in 1..=attempts {
            match self.step(None) {
                StepEnd::Exited(0) => return,
                StepEnd::Exited(1) if attempt < attempts => continue,
                other => panic!(
                    "finishing the run (attempt {attempt}): {other:?}\n{}",
                    self.last_stderr()
                ),
            }
        }
    }

    /// The output file as (userId, value) pairs, in file order.
    pub(crate) fn output_rows(&self) -> Vec<(String, String)> {
        read_output(&self.out(), self.kind.value_key())
    }

    /// The comparison that matters: every target is in the output once, its value is the one in
    /// effect on the server, nobody else was touched, and nobody was changed more often than
    /// the design allows: exactly once where the server refuses the current value again,
    /// otherwise once plus once for each kill that left the user's value sent without an answer.
    pub(crate) fn assert_truth_equals_output(&self) {
        let rows = self.output_rows();
        let mut listed = BTreeSet::new();
        let mut listed_twice = Vec::new();
        for (user_id, _) in &rows {
            if !listed.insert(user_id.clone()) {
                listed_twice.push(user_id.clone());
            }
        }
        assert!(
            listed_twice.is_empty(),
            "users listed twice in the output: {listed_twice:?}"
        );
        let missing: Vec<&String> = self.target_ids.difference(&listed).collect();
        let extra: Vec<&String> = listed.difference(&self.target_ids).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{} target(s) missing from the output (first: {:?}); {} user(s) in it not targeted (first: {:?})",
            missing.len(),
            missing.iter().take(5).collect::<Vec<_>>(),
            extra.len(),
            extra.iter().take(5).collect::<Vec<_>>()
        );

        let truth: BTreeMap<String, Credentials> = self
            .simulator
            .all_credentials()
            .into_iter()
            .map(|credentials| (credentials.user_id.clone(), credentials))
            .collect();
        // Values are compared, never printed: a mismatch names the user only.
        let differing: Vec<&String> = rows
            .iter()
            .filter(|(user_id, value)| {
                truth
                    .get(user_id)
                    .and_then(|credentials| self.kind.value_in_effect(credentials))
                    != Some(value.as_str())
            })
            .map(|(user_id, _)| user_id)
            .collect();
        assert!(
            differing.is_empty(),
            "{} user(s) whose server value differs from the output: {:?}",
            differing.len(),
            differing.iter().take(10).collect::<Vec<_>>()
        );

        let mut over_changed = Vec::new();
        let mut untouched_changed = Vec::new();
        for (user_id, credentials) in &truth {
            let changes = self.kind.changes(credentials)
                - self.changes_before.get(user_id).copied().unwrap_or(0);
            if !self.target_ids.contains(user_id) {
                if changes != 0 {
                    untouched_changed.push(user_id.clone());
                }
                continue;
            }
            let allowed = if self.kind.refuses_the_current_value() {
                1
            } else if self.ambiguous_faults {
                u64::MAX
            } else {
                1 + self.pending_at_kills.get(user_id).copied().unwrap_or(0)
            };
            if changes == 0 || changes > allowed {
                over_changed.push(format!("{user_id}: {changes} change(s), {allowed} allowed"));
            }
        }
        assert!(
            untouched_changed.is_empty(),
            "users outside the targets were changed: {:?}",
            untouched_changed.iter().take(10).collect::<Vec<_>>()
        );
        assert!(
            over_changed.is_empty(),
            "{} user(s) changed a wrong number of times: {:?}",
            over_changed.len(),
            over_changed.iter().take(10).collect::<Vec<_>>()
        );
    }
}

/// The binary with an environment that holds only the simulator's URL and login, and a home
/// directory of the test's own.
pub(crate) fn bwreset(home: &Path, base_url: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_bwreset"));
    command
        .env_clear()
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("TMPDIR", home)
        .env("ODIN_BASE_URL", base_url)
        .env("ODIN_USERNAME", "admin")
        .env("ODIN_PASSWORD", "admin");
    command
}

fn describe(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(signal)) => format!("signal {signal}"),
        (None, None) => "an unknown end".into(),
    }
}

fn exit_code(status: ExitStatus, stderr: &str) -> i32 {
    status
        .code()
        .unwrap_or_else(|| panic!("bwreset ended with {}\n{stderr}", describe(status)))
}

/// The counts of `now` minus those of `baseline`: the requests answered since.
pub(crate) fn difference(now: &Stats, baseline: &Stats) -> Stats {
    let mut requests = now.requests.clone();
    for row in &mut requests {
        let before = baseline
            .requests
            .iter()
            .find(|old| {
                old.method == row.method && old.route == row.route && old.status == row.status
            })
            .map_or(0, |old| old.count);
        row.count -= before;
    }
    Stats { requests }
}

/// Whether the journal's plan is complete (a whole `planEnd` line), so that `resume` can finish
/// the run.
pub(crate) fn journal_has_plan(path: &Path) -> bool {
    std::fs::read(path).is_ok_and(|text| {
        text.split(|byte| *byte == b'\n').any(|line| {
            serde_json::from_slice::<serde_json::Value>(line)
                .is_ok_and(|record| record["record"] == "planEnd")
        })
    })
}

/// See [`Scenario::pending_users`].
pub(crate) fn journal_pending_users(path: &Path) -> BTreeSet<String> {
    journal_states(path)
        .into_iter()
        .filter(|(_, state)| state == "pending")
        .map(|(user, _)| user)
        .collect()
}

/// Each user's last word in the journal: `pending` after an intent, else the outcome's result.
/// Only the `record`, `user` and `result` fields are read; unreadable lines (a torn last one)
/// are skipped.
fn journal_states(path: &Path) -> BTreeMap<String, String> {
    let Ok(text) = std::fs::read(path) else {
        return BTreeMap::new();
    };
    let mut states = BTreeMap::new();
    for line in text.split(|byte| *byte == b'\n') {
        let Ok(record) = serde_json::from_slice::<serde_json::Value>(line) else {
            continue;
        };
        let Some(user) = record["user"].as_str() else {
            continue;
        };
        let state = match record["record"].as_str() {
            Some("intent") => "pending",
            Some("outcome") => record["result"].as_str().unwrap_or("unknown"),
            _ => continue,
        };
        states.insert(user.to_owned(), state.to_owned());
    }
    states
}

/// A JSON output file as (userId, value) pairs. A run with new SIP user names has one key more
/// in each row, `newUserName`.
pub(crate) fn read_output(path: &Path, value_key: &str) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|error| panic!("output `{}`: {error}", path.display()));
    let rows: Vec<serde_json::Value> =
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("the output is not a JSON array"));
    rows.iter()
        .map(|row| {
            let object = row.as_object().expect("each row is an object");
            let user_id = object["userId"].as_str().expect("userId");
            let name = usize::from(object.contains_key("newUserName"));
            if object.contains_key("groupId") {
                // A run across groups: each row names the user's own group.
                assert_eq!(
                    object.len(),
                    4 + name,
                    "each row holds exactly userId, serviceProviderId, groupId and {value_key}"
                );
                let group = seeded_group(user_id);
                assert_eq!(object["groupId"], group.as_str(), "{user_id}");
                assert_eq!(
                    object["serviceProviderId"],
                    group.split("-g").next().expect("a service provider"),
                    "{user_id}"
                );
            } else {
                assert_eq!(
                    object.len(),
                    2 + name,
                    "each row holds exactly userId and {value_key}"
                );
            }
            (
                object["userId"].as_str().expect("userId").to_owned(),
                object[value_key].as_str().expect("a value").to_owned(),
            )
        })
        .collect()
}

/// The group of a user of a simulator seeded by `SimConfig::with_groups`:
/// `sp1-g2-user0001@demo.example` is in `sp1-g2` (of `sp1`).
fn seeded_group(user_id: &str) -> String {
    user_id
        .split("-user")
        .next()
        .expect("a seeded user ID")
        .to_owned()
}

/// `keep` of the simulator's user IDs in a fixed scrambled order, so that a users file's order is
/// not the group's.
fn scrambled_user_ids(simulator: &SimHandle, keep: usize) -> Vec<String> {
    let mut ids: Vec<String> = simulator
        .all_credentials()
        .into_iter()
        .map(|credentials| credentials.user_id)
        .collect();
    ids.sort();
    let count = ids.len();
    // A stride coprime with the count visits every position once.
    let stride = (1..count)
        .rev()
        .find(|stride| gcd(*stride, count) == 1 && *stride * 3 < count * 2)
        .unwrap_or(1);
    (0..count)
        .map(|index| ids[(index * stride + 7) % count].clone())
        .take(keep)
        .collect()
}

fn gcd(mut left: usize, mut right: usize) -> usize {
    while right != 0 {
        (left, right) = (right, left % right);
    }
    left
}
