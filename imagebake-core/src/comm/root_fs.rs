//! File operations inside a chroot's root directory, as the chroot sees them:
//! absolute symbolic links point inside the root and `..` never climbs out of
//! it, so an upload to `/lib/x` where `/lib -> /usr/lib` lands in
//! `ROOT/usr/lib/x`, never in the host's `/usr/lib` (resolved by
//! [`imagebake_host::root_path`]). Blocking; run them on a blocking thread.

use std::fs;
use std::io;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};

use imagebake_host::root_path;
use tokio_util::sync::CancellationToken;

use crate::Error;

fn io_err(what: impl FnOnce() -> String) -> impl FnOnce(io::Error) -> Error {
    move |e| Error::io(what(), e)
}

fn set_mode(path: &Path, mode: u32) -> Result<(), Error> {
    fs::set_permissions(path, fs::Permissions::from_mode(mode & 0o7777)).map_err(io_err(|| {
        format!("setting mode {mode:o} on {}", path.display())
    }))
}

fn create_parent(path: &Path) -> Result<(), Error> {
    match path.parent() {
        Some(parent) => fs::create_dir_all(parent).map_err(io_err(|| {
            format!("creating directory {}", parent.display())
        })),
        None => Ok(()),
    }
}

fn resolve_err(root: &Path, path: &Path, follow_last: bool) -> Result<PathBuf, Error> {
    root_path::resolve(root, path, follow_last).map_err(io_err(|| {
        format!("resolving {} in chroot {}", path.display(), root.display())
    }))
}

/// Writes `bytes` to `dst` inside `root` with `mode`.
pub(crate) fn write_bytes(root: &Path, dst: &Path, bytes: &[u8], mode: u32) -> Result<(), Error> {
    let target = resolve_err(root, dst, true)?;
    create_parent(&target)?;
    fs::write(&target, bytes).map_err(io_err(|| format!("writing {}", target.display())))?;
    set_mode(&target, mode)
}

/// Copies the host file `src` to `dst` inside `root`, with `mode` or the
/// source's mode.
pub(crate) fn copy_file(
    root: &Path,
    src: &Path,
    dst: &Path,
    mode: Option<u32>,
) -> Result<(), Error> {
    let meta = fs::metadata(src).map_err(io_err(|| format!("reading {}", src.display())))?;
    if !meta.is_file() {
        return Err(Error::Config(format!(
            "upload source {} is not a file",
            src.display()
        )));
    }
    let target = resolve_err(root, dst, true)?;
    if target.is_dir() {
        return Err(Error::Config(format!(
            "upload destination {} is a directory; name the file",
            dst.display()
        )));
    }
    create_parent(&target)?;
    fs::copy(src, &target).map_err(io_err(|| {
        format!("copying {} to {}", src.display(), target.display())
    }))?;
    set_mode(&target, mode.unwrap_or(meta.permissions().mode()))
}

/// Copies the contents of the host directory `src` into `dst` inside `root`,
/// preserving modes and recreating symbolic links.
pub(crate) fn copy_tree(
    root: &Path,
    src: &Path,
    dst: &Path,
    cancel: &CancellationToken,
) -> Result<(), Error> {
    let meta = fs::metadata(src).map_err(io_err(|| format!("reading {}", src.display())))?;
    if !meta.is_dir() {
        return Err(Error::Config(format!(
            "upload source {} is not a directory",
            src.display()
        )));
    }
    copy_dir(root, src, dst, meta.permissions().mode(), cancel)
}

fn copy_dir(
    root: &Path,
    src: &Path,
    dst: &Path,
    mode: u32,
    cancel: &CancellationToken,
) -> Result<(), Error> {
    let target = resolve_err(root, dst, true)?;
    fs::create_dir_all(&target).map_err(io_err(|| {
        format!("creating directory {}", target.display())
    }))?;
    // Writable while filling it; its own mode is set once its children are in.
    set_mode(&target, 0o700)?;
    let entries = fs::read_dir(src).map_err(io_err(|| format!("listing {}", src.display())))?;
    for entry in entries {
        if cancel.is_cancelled() {
            return Err(Error::cancelled(format!("uploading {}", src.display())));
        }
        let entry = entry.map_err(io_err(|| format!("listing {}", src.display())))?;
        let from = entry.path();
        let to = dst.join(entry.file_name());
        let meta = fs::symlink_metadata(&from)
            .map_err(io_err(|| format!("reading {}", from.display())))?;
        let ft = meta.file_type();
        if ft.is_dir() {
            copy_dir(root, &from, &to, meta.permissions().mode(), cancel)?;
        } else if ft.is_file() {
            copy_file(root, &from, &to, Some(meta.permissions().mode()))?;
        } else if ft.is_symlink() {
            let link = fs::read_link(&from)
                .map_err(io_err(|| format!("reading link {}", from.display())))?;
            let t = resolve_err(root, &to, false)?;
            match fs::symlink_metadata(&t) {
                Ok(m) if m.is_dir() => {
                    return Err(Error::Config(format!(
                        "cannot replace directory {} with a symbolic link",
                        to.display()
                    )));
                }
                Ok(_) => {
                    fs::remove_file(&t).map_err(io_err(|| format!("replacing {}", t.display())))?
                }
                Err(_) => {}
            }
            symlink(&link, &t).map_err(io_err(|| format!("creating link {}", t.display())))?;
        } else {
            return Err(Error::Config(format!(
                "cannot upload {}: not a file, directory or symbolic link",
                from.display()
            )));
        }
    }
    set_mode(&target, mode)
}

/// Copies `src` inside `root` to the host path `dst`.
pub(crate) fn download(root: &Path, src: &Path, dst: &Path) -> Result<(), Error> {
    let from = resolve_err(root, src, true)?;
    if !from.is_file() {
        return Err(Error::Config(format!(
            "download source {} is not a file",
            src.display()
        )));
    }
    create_parent(dst)?;
    fs::copy(&from, dst).map_err(io_err(|| {
        format!("copying {} to {}", from.display(), dst.display())
    }))?;
    Ok(())
}
