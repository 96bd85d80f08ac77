//! The SSH communicator: commands, uploads and downloads on the machine
//! being baked, over SSH (russh) and SFTP (russh-sftp).
//!
//! - Connects with retries until a deadline (the machine is booting), each
//!   attempt bounded, the whole cancellable ([`SshTimeouts`]).
//! - Logs in with a private key (file, passphrase-protected or not, or in
//!   memory, e.g. a [`TemporaryKey`]), the ssh-agent, or a password
//!   ([`SshAuth`]); RSA keys sign with rsa-sha2-512/256, never SHA-1.
//! - Checks the host key against a pinned fingerprint, a known_hosts file,
//!   or trusts the first key of a machine this build created
//!   ([`HostKeyPolicy`]); the key accepted is [`SshCommunicator::host_key`].
//! - Reaches the machine through a bastion ([`SshConfig::bastion`]).
//!
//! ```no_run
//! use imagebake_core::comm::ssh::{HostKeyPolicy, SshCommunicator, SshConfig, TemporaryKey};
//! use imagebake_core::{CancellationToken, Communicator, RemoteCommand};
//!
//! # async fn demo() -> Result<(), imagebake_core::Error> {
//! let key = TemporaryKey::generate("ib-demo")?;
//! // … inject key.public_openssh() into the machine through the cloud …
//! let config = SshConfig::new("10.0.0.5", "root", key.auth(), HostKeyPolicy::TrustFirstUse);
//! let cancel = CancellationToken::new();
//! let ssh = SshCommunicator::connect(config, &cancel).await?;
//! let out = ssh
//!     .exec(&RemoteCommand::new("uname -a"), &mut |_, line| println!("{line}"), &cancel)
//!     .await?;
//! println!("exit {}; host key {:?}", out.status, ssh.host_key());
//! # Ok(())
//! # }
//! ```

mod config;
mod connect;
mod exec;
mod host_key;
mod keys;
mod sftp;

use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

pub use config::{SshAuth, SshConfig, SshTimeouts};
pub use host_key::{HostKeyPolicy, HostKeyRecord, TrustedBy};
pub use keys::TemporaryKey;
pub use russh::keys::PrivateKey;

use super::{Communicator, Ended, ExitOutput, OnLine, RemoteCommand};
use crate::Error;
use connect::{Endpoint, Session};
use sftp::Transfer;

/// Runs commands and transfers files over SSH. Cheap to share (`Arc`):
/// commands and transfers may run concurrently on the one connection.
pub struct SshCommunicator {
    endpoint: Endpoint,
    session: Mutex<Option<Arc<Session>>>,
}

impl fmt::Debug for SshCommunicator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SshCommunicator")
            .field("target", &self.endpoint.target)
            .field("host_key", &self.host_key())
            .finish()
    }
}

impl SshCommunicator {
    /// Connects and logs in, retrying until `config`'s connect deadline
    /// ([`Error::Timeout`], naming the last failure) or until `cancel`
    /// fires ([`Error::Cancelled`]). A host key that the policy refuses is
    /// [`Error::HostKey`] at once; a login refused is retried (the key may
    /// not be installed yet while the machine boots).
    pub async fn connect(config: SshConfig, cancel: &CancellationToken) -> Result<Self, Error> {
        let endpoint = Endpoint::resolve(&config).await?;
        let session = connect::connect(&endpoint, cancel).await?;
        tracing::debug!(target = %endpoint.target, host_key = ?session.host_key, "ssh connected");
        Ok(Self {
            endpoint,
            session: Mutex::new(Some(Arc::new(session))),
        })
    }

    /// The host key the current connection accepted (for the build report),
    /// or `None` after the connection was dropped.
    pub fn host_key(&self) -> Option<HostKeyRecord> {
        self.current().map(|s| s.host_key.clone())
    }

    /// Closes the connection; later operations fail with
    /// [`Error::Disconnected`] until [`Communicator::reconnect`].
    pub async fn disconnect(&self) {
        let session = self.slot().take();
        if let Some(s) = session {
            let _ = s
                .handle
                .disconnect(russh::Disconnect::ByApplication, "", "en")
                .await;
        }
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Option<Arc<Session>>> {
        self.session.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn current(&self) -> Option<Arc<Session>> {
        self.slot().clone()
    }

    /// The live session, or [`Error::Disconnected`].
    fn session(&self, what: &str) -> Result<Arc<Session>, Error> {
        match self.current() {
            Some(s) if !s.handle.is_closed() => Ok(s),
            _ => Err(Error::Disconnected {
                what: format!("{what} on {} (reconnect first)", self.endpoint.target),
                source: None,
            }),
        }
    }

    async fn transfer<'a>(
        &'a self,
        session: &'a Session,
        cancel: &'a CancellationToken,
    ) -> Result<Transfer<'a>, Error> {
        Transfer::open(session, &self.endpoint.target, cancel).await
    }
}

#[async_trait]
impl Communicator for SshCommunicator {
    fn describe(&self) -> String {
        format!("ssh {}", self.endpoint.target)
    }

    async fn exec(
        &self,
        cmd: &RemoteCommand,
        on_line: &mut OnLine<'_>,
        cancel: &CancellationToken,
    ) -> Result<ExitOutput, Error> {
        let session = self.session(&format!("running `{}`", cmd.command))?;
        let drain = self.endpoint.timeouts().drain_after_exit;
        exec::run(&session, &self.endpoint.target, cmd, on_line, cancel, drain).await
    }

    async fn upload_file(
        &self,
        src: &Path,
        dst: &str,
        mode: Option<u32>,
        cancel: &CancellationToken,
    ) -> Result<(), Error> {
        let session = self.session(&format!("uploading {}", src.display()))?;
        let t = self.transfer(&session, cancel).await?;
        let r = t.put_file(src, dst, mode).await;
        t.close().await;
        r
    }

    async fn upload_bytes(
        &self,
        bytes: &[u8],
        dst: &str,
        mode: u32,
        cancel: &CancellationToken,
    ) -> Result<(), Error> {
        let session = self.session(&format!("writing {dst}"))?;
        let t = self.transfer(&session, cancel).await?;
        let r = t.put_bytes(bytes, dst, mode).await;
        t.close().await;
        r
    }

    async fn upload_dir(
        &self,
        src: &Path,
        dst: &str,
        cancel: &CancellationToken,
    ) -> Result<(), Error> {
        let session = self.session(&format!("uploading {}", src.display()))?;
        let t = self.transfer(&session, cancel).await?;
        let r = t.put_tree(src, dst).await;
        t.close().await;
        r
    }

    async fn download(
        &self,
        src: &str,
        dst: &Path,
        cancel: &CancellationToken,
    ) -> Result<(), Error> {
        let session = self.session(&format!("downloading {src}"))?;
        let t = self.transfer(&session, cancel).await?;
        let r = t.get(src, dst).await;
        t.close().await;
        r
    }

    fn can_power_off(&self) -> bool {
        true
    }

    /// Runs a command that may end the session. A lost connection, or a
    /// channel closed without an exit status, is [`Ended::Disconnected`];
    /// the session is then dropped, and [`Communicator::reconnect`] opens
    /// a new one.
    async fn exec_expect_disconnect(
        &self,
        cmd: &RemoteCommand,
        on_line: &mut OnLine<'_>,
        cancel: &CancellationToken,
    ) -> Result<Ended, Error> {
        match self.exec(cmd, on_line, cancel).await {
            Ok(out) => Ok(Ended::Exited(out)),
            Err(Error::Disconnected { .. }) => {
                self.slot().take();
                Ok(Ended::Disconnected)
            }
            Err(e) => Err(e),
        }
    }

    /// Drops the current connection and connects again, retrying until the
    /// connect deadline (the machine is rebooting). The host key must be the
    /// one trusted before (also under [`HostKeyPolicy::TrustFirstUse`]).
    async fn reconnect(&self, cancel: &CancellationToken) -> Result<(), Error> {
        self.slot().take();
        let session = connect::connect(&self.endpoint, cancel).await?;
        *self.slot() = Some(Arc::new(session));
        Ok(())
    }
}
