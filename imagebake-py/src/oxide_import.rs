//! `imagebake.oxide_import(path, ...)`: a local raw (or qcow2) disk image
//! file imported into an Oxide project as an image, without an instance,
//! by the core's `oxide-import` post-processor (same keys).

use std::path::PathBuf;
use std::sync::Arc;

use imagebake_core::postprocess::oxide_import::OxideImport;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use serde_json::Value;

use crate::artifact::PyArtifact;
use crate::convert::py_to_json;
use crate::errors::Failure;
use crate::runtime::{run_cancellable, with_interrupt};

/// Imports the disk image file at `path` into an Oxide project as an image
/// (keys as the `oxide-import` post-processor: `project`, `image_name`,
/// `image_os`, `image_version`, `image_description`, `block_size`,
/// `parallelism`, `disk_name`, `host`/`token`/`profile`). With `force`, an
/// image of the same name is replaced. Blocks without holding the GIL; on
/// Ctrl-C the import stops, removes what it made, then KeyboardInterrupt is
/// raised (caused by the `BuildCancelled`).
#[pyfunction]
#[pyo3(signature = (path, *, force=false, **kwargs))]
pub(crate) fn oxide_import(
    py: Python<'_>,
    path: PathBuf,
    force: bool,
    kwargs: Option<&Bound<'_, PyDict>>,
) -> PyResult<Py<PyArtifact>> {
    let config = match kwargs {
        Some(k) => py_to_json(k.as_any(), "")?,
        None => Value::Object(serde_json::Map::new()),
    };
    let import = OxideImport::from_config(&config).map_err(Failure::from)?;
    let path = std::path::absolute(&path)
        .map_err(|e| Failure::Usage(format!("oxide_import: path {}: {e}", path.display())))?;
    let (joined, interrupt) = run_cancellable(py, move |token| async move {
        import
            .import(&path, force, Arc::new(|_: &str| {}), token)
            .await
    });
    let result = match joined {
        Ok(Ok(artifact)) => PyArtifact::from_core(py, &artifact),
        Ok(Err(e)) => Err(Failure::from(e).into()),
        Err(e) => Err(Failure::Usage(format!("oxide_import: the import task failed: {e}")).into()),
    };
    with_interrupt(py, result, interrupt)
}
