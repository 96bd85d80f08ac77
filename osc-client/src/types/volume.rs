use serde::Deserialize;

use super::Tag;

string_enum! {
    /// `Volume.State`.
    pub enum VolumeState {
        /// Being created.
        Creating = "creating",
        /// Ready, not linked.
        Available = "available",
        /// Linked to a VM.
        InUse = "in-use",
        /// Being deleted.
        Deleting = "deleting",
        /// Failed (a fail state).
        Error = "error",
    }
}

string_enum! {
    /// `LinkedVolume.State`.
    pub enum LinkState {
        /// Being linked.
        Attaching = "attaching",
        /// Linked.
        Attached = "attached",
        /// Being unlinked.
        Detaching = "detaching",
        /// Unlinked.
        Detached = "detached",
    }
}

string_enum! {
    /// Volume types.
    pub enum VolumeType {
        /// Magnetic (the default).
        Standard = "standard",
        /// General purpose SSD.
        Gp2 = "gp2",
        /// Provisioned IOPS SSD (the only type that takes `Iops`).
        Io1 = "io1",
    }
}

/// A BSU volume (`Volume`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
#[non_exhaustive]
pub struct Volume {
    /// Volume id (`vol-...`).
    pub volume_id: String,
    /// State.
    pub state: Option<VolumeState>,
    /// Size in GiB.
    pub size: u64,
    /// Type.
    pub volume_type: Option<VolumeType>,
    /// IOPS (io1).
    pub iops: Option<u32>,
    /// Source snapshot.
    pub snapshot_id: Option<String>,
    /// Subregion.
    pub subregion_name: String,
    /// Links to VMs.
    pub linked_volumes: Vec<LinkedVolume>,
    /// Creation date.
    pub creation_date: Option<String>,
    /// Idempotency token it was created with.
    pub client_token: Option<String>,
    /// Tags.
    pub tags: Vec<Tag>,
}

impl Volume {
    /// Whether the volume is `in-use` and every link is `attached`.
    pub fn is_linked(&self) -> bool {
        self.state == Some(VolumeState::InUse)
            && !self.linked_volumes.is_empty()
            && self
                .linked_volumes
                .iter()
                .all(|l| l.state == Some(LinkState::Attached))
    }
}

/// A link between a volume and a VM (`LinkedVolume`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
#[non_exhaustive]
pub struct LinkedVolume {
    /// Volume id.
    pub volume_id: String,
    /// VM id.
    pub vm_id: String,
    /// Device name on the VM (`/dev/xvdf`).
    pub device_name: String,
    /// Link state.
    pub state: Option<LinkState>,
    /// Deleted with the VM.
    pub delete_on_vm_deletion: Option<bool>,
}
