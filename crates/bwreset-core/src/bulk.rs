//! The seed's one-call API: reset a list of users and get their new values back.

use std::fmt;

use bwreset_backend::{Backend, UserIdList};
use serde::{Serialize, Serializer};

use crate::Error;
use crate::config::EngineConfig;
use crate::engine::execute;
use crate::journal::{Journal, JournalHeader, JournalStore};
use crate::plan::{Checks, ResetRequest, Targets, plan};
use crate::progress::NoProgress;
use crate::report::{NewCredential, Report};

/// What the `meta` of a journal [`bulk_password_reset`] writes says under `createdBy`.
const CREATED_BY: &str = "bulk_password_reset";

/// Whether a journal was written by [`bulk_password_reset`] (its header's `meta` says so): its
/// files, unlike a `bwreset reset` run's, are not named in the journal.
pub fn is_bulk_journal(header: &JournalHeader) -> bool {
    header
        .meta
        .get("createdBy")
        .and_then(serde_json::Value::as_str)
        == Some(CREATED_BY)
}
use crate::run_options::RunOptions;
use crate::types::{GroupRef, PasswordType, UserId};

/// What [`bulk_password_reset`] returns. Serialises as the seed's output: the array of
/// credentials.
#[derive(Clone)]
pub struct BulkResetResult {
    /// The new values of the users set, in input order.
    pub credentials: Vec<NewCredential>,
    /// Every user's outcome, failed and uncertain ones included.
    pub report: Report,
}

impl fmt::Debug for BulkResetResult {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("BulkResetResult")
            .field("credentials", &self.credentials)
            .field("report", &self.report)
            .finish()
    }
}

impl Serialize for BulkResetResult {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.credentials.serialize(serializer)
    }
}

/// Resets the `password_type` credential (`"sip"`, `"vm"`/`"voicemail"`, `"web"`, any case) of
/// `users` in `group_id` of `service_provider_id`, with [`EngineConfig::default`], journaling in
/// `journal` (a new file, or memory if the caller asks for it).
///
/// The result's `credentials` serialise to `[{"userId", "newPassword"}]` (SIP, WEB) or
/// `[{"userId", "newPasscode"}]` (VM), in input order, for the users set; `report` has every user.
pub async fn bulk_password_reset<B: Backend>(
    backend: &B,
    service_provider_id: &str,
    group_id: &str,
    users: &[&str],
    password_type: &str,
    journal: JournalStore,
) -> Result<BulkResetResult, Error> {
    bulk_password_reset_with(
        backend,
        service_provider_id,
        group_id,
        users,
        password_type,
        journal,
        &EngineConfig::default(),
    )
    .await
}

/// [`bulk_password_reset`] with a chosen [`EngineConfig`].
pub async fn bulk_password_reset_with<B: Backend>(
    backend: &B,
    service_provider_id: &str,
    group_id: &str,
    users: &[&str],
    password_type: &str,
    journal: JournalStore,
    config: &EngineConfig,
) -> Result<BulkResetResult, Error> {
    let password_type: PasswordType = password_type.parse()?;
    let users = users
        .iter()
        .map(|user| UserId::check(user))
        .collect::<Result<UserIdList, _>>()?;
    if users.is_empty() {
        return Err(Error::NoUsers);
    }
    let request = ResetRequest {
        password_type,
        targets: Targets::Users {
            group: GroupRef::new(service_provider_id, group_id),
            users,
        },
    };
    let plan = plan(backend, request, config, Checks::Membership).await?;
    let header = JournalHeader::for_plan(
        &plan,
        backend.server(),
        serde_json::json!({ "createdBy": CREATED_BY }),
    );
    let journal = match journal {
        JournalStore::File(path) => Journal::create(&path, header)?,
        JournalStore::Memory => Journal::memory(header),
    };
    let report = execute(backend, plan, journal, RunOptions::new(config, &NoProgress))
        .await?
        .into_report()?;
    Ok(BulkResetResult {
        credentials: report.credentials(),
        report,
    })
}
