use std::fmt;
use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::Backoff;
use crate::schedule::Schedule;
pub use crate::schedule::{Expectation, WaitKey};

/// What one look at a resource says.
#[derive(Debug, Clone, PartialEq)]
pub enum Poll<T> {
    /// The wanted state is reached.
    Done(T),
    /// Not yet; the string names the current state (for progress and errors).
    Pending(String),
    /// A state from which the wanted one can no longer be reached.
    Failed(String),
}

impl<T> Poll<T> {
    /// The same answer with the done value mapped.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Poll<U> {
        match self {
            Poll::Done(v) => Poll::Done(f(v)),
            Poll::Pending(s) => Poll::Pending(s),
            Poll::Failed(s) => Poll::Failed(s),
        }
    }

    /// What a look that may find nothing means: `None` (the resource is not
    /// there) is a failure, `"not found"`; a resource found means what
    /// `meaning` says.
    pub fn found<U>(resource: Option<U>, meaning: impl FnOnce(U) -> Poll<T>) -> Poll<T> {
        resource.map_or_else(|| Poll::Failed("not found".to_owned()), meaning)
    }
}

/// How to wait.
#[derive(Debug, Clone)]
pub struct WaitOptions {
    /// Give up after this long.
    pub timeout: Duration,
    /// Polling backoff; its `cap` is the longest pause between two looks
    /// while nothing is known of the transition's length (see
    /// [`Expectation`] for the pauses when something is).
    pub backoff: Backoff,
    /// Stops the wait at once when cancelled.
    pub cancel: CancellationToken,
    /// Which kind of transition this is, for a wait that learns how long
    /// it takes (the engine's wait keeps a history per key).
    pub key: Option<WaitKey>,
    /// How long the transition is expected to take; `None` polls on the
    /// cold schedule.
    pub expect: Option<Expectation>,
}

impl WaitOptions {
    /// The first pause of a wait (when the cap is larger): cloud resources
    /// change state in seconds, so polling sooner mostly costs requests.
    pub const FIRST_PAUSE: Duration = Duration::from_millis(250);

    /// The jitter of a wait's pauses: one resource is polled, so the pauses
    /// stay within 10 % below the backoff's delay (no need to spread
    /// clients as retries do).
    pub const JITTER: f64 = 0.1;

    /// Waits up to `timeout`, polling [`WaitOptions::FIRST_PAUSE`] (or `cap`,
    /// if smaller) after the first look, then twice as long each time up to
    /// `cap` apart, with [`WaitOptions::JITTER`].
    pub fn new(timeout: Duration, cap: Duration) -> Self {
        Self {
            timeout,
            backoff: Backoff::new(Self::FIRST_PAUSE.min(cap), cap).with_jitter(Self::JITTER),
            cancel: CancellationToken::new(),
            key: None,
            expect: None,
        }
    }

    /// Makes the first pause `first` (at most the cap).
    pub fn first_pause(mut self, first: Duration) -> Self {
        self.backoff.initial = first.min(self.backoff.cap);
        self
    }

    /// Uses this cancellation token.
    pub fn cancel_on(mut self, token: CancellationToken) -> Self {
        self.cancel = token;
        self
    }

    /// Names the kind of transition waited for, so that a wait that keeps a
    /// history (the engine's) learns how long it takes and polls around
    /// the expected end next time.
    pub fn learn(mut self, key: WaitKey) -> Self {
        self.key = Some(key);
        self
    }

    /// Polls around the expected end (`None`: the cold schedule).
    pub fn expecting(mut self, expect: Option<Expectation>) -> Self {
        self.expect = expect;
        self
    }
}

impl Default for WaitOptions {
    /// Ten minutes, polling at most one second apart.
    fn default() -> Self {
        Self::new(Duration::from_secs(600), Duration::from_secs(1))
    }
}

/// Why a wait ended without reaching its state.
#[derive(Debug, thiserror::Error)]
pub enum WaitError<E> {
    /// The resource reached a failed state.
    #[error("{what} reached failed state: {state}")]
    Failed {
        /// What was waited on.
        what: String,
        /// The state (and reason, when known) the resource ended in.
        state: String,
    },
    /// The timeout passed; `last` is the last state seen.
    #[error("timed out after {after:?} waiting for {what} (last state: {last})")]
    Timeout {
        /// What was waited on.
        what: String,
        /// The timeout that passed.
        after: Duration,
        /// The last state seen.
        last: String,
    },
    /// The cancellation token fired.
    #[error("cancelled while waiting for {what}")]
    Cancelled {
        /// What was waited on.
        what: String,
    },
    /// Looking at the resource failed.
    #[error("while waiting for {what}: {source}")]
    Poll {
        /// What was waited on.
        what: String,
        /// The error from the look.
        #[source]
        source: E,
    },
}

/// Polls `look` until it answers [`Poll::Done`] or [`Poll::Failed`], the
/// timeout passes, or the token is cancelled. `what` names the resource in
/// errors ("machine 7f3e…"). `on_poll` sees every pending state (for progress
/// events). A `Failed` answer ends the wait at once.
pub async fn wait_for<T, E, F, Fut>(
    what: impl Into<String>,
    opts: &WaitOptions,
    on_poll: impl FnMut(&str, u32),
    look: F,
) -> Result<T, WaitError<E>>
where
    E: fmt::Display,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Poll<T>, E>>,
{
    wait_observed(what, opts, on_poll, look)
        .await
        .map(|o| o.value)
}

/// What a successful wait saw of the transition: it ended after
/// `last_pending` (the start of the last look that found it pending, `None`
/// when the first look found it done) and by `done` (the start of the look
/// that found it done), both counted from the start of the wait.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed<T> {
    /// What the done look answered.
    pub value: T,
    /// When the last look that found the resource pending started.
    pub last_pending: Option<Duration>,
    /// When the look that found it done started.
    pub done: Duration,
    /// How many looks the wait made.
    pub looks: u32,
}

/// [`wait_for`], also saying when the transition was seen to end (what a
/// wait history records).
pub async fn wait_observed<T, E, F, Fut>(
    what: impl Into<String>,
    opts: &WaitOptions,
    mut on_poll: impl FnMut(&str, u32),
    mut look: F,
) -> Result<Observed<T>, WaitError<E>>
where
    E: fmt::Display,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Poll<T>, E>>,
{
    let what = what.into();
    let start = Instant::now();
    let deadline = start + opts.timeout;
    let schedule = Schedule::new(opts);
    let mut last = String::from("unknown");
    let mut last_pending = None;
    let mut attempt = 0u32;
    let mut next = start + schedule.first_look();
    loop {
        tokio::select! {
            biased;
            _ = opts.cancel.cancelled() => return Err(WaitError::Cancelled { what }),
            _ = tokio::time::sleep_until(deadline) => {
                return Err(WaitError::Timeout { what, after: opts.timeout, last });
            }
            _ = tokio::time::sleep_until(next) => {}
        }
        let at = start.elapsed();
        let polled = tokio::select! {
            biased;
            _ = opts.cancel.cancelled() => return Err(WaitError::Cancelled { what }),
            _ = tokio::time::sleep_until(deadline) => {
                return Err(WaitError::Timeout { what, after: opts.timeout, last });
            }
            r = look() => r,
        };
        match polled {
            Ok(Poll::Done(value)) => {
                return Ok(Observed {
                    value,
                    last_pending,
                    done: at,
                    looks: attempt + 1,
                });
            }
            Ok(Poll::Failed(state)) => return Err(WaitError::Failed { what, state }),
            Ok(Poll::Pending(state)) => {
                on_poll(&state, attempt);
                last = state;
                last_pending = Some(at);
            }
            Err(source) => return Err(WaitError::Poll { what, source }),
        }
        // The pause counts from the start of this look, so a slow look
        // does not push the looks near the expected end later (but leaves
        // at least a quarter of it between two looks).
        let pause = schedule.pause(at, attempt);
        next = (start + at + pause).max(Instant::now() + pause / 4);
        attempt = attempt.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn opts(timeout_ms: u64) -> WaitOptions {
        WaitOptions::new(Duration::from_millis(timeout_ms), Duration::from_millis(20))
    }

    #[tokio::test]
    async fn done_after_pending_states() {
        let n = AtomicU32::new(0);
        let mut seen = Vec::new();
        let r: Result<u32, WaitError<String>> = wait_for(
            "thing",
            &opts(5_000),
            |s, _| seen.push(s.to_owned()),
            || {
                let i = n.fetch_add(1, Ordering::SeqCst);
                async move {
                    Ok(if i < 2 {
                        Poll::Pending(format!("s{i}"))
                    } else {
                        Poll::Done(i)
                    })
                }
            },
        )
        .await;
        assert_eq!(r.unwrap(), 2);
        assert_eq!(seen, vec!["s0", "s1"]);
    }

    #[test]
    fn polls_start_at_the_first_pause_with_small_jitter() {
        let o = WaitOptions::new(Duration::from_secs(60), Duration::from_secs(3));
        assert_eq!(o.backoff.initial, WaitOptions::FIRST_PAUSE);
        assert_eq!(o.backoff.cap, Duration::from_secs(3));
        assert_eq!(o.backoff.jitter, WaitOptions::JITTER);
        let small = WaitOptions::new(Duration::from_secs(1), Duration::from_millis(20));
        assert_eq!(small.backoff.initial, Duration::from_millis(20));
        let o = o.first_pause(Duration::from_secs(10));
        assert_eq!(o.backoff.initial, Duration::from_secs(3));
    }

    #[tokio::test(start_paused = true)]
    async fn a_ten_second_wait_polls_about_once_per_cap() {
        // Pauses 0.225-0.25 s, 0.45-0.5 s, then 0.9-1 s: the state reached
        // at 10 s is seen by the 13th or 14th look (the former 100 ms start
        // with half jitter took 14 to 24, about 18).
        let start = Instant::now();
        let looks = AtomicU32::new(0);
        let o = WaitOptions::new(Duration::from_secs(60), Duration::from_secs(1));
        let r: Result<(), WaitError<String>> = wait_for(
            "vm",
            &o,
            |_, _| {},
            || {
                looks.fetch_add(1, Ordering::SeqCst);
                let done = start.elapsed() >= Duration::from_secs(10);
                async move {
                    Ok(if done {
                        Poll::Done(())
                    } else {
                        Poll::Pending("provisioning".into())
                    })
                }
            },
        )
        .await;
        r.unwrap();
        let n = looks.load(Ordering::SeqCst);
        assert!((13..=14).contains(&n), "{n} looks");
    }

    #[tokio::test]
    async fn failed_state_ends_at_once() {
        let n = AtomicU32::new(0);
        let r: Result<(), WaitError<String>> = wait_for(
            "image x",
            &opts(60_000),
            |_, _| {},
            || {
                n.fetch_add(1, Ordering::SeqCst);
                async { Ok(Poll::Failed("failed: PrepareImageDidNotRun".into())) }
            },
        )
        .await;
        assert!(matches!(r, Err(WaitError::Failed { ref state, .. }) if state.contains("Prepare")));
        assert_eq!(n.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn times_out_with_last_state() {
        let r: Result<(), WaitError<String>> = wait_for(
            "vm",
            &opts(1_000),
            |_, _| {},
            || async { Ok(Poll::Pending("provisioning".into())) },
        )
        .await;
        match r {
            Err(WaitError::Timeout { last, after, .. }) => {
                assert_eq!(last, "provisioning");
                assert_eq!(after, Duration::from_millis(1_000));
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn cancellation_interrupts_a_slow_look() {
        let o = opts(60_000);
        let token = o.cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            token.cancel();
        });
        let r: Result<(), WaitError<String>> = wait_for(
            "vm",
            &o,
            |_, _| {},
            || async {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                Ok(Poll::Pending("x".into()))
            },
        )
        .await;
        assert!(matches!(r, Err(WaitError::Cancelled { .. })));
    }

    #[tokio::test]
    async fn poll_error_is_returned() {
        let r: Result<(), WaitError<String>> = wait_for(
            "vm",
            &opts(1_000),
            |_, _| {},
            || async { Err("503".to_string()) },
        )
        .await;
        assert!(matches!(r, Err(WaitError::Poll { ref source, .. }) if source == "503"));
    }
}
