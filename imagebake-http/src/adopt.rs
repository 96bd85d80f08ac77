//! The one way to make a create safe when its answer is lost.

use std::future::Future;

use crate::classify::{Idempotency, Verdict, classify};
use crate::retry::next_delay;
use crate::{ErrorMeta, RetryPolicy};

/// Creates a resource with `create` (one attempt per call, no retry of its
/// own), retrying under `policy` in this one loop:
///
/// - throttled or not connected: sent again after the backoff (the cloud
///   certainly did not act);
/// - outcome unknown (a lost answer, a server error:
///   [`ErrorMeta::outcome_unknown`]): `lookup` looks for what it may have
///   made (by unique name, build tag or idempotency token). Found, the
///   resource is adopted (returned as if the create had answered); certainly
///   absent, the create is sent again; the lookup failing, the create's own
///   error is returned;
/// - anything else: the error is returned at once.
///
/// `attempt` (0-based) is passed to `create` for logging.
pub async fn create_or_adopt<T, E, C, CF, L, LF>(
    policy: &RetryPolicy,
    mut create: C,
    mut lookup: L,
) -> Result<T, E>
where
    E: ErrorMeta,
    C: FnMut(u32) -> CF,
    CF: Future<Output = Result<T, E>>,
    L: FnMut() -> LF,
    LF: Future<Output = Result<Option<T>, E>>,
{
    let mut attempt = 0;
    loop {
        let e = match create(attempt).await {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        let after = match e.failure() {
            Some(f) if f.outcome_unknown() => match lookup().await {
                Ok(Some(v)) => {
                    tracing::info!(error = %e, "create answer lost, but the resource exists: adopted");
                    return Ok(v);
                }
                Ok(None) => {
                    tracing::info!(error = %e, "create answer lost and nothing was made");
                    None
                }
                Err(looked) => {
                    tracing::warn!(error = %e, lookup = %looked, "create answer lost and the lookup failed");
                    return Err(e);
                }
            },
            Some(f) => match classify(&f, Idempotency::Create) {
                Verdict::Retry(after) => after,
                Verdict::Stop => return Err(e),
            },
            None => return Err(e),
        };
        let Some(delay) = next_delay(policy, attempt, after) else {
            return Err(e);
        };
        tracing::debug!(attempt, ?delay, error = %e, "sending the create again");
        tokio::time::sleep(delay).await;
        attempt += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Backoff;
    use crate::classify::Failure;
    use std::cell::Cell;
    use std::time::Duration;

    fn fast(n: u32) -> RetryPolicy {
        RetryPolicy {
            max_attempts: n,
            backoff: Backoff::new(Duration::from_millis(1), Duration::from_millis(2)),
        }
    }

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
            match self.0 {
                Failure::Status { status, .. } => Some(status),
                _ => None,
            }
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

    #[tokio::test]
    async fn a_lost_create_is_adopted_when_found_and_resent_once_when_absent() {
        let sent = Cell::new(0);
        let create = |_| {
            sent.set(sent.get() + 1);
            let n = sent.get();
            async move { if n == 1 { Err(E(Failure::Lost)) } else { Ok(n) } }
        };
        let r = create_or_adopt(&fast(4), create, || async { Ok(Some(42)) }).await;
        assert_eq!(r.unwrap(), 42);
        assert_eq!(sent.get(), 1, "found: not sent again");

        sent.set(0);
        let r = create_or_adopt(&fast(4), create, || async { Ok(None) }).await;
        assert_eq!(r.unwrap(), 2);
        assert_eq!(sent.get(), 2, "absent: sent exactly once more");

        // Unknown every time: looked up after each, sent at most
        // max_attempts times in all.
        let looks = Cell::new(0);
        sent.set(0);
        let r: Result<u32, E> = create_or_adopt(
            &fast(3),
            |_| {
                sent.set(sent.get() + 1);
                async { Err(E(Failure::status(503, false, None))) }
            },
            || {
                looks.set(looks.get() + 1);
                async { Ok(None) }
            },
        )
        .await;
        assert_eq!(r.unwrap_err().status(), Some(503));
        assert_eq!((sent.get(), looks.get()), (3, 3));
    }

    #[tokio::test]
    async fn a_refused_create_is_not_looked_up_and_a_failed_lookup_keeps_the_error() {
        let looked = Cell::new(false);
        let r: Result<u32, E> = create_or_adopt(
            &fast(4),
            |_| async { Err(E(Failure::status(400, false, None))) },
            || {
                looked.set(true);
                async { Ok(Some(1)) }
            },
        )
        .await;
        assert_eq!(r.unwrap_err().status(), Some(400));
        assert!(!looked.get());

        let r: Result<u32, E> = create_or_adopt(
            &fast(4),
            |_| async { Err(E(Failure::status(500, false, None))) },
            || async { Err(E(Failure::Connect)) },
        )
        .await;
        assert_eq!(r.unwrap_err().status(), Some(500));
    }
}
