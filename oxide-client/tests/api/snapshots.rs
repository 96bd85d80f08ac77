use futures::TryStreamExt;
use imagebake_sim::Fault;
use oxide_client::{ListOptions, SnapshotCreate, SnapshotState};

use crate::common::{client, project, sim};
use crate::instances::{build_instance, delete_instance};

#[tokio::test]
async fn snapshot_a_running_instance_disk_view_list_delete() {
    let sim = sim().await;
    let c = client(&sim);
    let p = project();
    let (i, disk) = build_instance(&c, "snapper").await;
    // The disk may stay attached to a running instance.
    let s = c
        .snapshot_create(&p, &SnapshotCreate::new("snap-1", "snapper"))
        .await
        .unwrap();
    assert_eq!(s.state, SnapshotState::Ready);
    assert_eq!(s.disk_id, disk);
    let again = c
        .snapshot_create(&p, &SnapshotCreate::new("snap-1", disk))
        .await
        .unwrap_err();
    assert_eq!(again.error_code(), Some("ObjectAlreadyExists"));
    let by_name = c.snapshot_view("snap-1", Some(&p)).await.unwrap();
    assert_eq!(by_name, s);
    let listed: Vec<_> = c
        .snapshot_list(&p, ListOptions::default())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(listed, vec![s.clone()]);
    c.snapshot_delete("snap-1", Some(&p)).await.unwrap();
    assert!(
        c.snapshot_view(s.id, None)
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(sim.inventory().snapshots.is_empty());
    delete_instance(&c, i.id).await;
}

#[tokio::test]
async fn an_injected_snapshot_failure_shows_as_faulted() {
    let sim = sim().await;
    let c = client(&sim);
    let (i, disk) = build_instance(&c, "faulty").await;
    sim.faults()
        .inject("snapshot_create", Fault::FailResource, 1);
    let s = c
        .snapshot_create(&project(), &SnapshotCreate::new("bad", disk))
        .await
        .unwrap();
    assert_eq!(s.state, SnapshotState::Faulted);
    c.snapshot_delete(s.id, None).await.unwrap();
    delete_instance(&c, i.id).await;
}
