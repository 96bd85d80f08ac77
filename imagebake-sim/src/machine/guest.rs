//! What kind of system a seed image presents: the base root filesystem plus
//! a small layer of stand-ins. SmartOS images get `/usr/bin/bash`,
//! `/opt/local` with `pkgin`, `pkg_add`, `pkg_info` and `sm-prepare-image`;
//! Linux images get `/bin/bash`, `apt-get`, `dpkg-query`, `sudo` and the
//! cloud login users (`ubuntu`, `debian`, sharing root's uid). The package
//! tools are one shell script over a small catalogue: installing records
//! the package (as pkgsrc's `+COMMENT` under the package database), listing
//! shows what is recorded, an unknown name fails the way the real tool
//! does. Enough to prove packages landed in an image; not a package
//! manager.

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use super::MachineError;

/// The system a seed image presents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GuestFlavor {
    /// A SmartOS zone: bash, `/opt/local`, pkgsrc's tools.
    SmartOs,
    /// A Debian-like Linux: bash, `apt-get`.
    Linux,
}

impl GuestFlavor {
    /// The directory name of the flavor's layer.
    pub(crate) fn dir_name(self) -> &'static str {
        match self {
            Self::SmartOs => "smartos",
            Self::Linux => "linux",
        }
    }
}

/// `name version description` lines: what the stand-ins can install.
const CATALOGUE: &str = "\
coreutils 9.4 GNU basic file, shell and text manipulation utilities
curl 8.6.0 Command line tool for transferring data with URL syntax
nginx 1.25.4 Lightweight HTTP server and mail proxy server
sudo 1.9.15p5 Allow others to run commands as root
gsed 4.9 GNU implementation of sed, the POSIX stream editor
patch 2.7.6 Patch files using diff output
ca-certificates 20240203 Common CA certificates
jq 1.7.1 Command-line JSON processor
git 2.44.0 Distributed version control system
pkgin 23.8.1 Apt / yum like tool for managing pkgsrc binary packages
pkg_install 20230417 Package management and administration tools for pkgsrc
smtools 20230101 Tools for SmartOS images (sm-prepare-image and friends)
";

/// The one package tool; the wrappers name the tool it plays and where its
/// catalogue and database are.
const PKG_TOOL: &str = r#"#!/bin/sh
# imagebake-sim: a stand-in package tool of the SIMULATED guest, not a
# package manager. Usage: pkg-tool TOOL ARGS (TOOL: pkgin, pkg_add,
# pkg_info, apt-get, dpkg-query); IBS_CATALOGUE and IBS_DB set by the wrapper.
tool=$1; shift
catalogue=${IBS_CATALOGUE:?}
db=${IBS_DB:?}

# name -> "version description", from the catalogue
lookup() {
  while read -r n v d; do
    if [ "$n" = "$1" ]; then echo "$v $d"; return 0; fi
  done < "$catalogue"
  return 1
}

# "nginx>=1.2" or "nginx-1.25.4" -> nginx, when the catalogue knows it
# (not `n`: lookup's `read` sets it)
base_name() {
  b=${1%%[<>=]*}
  if lookup "$b" >/dev/null; then echo "$b"; return 0; fi
  b=${b%-*}
  if lookup "$b" >/dev/null; then echo "$b"; return 0; fi
  return 1
}

unknown() {
  case "$tool" in
    pkgin) echo "pkgin: $1 is not available in the repository" >&2 ;;
    pkg_add) echo "pkg_add: no pkg found for '$1', sorry." >&2 ;;
    apt-get) echo "E: Unable to locate package $1" >&2 ;;
  esac
}

install() {
  bad=0
  for p in "$@"; do
    base_name "$p" >/dev/null || { unknown "$p"; bad=1; }
  done
  if [ "$bad" != 0 ]; then
    [ "$tool" = apt-get ] && exit 100
    exit 1
  fi
  for p in "$@"; do
    n=$(base_name "$p")
    line=$(lookup "$n")
    v=${line%% *}
    d=${line#* }
    mkdir -p "$db/$n-$v"
    printf '%s\n' "$d" > "$db/$n-$v/+COMMENT"
    echo "installing $n-$v..."
  done
}

list() {
  for dir in "$db"/*; do
    [ -f "$dir/+COMMENT" ] || continue
    printf '%s  %s\n' "${dir##*/}" "$(cat "$dir/+COMMENT")"
  done
}

installed() {
  for dir in "$db"/"$1"-*; do
    [ -f "$dir/+COMMENT" ] && return 0
  done
  return 1
}

cmd=
for a in "$@"; do
  case "$a" in -*) ;; *) cmd=$a; break ;; esac
done
args=
for a in "$@"; do
  case "$a" in -*) ;; *) args="$args $a" ;; esac
done
# drop the subcommand from the package words
set -f
set -- $args
set +f

case "$tool" in
  pkgin)
    [ $# -gt 0 ] && shift
    case "$cmd" in
      up|update) echo "reading local summary..."; echo "processing local summary..." ;;
      in|install) install "$@" ;;
      ls|list) list ;;
      av|avail) while read -r n v d; do printf '%s-%s  %s\n' "$n" "$v" "$d"; done < "$catalogue" ;;
      *) echo "pkgin: unknown command: $cmd" >&2; exit 1 ;;
    esac ;;
  pkg_add) install "$@" ;;
  pkg_info)
    case "$1" in
      "") list ;;
      *) for p in "$@"; do installed "$p" || exit 1; done ;;
    esac ;;
  apt-get)
    [ $# -gt 0 ] && shift
    case "$cmd" in
      update) echo "Reading package lists... Done" ;;
      install) install "$@" ;;
      *) echo "E: Invalid operation $cmd" >&2; exit 100 ;;
    esac ;;
  dpkg-query) list ;;
esac
"#;

const SM_PREPARE_IMAGE: &str = r#"#!/bin/sh
# imagebake-sim: stand-in for SmartOS's sm-prepare-image (nothing to clean).
echo "sm-prepare-image: the image is prepared (imagebake simulator)"
"#;

/// `sudo` on Linux images, whose login users are all root (uid 0): the
/// options are dropped and the command runs as is.
const SUDO: &str = r#"#!/bin/sh
# imagebake-sim: the SIMULATED guest's login users are root already (uid 0);
# sudo drops its options and runs the command.
while [ $# -gt 0 ]; do
  case "$1" in
    -u|-g|-p|-C|-h) shift 2 ;;
    --) shift; break ;;
    -*) shift ;;
    *) break ;;
  esac
done
[ $# -gt 0 ] || { echo "usage: sudo command" >&2; exit 1; }
exec "$@"
"#;

/// The login users of Linux images besides root: the distributions' cloud
/// users, sharing root's uid and home (so the keys the cloud injects let
/// them in, and `sudo` needs nothing).
const LINUX_USERS: &str = "ubuntu:x:0:0:Ubuntu:/root:/bin/sh\n\
debian:x:0:0:Debian:/root:/bin/sh\n";

/// bash, played by busybox's shell.
const BASH: &str =
    "#!/bin/sh\n# imagebake-sim: busybox's shell playing bash.\nexec /bin/sh \"$@\"\n";

fn put(dir: &Path, rel: &str, text: &str, mode: u32) -> Result<(), MachineError> {
    let p = dir.join(rel);
    if let Some(parent) = p.parent() {
        fs::create_dir_all(parent)
            .map_err(MachineError::io(format!("creating {}", parent.display())))?;
    }
    fs::write(&p, text).map_err(MachineError::io(format!("writing {}", p.display())))?;
    fs::set_permissions(&p, fs::Permissions::from_mode(mode))
        .map_err(MachineError::io(format!("chmod {}", p.display())))
}

/// Where a flavor keeps its stand-ins.
struct Layout {
    bash: &'static str,
    runner: &'static str,
    catalogue: &'static str,
    db: &'static str,
    /// (tool the runner plays, where its wrapper goes)
    tools: &'static [(&'static str, &'static str)],
}

const SMARTOS: Layout = Layout {
    bash: "/usr/bin/bash",
    runner: "/opt/local/libexec/imagebake-sim/pkg-tool",
    catalogue: "/opt/local/share/imagebake-sim/catalogue",
    db: "/opt/local/pkg",
    tools: &[
        ("pkgin", "/opt/local/bin/pkgin"),
        ("pkg_add", "/opt/local/sbin/pkg_add"),
        ("pkg_info", "/opt/local/sbin/pkg_info"),
    ],
};

const LINUX: Layout = Layout {
    bash: "/bin/bash",
    runner: "/usr/lib/imagebake-sim/pkg-tool",
    catalogue: "/usr/share/imagebake-sim/catalogue",
    db: "/var/lib/imagebake-sim/packages",
    tools: &[
        ("apt-get", "/usr/bin/apt-get"),
        ("dpkg-query", "/usr/bin/dpkg-query"),
    ],
};

/// Writes the layer of `flavor` into `dir` (an empty directory).
pub(crate) fn build(flavor: GuestFlavor, dir: &Path) -> Result<(), MachineError> {
    let l = match flavor {
        GuestFlavor::SmartOs => &SMARTOS,
        GuestFlavor::Linux => &LINUX,
    };
    let rel = |p: &'static str| &p[1..];
    put(dir, rel(l.bash), BASH, 0o755)?;
    put(dir, rel(l.runner), PKG_TOOL, 0o755)?;
    put(dir, rel(l.catalogue), CATALOGUE, 0o644)?;
    for (tool, at) in l.tools {
        let w = format!(
            "#!/bin/sh\nIBS_CATALOGUE={} IBS_DB={} exec {} {tool} \"$@\"\n",
            l.catalogue, l.db, l.runner
        );
        put(dir, rel(at), &w, 0o755)?;
    }
    let db = dir.join(rel(l.db));
    fs::create_dir_all(&db).map_err(MachineError::io(format!("creating {}", db.display())))?;
    if flavor == GuestFlavor::Linux {
        // The FHS directories a Linux image has that busybox's tree lacks.
        for d in ["opt", "srv", "usr/local/bin"] {
            let p = dir.join(d);
            fs::create_dir_all(&p)
                .map_err(MachineError::io(format!("creating {}", p.display())))?;
        }
        put(dir, "usr/bin/sudo", SUDO, 0o755)?;
        put(
            dir,
            "etc/passwd",
            &format!("{}{LINUX_USERS}", super::rootfs::PASSWD),
            0o644,
        )?;
    }
    if flavor == GuestFlavor::SmartOs {
        put(
            dir,
            "opt/local/bin/sm-prepare-image",
            SM_PREPARE_IMAGE,
            0o755,
        )?;
        for (pkg, comment) in [
            (
                "pkgin-23.8.1",
                "Apt / yum like tool for managing pkgsrc binary packages",
            ),
            (
                "pkg_install-20230417",
                "Package management and administration tools for pkgsrc",
            ),
            (
                "smtools-20230101",
                "Tools for SmartOS images (sm-prepare-image and friends)",
            ),
        ] {
            put(
                dir,
                &format!("opt/local/pkg/{pkg}/+COMMENT"),
                &format!("{comment}\n"),
                0o644,
            )?;
        }
        put(
            dir,
            "etc/release",
            "SmartOS x86_64 (imagebake simulator: busybox and stand-ins)\n",
            0o644,
        )?;
    }
    Ok(())
}
