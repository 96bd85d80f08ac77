use std::borrow::Cow;
use std::path::PathBuf;

use async_trait::async_trait;

use super::{BlockDevice, HostCommands};
use crate::{Cleanup, Error, Resource, Step, StepCx, UndoHandle};

/// A disk image file attached to a loop device.
#[derive(Debug, Clone)]
pub struct LoopDevice {
    /// The loop device (`/dev/loop3`).
    pub device: BlockDevice,
    /// The image file behind it.
    pub file: PathBuf,
    /// The registered undo (`losetup -d`).
    pub undo: UndoHandle,
}

/// Attaches an image file to a free loop device with
/// `losetup --find --show --partscan FILE`, sent as a create (journaled
/// before it runs; a build killed before the answer leaves a device found
/// again by its backing file); its detach is registered the moment the
/// device is known (it runs after the unmounts, which were registered
/// later).
#[derive(Debug, Clone)]
pub struct AttachLoop {
    host: HostCommands,
}

impl AttachLoop {
    /// Attaches with these host commands.
    pub fn new(host: HostCommands) -> Self {
        Self { host }
    }
}

#[async_trait]
impl Step<PathBuf> for AttachLoop {
    type Out = LoopDevice;

    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed("attach loop device")
    }

    async fn run(&self, cx: &StepCx, file: PathBuf) -> Result<LoopDevice, Error> {
        let f = file.to_string_lossy().into_owned();
        let host = self.host.clone();
        let backed = f.clone();
        let undo_host = self.host.clone();
        let undo_file = f.clone();
        // Journaled before `losetup` runs (a device attached by a build
        // killed before it read the answer is found by its backing file),
        // and never cancelled half-way: an attach whose answer is lost
        // would leak.
        let create = crate::Create::new(
            "loop device",
            Some(f.clone()),
            move || {
                let backed = backed.clone();
                async move { Ok(loops_backed_by(&backed)) }
            },
            move |dev: &String| {
                let (host, d) = (undo_host.clone(), dev.clone());
                Cleanup::always(
                    Resource::new("loop device", dev.clone()).named(undo_file.clone()),
                    move |u| async move { detach(&host, &d, u.token()).await },
                )
            },
        );
        let send = {
            let f = f.clone();
            async move {
                let out = host
                    .run(
                        &["losetup", "--find", "--show", "--partscan", &f],
                        &mut |_, _| {},
                        &tokio_util::sync::CancellationToken::new(),
                    )
                    .await?;
                out.stdout_tail
                    .last()
                    .map(|s| s.trim().to_owned())
                    .filter(|s| s.starts_with("/dev/"))
                    .ok_or_else(|| Error::Config(format!("losetup printed no device for {f}")))
            }
        };
        let made = cx.create(create, send).await?;
        let dev = made.value;
        cx.output_line(
            crate::OutputStream::Stdout,
            &format!("{f} attached to {dev}"),
        );
        cx.check_cancelled()?;
        Ok(LoopDevice {
            device: BlockDevice {
                path: PathBuf::from(dev),
            },
            file,
            undo: made.undo,
        })
    }
}

/// The loop devices (`/dev/loopN`) bound to `file` now.
pub(crate) fn loops_backed_by(file: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/sys/block") else {
        return Vec::new();
    };
    let mut devices: Vec<String> = entries
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(|n| format!("/dev/{n}")))
        .filter(|dev| dev.starts_with("/dev/loop") && backing_file(dev).as_deref() == Some(file))
        .collect();
    devices.sort();
    devices
}

/// The backing file of loop device `dev` (`/dev/loop3`) while it is bound.
pub(super) fn backing_file(dev: &str) -> Option<String> {
    let name = dev.rsplit('/').next()?;
    std::fs::read_to_string(format!("/sys/block/{name}/loop/backing_file"))
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

/// `losetup -d DEV`, then waits until the kernel really released it: a
/// device still open elsewhere (a partition scan, a closing mount) is only
/// marked for auto-clear and stays bound a moment.
pub(crate) async fn detach(
    host: &HostCommands,
    dev: &str,
    cancel: &tokio_util::sync::CancellationToken,
) -> Result<(), Error> {
    if backing_file(dev).is_none() {
        return Ok(());
    }
    if let Err(e) = host.quiet_run(&["losetup", "-d", dev], cancel).await
        && backing_file(dev).is_some()
    {
        return Err(e);
    }
    let opts = imagebake_http::WaitOptions::new(
        std::time::Duration::from_secs(20),
        std::time::Duration::from_millis(100),
    )
    .cancel_on(cancel.clone());
    crate::engine::wait(
        format!("loop device {dev} released"),
        &opts,
        |_, _| {},
        || async {
            Ok::<_, std::io::Error>(match backing_file(dev) {
                None => imagebake_http::Poll::Done(()),
                Some(f) => imagebake_http::Poll::Pending(format!("still bound to {f}")),
            })
        },
    )
    .await
}
