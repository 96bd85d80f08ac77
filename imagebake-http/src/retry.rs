use std::future::Future;
use std::time::Duration;

use crate::classify::{Idempotency, MAX_RETRY_AFTER, Verdict, classify};
use crate::{Backoff, ErrorMeta};

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

/// Sends one API request with `op` (called afresh for each attempt: a new
/// `Date` header and signature) until it succeeds or [`classify`] says to
/// stop for its `idempotency`, at most `policy.max_attempts` times. The one
/// retry loop of every client; cancellation is by dropping the future.
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
    let decide = |e: &E| {
        e.failure()
            .map_or(Verdict::Stop, |f| classify(&f, idempotency))
    };
    let mut op = op;
    let mut attempt = 0;
    loop {
        let e = match op(attempt).await {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        let Verdict::Retry(after) = decide(&e) else {
            return Err(e);
        };
        let Some(delay) = next_delay(policy, attempt, after) else {
            return Err(e);
        };
        tracing::debug!(attempt, ?delay, error = %e, "retrying");
        tokio::time::sleep(delay).await;
        attempt += 1;
    }
}

/// The pause before the attempt after `attempt`: the server's Retry-After
/// (capped at [`MAX_RETRY_AFTER`]) or the policy's backoff; `None` when the
/// policy's attempts are used up.
pub(crate) fn next_delay(
    policy: &RetryPolicy,
    attempt: u32,
    after: Option<Duration>,
) -> Option<Duration> {
    (attempt + 1 < policy.max_attempts)
        .then(|| after.map_or_else(|| policy.backoff.delay(attempt), |d| d.min(MAX_RETRY_AFTER)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Failure;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[derive(Debug)]
    struct E(Failure);
    impl std::fmt::Display for E {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "{:?}", self.0)
        }
    }
    impl std::error::Error for E {}
    impl ErrorMeta for E {
        fn status(&self) -> Option<u16> {
            None
        }
        fn code(&self) -> Option<&str> {
            None
        }
        fn message(&self) -> Option<&str> {
            None
        }
        fn request_id(&self) -> Option<&str> {
            None
        }
        fn failure(&self) -> Option<Failure> {
            Some(self.0)
        }
    }

    fn fast(n: u32) -> RetryPolicy {
        RetryPolicy {
            max_attempts: n,
            backoff: Backoff::new(Duration::from_millis(1), Duration::from_millis(2)),
        }
    }

    #[tokio::test]
    async fn retries_what_the_classifier_allows_until_success() {
        let calls = AtomicU32::new(0);
        let r: Result<u32, E> = retry_request(&fast(5), Idempotency::Idempotent, |n| {
            calls.fetch_add(1, Ordering::SeqCst);
            async move { if n < 2 { Err(E(Failure::Lost)) } else { Ok(n) } }
        })
        .await;
        assert_eq!(r.unwrap(), 2);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn stops_on_a_final_error_and_on_exhaustion() {
        let calls = AtomicU32::new(0);
        let r: Result<(), E> = retry_request(&fast(5), Idempotency::Create, |_| {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Err(E(Failure::Lost)) }
        })
        .await;
        assert!(r.is_err());
        assert_eq!(
            calls.load(Ordering::SeqCst),
            1,
            "a create is not re-sent blindly"
        );

        let calls = AtomicU32::new(0);
        let r: Result<(), E> = retry_request(&fast(3), Idempotency::Create, |_| {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Err(E(Failure::Connect)) }
        })
        .await;
        assert!(r.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn a_huge_retry_after_is_capped() {
        let start = tokio::time::Instant::now();
        let asked = Failure::status(429, false, Some(Duration::from_secs(3600)));
        let r: Result<(), E> =
            retry_request(
                &fast(2),
                Idempotency::Create,
                |_| async move { Err(E(asked)) },
            )
            .await;
        assert!(r.is_err());
        assert_eq!(start.elapsed(), MAX_RETRY_AFTER);
    }
}
