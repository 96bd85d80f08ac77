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
