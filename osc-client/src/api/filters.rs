//! Filter objects of the Read calls (generated from the OAPI schemas `FiltersVm`,
//! `FiltersImage`, `FiltersVolume` and `FiltersSnapshot`; every field the API documents).
//! They also deserialize (PascalCase), so a build configuration can carry one.

use serde::{Deserialize, Serialize};

use crate::types::BootMode;

/// `FiltersVm`: One or more filters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct FiltersVm {
    /// The architectures of the VMs (`i386` | `x86_64`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub architectures: Vec<String>,
    /// Whether the BSU volumes are deleted when terminating the VMs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub block_device_mapping_delete_on_vm_deletion: Option<bool>,
    /// The device names for the BSU volumes (in the format `/dev/sdX`, `/dev/sdXX`, `/dev/xvdX`, or `/dev/xvdXX`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub block_device_mapping_device_names: Vec<String>,
    /// The link dates for the BSU volumes mapped to the VMs (for example, `2016-01-23T18:45:30.000Z`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub block_device_mapping_link_dates: Vec<String>,
    /// The states for the BSU volumes (`attaching` | `attached` | `detaching` | `detached`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub block_device_mapping_states: Vec<String>,
    /// The volume IDs of the BSU volumes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub block_device_mapping_volume_ids: Vec<String>,
    /// The boot modes of the VMs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub boot_modes: Vec<BootMode>,
    /// The idempotency tokens provided when launching the VMs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub client_tokens: Vec<String>,
    /// The dates when the VMs were launched.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub creation_dates: Vec<String>,
    /// The IDs of the OMIs used to launch the VMs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub image_ids: Vec<String>,
    /// Whether the source/destination checking is enabled (true) or disabled (false).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_source_dest_checked: Option<bool>,
    /// The names of the keypairs used when launching the VMs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub keypair_names: Vec<String>,
    /// The numbers for the VMs when launching a group of several VMs (for example, `0`, `1`, `2`, and so on).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub launch_numbers: Vec<i64>,
    /// Whether the VMs are Spot Instances (spot).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub lifecycles: Vec<String>,
    /// The IDs of the Nets in which the VMs are running.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub net_ids: Vec<String>,
    /// The IDs of the NICs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nic_account_ids: Vec<String>,
    /// The descriptions of the NICs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nic_descriptions: Vec<String>,
    /// Whether the source/destination checking is enabled (true) or disabled (false).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nic_is_source_dest_checked: Option<bool>,
    /// Whether the NICs are deleted when the VMs they are attached to are deleted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nic_link_nic_delete_on_vm_deletion: Option<bool>,
    /// The device numbers the NICs are attached to.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nic_link_nic_device_numbers: Vec<i64>,
    /// The dates and times (UTC) when the NICs were attached to the VMs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nic_link_nic_link_nic_dates: Vec<String>,
    /// The IDs of the NIC attachments.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nic_link_nic_link_nic_ids: Vec<String>,
    /// The states of the attachments.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nic_link_nic_states: Vec<String>,
    /// The OUTSCALE account IDs of the owners of the VMs the NICs are attached to.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nic_link_nic_vm_account_ids: Vec<String>,
    /// The IDs of the VMs the NICs are attached to.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nic_link_nic_vm_ids: Vec<String>,
    /// The OUTSCALE account IDs of the owners of the public IPs associated with the NICs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nic_link_public_ip_account_ids: Vec<String>,
    /// The association IDs returned when the public IPs were associated with the NICs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nic_link_public_ip_link_public_ip_ids: Vec<String>,
    /// The allocation IDs returned when the public IPs were allocated to their accounts.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nic_link_public_ip_public_ip_ids: Vec<String>,
    /// The public IPs associated with the NICs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nic_link_public_ip_public_ips: Vec<String>,
    /// The Media Access Control (MAC) addresses of the NICs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nic_mac_addresses: Vec<String>,
    /// The IDs of the Nets where the NICs are located.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nic_net_ids: Vec<String>,
    /// The IDs of the NICs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nic_nic_ids: Vec<String>,
    /// The OUTSCALE account IDs of the owner of the public IPs associated with the private IPs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nic_private_ips_link_public_ip_account_ids: Vec<String>,
    /// The public IPs associated with the private IPs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nic_private_ips_link_public_ip_ids: Vec<String>,
    /// Whether the private IPs are the primary IPs associated with the NICs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nic_private_ips_primary_ip: Option<bool>,
    /// The private IPs of the NICs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nic_private_ips_private_ips: Vec<String>,
    /// The IDs of the security groups associated with the NICs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nic_security_group_ids: Vec<String>,
    /// The names of the security groups associated with the NICs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nic_security_group_names: Vec<String>,
    /// The states of the NICs (`available` | `in-use`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nic_states: Vec<String>,
    /// The IDs of the Subnets for the NICs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nic_subnet_ids: Vec<String>,
    /// The Subregions where the NICs are located.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nic_subregion_names: Vec<String>,
    /// The platforms.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub platforms: Vec<String>,
    /// The private IPs of the VMs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub private_ips: Vec<String>,
    /// The product codes associated with the OMI used to create the VMs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub product_codes: Vec<String>,
    /// The public IPs of the VMs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub public_ips: Vec<String>,
    /// The IDs of the reservation of the VMs, created every time you launch VMs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reservation_ids: Vec<String>,
    /// The names of the root devices for the VMs (for example, `/dev/sda1`)
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub root_device_names: Vec<String>,
    /// The root devices types used by the VMs (always `ebs`)
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub root_device_types: Vec<String>,
    /// The IDs of the security groups for the VMs (only in the public Cloud).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub security_group_ids: Vec<String>,
    /// The names of the security groups for the VMs (only in the public Cloud).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub security_group_names: Vec<String>,
    /// The reason codes for the state changes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub state_reason_codes: Vec<i64>,
    /// The messages describing the state changes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub state_reason_messages: Vec<String>,
    /// The reasons explaining the current states of the VMs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub state_reasons: Vec<String>,
    /// The IDs of the Subnets for the VMs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subnet_ids: Vec<String>,
    /// The names of the Subregions of the VMs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subregion_names: Vec<String>,
    /// The keys of the tags associated with the VMs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tag_keys: Vec<String>,
    /// The values of the tags associated with the VMs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tag_values: Vec<String>,
    /// The key/value combination of the tags associated with the VMs (`KEY=VALUE` strings).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// The tenancies of the VMs (`dedicated` | `default` | `host`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tenancies: Vec<String>,
    /// Whether a virtual Trusted Platform Module (vTPM) is enabled (true) or disabled (false) on the VM.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tpm_enabled: Option<bool>,
    /// One or more IDs of VMs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub vm_ids: Vec<String>,
    /// The IDs of the security groups for the VMs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub vm_security_group_ids: Vec<String>,
    /// The names of the security group for the VMs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub vm_security_group_names: Vec<String>,
    /// The state codes of the VMs: `-1` (quarantine), `0` (pending), `16` (running), `32` (shutting-down), `48` (terminated), `64` (stopping), and `80` (stopped).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub vm_state_codes: Vec<i64>,
    /// The state names of the VMs (`pending` | `running` | `stopping` | `stopped` | `shutting-down` | `terminated` | `quarantine`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub vm_state_names: Vec<String>,
    /// The VM types (for example, t2.micro).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub vm_types: Vec<String>,
}

/// `FiltersImage`: One or more filters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct FiltersImage {
    /// The account aliases of the owners of the OMIs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub account_aliases: Vec<String>,
    /// The OUTSCALE account IDs of the owners of the OMIs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub account_ids: Vec<String>,
    /// The architectures of the OMIs (`i386` | `x86_64`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub architectures: Vec<String>,
    /// Whether the volumes are deleted or not when terminating the VM.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub block_device_mapping_delete_on_vm_deletion: Option<bool>,
    /// The device names for the volumes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub block_device_mapping_device_names: Vec<String>,
    /// The IDs of the snapshots used to create the volumes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub block_device_mapping_snapshot_ids: Vec<String>,
    /// The sizes of the volumes, in gibibytes (GiB).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub block_device_mapping_volume_sizes: Vec<i64>,
    /// The types of volumes (`standard` | `gp2` | `io1`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub block_device_mapping_volume_types: Vec<String>,
    /// The boot modes compatible with the OMIs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub boot_modes: Vec<BootMode>,
    /// The descriptions of the OMIs, provided when they were created.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub descriptions: Vec<String>,
    /// The locations of the buckets where the OMI files are stored.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub file_locations: Vec<String>,
    /// The hypervisor type of the OMI (always `xen`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hypervisors: Vec<String>,
    /// The IDs of the OMIs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub image_ids: Vec<String>,
    /// The names of the OMIs, provided when they were created.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub image_names: Vec<String>,
    /// The OUTSCALE account IDs which have launch permissions for the OMIs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub permissions_to_launch_account_ids: Vec<String>,
    /// If true, lists all public OMIs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permissions_to_launch_global_permission: Option<bool>,
    /// The names of the product codes associated with the OMI.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub product_code_names: Vec<String>,
    /// The product codes associated with the OMI.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub product_codes: Vec<String>,
    /// The name of the root device.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub root_device_names: Vec<String>,
    /// The types of root device used by the OMIs (`bsu` or `ebs`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub root_device_types: Vec<String>,
    /// Whether secure boot is activated or not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secure_boot: Option<bool>,
    /// The states of the OMIs (`pending` | `available` | `failed`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub states: Vec<String>,
    /// The keys of the tags associated with the OMIs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tag_keys: Vec<String>,
    /// The values of the tags associated with the OMIs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tag_values: Vec<String>,
    /// The key/value combination of the tags associated with the OMIs (`KEY=VALUE` strings).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Whether a virtual Trusted Platform Module (vTPM) is mandatory for VMs created from this OMI (true) or not (false).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tpm_mandatory: Option<bool>,
    /// The virtualization types (always `hvm`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub virtualization_types: Vec<String>,
}

/// `FiltersVolume`: One or more filters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct FiltersVolume {
    /// The idempotency tokens provided when creating the volumes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub client_tokens: Vec<String>,
    /// The dates and times at which the volumes were created, in ISO 8601 date-time format (for example, `2020-06-30T00:00:00.000Z`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub creation_dates: Vec<String>,
    /// Whether the volumes are deleted or not when terminating the VMs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link_volume_delete_on_vm_deletion: Option<bool>,
    /// The VM device names.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub link_volume_device_names: Vec<String>,
    /// The dates and times at which the volumes were attached, in ISO 8601 date-time format (for example, `2020-06-30T00:00:00.000Z`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub link_volume_link_dates: Vec<String>,
    /// The attachment states of the volumes (`attaching` | `detaching` | `attached` | `detached`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub link_volume_link_states: Vec<String>,
    /// One or more IDs of VMs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub link_volume_vm_ids: Vec<String>,
    /// The snapshots from which the volumes were created.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub snapshot_ids: Vec<String>,
    /// The names of the Subregions in which the volumes were created.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subregion_names: Vec<String>,
    /// The keys of the tags associated with the volumes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tag_keys: Vec<String>,
    /// The values of the tags associated with the volumes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tag_values: Vec<String>,
    /// The key/value combination of the tags associated with the volumes (`KEY=VALUE` strings).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// The IDs of the volumes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volume_ids: Vec<String>,
    /// The sizes of the volumes, in gibibytes (GiB).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volume_sizes: Vec<i64>,
    /// The states of the volumes (`creating` | `available` | `in-use` | `deleting` | `error`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volume_states: Vec<String>,
    /// The types of the volumes (`standard` | `gp2` | `io1`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volume_types: Vec<String>,
}

/// `FiltersSnapshot`: One or more filters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct FiltersSnapshot {
    /// The account aliases of the owners of the snapshots.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub account_aliases: Vec<String>,
    /// The OUTSCALE account IDs of the owners of the snapshots.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub account_ids: Vec<String>,
    /// The idempotency tokens provided when creating the snapshots.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub client_tokens: Vec<String>,
    /// The descriptions of the snapshots.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub descriptions: Vec<String>,
    /// The beginning of the time period, in ISO 8601 date-time format (for example, `2020-06-14T00:00:00.000Z`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_creation_date: Option<String>,
    /// The OUTSCALE account IDs which have permissions to create volumes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub permissions_to_create_volume_account_ids: Vec<String>,
    /// If true, lists all public volumes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permissions_to_create_volume_global_permission: Option<bool>,
    /// The progresses of the snapshots, as a percentage.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub progresses: Vec<i64>,
    /// The IDs of the snapshots.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub snapshot_ids: Vec<String>,
    /// The states of the snapshots (`in-queue` | `pending` | `completed` | `error` | `deleting`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub states: Vec<String>,
    /// The keys of the tags associated with the snapshots.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tag_keys: Vec<String>,
    /// The values of the tags associated with the snapshots.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tag_values: Vec<String>,
    /// The key/value combination of the tags associated with the snapshots (`KEY=VALUE` strings).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// The end of the time period, in ISO 8601 date-time format (for example, `2020-06-30T00:00:00.000Z`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_creation_date: Option<String>,
    /// The IDs of the volumes used to create the snapshots.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volume_ids: Vec<String>,
    /// The sizes of the volumes used to create the snapshots, in gibibytes (GiB).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volume_sizes: Vec<i64>,
}
impl FiltersImage {
    /// Splits owners as the packer plugin does: all-digit values are account
    /// ids, anything else (e.g. `Outscale`) an account alias.
    pub fn owners<I, S>(mut self, owners: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        for o in owners {
            let o = o.into();
            if !o.is_empty() && o.bytes().all(|b| b.is_ascii_digit()) {
                self.account_ids.push(o);
            } else {
                self.account_aliases.push(o);
            }
        }
        self
    }

    /// Images with these ids.
    pub fn ids<I, S>(ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            image_ids: ids.into_iter().map(Into::into).collect(),
            ..Self::default()
        }
    }

    /// Images with these names (`*` wildcards allowed).
    pub fn names<I, S>(names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            image_names: names.into_iter().map(Into::into).collect(),
            ..Self::default()
        }
    }
}

impl FiltersVolume {
    /// Volumes with these ids.
    pub fn ids<I, S>(ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            volume_ids: ids.into_iter().map(Into::into).collect(),
            ..Self::default()
        }
    }
}

impl FiltersSnapshot {
    /// Snapshots with these ids.
    pub fn ids<I, S>(ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            snapshot_ids: ids.into_iter().map(Into::into).collect(),
            ..Self::default()
        }
    }
}

impl FiltersVm {
    /// VMs with these ids.
    pub fn ids<I, S>(ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            vm_ids: ids.into_iter().map(Into::into).collect(),
            ..Self::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_split_into_ids_and_aliases() {
        let f = FiltersImage::names(["Debian-12-*"]).owners(["Outscale", "123456789012", "self1"]);
        assert_eq!(f.account_ids, vec!["123456789012"]);
        assert_eq!(f.account_aliases, vec!["Outscale", "self1"]);
        let json = serde_json::to_value(&f).expect("json");
        assert_eq!(
            json,
            serde_json::json!({
                "AccountAliases": ["Outscale", "self1"],
                "AccountIds": ["123456789012"],
                "ImageNames": ["Debian-12-*"],
            })
        );
    }
}
