use crate::common::{SnapshotWaits, VolumeWaits};
use crate::common::{available_blank_volume, delete_snapshot, delete_volume};
use imagebake_sim::Fault;
use osc_client::api::{CreateSnapshotRequest, CreateVolumeRequest, FiltersSnapshot};
use osc_client::types::{Permissions, PermissionsChange, SnapshotState};

use crate::common::{setup, waits};

#[tokio::test]
async fn snapshot_lifecycle_permissions_and_volume_from_it() {
    let (sim, client) = setup().await;
    let v = available_blank_volume(&sim, &client).await;

    let mut req = CreateSnapshotRequest::from_volume(&v.volume_id);
    req.description = Some("imagebake test".into());
    let s = client
        .snapshots()
        .create(&req)
        .await
        .expect("CreateSnapshot");
    assert_eq!(s.state, Some(SnapshotState::Pending));
    let s = client
        .snapshots()
        .wait_completed(&s.snapshot_id, &waits())
        .await
        .expect("completed");
    assert_eq!(s.progress, Some(100));
    assert_eq!(s.volume_id.as_deref(), Some(v.volume_id.as_str()));
    assert_eq!(s.account_id.as_deref(), Some(sim.account_id()));

    let updated = client
        .snapshots()
        .update_permissions(
            &s.snapshot_id,
            PermissionsChange::add(Permissions::accounts(["111122223333"])),
        )
        .await
        .expect("UpdateSnapshot")
        .expect("snapshot");
    assert_eq!(
        updated
            .permissions_to_create_volume
            .expect("perms")
            .account_ids,
        vec!["111122223333"]
    );
    let f = FiltersSnapshot {
        permissions_to_create_volume_account_ids: vec!["111122223333".into()],
        descriptions: vec!["imagebake*".into()],
        ..FiltersSnapshot::default()
    };
    assert_eq!(
        client
            .snapshots()
            .read(f)
            .await
            .expect("ReadSnapshots")
            .len(),
        1
    );

    let copy = client
        .volumes()
        .create(&CreateVolumeRequest::from_snapshot(
            sim.subregion(),
            &s.snapshot_id,
        ))
        .await
        .expect("CreateVolume from snapshot");
    assert_eq!(copy.snapshot_id.as_deref(), Some(s.snapshot_id.as_str()));
    assert_eq!(copy.size, 1);
    client
        .volumes()
        .wait_available(&copy.volume_id, &waits())
        .await
        .expect("available");

    for id in [&v.volume_id, &copy.volume_id] {
        delete_volume(&client, id).await;
    }
    delete_snapshot(&client, &s.snapshot_id).await;
    assert!(
        client
            .snapshots()
            .find(&s.snapshot_id)
            .await
            .expect("read")
            .is_none()
    );
    assert!(sim.inventory().await.is_empty());
    sim.shutdown().await;
}

#[tokio::test]
async fn a_failed_snapshot_ends_the_wait_and_others_snapshots_are_hidden() {
    let (sim, client) = setup().await;
    let v = available_blank_volume(&sim, &client).await;
    sim.faults()
        .inject("CreateSnapshot", Fault::FailResource, 1);
    let s = client
        .snapshots()
        .create(&CreateSnapshotRequest::from_volume(&v.volume_id))
        .await
        .expect("CreateSnapshot");
    let err = client
        .snapshots()
        .wait_completed(&s.snapshot_id, &waits())
        .await
        .expect_err("error state");
    assert!(err.to_string().contains("failed state"), "{err}");

    // The public image's snapshot belongs to the Outscale account: not visible.
    let image = client
        .images()
        .find(sim.source_image_id())
        .await
        .expect("read")
        .expect("seed");
    let seed_snap = image.snapshot_ids()[0].to_owned();
    assert!(
        client
            .snapshots()
            .find(&seed_snap)
            .await
            .expect("read")
            .is_none()
    );
    let e = client
        .volumes()
        .create(&CreateVolumeRequest::from_snapshot(
            sim.subregion(),
            &seed_snap,
        ))
        .await
        .expect_err("not ours");
    assert!(e.is_not_found());

    delete_snapshot(&client, &s.snapshot_id).await;
    delete_volume(&client, &v.volume_id).await;
    assert!(sim.inventory().await.is_empty());
    sim.shutdown().await;
}
