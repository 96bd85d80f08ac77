use std::borrow::Cow;

use async_trait::async_trait;
use triton_client::Client;
use triton_client::types::{ImageId, ImageState, ListImages};

use super::api;
use crate::{Error, Step, StepCx};

/// Fails at once if an image `name@version` already exists (in any state
/// but `failed`), before any machine is created: CloudAPI would accept a
/// duplicate, and Packer only finds out after the whole bake.
#[derive(Debug, Clone)]
pub struct CheckImageName {
    client: Client,
    name: String,
    version: String,
}

impl CheckImageName {
    /// Checks `name@version` with `client`.
    pub fn new(client: Client, name: impl Into<String>, version: impl Into<String>) -> Self {
        Self {
            client,
            name: name.into(),
            version: version.into(),
        }
    }
}

#[async_trait]
impl Step<ImageId> for CheckImageName {
    type Out = ImageId;

    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed("check image name")
    }

    async fn run(&self, cx: &StepCx, source: ImageId) -> Result<ImageId, Error> {
        let filter = ListImages::new()
            .name(self.name.clone())
            .version(self.version.clone())
            .all_states();
        let images = cx
            .cancellable(self.client.list_images(&filter))
            .await?
            .map_err(|e| {
                api(
                    format!("looking for images named {}@{}", self.name, self.version),
                    e,
                )
            })?;
        let taken = images.iter().find(|i| {
            i.name == self.name && i.version == self.version && i.state != ImageState::Failed
        });
        if let Some(i) = taken {
            return Err(Error::Config(format!(
                "builder triton: image {}@{} already exists (image {}, {}); choose another \
                 image_name or image_version",
                self.name, self.version, i.id, i.state
            )));
        }
        Ok(source)
    }
}
