//! `bwreset.testing.Simulator`'s native half: the workspace's simulator (odin-sim) served from
//! this process's runtime, its Odin and OCI-P fronts, faults and truth.

use std::sync::{Mutex, PoisonError};

use odin_sim::{Faults, OcipFrontConfig, SimConfig, SimHandle, WorldSpec};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;

use crate::runtime::{runtime, wait};

/// A running simulator; `stop` (or dropping it) stops it.
#[pyclass(frozen, module = "bwreset._native")]
pub(crate) struct Simulator {
    handle: Mutex<Option<SimHandle>>,
}

#[pymethods]
impl Simulator {
    /// Starts a simulator on loopback. `world` is a fixture as JSON (odin-sim's `WorldSpec`);
    /// without one, `service_providers` x `groups` x `users` seeded users (one of each:
    /// `demo-sp`, `demo-group`, `user0001@demo.example`, ...). `faults` is odin-sim's `Faults`
    /// as JSON. `ocip` adds the OCI-P front (plain TCP on loopback).
    #[new]
    #[pyo3(signature = (*, users, groups, service_providers, world, faults, seed, ocip, username, password))]
    #[expect(
        clippy::too_many_arguments,
        reason = "keyword arguments of one Python constructor"
    )]
    fn new(
        py: Python<'_>,
        users: usize,
        groups: usize,
        service_providers: usize,
        world: Option<String>,
        faults: Option<String>,
        seed: Option<u64>,
        ocip: bool,
        username: String,
        password: String,
    ) -> PyResult<Simulator> {
        let mut config = if service_providers == 1 && groups == 1 {
            SimConfig::with_users(users)
        } else {
            SimConfig::with_groups(service_providers, groups, users)
        };
        if let Some(world) = world {
            config.world = serde_json::from_str::<WorldSpec>(&world)
                .map_err(|error| PyValueError::new_err(format!("invalid world: {error}")))?;
        }
        if let Some(faults) = faults {
            config.faults = parse_faults(&faults)?;
        }
        config.seed = seed;
        config.login = (username, password);
        if ocip {
            config.ocip = Some(OcipFrontConfig::default());
        }
        let handle = wait(py, odin_sim::spawn(config))?.map_err(|error| {
            PyRuntimeError::new_err(format!("cannot start the simulator: {error}"))
        })?;
        Ok(Simulator {
            handle: Mutex::new(Some(handle)),
        })
    }

    /// The Odin API's base URL (`http://127.0.0.1:PORT/api/v2`).
    #[getter]
    fn base_url(&self) -> PyResult<String> {
        self.with_handle(SimHandle::base_url)
    }

    /// The OCI-P front's URL (`ocip://127.0.0.1:PORT`), if it was asked for.
    #[getter]
    fn ocip_url(&self) -> PyResult<Option<String>> {
        self.with_handle(SimHandle::ocip_url)
    }

    /// Every user's true credentials as JSON: `[{"userId", "sipUserName", "sipPassword",
    /// "portalPasscode", "webPassword", "changes": {"sip", "vm", "web"}}]`.
    fn credentials_json(&self) -> PyResult<String> {
        let all = self.with_handle(SimHandle::all_credentials)?;
        serde_json::to_string(&all).map_err(|error| PyRuntimeError::new_err(error.to_string()))
    }

    /// The faults in force, as JSON.
    fn faults_json(&self) -> PyResult<String> {
        let faults = self.with_handle(SimHandle::faults)?;
        serde_json::to_string(&faults).map_err(|error| PyRuntimeError::new_err(error.to_string()))
    }

    /// Replaces the faults (odin-sim's `Faults` as JSON).
    fn set_faults_json(&self, faults: &str) -> PyResult<()> {
        let faults = parse_faults(faults)?;
        self.with_handle(|handle| handle.set_faults(faults))
    }

    /// Stops the server; later calls raise `RuntimeError`. Stopping twice does nothing.
    fn stop(&self, py: Python<'_>) -> PyResult<()> {
        let handle = self
            .handle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(handle) = handle {
            wait(py, handle.shutdown())?;
        }
        Ok(())
    }
}

impl Simulator {
    fn with_handle<T>(&self, read: impl FnOnce(&SimHandle) -> T) -> PyResult<T> {
        let handle = self.handle.lock().unwrap_or_else(PoisonError::into_inner);
        match handle.as_ref() {
            Some(handle) => Ok(read(handle)),
            None => Err(PyRuntimeError::new_err("the simulator is stopped")),
        }
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        let handle = self
            .handle
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        // Dropping the handle stops the server; the runtime must be current for its tasks.
        if let (Some(handle), Ok(runtime)) = (handle, runtime()) {
            let _guard = runtime.enter();
            drop(handle);
        }
    }
}

fn parse_faults(faults: &str) -> PyResult<Faults> {
    let faults: Faults = serde_json::from_str(faults)
        .map_err(|error| PyValueError::new_err(format!("invalid faults: {error}")))?;
    faults
        .validate()
        .map_err(|error| PyValueError::new_err(error.to_string()))?;
    Ok(faults)
}
