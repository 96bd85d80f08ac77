//! What a build returns, as plain read-only objects: [`PyArtifact`] and its
//! [`PyCleanupReport`] of [`PyCleanupEntry`]s.

use imagebake_core::builders::Artifact;
use imagebake_core::{CleanupOutcome, CleanupReport, UndoWhen};
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use crate::convert::json_to_py;

/// One resource the cleanup dealt with.
#[pyclass(frozen, get_all, name = "CleanupEntry", module = "imagebake")]
pub struct PyCleanupEntry {
    /// The kind of resource ("machine", "instance", "volume", "ssh key", ...).
    pub kind: String,
    /// The cloud's id for it.
    pub id: String,
    /// Its name, when it has one.
    pub name: Option<String>,
    /// When its undo was due: "always" or "on_failure".
    pub when: String,
    /// What happened: "removed", "failed" or "kept".
    pub outcome: String,
    /// Why the undo failed (outcome "failed").
    pub error: Option<String>,
}

#[pymethods]
impl PyCleanupEntry {
    fn __repr__(&self) -> String {
        format!(
            "CleanupEntry(kind={:?}, id={:?}, outcome={:?})",
            self.kind, self.id, self.outcome
        )
    }
}

/// What the cleanup at the end of a build did, in the order the undos ran.
#[pyclass(frozen, get_all, name = "CleanupReport", module = "imagebake")]
pub struct PyCleanupReport {
    /// Every undo that was due.
    pub entries: Py<PyTuple>,
    /// The entries whose resource is gone.
    pub removed: Py<PyTuple>,
    /// The entries whose resource may remain (failed or kept).
    pub left: Py<PyTuple>,
    /// Whether nothing was left behind.
    pub is_clean: bool,
}

#[pymethods]
impl PyCleanupReport {
    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "CleanupReport(removed={}, left={})",
            self.removed.bind(py).len(),
            self.left.bind(py).len()
        )
    }
}

impl PyCleanupReport {
    /// Converts a core report.
    pub(crate) fn from_core(py: Python<'_>, r: &CleanupReport) -> PyResult<Py<Self>> {
        let mut all = Vec::new();
        let mut removed = Vec::new();
        let mut left = Vec::new();
        for e in &r.entries {
            let (outcome, error) = match &e.outcome {
                CleanupOutcome::Removed => ("removed", None),
                CleanupOutcome::Failed(err) => ("failed", Some(err.to_string())),
                _ => ("kept", None),
            };
            let entry = Py::new(
                py,
                PyCleanupEntry {
                    kind: e.resource.kind.clone(),
                    id: e.resource.id.clone(),
                    name: e.resource.name.clone(),
                    when: match e.when {
                        UndoWhen::Always => "always",
                        _ => "on_failure",
                    }
                    .to_owned(),
                    outcome: outcome.to_owned(),
                    error,
                },
            )?;
            if e.is_left() {
                left.push(entry.clone_ref(py));
            } else {
                removed.push(entry.clone_ref(py));
            }
            all.push(entry);
        }
        Py::new(
            py,
            Self {
                entries: PyTuple::new(py, all)?.unbind(),
                removed: PyTuple::new(py, removed)?.unbind(),
                left: PyTuple::new(py, left)?.unbind(),
                is_clean: r.is_clean(),
            },
        )
    }

    /// "kind id (outcome), ..." of the entries left.
    pub(crate) fn left_summary(&self, py: Python<'_>) -> String {
        let left = self.left.bind(py);
        let mut parts = Vec::new();
        for e in left.iter() {
            if let Ok(e) = e.cast::<PyCleanupEntry>() {
                let e = e.get();
                parts.push(format!("{} {} ({})", e.kind, e.id, e.outcome));
            }
        }
        parts.join(", ")
    }
}

/// What a successful build made.
#[pyclass(frozen, get_all, name = "Artifact", module = "imagebake")]
pub struct PyArtifact {
    /// The image's id (Triton/Oxide image UUID, Outscale OMI id, or the
    /// output file of a local-chroot build); None when no image was made.
    pub id: Option<String>,
    /// The image's name.
    pub name: String,
    /// Its version, when the cloud has versions.
    pub version: Option<String>,
    /// The cloud: "triton", "oxide", "outscale" or "local".
    pub cloud: String,
    /// The builder type: "triton", "oxide-instance", "osc-chroot", "local-chroot".
    pub builder: String,
    /// The build's id (tagged on every resource it made).
    pub build_id: String,
    /// Cloud-specific details (region and snapshot ids, project and os, format).
    pub details: Py<PyAny>,
    /// Packer's one-line description.
    pub description: String,
    /// What the cleanup did.
    pub cleanup: Py<PyCleanupReport>,
}

#[pymethods]
impl PyArtifact {
    fn __repr__(&self) -> String {
        format!(
            "Artifact(cloud={:?}, id={:?}, name={:?}, version={:?})",
            self.cloud, self.id, self.name, self.version
        )
    }

    fn __str__(&self) -> String {
        self.description.clone()
    }
}

impl PyArtifact {
    /// Converts a core artifact (any builder's, through the `Artifact` trait).
    pub(crate) fn from_core(py: Python<'_>, a: &dyn Artifact) -> PyResult<Py<Self>> {
        Py::new(
            py,
            Self {
                id: a.id(),
                name: a.name().to_owned(),
                version: a.version().map(str::to_owned),
                cloud: a.cloud().to_owned(),
                builder: a.builder_type().to_owned(),
                build_id: a.build_id().to_string(),
                details: json_to_py(py, &a.details())?,
                description: a.to_string(),
                cleanup: PyCleanupReport::from_core(py, a.cleanup())?,
            },
        )
    }
}
