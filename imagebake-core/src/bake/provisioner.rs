//! A provisioner with Packer's meta keys applied around it:
//! `pause_before` (wait, then run), `timeout` (the run fails after it),
//! `max_retries` (a failed run is retried that many times, as Packer's
//! `RetriedProvisioner`), `continue_on_error` (a failure is reported and
//! the build goes on).

use std::borrow::Cow;
use std::time::Duration;

use async_trait::async_trait;
use imagebake_http::Backoff;

use crate::builders::Provisioner;
use crate::comm::Comm;
use crate::template::PlannedProvisioner;
use crate::{Error, OutputStream, Step, StepCx};

/// Packer retries a provisioner after 2 s, then longer.
const RETRY_BACKOFF: (Duration, Duration) = (Duration::from_secs(2), Duration::from_secs(30));

/// `inner` with `p`'s meta keys; `inner` itself when none is set.
pub(crate) fn guarded(inner: Provisioner, p: &PlannedProvisioner) -> Provisioner {
    if p.pause_before.is_none() && p.timeout.is_none() && p.max_retries == 0 && !p.continue_on_error
    {
        return inner;
    }
    Box::new(Guarded {
        inner,
        pause_before: p.pause_before,
        timeout: p.timeout,
        max_retries: p.max_retries,
        continue_on_error: p.continue_on_error,
    })
}

struct Guarded {
    inner: Provisioner,
    pause_before: Option<Duration>,
    timeout: Option<Duration>,
    max_retries: u32,
    continue_on_error: bool,
}

impl Guarded {
    /// One run of the provisioner, within `timeout`.
    async fn once(&self, cx: &StepCx, comm: Comm) -> Result<Comm, Error> {
        let run = self.inner.run(cx, comm);
        match self.timeout {
            None => run.await,
            Some(after) => tokio::time::timeout(after, run).await.unwrap_or_else(|_| {
                Err(Error::Timeout {
                    what: format!("provisioner {}", self.inner.name()),
                    after,
                    last: None,
                })
            }),
        }
    }
}

#[async_trait]
impl Step<Comm> for Guarded {
    type Out = Comm;

    fn name(&self) -> Cow<'_, str> {
        self.inner.name()
    }

    async fn run(&self, cx: &StepCx, comm: Comm) -> Result<Comm, Error> {
        let say = |line: String| cx.output_line(OutputStream::Stdout, &line);
        if let Some(pause) = self.pause_before {
            say(format!("Pausing {pause:?} before the next provisioner..."));
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                () = cx.token().cancelled() => return Err(Error::cancelled("pause_before")),
            }
        }
        let backoff = Backoff::new(RETRY_BACKOFF.0, RETRY_BACKOFF.1).without_jitter();
        let mut attempt = 0;
        loop {
            let e = match self.once(cx, comm.clone()).await {
                Ok(c) => return Ok(c),
                Err(e) => e,
            };
            if e.is_cancelled() || cx.token().is_cancelled() {
                return Err(e);
            }
            if attempt >= self.max_retries {
                if self.continue_on_error {
                    say(format!(
                        "{} failed, continuing (continue_on_error): {e}",
                        self.inner.name()
                    ));
                    return Ok(comm);
                }
                return Err(e);
            }
            let delay = backoff.delay(attempt);
            attempt += 1;
            say(format!(
                "{} failed ({e}); retrying in {delay:?} (retry {attempt} of {})",
                self.inner.name(),
                self.max_retries
            ));
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = cx.token().cancelled() => return Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;
    use crate::comm::ChrootCommunicator;
    use crate::{CancellationToken, Runner, from_fn};

    /// A provisioner that fails its first `failures` runs (or hangs when
    /// `hang`), counting its runs.
    fn flaky(failures: u32, hang: bool, runs: Arc<AtomicU32>) -> Provisioner {
        Box::new(from_fn("flaky", move |_cx: StepCx, comm: Comm| {
            let runs = runs.clone();
            async move {
                let n = runs.fetch_add(1, Ordering::SeqCst);
                if hang {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                }
                if n < failures {
                    Err(Error::Config(format!("run {n} fails")))
                } else {
                    Ok(comm)
                }
            }
        }))
    }

    fn meta(
        max_retries: u32,
        timeout: Option<Duration>,
        continue_on_error: bool,
    ) -> PlannedProvisioner {
        PlannedProvisioner {
            kind: "shell".into(),
            name: None,
            config: serde_json::json!({}),
            only: Vec::new(),
            except: Vec::new(),
            pause_before: Some(Duration::from_secs(1)),
            max_retries,
            timeout,
            continue_on_error,
            location: None,
        }
    }

    async fn run(step: Provisioner) -> Result<(), Error> {
        let dir = tempfile::tempdir().unwrap();
        let comm = Comm::new(ChrootCommunicator::new(dir.path()).unwrap());
        Runner::new()
            .run("t", CancellationToken::new(), |cx| async move {
                cx.step(step.as_ref(), comm).await.map(|_| ())
            })
            .await
            .map(|_| ())
            .map_err(|e| e.cause)
    }

    #[tokio::test(start_paused = true)]
    async fn max_retries_runs_a_failed_provisioner_again() {
        let runs = Arc::new(AtomicU32::new(0));
        run(guarded(
            flaky(2, false, runs.clone()),
            &meta(2, None, false),
        ))
        .await
        .expect("the third run succeeds");
        assert_eq!(runs.load(Ordering::SeqCst), 3);

        let runs = Arc::new(AtomicU32::new(0));
        let e = run(guarded(
            flaky(5, false, runs.clone()),
            &meta(1, None, false),
        ))
        .await
        .expect_err("fails twice");
        assert!(e.to_string().contains("run 1 fails"), "{e}");
        assert_eq!(runs.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn timeout_fails_the_run_and_continue_on_error_goes_on() {
        let runs = Arc::new(AtomicU32::new(0));
        let e = run(guarded(
            flaky(0, true, runs.clone()),
            &meta(0, Some(Duration::from_secs(5)), false),
        ))
        .await
        .expect_err("times out");
        assert!(matches!(e, Error::Timeout { .. }), "{e}");

        run(guarded(flaky(1, false, runs), &meta(0, None, true)))
            .await
            .expect("the failure is reported, the build goes on");
    }
}
