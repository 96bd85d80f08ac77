//! The seeded account: the host VM with its root volume, the seed disk (a
//! real ext4 image) as the Outscale account's snapshot, and two public images.

use std::path::Path;

use serde_json::json;

use super::blockdev;
use super::state::{
    ImageRec, Link, LinkPhase, OUTSCALE_ACCOUNT_ID, OUTSCALE_ALIAS, Perms, Phase, SnapshotRec,
    State, VmRec, VolumeRec,
};

/// Seeds the host VM, its root volume, the seed disk snapshot and two public images.
pub(crate) async fn seed(
    st: &mut State,
    data_dir: &Path,
    subregion: &str,
    seed_bytes: u64,
) -> std::io::Result<(String, String)> {
    let now = tokio::time::Instant::now();
    let snap_id = st.id("snap");
    let file = data_dir.join("snapshots").join(format!("{snap_id}.img"));
    blockdev::make_seed_disk(&file, seed_bytes, data_dir).await?;
    st.snapshots.insert(
        snap_id.clone(),
        SnapshotRec {
            id: snap_id.clone(),
            volume_id: None,
            volume_size: seed_bytes.div_ceil(blockdev::GIB).max(1),
            owner: OUTSCALE_ACCOUNT_ID.to_owned(),
            alias: Some(OUTSCALE_ALIAS.to_owned()),
            description: "Debian 12 root disk".to_owned(),
            created: "2026-01-15T00:00:00.000Z".to_owned(),
            client_token: None,
            phase: Phase::Done,
            ready_at: now,
            fail: false,
            perms: Perms::default(),
            file,
            seed: true,
        },
    );
    let mut newest = String::new();
    for (name, date) in [
        ("Debian-12-2025.06.01-0", "2025-06-01T00:00:00.000Z"),
        ("Debian-12-2026.01.15-0", "2026-01-15T00:00:00.000Z"),
    ] {
        let id = st.id("ami");
        st.images.insert(
            id.clone(),
            ImageRec {
                id: id.clone(),
                name: name.to_owned(),
                owner: OUTSCALE_ACCOUNT_ID.to_owned(),
                alias: Some(OUTSCALE_ALIAS.to_owned()),
                description: "Debian 12 (simulated)".to_owned(),
                architecture: "x86_64".to_owned(),
                root_device_name: "/dev/sda1".to_owned(),
                mappings: vec![json!({
                    "DeviceName": "/dev/sda1",
                    "Bsu": {"SnapshotId": snap_id, "VolumeSize": 1, "VolumeType": "standard", "DeleteOnVmDeletion": true},
                })],
                boot_modes: vec!["legacy".to_owned()],
                product_codes: vec!["0001".to_owned()],
                tpm_mandatory: false,
                created: date.to_owned(),
                phase: Phase::Done,
                ready_at: now,
                fail: false,
                perms: Perms {
                    account_ids: Vec::new(),
                    global: true,
                },
                seed: true,
            },
        );
        newest = id;
    }
    let vm_id = st.id("i");
    let root_id = st.id("vol");
    st.volumes.insert(
        root_id.clone(),
        VolumeRec {
            id: root_id,
            size: 10,
            volume_type: "standard".to_owned(),
            iops: None,
            snapshot_id: Some(snap_id),
            subregion: subregion.to_owned(),
            created: "2026-02-01T00:00:00.000Z".to_owned(),
            client_token: None,
            phase: Phase::Done,
            ready_at: now,
            fail: false,
            link: Some(Link {
                vm_id: vm_id.clone(),
                device_name: "/dev/sda1".to_owned(),
                phase: LinkPhase::Attached,
                ready_at: now,
                fail: false,
                loop_dev: None,
                links: Vec::new(),
                date: "2026-02-01T00:00:00.000Z".to_owned(),
            }),
            file: None,
            seed: true,
        },
    );
    st.vms.insert(
        vm_id.clone(),
        VmRec {
            id: vm_id.clone(),
            image_id: newest.clone(),
            subregion: subregion.to_owned(),
            created: "2026-02-01T00:00:00.000Z".to_owned(),
        },
    );
    Ok((vm_id, newest))
}
