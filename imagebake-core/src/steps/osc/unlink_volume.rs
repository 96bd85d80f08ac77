use std::borrow::Cow;

use async_trait::async_trait;
use osc_client::Client;

use super::{AttachedVolume, Waits, unlink_and_wait};
use crate::steps::chroot::BlockDevice;
use crate::{Error, Step, StepCx};

/// The plugin's early cleanup of the link: once everything is unmounted
/// (the [`BlockDevice`] that `Unmount` gives back), `UnlinkVolume` and wait
/// until the volume has no link; the link's undo is then dismissed. Yields
/// the volume id.
#[derive(Debug, Clone)]
pub struct UnlinkVolume {
    client: Client,
    waits: Waits,
}

impl UnlinkVolume {
    /// Unlinks with `client`.
    pub fn new(client: Client, waits: Waits) -> Self {
        Self { client, waits }
    }
}

#[async_trait]
impl Step<(AttachedVolume, BlockDevice)> for UnlinkVolume {
    type Out = String;

    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed("unlink volume")
    }

    async fn run(
        &self,
        cx: &StepCx,
        (v, _unmounted): (AttachedVolume, BlockDevice),
    ) -> Result<String, Error> {
        cx.check_cancelled()?;
        let opts = self
            .waits
            .learning(self.waits.volume, &self.client, "osc volume unlink", 0)
            .cancel_on(cx.token().clone());
        unlink_and_wait(self.client.clone(), v.volume_id.clone(), opts).await?;
        cx.dismiss(v.undo);
        Ok(v.volume_id)
    }
}
