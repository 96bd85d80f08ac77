use crate::common::delete_volume;
use imagebake_sim::Fault;
use osc_client::api::{CreateVolumeRequest, FiltersVolume};

use crate::common::setup;

#[tokio::test]
async fn throttling_is_retried_until_success() {
    let (sim, client) = setup().await;
    sim.faults().inject("ReadVolumes", Fault::Throttle, 2);
    sim.faults().inject("ReadAccounts", Fault::Status(429), 1);
    let before = sim.request_count();
    client
        .volumes()
        .read(FiltersVolume::default())
        .await
        .expect("ReadVolumes");
    assert_eq!(
        sim.request_count(),
        before + 3,
        "two 429 code 25, then success"
    );
    client
        .accounts()
        .read()
        .await
        .expect("ReadAccounts after a 429 code 24");
    assert_eq!(sim.request_count(), before + 5);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_retried_create_keeps_its_client_token_and_makes_one_volume() {
    let (sim, client) = setup().await;
    sim.faults().inject("CreateVolume", Fault::Status(503), 1);
    let v = client
        .volumes()
        .create(&CreateVolumeRequest::blank(sim.subregion(), 1))
        .await
        .expect("CreateVolume after a 503 code 6");
    let tokens: Vec<String> = sim
        .request_log()
        .into_iter()
        .filter(|(a, _)| a == "CreateVolume")
        .map(|(_, b)| b["ClientToken"].as_str().expect("token").to_owned())
        .collect();
    assert_eq!(tokens.len(), 2);
    assert_eq!(tokens[0], tokens[1]);
    assert_eq!(sim.inventory().await.volumes, vec![v.volume_id.clone()]);
    delete_volume(&client, &v.volume_id).await;
    sim.shutdown().await;
}

#[tokio::test]
async fn a_lost_answer_is_safe_to_repeat_with_the_same_token() {
    let (sim, client) = setup().await;
    sim.faults().inject("CreateVolume", Fault::DropAfter, 1);
    let mut req = CreateVolumeRequest::blank(sim.subregion(), 1);
    req.client_token = Some("imagebake-test-token-1".into());
    // The client itself sends it again (same token): one volume, no error.
    let before = sim.request_count();
    let v = client.volumes().create(&req).await.expect("repeated");
    assert_eq!(sim.request_count(), before + 2);
    assert_eq!(sim.inventory().await.volumes, vec![v.volume_id.clone()]);
    assert_eq!(v.client_token.as_deref(), Some("imagebake-test-token-1"));
    delete_volume(&client, &v.volume_id).await;
    sim.shutdown().await;
}

#[tokio::test]
async fn retries_stop_after_the_policy_and_other_errors_are_not_retried() {
    let (sim, client) = setup().await;
    sim.faults().inject("ReadSnapshots", Fault::Throttle, 10);
    let before = sim.request_count();
    let err = client
        .snapshots()
        .read(Default::default())
        .await
        .expect_err("still throttled");
    assert_eq!((err.status(), err.code()), (Some(429), Some("25")));
    assert_eq!(sim.request_count(), before + 4, "max_attempts is 4");
    sim.faults().clear();

    // A read is retried after a 500 (safe to repeat), an action is not.
    sim.faults().inject("ReadImages", Fault::Status(500), 1);
    let before = sim.request_count();
    client
        .images()
        .read(Default::default())
        .await
        .expect("retried");
    assert_eq!(sim.request_count(), before + 2);
    sim.faults().inject("UpdateImage", Fault::Status(500), 1);
    let before = sim.request_count();
    let err = client
        .images()
        .update(&osc_client::api::UpdateImageRequest {
            image_id: "ami-00000bad".into(),
            description: Some("x".into()),
            ..Default::default()
        })
        .await
        .expect_err("500");
    assert_eq!(err.status(), Some(500));
    assert_eq!(sim.request_count(), before + 1);

    // LinkVolume after a 500: the volume is read before it is sent again
    // (here there is no such volume, and the repeat says so).
    sim.faults().inject("LinkVolume", Fault::Status(500), 1);
    let before = sim.request_count();
    let err = client
        .volumes()
        .link("vol-00000000", "i-00000000", "/dev/xvdf")
        .await
        .expect_err("no such volume");
    assert_eq!(err.status(), Some(400), "the repeat's answer: {err}");
    let log: Vec<String> = sim.request_log().into_iter().map(|(a, _)| a).collect();
    assert_eq!(
        log[log.len() - 3..],
        ["LinkVolume", "ReadVolumes", "LinkVolume"],
        "{log:?}"
    );
    assert_eq!(sim.request_count(), before + 3);

    // UnlinkVolume is sent again after a lost answer (a repeat that finds
    // the volume unlinked answers an error the callers take as done).
    sim.faults().inject("UnlinkVolume", Fault::DropAfter, 1);
    let before = sim.request_count();
    let err = client
        .volumes()
        .unlink("vol-00000000", false)
        .await
        .expect_err("no such volume");
    assert!(err.status().is_some(), "the repeat was answered: {err}");
    assert_eq!(sim.request_count(), before + 2);
    sim.shutdown().await;
}
