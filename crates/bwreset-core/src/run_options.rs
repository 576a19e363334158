//! How [`crate::execute`] and [`crate::resume`] run: the engine's settings, where progress
//! goes, and, when asked, the phone phase after the credentials.

use std::future::Future;
use std::pin::Pin;

use bwreset_backend::DeviceBackend;

use crate::Error;
use crate::config::EngineConfig;
use crate::devices::{DeviceOptions, DeviceReport, follow_up_devices, read_device_report};
use crate::journal::Journal;
use crate::progress::Progress;

/// The options of [`crate::execute`] and [`crate::resume`].
///
/// ```
/// # use bwreset_core::{EngineConfig, NoProgress, RunOptions};
/// let config = EngineConfig::default();
/// // The credentials only; `with_phones` adds the phone phase of a SIP run.
/// let options = RunOptions::new(&config, &NoProgress);
/// assert!(!options.has_phones());
/// ```
pub struct RunOptions<'a> {
    /// The engine's settings.
    pub config: &'a EngineConfig,
    /// Where the run reports its progress (the credentials' and the phones').
    pub progress: &'a dyn Progress,
    /// The phone phase, run on the same journal once the credentials are done.
    phones: Option<PhonePhase>,
}

impl std::fmt::Debug for RunOptions<'_> {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("RunOptions")
            .field("config", self.config)
            .field(
                "phones",
                &self.phones.as_ref().map(|phones| &phones.options),
            )
            .finish_non_exhaustive()
    }
}

impl<'a> RunOptions<'a> {
    /// The credentials only, with `config`, progress to `progress`.
    pub fn new(config: &'a EngineConfig, progress: &'a dyn Progress) -> Self {
        RunOptions {
            config,
            progress,
            phones: None,
        }
    }

    /// The same run followed by the phone phase of a SIP run
    /// ([`crate::follow_up_devices`] with `options`, through `backend`, usually the run's own
    /// backend), its [`DeviceReport`] in [`crate::JournalReport::phones`]. A phone phase that
    /// stops part-way (a server gone) ends in the report of what it did, its
    /// [`DeviceReport::stop_reason`] set, so that the credentials' report is never lost to it.
    pub fn with_phones<D: DeviceBackend>(self, backend: &D, options: DeviceOptions) -> Self {
        let backend = backend.clone();
        let run: PhoneRun = Box::new(move |journal, options, progress| {
            Box::pin(async move { follow_up_devices(&backend, journal, options, progress).await })
        });
        RunOptions {
            phones: Some(PhonePhase { options, run }),
            ..self
        }
    }

    /// Whether the run goes on to the phones.
    pub fn has_phones(&self) -> bool {
        self.phones.is_some()
    }

    /// The phone phase, taken out to run after the credentials.
    pub(crate) fn take_phones(&mut self) -> Option<PhonePhase> {
        self.phones.take()
    }
}

/// The future of a phone phase, borrowing the journal and the progress.
type PhoneFuture<'j> = Pin<Box<dyn Future<Output = Result<DeviceReport, Error>> + Send + 'j>>;

/// A phone phase through the backend it was given (kept as a clone, so that the options name no
/// backend type and a backend without devices still runs the credentials).
type PhoneRun = Box<
    dyn for<'j> FnOnce(&'j Journal, &'j DeviceOptions, &'j dyn Progress) -> PhoneFuture<'j>
        + Send
        + Sync,
>;

/// The phone phase of [`RunOptions::with_phones`].
pub(crate) struct PhonePhase {
    options: DeviceOptions,
    run: PhoneRun,
}

impl PhonePhase {
    /// Runs the phones on `journal`; a phase that fails part-way gives the report of what it
    /// did, with the failure as its stop reason (a report of no device with that reason when
    /// even that cannot be read): never an error, so the credentials' report always survives.
    pub(crate) async fn run(self, journal: &Journal, progress: &dyn Progress) -> DeviceReport {
        let PhonePhase { options, run } = self;
        match run(journal, &options, progress).await {
            Ok(report) => report,
            Err(error) => {
                let reason = error.to_string();
                read_device_report(journal, &options, Some(reason.clone()))
                    .await
                    .unwrap_or_else(|_| DeviceReport {
                        stop_reason: Some(reason),
                        ..DeviceReport::default()
                    })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::{DeviceAction, JournalHeader};
    use crate::progress::NoProgress;
    use crate::types::PasswordType;

    fn journal() -> Journal {
        Journal::memory(JournalHeader::new(
            PasswordType::Sip,
            "sp",
            "g",
            "http://127.0.0.1:1",
            serde_json::Value::Null,
        ))
    }

    /// A phone phase that fails part-way ends in the report of what it did, the failure as its
    /// stop reason: the credentials' report it is attached to is never lost to it.
    #[tokio::test]
    async fn a_failed_phone_phase_is_a_report_with_its_stop_reason() {
        let run: PhoneRun = Box::new(|_, _, _| {
            Box::pin(async {
                Err(Error::Internal {
                    message: "the phones went away",
                })
            })
        });
        let phones = PhonePhase {
            options: DeviceOptions::new(DeviceAction::Reset),
            run,
        };
        let report = phones.run(&journal(), &NoProgress).await;
        let reason = report.stop_reason.expect("stopped");
        assert!(reason.contains("the phones went away"), "{reason}");
        assert!(report.entries.is_empty());
    }

    #[tokio::test]
    async fn a_phone_phase_that_ends_gives_its_own_report() {
        let run: PhoneRun = Box::new(|_, _, _| Box::pin(async { Ok(DeviceReport::default()) }));
        let phones = PhonePhase {
            options: DeviceOptions::new(DeviceAction::Reset),
            run,
        };
        let report = phones.run(&journal(), &NoProgress).await;
        assert_eq!(report, DeviceReport::default());
        let config = EngineConfig::default();
        assert!(!RunOptions::new(&config, &NoProgress).has_phones());
    }
}
