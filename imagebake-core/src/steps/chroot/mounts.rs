//! What is mounted where (`/proc/self/mounts`), and unmounting that never
//! leaves a mount behind: processes still running inside the chroot are
//! stopped first, and a lazy unmount is the reported last resort.

use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio_util::sync::CancellationToken;

use super::HostCommands;
use crate::Error;

/// Decodes the octal escapes of a `/proc/mounts` field (`\040` is a space).
fn unescape(field: &str) -> String {
    let b = field.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let oct = b
            .get(i + 1..i + 4)
            .filter(|o| o.iter().all(|c| (b'0'..=b'7').contains(c)));
        match oct {
            Some(o) if b[i] == b'\\' => {
                let v = o.iter().fold(0u32, |acc, c| acc * 8 + u32::from(c - b'0'));
                out.push(u8::try_from(v).unwrap_or(b'?'));
                i += 4;
            }
            _ => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The mount points listed now, in mount order.
pub fn mount_points() -> Vec<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    text.lines()
        .filter_map(|l| l.split(' ').nth(1))
        .map(|f| PathBuf::from(unescape(f)))
        .collect()
}

/// Whether `path` is a mount point now.
pub fn is_mounted(path: &Path) -> bool {
    mount_points().iter().any(|m| m == path)
}

/// The mount points at or under `root`, deepest (latest) first.
pub fn mounts_under(root: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = mount_points()
        .into_iter()
        .filter(|m| m.starts_with(root))
        .collect();
    v.reverse();
    v.dedup();
    v
}

/// Sends `signal` to every process whose root directory is `root` or under
/// it (what provisioners left running in the chroot); returns how many.
pub fn signal_chroot_processes(root: &Path, signal: Signal) -> usize {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    let mut n = 0;
    for e in entries.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(proc_root) = std::fs::read_link(e.path().join("root")) else {
            continue;
        };
        if proc_root.starts_with(root) && kill(Pid::from_raw(pid), signal).is_ok() {
            n += 1;
        }
    }
    n
}

/// How an unmount went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unmounted {
    /// It was not mounted.
    NotMounted,
    /// A normal unmount.
    Clean,
    /// Only a lazy unmount (`umount -l`) worked: the filesystem is detached
    /// from the tree but may stay busy a while.
    Lazy,
}

/// Unmounts `path` if it is mounted: `umount`; if busy, stops the processes
/// running inside `chroot_root` (TERM, then KILL) and tries again; then
/// `umount -l` as the last resort.
pub async fn unmount(
    host: &HostCommands,
    path: &Path,
    chroot_root: &Path,
    cancel: &CancellationToken,
) -> Result<Unmounted, Error> {
    if cancel.is_cancelled() {
        return Err(Error::cancelled(format!("unmounting {}", path.display())));
    }
    if !is_mounted(path) {
        return Ok(Unmounted::NotMounted);
    }
    let p = path.to_string_lossy();
    if host.quiet_run(&["umount", &p], cancel).await.is_ok() {
        return Ok(Unmounted::Clean);
    }
    for signal in [Signal::SIGTERM, Signal::SIGKILL] {
        if signal_chroot_processes(chroot_root, signal) > 0 {
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        if !is_mounted(path) || host.quiet_run(&["umount", &p], cancel).await.is_ok() {
            return Ok(Unmounted::Clean);
        }
    }
    host.quiet_run(&["umount", "-l", &p], cancel).await?;
    tracing::warn!(path = %p, "only a lazy unmount worked; the filesystem may stay busy");
    Ok(Unmounted::Lazy)
}

/// Unmounts everything at or under `root`, deepest first. Returns the paths
/// that needed a lazy unmount.
pub async fn unmount_all(
    host: &HostCommands,
    root: &Path,
    cancel: &CancellationToken,
) -> Result<Vec<PathBuf>, Error> {
    let mut lazy = Vec::new();
    let mut first_err = None;
    for m in mounts_under(root) {
        match unmount(host, &m, root, cancel).await {
            Ok(Unmounted::Lazy) => lazy.push(m),
            Ok(_) => {}
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(lazy),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescapes_mount_fields() {
        assert_eq!(unescape("/mnt/a\\040b"), "/mnt/a b");
        assert_eq!(unescape("/plain"), "/plain");
        assert_eq!(unescape("/x\\"), "/x\\");
    }
}
