use futures::Stream;
use reqwest::Method;

use crate::client::{Client, Request};
use crate::error::Result;
use crate::types::{IpPoolType, IpVersion, ListOptions, NameOrId, SiloIpPool};

impl Client {
    /// `ip_pool_list`: `GET /v1/ip-pools`, the pools linked to the current
    /// silo, optionally only of one IP version and pool type.
    pub fn ip_pool_list(
        &self,
        ip_version: Option<IpVersion>,
        pool_type: Option<IpPoolType>,
        opts: ListOptions,
    ) -> impl Stream<Item = Result<SiloIpPool>> + Send + 'static {
        let first = Request::new("ip_pool_list", Method::GET, "/v1/ip-pools")
            .query_opt("ip_version", ip_version.map(IpVersion::as_str))
            .query_opt("pool_type", pool_type.map(IpPoolType::as_str));
        self.list_checked(Ok(first), opts)
    }

    /// `ip_pool_view`: `GET /v1/ip-pools/{pool}`.
    pub async fn ip_pool_view(&self, pool: impl Into<NameOrId>) -> Result<SiloIpPool> {
        let pool = pool.into();
        pool.validate("pool")?;
        let req = Request::new("ip_pool_view", Method::GET, format!("/v1/ip-pools/{pool}"));
        self.json(&req).await
    }
}
