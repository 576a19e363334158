//! A request to stop the command running in this process as Ctrl-C stops it, made by the
//! program that runs the command in its own process (the Python package watches for Python's
//! signals while the command works, and asks here). The standalone binary never asks: Ctrl-C
//! during its login ends the process, and during its run reaches it through
//! `tokio::signal::ctrl_c`.

use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Notify;

/// Set by [`request`] until the next command starts: a request made while the command is
/// between two waits (after the login, before the run) is seen by the next one.
static REQUESTED: AtomicBool = AtomicBool::new(false);
static WAKE: Notify = Notify::const_new();

/// Asks the command running in this process to stop as if Ctrl-C had been pressed: a login
/// in progress is abandoned (nothing was changed), a run stops with every value sent in its
/// journal (`resume` finishes it). Made when no command runs, it is forgotten when the next
/// command starts. One flag per process: a request stops every command running in it.
pub fn request() {
    REQUESTED.store(true, Ordering::SeqCst);
    WAKE.notify_waiters();
}

/// Forgets an earlier request, when a command starts.
pub(crate) fn clear() {
    REQUESTED.store(false, Ordering::SeqCst);
}

/// Resolves once [`request`] has been called (at once if it was, since the command started).
pub(crate) async fn requested() {
    loop {
        let notified = WAKE.notified();
        tokio::pin!(notified);
        // Registered before the flag is read, so that a request between the two is not missed.
        notified.as_mut().enable();
        if REQUESTED.load(Ordering::SeqCst) {
            return;
        }
        notified.await;
    }
}

/// Resolves on Ctrl-C or on a [`request`].
pub(crate) async fn ctrl_c() {
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = requested() => {}
    }
}
