use std::borrow::Cow;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

use async_trait::async_trait;

use super::link_volume::block_devices;
use super::{LinkedVolume, Waits};
use crate::steps::chroot::BlockDevice;
use crate::{Error, Poll, Step, StepCx, UndoHandle};

/// A linked volume whose device node was found; the device lock is released.
#[derive(Debug, Clone)]
pub struct AttachedVolume {
    /// The volume.
    pub volume_id: String,
    /// The API device name (`/dev/xvdf`).
    pub api_device: String,
    /// The node (`/dev/xvdf`, or a link to it named so; `/dev/vdb`, …).
    pub device: BlockDevice,
    /// The registered undo (`UnlinkVolume` and wait).
    pub undo: UndoHandle,
}

/// Waits for the linked volume's device node to appear and finds it,
/// instead of trusting the API's name: the node named like the API device in
/// the device directory (`xvdf`, `sdf` or `vdf`; a link to a block device
/// counts, and is kept as named), or a disk that appeared in `/sys/block`
/// since the link. Then releases the device
/// lock.
#[derive(Debug, Clone)]
pub struct WaitDevice {
    device_dir: PathBuf,
    waits: Waits,
}

impl WaitDevice {
    /// Looks in `device_dir` (`/dev`, or a simulator's device directory).
    pub fn new(device_dir: impl Into<PathBuf>, waits: Waits) -> Self {
        Self {
            device_dir: device_dir.into(),
            waits,
        }
    }
}

fn is_block(p: &Path) -> bool {
    std::fs::metadata(p).is_ok_and(|m| m.file_type().is_block_device())
}

/// Resolves the node for `api_device`, if it exists yet.
fn find(
    dir: &Path,
    api_device: &str,
    before: &std::collections::BTreeSet<String>,
) -> Option<PathBuf> {
    let base = api_device.rsplit('/').next().unwrap_or(api_device);
    let letter = base
        .strip_prefix("xvd")
        .or_else(|| base.strip_prefix("sd"))
        .unwrap_or(base);
    let mut names = vec![base.to_owned()];
    names.extend(["xvd", "sd", "vd"].iter().map(|p| format!("{p}{letter}")));
    for n in names {
        let p = dir.join(&n);
        if is_block(&p) {
            // The name, not the link's target: `{{.Device}}` is `/dev/xvdf`
            // and partition 1 `/dev/xvdf1`, as the plugin's templates expect
            // (`mkfs.ext4 {{.Device}}1`).
            return Some(p);
        }
    }
    if dir == Path::new("/dev") {
        let skip = ["loop", "ram", "zram", "dm-", "md", "nbd", "sr"];
        let new: Vec<String> = block_devices()
            .difference(before)
            .filter(|n| !skip.iter().any(|s| n.starts_with(s)))
            .cloned()
            .collect();
        if let [only] = new.as_slice() {
            let p = Path::new("/dev").join(only);
            if is_block(&p) {
                return Some(p);
            }
        }
    }
    None
}

#[async_trait]
impl Step<LinkedVolume> for WaitDevice {
    type Out = AttachedVolume;

    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed("wait for device")
    }

    async fn run(&self, cx: &StepCx, l: LinkedVolume) -> Result<AttachedVolume, Error> {
        let opts = self.waits.opts(self.waits.device);
        let (dir, api_device, before) = (
            self.device_dir.clone(),
            l.api_device.clone(),
            l.block_before.clone(),
        );
        let node = cx
            .wait_for(
                format!("device node of {} ({})", l.volume_id, l.api_device),
                &opts,
                || {
                    let found = find(&dir, &api_device, &before);
                    async move {
                        Ok::<_, std::io::Error>(match found {
                            Some(p) => Poll::Done(p),
                            None => Poll::Pending("no node yet".to_owned()),
                        })
                    }
                },
            )
            .await?;
        cx.output_line(
            crate::OutputStream::Stdout,
            &format!("{} is {}", l.api_device, node.display()),
        );
        drop(l.lock);
        Ok(AttachedVolume {
            volume_id: l.volume_id,
            api_device: l.api_device,
            device: BlockDevice { path: node },
            undo: l.undo,
        })
    }
}
