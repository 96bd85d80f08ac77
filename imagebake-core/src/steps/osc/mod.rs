//! The Outscale steps of the `osc-chroot` builder, one file per step, in
//! the plugin's order (notes §1.2): host VM info, source OMI (and a copy of
//! another account's), free OMI name, working volume, device lock and link,
//! device node, … unlink, snapshot, deregister, register, permissions, tags.
//!
//! Every volume and snapshot the build makes carries the tags [`BUILD_TAG`]
//! (the build id) and [`CREATED_TAG`] (Unix seconds) so that
//! [`OscSweeper`](crate::builders::osc_chroot::OscSweeper) finds what a
//! crashed build left.

mod check_omi_name;
mod copy_source_omi;
mod create_volume;
mod deregister;
mod link_volume;
mod permissions;
mod register_omi;
mod snapshot;
mod source_omi;
mod tags;
mod unlink_volume;
mod vm_info;
mod wait_device;

use std::future::Future;
use std::time::Duration;

use imagebake_http::{Poll, RetryPolicy, WaitOptions};
use osc_client::types::Tag;
use osc_client::{Client, Error as OscError};

pub use check_omi_name::CheckOmiName;
pub use copy_source_omi::CopySourceOmi;
pub use create_volume::{CreateVolume, VolumeSpec, WorkVolume};
pub use deregister::Deregister;
pub use link_volume::{LinkVolume, LinkedVolume};
pub use permissions::UpdatePermissions;
pub use register_omi::{OmiSpec, RegisterOmi, RootSnapshot};
pub use snapshot::{CreateSnapshot, SnapshotDone};
pub use source_omi::{OmiSource, SourceOmi};

/// Checks `source_omi_filter` keys (those the plugin maps; others are errors).
pub fn source_omi_filters_check(
    filters: &std::collections::BTreeMap<String, String>,
) -> Result<(), Error> {
    source_omi::image_filters(filters).map(drop)
}
pub use tags::{BuildData, TagOmi};
pub use unlink_volume::UnlinkVolume;
pub use vm_info::{HostVm, VmInfo};
pub use wait_device::{AttachedVolume, WaitDevice};

use crate::Error;

/// Tag holding the id of the build that made a volume or snapshot.
pub const BUILD_TAG: &str = "imagebake-build";
/// Tag holding when (Unix seconds) the build made it.
pub const CREATED_TAG: &str = "imagebake-created";

/// Time limits of the waits and the longest pause between two polls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Waits {
    /// Volume creation, link and unlink (default 10 minutes).
    pub volume: Duration,
    /// Snapshot completion, `in-queue` included (default 60 minutes).
    pub snapshot: Duration,
    /// Image availability, copies included (default 60 minutes).
    pub image: Duration,
    /// The device node's appearance after the link (default 2 minutes).
    pub device: Duration,
    /// Longest pause between two polls (default 2 seconds).
    pub poll_cap: Duration,
}

impl Default for Waits {
    fn default() -> Self {
        Self {
            volume: Duration::from_secs(600),
            snapshot: Duration::from_secs(3600),
            image: Duration::from_secs(3600),
            device: Duration::from_secs(120),
            poll_cap: Duration::from_secs(2),
        }
    }
}

impl Waits {
    pub(crate) fn opts(&self, timeout: Duration) -> WaitOptions {
        WaitOptions::new(timeout, self.poll_cap)
    }

    /// [`Waits::opts`] for a wait that learns how long `operation`
    /// (`"osc volume create"`) takes on `client`'s endpoint for a resource
    /// of `size` GiB (0: no size class).
    pub(crate) fn learning(
        &self,
        timeout: Duration,
        client: &osc_client::Client,
        operation: &str,
        size: u64,
    ) -> WaitOptions {
        let size = if size == 0 {
            String::new()
        } else {
            format!("{size}GiB")
        };
        let key =
            crate::steps::common::wait_key(client.config().endpoint.as_str(), operation, size);
        self.opts(timeout).learn(key)
    }
}

pub use crate::steps::common::now_secs;

/// The build tags for a resource made now.
pub(crate) fn build_tags(build_id: &crate::BuildId) -> Vec<Tag> {
    vec![
        Tag::new(BUILD_TAG, build_id.as_str()),
        Tag::new(CREATED_TAG, now_secs().to_string()),
    ]
}

/// [`Error::Provider`] for an OAPI call.
pub(crate) fn api(what: impl Into<String>, e: OscError) -> Error {
    Error::provider(what, e)
}

/// Attempts per request of an undo, at least: a cleanup must outlast a
/// bad spell of the API. At the CI load test's 30% of failed requests, 8
/// attempts all fail once in about 15 000 requests (a few of the test's
/// runs in a thousand, each leaving what that undo was to remove); 16
/// fail once in about 200 million.
const UNDO_ATTEMPTS: u32 = 16;

/// The client undos use: the build's, retrying longer (at least
/// [`UNDO_ATTEMPTS`] attempts; still the client's own, single retry loop).
pub(crate) fn undo_client(client: &Client) -> Client {
    let mut policy = client.config().retry;
    policy.max_attempts = policy.max_attempts.max(UNDO_ATTEMPTS);
    client.with_retry(policy)
}

/// An undo's OAPI call result: "not found" counts as done.
pub(crate) fn gone_ok(what: &str, r: Result<(), OscError>) -> Result<(), Error> {
    match r {
        Err(e) if !e.is_not_found() => Err(api(what, e)),
        _ => Ok(()),
    }
}

/// The OMIs of account `account_id` named exactly `name` (ReadImages by
/// name, then filtered: the name filter is a pattern and may match others').
pub(crate) async fn own_images_named(
    cx: &crate::StepCx,
    client: &Client,
    name: &str,
    account_id: &str,
    why: &str,
) -> Result<Vec<osc_client::types::Image>, Error> {
    let mut f = osc_client::api::FiltersImage::names([name.to_owned()]);
    f.account_ids.push(account_id.to_owned());
    let images = cx
        .cancellable(client.images().read(f))
        .await?
        .map_err(|e| api(format!("ReadImages ({why})"), e))?;
    Ok(images
        .into_iter()
        .filter(|i| i.image_name == name && i.account_id.trim() == account_id)
        .collect())
}

/// After a `CreateImage` whose answer was lost (it has no `ClientToken`),
/// finds the image by name in our account, so its undo can be registered.
pub(crate) async fn find_own_image(
    client: &Client,
    name: &str,
) -> Result<Option<osc_client::types::Image>, OscError> {
    let images = client
        .images()
        .read(osc_client::api::FiltersImage::names([name.to_owned()]))
        .await?;
    let own = client.accounts().current().await?.account_id;
    Ok(images
        .into_iter()
        .find(|i| i.image_name == name && i.account_id.trim() == own))
}

/// `CreateImage` (it has no `ClientToken`), with the shared
/// [`imagebake_http::create_or_adopt`] as its one retry loop (the client's
/// policy): when its outcome is unknown, the image of that name it may have
/// made is adopted, or, when there is certainly none, the create is sent
/// again.
pub(crate) async fn create_image(
    client: &Client,
    req: &osc_client::api::CreateImageRequest,
) -> Result<osc_client::types::Image, OscError> {
    let name = req.image_name.clone().unwrap_or_default();
    let images = client.with_retry(RetryPolicy::never()).images();
    imagebake_http::create_or_adopt(
        &client.config().retry,
        |_| images.create(req),
        || find_own_image(client, &name),
    )
    .await
}

/// `CreateImage` (a registration or a copy) through [`StepCx::create`]:
/// the image is the build's from the moment the request is sent, found by
/// its name in our account (names are unique per account) when the answer
/// does not come. `undo` makes the undo of the made image; `what` names the
/// call in errors.
pub(crate) async fn create_image_owned<U>(
    cx: &crate::StepCx,
    client: &Client,
    req: osc_client::api::CreateImageRequest,
    what: String,
    undo: U,
) -> Result<crate::Created<osc_client::types::Image>, Error>
where
    U: Fn(&osc_client::types::Image) -> crate::Cleanup + Send + Sync + 'static,
{
    let name = req.image_name.clone().unwrap_or_default();
    let (c, n) = (client.clone(), name.clone());
    let find = move || {
        let (c, n) = (c.clone(), n.clone());
        async move {
            find_own_image(&c, &n)
                .await
                .map_err(|e| api(format!("looking up image {n}"), e))
        }
    };
    let c = client.clone();
    let send = async move { create_image(&c, &req).await.map_err(|e| api(what, e)) };
    cx.create(crate::Create::new("image", Some(name), find, undo), send)
        .await
}

/// Deletes a volume now, retrying transient failures ("not found" is done).
pub fn remove_volume_now(
    client: Client,
    id: String,
) -> impl Future<Output = Result<(), Error>> + Send {
    remove_volume(client, id)
}

/// Deletes a snapshot now, retrying transient failures.
pub fn remove_snapshot_now(
    client: Client,
    id: String,
) -> impl Future<Output = Result<(), Error>> + Send {
    remove_snapshot(client, id)
}

/// Unlinks a volume and waits until it has no link.
pub fn unlink_volume_now(
    client: Client,
    id: String,
    opts: WaitOptions,
) -> impl Future<Output = Result<(), Error>> + Send {
    unlink_and_wait(client, id, opts)
}

/// Deletes an image and then the snapshots it had (read first; a failed
/// read is an error and deletes nothing).
pub async fn remove_image_and_snapshots(client: Client, id: String) -> Result<(), Error> {
    // Read with the undo's longer retry, and never guess: an image whose
    // snapshots could not be read is not deleted (its snapshots would leak).
    let snaps: Vec<String> = match undo_client(&client).images().find(&id).await {
        Ok(Some(i)) => i.snapshot_ids().into_iter().map(str::to_owned).collect(),
        Ok(None) => Vec::new(),
        Err(e) => return Err(api(format!("ReadImages {id}"), e)),
    };
    remove_image(client.clone(), id).await?;
    for s in snaps {
        remove_snapshot(client.clone(), s).await?;
    }
    Ok(())
}

/// Deletes a volume (an undo).
pub(crate) async fn remove_volume(client: Client, id: String) -> Result<(), Error> {
    let r = undo_client(&client).volumes().delete(&id).await;
    gone_ok(&format!("DeleteVolume {id}"), r)
}

/// Deletes a snapshot (an undo).
pub(crate) async fn remove_snapshot(client: Client, id: String) -> Result<(), Error> {
    let r = undo_client(&client).snapshots().delete(&id).await;
    gone_ok(&format!("DeleteSnapshot {id}"), r)
}

/// Deletes an image (an undo).
pub(crate) async fn remove_image(client: Client, id: String) -> Result<(), Error> {
    let r = undo_client(&client).images().delete(&id).await;
    gone_ok(&format!("DeleteImage {id}"), r)
}

/// Unlinks a volume and waits until it has no link left (an undo; also
/// fine when it was never linked or is gone).
pub(crate) async fn unlink_and_wait(
    client: Client,
    id: String,
    opts: WaitOptions,
) -> Result<(), Error> {
    let client = undo_client(&client);
    let r = match client.volumes().unlink(&id, false).await {
        // Not linked (any more): nothing to do.
        Err(e) if e.code() == Some("9063") => Ok(()),
        other => other,
    };
    gone_ok(&format!("UnlinkVolume {id}"), r)?;
    crate::engine::wait(
        format!("volume {id} unlinked"),
        &opts,
        |_, _| {},
        || async {
            Ok::<_, OscError>(match client.volumes().find(&id).await? {
                None => Poll::Done(()),
                Some(v) if v.linked_volumes.is_empty() => Poll::Done(()),
                Some(v) => Poll::Pending(
                    v.linked_volumes
                        .iter()
                        .map(|l| l.state.as_ref().map_or("?".to_owned(), ToString::to_string))
                        .collect::<Vec<_>>()
                        .join(","),
                ),
            })
        },
    )
    .await
}
