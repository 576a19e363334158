//! The native half of the drop-in `odins_spear.API` and `Scripter.bulk_password_reset`: a
//! logged-in client (Odin or OCI-P, as the URL's scheme says) and the engine's seed-style call
//! on it, every value journaled before it is sent.

use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bwreset::AnyBackend;
use bwreset_core::{
    EngineConfig, ExposeSecret, Journal, JournalStore, NoProgress, Outcome, Report, SecretString,
};
use ocip_client::{OcipClient, OcipConfig};
use odin_client::{ClientConfig, OdinClient};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::runtime::{wait, wait_then};
use crate::{LoginFailed, RunFailed};

/// The most OCI-P connections one call opens.
const MAX_OCIP_CONNECTIONS: usize = 64;

/// A logged-in session and the engine's tuning for it.
#[pyclass(frozen, module = "bwreset._native")]
pub(crate) struct Connection {
    backend: AnyBackend,
    config: EngineConfig,
}

#[pymethods]
impl Connection {
    /// Logs in to `base_url` (`https://.../api/v2` for Odin, `ocips://` or `ocip://` for OCI-P)
    /// with `concurrency` requests (over OCI-P: documents) in flight at most.
    #[staticmethod]
    fn login(
        py: Python<'_>,
        base_url: String,
        username: String,
        password: String,
        concurrency: usize,
    ) -> PyResult<Connection> {
        let password = SecretString::from(password);
        let concurrency = concurrency.max(1);
        if ocip_client::is_ocip_url(&base_url) {
            let connections = concurrency.min(MAX_OCIP_CONNECTIONS);
            let mut config = OcipConfig::new(base_url, username, password);
            config.connections = connections;
            config.warm_up = true;
            let client = wait(py, OcipClient::login(config))?
                .map_err(|error| LoginFailed::new_err(error_text(&error)))?;
            let per_document = ocip_client::MAX_COMMANDS_PER_DOCUMENT;
            return Ok(Connection {
                backend: AnyBackend::Ocip(client),
                config: EngineConfig {
                    concurrency: concurrency * per_document,
                    generate_batch: per_document * connections,
                    ..EngineConfig::default()
                },
            });
        }
        let mut config = ClientConfig::new(base_url, username, password);
        config.pacing.max_in_flight = config.pacing.max_in_flight.max(concurrency);
        config.pool_max_idle_per_host = config.pacing.max_in_flight;
        let client = wait(py, OdinClient::login(config))?
            .map_err(|error| LoginFailed::new_err(error_text(&error)))?;
        Ok(Connection {
            backend: AnyBackend::Odin(client),
            config: EngineConfig {
                concurrency,
                ..EngineConfig::default()
            },
        })
    }

    /// Resets `password_type` (`sip`, `vm`, `web`) for `users` of `group_id`, journaling in a new
    /// file at `journal`, and returns `{"credentials": [...], "failed": [...], "uncertain":
    /// [...], "stop_reason": str | None}`: the credentials in the seed's shape, in input order.
    fn bulk_password_reset<'py>(
        &self,
        py: Python<'py>,
        service_provider_id: String,
        group_id: String,
        users: Vec<String>,
        password_type: String,
        journal: PathBuf,
    ) -> PyResult<Bound<'py, PyDict>> {
        let backend = self.backend.clone();
        let config = self.config.clone();
        let journal_path = journal.clone();
        let settle = move || wait_until_unlocked(&journal_path);
        let result = wait_then(
            py,
            async move {
                let users: Vec<&str> = users.iter().map(String::as_str).collect();
                bwreset_core::bulk_password_reset_with(
                    &backend,
                    &service_provider_id,
                    &group_id,
                    &users,
                    &password_type,
                    JournalStore::File(journal),
                    &config,
                )
                .await
            },
            settle,
        )?
        .map_err(|error| RunFailed::new_err(error_text(&error)))?;
        outcome_dict(py, &result.report)
    }

    /// Finishes the run of the journal at `journal` (one made by `bulk_password_reset`): users
    /// set stay, pending and uncertain users get their journaled value again, failed ones a
    /// fresh one. Returns what `bulk_password_reset` returns, for every user of the journal.
    fn resume<'py>(&self, py: Python<'py>, journal: PathBuf) -> PyResult<Bound<'py, PyDict>> {
        let backend = self.backend.clone();
        let config = self.config.clone();
        let journal_path = journal.clone();
        let settle = move || wait_until_unlocked(&journal_path);
        let report = wait_then(
            py,
            async move {
                let journal = Journal::open(&journal)?;
                bwreset_core::resume(
                    &backend,
                    journal,
                    bwreset_core::RunOptions::new(&config, &NoProgress),
                )
                .await?
                .into_report()
            },
            settle,
        )?
        .map_err(|error| RunFailed::new_err(error_text(&error)))?;
        outcome_dict(py, &report)
    }

    /// Ends the session; a failure here changes nothing and is not reported.
    fn log_out(&self, py: Python<'_>) -> PyResult<()> {
        let backend = self.backend.clone();
        wait(py, async move { backend.log_out().await })
    }

    /// The server this session talks to.
    #[getter]
    fn server(&self) -> String {
        bwreset_core::Backend::server(&self.backend).to_owned()
    }
}

/// Longest wait for an interrupted run's journal to be closed.
const JOURNAL_CLOSE_WAIT: Duration = Duration::from_secs(10);

/// Waits until no one holds the lock of the journal at `path` (an interrupted run's tasks are
/// dropped a moment after the run itself; the last one closes the journal), so that a
/// `KeyboardInterrupt` reaches the caller with the journal closed and `resume` can open it at
/// once. The lock is per open file, so this process's own run holds it against this probe too.
fn wait_until_unlocked(path: &Path) {
    let deadline = Instant::now() + JOURNAL_CLOSE_WAIT;
    while Instant::now() < deadline {
        match File::open(path).map(|file| file.try_lock()) {
            Ok(Err(TryLockError::WouldBlock)) => std::thread::sleep(Duration::from_millis(2)),
            // Free (the probe's own lock goes with the file), gone, or unreadable: nothing to wait for.
            _ => return,
        }
    }
}

/// The server a journal names (its header's `baseUrl`) and the header's `meta` as JSON (whether
/// `bwreset reset` or `bulk_password_reset` wrote it).
#[pyfunction]
pub(crate) fn journal_header(journal: PathBuf) -> PyResult<(String, String)> {
    Journal::read_header(&journal)
        .map(|header| (header.server, header.meta.to_string()))
        .map_err(|error| RunFailed::new_err(error_text(&error)))
}

/// A report as `{"credentials", "failed", "uncertain", "stop_reason"}`, users in the report's
/// (the input's) order; the credentials in the seed's shape.
fn outcome_dict<'py>(py: Python<'py>, report: &Report) -> PyResult<Bound<'py, PyDict>> {
    let value_key = if report.password_type.is_passcode() {
        "newPasscode"
    } else {
        "newPassword"
    };
    let credentials = PyList::empty(py);
    let failed = PyList::empty(py);
    let uncertain = PyList::empty(py);
    for entry in &report.entries {
        let row = PyDict::new(py);
        row.set_item("userId", entry.user_id.as_str())?;
        match &entry.outcome {
            Outcome::Set { value } => {
                row.set_item(value_key, value.expose_secret())?;
                credentials.append(row)?;
            }
            Outcome::Failed { reason } => {
                row.set_item("reason", reason)?;
                failed.append(row)?;
            }
            Outcome::Uncertain { value, reason } => {
                row.set_item(value_key, value.expose_secret())?;
                row.set_item("reason", reason)?;
                uncertain.append(row)?;
            }
        }
    }
    let answer = PyDict::new(py);
    answer.set_item("credentials", credentials)?;
    answer.set_item("failed", failed)?;
    answer.set_item("uncertain", uncertain)?;
    answer.set_item("stop_reason", report.stop_reason.as_deref())?;
    Ok(answer)
}

/// An error and its causes on one line, as `error: cause: cause`.
fn error_text(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let words = cause.to_string();
        if !text.contains(&words) {
            text.push_str(": ");
            text.push_str(&words);
        }
        source = cause.source();
    }
    text
}
