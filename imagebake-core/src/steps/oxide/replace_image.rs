use std::borrow::Cow;

use async_trait::async_trait;
use oxide_client::NameOrId;

use super::{OxideApi, Snapshotted, api, delete, found};
use crate::{Error, OutputStream, Step, StepCx};

/// `-force` (`packer_force`): deletes the project's image of the artifact's
/// name, if any, right before `create image` makes the new one, as the
/// plugin does (Oxide names are unique in a project, so the old image
/// cannot outlive the new one's creation). By then the snapshot exists,
/// so a build that fails earlier keeps the old image.
#[derive(Debug, Clone)]
pub struct ReplaceImage {
    api: OxideApi,
    name: String,
}

impl ReplaceImage {
    /// Replaces the image named `name` in `api`'s project.
    pub fn new(api: OxideApi, name: impl Into<String>) -> Self {
        Self {
            api,
            name: name.into(),
        }
    }
}

#[async_trait]
impl Step<Snapshotted> for ReplaceImage {
    type Out = Snapshotted;

    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed("replace image")
    }

    async fn run(&self, cx: &StepCx, snap: Snapshotted) -> Result<Snapshotted, Error> {
        let (c, p, n) = (&self.api.client, &self.api.project, &self.name);
        let old = cx
            .cancellable(c.image_view(NameOrId::Name(n.clone()), Some(p)))
            .await?;
        let old = found(old).map_err(|e| api(format!("looking up image {n} in project {p}"), e))?;
        if let Some(old) = old {
            cx.check_cancelled()?;
            delete(c.image_delete(old.id, None))
                .await
                .map_err(|e| api(format!("deleting image {n} ({})", old.id), e))?;
            cx.output_line(
                OutputStream::Stdout,
                &format!("deleted image {n} ({}) to replace it (-force)", old.id),
            );
        }
        Ok(snap)
    }
}
