use std::borrow::Cow;

use async_trait::async_trait;
use oxide_client::Image;

use super::{ImageMade, OxideApi, api, delete};
use crate::{Error, Step, StepCx};

/// `snapshot_delete` of the snapshot the image was made from: the image
/// holds its own copy. The snapshot's undo is then dismissed.
#[derive(Debug, Clone)]
pub struct DeleteSnapshot {
    api: OxideApi,
}

impl DeleteSnapshot {
    /// Deletes with `api`.
    pub fn new(api: OxideApi) -> Self {
        Self { api }
    }
}

#[async_trait]
impl Step<ImageMade> for DeleteSnapshot {
    type Out = Image;

    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed("delete snapshot")
    }

    async fn run(&self, cx: &StepCx, made: ImageMade) -> Result<Image, Error> {
        cx.check_cancelled()?;
        let id = made.snapshot.snapshot.id;
        cx.cancellable(delete(self.api.undo_client().snapshot_delete(id, None)))
            .await?
            .map_err(|e| api(format!("deleting snapshot {id}"), e))?;
        cx.dismiss(made.snapshot.undo);
        Ok(made.image)
    }
}
