//! The plan: which users a run will reset, found and checked without changing anything.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bwreset_backend::{Backend, BackendError, Credential, GroupScope};

use crate::Error;
use crate::config::EngineConfig;
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
    /// These users, in this order (duplicates allowed: reset once, reported).
    Users(Vec<UserId>),
    /// Every user of the group, as one group listing gives them.
    AllUsers,
}

/// The checked list of users for a run.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The request, with `targets` resolved to the de-duplicated list of users in input order.
    pub request: ResetRequest,
    /// Every target once, in input order.
    pub users: Vec<PlannedUser>,
    /// Users named more than once.
    pub duplicates: Vec<Duplicate>,
    /// Values the plan fetched from the generator ahead of the run ([`Checks::Membership`]),
    /// handed to the run's pool. Empty otherwise.
    pub prefetched: PrefetchedValues,
}

impl Plan {
    /// Users that passed the pre-check.
    pub fn ready_count(&self) -> usize {
        self.users
            .iter()
            .filter(|user| matches!(user.status, PlannedStatus::Ready { .. }))
            .count()
    }

    /// Users that failed the pre-check (they end failed with the reason).
    pub fn rejected_count(&self) -> usize {
        self.users.len() - self.ready_count()
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
            let (unique, duplicates) = deduplicate(users.iter().cloned());
            (unique, duplicates, false)
        }
        Targets::AllUsers => {
            let listing = backend
                .group_user_ids(GroupScope {
                    service_provider_id,
                    group_id,
                })
                .await?;
            let ids = listing.into_iter().filter_map(|user_id| {
                UserId::try_from(user_id)
                    .inspect_err(|error| {
                        tracing::warn!(%error, "skipping an unusable user ID in the group listing");
                    })
                    .ok()
            });
            let (unique, duplicates) = deduplicate(ids);
            (unique, duplicates, true)
        }
    };
    if users.is_empty() {
        return Err(Error::NoUsers);
    }
    let statuses = precheck(
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
    let planned = users
        .iter()
        .cloned()
        .zip(statuses)
        .map(|(user_id, status)| PlannedUser { user_id, status })
        .collect();
    Ok(Plan {
        request: ResetRequest {
            targets: Targets::Users(users),
            ..request.clone()
        },
        users: planned,
        duplicates,
        prefetched: PrefetchedValues::default(),
    })
}

/// The users once each in first-seen order, and those seen more than once with their counts.
pub(crate) fn deduplicate(users: impl Iterator<Item = UserId>) -> (Vec<UserId>, Vec<Duplicate>) {
    let mut seen: HashMap<UserId, (usize, u32)> = HashMap::new();
    let mut unique = Vec::new();
    for user in users {
        match seen.get_mut(&user) {
            Some((_, count)) => *count += 1,
            None => {
                seen.insert(user.clone(), (unique.len(), 1));
                unique.push(user);
            }
        }
    }
    let mut duplicates: Vec<(usize, Duplicate)> = seen
        .into_iter()
        .filter(|(_, (_, count))| *count > 1)
        .map(|(user_id, (position, occurrences))| {
            (
                position,
                Duplicate {
                    user_id,
                    occurrences,
                },
            )
        })
        .collect();
    duplicates.sort_unstable_by_key(|(position, _)| *position);
    (
        unique,
        duplicates
            .into_iter()
            .map(|(_, duplicate)| duplicate)
            .collect(),
    )
}

/// Checks each user; the verdicts come back in the order of `users`.
///
/// `listed`: the users come from the group listing itself, so they exist in the group.
#[expect(clippy::too_many_arguments)]
pub(crate) async fn precheck<B: Backend>(
    backend: &B,
    password_type: PasswordType,
    service_provider_id: &str,
    group_id: &str,
    users: &[UserId],
    listed: bool,
    checks: Checks,
    config: &EngineConfig,
) -> Result<Vec<PlannedStatus>, Error> {
    let credential = password_type.credential();
    match password_type {
        // One check gives existence, the Authentication service, the group and the userName.
        PasswordType::Sip if checks == Checks::Full => {}
        _ if listed => {
            return Ok(vec![
                PlannedStatus::Ready {
                    sip_user_name: None
                };
                users.len()
            ]);
        }
        // One listing for everybody; only users missing from it are looked at one by one.
        PasswordType::Sip | PasswordType::Vm | PasswordType::Web => {
            let listing = backend
                .group_user_ids(GroupScope {
                    service_provider_id,
                    group_id,
                })
                .await?;
            let members: HashSet<String> = listing.into_iter().collect();
            let mut statuses = Vec::with_capacity(users.len());
            let mut outsiders = Vec::new();
            for (position, user) in users.iter().enumerate() {
                if members.contains(user.as_str()) {
                    statuses.push(PlannedStatus::Ready {
                        sip_user_name: None,
                    });
                } else {
                    statuses.push(PlannedStatus::Rejected {
                        reason: String::new(),
                    });
                    outsiders.push(position);
                }
            }
            drop(members);
            let checked = check_each(
                backend,
                credential,
                service_provider_id,
                group_id,
                outsiders
                    .iter()
                    .map(|&position| users[position].clone())
                    .collect(),
                config,
            )
            .await?;
            for (position, status) in outsiders.into_iter().zip(checked) {
                statuses[position] = status;
            }
            return Ok(statuses);
        }
    }
    check_each(
        backend,
        credential,
        service_provider_id,
        group_id,
        users.to_vec(),
        config,
    )
    .await
}

/// Checks every user for `credential`, at most `config.concurrency` at a time.
async fn check_each<B: Backend>(
    backend: &B,
    credential: Credential,
    service_provider_id: &str,
    group_id: &str,
    users: Vec<UserId>,
    config: &EngineConfig,
) -> Result<Vec<PlannedStatus>, Error> {
    if users.is_empty() {
        return Ok(Vec::new());
    }
    let users = Arc::new(users);
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
            let mut verdicts = Vec::new();
            loop {
                let position = next.fetch_add(1, Ordering::Relaxed);
                let Some(user) = users.get(position) else {
                    return Ok(verdicts);
                };
                let status =
                    check_with_retries(&backend, credential, &scope.0, &scope.1, user, &retry)
                        .await?;
                verdicts.push((position, status));
            }
        });
    }
    let mut statuses: Vec<Option<PlannedStatus>> = vec![None; users.len()];
    let mut failure = None;
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok(verdicts)) => {
                for (position, status) in verdicts {
                    statuses[position] = Some(status);
                }
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
    Ok(statuses
        .into_iter()
        .map(|status| {
            status.unwrap_or_else(|| PlannedStatus::Rejected {
                reason: "pre-check did not run".into(),
            })
        })
        .collect())
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
        let ids = ["b", "a", "b", "c", "a", "b"]
            .into_iter()
            .map(|id| UserId::try_from(id).unwrap());
        let (unique, duplicates) = deduplicate(ids);
        let unique: Vec<&str> = unique.iter().map(UserId::as_str).collect();
        assert_eq!(unique, ["b", "a", "c"]);
        let duplicates: Vec<(&str, u32)> = duplicates
            .iter()
            .map(|duplicate| (duplicate.user_id.as_str(), duplicate.occurrences))
            .collect();
        assert_eq!(duplicates, [("b", 3), ("a", 2)]);
    }
}
