use serde::Deserialize;

use super::{Permissions, Tag};

string_enum! {
    /// `Snapshot.State`.
    pub enum SnapshotState {
        /// Queued (can last a while).
        InQueue = "in-queue",
        /// Being made.
        Pending = "pending",
        /// Done.
        Completed = "completed",
        /// Failed (a fail state).
        Error = "error",
        /// Being deleted.
        Deleting = "deleting",
    }
}

/// A snapshot (`Snapshot`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
#[non_exhaustive]
pub struct Snapshot {
    /// Snapshot id (`snap-...`).
    pub snapshot_id: String,
    /// State.
    pub state: Option<SnapshotState>,
    /// Progress in percent.
    pub progress: Option<u32>,
    /// Source volume.
    pub volume_id: Option<String>,
    /// Size of the source volume in GiB.
    pub volume_size: Option<u64>,
    /// Owner account id.
    pub account_id: Option<String>,
    /// Owner account alias.
    pub account_alias: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Creation date.
    pub creation_date: Option<String>,
    /// Who may create volumes from it.
    pub permissions_to_create_volume: Option<Permissions>,
    /// Idempotency token it was created with.
    pub client_token: Option<String>,
    /// Tags.
    pub tags: Vec<Tag>,
}
