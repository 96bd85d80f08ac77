use serde::Deserialize;

use super::Tag;

/// A virtual machine (`Vm`), reduced to what image builds use.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
#[non_exhaustive]
pub struct Vm {
    /// VM id (`i-...`).
    pub vm_id: String,
    /// State (`pending`, `running`, `stopping`, `stopped`, ...).
    pub state: String,
    /// Where it runs.
    pub placement: Placement,
    /// The OMI it was started from.
    pub image_id: Option<String>,
    /// VM type (`tinav5.c1r1p2`, ...).
    pub vm_type: Option<String>,
    /// Architecture.
    pub architecture: Option<String>,
    /// Root device name (`/dev/sda1`).
    pub root_device_name: Option<String>,
    /// Block devices.
    pub block_device_mappings: Vec<VmBlockDevice>,
    /// Creation date.
    pub creation_date: Option<String>,
    /// Tags.
    pub tags: Vec<Tag>,
}

/// Placement of a VM.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
#[non_exhaustive]
pub struct Placement {
    /// Subregion, e.g. `eu-west-2a`.
    pub subregion_name: String,
    /// Tenancy.
    pub tenancy: Option<String>,
}

/// A block device of a VM (`BlockDeviceMappingCreated`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
#[non_exhaustive]
pub struct VmBlockDevice {
    /// Device name.
    pub device_name: String,
    /// The BSU volume.
    pub bsu: Option<VmBsu>,
}

/// A VM's BSU volume (`BsuCreated`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
#[non_exhaustive]
pub struct VmBsu {
    /// Volume id.
    pub volume_id: String,
    /// Link state.
    pub state: Option<String>,
    /// Deleted with the VM.
    pub delete_on_vm_deletion: Option<bool>,
    /// Link date.
    pub link_date: Option<String>,
}
