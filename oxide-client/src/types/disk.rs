use serde::Deserialize;
use uuid::Uuid;

/// A disk (`Disk`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct Disk {
    /// Unique ID.
    pub id: Uuid,
    /// Name, unique in the project.
    pub name: String,
    /// Description.
    pub description: String,
    /// The owning project.
    pub project_id: Uuid,
    /// Size in bytes.
    pub size: u64,
    /// Block size in bytes.
    pub block_size: u32,
    /// Device path inside the guest.
    pub device_path: String,
    /// `distributed` or `local` (kept as the wire string).
    pub disk_type: String,
    /// Whether the disk is read-only.
    pub read_only: bool,
    /// The image it was created from, if any.
    #[serde(default)]
    pub image_id: Option<Uuid>,
    /// The snapshot it was created from, if any.
    #[serde(default)]
    pub snapshot_id: Option<Uuid>,
    /// State.
    pub state: DiskState,
    /// Creation time (RFC 3339).
    pub time_created: String,
    /// Last modification time (RFC 3339).
    pub time_modified: String,
}

/// Disk state (`DiskState`), tagged by `state`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
#[non_exhaustive]
pub enum DiskState {
    /// Being created.
    Creating,
    /// Not attached to any instance; deletable.
    Detached,
    /// Ready for a bulk import.
    ImportReady,
    /// Importing from a URL.
    ImportingFromUrl,
    /// Importing bulk writes.
    ImportingFromBulkWrites,
    /// Finalizing an import.
    Finalizing,
    /// Under maintenance.
    Maintenance,
    /// Being attached.
    Attaching {
        /// The instance.
        instance: Uuid,
    },
    /// Attached to an instance.
    Attached {
        /// The instance.
        instance: Uuid,
    },
    /// Being detached.
    Detaching {
        /// The instance.
        instance: Uuid,
    },
    /// Deleted.
    Destroyed,
    /// Broken; deletable.
    Faulted,
    /// A state this client does not know.
    #[serde(other)]
    Unknown,
}

impl DiskState {
    /// The wire name of the state.
    pub fn name(&self) -> &'static str {
        match self {
            DiskState::Creating => "creating",
            DiskState::Detached => "detached",
            DiskState::ImportReady => "import_ready",
            DiskState::ImportingFromUrl => "importing_from_url",
            DiskState::ImportingFromBulkWrites => "importing_from_bulk_writes",
            DiskState::Finalizing => "finalizing",
            DiskState::Maintenance => "maintenance",
            DiskState::Attaching { .. } => "attaching",
            DiskState::Attached { .. } => "attached",
            DiskState::Detaching { .. } => "detaching",
            DiskState::Destroyed => "destroyed",
            DiskState::Faulted => "faulted",
            DiskState::Unknown => "unknown",
        }
    }
}
