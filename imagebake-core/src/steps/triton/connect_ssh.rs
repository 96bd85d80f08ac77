use std::borrow::Cow;
use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use imagebake_http::Secret;

use super::RunningMachine;
use crate::comm::ssh::{HostKeyPolicy, SshAuth, SshCommunicator, SshConfig, SshTimeouts};
use crate::{Comm, Error, Step, StepCx};

/// How to log in over SSH.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum SshLogin {
    /// A private key file.
    KeyFile(PathBuf),
    /// A private key given as text (the API key's `triton_key_material`).
    KeyText(Secret),
    /// The ssh-agent at `SSH_AUTH_SOCK`.
    Agent,
    /// A password.
    Password(Secret),
}

impl SshLogin {
    fn auth(&self) -> Result<SshAuth, Error> {
        Ok(match self {
            SshLogin::KeyFile(p) => SshAuth::key_file(p.clone()),
            SshLogin::KeyText(t) => SshAuth::key_openssh(t.expose(), None)?,
            SshLogin::Agent => SshAuth::agent(),
            SshLogin::Password(p) => SshAuth::password(p.clone()),
        })
    }
}

/// Where and how to reach the machine over SSH (Packer's `ssh_*` keys).
#[derive(Debug, Clone, PartialEq)]
pub struct SshPlan {
    /// The host; `None` for the machine's `primaryIp`.
    pub host: Option<String>,
    /// The port.
    pub port: u16,
    /// The user.
    pub username: String,
    /// The login.
    pub login: SshLogin,
    /// How long to keep trying to connect.
    pub timeout: Duration,
    /// A bastion (jump host), whose `host` is set.
    pub bastion: Option<Box<SshPlan>>,
}

impl SshPlan {
    fn config(&self, host: &str) -> Result<SshConfig, Error> {
        // The machine was made by this build: its first host key is trusted
        // and recorded (Packer checks no host key at all).
        let mut c = SshConfig::new(
            host,
            self.username.clone(),
            self.login.auth()?,
            HostKeyPolicy::TrustFirstUse,
        )
        .port(self.port)
        .timeouts(SshTimeouts {
            connect: self.timeout,
            ..SshTimeouts::default()
        });
        if let Some(b) = &self.bastion {
            let bhost = b.host.clone().unwrap_or_default();
            c = c.bastion(b.config(&bhost)?);
        }
        Ok(c)
    }
}

/// A machine reached over SSH.
#[derive(Debug, Clone)]
pub struct Connected {
    /// The machine.
    pub machine: RunningMachine,
    /// The communicator the provisioners use.
    pub comm: Comm,
}

/// Connects to the machine over SSH: `ssh_host`, else the machine's
/// `primaryIp`; retries until `ssh_timeout` while the machine boots, and
/// stops at once when the build is cancelled.
#[derive(Debug, Clone)]
pub struct ConnectSsh {
    plan: SshPlan,
}

impl ConnectSsh {
    /// Connects as `plan` says.
    pub fn new(plan: SshPlan) -> Self {
        Self { plan }
    }
}

#[async_trait]
impl Step<RunningMachine> for ConnectSsh {
    type Out = Connected;

    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed("connect ssh")
    }

    async fn run(&self, cx: &StepCx, machine: RunningMachine) -> Result<Connected, Error> {
        let host = match (&self.plan.host, &machine.machine.primary_ip) {
            (Some(h), _) => h.clone(),
            (None, Some(ip)) if !ip.is_empty() => ip.clone(),
            _ => {
                return Err(Error::Config(format!(
                    "builder triton: machine {} has no primaryIp; set ssh_host",
                    machine.handle.id
                )));
            }
        };
        let config = self.plan.config(&host)?;
        let ssh = SshCommunicator::connect(config, cx.token()).await?;
        if let Some(k) = ssh.host_key() {
            tracing::info!(host = %k.host, fingerprint = %k.fingerprint, "host key trusted on first use");
        }
        Ok(Connected {
            machine,
            comm: Comm::new(ssh),
        })
    }
}
