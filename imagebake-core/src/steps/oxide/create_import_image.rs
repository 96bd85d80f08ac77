use std::borrow::Cow;

use async_trait::async_trait;
use oxide_client::Image;

use super::create_image::make_image;
use super::{ImageSpec, ImportedSnapshot, OxideApi};
use crate::{Error, Step, StepCx};

/// `image_create` in the project from the import's snapshot (the image
/// keeps its own copy of the bytes); deleted if the build fails later.
#[derive(Debug, Clone)]
pub struct CreateImportImage {
    api: OxideApi,
    spec: ImageSpec,
}

impl CreateImportImage {
    /// Makes the image `spec` describes with `api`.
    pub fn new(api: OxideApi, spec: ImageSpec) -> Self {
        Self { api, spec }
    }
}

#[async_trait]
impl Step<ImportedSnapshot> for CreateImportImage {
    type Out = Image;

    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed("create image")
    }

    async fn run(&self, cx: &StepCx, s: ImportedSnapshot) -> Result<Image, Error> {
        make_image(cx, &self.api, &self.spec, s.snapshot.id).await
    }
}
