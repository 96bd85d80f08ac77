use std::future::Future;
use std::time::Duration;

use crate::classify::{Idempotency, MAX_RETRY_AFTER, Verdict, classify};
use crate::{Backoff, ErrorMeta};

/// What [`retry`] asks of an error.
pub trait Retryable {
    /// Whether trying the same operation again may succeed (throttling,
    /// "service unavailable", a dropped idempotent request).
    fn is_retryable(&self) -> bool;

    /// A delay the server asked for (`Retry-After`), used instead of the backoff.
    fn retry_after(&self) -> Option<Duration> {
        None
    }
}

/// How often and how patiently to retry.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Total attempts, the first included. 1 means "never retry".
    pub max_attempts: u32,
    /// Delay between attempts.
    pub backoff: Backoff,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            backoff: Backoff::new(Duration::from_millis(200), Duration::from_secs(5)),
        }
    }
}

impl RetryPolicy {
    /// A policy that tries once.
    pub fn never() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }
}

/// Runs `op` until it succeeds, fails with a non-retryable error, or the
/// policy's attempts are used up; returns the last result.
///
/// `op` is called afresh for every attempt, so per-attempt work (a new `Date`
/// header and signature, a new request id) belongs inside it. Cancellation is
/// by dropping the returned future.
pub async fn retry<T, E, F, Fut>(policy: &RetryPolicy, op: F) -> Result<T, E>
where
    E: Retryable + std::fmt::Display,
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    run(policy, op, |e: &E| {
        if e.is_retryable() {
            Verdict::Retry(e.retry_after())
        } else {
            Verdict::Stop
        }
    })
    .await
}

/// Sends one API request with `op` (called afresh for each attempt) until
/// it succeeds or [`classify`] says to stop for its `idempotency`, at most
/// `policy.max_attempts` times. The one retry loop of every client.
pub async fn retry_request<T, E, F, Fut>(
    policy: &RetryPolicy,
    idempotency: Idempotency,
    op: F,
) -> Result<T, E>
where
    E: ErrorMeta,
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    run(policy, op, |e: &E| {
        e.failure()
            .map_or(Verdict::Stop, |f| classify(&f, idempotency))
    })
    .await
}

async fn run<T, E, F, Fut>(
    policy: &RetryPolicy,
    mut op: F,
    decide: impl Fn(&E) -> Verdict,
) -> Result<T, E>
where
    E: std::fmt::Display,
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut attempt = 0;
    loop {
        let e = match op(attempt).await {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        let Verdict::Retry(after) = decide(&e) else {
            return Err(e);
        };
        if attempt + 1 >= policy.max_attempts {
            return Err(e);
        }
        let delay = after.map_or_else(|| policy.backoff.delay(attempt), |d| d.min(MAX_RETRY_AFTER));
        tracing::debug!(attempt, ?delay, error = %e, "retrying");
        tokio::time::sleep(delay).await;
        attempt += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[derive(Debug)]
    struct E(bool);
    impl std::fmt::Display for E {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "E({})", self.0)
        }
    }
    impl Retryable for E {
        fn is_retryable(&self) -> bool {
            self.0
        }
    }

    fn fast(n: u32) -> RetryPolicy {
        RetryPolicy {
            max_attempts: n,
            backoff: Backoff::new(Duration::from_millis(1), Duration::from_millis(2)),
        }
    }

    #[tokio::test]
    async fn retries_retryable_until_success() {
        let calls = AtomicU32::new(0);
        let r: Result<u32, E> = retry(&fast(5), |n| {
            calls.fetch_add(1, Ordering::SeqCst);
            async move { if n < 2 { Err(E(true)) } else { Ok(n) } }
        })
        .await;
        assert_eq!(r.unwrap(), 2);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn stops_on_fatal_and_on_exhaustion() {
        let calls = AtomicU32::new(0);
        let r: Result<(), E> = retry(&fast(5), |_| {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Err(E(false)) }
        })
        .await;
        assert!(r.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);

        let calls = AtomicU32::new(0);
        let r: Result<(), E> = retry(&fast(3), |_| {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Err(E(true)) }
        })
        .await;
        assert!(r.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[derive(Debug)]
    struct Slow;
    impl std::fmt::Display for Slow {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("429")
        }
    }
    impl Retryable for Slow {
        fn is_retryable(&self) -> bool {
            true
        }
        fn retry_after(&self) -> Option<Duration> {
            Some(Duration::from_secs(3600))
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_huge_retry_after_is_capped() {
        let start = tokio::time::Instant::now();
        let r: Result<(), Slow> = retry(&fast(2), |_| async { Err(Slow) }).await;
        assert!(r.is_err());
        assert_eq!(start.elapsed(), MAX_RETRY_AFTER);
    }
}
