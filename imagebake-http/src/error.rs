//! One error contract for every cloud client ([`ErrorMeta`]) and one way to
//! print an error with its causes ([`chain`]).

use std::error::Error as StdError;
use std::fmt;

use crate::classify::{Failure, Idempotency};

/// What every cloud client's error says about itself, whatever the cloud:
/// the HTTP status, the cloud's own error code and message, the request id
/// to quote to support, and whether trying again may help.
///
/// Callers (the build steps, the Python binding, the command) read these
/// instead of matching on a client's variants or parsing its message.
pub trait ErrorMeta: StdError {
    /// The HTTP status the cloud answered with, if the error is an answer.
    fn status(&self) -> Option<u16>;

    /// The cloud's error code (`ResourceNotFound`, `ObjectNotFound`,
    /// `"4019"`, ...), when it gave one.
    fn code(&self) -> Option<&str>;

    /// The cloud's error message, when it gave one.
    fn message(&self) -> Option<&str>;

    /// The request id the cloud gave, for support requests.
    fn request_id(&self) -> Option<&str>;

    /// What kind of failure this is, for the retry classifier: `None` for
    /// errors that happened before anything was sent (configuration, bad
    /// input) or after a success (decoding).
    fn failure(&self) -> Option<Failure>;

    /// Whether the resource named in the request does not exist (undo code
    /// treats this as "already gone").
    fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// Whether sending the same request again may succeed: throttling, 503
    /// (service unavailable) or a connection never made. For a given request,
    /// ask [`Failure::verdict`] with its [`Idempotency`] instead (a lost
    /// answer is worth retrying only for a request safe to repeat).
    fn is_retryable(&self) -> bool {
        self.failure()
            .is_some_and(|f| f.verdict(Idempotency::Action).is_retry())
    }

    /// Whether the request may have been processed although no success came
    /// back (a lost answer, a server error): a create must then look for what
    /// it may have made before sending again ([`crate::create_or_adopt`]).
    fn outcome_unknown(&self) -> bool {
        self.failure().is_some_and(|f| f.outcome_unknown())
    }
}

/// Displays `error` followed by each of its causes, `": "`-separated (the
/// one display rule for an error printed with its causes). A cause whose
/// text its parent already shows is not repeated.
pub fn chain<'a>(error: &'a (dyn StdError + 'a)) -> Chain<'a> {
    Chain(error)
}

/// An error with its cause chain; see [`chain`].
#[derive(Clone, Copy)]
pub struct Chain<'a>(&'a (dyn StdError + 'a));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut shown = self.0.to_string();
        f.write_str(&shown)?;
        let mut cur = self.0.source();
        while let Some(cause) = cur {
            let text = cause.to_string();
            if !text.is_empty() && !shown.contains(&text) {
                write!(f, ": {text}")?;
                shown.push_str(&text);
            }
            cur = cause.source();
        }
        Ok(())
    }
}

impl fmt::Debug for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct E(&'static str, Option<Box<E>>);
    impl fmt::Display for E {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
    }
    impl StdError for E {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            self.1.as_deref().map(|e| e as _)
        }
    }

    #[test]
    fn chain_shows_every_cause_once() {
        let e = E(
            "ReadVms: transport error",
            Some(Box::new(E(
                "error sending request",
                Some(Box::new(E("connection refused", None))),
            ))),
        );
        assert_eq!(
            chain(&e).to_string(),
            "ReadVms: transport error: error sending request: connection refused"
        );
        // A parent that already prints its cause does not get it twice.
        let e = E(
            "GetMachine: cannot connect: connection refused",
            Some(Box::new(E("connection refused", None))),
        );
        assert_eq!(
            chain(&e).to_string(),
            "GetMachine: cannot connect: connection refused"
        );
    }
}
