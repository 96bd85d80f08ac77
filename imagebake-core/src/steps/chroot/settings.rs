use std::path::PathBuf;
use std::time::Duration;

use super::{ChrootMount, DEFAULT_MOUNT_PATH, HostCommands, default_chroot_mounts};
use crate::Error;
use crate::builders::packer::{config_error, config_key_error};
use crate::template::render;

/// The configuration keys both chroot builders share, as decoded (nothing
/// checked yet); [`ChrootSettings::from_keys`] checks them.
#[derive(Debug, Clone, Copy)]
pub struct ChrootKeys<'a> {
    /// `mount_path` (default [`DEFAULT_MOUNT_PATH`]).
    pub mount_path: Option<&'a str>,
    /// `mount_partition`.
    pub mount_partition: Option<&'a str>,
    /// The partition when `mount_partition` is not set.
    pub default_partition: &'a str,
    /// `mount_options`.
    pub mount_options: &'a [String],
    /// `chroot_mounts` (default: Packer's five).
    pub chroot_mounts: Option<&'a [Vec<String>]>,
    /// `copy_files` (default `/etc/resolv.conf`, none from scratch).
    pub copy_files: Option<&'a [PathBuf]>,
    /// `from_scratch` (changes the `copy_files` default).
    pub from_scratch: bool,
    /// `command_wrapper`.
    pub command_wrapper: Option<&'a str>,
    /// `pre_mount_commands`.
    pub pre_mount_commands: &'a [String],
    /// `post_mount_commands`.
    pub post_mount_commands: &'a [String],
}

/// The [`ChrootKeys`] of a chroot builder's configuration `$c` (a struct
/// with the shared keys under their Packer names), mounting partition
/// `$default_partition` when `mount_partition` is not set.
macro_rules! chroot_keys {
    ($c:expr, $default_partition:expr) => {
        $crate::steps::chroot::ChrootKeys {
            mount_path: $c.mount_path.as_deref(),
            mount_partition: $c.mount_partition.as_deref(),
            default_partition: $default_partition,
            mount_options: &$c.mount_options,
            chroot_mounts: $c.chroot_mounts.as_deref(),
            copy_files: $c.copy_files.as_deref(),
            from_scratch: $c.from_scratch,
            command_wrapper: $c.command_wrapper.as_deref(),
            pre_mount_commands: &$c.pre_mount_commands,
            post_mount_commands: &$c.post_mount_commands,
        }
    };
}
pub(crate) use chroot_keys;

/// What the [`ChrootPipeline`](super::ChrootPipeline) does with a device,
/// checked: the keys both chroot builders share.
#[derive(Debug, Clone)]
pub struct ChrootSettings {
    /// The host commands (with `command_wrapper`).
    pub host: HostCommands,
    /// The mount path template (`{{.Device}}`).
    pub mount_path: String,
    /// The partition to mount (`"0"`: the whole device).
    pub mount_partition: String,
    /// `mount -o` options.
    pub mount_options: Vec<String>,
    /// A node to mount instead of the device (Packer's `nvme_device_path`).
    pub mount_device: Option<PathBuf>,
    /// How long to wait for a partition's node.
    pub node_timeout: Duration,
    /// The mounts inside the root.
    pub chroot_mounts: Vec<ChrootMount>,
    /// Host files copied in for the build.
    pub copy_files: Vec<PathBuf>,
    /// Host commands before the mount (`{{.Device}}`).
    pub pre_mount: Vec<String>,
    /// Host commands after it (`{{.Device}}`, `{{.MountPath}}`).
    pub post_mount: Vec<String>,
}

impl ChrootSettings {
    /// Checks the keys of `builder` (errors name it and the key); the node
    /// timeout is `node_timeout` and no other node is mounted until
    /// [`ChrootSettings::mount_device`] says so.
    pub fn from_keys(
        builder: &str,
        k: &ChrootKeys<'_>,
        node_timeout: Duration,
    ) -> Result<Self, Error> {
        let err = |m: &str| config_error(builder, m);
        let mount_partition = k.mount_partition.unwrap_or(k.default_partition).to_owned();
        if mount_partition.is_empty() || !mount_partition.chars().all(|c| c.is_ascii_digit()) {
            return Err(config_key_error(
                builder,
                "mount_partition",
                &format!("key `mount_partition`: {mount_partition:?} is not a partition number"),
            ));
        }
        let chroot_mounts = match k.chroot_mounts {
            None => default_chroot_mounts(),
            Some(list) => list
                .iter()
                .map(|m| ChrootMount::from_triple(m))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| err(&e.to_string()))?,
        };
        let host = HostCommands::wrapped(k.command_wrapper).map_err(|e| err(&e.to_string()))?;
        let mount_path = k
            .mount_path
            .filter(|m| !m.is_empty())
            .unwrap_or(DEFAULT_MOUNT_PATH)
            .to_owned();
        render("mount_path", &mount_path, &[("Device", "x")]).map_err(|e| err(&e.to_string()))?;
        for (key, list, names) in [
            ("pre_mount_commands", k.pre_mount_commands, &["Device"][..]),
            (
                "post_mount_commands",
                k.post_mount_commands,
                &["Device", "MountPath"][..],
            ),
        ] {
            let vars: Vec<(&str, &str)> = names.iter().map(|n| (*n, "x")).collect();
            for cmd in list {
                render(key, cmd, &vars).map_err(|e| err(&e.to_string()))?;
            }
        }
        let copy_files = match k.copy_files {
            Some(files) => files.to_vec(),
            None if k.from_scratch => Vec::new(),
            None => vec![PathBuf::from("/etc/resolv.conf")],
        };
        Ok(Self {
            host,
            mount_path,
            mount_partition,
            mount_options: k.mount_options.to_vec(),
            mount_device: None,
            node_timeout,
            chroot_mounts,
            copy_files,
            pre_mount: k.pre_mount_commands.to_vec(),
            post_mount: k.post_mount_commands.to_vec(),
        })
    }

    /// Mounts this node instead of the device (Packer's `nvme_device_path`).
    pub fn mount_device(mut self, device: Option<PathBuf>) -> Self {
        self.mount_device = device;
        self
    }
}
