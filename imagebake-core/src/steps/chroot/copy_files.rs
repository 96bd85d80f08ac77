use std::borrow::Cow;
use std::path::{Component, Path, PathBuf};

use async_trait::async_trait;

use super::Mounted;
use crate::{Error, Resource, Step, StepCx};

/// Suffix of the original of a copied file while the copy is in place.
const BACKUP_SUFFIX: &str = ".imagebake-orig";

/// Packer's `copy_files` (default `/etc/resolv.conf`): copies host files to
/// the same path in the root. Unlike Packer, the image's own file (or link)
/// is put back afterwards instead of being lost, and a path whose parent
/// would resolve outside the root (an absolute symbolic link in the image)
/// is refused instead of overwriting a host file.
#[derive(Debug, Clone)]
pub struct CopyFiles {
    files: Vec<PathBuf>,
}

impl CopyFiles {
    /// These host files.
    pub fn new(files: Vec<PathBuf>) -> Self {
        Self { files }
    }
}

/// Where `src` goes inside `root`, with its parent checked to stay inside.
fn destination(root: &Path, src: &Path) -> Result<PathBuf, Error> {
    let rel: PathBuf = src
        .components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .collect();
    if rel.as_os_str().is_empty() || src.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err(Error::Config(format!(
            "copy_files: {} is not an absolute file path",
            src.display()
        )));
    }
    let dst = root.join(&rel);
    let parent = dst.parent().unwrap_or(root);
    let real_root = std::fs::canonicalize(root)
        .map_err(|e| Error::io(format!("resolving {}", root.display()), e))?;
    let outside = |p: &Path, real: &Path| {
        Error::Config(format!(
            "copy_files: {} would be written outside the root ({} resolves to {})",
            src.display(),
            p.display(),
            real.display()
        ))
    };
    // The nearest existing ancestor must resolve inside the root before
    // anything is created (a link in the image must not make host dirs).
    let mut existing = parent;
    while !existing.exists() {
        existing = existing.parent().unwrap_or(root);
    }
    let real = std::fs::canonicalize(existing)
        .map_err(|e| Error::io(format!("resolving {}", existing.display()), e))?;
    if !real.starts_with(&real_root) {
        return Err(outside(existing, &real));
    }
    std::fs::create_dir_all(parent)
        .map_err(|e| Error::io(format!("creating {}", parent.display()), e))?;
    let real_parent = std::fs::canonicalize(parent)
        .map_err(|e| Error::io(format!("resolving {}", parent.display()), e))?;
    if !real_parent.starts_with(&real_root) {
        return Err(outside(parent, &real_parent));
    }
    Ok(real_parent.join(dst.file_name().unwrap_or_default()))
}

pub(super) fn backup_of(dst: &Path) -> PathBuf {
    let mut s = dst.as_os_str().to_owned();
    s.push(BACKUP_SUFFIX);
    PathBuf::from(s)
}

/// Removes the copy and puts the original back.
pub(super) fn restore(dst: &Path, had_original: bool) -> Result<(), Error> {
    match std::fs::remove_file(dst) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io(format!("removing {}", dst.display()), e)),
    }
    if had_original {
        let b = backup_of(dst);
        std::fs::rename(&b, dst)
            .map_err(|e| Error::io(format!("restoring {}", dst.display()), e))?;
    }
    Ok(())
}

#[async_trait]
impl Step<Mounted> for CopyFiles {
    type Out = Mounted;

    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed("copy files")
    }

    async fn run(&self, cx: &StepCx, mut m: Mounted) -> Result<Mounted, Error> {
        for src in &self.files {
            cx.check_cancelled()?;
            let dst = destination(&m.mount_path, src)?;
            let had_original = std::fs::symlink_metadata(&dst).is_ok();
            if had_original {
                std::fs::rename(&dst, backup_of(&dst))
                    .map_err(|e| Error::io(format!("moving {} aside", dst.display()), e))?;
            }
            let d = dst.clone();
            let undo = cx.defer(
                Resource::new("copied file", dst.display().to_string()),
                move |_| async move { restore(&d, had_original) },
            );
            std::fs::copy(src, &dst).map_err(|e| {
                Error::io(format!("copying {} to {}", src.display(), dst.display()), e)
            })?;
            m.copies.push((dst, undo));
        }
        Ok(m)
    }
}

/// Removes the copies of `m` (putting the originals back) and dismisses
/// their undos.
pub(crate) fn remove_copies(cx: &StepCx, m: &mut Mounted) -> Result<(), Error> {
    while let Some((dst, undo)) = m.copies.pop() {
        let had_original = std::fs::symlink_metadata(backup_of(&dst)).is_ok();
        restore(&dst, had_original)?;
        cx.dismiss(undo);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destination_refuses_links_out_of_the_root() {
        let root = tempfile::tempdir().unwrap();
        let host = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(host.path(), root.path().join("etc")).unwrap();
        let e = destination(root.path(), Path::new("/etc/sub/resolv.conf")).unwrap_err();
        assert!(e.to_string().contains("outside the root"), "{e}");
        assert!(
            !host.path().join("sub").exists(),
            "nothing created on the host"
        );
        std::fs::create_dir(root.path().join("usr")).unwrap();
        let d = destination(root.path(), Path::new("/usr/x/f")).unwrap();
        assert!(d.starts_with(std::fs::canonicalize(root.path()).unwrap()));
        assert!(destination(root.path(), Path::new("/")).is_err());
    }
}
