//! The progress bar on stderr, fed by the engine's `Progress` callbacks.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bwreset_core::{DeviceStatus, OutcomeKind, Progress};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A bar counting users done, with the failed and uncertain so far in its message. Drawn only
/// when stderr is a terminal: in a log file or a pipe it would be noise.
#[derive(Debug)]
pub(crate) struct ProgressReporter {
    bar: ProgressBar,
    failed: AtomicU64,
    uncertain: AtomicU64,
    /// The device phase: when its bar took over (or its last status line was printed, without a
    /// terminal).
    devices_since: Mutex<Option<Instant>>,
}

/// Without a terminal, the device phase prints its status at most this often.
const STATUS_LINE_EVERY: Duration = Duration::from_secs(30);

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
            devices_since: Mutex::new(None),
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

/// The device phase in one line: each step out of its total, and the wait's time left.
pub(crate) fn device_line(status: &DeviceStatus) -> String {
    let mut line = format!(
        "phones: {}/{} rebuilt, {}/{} reset, {}/{} registered again",
        status.rebuilt,
        status.to_rebuild,
        status.reset,
        status.to_reset,
        status.registered,
        status.to_register
    );
    if let Some(left) = status.wait_left {
        let waiting = status.to_register.saturating_sub(status.registered);
        line.push_str(&format!(
            "; waiting for {waiting} phone(s), {} s left",
            left.as_secs()
        ));
    }
    line
}

impl Progress for ProgressReporter {
    #[expect(
        clippy::print_stderr,
        reason = "the device phase's status line is for the operator, on stderr"
    )]
    fn devices(&self, status: &DeviceStatus) {
        let Ok(mut since) = self.devices_since.lock() else {
            return;
        };
        let now = Instant::now();
        if since.is_none() {
            *since = Some(now);
            // The users' bar is done: the phones take its place.
            self.bar.set_length(0);
            self.bar.set_style(
                ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
        }
        let line = device_line(status);
        if !self.bar.is_hidden() {
            self.bar.set_message(line);
        } else if since.is_some_and(|last| now.duration_since(last) >= STATUS_LINE_EVERY) {
            // In a log: a line each 30 s, only while the phones take that long.
            *since = Some(now);
            eprintln!("{line}");
        }
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_device_line_counts_each_step_and_the_wait() {
        let mut status = DeviceStatus::default();
        status.rebuilt = 100;
        status.to_rebuild = 100;
        status.reset = 100;
        status.to_reset = 100;
        status.registered = 90;
        status.to_register = 100;
        assert_eq!(
            device_line(&status),
            "phones: 100/100 rebuilt, 100/100 reset, 90/100 registered again"
        );
        status.wait_left = Some(Duration::from_millis(168_500));
        assert_eq!(
            device_line(&status),
            "phones: 100/100 rebuilt, 100/100 reset, 90/100 registered again; waiting for 10 phone(s), 168 s left"
        );
    }
}
