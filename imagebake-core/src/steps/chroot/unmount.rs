use std::borrow::Cow;

use async_trait::async_trait;

use super::copy_files::remove_copies;
use super::{BlockDevice, Mounted, mounts};
use crate::{Error, OutputStream, Step, StepCx};

/// The early cleanup before the disk is imaged: puts back the files
/// `copy_files` replaced, stops what provisioners left running in the
/// chroot, and unmounts everything under the root, deepest first, then the
/// root (dismissing their undos). A lazy unmount is a last resort and is
/// reported as an error: the image could be inconsistent.
#[derive(Debug, Clone, Default)]
pub struct Unmount;

impl Unmount {
    /// The step.
    pub fn new() -> Self {
        Self
    }
}

#[async_trait]
impl Step<Mounted> for Unmount {
    type Out = BlockDevice;

    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed("unmount")
    }

    async fn run(&self, cx: &StepCx, mut m: Mounted) -> Result<BlockDevice, Error> {
        remove_copies(cx, &mut m)?;
        // Sync the root's filesystem (not the whole host) before the
        // unmounts, so the data is on the device whatever happens.
        let root = m.mount_path.to_string_lossy().into_owned();
        let _ = m.host.quiet_run(&["sync", "-f", &root], cx.token()).await;
        let lazy = mounts::unmount_all(&m.host, &m.mount_path, cx.token()).await?;
        for (_, undo) in m.mounts.drain(..) {
            cx.dismiss(undo);
        }
        let _ = tokio::fs::remove_dir(&m.mount_path).await;
        if !lazy.is_empty() {
            let list: Vec<String> = lazy.iter().map(|p| p.display().to_string()).collect();
            cx.output_line(
                OutputStream::Stderr,
                &format!("lazy unmount needed for {}", list.join(", ")),
            );
            return Err(Error::Failed {
                what: "unmounting the chroot".to_owned(),
                state: format!(
                    "busy; only a lazy unmount worked for {} (a process kept it open)",
                    list.join(", ")
                ),
            });
        }
        Ok(BlockDevice { path: m.device })
    }
}
