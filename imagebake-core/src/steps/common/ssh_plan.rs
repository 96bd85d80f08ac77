//! How a builder reaches its machine: [`CommPlan`], [`SshPlan`], [`SshLogin`].

use std::path::PathBuf;
use std::time::Duration;

use imagebake_http::Secret;

use crate::Error;
use crate::comm::ssh::{HostKeyPolicy, SshAuth, SshConfig, SshTimeouts, TemporaryKey};

/// How to log in over SSH.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum SshLogin {
    /// A private key file.
    KeyFile(PathBuf),
    /// A private key given as text.
    KeyText(Secret),
    /// The ssh-agent at `SSH_AUTH_SOCK`.
    Agent,
    /// A password.
    Password(Secret),
    /// The ed25519 key the build generates and injects through the cloud
    /// (Packer's temporary key pair), handed to [`SshPlan::config`].
    TemporaryKey,
}

impl SshLogin {
    /// The communicator's login method; `temporary` is the build's key for
    /// [`SshLogin::TemporaryKey`].
    pub fn auth(&self, temporary: Option<&TemporaryKey>) -> Result<SshAuth, Error> {
        Ok(match self {
            SshLogin::KeyFile(p) => SshAuth::key_file(p.clone()),
            SshLogin::KeyText(t) => SshAuth::key_openssh(t.expose(), None)?,
            SshLogin::Agent => SshAuth::agent(),
            SshLogin::Password(p) => SshAuth::password(p.clone()),
            SshLogin::TemporaryKey => temporary.map(TemporaryKey::auth).ok_or_else(|| {
                Error::Config(
                    "the SSH login is the build's temporary key, but none was made".to_owned(),
                )
            })?,
        })
    }
}

/// Where and how to reach the machine over SSH (Packer's `ssh_*` keys).
#[derive(Debug, Clone, PartialEq)]
pub struct SshPlan {
    /// The host; `None` for the address the cloud gives the machine.
    pub host: Option<String>,
    /// The port.
    pub port: u16,
    /// The user.
    pub username: String,
    /// The login.
    pub login: SshLogin,
    /// How long to keep trying to connect (`ssh_timeout`).
    pub timeout: Duration,
    /// A bastion (jump host), whose `host` is set.
    pub bastion: Option<Box<SshPlan>>,
}

impl SshPlan {
    /// The communicator configuration for the machine at `host`. The
    /// machine was made by this build, so its first host key is trusted and
    /// recorded (the clouds give no fingerprint; Packer checks none at all).
    pub fn config(&self, host: &str, temporary: Option<&TemporaryKey>) -> Result<SshConfig, Error> {
        let mut c = SshConfig::new(
            host,
            self.username.clone(),
            self.login.auth(temporary)?,
            HostKeyPolicy::TrustFirstUse,
        )
        .port(self.port)
        .timeouts(SshTimeouts {
            connect: self.timeout,
            ..SshTimeouts::default()
        });
        if let Some(b) = &self.bastion {
            let bhost = b.host.clone().unwrap_or_default();
            c = c.bastion(b.config(&bhost, temporary)?);
        }
        Ok(c)
    }

    /// Whether logging in needs the build's temporary key.
    pub fn uses_temporary_key(&self) -> bool {
        self.login == SshLogin::TemporaryKey
            || self
                .bastion
                .as_ref()
                .is_some_and(|b| b.login == SshLogin::TemporaryKey)
    }

    /// Whether the user is root (so no `sudo` is needed to flush or power off).
    pub fn is_root(&self) -> bool {
        self.username == "root"
    }
}

/// What the machine is reached with.
#[derive(Debug, Clone, PartialEq)]
pub enum CommPlan {
    /// `communicator: none`: no provisioners, nothing to flush.
    None,
    /// `communicator: ssh`.
    Ssh(SshPlan),
}
