//! The progress bar on stderr, fed by the engine's `Progress` callbacks.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bwreset_core::{OutcomeKind, Progress};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A bar counting users done, with the failed and uncertain so far in its message. Drawn only
/// when stderr is a terminal: in a log file or a pipe it would be noise.
#[derive(Debug)]
pub(crate) struct ProgressReporter {
    bar: ProgressBar,
    failed: AtomicU64,
    uncertain: AtomicU64,
}

impl ProgressReporter {
    pub(crate) fn for_stderr() -> Self {
        let target = if std::io::stderr().is_terminal() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = ProgressBar::with_draw_target(None, target);
        let style = ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} users {msg} (eta {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        ProgressReporter {
            bar,
            failed: AtomicU64::new(0),
            uncertain: AtomicU64::new(0),
        }
    }

    /// Removes the bar, so that the summary that follows stands alone.
    pub(crate) fn finish(&self) {
        self.bar.finish_and_clear();
    }

    fn update_message(&self) {
        let failed = self.failed.load(Ordering::Relaxed);
        let uncertain = self.uncertain.load(Ordering::Relaxed);
        if failed + uncertain > 0 {
            self.bar
                .set_message(format!("({failed} failed, {uncertain} uncertain)"));
        }
    }
}

impl Progress for ProgressReporter {
    fn start(&self, total: u64) {
        self.bar.set_length(total);
        self.bar.set_position(0);
        self.bar.enable_steady_tick(Duration::from_millis(200));
    }

    fn user_done(&self, outcome: OutcomeKind) {
        match outcome {
            OutcomeKind::Set => {}
            OutcomeKind::Failed => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                self.update_message();
            }
            OutcomeKind::Uncertain => {
                self.uncertain.fetch_add(1, Ordering::Relaxed);
                self.update_message();
            }
        }
        self.bar.inc(1);
    }

    #[expect(
        clippy::print_stderr,
        reason = "progress messages are for the operator, on stderr"
    )]
    fn message(&self, message: &str) {
        // Printed above the bar (or straight to stderr when the bar is hidden).
        if self.bar.is_hidden() {
            eprintln!("{message}");
        } else {
            self.bar.println(message);
        }
    }
}
