use crate::common::VolumeWaits;
use crate::common::{blank_volume, delete_volume};
use imagebake_http::WaitError;
use imagebake_sim::Fault;
use osc_client::Error;
use osc_client::api::{CreateVolumeRequest, FiltersVolume};
use osc_client::types::{VolumeState, VolumeType};

use imagebake_testing::is_root;

use crate::common::{setup, waits};

#[tokio::test]
async fn create_wait_find_filter_delete() {
    let (sim, client) = setup().await;
    let vols = client.volumes();
    let mut req = CreateVolumeRequest::blank(sim.subregion(), 2);
    req.volume_type = Some(VolumeType::Gp2);
    let v = vols.create(&req).await.expect("CreateVolume");
    assert_eq!(v.state, Some(VolumeState::Creating));
    assert_eq!(v.size, 2);
    assert!(v.client_token.is_some(), "the client sends a ClientToken");
    let v = vols
        .wait_available(&v.volume_id, &waits())
        .await
        .expect("available");
    assert_eq!(v.state, Some(VolumeState::Available));
    assert_eq!(v.volume_type, Some(VolumeType::Gp2));

    let f = FiltersVolume {
        volume_types: vec!["gp2".into()],
        volume_states: vec!["available".into()],
        ..FiltersVolume::default()
    };
    let found = vols.read(f).await.expect("ReadVolumes");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].volume_id, v.volume_id);

    vols.delete(&v.volume_id).await.expect("DeleteVolume");
    assert_eq!(vols.find(&v.volume_id).await.expect("ReadVolumes"), None);
    assert!(sim.inventory().await.is_empty());
    sim.shutdown().await;
}

#[tokio::test]
async fn create_is_validated_with_real_codes() {
    let (sim, client) = setup().await;
    let vols = client.volumes();
    let code = |e: Error| e.code().map(str::to_owned);

    let e = vols
        .create(&CreateVolumeRequest::blank("mars-1a", 1))
        .await
        .expect_err("zone");
    assert_eq!(code(e), Some("4081".into()));
    let mut req = CreateVolumeRequest::blank(sim.subregion(), 10);
    req.iops = Some(500);
    let e = vols.create(&req).await.expect_err("iops on standard");
    assert_eq!(code(e), Some("4029".into()));
    let mut req = CreateVolumeRequest::blank(sim.subregion(), 1);
    req.size = None;
    let e = vols.create(&req).await.expect_err("size");
    assert_eq!(code(e), Some("7000".into()));
    let e = vols
        .create(&CreateVolumeRequest::from_snapshot(
            sim.subregion(),
            "snap-00000bad",
        ))
        .await
        .expect_err("snapshot");
    assert!(e.is_not_found(), "{e}");
    assert!(sim.inventory().await.is_empty());
    sim.shutdown().await;
}

#[tokio::test]
async fn a_failed_volume_ends_the_wait_at_once() {
    let (sim, client) = setup().await;
    sim.faults().inject("CreateVolume", Fault::FailResource, 1);
    let v = blank_volume(&sim, &client).await;
    let err = client
        .volumes()
        .wait_available(&v.volume_id, &waits())
        .await
        .expect_err("error state");
    assert!(
        matches!(err, WaitError::Failed { ref state, .. } if state == "error"),
        "{err:?}"
    );
    delete_volume(&client, &v.volume_id).await;
    sim.shutdown().await;
}

#[tokio::test]
async fn link_rules_device_names_conflicts_and_unlink() {
    let (sim, client) = setup().await;
    let vols = client.volumes();
    let a = vols
        .create(&CreateVolumeRequest::blank(sim.subregion(), 1))
        .await
        .expect("a");
    let b = vols
        .create(&CreateVolumeRequest::blank(sim.subregion(), 1))
        .await
        .expect("b");
    vols.wait_available(&a.volume_id, &waits())
        .await
        .expect("a available");
    vols.wait_available(&b.volume_id, &waits())
        .await
        .expect("b available");

    for bad in ["/dev/sda1", "/dev/vdf", "/dev/xvda", "/dev/xvdf1"] {
        let e = vols
            .link(&a.volume_id, sim.vm_id(), bad)
            .await
            .expect_err(bad);
        assert_eq!(e.code(), Some("4019"), "{bad}: {e}");
        assert_eq!(e.status(), Some(400));
    }
    let e = vols
        .link(&a.volume_id, "i-00000bad", "/dev/xvdf")
        .await
        .expect_err("vm");
    assert_eq!(e.code(), Some("5063"));
    let e = vols
        .unlink(&a.volume_id, false)
        .await
        .expect_err("not linked");
    assert_eq!((e.status(), e.code()), (Some(409), Some("9063")));

    if is_root() {
        vols.link(&a.volume_id, sim.vm_id(), "/dev/xvdf")
            .await
            .expect("LinkVolume");
        let linked = vols
            .wait_linked(&a.volume_id, &waits())
            .await
            .expect("linked");
        assert_eq!(linked.linked_volumes[0].device_name, "/dev/xvdf");
        let inv = sim.inventory().await;
        assert_eq!(inv.loop_devices.len(), 1);
        let target = std::fs::read_link(sim.device_path("/dev/xvdf")).expect("device link");
        assert_eq!(target.to_str(), Some(inv.loop_devices[0].as_str()));

        let e = vols
            .link(&b.volume_id, sim.vm_id(), "/dev/sdf")
            .await
            .expect_err("conflict");
        assert_eq!((e.status(), e.code()), (Some(409), Some("9003")));
        let e = vols.delete(&a.volume_id).await.expect_err("in use");
        assert_eq!(e.code(), Some("6007"));

        vols.unlink(&a.volume_id, false)
            .await
            .expect("UnlinkVolume");
        vols.wait_available(&a.volume_id, &waits())
            .await
            .expect("unlinked");
        assert!(!sim.device_path("/dev/xvdf").exists());
        assert!(sim.inventory().await.loop_devices.is_empty());
    } else {
        let e = vols
            .link(&a.volume_id, sim.vm_id(), "/dev/xvdf")
            .await
            .expect_err("needs root");
        assert!(e.to_string().contains("root"), "{e}");
    }
    vols.delete(&a.volume_id).await.expect("delete a");
    vols.delete(&b.volume_id).await.expect("delete b");
    assert!(sim.inventory().await.is_empty());
    sim.shutdown().await;
}

/// A `LinkVolume` whose answer is lost (done, or not done) is recovered by
/// reading the volume: done, the link is taken as made; not done, it is
/// sent again. Either way one link, no error.
#[imagebake_testing::needs_root("loop devices")]
#[tokio::test]
async fn a_lost_link_answer_is_recovered_by_reading_the_volume() {
    let (sim, client) = setup().await;
    let vols = client.volumes();
    let v = crate::common::available_blank_volume(&sim, &client).await;
    for (fault, links_sent) in [(Fault::DropAfter, 1), (Fault::DropBefore, 2)] {
        sim.faults().inject("LinkVolume", fault.clone(), 1);
        vols.link(&v.volume_id, sim.vm_id(), "/dev/xvdf")
            .await
            .unwrap_or_else(|e| panic!("{fault:?}: {e}"));
        let log: Vec<String> = sim.request_log().into_iter().map(|(a, _)| a).collect();
        let tail = &log[log.iter().rposition(|a| a == "ReadVolumes").expect("read") - 1..];
        assert_eq!(
            tail.iter().filter(|a| *a == "LinkVolume").count(),
            links_sent,
            "{fault:?}: {log:?}"
        );
        let linked = vols
            .wait_linked(&v.volume_id, &waits())
            .await
            .expect("linked");
        assert_eq!(linked.linked_volumes.len(), 1);
        assert_eq!(linked.linked_volumes[0].device_name, "/dev/xvdf");
        assert_eq!(sim.inventory().await.loop_devices.len(), 1);
        vols.unlink(&v.volume_id, false)
            .await
            .expect("UnlinkVolume");
        vols.wait_available(&v.volume_id, &waits())
            .await
            .expect("unlinked");
    }
    delete_volume(&client, &v.volume_id).await;
    assert!(sim.inventory().await.is_empty());
    sim.shutdown().await;
}
