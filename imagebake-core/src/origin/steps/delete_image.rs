use std::borrow::Cow;

use async_trait::async_trait;
use triton_client::Client;
use triton_client::types::Image;

use crate::steps::triton::remove_image;
use crate::{Error, Step, StepCx};

/// Deletes the cloud image once it is exported: it was only the vehicle
/// of the export (triton-origin-image's `triton image rm -f`).
#[derive(Debug, Clone)]
pub(crate) struct DeleteCloudImage {
    client: Client,
}

impl DeleteCloudImage {
    pub(crate) fn new(client: Client) -> Self {
        Self { client }
    }
}

#[async_trait]
impl Step<Image> for DeleteCloudImage {
    type Out = Image;

    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed("delete cloud image")
    }

    async fn run(&self, cx: &StepCx, image: Image) -> Result<Image, Error> {
        cx.cancellable(remove_image(&self.client, &image.id))
            .await??;
        tracing::info!(image = %image.id, "cloud image deleted after its export");
        Ok(image)
    }
}
