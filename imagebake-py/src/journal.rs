//! `builds()` and `cleanup()`: the persistent build journals
//! (`imagebake_core::journal`), as `imagebake builds` and `imagebake
//! cleanup` show them.

use imagebake_core::journal::{self, CleanupOptions, FromEnv};
use imagebake_core::{CancellationToken, CleanupOutcome};
use pyo3::prelude::*;
use serde_json::{Value, json};

use crate::convert::json_to_py;
use crate::errors::Failure;
use crate::runtime::block_on;

/// The journaled builds, oldest first: dicts with `build_id`, `name`,
/// `started` (Unix seconds), `builders`, `state` (`running`, `finished`,
/// `crashed`, `cleaned`), `pending` (resources that may still exist) and
/// `path`.
#[pyfunction]
pub fn builds(py: Python<'_>) -> PyResult<Py<PyAny>> {
    let dir = journal::builds_dir().map_err(Failure::from)?;
    let list = serde_json::to_value(journal::list_builds(&dir))
        .map_err(|e| Failure::from(imagebake_core::Error::Other(Box::new(e))))?;
    json_to_py(py, &list)
}

/// Replays the pending undos of builds whose process is gone: those named
/// in `build_ids`, or every crashed one with `crashed=True`; `dry_run=True`
/// only lists. Credentials come from the clients' usual sources. Returns
/// one dict per build: `build_id`, `name`, `state` (before), `refused`,
/// `entries` (`kind`, `id`, `name`, `outcome`: `removed` / `would_remove` /
/// `failed`, `error`), `notes`, `errors` and `clean`.
#[pyfunction]
#[pyo3(signature = (build_ids=None, crashed=false, dry_run=false))]
pub fn cleanup(
    py: Python<'_>,
    build_ids: Option<Vec<String>>,
    crashed: bool,
    dry_run: bool,
) -> PyResult<Py<PyAny>> {
    let dir = journal::builds_dir().map_err(Failure::from)?;
    let options = CleanupOptions {
        build_ids: build_ids.unwrap_or_default(),
        crashed,
        dry_run,
    };
    let done = block_on(py, async move {
        journal::cleanup(&dir, &options, &FromEnv, &CancellationToken::new()).await
    })?
    .map_err(Failure::from)?;
    let out: Vec<Value> = done
        .iter()
        .map(|b| {
            let entries: Vec<Value> = b
                .report
                .entries
                .iter()
                .map(|e| {
                    let (outcome, error) = match &e.outcome {
                        CleanupOutcome::Removed => ("removed", None),
                        CleanupOutcome::AlreadyGone => ("already_gone", None),
                        CleanupOutcome::Adopted => ("adopted", None),
                        CleanupOutcome::Kept => ("would_remove", None),
                        CleanupOutcome::Failed(err) => {
                            ("failed", Some(imagebake_core::chain(err).to_string()))
                        }
                        _ => ("failed", None),
                    };
                    json!({
                        "kind": e.resource.kind,
                        "id": e.resource.id,
                        "name": e.resource.name,
                        "outcome": outcome,
                        "error": error,
                    })
                })
                .collect();
            json!({
                "build_id": b.build_id,
                "name": b.name,
                "state": b.state,
                "refused": b.refused,
                "entries": entries,
                "notes": b.notes,
                "errors": b.errors.iter().map(|e| imagebake_core::chain(e).to_string()).collect::<Vec<_>>(),
                "clean": b.is_clean(),
            })
        })
        .collect();
    json_to_py(py, &Value::Array(out))
}
