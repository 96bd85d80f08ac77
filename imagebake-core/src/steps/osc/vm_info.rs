use std::borrow::Cow;

use async_trait::async_trait;
use osc_client::{Client, MetadataClient};

use super::api;
use crate::{Error, Step, StepCx};

/// The VM the build runs on, and the account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostVm {
    /// Its id (`i-…`), from the metadata service.
    pub vm_id: String,
    /// Its subregion, from `ReadVms` (`Placement.SubregionName`).
    pub subregion: String,
    /// The caller's account id (`ReadAccounts`).
    pub account_id: String,
}

/// The plugin's StepVmInfo: the metadata service's `instance-id`, then
/// `ReadVms` for its subregion, and `ReadAccounts` for our account id (the
/// name check, the copy decision and the force-deregister filter need it).
#[derive(Debug, Clone)]
pub struct VmInfo {
    client: Client,
    metadata: MetadataClient,
}

impl VmInfo {
    /// With this API client and metadata client.
    pub fn new(client: Client, metadata: MetadataClient) -> Self {
        Self { client, metadata }
    }
}

#[async_trait]
impl Step<()> for VmInfo {
    type Out = HostVm;

    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed("host vm info")
    }

    async fn run(&self, cx: &StepCx, (): ()) -> Result<HostVm, Error> {
        let vm_id = cx
            .cancellable(self.metadata.instance_id())
            .await?
            .map_err(|e| api("reading instance-id from the metadata service", e))?;
        let vm = cx
            .cancellable(self.client.vms().find(&vm_id))
            .await?
            .map_err(|e| api(format!("ReadVms {vm_id}"), e))?
            .ok_or_else(|| {
                Error::Config(format!(
                    "the metadata service names VM {vm_id}, which ReadVms does not know \
                     (is this host an Outscale VM of this account and region?)"
                ))
            })?;
        let account = cx
            .cancellable(self.client.accounts().current())
            .await?
            .map_err(|e| api("ReadAccounts", e))?;
        if vm.placement.subregion_name.is_empty() {
            return Err(Error::Config(format!("VM {vm_id} has no subregion")));
        }
        Ok(HostVm {
            vm_id,
            subregion: vm.placement.subregion_name,
            account_id: account.account_id,
        })
    }
}
