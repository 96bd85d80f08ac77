//! Small helpers: running host commands, and reading and writing files inside
//! a machine's root without following its symbolic links out of it.

use std::ffi::OsString;
use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Output};

use super::MachineError;

/// Symbolic links followed in one path before giving up (Linux's limit).
const MAX_LINKS: u32 = 40;

/// Runs `cmd` to completion; a non-zero exit is an error carrying the end of
/// its standard error.
pub(crate) fn run(cmd: &mut Command) -> Result<Output, MachineError> {
    let line = command_line(cmd);
    let out = cmd
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(MachineError::io(format!("running `{line}`")))?;
    if out.status.success() {
        return Ok(out);
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
    Err(MachineError::Command {
        command: line,
        status: out.status.to_string(),
        stderr: tail.into_iter().rev().collect::<Vec<_>>().join(" / "),
    })
}

fn command_line(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|s| s.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
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
    let mut pending: Vec<OsString> = reversed(path);
    let mut done: Vec<OsString> = Vec::new();
    let mut links = 0u32;
    while let Some(c) = pending.pop() {
        if c == ".." {
            done.pop();
            continue;
        }
        let mut candidate = root.to_path_buf();
        candidate.extend(&done);
        candidate.push(&c);
        match fs::symlink_metadata(&candidate) {
            Ok(m) if m.file_type().is_symlink() => {
                links += 1;
                if links > MAX_LINKS {
                    return Err(MachineError::Path {
                        path: candidate.display().to_string(),
                        why: "too many levels of symbolic links",
                    });
                }
                let target = fs::read_link(&candidate).map_err(MachineError::io(format!(
                    "reading link {}",
                    candidate.display()
                )))?;
                if target.is_absolute() {
                    done.clear();
                }
                pending.extend(reversed(&target));
            }
            _ => done.push(c),
        }
    }
    let mut out = root.to_path_buf();
    out.extend(done);
    Ok(out)
}

fn reversed(p: &Path) -> Vec<OsString> {
    let mut v: Vec<OsString> = p
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_owned()),
            Component::ParentDir => Some(OsString::from("..")),
            _ => None,
        })
        .collect();
    v.reverse();
    v
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
    fn resolving_keeps_links_inside_the_root() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        fs::create_dir_all(root.join("usr/lib")).expect("mkdir");
        std::os::unix::fs::symlink("/usr/lib", root.join("lib")).expect("link");
        std::os::unix::fs::symlink("/etc/passwd", root.join("pw")).expect("link");
        assert_eq!(
            resolve_inside(root, Path::new("/lib/x")).expect("resolves"),
            root.join("usr/lib/x")
        );
        assert_eq!(
            resolve_inside(root, Path::new("/../../pw")).expect("resolves"),
            root.join("etc/passwd")
        );
        assert_eq!(read_inside(root, Path::new("/pw")).expect("reads"), None);
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
