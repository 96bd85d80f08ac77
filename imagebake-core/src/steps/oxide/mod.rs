//! The Oxide steps: resolve the source image, check the image name, make a
//! temporary SSH key, create the instance, wait for it, find its reachable
//! address, stop it, snapshot its boot disk, make the image, delete the
//! snapshot. And, without an instance, the import of a local disk image
//! ([`import_image`]): check the names, make the file raw, create a disk for
//! bulk import, upload its blocks, finalize it into a snapshot, make the
//! image.
//!
//! The values passed between them are typed so that the steps only fit in a
//! working order (a snapshot needs a [`StoppedInstance`], a stop needs a
//! [`Provisioned`] instance, which needs a [`Flushed`] proof).
//!
//! Oxide resources have no tags: every resource a build makes carries the
//! build id in its description ([`description`], read back by
//! [`build_of`]) and, by default, in its name, so that a sweep finds the
//! leftovers of crashed builds. Names are unique per project, which makes
//! every create safe to repeat: when a create's answer is lost, the step
//! looks the resource up by name and adopts it if it is this build's.

mod check_image_name;
mod check_import_names;
mod create_image;
mod create_import_disk;
mod create_import_image;
mod create_instance;
mod delete_instance;
mod delete_snapshot;
mod external_ip;
mod finalize_import;
mod import;
mod prepare_raw_file;
mod replace_image;
mod snapshot;
mod source_image;
mod stop_instance;
mod temp_key;
mod upload_blocks;
mod wait_running;
mod wait_stopped;

use std::future::Future;
use std::time::Duration;

use imagebake_http::{Backoff, RetryPolicy};
use oxide_client::{Client, NameOrId};
use uuid::Uuid;

pub use check_image_name::CheckImageName;
pub use check_import_names::CheckImportNames;
pub use create_image::{CreateImage, ImagePlan, ImageSpec};
pub use create_import_disk::{CreateImportDisk, abandon_disk};
pub use create_import_image::CreateImportImage;
pub use create_instance::{CreateInstance, InstanceSpec, Launch};
pub use delete_snapshot::DeleteSnapshot;
pub use external_ip::ExternalAddress;
pub use finalize_import::FinalizeImport;
pub use import::{
    CHUNK, DEFAULT_PARALLELISM, GIB, ImportDisk, ImportSpec, ImportedSnapshot, RawFile,
    UploadedDisk, import_image,
};
pub use prepare_raw_file::PrepareRawFile;
pub use replace_image::ReplaceImage;
pub use snapshot::CreateSnapshot;
pub use source_image::{ImageSource, SourceImage};
pub use stop_instance::StopInstance;
pub use temp_key::{CreateTemporaryKey, TemporaryKeyHandle};
pub use upload_blocks::UploadBlocks;
pub use wait_running::WaitRunning;
pub use wait_stopped::WaitStopped;

pub(crate) use delete_instance::{remove_by_delete, remove_disk, remove_instance};

use crate::provision::Flushed;
use crate::{BuildId, Error, Resource, UndoHandle};

/// What every Oxide step needs: the client, the project the build works in,
/// how it waits, and how it retries the deletes of its undos.
#[derive(Debug, Clone)]
pub struct OxideApi {
    /// The client.
    pub client: Client,
    /// The project of the instance, its disk, the snapshot and the image.
    pub project: NameOrId,
    /// How waits poll.
    pub waits: Waits,
    /// How undos and sweeps retry their calls: the client's own (one) retry
    /// loop, given this policy ([`OxideApi::undo_client`]); steps use the
    /// client's policy.
    pub retry: RetryPolicy,
}

impl OxideApi {
    /// The options of a state wait for `operation` (`"oxide instance
    /// start"`) on a resource of size class `size`: it learns how long that
    /// takes on this rack.
    pub(crate) fn learning(&self, operation: &str, size: &str) -> imagebake_http::WaitOptions {
        self.waits.options().learn(crate::steps::common::wait_key(
            self.client.host(),
            operation,
            size,
        ))
    }

    /// Works in `project` with default waits and retries.
    pub fn new(client: Client, project: NameOrId) -> Self {
        Self {
            client,
            project,
            waits: Waits::default(),
            retry: RetryPolicy {
                max_attempts: 8,
                backoff: Backoff::new(Duration::from_millis(200), Duration::from_secs(5)),
            },
        }
    }

    /// The client undos and sweeps use: the build's, retrying with
    /// [`OxideApi::retry`] (more attempts than a step; still one loop).
    pub fn undo_client(&self) -> Client {
        self.client.with_retry(self.retry)
    }
}

/// How the steps wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Waits {
    /// Limit of each instance or snapshot wait (`state_timeout`, default 10
    /// minutes, not Packer's silent 30 s).
    pub state_timeout: Duration,
    /// Longest pause between two polls (`poll_cap`, default 2 seconds).
    pub poll_cap: Duration,
    /// How long a guest shut down from inside may take to stop before the
    /// API stop cuts its power (`shutdown_timeout`, default 5 minutes).
    pub shutdown_timeout: Duration,
}

impl Default for Waits {
    fn default() -> Self {
        Self {
            state_timeout: Duration::from_secs(600),
            poll_cap: Duration::from_secs(2),
            shutdown_timeout: Duration::from_secs(300),
        }
    }
}

impl Waits {
    /// Wait options for one state wait (the build's token is added by
    /// [`StepCx::wait_for`](crate::StepCx::wait_for)).
    pub fn options(&self) -> imagebake_http::WaitOptions {
        imagebake_http::WaitOptions::new(self.state_timeout, self.poll_cap)
    }
}

/// An instance the build created, with the handles of its undos.
#[derive(Debug, Clone)]
pub struct InstanceHandle {
    /// Its id.
    pub id: Uuid,
    /// Its name (also its boot disk's and the snapshot's).
    pub name: String,
    /// Its boot disk.
    pub boot_disk: Option<Uuid>,
    /// The undo that stops and deletes it.
    pub undo: UndoHandle,
    /// Its size class (vCPUs, memory, boot disk): what its waits' lengths
    /// depend on.
    pub size: String,
}

impl InstanceHandle {
    /// The instance as a cleanup report names it.
    pub fn resource(&self) -> Resource {
        Resource::new("instance", self.id.to_string()).named(self.name.clone())
    }
}

/// An instance that reached `running`.
#[derive(Debug, Clone)]
pub struct RunningInstance {
    /// The build's handle on it.
    pub handle: InstanceHandle,
    /// What `instance_view` said when it was running.
    pub instance: oxide_client::Instance,
}

/// An instance whose provisioning is done and whose disks are flushed.
#[derive(Debug, Clone)]
pub struct Provisioned {
    /// The build's handle on it.
    pub instance: InstanceHandle,
    /// The proof that its file systems were flushed (and whether it was
    /// shut down from inside).
    pub flushed: Flushed,
}

impl Provisioned {
    /// An instance built without a communicator (`communicator: none`):
    /// nothing ran inside it, so there is nothing to flush.
    pub fn without_communicator(instance: InstanceHandle) -> Self {
        Self {
            instance,
            flushed: Flushed::assumed_by_caller(false),
        }
    }
}

/// An instance asked to stop.
#[derive(Debug, Clone)]
pub struct StoppingInstance {
    /// The build's handle on it.
    pub instance: InstanceHandle,
}

/// A stopped instance, whose boot disk can be snapshotted.
#[derive(Debug, Clone)]
pub struct StoppedInstance {
    /// The build's handle on it.
    pub instance: InstanceHandle,
}

/// A ready snapshot of the boot disk, with the handle of its undo (delete
/// on failure).
#[derive(Debug, Clone)]
pub struct Snapshotted {
    /// The instance it was taken of.
    pub instance: InstanceHandle,
    /// The snapshot.
    pub snapshot: oxide_client::Snapshot,
    /// The undo that deletes it if the build fails.
    pub undo: UndoHandle,
}

/// An image made from the snapshot, the snapshot still there.
#[derive(Debug, Clone)]
pub struct ImageMade {
    /// The snapshot it was made from.
    pub snapshot: Snapshotted,
    /// The image.
    pub image: oxide_client::Image,
}

/// The text every resource a build makes has in its description: the build
/// id as `imagebake-build=ib-…` (Oxide has no tags).
pub fn description(build_id: &BuildId) -> String {
    format!("Created by imagebake ({MARKER}{build_id}).")
}

const MARKER: &str = "imagebake-build=";

/// The build id a description made by [`description`] carries.
pub fn build_of(description: &str) -> Option<&str> {
    let at = description.find(MARKER)? + MARKER.len();
    let rest = &description[at..];
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .unwrap_or(rest.len());
    Some(&rest[..end]).filter(|b| !b.is_empty())
}

/// Whether a resource with this description was made by build `build_id`.
pub(crate) fn made_by(description: &str, build_id: &BuildId) -> bool {
    build_of(description) == Some(build_id.as_str())
}

/// [`Error::Provider`] for an Oxide API call.
pub(crate) fn api(what: impl Into<String>, e: oxide_client::Error) -> Error {
    Error::provider(what, e)
}

/// Creates a resource whose name is unique in its scope, with the shared
/// [`imagebake_http::create_or_adopt`]: when the outcome is unknown,
/// `lookup` looks for it by name; found (and this build's), it is adopted;
/// not found, the create is sent again (at most [`CREATE_ATTEMPTS`] sends);
/// the lookup failing, the create's own error is returned. (The client
/// retries only what it knows was not processed; this retries only unknown
/// outcomes: one loop each.)
pub(crate) async fn create_or_adopt<T, C, CF, L, LF>(
    create: C,
    lookup: L,
) -> Result<T, oxide_client::Error>
where
    C: Fn() -> CF,
    CF: Future<Output = Result<T, oxide_client::Error>>,
    L: Fn() -> LF,
    LF: Future<Output = Result<Option<T>, oxide_client::Error>>,
{
    let policy = RetryPolicy {
        max_attempts: CREATE_ATTEMPTS,
        ..RetryPolicy::default()
    };
    imagebake_http::create_or_adopt(&policy, |_| create(), lookup).await
}

/// Sends of one create whose outcomes stay unknown (each followed by a
/// lookup): a 503 or a dropped connection three times in a row is rare.
const CREATE_ATTEMPTS: u32 = 4;

/// `Ok(None)` for a 404, the value otherwise.
pub(crate) fn found<T>(
    r: Result<T, oxide_client::Error>,
) -> Result<Option<T>, oxide_client::Error> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// Deletes with `call` (the client retries it); a 404 (already gone)
/// counts as done.
pub(crate) async fn delete(
    call: impl Future<Output = Result<(), oxide_client::Error>>,
) -> Result<(), oxide_client::Error> {
    found(call.await).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_carry_the_build_id() {
        let id: BuildId = "ib-abcde12345".parse().unwrap();
        let d = description(&id);
        assert_eq!(build_of(&d), Some("ib-abcde12345"));
        assert!(made_by(&d, &id));
        assert_eq!(build_of("imagebake-build=ib-x1, more"), Some("ib-x1"));
        assert_eq!(build_of("debian 12"), None);
        assert_eq!(build_of("imagebake-build="), None);
    }
}
