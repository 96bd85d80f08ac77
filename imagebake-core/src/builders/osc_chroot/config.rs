//! The `osc-chroot` builder's configuration: the keys of Packer's
//! `outscale-chroot` builder, decoded and checked before any request.

use std::collections::BTreeMap;
use std::path::PathBuf;

use imagebake_http::Secret;
use serde::Deserialize;
use serde_json::Value;

use crate::Error;
use crate::builders::packer::{self, config_error, secret_opt, string_map};

/// The builder's type name in a template.
pub const BUILDER: &str = "osc-chroot";

/// The type name of the same builder in Packer's plugin, accepted as an
/// alias of [`BUILDER`] so Packer templates run as they are.
pub const PACKER_BUILDER: &str = "outscale-chroot";

/// Every key the builder accepts: Packer's outscale-chroot keys and
/// imagebake's own (`device_dir`, `metadata_url`, `device_lock_path`, the
/// timeouts).
pub const KEYS: &[&str] = &[
    "access_key",
    "secret_key",
    "region",
    "custom_endpoint_oapi",
    "insecure_skip_tls_verify",
    "source_omi",
    "source_omi_filter",
    "omi_name",
    "omi_description",
    "omi_account_ids",
    "snapshot_account_ids",
    "global_permission",
    "omi_boot_modes",
    "omi_virtualization_type",
    "skip_region_validation",
    "snapshot_users",
    "snapshot_groups",
    "packer_force",
    "chroot_mounts",
    "command_wrapper",
    "copy_files",
    "device_path",
    "nvme_device_path",
    "mount_path",
    "mount_partition",
    "mount_options",
    "pre_mount_commands",
    "post_mount_commands",
    "root_volume_size",
    "root_volume_type",
    "root_volume_tags",
    "from_scratch",
    "omi_block_device_mappings",
    "root_device_name",
    "force_deregister",
    "force_delete_snapshot",
    "tags",
    "snapshot_tags",
    "metadata_url",
    "device_dir",
    "device_lock_path",
    "volume_timeout",
    "snapshot_timeout",
    "image_timeout",
    "device_timeout",
    "poll_cap",
];

/// The keys without which there is no build.
pub const REQUIRED: &[&str] = &["omi_name"];

/// The `osc-chroot` builder's configuration: Packer's `outscale-chroot` keys
/// (see [`KEYS`]), with these differences:
///
/// - `snapshot_account_ids` is sent (the plugin never sent it);
/// - `force_deregister` only deletes OMIs of our own account;
/// - an unknown `source_omi_filter` key is an error (the plugin ignored it);
/// - the default `mount_path` is `/mnt/imagebake-chroot/{{.Device}}`;
/// - imagebake's own keys: `metadata_url` (default
///   `$IMAGEBAKE_OSC_METADATA_URL`, else `http://169.254.169.254`),
///   `device_dir` (where device nodes appear, default
///   `$IMAGEBAKE_OSC_DEVICE_DIR`, else `/dev`; a simulator's in tests),
///   `device_lock_path` (default `/run/imagebake/device.lock`), and the
///   timeouts `volume_timeout` (10m), `snapshot_timeout` (60m),
///   `image_timeout` (60m), `device_timeout` (2m) and `poll_cap` (2s).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OscChrootConfig {
    /// Access key (with `secret_key`; else `OSC_ACCESS_KEY` or the profile).
    #[serde(default)]
    pub access_key: Option<String>,
    /// Secret key.
    #[serde(default, deserialize_with = "secret_opt")]
    pub secret_key: Option<Secret>,
    /// Region (else `OSC_REGION`, the profile, `eu-west-2`).
    #[serde(default)]
    pub region: Option<String>,
    /// API endpoint (`https://api.eu-west-2.outscale.com`).
    #[serde(default)]
    pub custom_endpoint_oapi: Option<String>,
    /// Accept any TLS certificate.
    #[serde(default)]
    pub insecure_skip_tls_verify: bool,
    /// Source OMI id.
    #[serde(default)]
    pub source_omi: Option<String>,
    /// Source OMI lookup.
    #[serde(default)]
    pub source_omi_filter: Option<OmiFilter>,
    /// Name of the new OMI (`{{timestamp}}`, `{{uuid}}` expanded).
    #[serde(default)]
    pub omi_name: String,
    /// Its description.
    #[serde(default)]
    pub omi_description: Option<String>,
    /// Accounts allowed to launch it.
    #[serde(default)]
    pub omi_account_ids: Vec<String>,
    /// Accounts allowed to create volumes from its snapshot.
    #[serde(default)]
    pub snapshot_account_ids: Vec<String>,
    /// Make the OMI (not the snapshot) public.
    #[serde(default)]
    pub global_permission: bool,
    /// Boot modes: `legacy`, `uefi`.
    #[serde(default)]
    pub omi_boot_modes: Vec<String>,
    /// `hvm` (the only type the OAPI makes; `paravirtual` is refused).
    #[serde(default)]
    pub omi_virtualization_type: Option<String>,
    /// Accepted; no effect (no region check or copy exists, as in the plugin).
    #[serde(default)]
    pub skip_region_validation: bool,
    /// Accounts allowed to create volumes from the snapshot (with
    /// `snapshot_account_ids`).
    #[serde(default)]
    pub snapshot_users: Vec<String>,
    /// Groups allowed to create volumes from the snapshot: only `all`
    /// (public).
    #[serde(default)]
    pub snapshot_groups: Vec<String>,
    /// `-force`: as `force_deregister`.
    #[serde(default)]
    pub packer_force: bool,
    /// `[fstype, source, target]` mounts in the chroot (five defaults).
    #[serde(default)]
    pub chroot_mounts: Option<Vec<Vec<String>>>,
    /// Host command wrapper (`{{.Command}}`).
    #[serde(default)]
    pub command_wrapper: Option<String>,
    /// Host files copied in (default `/etc/resolv.conf`; none from scratch).
    #[serde(default)]
    pub copy_files: Option<Vec<PathBuf>>,
    /// API device name to link the volume as (default: the first free of
    /// `/dev/xvdf`…`/dev/xvdp`).
    #[serde(default)]
    pub device_path: Option<String>,
    /// Node to mount instead of the device (NVMe hosts).
    #[serde(default)]
    pub nvme_device_path: Option<PathBuf>,
    /// Mount path template (`{{.Device}}`).
    #[serde(default)]
    pub mount_path: Option<String>,
    /// Partition to mount (default `1`; `0`: the whole device).
    #[serde(default)]
    pub mount_partition: Option<String>,
    /// Mount options (`-o` each).
    #[serde(default)]
    pub mount_options: Vec<String>,
    /// Host commands before the mount (`{{.Device}}`).
    #[serde(default)]
    pub pre_mount_commands: Vec<String>,
    /// Host commands after the mount (`{{.Device}}`, `{{.MountPath}}`).
    #[serde(default)]
    pub post_mount_commands: Vec<String>,
    /// Root volume size in GiB (0: the source's).
    #[serde(default)]
    pub root_volume_size: u64,
    /// Root volume type (`standard`, `gp2`, `io1`).
    #[serde(default)]
    pub root_volume_type: Option<String>,
    /// Tags of the working volume.
    #[serde(default, deserialize_with = "string_map")]
    pub root_volume_tags: BTreeMap<String, String>,
    /// Start from a blank volume.
    #[serde(default)]
    pub from_scratch: bool,
    /// From scratch: the OMI's block devices.
    #[serde(default)]
    pub omi_block_device_mappings: Vec<BlockDeviceMappingConfig>,
    /// From scratch: the root device name (`/dev/sda1`).
    #[serde(default)]
    pub root_device_name: Option<String>,
    /// Delete our own OMI of the same name first.
    #[serde(default)]
    pub force_deregister: bool,
    /// With `force_deregister`, also delete its snapshots.
    #[serde(default)]
    pub force_delete_snapshot: bool,
    /// Tags of the OMI and its snapshots.
    #[serde(default, deserialize_with = "string_map")]
    pub tags: BTreeMap<String, String>,
    /// Tags of the snapshots.
    #[serde(default, deserialize_with = "string_map")]
    pub snapshot_tags: BTreeMap<String, String>,
    /// Metadata service base URL (default `http://169.254.169.254`).
    #[serde(default)]
    pub metadata_url: Option<String>,
    /// Where device nodes appear (default `/dev`).
    #[serde(default)]
    pub device_dir: Option<PathBuf>,
    /// The host-wide device lock file.
    #[serde(default)]
    pub device_lock_path: Option<PathBuf>,
    /// Volume create/link/unlink limit (default `10m`).
    #[serde(default)]
    pub volume_timeout: Option<String>,
    /// Snapshot limit (default `60m`).
    #[serde(default)]
    pub snapshot_timeout: Option<String>,
    /// Image limit (default `60m`).
    #[serde(default)]
    pub image_timeout: Option<String>,
    /// Device node limit (default `2m`).
    #[serde(default)]
    pub device_timeout: Option<String>,
    /// Longest pause between polls (default `2s`).
    #[serde(default)]
    pub poll_cap: Option<String>,
}

/// `source_omi_filter`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OmiFilter {
    /// `account-alias`, `account-id`, `architecture`, `image-id`,
    /// `image-name`, `virtualization-type`, `root-device-type`, `state`.
    #[serde(default, deserialize_with = "string_map")]
    pub filters: BTreeMap<String, String>,
    /// Owners: account ids (all digits) or aliases (`Outscale`).
    #[serde(default)]
    pub owners: Vec<String>,
    /// Take the newest of several matches.
    #[serde(default)]
    pub most_recent: bool,
}

/// One of `omi_block_device_mappings`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockDeviceMappingConfig {
    /// Device name (required).
    #[serde(default)]
    pub device_name: String,
    /// Volume type.
    #[serde(default)]
    pub volume_type: Option<String>,
    /// Size in GiB.
    #[serde(default)]
    pub volume_size: Option<u64>,
    /// IOPS (io1 only).
    #[serde(default)]
    pub iops: Option<u32>,
    /// Source snapshot.
    #[serde(default)]
    pub snapshot_id: Option<String>,
    /// Delete with the VM (default false).
    #[serde(default)]
    pub delete_on_vm_deletion: bool,
    /// Leave the device out (the OAPI has no "no device" mapping).
    #[serde(default)]
    pub no_device: bool,
    /// Virtual device name (`ephemeral0`…): an ephemeral mapping, no BSU.
    #[serde(default)]
    pub virtual_name: Option<String>,
}

impl OscChrootConfig {
    /// Decodes a builder block of a Packer JSON template (`type` and `name`
    /// allowed); unknown keys, missing required keys and wrongly typed
    /// values are errors naming the key and the builder.
    /// The Packer type `outscale-chroot` is accepted as well.
    pub fn from_json(value: &Value) -> Result<Self, Error> {
        if value.get("type").and_then(Value::as_str) == Some(PACKER_BUILDER) {
            let mut v = value.clone();
            v["type"] = Value::from(BUILDER);
            return packer::decode(BUILDER, &v, KEYS, REQUIRED);
        }
        packer::decode(BUILDER, value, KEYS, REQUIRED)
    }

    /// [`OscChrootConfig::from_json`] from text.
    pub fn from_json_str(text: &str) -> Result<Self, Error> {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| config_error(BUILDER, &format!("not valid JSON: {e}")))?;
        Self::from_json(&value)
    }
}
