use std::borrow::Cow;

use async_trait::async_trait;
use triton_client::Client;

use super::{ImageActive, ImageInProgress, Waits};
use crate::{Error, Step, StepCx};

/// Polls CloudAPI `GetImage` until the image is `active`. A `failed` image
/// ends the wait at once with the image's `error.code` and `error.message`
/// (Packer polls it for ten minutes and never shows why); `image_timeout`
/// bounds it.
#[derive(Debug, Clone)]
pub struct WaitImage {
    client: Client,
    waits: Waits,
}

impl WaitImage {
    /// Waits with `client` and `waits`.
    pub fn new(client: Client, waits: Waits) -> Self {
        Self { client, waits }
    }
}

#[async_trait]
impl Step<ImageInProgress> for WaitImage {
    type Out = ImageActive;

    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed("wait image")
    }

    async fn run(&self, cx: &StepCx, p: ImageInProgress) -> Result<ImageActive, Error> {
        let opts = self.waits.learning(
            self.waits.image_timeout,
            &self.client,
            "triton image create",
            &p.machine,
        );
        let client = &self.client;
        let id = p.image;
        let image = cx
            .wait_for(format!("image {id} to be active"), &opts, || {
                client.look_image_active(&id)
            })
            .await?;
        Ok(ImageActive {
            machine: p.machine,
            image,
        })
    }
}
