//! The plan: which users a run will reset, found and checked without changing anything.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bwreset_backend::{Backend, BackendError, Credential, ErrorKind, UserIdList};

use crate::Error;
use crate::config::EngineConfig;
use crate::ids::IdIndex;
use crate::report::Duplicate;
use crate::scope::Scope;
use crate::types::{GroupRef, PasswordType, UserId};
use crate::values::PrefetchedValues;

/// What the caller asks for: which credential, and whom.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResetRequest {
    /// The credential to reset.
    pub password_type: PasswordType,
    /// Whom (each kind of target names its own group, groups or service provider).
    pub targets: Targets,
}

/// The users a request names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Targets {
    /// These users of `group`, in this order (duplicates allowed: reset once, reported). Each
    /// must be a valid [`UserId`] (the plan refuses the request otherwise).
    Users {
        /// Their group.
        group: GroupRef,
        /// The users.
        users: UserIdList,
    },
    /// Every user of `group`, as one group listing gives them.
    AllUsers {
        /// The group.
        group: GroupRef,
    },
    /// Users across groups, each under the group it is listed in (duplicates allowed: the
    /// first listing is kept, the repetition reported).
    Grouped(GroupedUsers),
    /// Every user of every group of `service_provider_id`, group by group in the server's
    /// order.
    AllGroups {
        /// The service provider (or enterprise).
        service_provider_id: String,
    },
}

impl Targets {
    /// The group of a run of one group ([`Targets::Users`], [`Targets::AllUsers`]); `None` for
    /// targets across groups.
    fn one_group(&self) -> Option<&GroupRef> {
        match self {
            Targets::Users { group, .. } | Targets::AllUsers { group } => Some(group),
            Targets::Grouped(_) | Targets::AllGroups { .. } => None,
        }
    }
}

/// Users across groups: each user with the group it is listed under. Each group is held once;
/// a user holds its index (4 bytes), not a copy of the group's names.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GroupedUsers {
    groups: Vec<GroupRef>,
    index: HashMap<GroupRef, u32>,
    /// Kept compactly: a million users of ten groups cost some 36 MB, not 80.
    users: UserIdList,
    group_of: Vec<u32>,
}

impl GroupedUsers {
    /// No users yet.
    pub fn new() -> Self {
        GroupedUsers::default()
    }

    /// Adds `user`, listed under group `group_id` of `service_provider_id`.
    pub fn push(&mut self, service_provider_id: &str, group_id: &str, user: UserId) {
        let last = self.group_of.last().copied();
        let same_as_last = last.is_some_and(|last| {
            let group = &self.groups[last as usize];
            group.service_provider_id == service_provider_id && group.group_id == group_id
        });
        let group = match last {
            Some(last) if same_as_last => last,
            _ => {
                let key = GroupRef::new(service_provider_id, group_id);
                match self.index.get(&key) {
                    Some(&known) => known,
                    None => {
                        // More than 4 billion groups cannot be: the index saturates rather
                        // than wraps.
                        let next = u32::try_from(self.groups.len()).unwrap_or(u32::MAX);
                        self.groups.push(key.clone());
                        self.index.insert(key, next);
                        next
                    }
                }
            }
        };
        self.users.push(user.as_str());
        self.group_of.push(group);
    }

    /// How many users were added (duplicates included).
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// Whether no user was added.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    /// The groups, each once, in the order first met.
    pub fn groups(&self) -> &[GroupRef] {
        &self.groups
    }

    /// Every user with its group, in the order added.
    pub fn iter(&self) -> impl Iterator<Item = (&GroupRef, &str)> {
        self.users
            .iter()
            .zip(&self.group_of)
            .map(|(user, &group)| (&self.groups[group as usize], user))
    }
}

/// The checked list of users for a run, kept compactly: the IDs once, and only what sets a user
/// apart (a rejection, a SIP user name) beside them.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The credential to reset.
    pub password_type: PasswordType,
    /// Whom: the groups of the run (one group is a table of one) and whether outputs carry
    /// group columns.
    scope: Scope,
    /// The users, resolved from the request's targets and de-duplicated, in input order.
    users: UserIdList,
    /// The index in the scope's groups of each of `users`, in the same order; empty for a run
    /// of one group (no group columns: every user is in it). A run across groups keeps one per
    /// user, even when its table holds a single group.
    user_groups: Vec<u32>,
    /// The users the pre-check refused: their position in the list and why, in order.
    rejected: Vec<(usize, String)>,
    /// For SIP after [`Checks::Full`]: the authentication user names, by position.
    sip_user_names: HashMap<usize, String>,
    /// Users named more than once.
    pub duplicates: Vec<Duplicate>,
    /// Values the plan fetched from the generator ahead of the run ([`Checks::Membership`]),
    /// handed to the run's pool. Empty otherwise. The engine's own: a caller only passes the
    /// plan on to [`crate::execute`].
    pub(crate) prefetched: PrefetchedValues,
}

impl Plan {
    /// Whom the plan targets: its groups (for [`Targets::AllGroups`] in the server's order,
    /// for [`Targets::Grouped`] in the order met) and whether outputs carry group columns.
    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    /// The group of the user at `position` in [`Plan::users`].
    pub fn group_of(&self, position: usize) -> &GroupRef {
        self.scope.group_at(self.group_index(position))
    }

    /// The index in [`Scope::groups`] of the user at `position` in [`Plan::users`].
    pub fn group_index(&self, position: usize) -> u32 {
        self.user_groups.get(position).copied().unwrap_or(0)
    }

    /// A plan of users of `group` checked elsewhere: `users` in order, each once, to reset
    /// `password_type`.
    pub fn from_users(
        password_type: PasswordType,
        group: GroupRef,
        users: Vec<PlannedUser>,
        duplicates: Vec<Duplicate>,
    ) -> Plan {
        let mut list = UserIdList::with_capacity(users.len(), 0);
        let mut verdicts = Verdicts::default();
        for (position, user) in users.into_iter().enumerate() {
            list.push(user.user_id.as_str());
            verdicts.note(position, user.status);
        }
        Plan {
            password_type,
            scope: Scope::group(group),
            users: list,
            user_groups: Vec::new(),
            rejected: verdicts.rejected,
            sip_user_names: verdicts.sip_user_names,
            duplicates,
            prefetched: PrefetchedValues::default(),
        }
    }

    /// The users, once each, in input order.
    pub fn user_ids(&self) -> &UserIdList {
        &self.users
    }

    /// How many users the plan holds.
    pub fn len(&self) -> usize {
        self.user_ids().len()
    }

    /// Whether the plan holds no user.
    pub fn is_empty(&self) -> bool {
        self.user_ids().is_empty()
    }

    /// Every user with the pre-check's verdict, in input order.
    pub fn users(&self) -> impl Iterator<Item = PlannedUser> + '_ {
        let mut rejected = self.rejected.iter().peekable();
        self.user_ids()
            .iter()
            .enumerate()
            .map(move |(position, user_id)| {
                let status = match rejected.next_if(|(at, _)| *at == position) {
                    Some((_, reason)) => PlannedStatus::Rejected {
                        reason: reason.clone(),
                    },
                    None => PlannedStatus::Ready {
                        sip_user_name: self.sip_user_names.get(&position).cloned(),
                    },
                };
                PlannedUser {
                    user_id: UserId::checked(user_id),
                    status,
                }
            })
    }

    /// Users that passed the pre-check.
    pub fn ready_count(&self) -> usize {
        self.len() - self.rejected_count()
    }

    /// Users that failed the pre-check (they end failed with the reason).
    pub fn rejected_count(&self) -> usize {
        self.rejected.len()
    }

    /// The parts the engine runs from.
    pub(crate) fn into_parts(self) -> PlanParts {
        PlanParts {
            password_type: self.password_type,
            scope: self.scope,
            users: self.users,
            verdicts: Verdicts {
                rejected: self.rejected,
                sip_user_names: self.sip_user_names,
            },
            duplicates: self.duplicates,
            prefetched: self.prefetched,
            user_groups: self.user_groups,
        }
    }
}

/// A plan taken apart for the engine (see [`Plan`]'s fields).
pub(crate) struct PlanParts {
    pub(crate) password_type: PasswordType,
    pub(crate) scope: Scope,
    pub(crate) users: UserIdList,
    pub(crate) verdicts: Verdicts,
    pub(crate) duplicates: Vec<Duplicate>,
    pub(crate) prefetched: PrefetchedValues,
    pub(crate) user_groups: Vec<u32>,
}

/// The pre-check's verdicts, kept only where a user is not simply ready.
#[derive(Clone, Debug, Default)]
pub(crate) struct Verdicts {
    /// Refused users by position, with the reason, in order of position.
    pub(crate) rejected: Vec<(usize, String)>,
    /// SIP user names by position.
    pub(crate) sip_user_names: HashMap<usize, String>,
}

impl Verdicts {
    /// Notes a verdict; positions come in increasing order.
    fn note(&mut self, position: usize, status: PlannedStatus) {
        match status {
            PlannedStatus::Rejected { reason } => self.rejected.push((position, reason)),
            PlannedStatus::Ready {
                sip_user_name: Some(name),
            } => {
                self.sip_user_names.insert(position, name);
            }
            PlannedStatus::Ready {
                sip_user_name: None,
            } => {}
        }
    }

    /// Whether the user at `position` was refused, and why.
    pub(crate) fn rejection(&self, position: usize) -> Option<&str> {
        self.rejected
            .binary_search_by_key(&position, |(at, _)| *at)
            .ok()
            .map(|found| self.rejected[found].1.as_str())
    }
}

/// One target of a plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedUser {
    /// The user.
    pub user_id: UserId,
    /// Whether the user can be reset.
    pub status: PlannedStatus,
}

/// The pre-check's verdict on a user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PlannedStatus {
    /// The user exists in the group (and, for SIP, has the Authentication service).
    Ready {
        /// For SIP: the authentication user name, which a new password must not contain.
        sip_user_name: Option<String>,
    },
    /// The user cannot be reset; the reason is the server's text or the engine's.
    Rejected {
        /// Why.
        reason: String,
    },
}

/// How thoroughly a plan checks the users before a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Checks {
    /// Every user is checked on its own before anything is sent: for SIP one
    /// [`Backend::check_user`] per user (existence, the Authentication service, the group, the
    /// SIP user name). The complete picture, for a dry run; a SIP run costs two requests per
    /// user.
    #[default]
    Full,
    /// Membership from one group listing; only users missing from it are checked on their own
    /// (to say where they are). Whatever else could stop a user (it vanished since the listing,
    /// no Authentication service, a value containing the SIP user name) the setter's own answer
    /// says: the user ends `failed` with the server's reason, or gets a fresh value for a rule
    /// refusal. One request per user for every type. The first generator batch is fetched
    /// while the listing is read.
    Membership,
}

/// Resolves the targets, removes duplicates (keeping the first occurrence) and pre-checks the
/// users as `checks` says, `config.concurrency` at a time. Changes nothing on the server. The
/// request's list of users becomes the plan's (a list of a million users is not copied). With
/// [`Checks::Membership`] the plan also holds the generator's first batch, fetched while the
/// group listing was read.
///
/// Fails as a whole only when the run cannot start: the listing of the group failed, login no
/// longer works, the server cannot be reached, or there is no user at all. A user that fails the
/// check is in the plan as [`PlannedStatus::Rejected`].
pub async fn plan<B: Backend>(
    backend: &B,
    request: ResetRequest,
    config: &EngineConfig,
    checks: Checks,
) -> Result<Plan, Error> {
    // A run across groups has a pool per group: nothing is fetched early.
    let one_group = request.targets.one_group().cloned();
    let password_type = request.password_type;
    let prefetch = async move {
        // Values made per user are asked for user by user: nothing is fetched early.
        let group = match one_group {
            Some(group)
                if checks == Checks::Membership
                    && !backend.generates_per_user(password_type.credential()) =>
            {
                group
            }
            _ => return PrefetchedValues::default(),
        };
        match backend
            .generate(password_type.credential(), group.scope(), config.batch())
            .await
        {
            Ok(values) => PrefetchedValues::new(values),
            // The run's producer asks again; this one was only early.
            Err(error) => {
                tracing::debug!(%error, "the early generator batch failed");
                PrefetchedValues::default()
            }
        }
    };
    let (plan, prefetched) = tokio::join!(
        resolve_and_check(backend, request, config, checks),
        prefetch
    );
    let mut plan = plan?;
    plan.prefetched = prefetched;
    Ok(plan)
}

async fn resolve_and_check<B: Backend>(
    backend: &B,
    request: ResetRequest,
    config: &EngineConfig,
    checks: Checks,
) -> Result<Plan, Error> {
    let password_type = request.password_type;
    // Each user's index in the scope's groups: empty for a run of one group.
    let mut user_groups: Vec<u32> = Vec::new();
    let (users, duplicates, listed, scope) = match request.targets {
        Targets::Users { group, users } => {
            let (unique, duplicates) = deduplicate(&users, Unusable::Refuse)?;
            (
                unique.unwrap_or(users),
                duplicates,
                false,
                Some(Scope::group(group)),
            )
        }
        Targets::AllUsers { group } => {
            let listing = backend.group_user_ids(group.scope()).await?;
            let (unique, duplicates) = deduplicate(&listing, Unusable::Skip)?;
            (
                unique.unwrap_or(listing),
                duplicates,
                true,
                Some(Scope::group(group)),
            )
        }
        Targets::Grouped(grouped) => {
            let (unique, of, duplicates) =
                deduplicate_with(grouped.users.iter().zip(grouped.group_of.iter().copied()))?;
            user_groups = of;
            (unique, duplicates, false, Scope::across("", grouped.groups))
        }
        Targets::AllGroups {
            service_provider_id,
        } => {
            let group_ids = backend
                .service_provider_groups(&service_provider_id)
                .await
                .map_err(|error| unknown_group(error, &service_provider_id, None))?;
            // Each group's listing goes into the run's list as it comes: no second list.
            let mut listed = Unique::default();
            let mut groups = Vec::new();
            for group_id in group_ids {
                let group = GroupRef::new(&service_provider_id, group_id);
                let listing = backend
                    .group_user_ids(group.scope())
                    .await
                    .map_err(|error| unknown_group(error, &service_provider_id, Some(&group)))?;
                let index = u32::try_from(groups.len()).unwrap_or(u32::MAX);
                groups.push(group);
                for user in usable_ids(&listing) {
                    listed.push(user.as_str(), index)?;
                }
            }
            let (unique, of, duplicates) = listed.finish();
            user_groups = of;
            (
                unique,
                duplicates,
                true,
                Scope::across(service_provider_id, groups),
            )
        }
    };
    // Users found have a group: an empty table has no user either.
    let scope = match scope {
        Some(scope) if !users.is_empty() => scope,
        _ => return Err(Error::NoUsers),
    };
    let verdicts = precheck(
        backend,
        password_type,
        &Scopes {
            scope: &scope,
            user_groups: &user_groups,
        },
        &users,
        listed,
        checks,
        config,
    )
    .await?;
    Ok(Plan {
        password_type,
        scope,
        users,
        user_groups,
        rejected: verdicts.rejected,
        sip_user_names: verdicts.sip_user_names,
        duplicates,
        prefetched: PrefetchedValues::default(),
    })
}

/// The IDs of a group listing that can be user IDs (others are skipped with a warning).
fn usable_ids(listing: &UserIdList) -> impl Iterator<Item = UserId> + '_ {
    listing.iter().filter_map(|user_id| {
        UserId::try_from(user_id)
            .inspect_err(|error| {
                tracing::warn!(%error, "skipping an unusable user ID in the group listing");
            })
            .ok()
    })
}

/// A refused listing of a run across groups: an unknown group or service provider is the
/// caller's input, named; anything else stays the backend's error.
fn unknown_group(
    error: BackendError,
    service_provider_id: &str,
    group: Option<&GroupRef>,
) -> Error {
    if error.kind() != ErrorKind::GroupNotFound {
        return Error::Backend(error);
    }
    Error::UnknownGroup {
        service_provider_id: group
            .map_or(service_provider_id, |group| {
                group.service_provider_id.as_str()
            })
            .to_owned(),
        group_id: group.map(|group| group.group_id.clone()),
        reason: error.reason(),
    }
}

/// What [`deduplicate`] does with a text that is no user ID.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Unusable {
    /// Leaves it out, with a warning (a group listing: the server's data).
    Skip,
    /// Refuses the list (the caller's input).
    Refuse,
}

/// The users once each in first-seen order, each a checked [`UserId`] (trimmed), and those seen
/// more than once with their counts. `None` for the list: it is already that (the usual case,
/// which costs one index and no copy).
pub(crate) fn deduplicate(
    users: &UserIdList,
    unusable: Unusable,
) -> Result<(Option<UserIdList>, Vec<Duplicate>), Error> {
    let too_many = || Error::Internal {
        message: "more than four thousand million users",
    };
    {
        let mut index = IdIndex::with_capacity(users.len());
        let mut clean = true;
        for (position, id) in users.iter().enumerate() {
            let usable = UserId::check(id).is_ok_and(|checked| checked.len() == id.len());
            if !usable || index.find(users, id).is_some() {
                clean = false;
                break;
            }
            index.insert(users, position).map_err(|_| too_many())?;
        }
        if clean {
            return Ok((None, Vec::new()));
        }
    }
    let mut unique = UserIdList::with_capacity(users.len(), 0);
    let mut index = IdIndex::with_capacity(users.len());
    let mut occurrences: HashMap<usize, u32> = HashMap::new();
    for id in users.iter() {
        let id = match UserId::check(id) {
            Ok(id) => id,
            Err(error) if unusable == Unusable::Skip => {
                tracing::warn!(%error, "skipping an unusable user ID in the group listing");
                continue;
            }
            Err(error) => return Err(error),
        };
        match index.find(&unique, id) {
            Some(position) => *occurrences.entry(position).or_insert(1) += 1,
            None => {
                unique.push(id);
                index
                    .insert(&unique, unique.len() - 1)
                    .map_err(|_| too_many())?;
            }
        }
    }
    let mut duplicates: Vec<(usize, u32)> = occurrences.into_iter().collect();
    duplicates.sort_unstable_by_key(|(position, _)| *position);
    let duplicates = duplicates
        .into_iter()
        .map(|(position, occurrences)| Duplicate {
            user_id: UserId::checked(unique.get(position).unwrap_or_default()),
            occurrences,
        })
        .collect();
    Ok((Some(unique), duplicates))
}

/// The users of a run across groups once each in first-seen order, with their tags (their
/// groups): a user's first occurrence is kept, with its tag; and those seen more than once with
/// their counts.
pub(crate) fn deduplicate_with<S: AsRef<str>, T>(
    users: impl Iterator<Item = (S, T)>,
) -> Result<(UserIdList, Vec<T>, Vec<Duplicate>), Error> {
    let mut unique = Unique::default();
    for (user, tag) in users {
        unique.push(user.as_ref(), tag)?;
    }
    Ok(unique.finish())
}

/// Users added one at a time, kept once each in first-seen order with the tag of their first
/// occurrence, in a compact list and an index of positions (no second copy of any ID).
struct Unique<T> {
    users: UserIdList,
    index: IdIndex,
    tags: Vec<T>,
    /// Positions of the users seen more than once, and how many times.
    occurrences: HashMap<usize, u32>,
}

impl<T> Default for Unique<T> {
    fn default() -> Self {
        Unique {
            users: UserIdList::new(),
            index: IdIndex::with_capacity(0),
            tags: Vec::new(),
            occurrences: HashMap::new(),
        }
    }
}

impl<T> Unique<T> {
    fn push(&mut self, user: &str, tag: T) -> Result<(), Error> {
        match self.index.find(&self.users, user) {
            Some(position) => *self.occurrences.entry(position).or_insert(1) += 1,
            None => {
                self.users.push(user);
                self.index
                    .insert(&self.users, self.users.len() - 1)
                    .map_err(|_| Error::Internal {
                        message: "more than four thousand million users",
                    })?;
                self.tags.push(tag);
            }
        }
        Ok(())
    }

    fn finish(self) -> (UserIdList, Vec<T>, Vec<Duplicate>) {
        let mut duplicates: Vec<(usize, u32)> = self.occurrences.into_iter().collect();
        duplicates.sort_unstable_by_key(|(position, _)| *position);
        let duplicates = duplicates
            .into_iter()
            .map(|(position, occurrences)| Duplicate {
                user_id: UserId::checked(self.users.get(position).unwrap_or_default()),
                occurrences,
            })
            .collect();
        (self.users, self.tags, duplicates)
    }
}

/// Where the users of a pre-check are: the run's scope and each user's index in its groups.
pub(crate) struct Scopes<'a> {
    /// The groups; for a run across groups (group columns), a group the server does not know
    /// is [`Error::UnknownGroup`], and every group is listed (also for the full checks) to
    /// learn who is in it.
    pub scope: &'a Scope,
    /// The index in the scope's groups of each user; empty: every user is in the first.
    pub user_groups: &'a [u32],
}

impl Scopes<'_> {
    fn group_at(&self, position: usize) -> u32 {
        self.user_groups.get(position).copied().unwrap_or(0)
    }
}

/// One user to check, with its group and whether the group's listing lacks it.
struct CheckTarget {
    /// The user's position in the pre-check's list.
    position: usize,
    user: UserId,
    group: u32,
    /// Not in its group's listing: unless the check finds it in the group after all, it is not
    /// there.
    missing: bool,
}

/// Checks each user; the verdicts by position in `users`.
///
/// `listed`: the users come from the group listings themselves, so they exist in their groups.
pub(crate) async fn precheck<B: Backend>(
    backend: &B,
    password_type: PasswordType,
    scopes: &Scopes<'_>,
    users: &UserIdList,
    listed: bool,
    checks: Checks,
    config: &EngineConfig,
) -> Result<Verdicts, Error> {
    let credential = password_type.credential();
    let groups = scopes.scope.groups();
    // The users were named across groups: each group is the caller's input.
    let across = scopes.scope.group_columns();
    let target = |position: usize, missing: bool| CheckTarget {
        position,
        user: UserId::checked(users.get(position).unwrap_or_default()),
        group: scopes.group_at(position),
        missing,
    };
    // One check gives existence, the Authentication service, the group and the userName.
    let full = password_type == PasswordType::Sip && checks == Checks::Full;
    if listed && !full {
        return Ok(Verdicts::default());
    }
    if full && (listed || !across) {
        let targets = (0..users.len())
            .map(|position| target(position, false))
            .collect();
        let (mut verdicts, unlocated) =
            check_each(backend, credential, groups, targets, config).await?;
        if unlocated && !listed {
            // The checks did not say where some users are (OCI-P's do not): the group's
            // listing does. Only then is it read, so a backend whose checks say costs nothing
            // more.
            let listing = backend.group_user_ids(groups[0].scope()).await?;
            let members = IdIndex::of(&listing).map_err(|_| Error::Internal {
                message: "more than four thousand million users",
            })?;
            let outside: Vec<usize> = users
                .iter()
                .enumerate()
                .filter(|&(position, user)| {
                    verdicts.rejection(position).is_none() && members.find(&listing, user).is_none()
                })
                .map(|(position, _)| position)
                .collect();
            for position in outside {
                verdicts.sip_user_names.remove(&position);
                verdicts
                    .rejected
                    .push((position, not_among_users(&groups[0])));
            }
            verdicts.rejected.sort_by_key(|(position, _)| *position);
        }
        return Ok(verdicts);
    }
    // One listing per group; only users missing from their group's are looked at one by one
    // (for the full checks, every user, knowing who was missing).
    let mut outsiders: Vec<usize> = Vec::new();
    let by_group: Vec<Vec<u32>> = if groups.len() > 1 {
        let mut by_group = vec![Vec::new(); groups.len()];
        for position in 0..users.len() {
            if let Some(positions) = by_group.get_mut(scopes.group_at(position) as usize) {
                positions.push(position as u32);
            }
        }
        by_group
    } else {
        Vec::new()
    };
    for (index, group) in groups.iter().enumerate() {
        let listing = match backend.group_user_ids(group.scope()).await {
            Ok(listing) => listing,
            Err(error) if across => {
                return Err(unknown_group(
                    error,
                    &group.service_provider_id,
                    Some(group),
                ));
            }
            Err(error) => return Err(error.into()),
        };
        // The listing's own positions, not a second copy of its IDs.
        let members = IdIndex::of(&listing).map_err(|_| Error::Internal {
            message: "more than four thousand million users",
        })?;
        let mut note = |position: usize| {
            let user = users.get(position).unwrap_or_default();
            if members.find(&listing, user).is_none() {
                outsiders.push(position);
            }
        };
        match by_group.get(index) {
            Some(positions) => positions
                .iter()
                .for_each(|&position| note(position as usize)),
            None => (0..users.len()).for_each(note),
        }
    }
    drop(by_group);
    if full {
        outsiders.sort_unstable();
        let targets = (0..users.len())
            .map(|position| target(position, outsiders.binary_search(&position).is_ok()))
            .collect();
        return Ok(check_each(backend, credential, groups, targets, config)
            .await?
            .0);
    }
    let targets = outsiders
        .iter()
        .map(|&position| target(position, true))
        .collect();
    Ok(check_each(backend, credential, groups, targets, config)
        .await?
        .0)
}

/// The reason of a user missing from its group's listing whose check did not say where it is.
fn not_among_users(group: &GroupRef) -> String {
    format!("user is not in {group} (it is not among the group's users)")
}

/// Checks the targets for `credential`, at most `config.concurrency` at a time; the verdicts
/// by each target's position. Also says whether a user found ready was not placed by its check
/// (the answer named no group).
async fn check_each<B: Backend>(
    backend: &B,
    credential: Credential,
    groups: &[GroupRef],
    targets: Vec<CheckTarget>,
    config: &EngineConfig,
) -> Result<(Verdicts, bool), Error> {
    if targets.is_empty() {
        return Ok((Verdicts::default(), false));
    }
    let mut unlocated = false;
    let targets = Arc::new(targets);
    let next = Arc::new(AtomicUsize::new(0));
    let groups: Arc<Vec<GroupRef>> = Arc::new(groups.to_vec());
    let retry = Arc::new(CheckRetry::from(config));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..config.workers().min(targets.len()) {
        let (backend, targets, next, groups, retry) = (
            backend.clone(),
            Arc::clone(&targets),
            Arc::clone(&next),
            Arc::clone(&groups),
            Arc::clone(&retry),
        );
        tasks.spawn(async move {
            // Only what sets a user apart is kept: most users are simply ready. Whether a ready
            // user's check did not say where it is, is one flag for all.
            let mut verdicts = Vec::new();
            let mut unlocated = false;
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some(target) = targets.get(index) else {
                    return Ok((verdicts, unlocated));
                };
                let Some(group) = groups.get(target.group as usize) else {
                    return Err(Error::Internal {
                        message: "a user's group is not in the run's table",
                    });
                };
                let verdict =
                    check_with_retries(&backend, credential, group, target, &retry).await?;
                let (status, placed) = verdict;
                unlocated |= !placed && matches!(status, PlannedStatus::Ready { .. });
                if status
                    != (PlannedStatus::Ready {
                        sip_user_name: None,
                    })
                {
                    verdicts.push((target.position, status));
                }
            }
        });
    }
    let mut found: Vec<(usize, PlannedStatus)> = Vec::new();
    let mut failure = None;
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok((verdicts, task_unlocated))) => {
                unlocated |= task_unlocated;
                found.extend(verdicts);
            }
            Ok(Err(error)) => {
                if failure.is_none() {
                    failure = Some(error);
                    // The run cannot start: stop the other checks too.
                    tasks.abort_all();
                }
            }
            Err(join_error) if join_error.is_panic() => {
                std::panic::resume_unwind(join_error.into_panic())
            }
            Err(_) => {}
        }
    }
    if let Some(error) = failure {
        return Err(error);
    }
    found.sort_unstable_by_key(|(position, _)| *position);
    let mut verdicts = Verdicts::default();
    for (position, status) in found {
        verdicts.note(position, status);
    }
    Ok((verdicts, unlocated))
}

/// How often a pre-check is asked again after no clear answer (the server unavailable even after
/// the backend's own retries, an answer that could not be understood). This is the engine's one
/// retry of a read, on top of the backend's per-request retries: reads change nothing, so asking
/// again later is always safe, and one user's check is not given up for a passing outage.
#[derive(Debug)]
struct CheckRetry {
    max_retries: u32,
    backoff: bwreset_backend::Backoff,
}

impl From<&EngineConfig> for CheckRetry {
    fn from(config: &EngineConfig) -> Self {
        CheckRetry {
            max_retries: config.max_check_retries,
            backoff: config.retry_backoff,
        }
    }
}

async fn check_with_retries<B: Backend>(
    backend: &B,
    credential: Credential,
    group: &GroupRef,
    target: &CheckTarget,
    retry: &CheckRetry,
) -> Result<(PlannedStatus, bool), Error> {
    let mut retries = 0u32;
    loop {
        match check_one(backend, credential, group, target).await {
            Err(CheckError::Unclear(error)) if retries < retry.max_retries => {
                retries += 1;
                tracing::debug!(%error, retry = retries, "pre-check got no clear answer; asking again");
                tokio::time::sleep(retry.backoff.delay(retries)).await;
            }
            // No clear answer about this user even so: the user is not attempted; a later run
            // (or resume) checks again.
            Err(CheckError::Unclear(error)) => {
                return Ok((
                    PlannedStatus::Rejected {
                        reason: format!("pre-check failed: {error}"),
                    },
                    true,
                ));
            }
            Err(CheckError::Run(error)) => return Err(error),
            Ok(verdict) => return Ok(verdict),
        }
    }
}

enum CheckError {
    /// The run cannot start.
    Run(Error),
    /// No clear answer about this user (the server unavailable, an answer not understood).
    Unclear(BackendError),
}

async fn check_one<B: Backend>(
    backend: &B,
    credential: Credential,
    group: &GroupRef,
    target: &CheckTarget,
) -> Result<(PlannedStatus, bool), CheckError> {
    let (service_provider_id, group_id) =
        (group.service_provider_id.as_str(), group.group_id.as_str());
    match backend.check_user(target.user.as_str(), credential).await {
        // The server does not say where the user is, and the group's listing lacks it: the
        // user is not in the group (a backend whose checks name no group, such as OCI-P's).
        Ok(facts) if target.missing && facts.group_id.is_none() => Ok((
            PlannedStatus::Rejected {
                reason: not_among_users(group),
            },
            true,
        )),
        Ok(facts) => {
            let placed = facts.group_id.is_some();
            let provider_matches = facts
                .service_provider_id
                .as_deref()
                .is_none_or(|provider| provider == service_provider_id);
            let group_matches = facts
                .group_id
                .as_deref()
                .is_none_or(|group| group == group_id);
            if provider_matches && group_matches {
                Ok((
                    PlannedStatus::Ready {
                        sip_user_name: facts.sip_user_name,
                    },
                    placed,
                ))
            } else {
                Ok((
                    PlannedStatus::Rejected {
                        reason: format!(
                            "user is not in group `{group_id}` of service provider \
                         `{service_provider_id}` (it is in group `{}` of `{}`)",
                            facts.group_id.as_deref().unwrap_or("?"),
                            facts.service_provider_id.as_deref().unwrap_or("?"),
                        ),
                    },
                    true,
                ))
            }
        }
        Err(error) if error.kind().is_clear_refusal() => Ok((
            PlannedStatus::Rejected {
                reason: error.reason(),
            },
            true,
        )),
        // Login lost, server unreachable, bad configuration: the run cannot start.
        Err(error) if error.kind().stops_a_start() => Err(CheckError::Run(Error::Backend(error))),
        Err(error) => Err(CheckError::Unclear(error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deduplicate_keeps_first_occurrence_and_counts() {
        let ids: UserIdList = ["b", "a", " b", "c", "a", "b"].into_iter().collect();
        let (unique, duplicates) = deduplicate(&ids, Unusable::Refuse).unwrap();
        assert_eq!(unique.unwrap(), ["b", "a", "c"]);
        let duplicates: Vec<(&str, u32)> = duplicates
            .iter()
            .map(|duplicate| (duplicate.user_id.as_str(), duplicate.occurrences))
            .collect();
        assert_eq!(duplicates, [("b", 3), ("a", 2)]);

        let clean: UserIdList = ["b", "a", "c"].into_iter().collect();
        let (unique, duplicates) = deduplicate(&clean, Unusable::Refuse).unwrap();
        assert!(unique.is_none(), "a clean list is used as it is");
        assert!(duplicates.is_empty());

        let unusable: UserIdList = ["a", " ", "b"].into_iter().collect();
        assert!(deduplicate(&unusable, Unusable::Refuse).is_err());
        let (unique, _) = deduplicate(&unusable, Unusable::Skip).unwrap();
        assert_eq!(unique.unwrap(), ["a", "b"]);
    }

    #[test]
    fn grouped_users_hold_each_group_once_and_keep_a_user_under_its_first_group() {
        let mut grouped = GroupedUsers::new();
        for (provider, group, user) in [
            ("sp1", "g1", "a"),
            ("sp2", "g1", "b"),
            ("sp1", "g1", "c"),
            ("sp2", "g1", "a"),
            ("sp1", "g2", "d"),
        ] {
            grouped.push(provider, group, UserId::try_from(user).unwrap());
        }
        assert_eq!(grouped.len(), 5);
        assert_eq!(
            grouped.groups(),
            [
                GroupRef::new("sp1", "g1"),
                GroupRef::new("sp2", "g1"),
                GroupRef::new("sp1", "g2")
            ]
        );
        assert_eq!(grouped.group_of, [0, 1, 0, 1, 2]);
        let (unique, of, duplicates) =
            deduplicate_with(grouped.users.iter().zip(grouped.group_of.iter().copied())).unwrap();
        let unique: Vec<&str> = unique.iter().collect();
        assert_eq!(unique, ["a", "b", "c", "d"]);
        assert_eq!(of, [0, 1, 0, 2]);
        assert_eq!(duplicates.len(), 1);
    }
}
