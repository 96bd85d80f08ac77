//! A checked `local-chroot` configuration.

use std::path::PathBuf;
use std::time::Duration;

use super::config::{BUILDER, LocalChrootConfig, parse_size};
use crate::Error;
use crate::builders::packer::{config_error, duration_key};
use crate::steps::chroot::{
    ChrootSettings, DiskFormat, MIN_PARTITIONED_SIZE, PartitionTable, RootfsSource, chroot_keys,
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
    pub chroot: ChrootSettings,
    pub imgapi: Option<super::imgapi::ImgapiKeys>,
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
            if c.partition_table != Some(PartitionTable::None) && size < MIN_PARTITIONED_SIZE {
                return Err(err_at(
                    "image_size",
                    &format!(
                        "key `image_size`: {size} bytes leave no room for a partition \
                         (at least {MIN_PARTITIONED_SIZE}, or `partition_table: none`)"
                    ),
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
        let device_timeout = duration_key(
            BUILDER,
            "device_timeout",
            c.device_timeout.as_deref(),
            Duration::from_secs(30),
        )?;
        let keys = chroot_keys!(c, if whole_disk { "0" } else { "1" });
        let mut chroot = ChrootSettings::from_keys(BUILDER, &keys, device_timeout)?;
        if let Input::Scratch { filesystem, .. } = &input
            && matches!(filesystem.as_str(), "ext3" | "ext4")
        {
            // The new filesystem lives on a loop device over the working
            // copy: write barriers (a flush, i.e. an fsync of the file, at
            // every journal commit and at the unmount) would only force it
            // to the host's disk, which nothing needs (a crash loses the
            // working copy anyway). `mount_options` come after and may say
            // `barrier`.
            chroot.mount_options.insert(0, "nobarrier".to_owned());
        }
        let output_format = c
            .output_format
            .unwrap_or_else(|| DiskFormat::from_extension(&c.output_path));
        let imgapi = super::imgapi::ImgapiKeys::from_value(c.imgapi_manifest.as_ref())?;
        if let Some(k) = &imgapi {
            k.check()?;
            if output_format != DiskFormat::Raw {
                return Err(err_at(
                    "imgapi_manifest",
                    "key `imgapi_manifest`: the output must be raw (IMGAPI takes a compressed raw disk)",
                ));
            }
        }
        Ok(Self {
            imgapi,
            output_format,
            // Absolute: the journal records the working copy, the loop
            // device's backing file and the output by this path, and
            // `imagebake cleanup` may run elsewhere.
            output: std::path::absolute(&c.output_path).unwrap_or_else(|_| c.output_path.clone()),
            input,
            chroot,
        })
    }
}
