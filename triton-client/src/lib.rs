//! Typed async client for Triton CloudAPI, with HTTP Signature auth (key
//! files and ssh-agent).
//!
//! - [`Config`]: explicit values ([`Config::builder`]) or what node-triton
//!   users already have ([`Config::from_env`]: `TRITON_*`/`SDC_*` variables,
//!   `~/.triton` profiles, ssh-agent, `~/.ssh`).
//! - [`Client`]: one method per CloudAPI operation (`get_machine` is
//!   `GetMachine`, ...), each request freshly dated and signed
//!   (`Signature keyId="/LOGIN/keys/MD5",algorithm=…,headers="(request-target) date"`),
//!   throttling and unavailability retried with jittered backoff, and a
//!   `CreateMachine` with an unknown outcome looked up before it is re-sent.
//! - What states mean to a wait ([`imagebake_http::Poll`]: done, failed,
//!   still going): [`Client::look_machine`], [`Client::look_machine_gone`],
//!   [`Client::look_image_active`]; the caller waits (imagebake-core).
//! - [`auth`]: the [`Signer`](auth::Signer) trait, key-file and ssh-agent
//!   signers, and the header itself.
//! - [`manta`]: the Manta object store (directories, objects), signed with
//!   the same signers (`keyId="/LOGIN[/SUBUSER]/keys/MD5"`, `date` only).
//! - [`imgapi`]: an IMGAPI image repository with channels, signed as
//!   updates-imgadm signs (`keyId="USER"`, `date` only, RSA).
//!
//! They live in this crate, not in crates of their own, because they are
//! the same account's services: they share the signers, the key lookup
//! ([`KeySource`]), the [`Error`] (with [`Service`] naming who answered) and
//! the configuration helpers.
//!
//! ```no_run
//! # async fn demo() -> triton_client::Result<()> {
//! use triton_client::{Client, Config, types::ListImages};
//!
//! let client = Client::new(Config::from_env()?)?;
//! let image = client.most_recent_image(&ListImages::new().name("base-64-lts")).await?;
//! println!("{:?}", image.map(|i| i.id));
//! # Ok(())
//! # }
//! ```

mod api;
pub mod auth;
mod client;
mod config;
mod error;
pub mod imgapi;
mod key_source;
pub mod manta;
#[cfg(test)]
mod proptests;
mod service;
mod state;
pub mod types;

pub use client::Client;
pub use config::{Config, ConfigBuilder};
pub use error::{Error, Result, Service};
pub use imagebake_http::{
    Backoff, CancellationToken, ErrorMeta, Poll, RetryPolicy, Secret, WaitOptions,
};
pub use key_source::KeySource;
