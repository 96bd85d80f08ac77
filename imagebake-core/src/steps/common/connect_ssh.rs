use std::borrow::Cow;

use async_trait::async_trait;

use super::SshPlan;
use crate::comm::ssh::{HostKeyRecord, SshCommunicator, TemporaryKey};
use crate::{Comm, Error, Step, StepCx};

/// A machine to reach over SSH and the address its cloud gave it.
#[derive(Debug, Clone)]
pub struct SshTarget<T> {
    /// The builder's handle on the machine, passed through.
    pub machine: T,
    /// The address to use when the plan names no `ssh_host`.
    pub address: Option<String>,
}

/// A machine reached over SSH.
#[derive(Debug, Clone)]
pub struct SshConnected<T> {
    /// The builder's handle on the machine.
    pub machine: T,
    /// The communicator the provisioners use.
    pub comm: Comm,
    /// The host key trusted on first use, for the build report.
    pub host_key: Option<HostKeyRecord>,
}

/// Connects to the machine over SSH: `ssh_host`, else the address the cloud
/// gave; retries until `ssh_timeout` while the machine boots, and stops at
/// once when the build is cancelled.
#[derive(Debug, Clone)]
pub struct ConnectSsh {
    plan: SshPlan,
    temporary: Option<TemporaryKey>,
}

impl ConnectSsh {
    /// Connects as `plan` says.
    pub fn new(plan: SshPlan) -> Self {
        Self {
            plan,
            temporary: None,
        }
    }

    /// Logs in with the build's temporary key (for [`super::SshLogin::TemporaryKey`]).
    pub fn temporary_key(mut self, key: TemporaryKey) -> Self {
        self.temporary = Some(key);
        self
    }
}

#[async_trait]
impl<T: Send + 'static> Step<SshTarget<T>> for ConnectSsh {
    type Out = SshConnected<T>;

    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed("connect ssh")
    }

    async fn run(&self, cx: &StepCx, target: SshTarget<T>) -> Result<SshConnected<T>, Error> {
        cx.check_cancelled()?;
        let host = match (&self.plan.host, &target.address) {
            (Some(h), _) => h.clone(),
            (None, Some(a)) if !a.is_empty() => a.clone(),
            _ => {
                return Err(Error::Config(
                    "the machine has no address to connect to; set ssh_host".to_owned(),
                ));
            }
        };
        let config = self.plan.config(&host, self.temporary.as_ref())?;
        let ssh = SshCommunicator::connect(config, cx.token()).await?;
        let host_key = ssh.host_key();
        if let Some(k) = &host_key {
            tracing::info!(host = %k.host, fingerprint = %k.fingerprint, "host key trusted on first use");
        }
        Ok(SshConnected {
            machine: target.machine,
            comm: Comm::new(ssh),
            host_key,
        })
    }
}
