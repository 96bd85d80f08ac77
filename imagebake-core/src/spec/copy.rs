//! The `copy/` overlay: what it holds, checked before anything is created.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use super::SpecError;

/// What one `copy/` entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyKind {
    /// A directory (created on the image when missing, with its mode).
    Dir,
    /// A regular file (copied with its mode).
    File,
    /// A symbolic link (recreated as it is).
    Symlink,
}

/// One entry of `copy/`: its path relative to `copy/` (so to `/` on the
/// image), its kind and its permission bits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyEntry {
    /// The `/`-separated path under `copy/`, without a leading `/`.
    pub path: String,
    /// File, directory or link.
    pub kind: CopyKind,
    /// Permission bits (`0o7777` mask).
    pub mode: u32,
}

/// Lists `dir` (a spec's `copy/`) parents first, sorted by name. Names must
/// be UTF-8 without control characters; devices, sockets and FIFOs are
/// refused.
pub fn walk_copy(dir: &Path) -> Result<Vec<CopyEntry>, SpecError> {
    let mut out = Vec::new();
    walk(dir, "", &mut out)?;
    Ok(out)
}

fn walk(dir: &Path, prefix: &str, out: &mut Vec<CopyEntry>) -> Result<(), SpecError> {
    let rd =
        std::fs::read_dir(dir).map_err(|e| SpecError::file(dir, format!("cannot list: {e}")))?;
    let mut names: Vec<(String, PathBuf)> = Vec::new();
    for ent in rd {
        let ent = ent.map_err(|e| SpecError::file(dir, format!("cannot list: {e}")))?;
        let path = ent.path();
        let Some(name) = ent.file_name().to_str().map(str::to_owned) else {
            return Err(SpecError::file(&path, "the name is not UTF-8"));
        };
        if name.chars().any(char::is_control) {
            return Err(SpecError::file(&path, "the name holds a control character"));
        }
        names.push((name, path));
    }
    names.sort();
    for (name, path) in names {
        let meta = std::fs::symlink_metadata(&path)
            .map_err(|e| SpecError::file(&path, format!("cannot read: {e}")))?;
        let ft = meta.file_type();
        let kind = if ft.is_dir() {
            CopyKind::Dir
        } else if ft.is_file() {
            CopyKind::File
        } else if ft.is_symlink() {
            CopyKind::Symlink
        } else {
            return Err(SpecError::file(
                &path,
                "is not a file, directory or symbolic link",
            ));
        };
        let rel = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        out.push(CopyEntry {
            path: rel.clone(),
            kind,
            mode: meta.permissions().mode() & 0o7777,
        });
        if kind == CopyKind::Dir {
            walk(&path, &rel, out)?;
        }
    }
    Ok(())
}
