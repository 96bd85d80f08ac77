//! Typed async client for the Outscale API ("OAPI": `POST {endpoint}/api/v1/{Action}`
//! with JSON bodies).
//!
//! - Requests are signed with OSC4-HMAC-SHA256 (default) or AWS4-HMAC-SHA256
//!   ([`SignatureVersion`]); the signed `host` is the `Host` header sent.
//! - Configuration follows the official SDKs ([`Config`]): explicit values,
//!   then `OSC_*` variables, then `~/.osc/config.json` profiles.
//! - Failures are retried with jittered backoff as the shared classifier
//!   says for each action's [`idempotency`] (throttling, 503 code 6, 429 codes
//!   24/25, for reads also 5xx and lost answers); the policy is
//!   [`ConfigBuilder::retry`]. Creates carry a `ClientToken` so retries never
//!   duplicate.
//! - Read calls stream every page (`NextPageToken`); what a state means to a
//!   wait is said by `Volume::toward_available` and friends (the caller waits).
//!
//! ```no_run
//! # async fn demo() -> osc_client::Result<()> {
//! use futures::TryStreamExt;
//! use osc_client::{Client, api::FiltersImage};
//!
//! let client = Client::from_env()?;
//! let filters = FiltersImage::names(["Debian-12-*"]).owners(["Outscale"]);
//! let newest = client.images().most_recent(filters).await?;
//! let mine: Vec<_> = client.volumes().list(Default::default()).try_collect().await?;
//! # let _ = (newest, mine);
//! # Ok(()) }
//! ```

pub mod api;
mod client;
pub mod config;
mod error;
pub mod metadata;
#[cfg(test)]
mod proptests;
pub mod sign;
mod state;
pub mod types;

pub use client::{Client, idempotency};
pub use config::{Config, ConfigBuilder};
pub use error::{ApiError, ConfigError, Error, ErrorEntry, Result};
pub use imagebake_http::{ErrorMeta, Poll, RetryPolicy, Secret, WaitOptions};
pub use metadata::MetadataClient;
pub use sign::SignatureVersion;
