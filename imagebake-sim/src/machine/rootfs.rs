//! The base root filesystem every simulated machine starts from: a static
//! busybox with its applet links, a real OpenSSH server with the libraries it
//! loads, the accounts and device nodes sshd needs, and power-control scripts
//! that act on the simulated machine instead of the host.

use std::fs;
use std::os::unix::fs::{PermissionsExt as _, symlink};
use std::path::{Path, PathBuf};

use imagebake_host::process::Command;

use super::MachineError;
use super::fsutil::run;
use super::preflight::{BUSYBOX, SFTP_SERVER, SSHD, SSHD_HELPERS, Tools};

/// Where the power scripts record what the guest asked for (`poweroff` or
/// `reboot`), inside the machine.
pub(crate) const POWER_MARKER: &str = "run/imagebake-sim/power";
/// sshd's pid file inside the machine.
pub(crate) const SSHD_PID: &str = "run/sshd.pid";

/// Busybox applets replaced by [`POWER_SCRIPT`].
const POWER_APPLETS: [&str; 5] = ["reboot", "poweroff", "halt", "shutdown", "init"];

/// Busybox applets left out because, run as root outside any namespace, they
/// would act on the host (its network, clock, swap, modules, consoles).
const HOST_APPLETS: [&str; 34] = [
    "linuxrc",
    "acpid",
    "adjtimex",
    "brctl",
    "chvt",
    "deallocvt",
    "depmod",
    "devmem",
    "freeramdisk",
    "fsfreeze",
    "hwclock",
    "i2cdetect",
    "i2cdump",
    "i2cget",
    "i2cset",
    "i2ctransfer",
    "ifconfig",
    "ifdown",
    "ifup",
    "insmod",
    "ip",
    "ipneigh",
    "loadkmap",
    "modprobe",
    "nameif",
    "nuke",
    "pivot_root",
    "rdate",
    "rmmod",
    "route",
    "run-init",
    "swapoff",
    "swapon",
    "switch_root",
];

/// More host-acting applets (split only to keep the lines short).
const HOST_APPLETS_2: [&str; 7] = [
    "sysctl",
    "tc",
    "tunctl",
    "vconfig",
    "setkeycodes",
    "loadfont",
    "openvt",
];

/// `reboot`, `poweroff`, `halt`, `shutdown` and `init 0|6` of a simulated
/// machine: record the request, then stop the machine's sshd after a second
/// (so the command returns); the simulator sees sshd end and powers the
/// machine off, or starts sshd again for a reboot.
const POWER_SCRIPT: &str = r#"#!/bin/sh
# imagebake-sim: power control of the SIMULATED machine, never the host.
action=poweroff
case "${0##*/}" in
  reboot) action=reboot ;;
  shutdown)
    for a in "$@"; do
      case "$a" in -r|-r*|--reboot) action=reboot ;; esac
    done ;;
  init)
    case "$1" in
      0) action=poweroff ;;
      6) action=reboot ;;
      *) echo "init: only 'init 0' and 'init 6' exist on a simulated machine" >&2; exit 1 ;;
    esac ;;
esac
pid=$(cat /run/sshd.pid 2>/dev/null)
if [ -z "$pid" ]; then
  echo "${0##*/}: no /run/sshd.pid: not a running simulated machine" >&2
  exit 1
fi
mkdir -p /run/imagebake-sim
echo "$action" > /run/imagebake-sim/power
echo "${0##*/}: the simulated machine goes down ($action)"
( sleep 1; kill -TERM "$pid" ) </dev/null >/dev/null 2>&1 &
exit 0
"#;

pub(super) const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
sshd:x:100:65534:sshd privilege separation:/run/sshd:/usr/sbin/nologin\n\
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";
const GROUP: &str = "root:x:0:\nnogroup:x:65534:\n";
const NSSWITCH: &str = "passwd: files\ngroup: files\nshadow: files\nhosts: files\n";
const HOSTS: &str = "127.0.0.1 localhost\n";

/// Device nodes: name, major, minor.
const DEVICES: [(&str, u32, u32); 5] = [
    ("null", 1, 3),
    ("zero", 1, 5),
    ("random", 1, 8),
    ("urandom", 1, 9),
    ("tty", 5, 0),
];

fn io(what: &str, p: &Path) -> impl FnOnce(std::io::Error) -> MachineError {
    MachineError::io(format!("{what} {}", p.display()))
}

fn mkdir(base: &Path, rel: &str, mode: u32) -> Result<(), MachineError> {
    let p = base.join(rel);
    fs::create_dir_all(&p).map_err(io("creating", &p))?;
    fs::set_permissions(&p, fs::Permissions::from_mode(mode)).map_err(io("chmod", &p))
}

fn write(base: &Path, rel: &str, contents: &str, mode: u32) -> Result<(), MachineError> {
    let p = base.join(rel);
    fs::write(&p, contents).map_err(io("writing", &p))?;
    fs::set_permissions(&p, fs::Permissions::from_mode(mode)).map_err(io("chmod", &p))
}

/// Copies host file `host` (following links) to the same path under `base`.
fn copy_same_path(base: &Path, host: &Path) -> Result<(), MachineError> {
    let rel = host.strip_prefix("/").unwrap_or(host);
    let dest = base.join(rel);
    if dest.exists() {
        return Ok(());
    }
    if let Some(parent) = dest.parent() {
        fs::create_dir_all(parent).map_err(io("creating", parent))?;
    }
    fs::copy(host, &dest).map_err(io("copying to", &dest))?;
    Ok(())
}

/// The shared libraries (and dynamic loader) `ldd` lists for `binary`.
fn libraries(tools: &Tools, binary: &Path) -> Result<Vec<PathBuf>, MachineError> {
    let out = run(Command::new(&tools.ldd).arg(binary))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if let Some(line) = text.lines().find(|l| l.contains("not found")) {
        return Err(MachineError::Command {
            command: format!("ldd {}", binary.display()),
            status: "library missing".to_owned(),
            stderr: line.trim().to_owned(),
        });
    }
    Ok(text
        .split_whitespace()
        .filter(|w| w.starts_with('/'))
        .map(PathBuf::from)
        .collect())
}

/// Copies the static busybox into `base` and links its applets, minus the
/// ones that would act on the host.
pub(crate) fn busybox(base: &Path) -> Result<(), MachineError> {
    copy_same_path(base, Path::new(BUSYBOX))?;
    let list = run(Command::new(BUSYBOX).arg("--list-full"))?;
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        let name = applet.rsplit('/').next().unwrap_or(applet);
        if applet.is_empty()
            || applet == "bin/busybox"
            || POWER_APPLETS.contains(&name)
            || HOST_APPLETS.contains(&name)
            || HOST_APPLETS_2.contains(&name)
        {
            continue;
        }
        let link = base.join(applet);
        if let Some(parent) = link.parent() {
            fs::create_dir_all(parent).map_err(io("creating", parent))?;
        }
        if fs::symlink_metadata(&link).is_err() {
            symlink(BUSYBOX, &link).map_err(io("linking", &link))?;
        }
    }
    Ok(())
}

/// Builds the base root filesystem in `base` (an empty directory).
pub(crate) fn build(tools: &Tools, base: &Path) -> Result<(), MachineError> {
    for (dir, mode) in [
        ("bin", 0o755),
        ("sbin", 0o755),
        ("usr/bin", 0o755),
        ("usr/sbin", 0o755),
        ("usr/lib/openssh", 0o755),
        ("etc/ssh", 0o755),
        ("run/sshd", 0o755),
        ("var/empty", 0o755),
        ("var/tmp", 0o1777),
        ("dev", 0o755),
        ("home", 0o755),
        ("tmp", 0o1777),
        ("root", 0o700),
        ("root/.ssh", 0o700),
    ] {
        mkdir(base, dir, mode)?;
    }

    busybox(base)?;
    for name in POWER_APPLETS {
        write(base, &format!("sbin/{name}"), POWER_SCRIPT, 0o755)?;
    }

    // OpenSSH with every library it loads.
    let mut binaries = vec![PathBuf::from(SSHD), PathBuf::from(SFTP_SERVER)];
    binaries.extend(
        SSHD_HELPERS
            .iter()
            .map(PathBuf::from)
            .filter(|p| p.is_file()),
    );
    for binary in &binaries {
        copy_same_path(base, binary)?;
        for lib in libraries(tools, binary)? {
            copy_same_path(base, &lib)?;
        }
    }

    write(base, "etc/passwd", PASSWD, 0o644)?;
    write(base, "etc/group", GROUP, 0o644)?;
    write(base, "etc/nsswitch.conf", NSSWITCH, 0o644)?;
    write(base, "etc/hosts", HOSTS, 0o644)?;
    write(base, "etc/hostname", "imagebake-sim\n", 0o644)?;
    for (name, major, minor) in DEVICES {
        let p = base.join("dev").join(name);
        run(Command::new(&tools.mknod)
            .args(["-m", "666"])
            .arg(&p)
            .arg("c")
            .arg(major.to_string())
            .arg(minor.to_string()))?;
    }
    Ok(())
}
