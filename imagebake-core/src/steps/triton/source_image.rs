use std::borrow::Cow;

use async_trait::async_trait;
use triton_client::Client;
use triton_client::types::{ImageId, ListImages, pick_most_recent};

use super::api;
use crate::{Error, Step, StepCx};

/// Where the source image comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum ImageSource {
    /// This image (no request).
    Id(ImageId),
    /// The image CloudAPI `ListImages` finds with this filter.
    Filter {
        /// The filter.
        filter: ListImages,
        /// With several matches, take the most recently published one;
        /// without it, several matches are an error (as Packer).
        most_recent: bool,
        /// The filter as the user wrote it, for messages.
        described: String,
    },
}

/// Resolves the source image: a given UUID as is, or the one image
/// `ListImages` finds (Packer's `source_machine_image_filter`).
#[derive(Debug, Clone)]
pub struct SourceImage {
    client: Client,
    source: ImageSource,
}

impl SourceImage {
    /// Resolves `source` with `client`.
    pub fn new(client: Client, source: ImageSource) -> Self {
        Self { client, source }
    }
}

#[async_trait]
impl Step<()> for SourceImage {
    type Out = ImageId;

    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed("source image")
    }

    async fn run(&self, cx: &StepCx, (): ()) -> Result<ImageId, Error> {
        let (filter, most_recent, described) = match &self.source {
            ImageSource::Id(id) => return Ok(*id),
            ImageSource::Filter {
                filter,
                most_recent,
                described,
            } => (filter, *most_recent, described),
        };
        let images = cx
            .cancellable(self.client.list_images(filter))
            .await?
            .map_err(|e| api(format!("listing images matching {described}"), e))?;
        let found = images.len();
        if found > 1 && !most_recent {
            return Err(Error::Config(format!(
                "builder triton: {found} images match source_machine_image_filter {described}; \
                 narrow the filter or set most_recent"
            )));
        }
        let image = pick_most_recent(images).ok_or_else(|| {
            Error::Config(format!(
                "builder triton: no image matches source_machine_image_filter {described}"
            ))
        })?;
        tracing::info!(image = %image.id, name = %image.name, version = %image.version, "source image");
        Ok(image.id)
    }
}
