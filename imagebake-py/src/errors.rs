//! The exception hierarchy and the one place where Rust errors become Python
//! exceptions ([`Failure`] → [`PyErr`]).
//!
//! Every exception is an `imagebake.ImagebakeError`. Attributes are set on
//! the instance: `ApiError.status/code/request_id`,
//! `ProvisionerError.command/exit_status/stderr_tail`, `ConfigError.field`,
//! `CleanupIncomplete.left/artifact`; an exception raised by a build also has
//! `build_id`, `step` and `cleanup` (a `CleanupReport`).

use std::error::Error as StdError;

use imagebake_core::{BuildError, CleanupOutcome, Error as CoreError, chain};
use pyo3::IntoPyObjectExt;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;

use crate::artifact::{PyArtifact, PyCleanupReport};

pyo3::create_exception!(
    imagebake,
    ImagebakeError,
    PyException,
    "The base of every imagebake exception."
);
pyo3::create_exception!(
    imagebake,
    ApiError,
    ImagebakeError,
    "A cloud API answered with an error: `status`, `code` and `request_id` (None when unknown)."
);
pyo3::create_exception!(
    imagebake,
    SshError,
    ImagebakeError,
    "The SSH connection to the machine failed (login, host key, transport, or it never came up)."
);
pyo3::create_exception!(
    imagebake,
    ProvisionerError,
    ImagebakeError,
    "A provisioner's command failed: `command`, `exit_status` (None if killed by a signal), `stderr_tail`."
);
pyo3::create_exception!(
    imagebake,
    ConfigError,
    ImagebakeError,
    "The configuration is invalid; `field` names the key when known."
);
pyo3::create_exception!(
    imagebake,
    BuildCancelled,
    ImagebakeError,
    "The build was cancelled (Ctrl-C, a cancelled asyncio task, `RunningBuild.cancel()`); its cleanup ran."
);
pyo3::create_exception!(
    imagebake,
    CleanupIncomplete,
    ImagebakeError,
    "The cleanup could not remove everything: `left` lists the entries left, `artifact` is the image when the build itself succeeded."
);

/// Everything the binding turns into a Python exception.
#[derive(Debug)]
pub(crate) enum Failure {
    /// A build failed or was cancelled (with its cleanup report).
    Build(Box<BuildError>),
    /// An error outside a build (configuration, ...).
    Core(CoreError),
    /// A simulator failed to start.
    Sim(std::io::Error),
    /// A client call failed.
    Client(Box<dyn StdError + Send + Sync>),
    /// Something the binding itself refuses (a closed simulator, ...).
    Usage(String),
}

impl From<BuildError> for Failure {
    fn from(e: BuildError) -> Self {
        Self::Build(Box::new(e))
    }
}

impl From<CoreError> for Failure {
    fn from(e: CoreError) -> Self {
        Self::Core(e)
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Self::Sim(e)
    }
}

impl From<Failure> for PyErr {
    fn from(f: Failure) -> PyErr {
        Python::attach(|py| match f {
            Failure::Build(e) => build_error(py, *e),
            Failure::Core(e) => classify(py, &e, None, chain(&e).to_string()),
            Failure::Sim(e) => ImagebakeError::new_err(format!("simulator: {e}")),
            Failure::Client(e) => {
                let message = chain(&*e).to_string();
                match api_details(&*e) {
                    Some(api) => api_error(py, message, api),
                    None => ImagebakeError::new_err(message),
                }
            }
            Failure::Usage(m) => ImagebakeError::new_err(m),
        })
    }
}

/// An [`ApiError`]'s attributes, read through the shared error contract
/// ([`imagebake_core::ErrorMeta`]) from the first cloud API error in a
/// source chain that carries an HTTP status.
struct ApiDetails {
    status: Option<u16>,
    code: Option<String>,
    request_id: Option<String>,
}

fn api_details(top: &(dyn StdError + 'static)) -> Option<ApiDetails> {
    let meta = imagebake_core::api_error_meta(top)?;
    meta.status()?;
    Some(ApiDetails {
        status: meta.status(),
        code: meta.code().map(str::to_owned),
        request_id: meta.request_id().map(str::to_owned),
    })
}

fn api_error(py: Python<'_>, message: String, api: ApiDetails) -> PyErr {
    with_attrs(
        py,
        ApiError::new_err(message),
        &[
            ("status", obj(py, api.status)),
            ("code", obj(py, api.code)),
            ("request_id", obj(py, api.request_id)),
        ],
    )
}

type Attr = (&'static str, PyResult<Py<PyAny>>);

/// Sets attributes on the exception's value; a failure to convert or set one
/// becomes the exception raised instead (it cannot happen with these types).
fn with_attrs(py: Python<'_>, err: PyErr, attrs: &[Attr]) -> PyErr {
    let value = err.value(py);
    for (name, v) in attrs {
        let set = match v {
            Ok(v) => value.setattr(*name, v.bind(py)),
            Err(e) => Err(e.clone_ref(py)),
        };
        if let Err(e) = set {
            return e;
        }
    }
    err
}

fn obj<'py, T: IntoPyObject<'py>>(py: Python<'py>, v: T) -> PyResult<Py<PyAny>> {
    v.into_py_any(py)
}

/// The exception for a core error: its class by variant (cancellation,
/// configuration, failed command, SSH, cloud API), with the message given.
fn classify(py: Python<'_>, e: &CoreError, step: Option<&str>, message: String) -> PyErr {
    if e.is_cancelled() {
        return BuildCancelled::new_err(message);
    }
    match e {
        CoreError::Config(_) | CoreError::ConfigKey { .. } => with_attrs(
            py,
            ConfigError::new_err(message),
            &[("field", obj(py, e.config_key()))],
        ),
        CoreError::CommandFailed {
            command,
            status,
            stderr_tail,
        } => with_attrs(
            py,
            ProvisionerError::new_err(message),
            &[
                ("command", obj(py, command)),
                ("exit_status", obj(py, *status)),
                ("stderr_tail", obj(py, stderr_tail)),
            ],
        ),
        CoreError::Signal { command, .. } => with_attrs(
            py,
            ProvisionerError::new_err(message),
            &[
                ("command", obj(py, command)),
                ("exit_status", obj(py, None::<i32>)),
                ("stderr_tail", obj(py, Vec::<String>::new())),
            ],
        ),
        CoreError::HostKey { .. }
        | CoreError::Communicator { .. }
        | CoreError::Disconnected { .. } => SshError::new_err(message),
        // The builders' SSH step waits for the machine's sshd until
        // `ssh_timeout`: SSH that never came up.
        CoreError::Timeout { .. } if step == Some("connect ssh") => SshError::new_err(message),
        _ => match api_details(e) {
            Some(api) => api_error(py, message, api),
            None => ImagebakeError::new_err(message),
        },
    }
}

/// The exception for a failed build: its cause's class, with `build_id`,
/// `step` and `cleanup`; when the cleanup failed to remove something, a
/// [`CleanupIncomplete`] caused by it instead.
fn build_error(py: Python<'_>, e: BuildError) -> PyErr {
    let message = e.to_string();
    let err = classify(py, &e.cause, e.step.as_deref(), message.clone());
    let report = match PyCleanupReport::from_core(py, &e.cleanup) {
        Ok(r) => r,
        Err(conv) => return conv,
    };
    let common = |py: Python<'_>| -> Vec<Attr> {
        vec![
            ("build_id", obj(py, e.build_id.to_string())),
            ("step", obj(py, e.step.clone())),
            ("cleanup", Ok(report.clone_ref(py).into_any())),
        ]
    };
    let err = with_attrs(py, err, &common(py));
    let failed = e
        .cleanup
        .entries
        .iter()
        .any(|x| matches!(x.outcome, CleanupOutcome::Failed(_)));
    if !failed {
        return err;
    }
    let mut attrs = common(py);
    attrs.push(("left", Ok(report.get().left.clone_ref(py).into_any())));
    attrs.push(("artifact", obj(py, None::<i32>)));
    let outer = with_attrs(py, CleanupIncomplete::new_err(message), &attrs);
    outer.set_cause(py, Some(err));
    outer
}

/// The exception for a build that made its artifact but whose cleanup left
/// something behind (an undo failed).
pub(crate) fn cleanup_incomplete(py: Python<'_>, artifact: &Py<PyArtifact>) -> PyErr {
    let a = artifact.get();
    let report = a.cleanup.get();
    let message = format!(
        "build {} made {} but its cleanup left: {}",
        a.build_id,
        a.id.as_deref().unwrap_or("no image"),
        report.left_summary(py)
    );
    with_attrs(
        py,
        CleanupIncomplete::new_err(message),
        &[
            ("build_id", obj(py, a.build_id.clone())),
            ("step", obj(py, None::<String>)),
            ("cleanup", Ok(a.cleanup.clone_ref(py).into_any())),
            ("left", Ok(report.left.clone_ref(py).into_any())),
            ("artifact", Ok(artifact.clone_ref(py).into_any())),
        ],
    )
}
