//! The `local` cloud: loop devices, mounts and files on this host.

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use crate::{Error, Resource, SweepFilter, SweepReport, Sweeper};

/// Removes what a dead build left on this host (loop devices, mounts,
/// files in progress), by the path or device its journal recorded. It has
/// no tags to sweep by: [`Sweeper::remove`] removes what the journal names,
/// and [`Sweeper::find_named`] finds a loop device whose `losetup` answer
/// never came by its backing file.
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

    /// The loop devices bound to file `name` now (an attach the build
    /// never heard the answer of); nothing for other kinds.
    async fn find_named(
        &self,
        kind: &str,
        name: &str,
        _since: u64,
    ) -> Result<Vec<Resource>, Error> {
        Ok(match kind {
            "loop device" => crate::steps::chroot::loops_backed_by(name)
                .into_iter()
                .map(|dev| Resource::new(kind, dev).named(name))
                .collect(),
            _ => Vec::new(),
        })
    }
}
