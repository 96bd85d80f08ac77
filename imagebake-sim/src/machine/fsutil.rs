//! Small helpers: running host commands, and reading and writing files inside
//! a machine's root without following its symbolic links out of it.

use std::ffi::OsString;
use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use imagebake_host::process::{Command, Output};
use imagebake_host::root_path;

use super::MachineError;

/// How long one host command (`mount`, `umount`, `cp -a` of a layer, ...)
/// may run before it is killed.
const HOST_COMMAND_TIMEOUT: Duration = Duration::from_secs(300);

/// Runs `cmd` to completion on this (blocking) thread, with a clean
/// environment and [`HOST_COMMAND_TIMEOUT`]; anything but exit status 0 is an
/// error carrying the end of its standard error.
pub(crate) fn run(cmd: Command) -> Result<Output, MachineError> {
    cmd.timeout(HOST_COMMAND_TIMEOUT)
        .checked_blocking()
        .map_err(MachineError::Host)
}

/// The relative, normal components of an absolute path inside a machine
/// (`..` and `.` are refused rather than interpreted).
fn inner_components(path: &Path) -> Result<Vec<OsString>, MachineError> {
    path.components()
        .filter(|c| !matches!(c, Component::RootDir))
        .map(|c| match c {
            Component::Normal(s) => Ok(s.to_owned()),
            _ => Err(MachineError::Path {
                path: path.display().to_string(),
                why: "only plain components are allowed",
            }),
        })
        .collect()
}

/// Writes `contents` to `path` inside `root` with `mode`, creating parent
/// directories (mode 0755, or `dir_mode` for the last one). Refuses a
/// symbolic link anywhere on the way, so a machine cannot make the host write
/// outside its root.
pub(crate) fn write_inside(
    root: &Path,
    path: &Path,
    contents: &[u8],
    mode: u32,
    dir_mode: u32,
) -> Result<(), MachineError> {
    let parts = inner_components(path)?;
    let Some((file, dirs)) = parts.split_last() else {
        return Err(MachineError::Path {
            path: path.display().to_string(),
            why: "no file name",
        });
    };
    let mut at = root.to_path_buf();
    for (i, d) in dirs.iter().enumerate() {
        at.push(d);
        match fs::symlink_metadata(&at) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(MachineError::Path {
                    path: at.display().to_string(),
                    why: "not a directory (or a symbolic link) inside the machine",
                });
            }
            Err(_) => {
                fs::create_dir(&at)
                    .map_err(MachineError::io(format!("creating {}", at.display())))?;
                let m = if i + 1 == dirs.len() { dir_mode } else { 0o755 };
                fs::set_permissions(&at, fs::Permissions::from_mode(m))
                    .map_err(MachineError::io(format!("chmod {}", at.display())))?;
            }
        }
    }
    at.push(file);
    if fs::symlink_metadata(&at).is_ok_and(|m| !m.is_file()) {
        fs::remove_file(&at).map_err(MachineError::io(format!("replacing {}", at.display())))?;
    }
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .custom_flags(O_NOFOLLOW)
        .open(&at)
        .map_err(MachineError::io(format!("writing {}", at.display())))?;
    f.write_all(contents)
        .map_err(MachineError::io(format!("writing {}", at.display())))?;
    fs::set_permissions(&at, fs::Permissions::from_mode(mode))
        .map_err(MachineError::io(format!("chmod {}", at.display())))?;
    Ok(())
}

/// `O_NOFOLLOW` on Linux (all architectures the simulator runs on use this
/// value except alpha, sparc and parisc, which it does not support).
const O_NOFOLLOW: i32 = 0o400_000;

/// The host path of `path` as seen from inside `root`: absolute symbolic
/// links point inside the root and `..` never climbs out of it.
pub(crate) fn resolve_inside(root: &Path, path: &Path) -> Result<PathBuf, MachineError> {
    root_path::resolve(root, path, true).map_err(MachineError::io(format!(
        "resolving {} inside {}",
        path.display(),
        root.display()
    )))
}

/// Reads a regular file at `path` inside `root` (symbolic links resolved
/// inside the root); `None` when it does not exist or is not a regular file.
pub(crate) fn read_inside(root: &Path, path: &Path) -> Result<Option<Vec<u8>>, MachineError> {
    let host = resolve_inside(root, path)?;
    match fs::symlink_metadata(&host) {
        Ok(m) if m.is_file() => fs::read(&host)
            .map(Some)
            .map_err(MachineError::io(format!("reading {}", host.display()))),
        _ => Ok(None),
    }
}

/// Removes `path` if it exists (file or directory tree).
pub(crate) fn remove_if_present(path: &Path) -> Result<(), MachineError> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(_) => return Ok(()),
    }
    .map_err(MachineError::io(format!("removing {}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reading_follows_links_inside_the_root_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        std::os::unix::fs::symlink("/etc/passwd", root.join("pw")).expect("link");
        // The host's /etc/passwd exists; the machine's does not.
        assert_eq!(
            read_inside(root, Path::new("/../../pw")).expect("reads"),
            None
        );
    }

    #[test]
    fn writing_refuses_a_symlinked_directory() {
        let dir = tempfile::tempdir().expect("tempdir");
        let outside = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        std::os::unix::fs::symlink(outside.path(), root.join("root")).expect("link");
        let e = write_inside(root, Path::new("/root/.ssh/k"), b"x", 0o600, 0o700);
        assert!(matches!(e, Err(MachineError::Path { .. })), "{e:?}");
        assert!(fs::read_dir(outside.path()).expect("dir").next().is_none());
        write_inside(root, Path::new("/etc/ssh/cfg"), b"y", 0o644, 0o755).expect("writes");
        assert_eq!(fs::read(root.join("etc/ssh/cfg")).expect("read"), b"y");
    }
}
