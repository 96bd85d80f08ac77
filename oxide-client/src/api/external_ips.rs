use reqwest::Method;

use super::instances::instance_request;
use crate::client::Client;
use crate::error::Result;
use crate::types::{ExternalIp, NameOrId, ResultsPage};

impl Client {
    /// `instance_external_ip_list`: `GET /v1/instances/{instance}/external-ips`,
    /// every entry (SNAT included), tagged by `kind`.
    pub async fn instance_external_ip_list(
        &self,
        instance: impl Into<NameOrId>,
        project: Option<&NameOrId>,
    ) -> Result<Vec<ExternalIp>> {
        let req = instance_request(
            "instance_external_ip_list",
            Method::GET,
            &instance.into(),
            project,
            "/external-ips",
        )?;
        let page: ResultsPage<ExternalIp> = self.json(&req).await?;
        Ok(page.items)
    }

    /// The instance's addresses that accept inbound connections (ephemeral
    /// and floating; SNAT entries are left out), in the rack's order.
    pub async fn instance_reachable_ips(
        &self,
        instance: impl Into<NameOrId>,
        project: Option<&NameOrId>,
    ) -> Result<Vec<ExternalIp>> {
        let all = self.instance_external_ip_list(instance, project).await?;
        Ok(all.into_iter().filter(ExternalIp::is_reachable).collect())
    }
}
