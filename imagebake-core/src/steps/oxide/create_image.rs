use std::borrow::Cow;

use async_trait::async_trait;
use oxide_client::{Image, ImageCreate, NameOrId};

use super::{ImageMade, OxideApi, Snapshotted, api, create_or_adopt, delete, found};
use crate::{BuildId, Error, Resource, Step, StepCx};

/// The artifact's keys as configured (`artifact_*`); unset ones come from
/// the source image.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImagePlan {
    /// `artifact_name`; default `<source image name>-<build id>`.
    pub name: Option<String>,
    /// `artifact_os`; default the source image's.
    pub os: Option<String>,
    /// `artifact_version`; default the source image's.
    pub version: Option<String>,
    /// `artifact_description`; default the source image's.
    pub description: Option<String>,
}

/// The image to make, every field resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSpec {
    /// Name (unique in the project).
    pub name: String,
    /// Operating system.
    pub os: String,
    /// Version.
    pub version: String,
    /// Description.
    pub description: String,
}

impl ImagePlan {
    /// Fills the unset fields from `source`; the default name is the
    /// source's name (cut to fit Oxide's 63 characters) and the build id.
    pub fn resolve(&self, source: &Image, build_id: &BuildId) -> ImageSpec {
        let name = self.name.clone().unwrap_or_else(|| {
            let room = oxide_client::names::NAME_MAX_LEN - 1 - build_id.as_str().len();
            let base: String = source.name.chars().take(room).collect();
            format!("{}-{build_id}", base.trim_end_matches('-'))
        });
        ImageSpec {
            name,
            os: self.os.clone().unwrap_or_else(|| source.os.clone()),
            version: self
                .version
                .clone()
                .unwrap_or_else(|| source.version.clone()),
            description: self
                .description
                .clone()
                .unwrap_or_else(|| source.description.clone()),
        }
    }
}

/// `image_create` in the project from the snapshot. Its delete is
/// registered at once, to run if the build fails.
#[derive(Debug, Clone)]
pub struct CreateImage {
    api: OxideApi,
    spec: ImageSpec,
}

impl CreateImage {
    /// Makes the image `spec` describes.
    pub fn new(api: OxideApi, spec: ImageSpec) -> Self {
        Self { api, spec }
    }
}

#[async_trait]
impl Step<Snapshotted> for CreateImage {
    type Out = ImageMade;

    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed("create image")
    }

    async fn run(&self, cx: &StepCx, snap: Snapshotted) -> Result<ImageMade, Error> {
        cx.check_cancelled()?;
        let s = &self.spec;
        let body = ImageCreate::from_snapshot(
            s.name.clone(),
            snap.snapshot.id,
            s.os.clone(),
            s.version.clone(),
        )
        .description(s.description.clone());
        let c = &self.api.client;
        let p = &self.api.project;
        let image = create_or_adopt(
            || c.image_create(Some(p), &body),
            || async {
                // The name was free when the build began (`check image name`).
                let i = found(c.image_view(NameOrId::Name(s.name.clone()), Some(p)).await)?;
                Ok(i.filter(|i| {
                    i.os == s.os && i.version == s.version && i.description == s.description
                }))
            },
        )
        .await
        .map_err(|e| api(format!("creating image {} in project {p}", s.name), e))?;
        let id = image.id;
        let a = self.api.clone();
        cx.on_failure(
            Resource::new("image", id.to_string()).named(s.name.clone()),
            move |_| async move {
                delete(a.undo_client().image_delete(id, None))
                    .await
                    .map_err(|e| api(format!("deleting image {id}"), e))
            },
        );
        tracing::info!(image = %id, name = %s.name, "image created");
        Ok(ImageMade {
            snapshot: snap,
            image,
        })
    }
}
