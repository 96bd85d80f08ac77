//! The `imagebake` Python package's native module, `imagebake._imagebake`.
//!
//! A thin binding over `imagebake-core` and `imagebake-sim`: it converts
//! Python values to Packer JSON and results to plain read-only objects; all
//! behaviour lives in the Rust crates. Declared `gil_used = false`; forking
//! while a build runs is unsupported (the runtime's threads do not survive
//! a fork).
//!
//! - [`build`] — `Build` (from a Packer template or keyword arguments) and
//!   `RunningBuild` (`run()`, `run_async()`, `start()`, Ctrl-C handling).
//! - [`artifact`] — `Artifact`, `CleanupReport`, `CleanupEntry`.
//! - [`observer`] — `Event`.
//! - `sim` — `TritonSim`, `OxideSim`, `OscSim` (cargo feature `sim`, on by
//!   default).
//! - `oxide_import` — `oxide_import(path, ...)`, a local disk image into
//!   an Oxide project.
//! - `origin` — `origin_build(images, ...)`, an origin image set built
//!   and exported to Manta.
//! - [`clients`] — the clouds' read operations.
//! - `image_spec` — the `image-spec` provisioner of a checked spec folder.
//! - [`journal`] — `builds()` and `cleanup()`: the build journals.
//! - [`errors`] — the exceptions and the one mapping from Rust errors.

pub mod artifact;
pub mod build;
pub mod clients;
mod convert;
pub mod errors;
pub mod journal;
pub mod observer;
mod origin;
mod oxide_import;
mod runtime;
#[cfg(feature = "sim")]
pub mod sim;

use pyo3::prelude::*;
use pyo3::types::PyDict;

use build::PyBuild;

/// A `triton` build from keyword arguments (Packer's `triton` builder keys)
/// and a list of provisioner dicts.
#[pyfunction]
#[pyo3(signature = (*, provisioners=None, **kwargs))]
fn triton(
    provisioners: Option<&Bound<'_, PyAny>>,
    kwargs: Option<&Bound<'_, PyDict>>,
) -> PyResult<PyBuild> {
    PyBuild::from_kwargs("triton", provisioners, kwargs)
}

/// An `oxide-instance` build from keyword arguments.
#[pyfunction]
#[pyo3(signature = (*, provisioners=None, **kwargs))]
fn oxide(
    provisioners: Option<&Bound<'_, PyAny>>,
    kwargs: Option<&Bound<'_, PyDict>>,
) -> PyResult<PyBuild> {
    PyBuild::from_kwargs("oxide-instance", provisioners, kwargs)
}

/// An `osc-chroot` build from keyword arguments.
#[pyfunction]
#[pyo3(signature = (*, provisioners=None, **kwargs))]
fn osc_chroot(
    provisioners: Option<&Bound<'_, PyAny>>,
    kwargs: Option<&Bound<'_, PyDict>>,
) -> PyResult<PyBuild> {
    PyBuild::from_kwargs("osc-chroot", provisioners, kwargs)
}

/// A `local-chroot` build from keyword arguments.
#[pyfunction]
#[pyo3(signature = (*, provisioners=None, **kwargs))]
fn local_chroot(
    provisioners: Option<&Bound<'_, PyAny>>,
    kwargs: Option<&Bound<'_, PyDict>>,
) -> PyResult<PyBuild> {
    PyBuild::from_kwargs("local-chroot", provisioners, kwargs)
}

/// The `image-spec` provisioner for spec folder `path` (mibe's form or
/// `manifest.json`), as a provisioner dict for a build's `provisioners`.
/// The folder is read and checked now (`imagebake_core::spec::Spec::load`):
/// a bad manifest line, package list or `copy/` raises `ConfigError` naming
/// the file and line; nothing is run.
#[pyfunction]
fn image_spec(py: Python<'_>, path: std::path::PathBuf) -> PyResult<Py<PyAny>> {
    let dir = std::path::absolute(&path)
        .map_err(|e| imagebake_core::Error::Config(format!("image_spec: {}: {e}", path.display())))
        .and_then(|dir| Ok(imagebake_core::spec::Spec::load(&dir)?.dir))
        .map_err(errors::Failure::from)?;
    let block = serde_json::json!({"type": "image-spec", "path": dir.to_string_lossy()});
    convert::json_to_py(py, &block)
}

/// The native module.
#[pymodule(gil_used = false)]
mod _imagebake {
    #[pymodule_export]
    use super::artifact::{PyArtifact, PyCleanupEntry, PyCleanupReport};
    #[pymodule_export]
    use super::build::{PyBuild, PyRunningBuild};
    #[pymodule_export]
    use super::clients::{PyOscClient, PyOxideClient, PyTritonClient};
    #[pymodule_export]
    use super::errors::{
        ApiError, BuildCancelled, CleanupIncomplete, ConfigError, ImagebakeError, ProvisionerError,
        SshError,
    };
    #[pymodule_export]
    use super::journal::{builds, cleanup};
    #[pymodule_export]
    use super::observer::PyEvent;
    #[pymodule_export]
    use super::origin::origin_build;
    #[pymodule_export]
    use super::oxide_import::oxide_import;
    #[cfg(feature = "sim")]
    #[pymodule_export]
    use super::sim::{PyOscSim, PyOxideSim, PyTritonSim};
    #[pymodule_export]
    use super::{image_spec, local_chroot, osc_chroot, oxide, triton};

    use pyo3::prelude::*;

    #[pymodule_init]
    fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
        m.add("__version__", env!("CARGO_PKG_VERSION"))
    }
}
