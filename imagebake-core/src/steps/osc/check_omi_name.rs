use std::borrow::Cow;

use async_trait::async_trait;
use osc_client::Client;

use super::{HostVm, own_images_named};
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
        let images =
            own_images_named(cx, &self.client, &self.name, &host.account_id, "name check").await?;
        if let Some(i) = images.first() {
            return Err(Error::config_at(
                "omi_name",
                format!(
                    "an OMI named {:?} already exists in this account ({}); \
                 choose another omi_name or set force_deregister",
                    self.name, i.image_id
                ),
            ));
        }
        Ok(host)
    }
}
