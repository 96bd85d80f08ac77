//! Plain Python values ↔ JSON values (the builders' and provisioners'
//! configuration is Packer JSON; results are plain dicts and lists).

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use serde_json::{Map, Number, Value};

use crate::errors::ConfigError;

/// Converts a Python value (dict with str keys, list, tuple, str, int,
/// float, bool, None, or an `os.PathLike`) into JSON. `path` names where the
/// value sits, for the [`ConfigError`] raised on anything else.
pub(crate) fn py_to_json(v: &Bound<'_, PyAny>, path: &str) -> PyResult<Value> {
    if v.is_none() {
        return Ok(Value::Null);
    }
    if let Ok(b) = v.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if v.is_instance_of::<PyInt>() {
        if let Ok(i) = v.extract::<i64>() {
            return Ok(Value::from(i));
        }
        if let Ok(u) = v.extract::<u64>() {
            return Ok(Value::from(u));
        }
        return Err(config_error(path, "integer out of range"));
    }
    if let Ok(f) = v.cast::<PyFloat>() {
        return Number::from_f64(f.value())
            .map(Value::Number)
            .ok_or_else(|| config_error(path, "not a finite number"));
    }
    if let Ok(s) = v.cast::<PyString>() {
        return Ok(Value::String(s.to_str()?.to_owned()));
    }
    if let Ok(d) = v.cast::<PyDict>() {
        let mut m = Map::new();
        for (k, x) in d.iter() {
            let Ok(k) = k.extract::<String>() else {
                return Err(config_error(path, "dict keys must be strings"));
            };
            let p = if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            };
            m.insert(k, py_to_json(&x, &p)?);
        }
        return Ok(Value::Object(m));
    }
    if v.is_instance_of::<PyList>() || v.is_instance_of::<PyTuple>() {
        let mut out = Vec::new();
        for (i, x) in v.try_iter()?.enumerate() {
            out.push(py_to_json(&x?, &format!("{path}[{i}]"))?);
        }
        return Ok(Value::Array(out));
    }
    if v.hasattr("__fspath__")? {
        let p = v.py().import("os")?.call_method1("fspath", (v,))?;
        return py_to_json(&p, path);
    }
    let ty = v.get_type().name()?.to_string();
    Err(config_error(
        path,
        &format!(
            "a {ty} cannot be put in a template (use str, int, float, bool, None, list or dict)"
        ),
    ))
}

fn config_error(path: &str, message: &str) -> PyErr {
    let err = ConfigError::new_err(format!("key `{path}`: {message}"));
    Python::attach(|py| match err.value(py).setattr("field", path) {
        Ok(()) => err,
        Err(e) => e,
    })
}

/// Converts JSON into plain Python values (dict, list, str, int, float,
/// bool, None).
pub(crate) fn json_to_py(py: Python<'_>, v: &Value) -> PyResult<Py<PyAny>> {
    Ok(match v {
        Value::Null => py.None(),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any().unbind(),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.into_pyobject(py)?.into_any().unbind()
            } else if let Some(u) = n.as_u64() {
                u.into_pyobject(py)?.into_any().unbind()
            } else {
                n.as_f64()
                    .unwrap_or(f64::NAN)
                    .into_pyobject(py)?
                    .into_any()
                    .unbind()
            }
        }
        Value::String(s) => s.into_pyobject(py)?.into_any().unbind(),
        Value::Array(a) => {
            let items = a
                .iter()
                .map(|x| json_to_py(py, x))
                .collect::<PyResult<Vec<_>>>()?;
            PyList::new(py, items)?.into_any().unbind()
        }
        Value::Object(m) => {
            let d = PyDict::new(py);
            for (k, x) in m {
                d.set_item(k, json_to_py(py, x)?)?;
            }
            d.into_any().unbind()
        }
    })
}
