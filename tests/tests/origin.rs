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
    let manta = manta_of(&sim);
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

// ---- `origin::build`: the whole set, and a failure in each phase ----

mod support;

use std::sync::{Arc, Mutex};

use imagebake_core::CancellationToken;
use imagebake_core::origin::{BuildOptions, ImagesFile, OriginBuildError, build};
use imagebake_sim::Fault;
use sha1::{Digest, Sha1};

const BASE_64_LTS_22: &str = "c2c31b00-1d60-11ed-9f3a-4b8e2f0d2201";
const BASE_64_LTS_23: &str = "e44ed3e0-910b-11ee-b2d6-0b4f7a3c2301";
const STAMP_TS: &str = "20261206T120000Z";

/// Two images on the simulator's two base-64-lts images.
fn two_images() -> serde_json::Value {
    json!([
        {"namePrefix": "triton-origin-x86_64", "desc": "origin on 23.4",
         "origin": {"uuid": BASE_64_LTS_23, "name": "base-64-lts", "version": "23.4.0"},
         "pkgsrc": ["curl-8.4.0", "coreutils-9.4"], "protoMinMemoryMb": "1024"},
        {"namePrefix": "triton-origin-x86_64", "desc": "origin on 22.4",
         "origin": {"uuid": BASE_64_LTS_22, "name": "base-64-lts", "version": "22.4.0"},
         "pkgsrc": ["sudo-1.9.15"], "protoMinMemoryMb": 2048}
    ])
}

async fn fast_sim() -> TritonSim {
    TritonSim::start(TritonSimOptions {
        delays: TritonDelays::all(Duration::from_millis(5)),
        ..TritonSimOptions::default()
    })
    .await
    .expect("sim")
}

fn manta_of(sim: &TritonSim) -> MantaClient {
    MantaClient::new(
        MantaConfig::builder()
            .url(sim.manta().url())
            .user(sim.account())
            .key_file(sim.private_key_path())
            .build()
            .unwrap(),
    )
    .unwrap()
}

/// Options for `images` on `sim`: communicator none, fast polls; the
/// progress lines collected in `lines`.
fn options(
    sim: &TritonSim,
    images: &serde_json::Value,
    lines: &Arc<Mutex<Vec<String>>>,
) -> BuildOptions {
    let images = ImagesFile::parse(&images.to_string(), "images.json").unwrap();
    let stamp = BuildStamp::new("master", STAMP_TS, "bb45b8d0c0ffee", false).unwrap();
    let builder = support::merged(
        support::triton_credentials(sim),
        json!({"communicator": "none", "state_timeout": "30s", "image_timeout": "30s",
               "poll_cap": "10ms"}),
    );
    let mut o = BuildOptions::new(images, stamp, builder, manta_of(sim));
    let l = lines.clone();
    o.progress = Arc::new(move |s: &str| l.lock().unwrap().push(s.to_owned()));
    o
}

fn set_dir(sim: &TritonSim) -> String {
    format!(
        "/{}/public/builds/triton-origin-image/master-{STAMP_TS}",
        sim.account()
    )
}

/// Nothing of the set is left: no machine, no custom image, nothing under
/// `/LOGIN/public/builds`.
fn assert_nothing_left(sim: &TritonSim, case: &str) {
    let inv = sim.inventory();
    assert!(
        inv.machines.is_empty(),
        "{case}: machines {:?}",
        inv.machines
    );
    assert!(
        inv.custom_images().is_empty(),
        "{case}: images {:?}",
        inv.custom_images()
    );
    let left = builds_entries(sim);
    assert!(left.is_empty(), "{case}: Manta entries left: {left:?}");
}

/// The Manta paths below `/LOGIN/public/builds`.
fn builds_entries(sim: &TritonSim) -> Vec<String> {
    sim.manta()
        .paths_under(&format!("/{}/public/builds", sim.account()))
}

fn sha1_hex(bytes: &[u8]) -> String {
    Sha1::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test]
async fn a_two_image_set_builds_exports_and_leaves_only_the_export() {
    let sim = fast_sim().await;
    let lines = Arc::default();
    let mut o = options(&sim, &two_images(), &lines);
    o.version = "1.0.1".into();
    o.homepage = Some("https://github.com/joyent/triton-origin-image".into());
    let report = build(&o, CancellationToken::new())
        .await
        .expect("set builds");

    let dir = set_dir(&sim);
    assert_eq!(report.export_dir, dir);
    assert_eq!(report.images.len(), 2);
    let stamps = ["20240104T000728Z", "20221229T221813Z"];
    for (img, (version, stamp)) in report
        .images
        .iter()
        .zip([("23.4.0", stamps[0]), ("22.4.0", stamps[1])])
    {
        let name = format!("triton-origin-x86_64-{version}");
        assert_eq!(
            (img.name.as_str(), img.version.as_str()),
            (name.as_str(), "1.0.1")
        );
        assert!(!img.kept);
        let mpath = format!("{dir}/{name}-1.0.1.imgmanifest");
        let fpath = format!("{dir}/{name}-1.0.1.zfs.gz");
        assert_eq!(img.exported.manifest_path, mpath);
        let manifest: serde_json::Value =
            serde_json::from_slice(&sim.manta().read(&mpath).expect("manifest")).unwrap();
        let file = sim.manta().read(&fpath).expect("image file");
        assert_eq!(&file[..2], &[0x1f, 0x8b], "{fpath} is gzip");
        assert_eq!(manifest["files"][0]["sha1"], sha1_hex(&file));
        assert_eq!(manifest["files"][0]["size"], file.len());
        assert_eq!(manifest["owner"], ZERO_OWNER);
        assert_eq!(manifest["requirements"]["min_platform"]["7.0"], stamp);
        assert_eq!(manifest["name"], name);
        assert_eq!(
            manifest["tags"]["git"], "bb45b8d0c0ffee",
            "build info as tags: {manifest}"
        );
        assert_eq!(
            manifest["homepage"],
            "https://github.com/joyent/triton-origin-image"
        );
    }
    let latest = format!(
        "/{}/public/builds/triton-origin-image/master-latest",
        sim.account()
    );
    assert_eq!(report.latest, latest);
    assert_eq!(
        sim.manta().read(&latest).unwrap(),
        format!("{dir}\n").into_bytes()
    );
    let info: serde_json::Value =
        serde_json::from_slice(&sim.manta().read(&format!("{dir}/buildinfo.json")).unwrap())
            .unwrap();
    assert_eq!(info["branch"], "master");
    let inv = sim.inventory();
    assert!(inv.machines.is_empty(), "machines left: {:?}", inv.machines);
    assert!(
        inv.custom_images().is_empty(),
        "the cloud images were only vehicles: {:?}",
        inv.custom_images()
    );
    let lines = lines.lock().unwrap();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("==> triton-origin-x86_64-22.4.0: export image")),
        "progress as imagebake build shows it: {lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains(&format!("exported to {dir}"))),
        "{lines:?}"
    );
}

#[tokio::test]
async fn kept_cloud_images_stay_after_the_export() {
    let sim = fast_sim().await;
    let lines = Arc::default();
    let mut o = options(&sim, &json!([two_images()[0]]), &lines);
    o.keep_cloud_images = true;
    let report = build(&o, CancellationToken::new()).await.expect("builds");
    let kept: Vec<String> = sim
        .inventory()
        .custom_images()
        .iter()
        .map(|i| i.id.clone())
        .collect();
    assert_eq!(kept, [report.images[0].cloud_image.to_string()]);
    assert!(report.images[0].kept);
}

/// Builds `images` with a fault or a cancellation; the error's text.
async fn failed_set(
    sim: &TritonSim,
    images: serde_json::Value,
    cancel_on: Option<&'static str>,
) -> (String, OriginBuildError) {
    let lines: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut o = options(sim, &images, &lines);
    let token = CancellationToken::new();
    if let Some(at) = cancel_on {
        let (t, l) = (token.clone(), lines.clone());
        o.progress = Arc::new(move |s: &str| {
            l.lock().unwrap().push(s.to_owned());
            if s.contains(at) {
                t.cancel();
            }
        });
    }
    let e = build(&o, token).await.expect_err("the set fails");
    (e.to_string(), e)
}

#[tokio::test]
async fn an_origin_that_does_not_match_fails_the_set_and_leaves_nothing() {
    let sim = fast_sim().await;
    let mut images = two_images();
    images[1]["origin"]["version"] = json!("21.4.0");
    let (text, e) = failed_set(&sim, images, None).await;
    assert!(
        text.contains("images.json: [1] (triton-origin-x86_64-21.4.0).origin")
            && text.contains("version is \"22.4.0\", not \"21.4.0\""),
        "{text}"
    );
    assert!(!e.is_cancelled());
    assert_nothing_left(&sim, "origin mismatch");

    let mut images = two_images();
    images[0]["origin"]["uuid"] = json!("00000000-1111-2222-3333-444444444444");
    let (text, _) = failed_set(&sim, images, None).await;
    assert!(text.contains("does not exist"), "{text}");
    assert_nothing_left(&sim, "origin missing");
}

#[tokio::test]
async fn no_package_for_the_memory_fails_the_set_and_leaves_nothing() {
    let sim = fast_sim().await;
    let mut images = two_images();
    images[1]["protoMinMemoryMb"] = json!("100000");
    let (text, _) = failed_set(&sim, images, None).await;
    assert!(
        text.contains("[1] (triton-origin-x86_64-22.4.0).protoMinMemoryMb")
            && text.contains("no package has between 100000 and 200000 MiB"),
        "{text}"
    );
    assert_nothing_left(&sim, "unknown package");
}

#[tokio::test]
async fn a_failed_image_fails_the_set_and_leaves_nothing() {
    let sim = fast_sim().await;
    sim.faults()
        .inject("CreateImageFromMachine", Fault::FailResource, 1);
    let (text, _) = failed_set(&sim, two_images(), None).await;
    assert!(text.contains("wait image"), "{text}");
    assert_nothing_left(&sim, "image failed");
}

#[tokio::test]
async fn an_export_error_fails_the_set_and_leaves_nothing() {
    let sim = fast_sim().await;
    sim.faults().inject("ExportImage", Fault::Status(422), 1);
    let (text, _) = failed_set(&sim, two_images(), None).await;
    assert!(
        text.contains("export image") && text.contains("422"),
        "{text}"
    );
    assert_nothing_left(&sim, "ExportImage error");

    // The rewritten manifest's put fails after both exports wrote their
    // copies: every copy is removed again.
    sim.manta()
        .faults()
        .inject("PutObject", Fault::Status(403), 1);
    let (text, _) = failed_set(&sim, two_images(), None).await;
    assert!(
        text.contains("export image") && text.contains("403"),
        "{text}"
    );
    assert_nothing_left(&sim, "Manta put error");

    // The markers fail after every image was exported (a directory where
    // buildinfo.json goes): the images' copies are removed, the directory
    // that was there before stays as it was.
    let builds = format!("/{}/public/builds", sim.account());
    let dir = format!("{builds}/given/set");
    manta_of(&sim)
        .mkdirp(&format!("{dir}/buildinfo.json"))
        .await
        .unwrap();
    let mut o = options(&sim, &two_images(), &Arc::default());
    o.export_dir = Some(dir.clone());
    let e = build(&o, CancellationToken::new()).await.unwrap_err();
    assert!(e.to_string().contains("write set markers"), "{e}");
    assert_eq!(
        builds_entries(&sim),
        [
            builds.clone(),
            format!("{builds}/given"),
            dir.clone(),
            format!("{dir}/buildinfo.json")
        ],
        "only what was there before"
    );
    let inv = sim.inventory();
    assert!(inv.machines.is_empty() && inv.custom_images().is_empty());
}

#[tokio::test]
async fn ctrl_c_in_each_phase_leaves_nothing() {
    for at in [
        "check origin...",
        "create machine...",
        "wait image...",
        "export image...",
        "delete cloud image...",
    ] {
        let sim = fast_sim().await;
        let (text, e) = failed_set(&sim, two_images(), Some(at)).await;
        assert!(e.is_cancelled(), "{at}: {text}");
        assert!(text.contains("cancelled"), "{at}: {text}");
        assert_nothing_left(&sim, at);
    }
}

/// Over real SSH to the simulated machines (their stand-in `pkgin`): the
/// pkgsrc packages are installed in the exported image's machine (the kept
/// cloud image holds them); a package the repository lacks fails the set
/// in the install step and leaves nothing.
#[imagebake_testing::needs_root("simulated machines: overlay mounts, chroot, sshd")]
#[tokio::test]
async fn over_ssh_the_packages_are_installed_and_a_missing_one_fails_the_set() {
    let sim = support::triton_ssh_sim().await;
    let port = sim.ssh_port().expect("machines have SSH");
    let ssh = json!({"communicator": "ssh", "ssh_port": port, "ssh_timeout": "30s"});
    let lines = Arc::default();
    let mut o = options(&sim, &json!([two_images()[0]]), &lines);
    o.builder = support::merged(o.builder.clone(), ssh.clone());
    o.keep_cloud_images = true;
    let report = build(&o, CancellationToken::new())
        .await
        .expect("builds over SSH");
    let id = report.images[0].cloud_image.to_string();
    for pkg in ["curl-8.6.0", "coreutils-9.4"] {
        assert!(
            sim.image_file(&id, &format!("/opt/local/pkg/{pkg}/+COMMENT"))
                .is_some(),
            "{pkg} installed in the image"
        );
    }
    let inv = sim.inventory();
    assert!(inv.machines.is_empty(), "{:?}", inv.machines);

    let sim = support::triton_ssh_sim().await;
    let port = sim.ssh_port().expect("machines have SSH");
    let mut images = two_images();
    images[1]["pkgsrc"] = json!(["no-such-package-1.0"]);
    let mut o = options(&sim, &images, &Arc::default());
    o.builder = support::merged(
        o.builder.clone(),
        json!({"communicator": "ssh", "ssh_port": port, "ssh_timeout": "30s"}),
    );
    let e = build(&o, CancellationToken::new())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("shell") && e.contains("not available in the repository"),
        "{e}"
    );
    assert_nothing_left(&sim, "missing package");
}

/// Every Manta path under `dir` with its bytes (None for a directory).
fn contents(sim: &TritonSim, dir: &str) -> Vec<(String, Option<Vec<u8>>)> {
    sim.manta()
        .paths_under(dir)
        .into_iter()
        .map(|p| {
            let bytes = sim.manta().read(&p);
            (p, bytes)
        })
        .collect()
}

/// A later set of branch `branch` (its own directory) whose Manta client
/// retries a lost answer once, at once.
fn later_set(sim: &TritonSim, branch: &str, timestamp: &str) -> BuildOptions {
    let mut o = options(sim, &json!([two_images()[0]]), &Arc::default());
    o.stamp = BuildStamp::new(branch, timestamp, "cafe0123456789", false).unwrap();
    o.manta = MantaClient::new(
        MantaConfig::builder()
            .url(sim.manta().url())
            .user(sim.account())
            .key_file(sim.private_key_path())
            .retry(triton_client::RetryPolicy {
                max_attempts: 2,
                backoff: triton_client::Backoff::new(
                    Duration::from_millis(1),
                    Duration::from_millis(1),
                ),
            })
            .build()
            .unwrap(),
    )
    .unwrap();
    o
}

/// Queues `fault` for the PutObject of `<branch>-latest` of a one-image
/// set: the first two (the manifest put back, `buildinfo.json`) pass.
fn fault_on_latest_put(sim: &TritonSim, fault: Fault, times: usize) {
    let faults = sim.manta().faults();
    faults.inject("PutObject", Fault::Slow(Duration::ZERO), 2);
    faults.inject("PutObject", fault, times);
}

#[tokio::test]
async fn a_set_failing_after_its_latest_pointer_was_written_puts_the_old_pointer_back() {
    let sim = fast_sim().await;
    let first = build(
        &options(&sim, &json!([two_images()[0]]), &Arc::default()),
        CancellationToken::new(),
    )
    .await
    .expect("the first set builds");
    let latest = first.latest.clone();
    let first_dir = contents(&sim, &first.export_dir);
    assert_eq!(
        first_dir.len(),
        4,
        "dir, manifest, file, buildinfo: {first_dir:?}"
    );
    let points_to_first = Some(format!("{}\n", first.export_dir));
    let text = |p: &str| {
        sim.manta()
            .read(p)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
    };
    let builds = format!("/{}/public/builds/triton-origin-image", sim.account());
    // The pointer names the first set again, which is intact; the failed
    // set's directory is gone.
    let back_to_first = |case: &str, failed: &str| {
        assert_eq!(text(&latest), points_to_first, "{case}");
        assert_eq!(contents(&sim, &first.export_dir), first_dir, "{case}");
        let left = sim.manta().paths_under(&format!("{builds}/{failed}"));
        assert!(left.is_empty(), "{case}: {left:?}");
    };

    // The pointer's PutObject is done, then its answer lost (the retry's
    // too): the set fails after the pointer named its directory.
    fault_on_latest_put(&sim, Fault::DropAfter, 2);
    let o = later_set(&sim, "master", "20261207T010000Z");
    let e = build(&o, CancellationToken::new()).await.unwrap_err();
    assert!(!e.is_cancelled());
    assert!(e.to_string().contains("write set markers"), "{e}");
    assert_eq!(
        sim.manta().faults().pending("PutObject"),
        0,
        "the faults fired"
    );
    back_to_first("a lost answer", "master-20261207T010000Z");

    // Ctrl-C while the pointer's answer is late (it is written already).
    fault_on_latest_put(&sim, Fault::LateAnswer(Duration::from_secs(60)), 1);
    let o = later_set(&sim, "master", "20261207T020000Z");
    let later = Some(format!("{builds}/master-20261207T020000Z\n"));
    let token = CancellationToken::new();
    let watch = async {
        // Bounded: the build ends (and the loop with it) in any case.
        for _ in 0..3000 {
            if text(&latest) == later {
                token.cancel();
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        false
    };
    let (result, seen) = tokio::join!(build(&o, token.clone()), watch);
    assert!(seen, "the pointer named the later set before the Ctrl-C");
    let e = result.unwrap_err();
    assert!(e.is_cancelled(), "{e}");
    back_to_first("Ctrl-C", "master-20261207T020000Z");

    // A branch without an earlier set: its pointer is removed again.
    fault_on_latest_put(&sim, Fault::DropAfter, 2);
    let o = later_set(&sim, "feature", "20261207T030000Z");
    build(&o, CancellationToken::new()).await.unwrap_err();
    assert_eq!(text(&format!("{builds}/feature-latest")), None);
    assert!(
        sim.manta()
            .paths_under(&format!("{builds}/feature-20261207T030000Z"))
            .is_empty()
    );
    let inv = sim.inventory();
    assert!(inv.machines.is_empty() && inv.custom_images().is_empty());
}
