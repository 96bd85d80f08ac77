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

use std::fmt;
use std::future::Future;
use std::time::Duration;

use imagebake_http::{Backoff, Poll, RetryPolicy, Retryable, WaitOptions, retry, wait_for};
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
pub use tags::TagOmi;
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

/// An OAPI error seen by an undo: any 5xx, throttling or connection failure
/// may pass, so the undo tries again (with the shared [`retry`]).
struct Transient(OscError);

impl Retryable for Transient {
    fn is_retryable(&self) -> bool {
        self.0.is_retryable() || self.0.status().is_some_and(|s| s >= 500)
    }
}

impl fmt::Display for Transient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Runs an undo's OAPI call, retrying transient failures; "not found"
/// counts as done.
pub(crate) async fn undo_call<F, Fut>(what: &str, op: F) -> Result<(), Error>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<(), OscError>>,
{
    let policy = RetryPolicy {
        max_attempts: 5,
        backoff: Backoff::new(Duration::from_millis(200), Duration::from_secs(5)),
    };
    match retry(&policy, |_| async { op().await.map_err(Transient) }).await {
        Ok(()) => Ok(()),
        Err(Transient(e)) if e.is_not_found() => Ok(()),
        Err(Transient(e)) => Err(api(what, e)),
    }
}

/// A create whose answer was lost (the connection closed before a status
/// came back): the server may or may not have done it.
struct Lost(OscError);

impl Retryable for Lost {
    fn is_retryable(&self) -> bool {
        answer_lost(&self.0)
    }
}

impl fmt::Display for Lost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Whether `e` means the request may have been done but its answer was lost.
pub(crate) fn answer_lost(e: &OscError) -> bool {
    matches!(e, OscError::Transport { .. })
}

/// Sends an idempotent create again (with the same `ClientToken`) when its
/// answer was lost, so that a dropped connection never leaks what it made:
/// the server answers the retry with the resource made the first time.
pub(crate) async fn resend_if_lost<T, F, Fut>(op: F) -> Result<T, OscError>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<T, OscError>>,
{
    let policy = RetryPolicy {
        max_attempts: 4,
        backoff: Backoff::new(Duration::from_millis(100), Duration::from_secs(2)),
    };
    retry(&policy, |_| async { op().await.map_err(Lost) })
        .await
        .map_err(|Lost(e)| e)
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

/// `CreateImage`, and when its answer is lost, the image of that name it
/// may have made.
pub(crate) async fn create_image(
    client: &Client,
    req: &osc_client::api::CreateImageRequest,
) -> Result<osc_client::types::Image, OscError> {
    match client.images().create(req).await {
        Err(e) if answer_lost(&e) => {
            let name = req.image_name.clone().unwrap_or_default();
            match find_own_image(client, &name).await? {
                Some(i) => Ok(i),
                None => Err(e),
            }
        }
        other => other,
    }
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

/// Deletes an image and then the snapshots it had.
pub async fn remove_image_and_snapshots(client: Client, id: String) -> Result<(), Error> {
    let snaps: Vec<String> = match client.images().find(&id).await {
        Ok(Some(i)) => i.snapshot_ids().into_iter().map(str::to_owned).collect(),
        _ => Vec::new(),
    };
    remove_image(client.clone(), id).await?;
    for s in snaps {
        remove_snapshot(client.clone(), s).await?;
    }
    Ok(())
}

/// Deletes a volume (an undo).
pub(crate) async fn remove_volume(client: Client, id: String) -> Result<(), Error> {
    let v = client.volumes();
    undo_call(&format!("DeleteVolume {id}"), || v.delete(&id)).await
}

/// Deletes a snapshot (an undo).
pub(crate) async fn remove_snapshot(client: Client, id: String) -> Result<(), Error> {
    let s = client.snapshots();
    undo_call(&format!("DeleteSnapshot {id}"), || s.delete(&id)).await
}

/// Deletes an image (an undo).
pub(crate) async fn remove_image(client: Client, id: String) -> Result<(), Error> {
    let i = client.images();
    undo_call(&format!("DeleteImage {id}"), || i.delete(&id)).await
}

/// Unlinks a volume and waits until it has no link left (an undo; also
/// fine when it was never linked or is gone).
pub(crate) async fn unlink_and_wait(
    client: Client,
    id: String,
    opts: WaitOptions,
) -> Result<(), Error> {
    let vols = client.volumes();
    let unlink = || async {
        match vols.unlink(&id, false).await {
            // Not linked (any more): nothing to do.
            Err(e) if e.code() == Some("9063") => Ok(()),
            other => other,
        }
    };
    undo_call(&format!("UnlinkVolume {id}"), unlink).await?;
    wait_for(
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
    .await?;
    Ok(())
}
