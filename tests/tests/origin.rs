//! imagebake-core's origin pieces against the Triton simulator (CloudAPI
//! and its Manta).

use std::time::Duration;

use imagebake_core::origin::{BuildStamp, ZERO_OWNER, export_portable, write_set_markers};
use imagebake_sim::triton::{TritonDelays, TritonSim, TritonSimOptions};
use serde_json::json;
use triton_client::manta::{MantaClient, MantaConfig};
use triton_client::types::{CreateImageFromMachine, CreateMachine, ListImages, MachineState};
use triton_client::{Client, Config, WaitOptions};

async fn wait<T, F, Fut>(look: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = triton_client::Result<triton_client::Poll<T>>>,
{
    let opts = WaitOptions::new(Duration::from_secs(20), Duration::from_millis(10));
    imagebake_core::wait_for("resource", &opts, |_, _| {}, look)
        .await
        .expect("reached")
}

#[tokio::test]
async fn an_exported_image_lands_in_manta_with_a_portable_manifest() {
    let sim = TritonSim::start(TritonSimOptions {
        delays: TritonDelays::all(Duration::from_millis(5)),
        ..TritonSimOptions::default()
    })
    .await
    .expect("sim");
    let cloud = Client::new(
        Config::builder()
            .url(sim.url())
            .account(sim.account())
            .key_file(sim.private_key_path())
            .build()
            .unwrap(),
    )
    .unwrap();
    let manta = MantaClient::new(
        MantaConfig::builder()
            .url(sim.manta().url())
            .user(sim.account())
            .key_file(sim.private_key_path())
            .build()
            .unwrap(),
    )
    .unwrap();
    let origin = cloud
        .list_images(&ListImages::new())
        .await
        .unwrap()
        .remove(0);
    let m = cloud
        .create_machine(&CreateMachine::new(origin.id, "g1.small").name("proto"))
        .await
        .unwrap();
    wait(|| cloud.look_machine(&m.id, MachineState::Running)).await;
    cloud.stop_machine(&m.id).await.unwrap();
    wait(|| cloud.look_machine(&m.id, MachineState::Stopped)).await;
    let img = cloud
        .create_image_from_machine(&CreateImageFromMachine::new(
            m.id,
            "triton-origin-x",
            "1.0.0",
        ))
        .await
        .unwrap();
    wait(|| cloud.look_image_active(&img.id)).await;

    let origin_manifest = json!({"requirements": {"min_platform": {"7.0": "20141030T081701Z"}}});
    let dir = "~~/public/builds/triton-origin-image/master-20261206T000000Z";
    let out = export_portable(&cloud, &manta, &img.id, dir, &origin_manifest)
        .await
        .unwrap();
    let login = sim.account();
    let base = format!("/{login}/public/builds/triton-origin-image/master-20261206T000000Z");
    assert_eq!(
        out.manifest_path,
        format!("{base}/triton-origin-x-1.0.0.imgmanifest")
    );
    assert_eq!(
        out.image_path,
        format!("{base}/triton-origin-x-1.0.0.zfs.gz")
    );
    let written: serde_json::Value =
        serde_json::from_slice(&sim.manta().read(&out.manifest_path).expect("manifest")).unwrap();
    assert_eq!(written["owner"], ZERO_OWNER);
    assert_eq!(
        written["requirements"]["min_platform"]["7.0"],
        "20141030T081701Z"
    );
    let file = sim.manta().read(&out.image_path).expect("file");
    assert_eq!(written["files"][0]["size"], file.len());

    let stamp = BuildStamp::new("master", "20261206T000000Z", "bb45b8d0c0ffee", false).unwrap();
    let latest = write_set_markers(&manta, dir, &stamp).await.unwrap();
    assert_eq!(
        latest,
        format!("/{login}/public/builds/triton-origin-image/master-latest")
    );
    assert_eq!(
        sim.manta().read(&latest).expect("latest"),
        format!("{base}\n").into_bytes()
    );
    let info: serde_json::Value = serde_json::from_slice(
        &sim.manta()
            .read(&format!("{base}/buildinfo.json"))
            .expect("info"),
    )
    .unwrap();
    assert_eq!(
        info,
        json!({"branch": "master", "timestamp": "20261206T000000Z", "git": "bb45b8d0c0ffee"})
    );

    // An origin without a stamp to copy is a clear error, named.
    let e = export_portable(&cloud, &manta, &img.id, dir, &json!({}))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("min_platform"), "{e}");
    // A Manta refusal comes through with its code.
    sim.manta()
        .faults()
        .inject("PutDirectory", imagebake_sim::Fault::Status(403), 1);
    let e = export_portable(&cloud, &manta, &img.id, "~~/stor/x", &origin_manifest)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("403"), "{e}");
}
