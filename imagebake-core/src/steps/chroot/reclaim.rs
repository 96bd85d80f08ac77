//! Undoing the local resources a dead build's journal left pending (see
//! [`crate::journal::LocalSweeper`]), with the same helpers as the steps'
//! own undos.

use std::path::Path;

use tokio_util::sync::CancellationToken;

use super::HostCommands;
use crate::{Error, Resource, unknown_kind};

/// Removes one local resource: detaches a loop device (only while it is
/// still backed by the recorded file: the kernel may have given the device
/// to someone else), unmounts everything at or under a mount point
/// (lazily when busy) and removes the directory when empty, removes an
/// image file, removes a copied file and puts the original back.
pub(crate) async fn remove_local(
    resource: &Resource,
    cancel: &CancellationToken,
) -> Result<(), Error> {
    let host = HostCommands::plain();
    let id = resource.id.as_str();
    match resource.kind.as_str() {
        "loop device" => {
            let backing = super::attach_loop::backing_file(id);
            match (&backing, &resource.name) {
                (None, _) => Ok(()),
                (Some(now), Some(file)) if now != file => {
                    tracing::info!(device = id, %now, recorded = %file, "loop device now backs another file; left alone");
                    Ok(())
                }
                _ => super::attach_loop::detach(&host, id, cancel).await,
            }
        }
        "mount" => {
            let lazy = super::mounts::unmount_all(&host, Path::new(id), cancel).await?;
            if !lazy.is_empty() {
                tracing::warn!(?lazy, "lazy unmounts were needed");
            }
            let _ = tokio::fs::remove_dir(id).await;
            Ok(())
        }
        "image file" => super::blank_image::remove_file(id.into()).await,
        "copied file" => {
            let dst = Path::new(id);
            let had_original = std::fs::symlink_metadata(super::copy_files::backup_of(dst)).is_ok();
            super::copy_files::restore(dst, had_original)
        }
        _ => Err(unknown_kind(resource)),
    }
}
