use std::borrow::Cow;

use async_trait::async_trait;
use oxide_client::NameOrId;

use super::{ImportSpec, OxideApi, api, found};
use crate::{Error, Step, StepCx};

/// `disk_view`, `snapshot_view` and `image_view` of the import's names in
/// the project: the import fails before anything is created when one is
/// taken (as `oxide disk import` checks them); with
/// [`ImportSpec::replace_image`] the image name may be taken.
#[derive(Debug, Clone)]
pub struct CheckImportNames {
    api: OxideApi,
    spec: ImportSpec,
}

impl CheckImportNames {
    /// Checks `spec`'s names in `api`'s project.
    pub fn new(api: OxideApi, spec: ImportSpec) -> Self {
        Self { api, spec }
    }
}

#[async_trait]
impl Step<()> for CheckImportNames {
    type Out = ();

    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed("check import names")
    }

    async fn run(&self, cx: &StepCx, (): ()) -> Result<(), Error> {
        let (c, p) = (&self.api.client, &self.api.project);
        let name = |n: &str| NameOrId::Name(n.to_owned());
        let s = &self.spec;
        let taken = [
            (
                "disk",
                "disk_name",
                &s.disk_name,
                found(
                    cx.cancellable(c.disk_view(name(&s.disk_name), Some(p)))
                        .await?,
                )
                .map(|d| d.map(|d| d.id)),
            ),
            (
                "snapshot",
                "snapshot_name",
                &s.snapshot_name,
                found(
                    cx.cancellable(c.snapshot_view(name(&s.snapshot_name), Some(p)))
                        .await?,
                )
                .map(|d| d.map(|d| d.id)),
            ),
            (
                "image",
                "image_name",
                &s.image.name,
                found(
                    cx.cancellable(c.image_view(name(&s.image.name), Some(p)))
                        .await?,
                )
                .map(|d| d.map(|d| d.id)),
            ),
        ];
        for (kind, key, value, r) in taken {
            if kind == "image" && s.replace_image {
                continue;
            }
            match r {
                Ok(None) => {}
                Ok(Some(id)) => {
                    return Err(Error::config_at(
                        key,
                        format!(
                            "{kind} {value} already exists in project {p} (id {id}); choose another {key}"
                        ),
                    ));
                }
                Err(e) => {
                    return Err(api(
                        format!("checking that {kind} name {value} is free in project {p}"),
                        e,
                    ));
                }
            }
        }
        Ok(())
    }
}
