//! What every cloud's sweep and create steps share: the clock of the
//! `imagebake-created` marks and the cleanup entry of one swept resource.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::{CleanupEntry, CleanupOutcome, Error, Resource, SweepFilter, UndoWhen};

/// Unix seconds now (when a resource was made, for a sweep's age check).
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The cleanup entry of a leftover a sweep tried to remove: removed, or not
/// with the error.
fn swept(resource: Resource, result: Result<(), Error>) -> CleanupEntry {
    CleanupEntry {
        resource,
        when: UndoWhen::Always,
        outcome: match result {
            Ok(()) => CleanupOutcome::Removed,
            Err(e) => CleanupOutcome::Failed(e),
        },
    }
}

/// Removes one leftover with `remove` and reports it ([`swept`]); under a
/// dry-run filter, `remove` is never polled and the leftover is reported
/// [`CleanupOutcome::Kept`].
pub async fn sweep_one(
    filter: &SweepFilter,
    resource: Resource,
    remove: impl Future<Output = Result<(), Error>>,
) -> CleanupEntry {
    if filter.dry_run {
        return CleanupEntry {
            resource,
            when: UndoWhen::Always,
            outcome: CleanupOutcome::Kept,
        };
    }
    swept(resource, remove.await)
}
