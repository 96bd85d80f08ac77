//! Typed async client for the Oxide API (bearer token).
//!
//! Covers what an image baker needs: images (view, list, create from a
//! snapshot, delete, promote, demote), instances (create, view, list, start,
//! stop, delete, external IPs, serial console), disks, snapshots, the
//! current user's SSH keys, IP pools and projects. Operations are methods of
//! [`Client`] named after the API's operation ids.
//!
//! - Every request carries `Authorization: Bearer <token>` and
//!   `api-version: `[`API_VERSION`]; a rack too old for that version gives
//!   [`Error::UnsupportedApiVersion`].
//! - Credentials resolve as the official SDK does ([`Config::from_env`]).
//! - The lookup rule: a resource given by UUID is sent without `project`, one
//!   given by name with it ([`NameOrId`]).
//! - Names are checked before any request ([`Error::InvalidName`] names the field).
//! - Lists are streams that send only `page_token` (and `limit`) after the
//!   first page; 429 and 503 answers are retried with jittered backoff.
//!
//! ```no_run
//! use futures::TryStreamExt;
//! use oxide_client::{Client, ListOptions, NameOrId};
//!
//! # async fn run() -> Result<(), oxide_client::Error> {
//! let client = Client::from_env()?;
//! let project = NameOrId::from("imagebake");
//! let images: Vec<_> = client.image_list(Some(&project), ListOptions::default()).try_collect().await?;
//! for image in images {
//!     println!("{} {}", image.id, image.name);
//! }
//! # Ok(())
//! # }
//! ```

mod api;
mod client;
mod config;
mod error;
pub mod names;
#[cfg(test)]
mod proptests;
mod state;
pub mod types;

pub use client::Client;
pub use config::Config;
pub use error::{Error, Result};
pub use imagebake_http::{
    Backoff, CancellationToken, ErrorMeta, Poll, RetryPolicy, Secret, WaitError, WaitOptions,
};
pub use types::*;

/// The API version this client's types were written for (the stored OpenAPI
/// document's `info.version`), sent in every request's `api-version` header.
pub const API_VERSION: &str = "2026072800.0.0";
