use std::borrow::Cow;

use async_trait::async_trait;
use osc_client::Client;
use osc_client::api::CreateImageRequest;
use osc_client::types::Image;

use super::{HostVm, Waits, api, build_tags, create_image_owned, remove_image_and_snapshots};
use crate::{Cleanup, Error, Poll, Resource, Step, StepCx};

/// The plugin's StepCopySourceOMI (1.6.0): the snapshot behind another
/// account's OMI (Outscale's public images) cannot make a volume, so such a
/// source is first copied into our account (`CreateImage` with
/// `SourceImageId`), and the copy is the source. The copy and its snapshots
/// are removed at the end of the build whatever its outcome; the copy is the
/// build's from the moment the request is sent ([`StepCx::create`]: a
/// Ctrl-C before the answer looks it up by name and deletes it). An OMI of
/// our own account passes through unchanged.
#[derive(Debug, Clone)]
pub struct CopySourceOmi {
    client: Client,
    region: String,
    copy_name: String,
    waits: Waits,
}

impl CopySourceOmi {
    /// Copies into `region` under `copy_name` (made from the OMI name and the build id).
    pub fn new(
        client: Client,
        region: impl Into<String>,
        copy_name: impl Into<String>,
        waits: Waits,
    ) -> Self {
        Self {
            client,
            region: region.into(),
            copy_name: copy_name.into(),
            waits,
        }
    }
}

#[async_trait]
impl Step<(HostVm, Image)> for CopySourceOmi {
    type Out = Image;

    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed("copy source omi")
    }

    async fn run(&self, cx: &StepCx, (host, source): (HostVm, Image)) -> Result<Image, Error> {
        if source.account_id.trim() == host.account_id {
            return Ok(source);
        }
        cx.check_cancelled()?;
        let req = CreateImageRequest::copy(&self.copy_name, &source.image_id, &self.region);
        let c = self.client.clone();
        let undo = move |i: &Image| {
            let (c, id) = (c.clone(), i.image_id.clone());
            Cleanup::always(
                Resource::new("image", id.clone()).named(i.image_name.clone()),
                move |_| remove_image_and_snapshots(c, id),
            )
        };
        let what = format!("CreateImage (copy of {})", source.image_id);
        let copy = create_image_owned(cx, &self.client, req, what, undo)
            .await?
            .value;
        cx.cancellable(
            self.client
                .tags()
                .create([copy.image_id.clone()], build_tags(cx.build_id())),
        )
        .await?
        .map_err(|e| api(format!("CreateTags {}", copy.image_id), e))?;
        let client = self.client.clone();
        let id = copy.image_id.clone();
        let opts = self
            .waits
            .learning(self.waits.image, &self.client, "osc image copy", 0);
        cx.wait_for(format!("image {id} (copy)"), &opts, || {
            let (client, id) = (client.clone(), id.clone());
            async move {
                Ok::<_, osc_client::Error>(Poll::found(
                    client.images().find(&id).await?,
                    Image::toward_available,
                ))
            }
        })
        .await
    }
}
