//! The root test: real block devices behind LinkVolume. As root (as
//! CI runs) it formats, mounts and reads back; without root it checks that
//! LinkVolume fails with a clear error. A guard unmounts whatever is still
//! mounted if an assertion fails; the simulator's drop detaches its loops.

use crate::common::{SnapshotWaits, VolumeWaits};
use crate::common::{available_source_copy, delete_image, delete_snapshot, delete_volume};

use std::path::{Path, PathBuf};
use std::process::Command;

use osc_client::Client;
use osc_client::api::{CreateSnapshotRequest, CreateVolumeRequest};

use imagebake_testing::{is_root, needs_root};

use crate::common::{setup, waits};

/// Unmounts its mount points (lazily) when dropped, even on panic.
#[derive(Default)]
struct MountGuard {
    mounted: Vec<PathBuf>,
    _dirs: Vec<tempfile::TempDir>,
}

impl MountGuard {
    fn mount(&mut self, device: &Path) -> PathBuf {
        let dir = tempfile::tempdir().expect("mount point");
        let at = dir.path().to_path_buf();
        run(Command::new("mount").arg(device).arg(&at));
        self.mounted.push(at.clone());
        self._dirs.push(dir);
        at
    }

    fn umount(&mut self, at: &Path) {
        run(Command::new("umount").arg(at));
        self.mounted.retain(|m| m != at);
    }
}

impl Drop for MountGuard {
    fn drop(&mut self) {
        for m in self.mounted.drain(..).rev() {
            let _ = Command::new("umount").arg("-l").arg(&m).status();
        }
    }
}

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("spawn");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn link(client: &Client, vm: &str, volume: &str, device: &str) {
    client
        .volumes()
        .link(volume, vm, device)
        .await
        .expect("LinkVolume");
    client
        .volumes()
        .wait_linked(volume, &waits())
        .await
        .expect("linked");
}

async fn unlink(client: &Client, volume: &str) {
    client
        .volumes()
        .unlink(volume, false)
        .await
        .expect("UnlinkVolume");
    client
        .volumes()
        .wait_available(volume, &waits())
        .await
        .expect("unlinked");
}

#[tokio::test]
async fn format_mount_write_snapshot_and_find_the_file_again() {
    let (sim, client) = setup().await;
    let vols = client.volumes();
    let blank = vols
        .create(&CreateVolumeRequest::blank(sim.subregion(), 1))
        .await
        .expect("CreateVolume");
    vols.wait_available(&blank.volume_id, &waits())
        .await
        .expect("available");

    if !is_root() {
        let e = vols
            .link(&blank.volume_id, sim.vm_id(), "/dev/xvdf")
            .await
            .expect_err("needs root");
        assert!(e.to_string().contains("needs root"), "{e}");
        vols.delete(&blank.volume_id).await.expect("DeleteVolume");
        sim.shutdown().await;
        return;
    }

    let mut guard = MountGuard::default();
    link(&client, sim.vm_id(), &blank.volume_id, "/dev/xvdf").await;
    let dev = sim.device_path("/dev/xvdf");
    run(Command::new("mkfs.ext4").args(["-F", "-q"]).arg(&dev));
    let at = guard.mount(&dev);
    std::fs::write(at.join("baked.txt"), "baked by imagebake\n").expect("write");
    guard.umount(&at);
    unlink(&client, &blank.volume_id).await;

    let snap = client
        .snapshots()
        .create(&CreateSnapshotRequest::from_volume(&blank.volume_id))
        .await
        .expect("CreateSnapshot");
    client
        .snapshots()
        .wait_completed(&snap.snapshot_id, &waits())
        .await
        .expect("completed");
    let restored = vols
        .create(&CreateVolumeRequest::from_snapshot(
            sim.subregion(),
            &snap.snapshot_id,
        ))
        .await
        .expect("CreateVolume from snapshot");
    vols.wait_available(&restored.volume_id, &waits())
        .await
        .expect("available");
    link(&client, sim.vm_id(), &restored.volume_id, "/dev/xvdg").await;
    let at = guard.mount(&sim.device_path("/dev/xvdg"));
    let text = std::fs::read_to_string(at.join("baked.txt")).expect("the file is back");
    assert_eq!(text, "baked by imagebake\n");
    guard.umount(&at);
    unlink(&client, &restored.volume_id).await;

    for v in [&blank.volume_id, &restored.volume_id] {
        vols.delete(v).await.expect("DeleteVolume");
    }
    delete_snapshot(&client, &snap.snapshot_id).await;
    assert!(
        sim.inventory().await.is_empty(),
        "{:?}",
        sim.inventory().await
    );
    sim.shutdown().await;
}

#[needs_root("loop devices, mount")]
#[tokio::test]
async fn the_public_source_image_boots_a_real_root_filesystem() {
    let (sim, client) = setup().await;
    // As the chroot builder does: copy the public OMI, then use its snapshot.
    let copy = available_source_copy(&sim, &client, "source-copy").await;
    let root = copy.root_mapping().expect("root mapping");
    let snap = root
        .bsu
        .as_ref()
        .and_then(|b| b.snapshot_id.clone())
        .expect("snapshot");
    let mut req = CreateVolumeRequest::from_snapshot(sim.subregion(), &snap);
    req.size = Some(2);
    let v = client.volumes().create(&req).await.expect("CreateVolume");
    client
        .volumes()
        .wait_available(&v.volume_id, &waits())
        .await
        .expect("available");

    let mut guard = MountGuard::default();
    link(&client, sim.vm_id(), &v.volume_id, "/dev/sdh").await;
    let at = guard.mount(&sim.device_path("/dev/sdh"));
    let release = std::fs::read_to_string(at.join("etc/os-release")).expect("os-release");
    assert!(release.contains("ID=debian"), "{release}");
    guard.umount(&at);
    unlink(&client, &v.volume_id).await;

    delete_volume(&client, &v.volume_id).await;
    delete_image(&client, &copy.image_id).await;
    delete_snapshot(&client, &snap).await;
    assert!(sim.inventory().await.is_empty());
    sim.shutdown().await;
}
