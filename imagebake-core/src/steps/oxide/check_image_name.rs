use std::borrow::Cow;

use async_trait::async_trait;

use super::{ImageSpec, OxideApi, api, found};
use crate::{Error, Step, StepCx};

/// `image_view` of the artifact's name in the project: the build fails at
/// once, before anything is created, when an image already has it (Packer's
/// plugin only warns, then fails after the whole build).
#[derive(Debug, Clone)]
pub struct CheckImageName {
    api: OxideApi,
}

impl CheckImageName {
    /// Checks names in `api`'s project.
    pub fn new(api: OxideApi) -> Self {
        Self { api }
    }
}

#[async_trait]
impl Step<ImageSpec> for CheckImageName {
    type Out = ImageSpec;

    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed("check image name")
    }

    async fn run(&self, cx: &StepCx, spec: ImageSpec) -> Result<ImageSpec, Error> {
        let p = &self.api.project;
        let r = cx
            .cancellable(self.api.client.image_view(spec.name.as_str(), Some(p)))
            .await?;
        match found(r) {
            Ok(None) => Ok(spec),
            Ok(Some(existing)) => Err(Error::Config(format!(
                "image {} already exists in project {p} (id {}); choose another artifact_name",
                spec.name, existing.id
            ))),
            Err(e) => Err(api(
                format!(
                    "checking that image name {} is free in project {p}",
                    spec.name
                ),
                e,
            )),
        }
    }
}
