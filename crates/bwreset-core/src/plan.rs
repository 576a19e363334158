//! The plan: which users a run will reset, found and checked without changing anything.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bwreset_backend::{Backend, BackendError, Credential, GroupScope, UserIdList};

use crate::Error;
use crate::config::EngineConfig;
use crate::ids::IdIndex;
use crate::report::Duplicate;
use crate::types::{PasswordType, UserId};
use crate::values::PrefetchedValues;

/// What the caller asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResetRequest {
    /// The service provider.
    pub service_provider_id: String,
    /// The group.
    pub group_id: String,
    /// The credential to reset.
    pub password_type: PasswordType,
    /// Whom.
    pub targets: Targets,
}

/// The users a request names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Targets {
    /// These users, in this order (duplicates allowed: reset once, reported). Each must be a
    /// valid [`UserId`] (the plan refuses the request otherwise).
    Users(UserIdList),
    /// Every user of the group, as one group listing gives them.
    AllUsers,
}

/// The checked list of users for a run, kept compactly: the IDs once, in the request's
/// `targets`, and only what sets a user apart (a rejection, a SIP user name) beside them.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The request, with `targets` resolved to the de-duplicated list of users in input order
    /// ([`Targets::Users`]): the plan's users are that list.
    pub request: ResetRequest,
    /// The users the pre-check refused: their position in the list and why, in order.
    rejected: Vec<(usize, String)>,
    /// For SIP after [`Checks::Full`]: the authentication user names, by position.
    sip_user_names: HashMap<usize, String>,
    /// Users named more than once.
    pub duplicates: Vec<Duplicate>,
    /// Values the plan fetched from the generator ahead of the run ([`Checks::Membership`]),
    /// handed to the run's pool. Empty otherwise.
    pub prefetched: PrefetchedValues,
}

impl Plan {
    /// A plan of users checked elsewhere: `users` in order, each once.
    pub fn from_users(
        request: ResetRequest,
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
            request: ResetRequest {
                targets: Targets::Users(list),
                ..request
            },
            rejected: verdicts.rejected,
            sip_user_names: verdicts.sip_user_names,
            duplicates,
            prefetched: PrefetchedValues::default(),
        }
    }

    /// The users, once each, in input order.
    pub fn user_ids(&self) -> &UserIdList {
        match &self.request.targets {
            Targets::Users(users) => users,
            Targets::AllUsers => empty_list(),
        }
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

    /// The parts the engine runs from: the request, the verdicts, the prefetched values.
    pub(crate) fn into_parts(self) -> (ResetRequest, Verdicts, Vec<Duplicate>, PrefetchedValues) {
        (
            self.request,
            Verdicts {
                rejected: self.rejected,
                sip_user_names: self.sip_user_names,
            },
            self.duplicates,
            self.prefetched,
        )
    }
}

fn empty_list() -> &'static UserIdList {
    static EMPTY: std::sync::OnceLock<UserIdList> = std::sync::OnceLock::new();
    EMPTY.get_or_init(UserIdList::new)
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

/// Resolves the targets, removes duplicates (keeping the first occurrence) and pre-checks every
/// user with [`Checks::Full`], `config.concurrency` at a time. Changes nothing on the server.
///
/// Fails as a whole only when the run cannot start: the listing of the group failed, login no
/// longer works, the server cannot be reached, or there is no user at all. A user that fails the
/// check is in the plan as [`PlannedStatus::Rejected`].
pub async fn plan<B: Backend>(
    backend: &B,
    request: &ResetRequest,
    config: &EngineConfig,
) -> Result<Plan, Error> {
    plan_with(backend, request, config, Checks::Full).await
}

/// [`plan`] with the [`Checks`] to make. With [`Checks::Membership`] the plan also holds the
/// generator's first batch, fetched while the group listing was read (changes nothing).
pub async fn plan_with<B: Backend>(
    backend: &B,
    request: &ResetRequest,
    config: &EngineConfig,
    checks: Checks,
) -> Result<Plan, Error> {
    let prefetch = async {
        if checks != Checks::Membership {
            return PrefetchedValues::default();
        }
        let group = GroupScope {
            service_provider_id: &request.service_provider_id,
            group_id: &request.group_id,
        };
        match backend
            .generate(request.password_type.credential(), group, config.batch())
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
    request: &ResetRequest,
    config: &EngineConfig,
    checks: Checks,
) -> Result<Plan, Error> {
    let service_provider_id = request.service_provider_id.as_str();
    let group_id = request.group_id.as_str();
    let (users, duplicates, listed) = match &request.targets {
        Targets::Users(users) => {
            let (unique, duplicates) = deduplicate(users, Unusable::Refuse)?;
            (unique.unwrap_or_else(|| users.clone()), duplicates, false)
        }
        Targets::AllUsers => {
            let listing = backend
                .group_user_ids(GroupScope {
                    service_provider_id,
                    group_id,
                })
                .await?;
            let (unique, duplicates) = deduplicate(&listing, Unusable::Skip)?;
            (unique.unwrap_or(listing), duplicates, true)
        }
    };
    if users.is_empty() {
        return Err(Error::NoUsers);
    }
    let verdicts = precheck(
        backend,
        request.password_type,
        service_provider_id,
        group_id,
        &users,
        listed,
        checks,
        config,
    )
    .await?;
    Ok(Plan {
        request: ResetRequest {
            targets: Targets::Users(users),
            ..request.clone_without_targets()
        },
        rejected: verdicts.rejected,
        sip_user_names: verdicts.sip_user_names,
        duplicates,
        prefetched: PrefetchedValues::default(),
    })
}

impl ResetRequest {
    /// The request without its list of users (which may be long).
    fn clone_without_targets(&self) -> ResetRequest {
        ResetRequest {
            service_provider_id: self.service_provider_id.clone(),
            group_id: self.group_id.clone(),
            password_type: self.password_type,
            targets: Targets::AllUsers,
        }
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
    unique.shrink_to_fit();
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

/// Checks each user; the verdicts by position in `users`.
///
/// `listed`: the users come from the group listing itself, so they exist in the group.
#[expect(clippy::too_many_arguments)]
pub(crate) async fn precheck<B: Backend>(
    backend: &B,
    password_type: PasswordType,
    service_provider_id: &str,
    group_id: &str,
    users: &UserIdList,
    listed: bool,
    checks: Checks,
    config: &EngineConfig,
) -> Result<Verdicts, Error> {
    let credential = password_type.credential();
    match password_type {
        // One check gives existence, the Authentication service, the group and the userName.
        PasswordType::Sip if checks == Checks::Full => {}
        _ if listed => return Ok(Verdicts::default()),
        // One listing for everybody; only users missing from it are looked at one by one.
        PasswordType::Sip | PasswordType::Vm | PasswordType::Web => {
            let listing = backend
                .group_user_ids(GroupScope {
                    service_provider_id,
                    group_id,
                })
                .await?;
            let members = IdIndex::of(&listing).map_err(|_| Error::Internal {
                message: "more than four thousand million users",
            })?;
            let outsiders: Vec<usize> = users
                .iter()
                .enumerate()
                .filter(|(_, user)| members.find(&listing, user).is_none())
                .map(|(position, _)| position)
                .collect();
            drop((members, listing));
            return check_each(
                backend,
                credential,
                service_provider_id,
                group_id,
                users,
                outsiders,
                config,
            )
            .await;
        }
    }
    check_each(
        backend,
        credential,
        service_provider_id,
        group_id,
        users,
        (0..users.len()).collect(),
        config,
    )
    .await
}

/// Checks the users at `positions` of `users` for `credential`, at most `config.concurrency`
/// at a time.
async fn check_each<B: Backend>(
    backend: &B,
    credential: Credential,
    service_provider_id: &str,
    group_id: &str,
    users: &UserIdList,
    positions: Vec<usize>,
    config: &EngineConfig,
) -> Result<Verdicts, Error> {
    if positions.is_empty() {
        return Ok(Verdicts::default());
    }
    let to_check: UserIdList = positions.iter().filter_map(|&at| users.get(at)).collect();
    let users = Arc::new(to_check);
    let next = Arc::new(AtomicUsize::new(0));
    let scope = Arc::new((service_provider_id.to_owned(), group_id.to_owned()));
    let retry = Arc::new(CheckRetry::from(config));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..config.workers().min(users.len()) {
        let (backend, users, next, scope, retry) = (
            backend.clone(),
            Arc::clone(&users),
            Arc::clone(&next),
            Arc::clone(&scope),
            Arc::clone(&retry),
        );
        tasks.spawn(async move {
            // Only what sets a user apart is kept: most users are simply ready.
            let mut verdicts = Vec::new();
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some(user) = users.get(index) else {
                    return Ok(verdicts);
                };
                let user = UserId::checked(user);
                let status =
                    check_with_retries(&backend, credential, &scope.0, &scope.1, &user, &retry)
                        .await?;
                if status
                    != (PlannedStatus::Ready {
                        sip_user_name: None,
                    })
                {
                    verdicts.push((index, status));
                }
            }
        });
    }
    let mut found: Vec<(usize, PlannedStatus)> = Vec::new();
    let mut failure = None;
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok(verdicts)) => found.extend(verdicts),
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
    found.sort_unstable_by_key(|(index, _)| *index);
    let mut verdicts = Verdicts::default();
    for (index, status) in found {
        verdicts.note(positions[index], status);
    }
    Ok(verdicts)
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
    service_provider_id: &str,
    group_id: &str,
    user: &UserId,
    retry: &CheckRetry,
) -> Result<PlannedStatus, Error> {
    let mut retries = 0u32;
    loop {
        match check_one(backend, credential, service_provider_id, group_id, user).await {
            Err(CheckError::Unclear(error)) if retries < retry.max_retries => {
                retries += 1;
                tracing::debug!(%error, retry = retries, "pre-check got no clear answer; asking again");
                tokio::time::sleep(retry.backoff.delay(retries)).await;
            }
            // No clear answer about this user even so: the user is not attempted; a later run
            // (or resume) checks again.
            Err(CheckError::Unclear(error)) => {
                return Ok(PlannedStatus::Rejected {
                    reason: format!("pre-check failed: {error}"),
                });
            }
            Err(CheckError::Run(error)) => return Err(error),
            Ok(status) => return Ok(status),
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
    service_provider_id: &str,
    group_id: &str,
    user: &UserId,
) -> Result<PlannedStatus, CheckError> {
    match backend.check_user(user.as_str(), credential).await {
        Ok(facts) => {
            let provider_matches = facts
                .service_provider_id
                .as_deref()
                .is_none_or(|provider| provider == service_provider_id);
            let group_matches = facts
                .group_id
                .as_deref()
                .is_none_or(|group| group == group_id);
            if provider_matches && group_matches {
                Ok(PlannedStatus::Ready {
                    sip_user_name: facts.sip_user_name,
                })
            } else {
                Ok(PlannedStatus::Rejected {
                    reason: format!(
                        "user is not in group `{group_id}` of service provider \
                         `{service_provider_id}` (it is in group `{}` of `{}`)",
                        facts.group_id.as_deref().unwrap_or("?"),
                        facts.service_provider_id.as_deref().unwrap_or("?"),
                    ),
                })
            }
        }
        Err(error) if error.kind().is_clear_refusal() => Ok(PlannedStatus::Rejected {
            reason: error.reason(),
        }),
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
}
