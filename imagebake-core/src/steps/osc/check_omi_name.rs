use std::borrow::Cow;

use async_trait::async_trait;
use osc_client::Client;
use osc_client::api::FiltersImage;

use super::{HostVm, api};
use crate::{Error, Step, StepCx};

/// The plugin's StepPreValidate: fails at once, before any volume exists,
/// when our account already has an OMI of that name (skipped with
/// `force_deregister`).
#[derive(Debug, Clone)]
pub struct CheckOmiName {
    client: Client,
    name: String,
}

impl CheckOmiName {
    /// Checks `name`.
    pub fn new(client: Client, name: impl Into<String>) -> Self {
        Self {
            client,
            name: name.into(),
        }
    }
}

#[async_trait]
impl Step<HostVm> for CheckOmiName {
    type Out = HostVm;

    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed("check omi name")
    }

    async fn run(&self, cx: &StepCx, host: HostVm) -> Result<HostVm, Error> {
        let mut f = FiltersImage::names([self.name.clone()]);
        f.account_ids.push(host.account_id.clone());
        let images = cx
            .cancellable(self.client.images().read(f))
            .await?
            .map_err(|e| api("ReadImages (name check)", e))?;
        if let Some(i) = images
            .iter()
            .find(|i| i.image_name == self.name && i.account_id == host.account_id)
        {
            return Err(Error::Config(format!(
                "an OMI named {:?} already exists in this account ({}); \
                 choose another omi_name or set force_deregister",
                self.name, i.image_id
            )));
        }
        Ok(host)
    }
}
