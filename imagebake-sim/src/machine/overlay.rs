//! overlayfs mounts and layer copies.

use std::path::{Path, PathBuf};
use std::time::Duration;

use imagebake_host::process::Command;

use super::MachineError;
use super::fsutil::run;
use super::preflight::Tools;

/// How often `umount` is retried while the mount is still busy.
const UMOUNT_TRIES: u32 = 40;

fn checked(p: &Path) -> Result<&str, MachineError> {
    let s = p.to_str().ok_or_else(|| MachineError::Path {
        path: p.display().to_string(),
        why: "not UTF-8",
    })?;
    if s.contains([',', ':', '\\']) || s.chars().any(char::is_whitespace) {
        return Err(MachineError::Path {
            path: s.to_owned(),
            why: "overlay paths may not contain ',', ':', '\\' or spaces",
        });
    }
    Ok(s)
}

/// Mounts an overlay on `target`: `lowers` top layer first; with an upper
/// (and work) directory it is writable, without one read-only.
pub(crate) fn mount(
    tools: &Tools,
    lowers: &[PathBuf],
    upper: Option<(&Path, &Path)>,
    target: &Path,
) -> Result<(), MachineError> {
    let lowerdir = lowers
        .iter()
        .map(|l| checked(l))
        .collect::<Result<Vec<_>, _>>()?
        .join(":");
    let mut options = format!("lowerdir={lowerdir}");
    match upper {
        Some((upper, work)) => {
            options.push_str(&format!(
                ",upperdir={},workdir={}",
                checked(upper)?,
                checked(work)?
            ));
        }
        None => options.insert_str(0, "ro,"),
    }
    run(Command::new(&tools.mount)
        .args(["-t", "overlay", "overlay", "-o", &options])
        .arg(checked(target)?))?;
    Ok(())
}

/// Whether something is mounted on `target` (per `/proc/self/mounts`).
pub(crate) fn is_mounted(target: &Path) -> bool {
    let Ok(mounts) = std::fs::read_to_string("/proc/self/mounts") else {
        return false;
    };
    let Some(t) = target.to_str() else {
        return false;
    };
    mounts
        .lines()
        .any(|l| l.split_whitespace().nth(1) == Some(t))
}

/// Unmounts `target`, retrying while it is busy (processes that were just
/// killed may still hold it for a moment), then detaching it lazily.
pub(crate) fn umount(tools: &Tools, target: &Path) -> Result<(), MachineError> {
    let mut last = None;
    for _ in 0..UMOUNT_TRIES {
        if !is_mounted(target) {
            return Ok(());
        }
        match run(Command::new(&tools.umount).arg(target)) {
            Ok(_) => return Ok(()),
            Err(e) => last = Some(e),
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    if is_mounted(target) {
        tracing::warn!(target = %target.display(), "mount still busy; detaching it lazily");
        run(Command::new(&tools.umount).arg("-l").arg(target))?;
    }
    match last {
        Some(e) if is_mounted(target) => Err(e),
        _ => Ok(()),
    }
}

/// Copies layer directory `from` to `to` (which must not exist) as it is:
/// ownership, modes, times, extended attributes (`trusted.overlay.opaque`)
/// and whiteouts (0/0 character devices) included, so the copy stays valid
/// as a lower layer.
pub(crate) fn copy_layer(tools: &Tools, from: &Path, to: &Path) -> Result<(), MachineError> {
    run(Command::new(&tools.cp)
        .args(["-a", "--preserve=xattr", "--"])
        .arg(from)
        .arg(to))?;
    Ok(())
}
