use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{BlockSize, DiskBackend, DiskSource};

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

/// Body of `disk_create` (`DiskCreate`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct DiskCreate {
    /// Name of the new disk, unique in the project.
    pub name: String,
    /// Description.
    pub description: String,
    /// Size in bytes: a multiple of the block size and of 1 GiB, at least
    /// 1 GiB, at most 1023 GiB.
    pub size: u64,
    /// Where its blocks come from.
    pub disk_backend: DiskBackend,
}

impl DiskCreate {
    /// A distributed disk named `name` of `size` bytes, blank and ready for
    /// a bulk import (`importing_blocks`), with blocks of `block_size`.
    pub fn importing_blocks(name: impl Into<String>, size: u64, block_size: BlockSize) -> Self {
        Self {
            name: name.into(),
            description: String::new(),
            size,
            disk_backend: DiskBackend::Distributed {
                disk_source: DiskSource::ImportingBlocks { block_size },
            },
        }
    }

    /// With this description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }
}

/// Body of `disk_finalize_import` (`FinalizeDisk`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct FinalizeDisk {
    /// The snapshot to take while finalizing; `None`: no snapshot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot_name: Option<String>,
}

impl FinalizeDisk {
    /// Finalizes into a snapshot named `name`.
    pub fn with_snapshot(name: impl Into<String>) -> Self {
        Self {
            snapshot_name: Some(name.into()),
        }
    }
}

/// Body of `disk_bulk_write_import` (`ImportBlocksBulkWrite`): the bytes at
/// `offset`, sent base64-encoded (standard alphabet, padded).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ImportBlocksBulkWrite {
    /// Byte offset in the disk, a multiple of its block size.
    pub offset: u64,
    /// The data, base64-encoded.
    pub base64_encoded_data: String,
}

impl ImportBlocksBulkWrite {
    /// The write of `data` at `offset`.
    pub fn new(offset: u64, data: &[u8]) -> Self {
        use base64::Engine as _;
        Self {
            offset,
            base64_encoded_data: base64::engine::general_purpose::STANDARD.encode(data),
        }
    }
}

/// The largest bulk write the rack takes, decoded (the Crucible pantry's
/// `MAX_CHUNK_SIZE`, 512 KiB).
pub const BULK_WRITE_MAX_CHUNK: usize = 512 * 1024;
