use std::borrow::Cow;

use async_trait::async_trait;
use oxide_client::{Client, Image, ImageCreate, NameOrId};

use super::{ImageMade, OxideApi, Snapshotted, api, create_or_adopt, found, remove_by_delete};
use crate::{BuildId, Cleanup, Create, Error, Resource, Step, StepCx};

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

/// `image_create` in the project from the snapshot. It is the build's from
/// the moment the request is sent ([`StepCx::create`]: a Ctrl-C before the
/// answer looks it up by its name, free when the build began, and deletes
/// it); its delete runs if the build fails.
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
        let image = make_image(cx, &self.api, &self.spec, snap.snapshot.id).await?;
        Ok(ImageMade {
            snapshot: snap,
            image,
        })
    }
}

/// `image_create` in `api`'s project of the image `spec` describes, from
/// snapshot `snapshot_id`, through [`StepCx::create`] (a Ctrl-C before the
/// answer looks it up by its name, free when the build began, and deletes
/// it); its delete runs if the build fails.
pub(crate) async fn make_image(
    cx: &StepCx,
    api_: &OxideApi,
    s: &ImageSpec,
    snapshot_id: uuid::Uuid,
) -> Result<Image, Error> {
    cx.check_cancelled()?;
    let body =
        ImageCreate::from_snapshot(s.name.clone(), snapshot_id, s.os.clone(), s.version.clone())
            .description(s.description.clone());
    let (a, spec) = (api_.clone(), s.clone());
    let find = move || {
        let (a, spec) = (a.clone(), spec.clone());
        async move {
            find_image(&a, &spec)
                .await
                .map_err(|e| api(format!("looking up image {}", spec.name), e))
        }
    };
    let a = api_.clone();
    let undo = move |i: &Image| {
        let (a, id) = (a.clone(), i.id);
        Cleanup::on_failure(
            Resource::new("image", id.to_string()).named(i.name.clone()),
            move |u| async move {
                let what = format!("image {id}");
                remove_by_delete(
                    &a,
                    &what,
                    u.timeout(),
                    u.token(),
                    move |c: Client| async move { c.image_delete(id, None).await },
                )
                .await
                .map(drop)
            },
        )
    };
    let (a, spec) = (api_.clone(), s.clone());
    let send = async move {
        let p = &a.project;
        create_or_adopt(
            || a.client.image_create(Some(p), &body),
            || find_image(&a, &spec),
        )
        .await
        .map_err(|e| api(format!("creating image {} in project {p}", spec.name), e))
    };
    let made = cx
        .create(Create::new("image", Some(s.name.clone()), find, undo), send)
        .await?;
    let image = made.value;
    tracing::info!(image = %image.id, name = %s.name, "image created");
    Ok(image)
}

/// The image `spec` describes, if there is one (its name was free when the
/// build began: `check image name`).
async fn find_image(a: &OxideApi, spec: &ImageSpec) -> Result<Option<Image>, oxide_client::Error> {
    let i = found(
        a.client
            .image_view(NameOrId::Name(spec.name.clone()), Some(&a.project))
            .await,
    )?;
    Ok(i.filter(|i| {
        i.os == spec.os && i.version == spec.version && i.description == spec.description
    }))
}
