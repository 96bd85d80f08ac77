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
