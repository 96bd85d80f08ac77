use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// An image (`Image`). Images have no state: creation is synchronous.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct Image {
    /// Unique ID.
    pub id: Uuid,
    /// Name, unique in its project (or silo).
    pub name: String,
    /// Free-form description.
    pub description: String,
    /// Operating system family (`debian`, ...).
    pub os: String,
    /// Operating system version.
    pub version: String,
    /// Size in bytes.
    pub size: u64,
    /// Block size in bytes.
    pub block_size: u32,
    /// Hash of the contents, when known.
    #[serde(default)]
    pub digest: Option<Digest>,
    /// The owning project; `None` for a silo image.
    #[serde(default)]
    pub project_id: Option<Uuid>,
    /// Creation time (RFC 3339).
    pub time_created: String,
    /// Last modification time (RFC 3339).
    pub time_modified: String,
}

impl Image {
    /// Whether this is a silo image (visible to every project of the silo).
    pub fn is_silo_image(&self) -> bool {
        self.project_id.is_none()
    }
}

/// An image digest (`Digest`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Digest {
    /// SHA-256, hex.
    Sha256 {
        /// The hex digest.
        value: String,
    },
    /// A digest kind this client does not know.
    #[serde(other)]
    Unknown,
}

/// Body of `image_create` (`ImageCreate`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ImageCreate {
    /// Name of the new image.
    pub name: String,
    /// Description.
    pub description: String,
    /// Operating system family.
    pub os: String,
    /// Operating system version.
    pub version: String,
    /// Where the contents come from.
    pub source: ImageSource,
}

impl ImageCreate {
    /// An image named `name` made from snapshot `snapshot_id`.
    pub fn from_snapshot(
        name: impl Into<String>,
        snapshot_id: Uuid,
        os: impl Into<String>,
        version: impl Into<String>,
    ) -> Self {
        Self {
            name: name.into(),
            description: String::new(),
            os: os.into(),
            version: version.into(),
            source: ImageSource::Snapshot { id: snapshot_id },
        }
    }

    /// With this description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }
}

/// The contents of a new image (`ImageSource`): only snapshots exist.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ImageSource {
    /// Copy this snapshot (which may be deleted afterwards).
    Snapshot {
        /// The snapshot's ID.
        id: Uuid,
    },
}
