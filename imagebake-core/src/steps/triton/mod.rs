//! The Triton steps: resolve the source image, check the image name is free,
//! create the machine, wait for it, stop it, image it, delete it; and, for
//! the post-processors, export an image to Manta.
//!
//! The values passed between them are typed so that the steps only fit
//! together in a working order (an image needs a [`StoppedMachine`], a stop
//! needs a [`Provisioned`] machine, which needs a [`Flushed`] proof).
//!
//! Every machine carries the tags [`BUILD_TAG`] (the build id) and
//! [`CREATED_TAG`] (Unix seconds), and so does every image until the build
//! succeeds, when [`TagImage`] swaps them for [`BUILT_BY_TAG`]: a sweep finds
//! leftovers by the first two and never touches a finished image.

mod check_image_name;
mod create_image;
mod create_machine;
mod delete_machine;
mod export_image;
mod replace_images;
mod source_image;
mod stop_machine;
mod tag_image;
mod wait_gone;
mod wait_image;
mod wait_running;
mod wait_stopped;

use std::time::Duration;

use triton_client::types::{Image, ImageId, Machine, MachineId};
use triton_client::{Client, WaitOptions};

pub use check_image_name::CheckImageName;
pub use create_image::{CreateImage, ImageSpec};
pub use create_machine::{CreateMachine, MachineSpec};
pub use delete_machine::DeleteMachine;
pub use export_image::{ExportImage, MantaExport};
pub use replace_images::ReplaceImages;
pub use source_image::{ImageSource, SourceImage};
pub use stop_machine::StopMachine;
pub use tag_image::TagImage;
pub use wait_gone::WaitMachineGone;
pub use wait_image::WaitImage;
pub use wait_running::WaitRunning;
pub use wait_stopped::WaitStopped;

pub(crate) use crate::steps::common::now_secs;
use crate::steps::common::wait_key;

use crate::provision::Flushed;
use crate::{Error, Resource, UndoHandle};

/// Tag holding the id of the build that made a machine or an unfinished image.
pub const BUILD_TAG: &str = "imagebake-build";
/// Tag holding when (Unix seconds) the build made the resource.
pub const CREATED_TAG: &str = "imagebake-created";
/// Tag of a finished image: the build that made it (not swept).
pub const BUILT_BY_TAG: &str = "imagebake-built-by";

/// A machine the build created, with the handle of its undo (delete).
#[derive(Debug, Clone)]
pub struct MachineHandle {
    /// Its id.
    pub id: MachineId,
    /// Its name.
    pub name: String,
    /// The registered undo that deletes it.
    pub undo: UndoHandle,
    /// Its package (what its waits' lengths depend on).
    pub package: String,
}

impl MachineHandle {
    /// The machine as a cleanup report names it.
    pub fn resource(&self) -> Resource {
        Resource::new("machine", self.id.to_string()).named(self.name.clone())
    }
}

/// A machine that reached `running`.
#[derive(Debug, Clone)]
pub struct RunningMachine {
    /// The build's handle on it.
    pub handle: MachineHandle,
    /// What GetMachine said when it was running (`primaryIp`, ...).
    pub machine: Machine,
}

/// A machine whose provisioning is done and whose disks are flushed.
#[derive(Debug, Clone)]
pub struct Provisioned {
    /// The build's handle on it.
    pub machine: MachineHandle,
    /// The proof that its file systems were flushed.
    pub flushed: Flushed,
}

impl Provisioned {
    /// A machine built without a communicator (`communicator: none`): nothing
    /// ran inside it, so there is nothing to flush.
    pub fn without_communicator(machine: MachineHandle) -> Self {
        Self {
            machine,
            flushed: Flushed::assumed_by_caller(false),
        }
    }
}

/// A machine asked to stop.
#[derive(Debug, Clone)]
pub struct StoppingMachine {
    /// The build's handle on it.
    pub machine: MachineHandle,
}

/// A stopped machine, ready to be imaged.
#[derive(Debug, Clone)]
pub struct StoppedMachine {
    /// The build's handle on it.
    pub machine: MachineHandle,
}

/// An image being created, with the handle of its undo (delete on failure).
#[derive(Debug, Clone)]
pub struct ImageInProgress {
    /// The machine it is made from.
    pub machine: MachineHandle,
    /// The image's id.
    pub image: ImageId,
    /// The registered undo that deletes it if the build fails.
    pub undo: UndoHandle,
}

/// An active image, its machine still there.
#[derive(Debug, Clone)]
pub struct ImageActive {
    /// The machine it was made from.
    pub machine: MachineHandle,
    /// The image, as GetImage showed it active.
    pub image: Image,
}

/// An active image whose machine is being deleted.
#[derive(Debug, Clone)]
pub struct MachineDeleting {
    /// The machine.
    pub machine: MachineHandle,
    /// The image.
    pub image: Image,
}

/// [`Error::Provider`] for a CloudAPI call.
pub(crate) fn api(what: impl Into<String>, e: triton_client::Error) -> Error {
    Error::provider(what, e)
}

/// Deletes a machine (already gone counts as done) and waits until
/// GetMachine says it is gone (410, or 404 once purged), within `timeout`
/// and until `cancel` fires. Used by the machine's undo and by the sweep.
pub(crate) async fn remove_machine(
    client: &Client,
    id: &MachineId,
    timeout: Duration,
    poll_cap: Duration,
    cancel: &tokio_util::sync::CancellationToken,
) -> Result<(), Error> {
    match client.delete_machine(id).await {
        Ok(()) => {}
        Err(e) if e.is_not_found() => return Ok(()),
        Err(e) => return Err(api(format!("deleting machine {id}"), e)),
    }
    let opts = WaitOptions::new(timeout, poll_cap).cancel_on(cancel.clone());
    crate::engine::wait(
        format!("machine {id} to be deleted"),
        &opts,
        |_, _| {},
        || client.look_machine_gone(id),
    )
    .await
}

/// Deletes an image; already gone counts as done.
pub(crate) async fn remove_image(client: &Client, id: &ImageId) -> Result<(), Error> {
    match client.delete_image(id).await {
        Ok(()) => Ok(()),
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(api(format!("deleting image {id}"), e)),
    }
}

/// How the steps wait: the limits of the machine waits and of the image
/// wait, and the longest pause between two polls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Waits {
    /// Limit of each machine wait (`state_timeout`, default 10 minutes).
    pub state_timeout: Duration,
    /// Limit of the image wait (`image_timeout`, default 60 minutes, as
    /// IMGAPI's own create-from-vm limit).
    pub image_timeout: Duration,
    /// Longest pause between two polls (`poll_cap`, default 1 second).
    pub poll_cap: Duration,
}

impl Default for Waits {
    fn default() -> Self {
        Self {
            state_timeout: Duration::from_secs(600),
            image_timeout: Duration::from_secs(3600),
            poll_cap: Duration::from_secs(1),
        }
    }
}

impl Waits {
    /// The options of a wait for `operation` (`"triton machine stop"`) on
    /// `machine`, within `timeout`: it learns how long that operation takes
    /// on `client`'s cloud for the machine's package.
    pub(crate) fn learning(
        &self,
        timeout: Duration,
        client: &Client,
        operation: &str,
        machine: &MachineHandle,
    ) -> WaitOptions {
        WaitOptions::new(timeout, self.poll_cap).learn(wait_key(
            client.url().as_str(),
            operation,
            machine.package.clone(),
        ))
    }
}
