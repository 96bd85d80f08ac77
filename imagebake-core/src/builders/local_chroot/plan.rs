//! A checked `local-chroot` configuration.

use std::path::PathBuf;
use std::time::Duration;

use super::config::{BUILDER, LocalChrootConfig, parse_size};
use crate::Error;
use crate::builders::packer::{config_error, duration_key};
use crate::steps::chroot::{
    ChrootMount, DEFAULT_MOUNT_PATH, DiskFormat, HostCommands, PartitionTable, RootfsSource,
    default_chroot_mounts,
};

/// Where the disk comes from.
#[derive(Debug, Clone)]
pub(crate) enum Input {
    Image {
        path: PathBuf,
        format: DiskFormat,
    },
    Scratch {
        size: u64,
        table: PartitionTable,
        filesystem: String,
        label: Option<String>,
        rootfs: Option<RootfsSource>,
    },
}

#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub input: Input,
    pub output: PathBuf,
    pub output_format: DiskFormat,
    pub host: HostCommands,
    pub mount_path: String,
    pub mount_partition: String,
    pub mount_options: Vec<String>,
    pub chroot_mounts: Vec<ChrootMount>,
    pub copy_files: Vec<PathBuf>,
    pub pre_mount: Vec<String>,
    pub post_mount: Vec<String>,
    pub device_timeout: Duration,
}

fn err(msg: &str) -> Error {
    config_error(BUILDER, msg)
}

/// [`Error::ConfigKey`] about `key`.
fn err_at(key: &str, message: &str) -> Error {
    crate::builders::packer::config_key_error(BUILDER, key, message)
}

impl Plan {
    pub(crate) fn new(c: &LocalChrootConfig) -> Result<Self, Error> {
        if c.output_path.as_os_str().is_empty() {
            return Err(err_at("output_path", "missing required key `output_path`"));
        }
        let scratch_keys = [
            ("image_size", c.image_size.is_some()),
            ("partition_table", c.partition_table.is_some()),
            ("filesystem", c.filesystem.is_some()),
            ("filesystem_label", c.filesystem_label.is_some()),
            ("rootfs_tarball", c.rootfs_tarball.is_some()),
            ("rootfs_dir", c.rootfs_dir.is_some()),
        ];
        let input = if c.from_scratch {
            if c.image_path.is_some() {
                return Err(err("`image_path` and `from_scratch` exclude each other"));
            }
            let size = c
                .image_size
                .as_ref()
                .ok_or_else(|| err("`from_scratch` needs `image_size`"))?;
            let size = parse_size(size).filter(|s| *s >= 1 << 20).ok_or_else(|| {
                err_at(
                    "image_size",
                    &format!(
                        "key `image_size`: {size} is not a size of at least 1M (like 2G, 512M)"
                    ),
                )
            })?;
            let rootfs = match (&c.rootfs_tarball, &c.rootfs_dir) {
                (Some(_), Some(_)) => {
                    return Err(err("`rootfs_tarball` and `rootfs_dir` exclude each other"));
                }
                (Some(t), None) => Some(RootfsSource::Tarball(t.clone())),
                (None, Some(d)) => Some(RootfsSource::Directory(d.clone())),
                (None, None) => None,
            };
            let filesystem = c.filesystem.clone().unwrap_or_else(|| "ext4".to_owned());
            if filesystem.is_empty()
                || !filesystem
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
            {
                return Err(err_at(
                    "filesystem",
                    &format!("key `filesystem`: {filesystem:?} is not a filesystem type"),
                ));
            }
            Input::Scratch {
                size,
                table: c.partition_table.unwrap_or(PartitionTable::Dos),
                filesystem,
                label: c.filesystem_label.clone(),
                rootfs,
            }
        } else {
            if let Some((k, _)) = scratch_keys.iter().find(|(_, set)| *set) {
                return Err(err_at(k, &format!("key `{k}` is only for `from_scratch`")));
            }
            let path = c.image_path.clone().ok_or_else(|| {
                err_at(
                    "image_path",
                    "missing required key `image_path` (or set `from_scratch`)",
                )
            })?;
            let format = c
                .image_format
                .unwrap_or_else(|| DiskFormat::from_extension(&path));
            Input::Image { path, format }
        };
        let whole_disk = matches!(
            input,
            Input::Scratch {
                table: PartitionTable::None,
                ..
            }
        );
        let mount_partition = c
            .mount_partition
            .clone()
            .unwrap_or_else(|| if whole_disk { "0" } else { "1" }.to_owned());
        if mount_partition.is_empty() || !mount_partition.chars().all(|ch| ch.is_ascii_digit()) {
            return Err(err_at(
                "mount_partition",
                &format!("key `mount_partition`: {mount_partition:?} is not a partition number"),
            ));
        }
        let chroot_mounts = match &c.chroot_mounts {
            None => default_chroot_mounts(),
            Some(list) => list
                .iter()
                .map(|m| ChrootMount::from_triple(m))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| err(&e.to_string()))?,
        };
        let host =
            HostCommands::wrapped(c.command_wrapper.as_deref()).map_err(|e| err(&e.to_string()))?;
        let mount_path = c
            .mount_path
            .clone()
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| DEFAULT_MOUNT_PATH.to_owned());
        crate::template::render("mount_path", &mount_path, &[("Device", "x")])
            .map_err(|e| err(&e.to_string()))?;
        for cmd in &c.pre_mount_commands {
            crate::template::render("pre_mount_commands", cmd, &[("Device", "x")])
                .map_err(|e| err(&e.to_string()))?;
        }
        for cmd in &c.post_mount_commands {
            crate::template::render(
                "post_mount_commands",
                cmd,
                &[("Device", "x"), ("MountPath", "x")],
            )
            .map_err(|e| err(&e.to_string()))?;
        }
        let device_timeout = duration_key(
            BUILDER,
            "device_timeout",
            c.device_timeout.as_deref(),
            Duration::from_secs(30),
        )?;
        Ok(Self {
            output_format: c
                .output_format
                .unwrap_or_else(|| DiskFormat::from_extension(&c.output_path)),
            output: c.output_path.clone(),
            copy_files: c.copy_files.clone().unwrap_or_else(|| {
                if c.from_scratch {
                    Vec::new()
                } else {
                    vec![PathBuf::from("/etc/resolv.conf")]
                }
            }),
            input,
            host,
            mount_path,
            mount_partition,
            mount_options: c.mount_options.clone(),
            chroot_mounts,
            pre_mount: c.pre_mount_commands.clone(),
            post_mount: c.post_mount_commands.clone(),
            device_timeout,
        })
    }
}
