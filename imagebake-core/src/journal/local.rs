//! The `local` cloud: loop devices, mounts and files on this host.

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use crate::{Error, Resource, SweepFilter, SweepReport, Sweeper};

/// Removes what a dead build left on this host (loop devices, mounts,
/// files in progress), by the path or device its journal recorded. It has
/// no tags to sweep by: only [`Sweeper::remove`] does something.
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalSweeper;

#[async_trait]
impl Sweeper for LocalSweeper {
    /// Finds nothing: local resources carry no build tag.
    async fn sweep(&self, _filter: &SweepFilter, _cancel: &CancellationToken) -> SweepReport {
        SweepReport::default()
    }

    /// Detaches a loop device still backed by the recorded file, unmounts
    /// a mount point (lazily when busy), removes a file in progress.
    async fn remove(&self, resource: &Resource, cancel: &CancellationToken) -> Result<(), Error> {
        crate::steps::chroot::remove_local(resource, cancel).await
    }
}
