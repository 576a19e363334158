//! The bulk credential reset engine of bwreset: plan, generate, journal, apply, resume, report.
//!
//! It resets the SIP password, the voice portal passcode or the web password of many BroadWorks
//! users through a [`Backend`] (the seam of `bwreset-backend`; the Odin REST client
//! `odin_client::OdinClient` and the OCI-P client `ocip_client::OcipClient` implement it), and
//! promises one thing above speed: **nothing
//! lost**. For every user whose credential changed on the server, the operator ends up with the
//! new value, whatever happens (crash, kill, network fault, server error), because the value is
//! written durably to a journal before the request that sets it leaves.
//!
//! # The seed's call
//!
//! ```
//! use bwreset_core::{JournalStore, bulk_password_reset};
//! use odin_client::{ClientConfig, OdinClient, SecretString};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
//! # runtime.block_on(async {
//! // A simulator with three users stands in for the server here; the client is the backend.
//! let simulator = odin_sim::spawn(odin_sim::SimConfig::with_users(3)).await?;
//! let client = OdinClient::login(ClientConfig::new(
//!     simulator.base_url(),
//!     "admin",
//!     SecretString::from("admin"),
//! ))
//! .await?;
//!
//! let result = bulk_password_reset(
//!     &client,
//!     "demo-sp",
//!     "demo-group",
//!     &["user0001@demo.example", "user0002@demo.example"],
//!     "vm",
//!     JournalStore::Memory, // keep the journal on disk (`JournalStore::File`) in real use
//! )
//! .await?;
//!
//! // `[{"userId": "user0001@demo.example", "newPasscode": "..."}, ...]`, in input order.
//! let json = serde_json::to_value(&result)?;
//! assert_eq!(json[0]["userId"], "user0001@demo.example");
//! assert!(json[0]["newPasscode"].is_string());
//! assert!(result.report.is_complete());
//! # Ok::<_, Box<dyn std::error::Error>>(())
//! # })
//! # }
//! ```
//!
//! # The public API, one entry point per step
//!
//! Underneath the seed's call there is one engine for every caller, the CLI included; each step
//! is one function:
//!
//! | step | function | options | ends in |
//! |---|---|---|---|
//! | plan (changes nothing) | [`plan()`]`(backend, request, config, checks)` | [`ResetRequest`] (whom: [`Targets`]), [`EngineConfig`], [`Checks`] | [`Plan`] (whom: its [`Scope`]) |
//! | plan the phones (changes nothing) | [`plan_devices`]`(backend, users, concurrency)` | | [`DevicePlan`] |
//! | execute (the credentials and, when asked, the phones) | [`execute`]`(backend, plan, journal, options)` | [`Journal`] (its header from [`JournalHeader::for_plan`]), [`RunOptions`] ([`EngineConfig`], [`Progress`], and [`RunOptions::with_phones`] with [`DeviceOptions`]) | [`JournalReport`] (the phones' in [`JournalReport::phones`]) |
//! | resume (a journal's credentials and, when asked, phones) | [`resume`]`(backend, journal, options)` | [`Journal`], [`RunOptions`] | [`JournalReport`] |
//! | the device follow-up on its own (phones after a SIP run, on the same journal) | [`follow_up_devices`]`(backend, journal, options, progress)` | [`DeviceOptions`] (with [`DeviceOptions::found`] from [`plan_devices`]) | [`DeviceReport`] |
//! | the phones' report of a stopped follow-up (no request) | [`read_device_report`]`(journal, options, stop_reason)` | | [`DeviceReport`] |
//! | the report of a journal on its own (no request; what `resume --dry-run` shows) | [`JournalReport::read`]`(journal, elapsed)` | | [`JournalReport`] |
//! | all of it for a small list, as the seed did | [`bulk_password_reset`], [`bulk_password_reset_with`] | [`JournalStore`], [`EngineConfig`] | [`BulkResetResult`] |
//!
//! There is one report of a run: a [`JournalReport`] reads the outcomes back from the journal
//! one user at a time, so that a run of any size ends in little memory; it hands the journal on
//! ([`JournalReport::journal`]) to a device follow-up run on its own (the CLI runs the phones
//! that way, to write the credentials' files first), and [`JournalReport::into_report`]
//! collects a small run's report whole ([`Report`]: every value and reason at once).

//! # Outcome model
//!
//! Every target user ends in exactly one of three outcomes, and the report never drops a user:
//!
//! | outcome | meaning | the operator |
//! |---|---|---|
//! | `set` | the server accepted the value (a 2xx; or, for a value that may already have been applied, a rejection by a history rule such as "same as the old password", which proves it is the current one) | keeps the value: it is the user's credential now |
//! | `failed` | the value was certainly not applied: a clear refusal (user not found, outside the group, no Authentication service, a rule refused [`EngineConfig::max_rule_retries`] + 1 fresh values), or the user was not attempted (reason starts `not attempted:`) | nothing changed on the server; `resume` tries again |
//! | `uncertain` | the value was sent and no clear answer came ([`ErrorKind::Ambiguous`]: a connection lost after sending, a server failure) even after [`EngineConfig::max_resends`] re-sends of the same value | keeps the value: it may be in effect; `resume` sends the same value again to settle it |
//!
//! The engine acts on what the backend says a refusal means ([`ErrorKind`]), never on a status
//! code or a server's wording. A rule rejection ([`ErrorKind::RuleRejected`]) of a fresh value
//! gets another fresh value. An ambiguous answer gets the SAME value again after a backoff, never
//! a new one: a new value could replace one already in effect that nobody recorded as set. So
//! does a refusal that is not the server's own ([`ErrorKind::UnclearRefusal`], a proxy's error
//! page), within the same bound. An answer that the server did not take the request
//! ([`ErrorKind::Unavailable`], [`ErrorKind::Unreachable`]) ends the user at once: the backend
//! has already retried it. A user whose value may be in effect never ends `failed`: a later clear
//! refusal makes it `uncertain`, value kept.
//!
//! A failure of one user never stops the others. The run as a whole stops early (everything
//! journaled, [`Report::stop_reason`] set, the users not attempted failed with a reason starting
//! `not attempted:`) only when login no longer works, or the server looks down:
//! [`EngineConfig::stop_after_unavailable`] users in a row ended on unavailability errors, or the
//! generator stopped answering. [`resume`] finishes such a run.
//!
//! Large groups: the group listing is read with [`Backend::group_user_ids`], which gives only the
//! user IDs (the Odin client decodes the listing as it arrives and keeps only the IDs).
//!
//! # Runs across groups
//!
//! Whom a run targets is a [`Scope`]: always a table of groups (a run of one group is a table
//! of one), each user referring to its group by index, and one flag,
//! [`Scope::group_columns`], saying whether the outputs name each user's group. The plan
//! ([`Plan::scope`]), the journal header ([`JournalHeader::scope`]) and the report
//! ([`JournalReport::scope`]) share it; a run of one group has no group columns and keeps the
//! seed's output shape byte for byte. Three group types, three jobs: [`Scope`] is the whole
//! run's table, [`GroupRef`] one owned group in it, and [`GroupScope`] the seam's borrowed
//! group that one backend request names ([`GroupRef::scope`]).
//!
//! [`Targets::Grouped`] names users across groups and service providers (each user under the
//! group it is listed in, built with [`GroupedUsers::push`]); [`Targets::AllGroups`] takes every
//! user of every group of a service provider ([`Backend::service_provider_groups`], then one
//! listing per group). The plan holds each group once and each user its index in that table
//! ([`Plan::group_index`], 4 bytes a user; a run of one group keeps no index, and costs what
//! it did). Each group is listed once; a user missing from its group's listing is
//! checked on its own and ends `failed` with a reason naming the group given and, when the check
//! says, the group it is in. A group or service provider the server does not know is
//! [`Error::UnknownGroup`], before anything is changed. Values come from a pool per group, each
//! filled by its own producer under its group's rules; all share the one backend, and so its
//! pacer. The journal header records the groups (`groups`), each `targets` record the users'
//! indexes, and the report keeps them ([`UserOutcome::group`], [`Report::column_group`]). The device
//! follow-up reads the registrations of each group of the devices' users.
//!
//! # The journal
//!
//! JSON lines, one object per line, file mode 0600, created with `O_EXCL | O_NOFOLLOW`, and an
//! exclusive lock for as long as a [`Journal`] holds it (a second process gets
//! [`Error::JournalLocked`]). Each object has a `record` field:
//!
//! | `record` | fields | written |
//! |---|---|---|
//! | `header` | `version`, `toolVersion`, `passwordType`, `serviceProviderId`, `groupId`, `server` (earlier builds wrote `baseUrl`, still read), `createdAt`, `meta` (the caller's, opaque); for a run across groups `groups`: `[{serviceProviderId, groupId}]`, each once (then `groupId` is empty, and `serviceProviderId` is the one of [`Targets::AllGroups`], else empty); for a run with new SIP user names `userNameTemplate` | first line, synced by [`Journal::create`] |
//! | `targets` | `users`: up to 1000 IDs; for a run across groups `groups`: each user's index in the header's `groups` | the plan, in input order, de-duplicated |
//! | `duplicates` | `duplicates`: `[{userId, occurrences}]` | the plan |
//! | `rejected` | `user`, `reason` | the plan: users that failed the pre-check |
//! | `planEnd` | `users`: the number of targets | closes the plan; the plan is synced before any request |
//! | `intent` | `user`, `value`, `attempt`, `sealed` (only when the value is sealed: the sealer's scheme, such as `age`), `userName` (only in a run with new SIP user names: the name sent with the value, never sealed) | before each new value is sent, **synced** before the request leaves; the only place a value is written |
//! | `outcome` | `user`, `result` (`set`, `failed`, `uncertain`, or `rejected`: refused by a rule, a fresh value follows), `reason` | after the answer (written at once, synced with the next batch) |
//! | `stopped` | `reason` | when a run stops early |
//! | `resumed` | `at` | when `resume` starts |
//! | `device` | `name`, `level`, `serviceProviderId`, `groupId`, `deviceType`, `users`, `ownCredentials` | the device follow-up's discovery: one per device found |
//! | `devicesEnd` | `devices` (how many `device` records it closes), `action` (`rebuild` or `reset`), `users` (the set users covered) | closes a discovery, synced before any device request |
//! | `deviceIntent` | `device` (index in the devices found), `action` | before each rebuild or reset, **synced** before the request leaves |
//! | `deviceOutcome` | `device`, `action`, `result` (`done`, `failed`, `uncertain`), `reason` | after the answer |
//! | `deviceRegistered` | `device`, `registered`, `reason` | after a reset: seen registered again, or not within the wait |
//!
//! Appends from all workers go to one writer thread, which gathers what is pending into one
//! write and, if anyone waits for durability, one `sync_data` (group commit): an append costs
//! O(1). Replaying rebuilds each user's state: never started, pending (an intent without an
//! outcome: the value may be in effect), set, failed, uncertain. A torn last line (a write cut
//! short) is removed with a warning; an unreadable line anywhere else is
//! [`Error::JournalCorrupt`]. The report is built by replaying the journal after a final sync.
//! A journal without a complete plan (its run was killed before the plan was durable) holds
//! nothing sent: `resume` refuses it, and [`Journal::remove_if_unused`] clears the way for a new
//! run.
//!
//! The header's `version` is 6 since runs may give new SIP user names (the header's
//! `userNameTemplate`, the `userName` of an `intent`: an older build refuses such a journal as
//! newer instead of sending a password again without its name); 5 named the server `server`
//! (earlier builds wrote `baseUrl`, which every version is still read with), 4 added runs across
//! groups (the `groups` of the header and of `targets`), 3 the device records, 2 `sealed`. A run
//! without new names writes the lines version 5 did. Journals of versions 1 to 5 are read,
//! resumed and given a device phase as before (a fixture of each is kept under
//! `tests/fixtures`); resuming one never sends a name.
//!
//! # New SIP user names
//!
//! With [`EngineConfig::new_user_names`] (a [`UserNameTemplate`]; the journal's header must name
//! the same one, [`JournalHeader::with_user_name_template`]) a SIP run gives each user a new SIP
//! authentication user name with its new password, in one request
//! ([`Backend::set_sip_credentials`]): the name is drawn from the template, unlike every name
//! given out in the run (and its journal's), the password checked not to contain it, and both
//! are journaled in the `intent` before the request leaves. A name taken by another user
//! ([`ErrorKind::UserNameTaken`]) or refused by the server's rules gets a fresh pair, as a
//! refused password does. [`resume`] takes the template from the journal; it settles a pending
//! or uncertain pair by reading the user's name ([`Backend::sip_user_name`], no secret): the
//! journaled name in effect means the pair is (the user is set, nothing sent), another name
//! means it is not (the same pair is sent again, and a refusal gets a fresh one), no answer
//! sends the same pair again as for any uncertain value. So every name a user can hold is in
//! the journal before it is sent. The report gives each user set its name
//! ([`ReportEntry::new_user_name`], `newUserName` after `userId` in [`NewCredential`]).
//!
//! # Phones after a SIP reset
//!
//! A phone holds its users' SIP password in its configuration file: after a reset it is refused
//! at its next registration until the file is rebuilt and the phone reset. [`follow_up_devices`]
//! (after [`execute`] or [`resume`], on the same journal) does that for a SIP run's journal,
//! through a [`DeviceBackend`], journal first; see the `devices` module docs. The seed's
//! [`bulk_password_reset`] touches no device.
//!
//! A caller that must not leave values on disk in clear gives the journal a [`ValueSealer`]
//! ([`Journal::create_sealed`], [`Journal::open_sealed`]): each `intent` value is then written
//! as the sealer's text with `"sealed": "<scheme>"`, and opened again on replay. The engine never
//! sees the difference. A journal holding sealed values opened without a sealer is
//! [`Error::JournalSealed`], before anything is sent; [`Journal::read_header`] lets the caller
//! look at the header's `meta` first to decide how to open it.
//!
//! # Backend calls per user
//!
//! `n` users, batch `b` ([`EngineConfig::generate_batch`], default 100); `k` users of an
//! explicit list not found in the group listing. Retries after errors come on top, and so do
//! the caller's login and logout, once per run. What each call costs on the wire is the
//! backend's (for Odin, see `odin_client`'s `backend` module and `docs/benchmarks.md`).
//!
//! | checks | targets | pre-check | generation | setter |
//! |---|---|---|---|---|
//! | [`Checks::Membership`] (a real run: [`plan()`] with it, `resume`, [`bulk_password_reset`]), every type | list | 1 group listing + `k` × [`Backend::check_user`] | about `n / b` [`Backend::generate`], the first while the listing is read | 1 [`Backend::set`] |
//! | [`Checks::Membership`], every type | whole group | 1 group listing | about `n / b` [`Backend::generate`] | 1 [`Backend::set`] |
//! | [`Checks::Full`] ([`plan()`], a dry run), SIP | list or whole group | 1 [`Backend::check_user`] per user (existence, Authentication, group, SIP user name); whole group, or a check that names no group (OCI-P): + 1 group listing | about `n / b` [`Backend::generate`] | 1 [`Backend::set`] |
//! | [`Checks::Full`], VM and WEB | as [`Checks::Membership`] | | | |
//! | any, across `g` groups | [`Targets::Grouped`] | 1 listing per group + `k` × [`Backend::check_user`] (a SIP dry run: 1 check per user as well) | about `n / b` + `g` [`Backend::generate`] (each group's own) | 1 [`Backend::set`] |
//! | any, across `g` groups | [`Targets::AllGroups`] | 1 [`Backend::service_provider_groups`] + 1 listing per group (a SIP dry run: 1 check per user as well) | about `n / b` + `g` [`Backend::generate`] | 1 [`Backend::set`] |
//!
//! The device follow-up ([`follow_up_devices`]) adds, per user set, one
//! [`DeviceBackend::user_devices`] (unless [`DeviceOptions::found`] holds the devices found
//! before the run), one [`DeviceBackend::device_facts`] per device seen only as a shared call
//! appearance, one rebuild and one reset per device, and one
//! [`DeviceBackend::group_registrations`] per group of the watched devices per poll of the wait.
//!
//! A rule rejection costs one more setter call (and a share of a generator call); `resume` costs
//! one setter call per pending or uncertain user, and one listing (plus a check of each user
//! missing from it) for the users failed or never started.
//!
//! # Speed and memory
//!
//! [`EngineConfig::concurrency`] requests are in flight at once, pre-checks first, then setters
//! (the backend's own pacing slows the whole run down when the server asks it to). During the setters, as many users again are made ready meanwhile (a value
//! taken, its intent synced), so that the journal's syncs never leave a place in flight empty.
//! Per user the engine does O(1) work: the next user is an index, a value is taken from a pool
//! of about one batch, the journal append goes to a writer thread that syncs many appends at
//! once. Values live in the journal on disk; per user the run holds little, and nothing of the
//! user's own as a separate allocation:
//!
//! - the IDs once, in a [`UserIdList`] (one text and the end offsets: about 32 bytes for a
//!   24-character ID), from the group listing (decoded into it as it arrives) or the caller's
//!   list; de-duplication and the membership check find an ID's position with an index of
//!   positions (about 8 bytes per ID) rather than a second copy of the IDs;
//! - the plan: the list, and only the users refused by the pre-check (with their reasons) or
//!   given a SIP user name beside it;
//! - the run: 12 bytes per user (position, attempts, group), values waiting to be re-sent by
//!   position;
//! - the end: a replay of 16 bytes per user (outcome, the position of the last `intent` line,
//!   an interned reason, attempts) and its index of the IDs (8 to 16 bytes per user) beside the
//!   run's own list, and the report handed on one user
//!   at a time ([`JournalReport`], what [`execute`] and [`resume`] end in), each value
//!   read back from its `intent` line only when it is written out.
//!
//! A million users of one group, VM and SIP: under 100 MiB peak RSS for the whole process
//! (`docs/benchmarks.md`). [`Report`] holds every value and reason at once: fine for the
//! thousands of users of a library call, not for a platform.
//!
//! # Values
//!
//! A producer task asks the generator ahead of the workers (bounded: about one batch ahead), and
//! asks again when an answer is short. It discards values that are empty, contain blanks or
//! control characters, repeat a value already given out, or (passcodes) are not all digits, and
//! SIP values outside 6..=60 characters. A SIP value containing a user's authentication name is
//! given to another user. After [`EngineConfig::max_useless_batches`] answers in a row with
//! nothing usable, the generator is given up and the users still waiting fail with that reason.
//!
//! # Secrets
//!
//! Values are [`secrecy::SecretString`]s; the `Debug` of every type holding one prints
//! `[redacted]`; no value appears in a log line or an error. Only [`NewCredential`]'s `Serialize`
//! and the journal's `intent` lines (unless sealed) expose them, on purpose.

mod bulk;
mod config;
mod devices;
mod engine;
mod error;
mod ids;
mod journal;
mod plan;
mod progress;
mod report;
mod run_options;
mod scope;
mod seal;
mod types;
mod user_names;
mod values;

pub use bulk::{BulkResetResult, bulk_password_reset, bulk_password_reset_with, is_bulk_journal};
pub use bwreset_backend::{
    Backend, BackendError, Backoff, Credential, DeviceBackend, DeviceId, DeviceLevel, ErrorKind,
    GroupScope, UserFacts, UserIdList,
};
pub use config::EngineConfig;
pub use devices::{
    DeviceEntry, DeviceOptions, DevicePlan, DeviceReport, DeviceResult, PlannedDevice,
    follow_up_devices, plan_devices, read_device_report,
};
pub use engine::{execute, resume};
pub use error::Error;
pub use journal::{
    DeviceAction, JOURNAL_VERSION, Journal, JournalHeader, JournalStore, utc_timestamp,
};
pub use plan::{
    Checks, GroupedUsers, Plan, PlannedStatus, PlannedUser, ResetRequest, Targets, plan,
};
pub use progress::{DeviceStatus, NoProgress, Progress};
pub use report::{
    Counts, Duplicate, GroupedCredential, JournalReport, NewCredential, Outcome, OutcomeKind,
    Report, ReportEntry, UserOutcome,
};
pub use run_options::RunOptions;
pub use scope::Scope;
pub use seal::{SealError, ValueSealer};
pub use secrecy::{ExposeSecret, SecretString};
pub use types::{GroupRef, PasswordType, UserId};
pub use user_names::{
    DEFAULT_RANDOM_LENGTH, MAX_USER_NAME_LENGTH, MIN_RANDOM_LENGTH, UserNameTemplate,
    UserNameTemplateError,
};
