use std::borrow::Cow;
use std::net::IpAddr;

use async_trait::async_trait;

use super::{InstanceHandle, OxideApi, RunningInstance, api};
use crate::steps::common::SshTarget;
use crate::{Error, Step, StepCx};

/// `instance_external_ip_list`: the first address that takes inbound
/// connections (ephemeral or floating), never the SNAT one. An instance
/// without one has no address (the connect step then needs `ssh_host`).
#[derive(Debug, Clone)]
pub struct ExternalAddress {
    api: OxideApi,
}

impl ExternalAddress {
    /// Lists with `api`.
    pub fn new(api: OxideApi) -> Self {
        Self { api }
    }
}

#[async_trait]
impl Step<RunningInstance> for ExternalAddress {
    type Out = SshTarget<InstanceHandle>;

    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed("external ip")
    }

    async fn run(
        &self,
        cx: &StepCx,
        running: RunningInstance,
    ) -> Result<SshTarget<InstanceHandle>, Error> {
        let id = running.handle.id;
        let ips = cx
            .cancellable(self.api.client.instance_reachable_ips(id, None))
            .await?
            .map_err(|e| api(format!("listing the external IPs of instance {id}"), e))?;
        let ip: Option<IpAddr> = ips.first().and_then(oxide_client::ExternalIp::ip);
        match ip {
            Some(ip) => tracing::info!(instance = %id, %ip, "reachable external IP"),
            None => tracing::warn!(instance = %id, "instance has no ephemeral or floating IP"),
        }
        Ok(SshTarget {
            machine: running.handle,
            address: ip.map(|ip| ip.to_string()),
        })
    }
}
