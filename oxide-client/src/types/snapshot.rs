use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::NameOrId;

/// A disk snapshot (`Snapshot`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct Snapshot {
    /// Unique ID.
    pub id: Uuid,
    /// Name, unique in the project.
    pub name: String,
    /// Description.
    pub description: String,
    /// The owning project.
    pub project_id: Uuid,
    /// The disk it was taken of.
    pub disk_id: Uuid,
    /// Size in bytes.
    pub size: u64,
    /// State; `snapshot_create` answers with `ready`.
    pub state: SnapshotState,
    /// Creation time (RFC 3339).
    pub time_created: String,
    /// Last modification time (RFC 3339).
    pub time_modified: String,
}

/// Snapshot state (`SnapshotState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SnapshotState {
    /// Being created.
    Creating,
    /// Usable.
    Ready,
    /// Broken.
    Faulted,
    /// Deleted.
    Destroyed,
    /// A state this client does not know.
    #[serde(other)]
    Unknown,
}

/// Body of `snapshot_create` (`SnapshotCreate`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct SnapshotCreate {
    /// Name of the new snapshot.
    pub name: String,
    /// Description.
    pub description: String,
    /// The disk to snapshot (by ID, or by name in the same project).
    pub disk: NameOrId,
}

impl SnapshotCreate {
    /// A snapshot named `name` of `disk`.
    pub fn new(name: impl Into<String>, disk: impl Into<NameOrId>) -> Self {
        Self {
            name: name.into(),
            description: String::new(),
            disk: disk.into(),
        }
    }

    /// With this description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }
}
