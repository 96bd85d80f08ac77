//! What simulated machines need from the host, checked before anything is
//! built so that a missing piece is reported by name.

use std::path::{Path, PathBuf};

use super::MachineError;

/// Where the OpenSSH server is.
pub(crate) const SSHD: &str = "/usr/sbin/sshd";
/// OpenSSH's SFTP server (for the `sftp` subsystem).
pub(crate) const SFTP_SERVER: &str = "/usr/lib/openssh/sftp-server";
/// Helpers OpenSSH ≥ 9.8 runs for each connection, copied when present.
pub(crate) const SSHD_HELPERS: [&str; 2] = [
    "/usr/lib/openssh/sshd-session",
    "/usr/lib/openssh/sshd-auth",
];
/// The static busybox (Debian's `busybox-static`).
pub(crate) const BUSYBOX: &str = "/bin/busybox";

/// Host programs the simulator runs.
#[derive(Debug, Clone)]
pub(crate) struct Tools {
    pub chroot: PathBuf,
    pub unshare: PathBuf,
    pub mount: PathBuf,
    pub umount: PathBuf,
    pub cp: PathBuf,
    pub mknod: PathBuf,
    pub ldd: PathBuf,
}

fn find(name: &str) -> Option<PathBuf> {
    ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

/// Checks that simulated machines with SSH can run here: root, overlayfs,
/// OpenSSH's `sshd` and `sftp-server`, a static busybox, and the `chroot`,
/// `unshare`, `mount`, `umount`, `cp`, `mknod` and `ldd` programs. The error lists every
/// missing piece (`scripts/test-deps.sh` installs the packages).
pub fn check_support() -> Result<(), MachineError> {
    tools().map(|_| ())
}

pub(crate) fn tools() -> Result<Tools, MachineError> {
    let mut missing = Vec::new();
    match crate::euid() {
        Some(0) => {}
        Some(uid) => missing.push(format!(
            "root is needed to mount overlays and chroot (running as uid {uid})"
        )),
        None => missing.push("cannot tell the user id (no /proc/self/status)".to_owned()),
    }
    let filesystems = std::fs::read_to_string("/proc/filesystems").unwrap_or_default();
    if !filesystems
        .lines()
        .any(|l| l.trim_end().ends_with("overlay"))
    {
        missing.push("the kernel has no overlay filesystem (modprobe overlay)".to_owned());
    }
    if !Path::new(SSHD).is_file() {
        missing.push(format!(
            "no OpenSSH server at {SSHD} (install openssh-server)"
        ));
    }
    if !Path::new(SFTP_SERVER).is_file() {
        missing.push(format!(
            "no OpenSSH sftp-server at {SFTP_SERVER} (install openssh-sftp-server)"
        ));
    }
    if !Path::new(BUSYBOX).is_file() {
        missing.push(format!(
            "no static busybox at {BUSYBOX} (install busybox-static)"
        ));
    }
    let mut tool = |name: &str, package: &str| {
        find(name).unwrap_or_else(|| {
            missing.push(format!("no `{name}` program (install {package})"));
            PathBuf::new()
        })
    };
    let tools = Tools {
        chroot: tool("chroot", "coreutils"),
        unshare: tool("unshare", "util-linux"),
        mount: tool("mount", "mount"),
        umount: tool("umount", "mount"),
        cp: tool("cp", "coreutils"),
        mknod: tool("mknod", "coreutils"),
        ldd: tool("ldd", "libc-bin"),
    };
    if missing.is_empty() {
        Ok(tools)
    } else {
        Err(MachineError::Unavailable { missing })
    }
}
