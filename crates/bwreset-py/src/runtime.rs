//! One tokio runtime per process, made when first needed and made again in a forked child (whose
//! copy of the parent's runtime has no threads), and the one way Python waits on it.

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use tokio::runtime::Runtime;

/// How often a wait looks for a signal (Ctrl-C) that Python has to handle.
pub(crate) const SIGNAL_POLL: Duration = Duration::from_millis(50);

/// The runtime and the process that made it.
static RUNTIME: Mutex<Option<(u32, Arc<Runtime>)>> = Mutex::new(None);

/// The process's runtime. Multi-threaded, so that a simulator started from Python keeps serving
/// while Python does something else (a subprocess calling it, for one).
pub(crate) fn runtime() -> PyResult<Arc<Runtime>> {
    let mut slot = RUNTIME.lock().unwrap_or_else(PoisonError::into_inner);
    let process = std::process::id();
    if let Some((owner, runtime)) = slot.as_ref()
        && *owner == process
    {
        return Ok(Arc::clone(runtime));
    }
    // A runtime inherited through fork has no worker threads in this process; dropping it would
    // wait for threads that are not there, so it is forgotten instead.
    if let Some((_, inherited)) = slot.take() {
        std::mem::forget(inherited);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("bwreset")
        .enable_all()
        .build()
        .map_err(|error| {
            PyRuntimeError::new_err(format!("cannot start bwreset's runtime: {error}"))
        })?;
    let runtime = Arc::new(runtime);
    *slot = Some((process, Arc::clone(&runtime)));
    Ok(runtime)
}

/// Runs `work` on the runtime with the GIL released, and returns its output. Every
/// [`SIGNAL_POLL`] the GIL is taken back to let Python run its signal handlers: when one raises
/// (Ctrl-C's `KeyboardInterrupt`), the work is stopped where it is (every value already
/// journaled before it was sent, so `resume` finishes the run) and that exception is returned
/// once the work has been dropped.
pub(crate) fn wait<F, T>(py: Python<'_>, work: F) -> PyResult<T>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    wait_then(py, work, || ())
}

/// [`wait`], and when a signal stops the work, `settle` runs (the GIL released) before the
/// signal's exception is returned: the engine's own tasks are cancelled a moment after the work
/// itself, so a caller that must see their effects gone (a journal's lock released) waits for
/// that there.
pub(crate) fn wait_then<F, T>(py: Python<'_>, work: F, settle: impl FnOnce() + Send) -> PyResult<T>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let runtime = runtime()?;
    let mut task = runtime.spawn(work);
    loop {
        let finished = py.detach(|| {
            runtime.block_on(async { tokio::time::timeout(SIGNAL_POLL, &mut task).await })
        });
        match finished {
            Ok(Ok(output)) => return Ok(output),
            Ok(Err(error)) => {
                return Err(PyRuntimeError::new_err(format!(
                    "bwreset's work ended abnormally: {}",
                    if error.is_panic() {
                        "it panicked"
                    } else {
                        "it was cancelled"
                    }
                )));
            }
            Err(_still_running) => {
                if let Err(signal) = py.check_signals() {
                    task.abort();
                    py.detach(|| {
                        // Whatever it ended with, the signal's exception is what the caller sees.
                        let _ = runtime.block_on(&mut task);
                        settle();
                    });
                    return Err(signal);
                }
            }
        }
    }
}
