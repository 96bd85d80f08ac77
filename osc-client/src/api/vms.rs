use futures::{Stream, TryStreamExt};
use serde::Deserialize;

use super::{FiltersVm, read_request};
use crate::api::Empty;
use crate::types::Vm;
use crate::{Client, Result};

read_request! {
    /// `ReadVmsRequest`.
    ReadVmsRequest, FiltersVm
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ReadVmsResponse {
    #[serde(default)]
    vms: Vec<Vm>,
    #[serde(default)]
    next_page_token: Option<String>,
}

/// Virtual machines.
#[derive(Debug, Clone)]
pub struct Vms {
    client: Client,
}

impl Vms {
    pub(crate) fn new(client: Client) -> Self {
        Self { client }
    }

    /// `ReadVms`, every page, as a stream.
    pub fn list(&self, filters: FiltersVm) -> impl Stream<Item = Result<Vm>> + Send + 'static {
        self.client.stream(
            "ReadVms",
            ReadVmsRequest::filtered(filters),
            |r: ReadVmsResponse| (r.vms, r.next_page_token),
        )
    }

    /// `ReadVms`, every page, collected.
    pub async fn read(&self, filters: FiltersVm) -> Result<Vec<Vm>> {
        self.list(filters).try_collect().await
    }

    /// `ReadVms` for one id; `None` when it does not exist.
    pub async fn find(&self, vm_id: &str) -> Result<Option<Vm>> {
        Ok(self.read(FiltersVm::ids([vm_id])).await?.into_iter().next())
    }

    /// `ReadVms` with `DryRun: true`: checks that the credentials are accepted.
    pub async fn check_auth(&self) -> Result<()> {
        let req = ReadVmsRequest {
            dry_run: Some(true),
            ..ReadVmsRequest::default()
        };
        let _: Empty = self.client.call("ReadVms", &req).await?;
        Ok(())
    }
}
