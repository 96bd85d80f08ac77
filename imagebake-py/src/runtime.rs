//! The one tokio runtime of the process (pyo3-async-runtimes' runtime), and
//! running a future from a Python thread without holding the GIL.

use std::future::Future;
use std::time::Duration;

use pyo3::prelude::*;
use tokio::runtime::Runtime;

/// How long a blocking call stays detached before it re-attaches to check
/// for signals (Ctrl-C).
pub(crate) const SLICE: Duration = Duration::from_millis(50);

/// The process's tokio runtime.
pub(crate) fn runtime() -> &'static Runtime {
    pyo3_async_runtimes::tokio::get_runtime()
}

/// Runs `fut` to completion on the runtime, detached from Python in slices
/// of [`SLICE`] with `check_signals()` between them. On a signal the future
/// is dropped and the signal's exception (KeyboardInterrupt) raised: for
/// short operations (starting a simulator, an API read) that own nothing
/// that needs cleaning up.
pub(crate) fn block_on<F>(py: Python<'_>, fut: F) -> PyResult<F::Output>
where
    F: Future + Send,
    F::Output: Send,
{
    let mut fut = Box::pin(fut);
    loop {
        let slice = py.detach(|| {
            runtime().block_on(async { tokio::time::timeout(SLICE, &mut fut).await.ok() })
        });
        if let Some(out) = slice {
            return Ok(out);
        }
        py.check_signals()?;
    }
}

/// Runs the task `start(token)` on the runtime to its end, detached from
/// Python in slices of [`SLICE`]: on a signal (Ctrl-C) the token is
/// cancelled and the task still awaited (so its cleanup ends), and the
/// signal's exception is returned beside the task's outcome, to be raised
/// with that outcome as its cause.
pub(crate) fn run_cancellable<T, F, Fut>(
    py: Python<'_>,
    start: F,
) -> (Result<T, tokio::task::JoinError>, Option<PyErr>)
where
    F: FnOnce(imagebake_core::CancellationToken) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let cancel = imagebake_core::CancellationToken::new();
    let mut task = runtime().spawn(start(cancel.clone()));
    let mut interrupt: Option<PyErr> = None;
    let joined = loop {
        let slice = py.detach(|| {
            runtime().block_on(async { tokio::time::timeout(SLICE, &mut task).await.ok() })
        });
        if let Some(joined) = slice {
            break joined;
        }
        if let Err(signal) = py.check_signals() {
            cancel.cancel();
            interrupt.get_or_insert(signal);
        }
    };
    (joined, interrupt)
}

/// Raises `interrupt` (with `result`'s error as its cause) if there was
/// one, else returns `result`.
pub(crate) fn with_interrupt<T>(
    py: Python<'_>,
    result: PyResult<T>,
    interrupt: Option<PyErr>,
) -> PyResult<T> {
    match interrupt {
        Some(signal) => {
            signal.set_cause(py, result.err());
            Err(signal)
        }
        None => result,
    }
}
