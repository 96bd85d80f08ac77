use serde::{Deserialize, Serialize};

use super::{Permissions, Tag, VolumeType};

string_enum! {
    /// `Image.State`.
    pub enum ImageState {
        /// Being made.
        Pending = "pending",
        /// Usable.
        Available = "available",
        /// Failed (a fail state).
        Failed = "failed",
    }
}

string_enum! {
    /// Boot modes.
    pub enum BootMode {
        /// BIOS.
        Legacy = "legacy",
        /// UEFI.
        Uefi = "uefi",
    }
}

/// A machine image, OMI (`Image`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
#[non_exhaustive]
pub struct Image {
    /// Image id (`ami-...`).
    pub image_id: String,
    /// Name.
    pub image_name: String,
    /// State.
    pub state: Option<ImageState>,
    /// Why the state is what it is.
    pub state_comment: Option<StateComment>,
    /// Owner account id.
    pub account_id: String,
    /// Owner account alias (`Outscale` for public images).
    pub account_alias: Option<String>,
    /// Architecture (`x86_64`, `i386`).
    pub architecture: Option<String>,
    /// Block devices.
    pub block_device_mappings: Vec<BlockDeviceMapping>,
    /// Boot modes.
    pub boot_modes: Vec<BootMode>,
    /// Creation date (RFC 3339 string).
    pub creation_date: String,
    /// Description.
    pub description: Option<String>,
    /// File location.
    pub file_location: Option<String>,
    /// Image type (`machine`).
    pub image_type: Option<String>,
    /// Launch permissions.
    pub permissions_to_launch: Option<Permissions>,
    /// Product codes.
    pub product_codes: Vec<String>,
    /// Root device name (`/dev/sda1`).
    pub root_device_name: Option<String>,
    /// Root device type (`bsu`; some mocks say `ebs`).
    pub root_device_type: Option<String>,
    /// Secure boot.
    pub secure_boot: Option<bool>,
    /// TPM mandatory.
    pub tpm_mandatory: Option<bool>,
    /// Tags.
    pub tags: Vec<Tag>,
}

impl Image {
    /// The mapping of the root device, if any.
    pub fn root_mapping(&self) -> Option<&BlockDeviceMapping> {
        let root = self.root_device_name.as_deref()?;
        self.block_device_mappings
            .iter()
            .find(|m| m.device_name == root)
    }

    /// Snapshot ids of the image's BSU mappings.
    pub fn snapshot_ids(&self) -> Vec<&str> {
        self.block_device_mappings
            .iter()
            .filter_map(|m| m.bsu.as_ref()?.snapshot_id.as_deref())
            .collect()
    }
}

/// `StateComment`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
#[non_exhaustive]
pub struct StateComment {
    /// Code.
    pub state_code: Option<String>,
    /// Message.
    pub state_message: Option<String>,
}

/// One block device of an image (`BlockDeviceMappingImage`), also used to
/// register an image.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BlockDeviceMapping {
    /// Device name (`/dev/sda1`).
    #[serde(default)]
    pub device_name: String,
    /// The BSU volume to create.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bsu: Option<BsuToCreate>,
    /// Virtual (ephemeral) device name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub virtual_device_name: Option<String>,
}

impl BlockDeviceMapping {
    /// A BSU mapping from a snapshot.
    pub fn from_snapshot(device_name: impl Into<String>, snapshot_id: impl Into<String>) -> Self {
        Self {
            device_name: device_name.into(),
            bsu: Some(BsuToCreate {
                snapshot_id: Some(snapshot_id.into()),
                ..BsuToCreate::default()
            }),
            virtual_device_name: None,
        }
    }
}

/// A BSU volume of an image mapping (`BsuToCreate`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BsuToCreate {
    /// Source snapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_id: Option<String>,
    /// Size in GiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_size: Option<u64>,
    /// Volume type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_type: Option<VolumeType>,
    /// IOPS (io1 only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iops: Option<u32>,
    /// Deleted with the VM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_on_vm_deletion: Option<bool>,
}
