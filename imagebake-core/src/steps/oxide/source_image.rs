use std::borrow::Cow;

use async_trait::async_trait;
use oxide_client::{Image, NameOrId};
use uuid::Uuid;

use super::{OxideApi, api, found};
use crate::{Error, Step, StepCx};

/// Where the boot disk's image comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageSource {
    /// `boot_disk_image_id`: a project or silo image by UUID.
    Id(Uuid),
    /// An image looked up by name: in the build's project when `project`
    /// is set, then (unless `silo` is false) among the silo's images.
    Name {
        /// The image's name.
        name: String,
        /// Look among the project's images.
        project: bool,
        /// Look among the silo's images.
        silo: bool,
    },
}

/// `image_view` of the source image (by ID; or by name in the project, then
/// in the silo). Its name, OS, version and description are the artifact's
/// defaults.
#[derive(Debug, Clone)]
pub struct SourceImage {
    api: OxideApi,
    source: ImageSource,
}

impl SourceImage {
    /// Looks up `source`.
    pub fn new(api: OxideApi, source: ImageSource) -> Self {
        Self { api, source }
    }
}

#[async_trait]
impl Step<()> for SourceImage {
    type Out = Image;

    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed("source image")
    }

    async fn run(&self, cx: &StepCx, (): ()) -> Result<Image, Error> {
        let c = &self.api.client;
        match &self.source {
            ImageSource::Id(id) => cx
                .cancellable(c.image_view(*id, None))
                .await?
                .map_err(|e| api(format!("looking up source image {id}"), e)),
            ImageSource::Name {
                name,
                project,
                silo,
            } => {
                let by_name = NameOrId::Name(name.clone());
                if *project {
                    let r = cx
                        .cancellable(c.image_view(by_name.clone(), Some(&self.api.project)))
                        .await?;
                    let what = || {
                        format!(
                            "looking up source image {name} in project {}",
                            self.api.project
                        )
                    };
                    match found(r) {
                        Ok(Some(image)) => return Ok(image),
                        Ok(None) if *silo => {}
                        Ok(None) => {
                            return Err(Error::Config(format!(
                                "builder oxide-instance: no image {name:?} in project {}",
                                self.api.project
                            )));
                        }
                        Err(e) => return Err(api(what(), e)),
                    }
                }
                cx.cancellable(c.image_view(by_name.clone(), None))
                    .await?
                    .map_err(|e| api(format!("looking up source image {name} in the silo"), e))
            }
        }
    }
}
