//! Build events as plain Python objects ([`PyEvent`]).

use imagebake_core::Event;
use pyo3::prelude::*;
use serde_json::Value;

use crate::convert::json_to_py;

/// One thing that happened during a build.
#[pyclass(frozen, get_all, name = "Event", module = "imagebake")]
pub struct PyEvent {
    /// What happened: "build_started", "build_finished", "step_started",
    /// "step_finished", "wait_progress", "output_line", "undo_started",
    /// "undo_finished" or "artifact".
    pub kind: String,
    /// The step it belongs to, when it belongs to one.
    pub step: Option<String>,
    /// For "output_line": "stdout" or "stderr".
    pub stream: Option<String>,
    /// For "output_line": the line printed, without its line ending.
    pub line: Option<String>,
    /// For "build_finished", "step_finished" and "undo_finished": "ok",
    /// "failed" or "cancelled" (steps, builds); "removed", "failed" or
    /// "kept" (undos).
    pub outcome: Option<String>,
    /// Every field of the event as a dict (outcome, duration_ms, resource, ...).
    pub data: Py<PyAny>,
}

#[pymethods]
impl PyEvent {
    fn __repr__(&self) -> String {
        match (&self.step, &self.line) {
            (Some(s), Some(l)) => format!("Event({}, step={s:?}, line={l:?})", self.kind),
            (Some(s), None) => format!("Event({}, step={s:?})", self.kind),
            _ => format!("Event({})", self.kind),
        }
    }
}

impl PyEvent {
    /// Converts a core event.
    pub(crate) fn from_core(py: Python<'_>, e: &Event) -> PyResult<Py<Self>> {
        let data = serde_json::to_value(e).unwrap_or(Value::Null);
        let text = |k: &str| data.get(k).and_then(Value::as_str).map(str::to_owned);
        Py::new(
            py,
            Self {
                kind: text("event").unwrap_or_default(),
                step: text("step"),
                stream: text("stream"),
                line: text("line"),
                outcome: data
                    .get("outcome")
                    .and_then(|o| o.get("outcome"))
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                data: json_to_py(py, &data)?,
            },
        )
    }
}
