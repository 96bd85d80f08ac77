//! Real backing storage: sparse files, copies, loop devices and the device
//! links that make an API device name (`/dev/xvdf`) reachable under the
//! simulator's own device directory (`<dev_dir>/xvdf -> /dev/loopN`).
//!
//! Nothing here ever touches the real `/dev/xvd*` or `/dev/sd*` names.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use imagebake_host::process::Command;

/// One GiB.
pub(crate) const GIB: u64 = 1 << 30;

/// How long one host command (`cp` of a volume, `mkfs.ext4`, `losetup`)
/// may run before it is killed.
const HOST_COMMAND_TIMEOUT: Duration = Duration::from_secs(600);

/// Runs `cmd` (in its own process group, killed if this request is dropped);
/// its trimmed standard output, or an error naming it with the end of its
/// standard error.
async fn run(cmd: Command) -> io::Result<String> {
    let out = cmd
        .timeout(HOST_COMMAND_TIMEOUT)
        .checked()
        .await
        .map_err(io::Error::other)?;
    Ok(out.stdout_text())
}

/// A blank sparse file of `size` bytes.
pub(crate) async fn make_blank(path: &Path, size: u64) -> io::Result<()> {
    let f = tokio::fs::File::create(path).await?;
    f.set_len(size).await
}

/// Copies `src` to `dst` keeping holes, then grows `dst` to `min_size` bytes.
pub(crate) async fn copy_sparse(src: &Path, dst: &Path, min_size: u64) -> io::Result<()> {
    run(Command::new("cp")
        .arg("--sparse=always")
        .arg("--reflink=auto")
        .arg(src)
        .arg(dst))
    .await?;
    let f = tokio::fs::OpenOptions::new().write(true).open(dst).await?;
    if f.metadata().await?.len() < min_size {
        f.set_len(min_size).await?;
    }
    Ok(())
}

/// Makes the seed disk: a sparse file of `size` bytes holding an ext4
/// filesystem with `/etc/os-release` and a simulated Linux guest (busybox,
/// bash, `apt-get`: `machine::linux_seed_tree`) made by mkfs.ext4 on the
/// file itself (no loop device, no root needed). Falls back to a blank file if mkfs.ext4 fails.
pub(crate) async fn make_seed_disk(path: &Path, size: u64, scratch: &Path) -> io::Result<()> {
    make_blank(path, size).await?;
    let root = scratch.join("seed-root");
    tokio::fs::create_dir_all(root.join("etc")).await?;
    tokio::fs::write(
        root.join("etc/os-release"),
        "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\n\
         VERSION_ID=\"12\"\nID=debian\nIMAGEBAKE_SIM=osc\n",
    )
    .await?;
    let tree = root.clone();
    let layered = tokio::task::spawn_blocking(move || crate::machine::linux_seed_tree(&tree))
        .await
        .map_err(io::Error::other)?;
    if let Err(e) = layered {
        tracing::warn!(error = %e, "the seed disk gets no shell nor package tool stand-ins");
    }
    let made = run(Command::new("mkfs.ext4")
        .args(["-F", "-q", "-L", "osc-sim-root", "-d"])
        .arg(&root)
        .arg(path))
    .await;
    let _ = tokio::fs::remove_dir_all(&root).await;
    if let Err(e) = made {
        tracing::warn!(error = %e, "mkfs.ext4 failed; the seed disk stays blank");
    }
    Ok(())
}

/// Attaches `file` to a free loop device (partitions scanned); returns `/dev/loopN`.
pub(crate) async fn attach(file: &Path) -> io::Result<String> {
    run(Command::new("losetup")
        .args(["--find", "--show", "--partscan"])
        .arg(file))
    .await
}

/// Detaches a loop device.
pub(crate) async fn detach(device: &str) -> io::Result<()> {
    run(Command::new("losetup").arg("-d").arg(device))
        .await
        .map(drop)
}

/// Detaches a loop device without async (for `Drop`; blocks the thread).
pub(crate) fn detach_blocking(device: &str) {
    if let Err(e) = Command::new("losetup")
        .arg("-d")
        .arg(device)
        .timeout(HOST_COMMAND_TIMEOUT)
        .checked_blocking()
    {
        tracing::warn!(%device, error = %e, "detaching a loop device");
    }
}

/// The links for API device `device_name` (`/dev/xvdf`): the whole disk and
/// partitions 1 to 4 (dangling until the partitions exist).
pub(crate) fn link_paths(
    dev_dir: &Path,
    device_name: &str,
    loop_dev: &str,
) -> Vec<(PathBuf, String)> {
    let base = device_name.rsplit('/').next().unwrap_or(device_name);
    let mut links = vec![(dev_dir.join(base), loop_dev.to_owned())];
    for p in 1..=4 {
        links.push((
            dev_dir.join(format!("{base}{p}")),
            format!("{loop_dev}p{p}"),
        ));
    }
    links
}

/// Creates the links (replacing stale ones).
pub(crate) fn make_links(links: &[(PathBuf, String)]) -> io::Result<()> {
    for (link, target) in links {
        if let Some(parent) = link.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let _ = std::fs::remove_file(link);
        std::os::unix::fs::symlink(target, link)?;
    }
    Ok(())
}

/// Removes the links (missing ones are fine).
pub(crate) fn remove_links(links: &[(PathBuf, String)]) {
    for (link, _) in links {
        let _ = std::fs::remove_file(link);
    }
}
