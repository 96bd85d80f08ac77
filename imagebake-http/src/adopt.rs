//! The one way to make a create safe when its answer is lost.

use std::future::Future;

use crate::ErrorMeta;

/// Sends a create with `create`; when its outcome is unknown (a lost answer,
/// a server error: [`ErrorMeta::outcome_unknown`]), asks `lookup` for what it
/// may have made (by unique name, build tag or idempotency token):
///
/// - found: the resource is adopted (returned as if the create answered);
/// - certainly absent: the create is sent once more;
/// - the lookup failing: the create's own error is returned.
///
/// Any other error of the create is returned at once. `create` must be its
/// client's one-loop retried call (no retry around it here).
pub async fn create_or_adopt<T, E, C, CF, L, LF>(mut create: C, lookup: L) -> Result<T, E>
where
    E: ErrorMeta,
    C: FnMut() -> CF,
    CF: Future<Output = Result<T, E>>,
    L: FnOnce() -> LF,
    LF: Future<Output = Result<Option<T>, E>>,
{
    match create().await {
        Ok(v) => Ok(v),
        Err(e) if e.outcome_unknown() => match lookup().await {
            Ok(Some(v)) => {
                tracing::info!(error = %e, "create answer lost, but the resource exists: adopted");
                Ok(v)
            }
            Ok(None) => {
                tracing::info!(error = %e, "create answer lost and nothing was made: sending it again");
                create().await
            }
            Err(looked) => {
                tracing::warn!(error = %e, lookup = %looked, "create answer lost and the lookup failed");
                Err(e)
            }
        },
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::Failure;
    use std::cell::Cell;

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
        let create = || {
            sent.set(sent.get() + 1);
            let n = sent.get();
            async move { if n == 1 { Err(E(Failure::Lost)) } else { Ok(n) } }
        };
        let r = create_or_adopt(create, || async { Ok(Some(42)) }).await;
        assert_eq!(r.unwrap(), 42);
        assert_eq!(sent.get(), 1, "found: not sent again");

        sent.set(0);
        let r = create_or_adopt(create, || async { Ok(None) }).await;
        assert_eq!(r.unwrap(), 2);
        assert_eq!(sent.get(), 2, "absent: sent exactly once more");
    }

    #[tokio::test]
    async fn a_refused_create_is_not_looked_up_and_a_failed_lookup_keeps_the_error() {
        let looked = Cell::new(false);
        let r: Result<u32, E> = create_or_adopt(
            || async { Err(E(Failure::status(400, false, None))) },
            || {
                looked.set(true);
                async { Ok(Some(1)) }
            },
        )
        .await;
        assert_eq!(r.unwrap_err().status(), Some(400));
        assert!(!looked.get());

        let r: Result<u32, E> = create_or_adopt(
            || async { Err(E(Failure::status(500, false, None))) },
            || async { Err(E(Failure::Connect)) },
        )
        .await;
        assert_eq!(r.unwrap_err().status(), Some(500));
    }
}
