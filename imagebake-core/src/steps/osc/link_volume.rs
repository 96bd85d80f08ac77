use std::borrow::Cow;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use osc_client::Client;
use osc_client::api::FiltersVolume;
use osc_client::types::Volume;

use super::{HostVm, Waits, WorkVolume, api, unlink_and_wait};
use crate::steps::chroot::DeviceLockGuard;
use crate::{Error, Poll, Resource, Step, StepCx, UndoHandle};

/// A volume linked to the host VM; the device lock is still held.
#[derive(Debug)]
pub struct LinkedVolume {
    /// The volume.
    pub volume_id: String,
    /// The API device name it was linked as (`/dev/xvdf`).
    pub api_device: String,
    /// The registered undo (`UnlinkVolume` and wait).
    pub undo: UndoHandle,
    /// `/sys/block` entries before the link (to spot the new disk).
    pub block_before: BTreeSet<String>,
    /// The device lock, released once the node is found.
    pub lock: DeviceLockGuard,
}

/// The plugin's StepPrepareDevice and StepLinkVolume, under the device
/// lock: picks a free API device name (`device_path`, or the first of
/// `/dev/xvdf`…`/dev/xvdp` that neither the API nor the device directory
/// shows in use), `LinkVolume`s the volume to the host VM, and waits until
/// it is `in-use` with every link `attached` (`error` fails at once). The
/// unlink is registered before the call, so a lost answer is undone too.
#[derive(Debug, Clone)]
pub struct LinkVolume {
    client: Client,
    device_path: Option<String>,
    device_dir: PathBuf,
    waits: Waits,
}

impl LinkVolume {
    /// Links with `client`; `device_path` forces the API device name;
    /// `device_dir` is where device nodes appear (`/dev`).
    pub fn new(
        client: Client,
        device_path: Option<String>,
        device_dir: impl Into<PathBuf>,
        waits: Waits,
    ) -> Self {
        Self {
            client,
            device_path,
            device_dir: device_dir.into(),
            waits,
        }
    }
}

/// The `/sys/block` entries now.
pub(crate) fn block_devices() -> BTreeSet<String> {
    std::fs::read_dir("/sys/block")
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The letter of an API name (`/dev/xvdf`, `/dev/sdf` → `f`).
fn slot(name: &str) -> Option<&str> {
    name.strip_prefix("/dev/xvd")
        .or_else(|| name.strip_prefix("/dev/sd"))
}

/// Whether a node for slot `l` exists in `dir` under any naming.
fn node_exists(dir: &Path, l: &str) -> bool {
    ["xvd", "sd", "vd"]
        .iter()
        .any(|p| dir.join(format!("{p}{l}")).exists() || dir.join(format!("{p}{l}1")).exists())
}

/// Picks the first free slot from `f` to `p`.
fn choose_device(dir: &Path, used: &BTreeSet<String>) -> Option<String> {
    ('f'..='p')
        .map(|c| c.to_string())
        .find(|l| !used.contains(l) && !node_exists(dir, l))
        .map(|l| format!("/dev/xvd{l}"))
}

#[async_trait]
impl Step<(HostVm, WorkVolume, DeviceLockGuard)> for LinkVolume {
    type Out = LinkedVolume;

    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed("link volume")
    }

    async fn run(
        &self,
        cx: &StepCx,
        (host, volume, lock): (HostVm, WorkVolume, DeviceLockGuard),
    ) -> Result<LinkedVolume, Error> {
        let device = match &self.device_path {
            Some(d) => d.clone(),
            None => {
                let linked = cx
                    .cancellable(self.client.volumes().read(FiltersVolume {
                        link_volume_vm_ids: vec![host.vm_id.clone()],
                        ..FiltersVolume::default()
                    }))
                    .await?
                    .map_err(|e| api("ReadVolumes (devices in use)", e))?;
                let used: BTreeSet<String> = linked
                    .iter()
                    .flat_map(|v| v.linked_volumes.iter())
                    .filter_map(|l| slot(&l.device_name).map(str::to_owned))
                    .collect();
                choose_device(&self.device_dir, &used).ok_or_else(|| {
                    Error::Config("no free device name from /dev/xvdf to /dev/xvdp".into())
                })?
            }
        };
        let block_before = block_devices();
        cx.check_cancelled()?;
        let (c, vid) = (self.client.clone(), volume.volume_id.clone());
        let opts = self.waits.opts(self.waits.volume);
        let undo = cx.defer(
            Resource::new("volume link", volume.volume_id.clone()).named(device.clone()),
            move |u| unlink_and_wait(c, vid, opts.cancel_on(u.token().clone())),
        );
        self.client
            .volumes()
            .link(&volume.volume_id, &host.vm_id, &device)
            .await
            .map_err(|e| api(format!("LinkVolume {} as {device}", volume.volume_id), e))?;
        let client = self.client.clone();
        let id = volume.volume_id.clone();
        let opts = self
            .waits
            .learning(self.waits.volume, &self.client, "osc volume link", 0);
        cx.wait_for(format!("volume {id} linked"), &opts, || {
            let (client, id) = (client.clone(), id.clone());
            async move {
                let v = client.volumes().find(&id).await?;
                Ok::<_, osc_client::Error>(Poll::found(v, Volume::toward_linked).map(drop))
            }
        })
        .await?;
        Ok(LinkedVolume {
            volume_id: volume.volume_id,
            api_device: device,
            undo,
            block_before,
            lock,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chooses_first_free_slot() {
        let dir = tempfile::tempdir().unwrap();
        let used: BTreeSet<String> = ["f".to_owned()].into();
        std::fs::write(dir.path().join("xvdg"), "").unwrap();
        std::fs::write(dir.path().join("vdh1"), "").unwrap();
        assert_eq!(
            choose_device(dir.path(), &used).as_deref(),
            Some("/dev/xvdi")
        );
        assert_eq!(slot("/dev/sdf"), Some("f"));
    }
}
