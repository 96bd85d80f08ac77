//! The `local-chroot` builder's configuration (imagebake's own keys, named
//! like the `osc-chroot` ones where they mean the same thing).

use std::path::PathBuf;

use serde::Deserialize;
use serde_json::Value;

use crate::Error;
use crate::builders::packer::{self, config_error};
use crate::steps::chroot::{DiskFormat, PartitionTable};

/// The builder's type name in a template.
pub const BUILDER: &str = "local-chroot";

/// Every key the builder accepts.
pub const KEYS: &[&str] = &[
    "image_path",
    "image_format",
    "output_path",
    "output_format",
    "from_scratch",
    "image_size",
    "partition_table",
    "filesystem",
    "filesystem_label",
    "rootfs_tarball",
    "rootfs_dir",
    "mount_path",
    "mount_partition",
    "mount_options",
    "chroot_mounts",
    "copy_files",
    "command_wrapper",
    "pre_mount_commands",
    "post_mount_commands",
    "device_timeout",
    "imgapi_manifest",
];

/// The keys without which there is no build.
pub const REQUIRED: &[&str] = &["output_path"];

/// The `local-chroot` builder's configuration: a disk image file in, a disk
/// image file out, no cloud.
///
/// | key | meaning |
/// | --- | --- |
/// | `image_path` | the source image file (required unless `from_scratch`); never modified |
/// | `image_format` | `raw` or `qcow2` (default: `qcow2` for a `.qcow2` name, else `raw`) |
/// | `output_path` | the image file to write (required; must not exist) |
/// | `output_format` | `raw` or `qcow2` (default: from the name, as above) |
/// | `from_scratch` | make a new disk instead of reading `image_path` |
/// | `image_size` | from scratch: its size, bytes or with a `K`/`M`/`G`/`T` suffix (`2G`) |
/// | `partition_table` | from scratch: `dos` (default), `gpt` or `none` (filesystem on the whole disk) |
/// | `filesystem` | from scratch: `mkfs -t` type (default `ext4`) |
/// | `filesystem_label` | from scratch: its label |
/// | `rootfs_tarball` | from scratch: a tarball extracted into the new root |
/// | `rootfs_dir` | from scratch: a directory tree copied into the new root |
/// | `mount_path` | mount path template, `{{.Device}}` = `loopN` (default `/mnt/imagebake-chroot/{{.Device}}`) |
/// | `mount_partition` | partition to mount (default `1`; `0` with `partition_table: none`) |
/// | `mount_options` | `mount -o` options (from scratch on ext3/ext4 after `nobarrier`, which they may undo with `barrier`) |
/// | `chroot_mounts` | `[fstype, source, target]` triples (default: Packer's five) |
/// | `copy_files` | host files copied in for the build (default `/etc/resolv.conf`, none from scratch) |
/// | `command_wrapper` | host command wrapper (`sudo {{.Command}}`) |
/// | `pre_mount_commands` | host commands before the mount (`{{.Device}}`) |
/// | `post_mount_commands` | host commands after it (`{{.Device}}`, `{{.MountPath}}`) |
/// | `device_timeout` | how long to wait for a partition's node (default `30s`) |
/// | `imgapi_manifest` | raw output only: also write `OUTPUT.gz` and an IMGAPI v2 manifest `OUTPUT.imgmanifest` (`type: zvol`); `true` takes name, version, ... from an `image-spec` provisioner, else an object `{name, version, description, homepage, min_ram, os, owner, users, role}` |
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalChrootConfig {
    /// Source image file.
    #[serde(default)]
    pub image_path: Option<PathBuf>,
    /// Its format.
    #[serde(default)]
    pub image_format: Option<DiskFormat>,
    /// Output image file.
    #[serde(default)]
    pub output_path: PathBuf,
    /// Its format.
    #[serde(default)]
    pub output_format: Option<DiskFormat>,
    /// Make a new disk.
    #[serde(default)]
    pub from_scratch: bool,
    /// New disk size (`2G`, or bytes).
    #[serde(default)]
    pub image_size: Option<Value>,
    /// New disk's partition table.
    #[serde(default)]
    pub partition_table: Option<PartitionTable>,
    /// New disk's filesystem type.
    #[serde(default)]
    pub filesystem: Option<String>,
    /// New disk's filesystem label.
    #[serde(default)]
    pub filesystem_label: Option<String>,
    /// Tarball extracted into the new root.
    #[serde(default)]
    pub rootfs_tarball: Option<PathBuf>,
    /// Directory copied into the new root.
    #[serde(default)]
    pub rootfs_dir: Option<PathBuf>,
    /// Mount path template.
    #[serde(default)]
    pub mount_path: Option<String>,
    /// Partition to mount.
    #[serde(default)]
    pub mount_partition: Option<String>,
    /// Mount options.
    #[serde(default)]
    pub mount_options: Vec<String>,
    /// Chroot mounts.
    #[serde(default)]
    pub chroot_mounts: Option<Vec<Vec<String>>>,
    /// Files copied in.
    #[serde(default)]
    pub copy_files: Option<Vec<PathBuf>>,
    /// Host command wrapper.
    #[serde(default)]
    pub command_wrapper: Option<String>,
    /// Commands before the mount.
    #[serde(default)]
    pub pre_mount_commands: Vec<String>,
    /// Commands after the mount.
    #[serde(default)]
    pub post_mount_commands: Vec<String>,
    /// Partition node wait.
    #[serde(default)]
    pub device_timeout: Option<String>,
    /// The IMGAPI manifest to write beside the compressed output.
    #[serde(default)]
    pub imgapi_manifest: Option<Value>,
}

impl LocalChrootConfig {
    /// Decodes a builder block of a template (`type` and `name` allowed);
    /// unknown keys, missing required keys and wrongly typed values are
    /// errors naming the key and the builder.
    pub fn from_json(value: &Value) -> Result<Self, Error> {
        packer::decode(BUILDER, value, KEYS, REQUIRED)
    }

    /// [`LocalChrootConfig::from_json`] from text.
    pub fn from_json_str(text: &str) -> Result<Self, Error> {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| config_error(BUILDER, &format!("not valid JSON: {e}")))?;
        Self::from_json(&value)
    }
}

/// Parses a size: bytes, or a number with `K`, `M`, `G` or `T` (powers of
/// 1024, an optional `i`/`iB`/`B` after it).
pub fn parse_size(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => {
            let s = s.trim();
            let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
            let n: u64 = s[..digits].parse().ok()?;
            let unit = s[digits..]
                .trim()
                .trim_end_matches(['B', 'b'])
                .trim_end_matches('i');
            let mult: u64 = match unit.to_ascii_uppercase().as_str() {
                "" => 1,
                "K" => 1 << 10,
                "M" => 1 << 20,
                "G" => 1 << 30,
                "T" => 1 << 40,
                _ => return None,
            };
            n.checked_mul(mult)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sizes() {
        assert_eq!(parse_size(&json!("2G")), Some(2 << 30));
        assert_eq!(parse_size(&json!("512MiB")), Some(512 << 20));
        assert_eq!(parse_size(&json!(4096)), Some(4096));
        assert_eq!(parse_size(&json!("12x")), None);
        assert_eq!(parse_size(&json!(true)), None);
    }
}
