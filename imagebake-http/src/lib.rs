//! Shared plumbing for the imagebake cloud clients.
//!
//! One implementation of each of the things every client needs, so that the
//! Triton, Oxide and Outscale clients never carry copies of each other:
//!
//! - [`retry_request`]: send a request again with jittered exponential
//!   backoff while the classifier says it is worth retrying.
//! - [`wait_for`]: poll a resource until a condition says it is done or failed,
//!   with a capped backoff, a timeout and a cancellation token.
//! - [`paginate`]: turn "fetch one page given a cursor" into a stream of items.
//! - [`Secret`]: a string that never shows itself in `Debug` or `Display`.
//! - [`ErrorMeta`]: the one error contract every client's error implements
//!   (status, cloud code, message, request id, retryable, not found), and
//!   [`chain`], the one way to print an error with its causes.
//! - [`classify`]: the one retry rule (status or transport failure, and how
//!   safe the request is to repeat), used by [`retry_request`].
//! - [`create_or_adopt`]: a create whose answer was lost is looked up and
//!   adopted, or sent once more.
//! - [`connect_timeout`], [`warn_if_tls_unverified`]: what every client's
//!   HTTP transport shares.

mod adopt;
mod backoff;
mod classify;
mod error;
mod paginate;
mod retry;
mod schedule;
mod secret;
mod transport;
mod wait;

pub use adopt::create_or_adopt;
pub use backoff::Backoff;
pub use classify::{Failure, Idempotency, MAX_RETRY_AFTER, Verdict, classify, parse_retry_after};
pub use error::{Chain, ErrorMeta, chain};
pub use paginate::{Page, paginate};
pub use retry::{RetryPolicy, retry_request};
pub use secret::Secret;
pub use tokio_util::sync::CancellationToken;
pub use transport::{CONNECT_TIMEOUT, connect_timeout, warn_if_tls_unverified};
pub use wait::{
    Expectation, Observed, Poll, WaitError, WaitKey, WaitOptions, wait_for, wait_observed,
};
