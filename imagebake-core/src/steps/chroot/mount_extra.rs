use std::borrow::Cow;
use std::path::{Component, Path, PathBuf};

use async_trait::async_trait;

use super::{Mounted, mounts};
use crate::{Error, OutputStream, Resource, Step, StepCx};

/// One of Packer's `chroot_mounts`: `[fstype, source, target]`, `bind` as
/// the type meaning `mount --bind`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChrootMount {
    /// Filesystem type (`proc`, `sysfs`, `bind`, `devpts`, `binfmt_misc`, …).
    pub fstype: String,
    /// Source (`proc`, `/dev`, …).
    pub source: String,
    /// Target inside the root (`/proc`).
    pub target: String,
}

impl ChrootMount {
    /// A mount from its three parts.
    pub fn new(fstype: &str, source: &str, target: &str) -> Self {
        Self {
            fstype: fstype.to_owned(),
            source: source.to_owned(),
            target: target.to_owned(),
        }
    }

    /// From a Packer `[fstype, source, target]` triple; anything else is an error.
    pub fn from_triple(v: &[String]) -> Result<Self, Error> {
        match v {
            [t, s, d] => Ok(Self::new(t, s, d)),
            _ => Err(Error::Config(format!(
                "chroot_mounts: each entry needs exactly 3 items [fstype, source, target], not {v:?}"
            ))),
        }
    }
}

/// Packer's five default `chroot_mounts`: `/proc`, `/sys`, `/dev` (bind),
/// `/dev/pts`, `/proc/sys/fs/binfmt_misc`.
pub fn default_chroot_mounts() -> Vec<ChrootMount> {
    vec![
        ChrootMount::new("proc", "proc", "/proc"),
        ChrootMount::new("sysfs", "sysfs", "/sys"),
        ChrootMount::new("bind", "/dev", "/dev"),
        ChrootMount::new("devpts", "devpts", "/dev/pts"),
        ChrootMount::new("binfmt_misc", "binfmt_misc", "/proc/sys/fs/binfmt_misc"),
    ]
}

/// Mounts the `chroot_mounts` inside the root, in order, each registering
/// its unmount at once (they run in reverse order). `binfmt_misc` is
/// skipped, with a message, when the host cannot mount it.
#[derive(Debug, Clone)]
pub struct MountExtra {
    mounts: Vec<ChrootMount>,
}

impl MountExtra {
    /// These mounts.
    pub fn new(mounts: Vec<ChrootMount>) -> Self {
        Self { mounts }
    }
}

/// `root` + `target`, refusing `..` (a target must stay inside the root).
fn inside(root: &Path, target: &str) -> Result<PathBuf, Error> {
    let rel = Path::new(target.trim_start_matches('/'));
    if rel.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err(Error::Config(format!(
            "chroot_mounts: target {target:?} leaves the root"
        )));
    }
    Ok(root.join(rel))
}

#[async_trait]
impl Step<Mounted> for MountExtra {
    type Out = Mounted;

    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed("chroot mounts")
    }

    async fn run(&self, cx: &StepCx, mut m: Mounted) -> Result<Mounted, Error> {
        for mnt in &self.mounts {
            let dst = inside(&m.mount_path, &mnt.target)?;
            let d = dst.to_string_lossy().into_owned();
            let optional = mnt.fstype == "binfmt_misc";
            if optional && !dst.is_dir() {
                // /proc inside the root shows it only when the kernel has it.
                cx.output_line(
                    OutputStream::Stderr,
                    &format!("skipping binfmt_misc: {d} does not exist on this host"),
                );
                continue;
            }
            if !optional {
                m.host.step_run(cx, &["mkdir", "-p", &d]).await?;
            }
            let args: Vec<&str> = if mnt.fstype == "bind" {
                vec!["mount", "--bind", &mnt.source, &d]
            } else {
                vec!["mount", "-t", &mnt.fstype, &mnt.source, &d]
            };
            let (host, path, root) = (m.host.clone(), dst.clone(), m.mount_path.clone());
            let undo = cx.defer(
                Resource::new("mount", d.clone()).named(mnt.fstype.clone()),
                move |u| async move {
                    mounts::unmount(&host, &path, &root, u.token()).await?;
                    Ok(())
                },
            );
            match m.host.step_run(cx, &args).await {
                Ok(_) => m.mounts.push((dst, undo)),
                Err(e) if optional && !e.is_cancelled() => {
                    cx.dismiss(undo);
                    cx.output_line(
                        OutputStream::Stderr,
                        &format!("skipping binfmt_misc, the host cannot mount it: {e}"),
                    );
                }
                Err(e) => return Err(e),
            }
        }
        Ok(m)
    }
}
