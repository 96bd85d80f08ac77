//! What every cloud's sweep and create steps share: the clock of the
//! `imagebake-created` marks and the cleanup entry of one swept resource.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::{CleanupEntry, CleanupOutcome, Error, Resource, UndoWhen};

/// Unix seconds now (when a resource was made, for a sweep's age check).
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The cleanup entry of a leftover a sweep tried to remove: removed, or not
/// with the error.
pub fn swept(resource: Resource, result: Result<(), Error>) -> CleanupEntry {
    CleanupEntry {
        resource,
        when: UndoWhen::Always,
        outcome: match result {
            Ok(()) => CleanupOutcome::Removed,
            Err(e) => CleanupOutcome::Failed(e),
        },
    }
}
