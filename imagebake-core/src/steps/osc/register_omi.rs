use std::borrow::Cow;

use async_trait::async_trait;
use osc_client::Client;
use osc_client::api::CreateImageRequest;
use osc_client::types::{BlockDeviceMapping, BootMode, BsuToCreate, Image};

use super::{SnapshotDone, Waits, create_image_owned, remove_image};
use crate::{Cleanup, Error, Poll, Resource, Step, StepCx};

/// The new root snapshot, as [`RegisterOmi`] takes it.
pub type RootSnapshot = SnapshotDone;

/// The OMI to register.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OmiSpec {
    /// `omi_name`.
    pub name: String,
    /// `omi_description`.
    pub description: Option<String>,
    /// `omi_boot_modes`.
    pub boot_modes: Vec<BootMode>,
    /// `root_volume_size` (GiB; the root mapping's size is raised to it).
    pub root_volume_size: u64,
    /// From a source: its mappings, the root's snapshot replaced. From
    /// scratch: `None`, with [`OmiSpec::root_device_name`] and
    /// [`OmiSpec::mappings`].
    pub source: Option<Image>,
    /// From scratch: `root_device_name`.
    pub root_device_name: String,
    /// From scratch: `omi_block_device_mappings`.
    pub mappings: Vec<BlockDeviceMapping>,
}

impl OmiSpec {
    fn request(&self, snap: &SnapshotDone) -> Result<CreateImageRequest, Error> {
        let (root, mut mappings, arch) = match &self.source {
            Some(src) => {
                let root = src.root_device_name.clone().ok_or_else(|| {
                    Error::Config(format!("{}: no root device name", src.image_id))
                })?;
                (
                    root,
                    src.block_device_mappings.clone(),
                    src.architecture.clone(),
                )
            }
            None => (
                self.root_device_name.clone(),
                self.mappings.clone(),
                Some("x86_64".to_owned()),
            ),
        };
        let root_map = mappings
            .iter_mut()
            .find(|m| m.device_name == root)
            .ok_or_else(|| Error::Config(format!("no block device mapping for root {root}")))?;
        let bsu = root_map.bsu.get_or_insert_with(BsuToCreate::default);
        bsu.snapshot_id = Some(snap.snapshot_id.clone());
        let size = bsu
            .volume_size
            .unwrap_or(0)
            .max(self.root_volume_size)
            .max(snap.size);
        bsu.volume_size = Some(size).filter(|s| *s > 0);
        let mut req = CreateImageRequest::register(&self.name, root, mappings);
        req.architecture = arch;
        req.description = self.description.clone().filter(|d| !d.is_empty());
        req.boot_modes = self.boot_modes.clone();
        Ok(req)
    }
}

/// The plugin's StepCreateOMI: `CreateImage` from the new snapshot with the
/// block device mappings and boot modes, then waits for `available`
/// (`failed` ends at once with the state's message). Unlike the plugin, the
/// OMI is deleted if the build fails later; it is the build's from the
/// moment the request is sent ([`StepCx::create`]: a Ctrl-C before the
/// answer looks it up by name and deletes it).
#[derive(Debug, Clone)]
pub struct RegisterOmi {
    client: Client,
    spec: OmiSpec,
    waits: Waits,
}

impl RegisterOmi {
    /// Registers `spec`.
    pub fn new(client: Client, spec: OmiSpec, waits: Waits) -> Self {
        Self {
            client,
            spec,
            waits,
        }
    }
}

#[async_trait]
impl Step<SnapshotDone> for RegisterOmi {
    type Out = Image;

    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed("register omi")
    }

    async fn run(&self, cx: &StepCx, snap: SnapshotDone) -> Result<Image, Error> {
        let req = self.spec.request(&snap)?;
        cx.check_cancelled()?;
        let c = self.client.clone();
        let undo = move |i: &Image| {
            let (c, id) = (c.clone(), i.image_id.clone());
            Cleanup::on_failure(
                Resource::new("image", id.clone()).named(i.image_name.clone()),
                move |_| remove_image(c, id),
            )
        };
        let what = format!("CreateImage {}", self.spec.name);
        let image = create_image_owned(cx, &self.client, req, what, undo)
            .await?
            .value;
        let client = self.client.clone();
        let id = image.image_id.clone();
        let opts = self.waits.learning(
            self.waits.image,
            &self.client,
            "osc image register",
            snap.size,
        );
        cx.wait_for(format!("image {id}"), &opts, || {
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
