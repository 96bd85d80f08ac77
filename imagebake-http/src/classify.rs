//! The one retry classifier: from what went wrong (a status, a transport
//! failure) and how safe the request is to repeat, whether to send it again.

use std::time::{Duration, SystemTime};

/// The longest `Retry-After` honoured: a server asking for more is waited
/// on this long, then asked again (a build never sleeps for minutes on
/// one header).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

/// What a failed attempt looked like on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Failure {
    /// The cloud answered with an error status.
    Status {
        /// The HTTP status.
        status: u16,
        /// Whether the cloud's body says "throttled" (Outscale answers some
        /// throttling with codes on a 503 or 429); 420 and 429 always are.
        throttled: bool,
        /// The delay the server asked for (`Retry-After`), if any.
        retry_after: Option<Duration>,
    },
    /// The connection could not be made: the request was certainly not
    /// processed.
    Connect,
    /// The request was (or may have been) sent, but no complete answer came
    /// back (timeout, connection reset): it may have been processed.
    Lost,
}

/// How safe a request is to send again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotency {
    /// Repeating it changes nothing (GET, PUT, DELETE, a create carrying an
    /// idempotency token): retried after any transient failure, a lost
    /// answer and a 500/502/503/504 included.
    Idempotent,
    /// An action (start, stop, link) the cloud refuses rather than repeats:
    /// retried after throttling, 503 and a failed connect.
    Action,
    /// A create that could make a second resource: retried only when
    /// certainly not processed (throttling, a failed connect). After an
    /// unknown outcome, [`crate::create_or_adopt`] looks before re-sending.
    Create,
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Send it again, after the server's (capped) delay if it asked for one,
    /// else after the policy's backoff.
    Retry(Option<Duration>),
    /// Give up: return the error.
    Stop,
}

impl Verdict {
    /// Whether this says to retry.
    pub fn is_retry(self) -> bool {
        matches!(self, Verdict::Retry(_))
    }
}

impl Failure {
    /// A failure from an HTTP status (`throttled` as the body says).
    pub fn status(status: u16, throttled: bool, retry_after: Option<Duration>) -> Self {
        Self::Status {
            status,
            throttled,
            retry_after,
        }
    }

    /// A transport failure: [`Failure::Connect`] when the connection could
    /// not be made, else [`Failure::Lost`].
    pub fn transport(connect: bool) -> Self {
        if connect { Self::Connect } else { Self::Lost }
    }

    /// Whether the request may have been processed although no success came
    /// back: a lost answer or a server error (5xx).
    pub fn outcome_unknown(&self) -> bool {
        match self {
            Failure::Status { status, .. } => *status >= 500,
            Failure::Connect => false,
            Failure::Lost => true,
        }
    }

    /// [`classify`] for this failure.
    pub fn verdict(&self, idempotency: Idempotency) -> Verdict {
        classify(self, idempotency)
    }
}

/// The one retry rule of every client (see [`Idempotency`] for which
/// failures each kind of request is retried after). A `Retry-After` is
/// honoured up to [`MAX_RETRY_AFTER`].
pub fn classify(failure: &Failure, idempotency: Idempotency) -> Verdict {
    use Idempotency::{Create, Idempotent};
    match *failure {
        Failure::Connect => Verdict::Retry(None),
        Failure::Lost if idempotency == Idempotent => Verdict::Retry(None),
        Failure::Lost => Verdict::Stop,
        Failure::Status {
            status,
            throttled,
            retry_after,
        } => {
            let retry = match status {
                420 | 429 => true,
                _ if throttled => true,
                503 => idempotency != Create,
                500 | 502 | 504 => idempotency == Idempotent,
                _ => false,
            };
            if retry {
                Verdict::Retry(retry_after.map(|d| d.min(MAX_RETRY_AFTER)))
            } else {
                Verdict::Stop
            }
        }
    }
}

/// Parses a `Retry-After` header value: delta-seconds or an HTTP date
/// (relative to `now`). A date in the past means "now".
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::Idempotency::{Action, Create, Idempotent};
    use super::*;

    fn status(s: u16) -> Failure {
        Failure::status(s, false, None)
    }

    #[test]
    fn throttling_and_failed_connects_are_retried_for_every_request() {
        for idem in [Idempotent, Action, Create] {
            assert!(classify(&status(429), idem).is_retry(), "{idem:?}");
            assert!(classify(&status(420), idem).is_retry(), "{idem:?}");
            assert!(
                classify(&Failure::status(503, true, None), idem).is_retry(),
                "{idem:?}"
            );
            assert!(classify(&Failure::Connect, idem).is_retry(), "{idem:?}");
        }
    }

    #[test]
    fn unknown_outcomes_are_retried_only_when_safe_to_repeat() {
        assert!(classify(&Failure::Lost, Idempotent).is_retry());
        assert!(!classify(&Failure::Lost, Action).is_retry());
        assert!(!classify(&Failure::Lost, Create).is_retry());
        for s in [500, 502, 504] {
            assert!(classify(&status(s), Idempotent).is_retry(), "{s}");
            assert!(!classify(&status(s), Action).is_retry(), "{s}");
            assert!(!classify(&status(s), Create).is_retry(), "{s}");
        }
        assert!(classify(&status(503), Action).is_retry());
        assert!(!classify(&status(503), Create).is_retry());
        assert!(Failure::Lost.outcome_unknown() && status(503).outcome_unknown());
        assert!(!Failure::Connect.outcome_unknown() && !status(429).outcome_unknown());
    }

    #[test]
    fn client_errors_are_final() {
        for s in [400, 401, 403, 404, 409, 501] {
            assert_eq!(classify(&status(s), Idempotent), Verdict::Stop, "{s}");
        }
    }

    #[test]
    fn retry_after_is_honoured_but_capped() {
        let asked = |secs| Failure::status(429, false, Some(Duration::from_secs(secs)));
        assert_eq!(
            classify(&asked(3), Create),
            Verdict::Retry(Some(Duration::from_secs(3)))
        );
        assert_eq!(
            classify(&asked(3600), Create),
            Verdict::Retry(Some(MAX_RETRY_AFTER))
        );
        assert_eq!(classify(&status(429), Create), Verdict::Retry(None));
    }

    #[test]
    fn retry_after_parses_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        assert_eq!(parse_retry_after(" 7 ", now), Some(Duration::from_secs(7)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(120));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(120))
        );
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(5));
        assert_eq!(parse_retry_after(&earlier, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
