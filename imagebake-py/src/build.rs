//! Builds: [`PyBuild`] (a checked template, from a Packer template or from
//! keyword arguments) and [`PyRunningBuild`] (a build under way: events,
//! cancellation, its result, blocking or awaited).
//!
//! A build runs as a task on the process's tokio runtime. Its events go
//! through a channel and are handed to the `on_event` callback by whoever
//! waits: the thread blocked in `run()`/`wait()` (attached to Python only
//! while the callback runs), or the runtime's thread driving `wait_async()`.
//! An exception in the callback cancels the build; it is raised once the
//! cleanup has run. Iterating over a `RunningBuild` yields the events
//! instead.
//!
//! Ctrl-C: `run()`/`wait()` check for signals every 50 ms. On
//! KeyboardInterrupt they cancel the build, keep waiting until its cleanup
//! has run, then raise the KeyboardInterrupt with the build's exception
//! (normally `BuildCancelled`, carrying the cleanup report) as its
//! `__cause__`. Cancelling the asyncio task of `run_async()` does the same
//! with `asyncio.CancelledError`.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use imagebake_core::bake;
use imagebake_core::builders::{AnyBuilder, Artifact, BuilderRegistry};
use imagebake_core::packer_template::Template;
use imagebake_core::template::{self, Options, Placeholders, PlannedBuild, TemplateError};
use imagebake_core::{BuildError, CancellationToken, ChannelObserver, Event, OnError, Runner};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};
use serde_json::Value;
use tokio::sync::{mpsc, watch};

use crate::artifact::PyArtifact;
use crate::convert::py_to_json;
use crate::errors::{ConfigError, Failure, ImagebakeError, cleanup_incomplete};
use crate::observer::PyEvent;
use crate::runtime::{SLICE, runtime};

/// A checked build: one builder block and its provisioners. Make it with
/// `Build.from_template(...)` or `imagebake.triton(...)`, `oxide(...)`,
/// `osc_chroot(...)`, `local_chroot(...)`; run it with `run()`,
/// `run_async()` or `start()`. A build can be run several times (each run
/// gets a fresh build id and fresh `{{timestamp}}`/`{{uuid}}` values).
#[pyclass(frozen, name = "Build", module = "imagebake")]
pub struct PyBuild {
    source: Source,
    name: Option<String>,
    builder_type: String,
}

/// Where a build's builder comes from.
enum Source {
    /// A Packer JSON template given as a dict or JSON text.
    Template(Template),
    /// One build of a template file evaluated by the template engine.
    Planned(Box<PlannedBuild>),
}

impl PyBuild {
    fn new(template: Template, name: Option<String>) -> PyResult<Self> {
        // Checks the builder block and the provisioners now, so a bad key is
        // raised here rather than at run time.
        let builder = template.builder(name.as_deref()).map_err(Failure::from)?;
        Ok(Self {
            builder_type: builder.builder_type().to_owned(),
            source: Source::Template(template),
            name,
        })
    }

    /// Build `build` (its full name, or a glob as `-only` takes it) of the
    /// template file or directory at `path`, evaluated with `vars` and
    /// `var_files` (and the environment) by the template engine, checked
    /// by the bake runner.
    fn from_path(
        py: Python<'_>,
        path: std::path::PathBuf,
        build: Option<String>,
        vars: Vec<(String, String)>,
        var_files: Vec<std::path::PathBuf>,
    ) -> PyResult<Self> {
        let mut opts = Options::from_process().map_err(Failure::from)?;
        opts.vars = vars;
        opts.var_files = var_files;
        let planned = py.detach(|| {
            runtime().block_on(async {
                let mut plan = template::plan(&path, &opts, &Placeholders).await?;
                if let Some(b) = &build {
                    plan.select(std::slice::from_ref(b), &[])?;
                }
                let names: Vec<&str> = plan.builds.iter().map(|b| b.name.as_str()).collect();
                if plan.builds.len() != 1 {
                    return Err(TemplateError::new(format!(
                        "{} holds {} builds ({}); name the one to run",
                        path.display(),
                        names.len(),
                        names.join(", ")
                    ))
                    .fix("pass build=\"NAME\""));
                }
                let b = plan.builds.remove(0);
                bake::prepare(&b, &BuilderRegistry::default(), false)?;
                if !b.post_processors.is_empty() {
                    return Err(TemplateError::new(format!(
                        "build {}: post-processors are not run by Build yet",
                        b.name
                    ))
                    .fix("run the template with `imagebake build`"));
                }
                Ok(b)
            })
        });
        let b = planned.map_err(template_error)?;
        Ok(Self {
            builder_type: BuilderRegistry::default()
                .resolve(&b.builder_type)
                .unwrap_or("")
                .to_owned(),
            name: Some(b.name.clone()),
            source: Source::Planned(Box::new(b)),
        })
    }

    /// A build of one builder block of type `kind` from keyword arguments.
    pub(crate) fn from_kwargs(
        kind: &str,
        provisioners: Option<&Bound<'_, PyAny>>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        let mut block = match kwargs {
            Some(k) => py_to_json(k.as_any(), "")?,
            None => Value::Object(serde_json::Map::new()),
        };
        if let Value::Object(m) = &mut block {
            m.insert("type".into(), Value::String(kind.to_owned()));
        }
        let provisioners = match provisioners {
            None => Vec::new(),
            Some(p) => match py_to_json(p, "provisioners")? {
                Value::Array(a) => a,
                Value::Null => Vec::new(),
                _ => {
                    return Err(Failure::from(imagebake_core::Error::Config(
                        "key `provisioners` must be a list of provisioner dicts".into(),
                    ))
                    .into());
                }
            },
        };
        let template = Template::single(block, provisioners).map_err(Failure::from)?;
        Self::new(template, None)
    }

    fn builder(&self) -> PyResult<AnyBuilder> {
        match &self.source {
            Source::Template(t) => Ok(t.builder(self.name.as_deref()).map_err(Failure::from)?),
            Source::Planned(b) => {
                bake::prepare(b, &BuilderRegistry::default(), false).map_err(template_error)
            }
        }
    }
}

/// A template error as a `ConfigError` whose `field` is the key it names.
fn template_error(e: TemplateError) -> PyErr {
    let err = ConfigError::new_err(e.to_string());
    if let Some(key) = &e.key {
        Python::attach(|py| {
            let _ = err.value(py).setattr("field", key.as_str());
        });
    }
    err
}

fn on_error_policy(on_error: &str) -> PyResult<OnError> {
    match on_error {
        "cleanup" => Ok(OnError::Cleanup),
        "keep" => Ok(OnError::Keep),
        other => {
            let err = ConfigError::new_err(format!(
                "key `on_error`: {other:?} is not a policy (cleanup or keep)"
            ));
            Python::attach(|py| err.value(py).setattr("field", "on_error"))?;
            Err(err)
        }
    }
}

#[pymethods]
impl PyBuild {
    /// A build from a Packer template: a path (`str` or `os.PathLike`) to
    /// a `.pkr.hcl`, `.pkr.json` or `.json` file or a template directory,
    /// evaluated as `imagebake build` does with `vars` (`-var`),
    /// `var_files` (`-var-file`) and the environment; or a Packer JSON
    /// template as a dict or its JSON text (starting with `{`). `build`
    /// names the build to run when there are several (for a path, its full
    /// name or a glob as `-only` takes it).
    #[staticmethod]
    #[pyo3(signature = (template, build=None, *, vars=None, var_files=None))]
    fn from_template(
        py: Python<'_>,
        template: &Bound<'_, PyAny>,
        build: Option<String>,
        vars: Option<std::collections::BTreeMap<String, String>>,
        var_files: Option<Vec<std::path::PathBuf>>,
    ) -> PyResult<Self> {
        let is_json_text = template
            .cast::<PyString>()
            .is_ok_and(|s| s.to_str().is_ok_and(|t| t.trim_start().starts_with('{')));
        let is_dict = template.cast::<PyDict>().is_ok();
        if !is_json_text && !is_dict {
            let path: std::path::PathBuf = template.extract()?;
            let vars = vars.unwrap_or_default().into_iter().collect();
            return Self::from_path(py, path, build, vars, var_files.unwrap_or_default());
        }
        if vars.is_some() || var_files.is_some() {
            return Err(ConfigError::new_err(
                "vars and var_files are for a template file: a dict or JSON text has no variables",
            ));
        }
        let t = if let Ok(text) = template.cast::<PyString>() {
            Template::from_json_str(text.to_str()?)
        } else {
            Template::from_json(&py_to_json(template, "")?)
        };
        Self::new(t.map_err(Failure::from)?, build)
    }

    /// The builder type ("triton", "oxide-instance", "osc-chroot", "local-chroot").
    #[getter]
    fn builder_type(&self) -> &str {
        &self.builder_type
    }

    /// The name of the build in its template (None for the only one).
    #[getter]
    fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Starts the build and returns at once with a `RunningBuild`.
    /// `on_event(event)` is called with each `Event` by whoever waits on it.
    /// `on_error` is "cleanup" (remove everything a failed build made, the
    /// default) or "keep" (leave it for debugging, listed in the report).
    #[pyo3(signature = (on_event=None, on_error="cleanup"))]
    fn start(&self, on_event: Option<Py<PyAny>>, on_error: &str) -> PyResult<PyRunningBuild> {
        let builder = self.builder()?;
        let policy = on_error_policy(on_error)?;
        Ok(PyRunningBuild::spawn(builder, policy, on_event))
    }

    /// Runs the build and returns its `Artifact`; blocks (without holding
    /// the GIL) until the build and its cleanup are done. Raises an
    /// `ImagebakeError` subclass when it fails; on Ctrl-C, cancels the
    /// build, waits for its cleanup and raises KeyboardInterrupt (its
    /// `__cause__` is the `BuildCancelled`).
    #[pyo3(signature = (on_event=None, on_error="cleanup"))]
    fn run(
        &self,
        py: Python<'_>,
        on_event: Option<Py<PyAny>>,
        on_error: &str,
    ) -> PyResult<Py<PyArtifact>> {
        self.start(on_event, on_error)?.wait(py)
    }

    /// `run()` for asyncio: a coroutine returning the `Artifact`. Cancelling
    /// the task cancels the build, waits for its cleanup, then raises
    /// `asyncio.CancelledError` (its `__cause__` is the `BuildCancelled`).
    /// `on_event` is called from a runtime thread.
    #[pyo3(signature = (on_event=None, on_error="cleanup"))]
    fn run_async<'py>(
        &self,
        py: Python<'py>,
        on_event: Option<Py<PyAny>>,
        on_error: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        let running = Py::new(py, self.start(on_event, on_error)?)?;
        py.import("imagebake._aio")?
            .getattr("run_async")?
            .call1((running,))
    }

    fn __repr__(&self) -> String {
        match &self.name {
            Some(n) => format!("Build({}, name={n:?})", self.builder_type),
            None => format!("Build({})", self.builder_type),
        }
    }
}

/// What the build task leaves for the waiters.
type Outcome = Result<Box<dyn Artifact>, BuildError>;

struct Shared {
    token: CancellationToken,
    build_id: String,
    events: tokio::sync::Mutex<mpsc::UnboundedReceiver<Event>>,
    done: watch::Receiver<bool>,
    outcome: Mutex<Option<Outcome>>,
    result: Mutex<Option<PyResult<Py<PyArtifact>>>>,
    on_event: Option<Py<PyAny>>,
    callback_error: Mutex<Option<PyErr>>,
    /// Events received by an iterator but not yet returned.
    pending: Mutex<std::collections::VecDeque<Event>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    /// Waits up to `max` for events or the end of the build; returns the
    /// events received and whether the build has ended.
    async fn next(&self, max: Duration) -> (Vec<Event>, bool) {
        let mut rx = self.events.lock().await;
        let mut done = self.done.clone();
        let mut out = Vec::new();
        tokio::select! {
            biased;
            Some(e) = rx.recv() => out.push(e),
            _ = done.wait_for(|d| *d) => {}
            () = tokio::time::sleep(max) => {}
        }
        while let Ok(e) = rx.try_recv() {
            out.push(e);
        }
        // Ended: the task said so, or it is gone (the sender dropped).
        let ended = *done.borrow() || done.has_changed().is_err();
        (out, ended)
    }

    /// Hands events to the callback; its first exception cancels the build.
    fn deliver(&self, py: Python<'_>, events: Vec<Event>) {
        let Some(cb) = &self.on_event else {
            return;
        };
        for e in events {
            if lock(&self.callback_error).is_some() {
                return;
            }
            let called = PyEvent::from_core(py, &e).and_then(|ev| cb.bind(py).call1((ev,)));
            if let Err(err) = called {
                *lock(&self.callback_error) = Some(err);
                self.token.cancel();
            }
        }
    }

    /// The build's result as Python sees it (computed once).
    fn finish(&self, py: Python<'_>) -> PyResult<Py<PyArtifact>> {
        let mut cached = lock(&self.result);
        if cached.is_none() {
            let outcome = lock(&self.outcome).take();
            let r = match outcome {
                Some(Ok(a)) => PyArtifact::from_core(py, a.as_ref()).and_then(|art| {
                    if art.get().cleanup.get().left.bind(py).is_empty() {
                        Ok(art)
                    } else {
                        Err(cleanup_incomplete(py, &art))
                    }
                }),
                Some(Err(e)) => Err(Failure::from(e).into()),
                None => Err(ImagebakeError::new_err(format!(
                    "build {}: the build task ended without a result",
                    self.build_id
                ))),
            };
            let r = match lock(&self.callback_error).take() {
                Some(cb) => {
                    cb.set_cause(py, r.err());
                    Err(cb)
                }
                None => r,
            };
            *cached = Some(r);
        }
        match cached.as_ref() {
            Some(Ok(a)) => Ok(a.clone_ref(py)),
            Some(Err(e)) => Err(e.clone_ref(py)),
            None => Err(ImagebakeError::new_err("unreachable: no result")),
        }
    }
}

/// A build under way (from `Build.start()`).
#[pyclass(frozen, name = "RunningBuild", module = "imagebake")]
pub struct PyRunningBuild {
    shared: Arc<Shared>,
}

impl PyRunningBuild {
    fn spawn(builder: AnyBuilder, policy: OnError, on_event: Option<Py<PyAny>>) -> Self {
        let (observer, rx) = ChannelObserver::new();
        let mut runner = Runner::new().on_error(policy).observer(Arc::new(observer));
        // Journaled like `imagebake build`, so that `imagebake.cleanup()`
        // can remove what a build whose process died made.
        match imagebake_core::journal::Journaling::default_dir() {
            Ok(j) => runner = runner.journal(j),
            Err(e) => eprintln!("imagebake: warning: {e}; the build is not journaled"),
        }
        let (done_tx, done_rx) = watch::channel(false);
        let token = CancellationToken::new();
        let shared = Arc::new(Shared {
            token: token.clone(),
            build_id: runner.id().to_string(),
            events: tokio::sync::Mutex::new(rx),
            done: done_rx,
            outcome: Mutex::new(None),
            result: Mutex::new(None),
            on_event,
            callback_error: Mutex::new(None),
            pending: Mutex::new(std::collections::VecDeque::new()),
        });
        let task_shared = shared.clone();
        runtime().spawn(async move {
            let outcome = builder.run(&runner, token).await;
            *lock(&task_shared.outcome) = Some(outcome);
            let _ = done_tx.send(true);
        });
        Self { shared }
    }
}

#[pymethods]
impl PyRunningBuild {
    /// The build's id (tagged on every resource it makes).
    #[getter]
    fn build_id(&self) -> &str {
        &self.shared.build_id
    }

    /// Whether the build and its cleanup have ended.
    #[getter]
    fn done(&self) -> bool {
        *self.shared.done.borrow() || self.shared.done.has_changed().is_err()
    }

    /// Asks the build to stop; its cleanup runs, and waiting on it raises
    /// `BuildCancelled`.
    fn cancel(&self) {
        self.shared.token.cancel();
    }

    /// Blocks until the build and its cleanup are done (handing events to
    /// the callback meanwhile) and returns the `Artifact` or raises. On
    /// Ctrl-C, cancels the build, waits for its cleanup, then raises
    /// KeyboardInterrupt caused by the build's exception.
    fn wait(&self, py: Python<'_>) -> PyResult<Py<PyArtifact>> {
        let shared = &self.shared;
        let mut interrupt: Option<PyErr> = None;
        loop {
            let (events, ended) = py.detach(|| runtime().block_on(shared.next(SLICE)));
            shared.deliver(py, events);
            if ended {
                break;
            }
            if let Err(signal) = py.check_signals() {
                shared.token.cancel();
                interrupt.get_or_insert(signal);
            }
        }
        let result = shared.finish(py);
        match interrupt {
            Some(signal) => {
                signal.set_cause(py, result.err());
                Err(signal)
            }
            None => result,
        }
    }

    /// An awaitable of the `Artifact` (see `wait()`); cancelling the
    /// awaitable stops the waiting, not the build (use `cancel()`).
    fn wait_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let shared = self.shared.clone();
        pyo3_async_runtimes::tokio::future_into_py(py, async move {
            loop {
                let (events, ended) = shared.next(Duration::from_secs(3600)).await;
                Python::attach(|py| shared.deliver(py, events));
                if ended {
                    break;
                }
            }
            Python::attach(|py| shared.finish(py))
        })
    }

    /// Iterating yields the build's events as they happen (instead of
    /// handing them to the callback), and stops when the build and its
    /// cleanup are done; then `wait()` gives the result. Ctrl-C while
    /// iterating behaves as in `wait()`.
    fn __iter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<Py<PyEvent>>> {
        let shared = &self.shared;
        loop {
            if let Some(e) = lock(&shared.pending).pop_front() {
                return PyEvent::from_core(py, &e).map(Some);
            }
            let (events, ended) = py.detach(|| runtime().block_on(shared.next(SLICE)));
            if !events.is_empty() {
                lock(&shared.pending).extend(events);
                continue;
            }
            if ended {
                return Ok(None);
            }
            if let Err(signal) = py.check_signals() {
                shared.token.cancel();
                let result = self.wait(py);
                signal.set_cause(py, result.err());
                return Err(signal);
            }
        }
    }

    fn __repr__(&self) -> String {
        format!(
            "RunningBuild({}, done={})",
            self.shared.build_id,
            self.done()
        )
    }
}
