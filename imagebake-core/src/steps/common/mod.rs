//! Steps and plans every cloud builder with a communicator shares: how to
//! log in over SSH ([`SshPlan`], [`SshLogin`], [`CommPlan`]) and the step
//! that reaches a freshly made machine ([`ConnectSsh`]); and the helpers
//! the clouds' sweeps share ([`now_secs`], [`swept`]), and the key of a
//! wait that learns ([`wait_key`]).
//!
//! A builder decodes Packer's `ssh_*` keys into a [`CommPlan`] with
//! [`SshOptions::plan`](crate::builders::common::SshOptions::plan), then
//! runs [`ConnectSsh`] on an [`SshTarget`] holding its machine and the
//! address the cloud gave it.

mod connect_ssh;
mod ssh_plan;
mod sweep;
mod wait_key;

pub use connect_ssh::{ConnectSsh, SshConnected, SshTarget};
pub use ssh_plan::{CommPlan, SshLogin, SshPlan};
pub use sweep::{now_secs, sweep_one};
pub use wait_key::wait_key;
