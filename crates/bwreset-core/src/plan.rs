//! The plan: which users a run will reset, found and checked without changing anything.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use odin_client::OdinClient;

use crate::Error;
use crate::classify::is_user_refusal;
use crate::config::EngineConfig;
use crate::report::Duplicate;
use crate::types::{PasswordType, UserId};

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

/// Resolves the targets, removes duplicates (keeping the first occurrence) and pre-checks every
/// user, `config.concurrency` at a time. Changes nothing on the server.
///
/// Fails as a whole only when the run cannot start: the listing of the group failed, login no
/// longer works, the server cannot be reached, or there is no user at all. A user that fails the
/// check is in the plan as [`PlannedStatus::Rejected`].
pub async fn plan(
    client: &OdinClient,
    request: &ResetRequest,
    config: &EngineConfig,
) -> Result<Plan, Error> {
    let service_provider_id = request.service_provider_id.as_str();
    let group_id = request.group_id.as_str();
    let (users, duplicates, listed) = match &request.targets {
        Targets::Users(users) => {
            let (unique, duplicates) = deduplicate(users.iter().cloned());
            (unique, duplicates, false)
        }
        Targets::AllUsers => {
            let listing = client.group_user_ids(service_provider_id, group_id).await?;
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
        client,
        request.password_type,
        service_provider_id,
        group_id,
        &users,
        listed,
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
pub(crate) async fn precheck(
    client: &OdinClient,
    password_type: PasswordType,
    service_provider_id: &str,
    group_id: &str,
    users: &[UserId],
    listed: bool,
    config: &EngineConfig,
) -> Result<Vec<PlannedStatus>, Error> {
    let check = match password_type {
        // One read gives existence, the Authentication service, the group and the userName.
        PasswordType::Sip => Check::Authentication,
        _ if listed => {
            return Ok(vec![
                PlannedStatus::Ready {
                    sip_user_name: None
                };
                users.len()
            ]);
        }
        // One listing for everybody; only users missing from it are looked at one by one.
        PasswordType::Vm | PasswordType::Web => {
            let listing = client.group_user_ids(service_provider_id, group_id).await?;
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
                client,
                Check::Membership,
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
    };
    check_each(
        client,
        check,
        service_provider_id,
        group_id,
        users.to_vec(),
        config,
    )
    .await
}

#[derive(Clone, Copy, Debug)]
enum Check {
    /// `GET /users/authentication?userId=`.
    Authentication,
    /// `GET /users?userId=`, for a user missing from the group listing.
    Membership,
}

/// Runs `check` on every user, at most `config.concurrency` at a time.
async fn check_each(
    client: &OdinClient,
    check: Check,
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
    let retry = Arc::new(ReadRetry::from(config));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..config.workers().min(users.len()) {
        let (client, users, next, scope, retry) = (
            client.clone(),
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
                    check_with_retries(&client, check, &scope.0, &scope.1, user, &retry).await?;
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

/// How often a pre-check read that got no clear answer (after the client's own retries) is tried
/// again: reads change nothing, so trying again is always safe.
#[derive(Debug)]
struct ReadRetry {
    extra_attempts: u32,
    initial_backoff: std::time::Duration,
    max_backoff: std::time::Duration,
}

impl From<&EngineConfig> for ReadRetry {
    fn from(config: &EngineConfig) -> Self {
        ReadRetry {
            extra_attempts: config.max_ambiguous_retries,
            initial_backoff: config.ambiguous_backoff_initial,
            max_backoff: config.ambiguous_backoff_max,
        }
    }
}

async fn check_with_retries(
    client: &OdinClient,
    check: Check,
    service_provider_id: &str,
    group_id: &str,
    user: &UserId,
    retry: &ReadRetry,
) -> Result<PlannedStatus, Error> {
    let mut attempt = 0u32;
    loop {
        match check_one(client, check, service_provider_id, group_id, user).await {
            Err(CheckError::Unclear(error)) if attempt < retry.extra_attempts => {
                attempt += 1;
                tracing::debug!(%error, attempt, "pre-check got no clear answer; trying again");
                let pause = retry
                    .initial_backoff
                    .saturating_mul(1u32 << (attempt - 1).min(16))
                    .min(retry.max_backoff);
                tokio::time::sleep(pause).await;
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
    /// No clear answer about this user (transport failure, 5xx, 429 after the client's retries).
    Unclear(odin_client::Error),
}

async fn check_one(
    client: &OdinClient,
    check: Check,
    service_provider_id: &str,
    group_id: &str,
    user: &UserId,
) -> Result<PlannedStatus, CheckError> {
    let answer = match check {
        Check::Authentication => {
            client
                .user_authentication(user.as_str())
                .await
                .map(|authentication| {
                    (
                        authentication.service_provider_id,
                        authentication.group_id,
                        Some(authentication.user_name),
                    )
                })
        }
        Check::Membership => client
            .user(user.as_str())
            .await
            .map(|found| (found.service_provider_id, found.group_id, None)),
    };
    match answer {
        Ok((user_provider, user_group, sip_user_name)) => {
            let provider_matches = user_provider
                .as_deref()
                .is_none_or(|provider| provider == service_provider_id);
            let group_matches = user_group.as_deref().is_none_or(|group| group == group_id);
            if provider_matches && group_matches {
                Ok(PlannedStatus::Ready { sip_user_name })
            } else {
                Ok(PlannedStatus::Rejected {
                    reason: format!(
                        "user is not in group `{group_id}` of service provider \
                         `{service_provider_id}` (it is in group `{}` of `{}`)",
                        user_group.as_deref().unwrap_or("?"),
                        user_provider.as_deref().unwrap_or("?"),
                    ),
                })
            }
        }
        Err(error) if is_user_refusal(&error) => Ok(PlannedStatus::Rejected {
            reason: error
                .details()
                .map_or_else(|| error.to_string(), str::to_owned),
        }),
        // Login lost, server unreachable, bad configuration: the run cannot start.
        Err(
            error @ (odin_client::Error::Unauthorized { .. }
            | odin_client::Error::Connect { .. }
            | odin_client::Error::Config { .. }),
        ) => Err(CheckError::Run(Error::Client(error))),
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
