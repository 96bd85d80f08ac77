//! Shared plumbing for the imagebake cloud clients.
//!
//! One implementation of each of the things every client needs, so that the
//! Triton, Oxide and Outscale clients never carry copies of each other:
//!
//! - [`retry`]: run an operation again with jittered exponential backoff while
//!   its error says it is worth retrying ([`Retryable`]).
//! - [`wait_for`]: poll a resource until a condition says it is done or failed,
//!   with a capped backoff, a timeout and a cancellation token.
//! - [`paginate`]: turn "fetch one page given a cursor" into a stream of items.
//! - [`Secret`]: a string that never shows itself in `Debug` or `Display`.
//! - [`connect_timeout`], [`warn_if_tls_unverified`]: what every client's
//!   HTTP transport shares.

mod backoff;
mod paginate;
mod retry;
mod secret;
mod transport;
mod wait;

pub use backoff::Backoff;
pub use paginate::{Page, paginate};
pub use retry::{RetryPolicy, Retryable, retry};
pub use secret::Secret;
pub use tokio_util::sync::CancellationToken;
pub use transport::{CONNECT_TIMEOUT, connect_timeout, warn_if_tls_unverified};
pub use wait::{Poll, WaitError, WaitOptions, wait_for};
