//! The native module of the Python package `bwreset` (`bwreset._native`): the command line, the
//! seed's bulk reset over Odin or OCI-P, and the simulator, each a thin layer over the workspace's
//! crates. The Python package (`python/bwreset`) holds the public API: argument checks, the
//! drop-in `odins_spear` shapes, docstrings and stubs; this module trusts what it is given.
//!
//! Every call that waits on the network releases the GIL and runs on one tokio runtime per
//! process ([`runtime`]), polling for Ctrl-C while it waits.

mod connection;
mod runtime;
mod simulator;

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;

create_exception!(
    _native,
    NativeError,
    PyException,
    "A failure reported by bwreset's engine or clients."
);
create_exception!(
    _native,
    LoginFailed,
    NativeError,
    "The login was refused or the server could not be reached; nothing was changed."
);
create_exception!(
    _native,
    RunFailed,
    NativeError,
    "The run could not start or stopped part-way; the journal says what was done."
);

/// Runs the `bwreset` command line in this process with `arguments` (the program's name first)
/// and returns its exit code. Used by the package's `bwreset` console script.
#[pyfunction]
fn run_cli(py: Python<'_>, arguments: Vec<String>) -> u8 {
    py.detach(|| bwreset::run_with_args(arguments))
}

/// Runs the `bwreset` command line like [`run_cli`], and returns `(exit_code, error)`: the error
/// text the binary would have printed (`error: ...`, causes, `hint: ...`), or `None`. The
/// `password`, when given, is the login's, handed over directly (never through the environment).
///
/// The command works on a thread of its own while this one, the GIL released, looks for Python's
/// signals every [`runtime::SIGNAL_POLL`]: when a handler raises (Ctrl-C's `KeyboardInterrupt`),
/// the command is asked to stop as Ctrl-C stops it (a login abandoned, a run stopped with its
/// journal intact) and that exception is raised once it has ended.
#[pyfunction]
#[pyo3(signature = (arguments, password=None))]
fn run_cli_reporting(
    py: Python<'_>,
    arguments: Vec<String>,
    password: Option<String>,
) -> PyResult<(u8, Option<String>)> {
    let password = password.map(bwreset::SecretString::from);
    let (sender, mut receiver) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("bwreset-command".to_owned())
        .spawn(move || {
            let _ = sender.send(bwreset::run_reporting(arguments, password));
        })
        .map_err(|error| {
            pyo3::exceptions::PyRuntimeError::new_err(format!(
                "cannot start bwreset's command thread: {error}"
            ))
        })?;
    let mut signal = None;
    let end = loop {
        // The receiver goes into the wait and comes back (it may not be shared across threads).
        let (returned, received) = py.detach(move || {
            let received = receiver.recv_timeout(runtime::SIGNAL_POLL);
            (receiver, received)
        });
        receiver = returned;
        match received {
            Ok(end) => break end,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                if signal.is_none()
                    && let Err(raised) = py.check_signals()
                {
                    signal = Some(raised);
                }
                if signal.is_some() {
                    // Asked again at every poll: a command thread that starts late clears the
                    // request it has not seen yet (a request is forgotten when a command starts).
                    bwreset::interrupt::request();
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                return Err(pyo3::exceptions::PyRuntimeError::new_err(
                    "bwreset's command ended abnormally: it panicked",
                ));
            }
        }
    };
    match signal {
        Some(raised) => Err(raised),
        None => Ok((end.exit_code, end.error)),
    }
}

#[pymodule]
fn _native(module: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = module.py();
    module.add_function(wrap_pyfunction!(run_cli, module)?)?;
    module.add_function(wrap_pyfunction!(run_cli_reporting, module)?)?;
    module.add_function(wrap_pyfunction!(connection::journal_header, module)?)?;
    module.add_class::<connection::Connection>()?;
    module.add_class::<simulator::Simulator>()?;
    module.add("NativeError", py.get_type::<NativeError>())?;
    module.add("LoginFailed", py.get_type::<LoginFailed>())?;
    module.add("RunFailed", py.get_type::<RunFailed>())?;
    Ok(())
}
