use std::borrow::Cow;

use async_trait::async_trait;
use triton_client::Client;
use triton_client::types::{Image, ListImages};

use super::api;
use crate::{Error, OutputStream, Step, StepCx};

/// `-force` (`packer_force`; an imagebake decision, the plugin ignores
/// `-force`): once the new image is active and tagged, deletes the
/// account's other images of the same name@version. A build that fails
/// before keeps the old image; an old image that cannot be deleted is
/// reported and kept, and the build still succeeds.
#[derive(Debug, Clone)]
pub struct ReplaceImages {
    client: Client,
}

impl ReplaceImages {
    /// Replaces with `client`.
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

#[async_trait]
impl Step<Image> for ReplaceImages {
    type Out = Image;

    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed("replace image")
    }

    async fn run(&self, cx: &StepCx, image: Image) -> Result<Image, Error> {
        let label = format!("{}@{}", image.name, image.version);
        let filter = ListImages::new()
            .name(image.name.clone())
            .version(image.version.clone())
            .all_states();
        let found = cx
            .cancellable(self.client.list_images(&filter))
            .await?
            .map_err(|e| api(format!("looking for images named {label}"), e))?;
        let old = found.iter().filter(|i| {
            i.id != image.id
                && i.name == image.name
                && i.version == image.version
                && i.owner.is_some()
                && i.owner == image.owner
        });
        for i in old {
            cx.check_cancelled()?;
            // The new image is made: a failed delete leaves the old one
            // (said on stderr) rather than failing, and undoing, the build.
            let (stream, line) = match cx.cancellable(self.client.delete_image(&i.id)).await? {
                Ok(()) => (
                    OutputStream::Stdout,
                    format!(
                        "deleted image {} ({label}), replaced by {} (-force)",
                        i.id, image.id
                    ),
                ),
                Err(e) => (
                    OutputStream::Stderr,
                    format!(
                        "image {} ({label}) is still there: {}",
                        i.id,
                        api(format!("deleting the replaced image {}", i.id), e)
                    ),
                ),
            };
            cx.output_line(stream, &line);
        }
        Ok(image)
    }
}
