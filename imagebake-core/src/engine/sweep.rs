use std::time::Duration;

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use super::{CleanupReport, Resource};
use crate::{BuildId, Error};

/// Which leftovers a sweep removes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SweepFilter {
    /// Resources whose build tag (or name) starts with this: `ib-` for every
    /// build, or a full build id for one build.
    pub prefix: String,
    /// Only resources created longer ago than this (so running builds are
    /// left alone).
    pub older_than: Duration,
    /// Only list what would be removed: each match is reported as
    /// [`CleanupOutcome::Kept`](crate::CleanupOutcome::Kept) and nothing is
    /// deleted.
    pub dry_run: bool,
}

impl SweepFilter {
    /// Every build's resources older than `older_than`.
    pub fn all_builds(older_than: Duration) -> Self {
        Self {
            prefix: BuildId::PREFIX.to_owned(),
            older_than,
            dry_run: false,
        }
    }

    /// One build's resources, whatever their age.
    pub fn build(id: &BuildId) -> Self {
        Self {
            prefix: id.as_str().to_owned(),
            older_than: Duration::ZERO,
            dry_run: false,
        }
    }

    /// The same filter, listing instead of removing (`imagebake sweep
    /// --dry-run`).
    pub fn dry_run(mut self) -> Self {
        self.dry_run = true;
        self
    }
}

/// What a sweep did.
#[derive(Debug, Default)]
pub struct SweepReport {
    /// One entry per leftover found: removed, or not with the error.
    pub cleanup: CleanupReport,
    /// Listings that failed (so some leftovers may not have been seen).
    pub list_errors: Vec<Error>,
}

/// What a removal found: the resource there (and now removed), or gone
/// already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    /// It was there and is now removed.
    Removed,
    /// It was not there (any more).
    AlreadyGone,
}

/// Finds and removes what crashed builds left behind on one cloud, by the
/// build tag every resource carries. Each cloud implements it.
#[async_trait]
pub trait Sweeper: Send + Sync {
    /// Removes the leftovers `filter` matches; one failure never stops the rest.
    async fn sweep(&self, filter: &SweepFilter, cancel: &CancellationToken) -> SweepReport;

    /// Removes one resource of this cloud by its kind and id (a build
    /// journal's pending undo, see [`crate::journal::cleanup`]); already
    /// gone counts as removed. The default knows no kind.
    async fn remove(&self, resource: &Resource, cancel: &CancellationToken) -> Result<(), Error> {
        let _ = cancel;
        Err(unknown_kind(resource))
    }

    /// [`Sweeper::remove`], saying whether the resource was there. The
    /// default cannot tell and says [`Removal::Removed`].
    async fn remove_found(
        &self,
        resource: &Resource,
        cancel: &CancellationToken,
    ) -> Result<Removal, Error> {
        self.remove(resource, cancel)
            .await
            .map(|()| Removal::Removed)
    }

    /// The `kind` resources named `name` made since `since` (Unix
    /// seconds): what a create whose answer never came made, on a cloud
    /// where that resource carries neither the build's tag nor its id in
    /// its name (an Oxide image). The default finds nothing (the sweep by
    /// tag or name finds the rest).
    async fn find_named(&self, kind: &str, name: &str, since: u64) -> Result<Vec<Resource>, Error> {
        let _ = (kind, name, since);
        Ok(Vec::new())
    }
}

/// The error of a [`Sweeper::remove`] given a kind it does not remove.
pub fn unknown_kind(resource: &Resource) -> Error {
    Error::Config(format!(
        "this cloud's cleanup does not know how to remove a {} ({resource})",
        resource.kind
    ))
}
