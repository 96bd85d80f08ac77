//! The chroot steps both chroot builders (`osc-chroot`, `local-chroot`) are
//! made of, one file per step: attach a disk image to a loop device,
//! partition and format it, mount its root, run the pre- and post-mount
//! commands, mount `/proc`, `/sys`, `/dev`… inside it, copy host files in,
//! and unmount everything again — each registering its undo at once, so
//! nothing stays mounted or attached after any failure.
//!
//! Both builders run the part from a device to its unmount as one
//! composite step, [`ChrootPipeline`], with the keys they share checked once
//! ([`ChrootSettings`]).
//!
//! The host commands go through Packer's `command_wrapper`
//! ([`HostCommands`]); provisioners run in the mounted root with a
//! [`ChrootCommunicator`](crate::ChrootCommunicator).

mod attach_loop;
mod blank_image;
mod copy_files;
mod detach_loop;
mod device_lock;
mod host;
mod mkfs;
mod mount_extra;
mod mount_root;
pub mod mounts;
mod partition;
mod partition_table;
mod pipeline;
mod populate;
mod post_mount_commands;
mod pre_mount_commands;
mod qemu_convert;
mod reclaim;
mod settings;
mod unmount;

use std::path::{Path, PathBuf};
use std::time::Duration;

pub(crate) use attach_loop::loops_backed_by;
pub use attach_loop::{AttachLoop, LoopDevice};
pub use blank_image::BlankImage;
pub(crate) use blank_image::remove_file;
pub use copy_files::CopyFiles;
pub use detach_loop::DetachLoop;
pub use device_lock::{DEFAULT_LOCK_PATH, DeviceLock, DeviceLockGuard};
pub use host::HostCommands;
pub use mkfs::Mkfs;
pub use mount_extra::{ChrootMount, MountExtra, default_chroot_mounts};
pub use mount_root::{DEFAULT_MOUNT_PATH, MountRoot};
pub use partition::{Partition, PartitionTable};
pub(crate) use partition_table::MIN_SIZE as MIN_PARTITIONED_SIZE;
pub use pipeline::ChrootPipeline;
pub use populate::{Populate, RootfsSource};
pub use post_mount_commands::PostMountCommands;
pub use pre_mount_commands::PreMountCommands;
pub use qemu_convert::{DiskFormat, QemuConvert};
pub(crate) use reclaim::remove_local;
pub(crate) use settings::chroot_keys;
pub use settings::{ChrootKeys, ChrootSettings};
pub use unmount::Unmount;

use crate::{Error, UndoHandle};

/// A block device node to mount (already resolved: `/dev/loop3`, not a link).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockDevice {
    /// The device node.
    pub path: PathBuf,
}

/// A root filesystem mounted at [`Mounted::mount_path`], with the undos of
/// everything mounted and copied into it (what [`Unmount`] removes).
#[derive(Debug)]
pub struct Mounted {
    /// The whole device.
    pub device: PathBuf,
    /// The node that was mounted (the partition, or the device).
    pub mounted_node: PathBuf,
    /// Where the root is mounted.
    pub mount_path: PathBuf,
    pub(crate) host: HostCommands,
    /// Mount points in mount order (the root first), with their undos.
    pub(crate) mounts: Vec<(PathBuf, UndoHandle)>,
    /// Files copied in, with their undos (they restore the originals).
    pub(crate) copies: Vec<(PathBuf, UndoHandle)>,
}

impl Mounted {
    /// The host commands (with the build's `command_wrapper`).
    pub fn host(&self) -> &HostCommands {
        &self.host
    }
}

/// The node of partition `partition` of `device` (`"0"` or empty: the
/// device itself): `/dev/loop3` + 1 → `/dev/loop3p1`, `/dev/xvdf` + 1 →
/// `/dev/xvdf1`.
pub fn partition_path(device: &Path, partition: &str) -> PathBuf {
    let partition = partition.trim();
    if partition.is_empty() || partition == "0" {
        return device.to_path_buf();
    }
    let s = device.to_string_lossy();
    let sep = if s.ends_with(|c: char| c.is_ascii_digit()) {
        "p"
    } else {
        ""
    };
    PathBuf::from(format!("{s}{sep}{partition}"))
}

/// Waits for the node of `partition` of `device` to exist, asking the
/// kernel to read the partition table (`partx -a`) when it does not at
/// once (loop devices without udev, containers).
pub(crate) async fn partition_node(
    cx: &crate::StepCx,
    host: &HostCommands,
    device: &Path,
    partition: &str,
    timeout: Duration,
) -> Result<PathBuf, Error> {
    let node = partition_path(device, partition);
    if node.exists() {
        return Ok(node);
    }
    let d = device.to_string_lossy();
    let _ = host.quiet_run(&["partx", "-a", &d], cx.token()).await;
    let opts = imagebake_http::WaitOptions::new(timeout, Duration::from_millis(200));
    let what = format!("partition node {}", node.display());
    let found = node.clone();
    cx.wait_for(what, &opts, move || {
        let found = found.clone();
        async move {
            Ok::<_, std::io::Error>(if found.exists() {
                imagebake_http::Poll::Done(())
            } else {
                imagebake_http::Poll::Pending("missing".to_owned())
            })
        }
    })
    .await?;
    Ok(node)
}

/// The template value `{{.Device}}` of a mount path: the device's file name.
pub fn device_base(device: &Path) -> String {
    device
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_paths() {
        let p = |d: &str, n: &str| partition_path(Path::new(d), n);
        assert_eq!(p("/dev/loop3", "1"), PathBuf::from("/dev/loop3p1"));
        assert_eq!(p("/dev/xvdf", "1"), PathBuf::from("/dev/xvdf1"));
        assert_eq!(p("/dev/nvme1n1", "2"), PathBuf::from("/dev/nvme1n1p2"));
        assert_eq!(p("/dev/xvdf", "0"), PathBuf::from("/dev/xvdf"));
        assert_eq!(p("/dev/xvdf", ""), PathBuf::from("/dev/xvdf"));
    }
}
