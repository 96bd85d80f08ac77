//! The one wait of the build. Clients only say what a state means
//! ([`Poll`]); this waits: it polls with the options' backoff, gives up at
//! the timeout, honours the cancellation token and reports progress.
//! [`StepCx::wait_for`](crate::StepCx::wait_for) (steps, with progress
//! events and the build's token) and [`UndoCx::wait_for`](crate::UndoCx::wait_for)
//! (undos, with the undo's token) are built on it, as are the sweeps and the
//! host-side waits that have neither.

use std::future::Future;

use imagebake_http::{Poll, WaitOptions};

use super::WaitHistory;

use crate::Error;

/// Polls `look` until it says done or failed, the timeout passes, or
/// `opts.cancel` fires; every pending state goes to `on_poll` (and to the
/// debug log). `what` names the resource in errors and progress.
///
/// A wait whose options name a [`WaitKey`](imagebake_http::WaitKey)
/// ([`WaitOptions::learn`]) learns: it polls around the end the
/// [`WaitHistory`] expects (when it has samples of that key, and the
/// options do not already say what to expect) and records the end it saw.
pub(crate) async fn wait<T, E, F, Fut>(
    what: impl Into<String>,
    opts: &WaitOptions,
    mut on_poll: impl FnMut(&str, u32),
    look: F,
) -> Result<T, Error>
where
    E: std::error::Error + Send + Sync + 'static,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Poll<T>, E>>,
{
    let what = what.into();
    let log = what.clone();
    let on_poll = |state: &str, attempt: u32| {
        tracing::debug!(what = %log, state, attempt, "waiting");
        on_poll(state, attempt);
    };
    let Some(key) = &opts.key else {
        return Ok(imagebake_http::wait_for(what, opts, on_poll, look).await?);
    };
    let history = WaitHistory::for_key(key);
    let mut opts = opts.clone();
    if opts.expect.is_none() {
        opts.expect = history.as_ref().and_then(|h| h.expect(key));
    }
    tracing::debug!(%key, expect = ?opts.expect, "wait schedule");
    let seen = imagebake_http::wait_observed(what, &opts, on_poll, look).await?;
    tracing::debug!(%key, looks = seen.looks, last_pending = ?seen.last_pending, done = ?seen.done, "wait ended");
    if let Some(h) = &history {
        h.record_in_background(key, &seen).await;
    }
    Ok(seen.value)
}
