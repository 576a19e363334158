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
#[pyfunction]
#[pyo3(signature = (arguments, password=None))]
fn run_cli_reporting(
    py: Python<'_>,
    arguments: Vec<String>,
    password: Option<String>,
) -> (u8, Option<String>) {
    let password = password.map(bwreset::SecretString::from);
    let end = py.detach(|| bwreset::run_reporting(arguments, password));
    (end.exit_code, end.error)
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
