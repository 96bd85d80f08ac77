//! `imagebake_core::origin::{publish, release}` against the Triton
//! simulator's Manta and IMGAPI repository: a set made by hand in Manta
//! (real files, manifests as ExportImage writes them), published, re-run,
//! broken mid-way, released.

use imagebake_core::CancellationToken;
use imagebake_core::origin::{
    OriginError, PublishOptions, PublishOutcome, PublishReport, ReleaseOptions, ZERO_OWNER,
    publish, release,
};
use imagebake_sim::Fault;
use imagebake_sim::triton::{TritonSim, TritonSimOptions};
use serde_json::{Value, json};
use sha1::{Digest as _, Sha1};
use triton_client::imgapi::{ImgapiClient, ImgapiConfig};
use triton_client::manta::{MantaClient, MantaConfig, PutOptions, PutSource};

struct Fixture {
    sim: TritonSim,
    manta: MantaClient,
    repo: ImgapiClient,
}

impl Fixture {
    /// Publishes `dir` with the default options.
    async fn publish(&self, dir: &str) -> Result<PublishReport, OriginError> {
        publish(
            &self.manta,
            &self.repo,
            dir,
            &PublishOptions::default(),
            CancellationToken::new(),
        )
        .await
    }
}

async fn fixture() -> Fixture {
    let sim = TritonSim::start(TritonSimOptions::default())
        .await
        .expect("sim");
    let manta = MantaClient::new(
        MantaConfig::builder()
            .url(sim.manta().url())
            .user(sim.account())
            .key_file(sim.private_key_path())
            .build()
            .unwrap(),
    )
    .unwrap();
    let repo = ImgapiClient::new(
        ImgapiConfig::builder()
            .url(sim.imgapi().url())
            .user(sim.imgapi().user())
            .key_file(sim.imgapi().key_path().expect("key"))
            .build()
            .unwrap(),
    )
    .unwrap();
    Fixture { sim, manta, repo }
}

/// One image of a hand-made set.
struct Img {
    uuid: uuid::Uuid,
    name: &'static str,
    bytes: Vec<u8>,
    origin: Option<uuid::Uuid>,
}

impl Img {
    fn new(name: &'static str, origin: Option<uuid::Uuid>) -> Self {
        // Some MiB: several chunks of a streamed body.
        let bytes: Vec<u8> = (0..3_000_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let mut bytes = bytes;
        bytes.extend_from_slice(name.as_bytes());
        Self {
            uuid: uuid::Uuid::new_v4(),
            name,
            bytes,
            origin,
        }
    }

    fn sha1(&self) -> String {
        Sha1::digest(&self.bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// The manifest as ExportImage writes it, rewritten as origin build
    /// leaves it.
    fn manifest(&self, version: &str) -> Value {
        let mut m = json!({
            "v": 2, "uuid": self.uuid, "owner": ZERO_OWNER, "name": self.name,
            "version": version, "state": "active", "disabled": false, "public": false,
            "published_at": "2026-12-06T00:00:00.000Z", "type": "zone-dataset", "os": "smartos",
            "files": [{"sha1": self.sha1(), "size": self.bytes.len(), "compression": "gzip"}],
            "requirements": {"min_platform": {"7.0": "20141030T081701Z"}},
        });
        if let Some(o) = self.origin {
            m["origin"] = json!(o);
        }
        m
    }
}

/// Writes the set into `dir` as origin build does: manifests, files,
/// buildinfo.json, and `<branch>-latest` beside the directory.
async fn write_set(f: &Fixture, dir: &str, branch: &str, version: &str, images: &[&Img]) {
    for img in images {
        let stem = format!("{dir}/{}-{version}", img.name);
        f.manta
            .put(
                &format!("{stem}.zfs.gz"),
                PutSource::bytes(img.bytes.clone()),
                PutOptions {
                    mkdirs: true,
                    ..PutOptions::default()
                },
            )
            .await
            .unwrap();
        let m = serde_json::to_vec_pretty(&img.manifest(version)).unwrap();
        f.manta
            .put(
                &format!("{stem}.imgmanifest"),
                PutSource::bytes(m),
                PutOptions::default(),
            )
            .await
            .unwrap();
    }
    let info = json!({"branch": branch, "timestamp": "20261206T000000Z", "git": "bb45b8d0c0ffee"});
    f.manta
        .put(
            &format!("{dir}/buildinfo.json"),
            PutSource::bytes(info.to_string()),
            PutOptions::default(),
        )
        .await
        .unwrap();
    let parent = dir.rsplit_once('/').unwrap().0;
    f.manta
        .put(
            &format!("{parent}/{branch}-latest"),
            PutSource::bytes(format!("{}\n", f.manta.resolve(dir).unwrap())),
            PutOptions::default(),
        )
        .await
        .unwrap();
}

const VERSION: &str = "master-20261206T000000Z-gbb45b8d";

fn no_half_imported(sim: &TritonSim) {
    let left: Vec<_> = sim
        .imgapi()
        .images()
        .into_iter()
        .filter(|i| i.state != "active")
        .collect();
    assert!(left.is_empty(), "half-imported images left: {left:?}");
}

#[tokio::test]
async fn a_set_is_published_to_dev_origins_first_and_a_rerun_skips_it() {
    let f = fixture().await;
    let base = Img::new("triton-origin-x86_64-19.4.0", None);
    // Sorts before its origin in the listing: the order comes from `origin`.
    let child = Img::new("a-child-of-the-origin", Some(base.uuid));
    let dir = "~~/public/builds/triton-origin-image/master-20261206T000000Z";
    write_set(&f, dir, "master", VERSION, &[&base, &child]).await;

    let report = f.publish(dir).await.expect("published");
    assert_eq!(report.channel, "dev", "master publishes to dev");
    let names: Vec<&str> = report.images.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, [base.name, child.name], "the origin first");
    assert!(
        report
            .images
            .iter()
            .all(|i| i.outcome == PublishOutcome::Published)
    );
    let repo = f.sim.imgapi().images_in("dev");
    assert_eq!(repo.len(), 2);
    for img in [&base, &child] {
        let have = repo.iter().find(|i| i.uuid == img.uuid).expect("listed");
        assert_eq!(have.state, "active");
        assert_eq!(have.version, VERSION);
        assert_eq!(
            have.file,
            Some((img.sha1(), img.bytes.len() as u64)),
            "{}",
            img.name
        );
        assert_eq!(
            f.sim.imgapi().image_file(img.uuid).as_deref(),
            Some(&img.bytes[..])
        );
    }
    assert_eq!(
        repo.iter()
            .find(|i| i.uuid == child.uuid)
            .unwrap()
            .origin
            .as_deref(),
        Some(base.uuid.to_string().as_str())
    );

    // Again, through the `master-latest` pointer: nothing imported twice.
    let before = f.sim.imgapi().request_count();
    let again = f
        .publish("~~/public/builds/triton-origin-image/master-latest")
        .await
        .expect("re-run");
    assert_eq!(again.dir, f.manta.resolve(dir).unwrap());
    assert!(
        again
            .images
            .iter()
            .all(|i| i.outcome == PublishOutcome::AlreadyThere),
        "{again:?}"
    );
    assert_eq!(f.sim.imgapi().images().len(), 2);
    assert_eq!(
        f.sim.imgapi().request_count() - before,
        2,
        "one GetImage per image"
    );

    // Given another channel: added there, not imported again.
    let staged = publish(
        &f.manta,
        &f.repo,
        dir,
        &PublishOptions {
            channel: Some("experimental".into()),
            ..PublishOptions::default()
        },
        CancellationToken::new(),
    )
    .await
    .expect("to experimental");
    assert!(
        staged
            .images
            .iter()
            .all(|i| i.outcome == PublishOutcome::AddedToChannel)
    );
    assert_eq!(f.sim.imgapi().images_in("experimental").len(), 2);
    assert_eq!(f.sim.imgapi().images().len(), 2);
}

#[tokio::test]
async fn a_feature_branch_goes_to_experimental() {
    let f = fixture().await;
    let img = Img::new("triton-origin-multiarch-15.4.1", None);
    let dir = "~~/stor/builds/feature-20261206T000000Z";
    write_set(&f, dir, "feature", "1.0.0", &[&img]).await;
    let report = f.publish(dir).await.expect("published");
    assert_eq!(report.channel, "experimental");
    assert_eq!(f.sim.imgapi().images_in("experimental").len(), 1);
    assert!(f.sim.imgapi().images_in("dev").is_empty());
}

#[tokio::test]
async fn an_imgapi_failure_leaves_no_half_imported_image_and_a_rerun_completes() {
    let f = fixture().await;
    let base = Img::new("triton-origin-base", None);
    let child = Img::new("triton-origin-child", Some(base.uuid));
    // The base alone is published first; then the whole set, whose child's
    // activation fails.
    let first = "~~/stor/builds/one";
    write_set(&f, first, "master", VERSION, &[&base]).await;
    f.publish(first).await.expect("base");
    let dir = "~~/stor/builds/both";
    write_set(&f, dir, "master", VERSION, &[&base, &child]).await;
    // Activation is an action: a 500 is not retried.
    f.sim
        .imgapi()
        .faults()
        .inject("ActivateImage", Fault::Status(500), 1);
    let e = f.publish(dir).await.expect_err("activation fails");
    let text = imagebake_core::chain(&e).to_string();
    assert!(text.contains("activating triton-origin-child@"), "{text}");
    assert!(text.contains("500"), "{text}");
    assert!(!text.contains("left behind"), "{text}");
    no_half_imported(&f.sim);
    let have = f.sim.imgapi().images();
    assert_eq!(have.len(), 1, "the child was deleted: {have:?}");
    assert_eq!(have[0].uuid, base.uuid, "the complete base is kept");

    // The file upload failing past the retries: the same.
    f.sim
        .imgapi()
        .faults()
        .inject("AddImageFile", Fault::Status(400), 1);
    let e = f.publish(dir).await.expect_err("upload fails");
    assert!(
        imagebake_core::chain(&e)
            .to_string()
            .contains("adding the file"),
        "{e}"
    );
    no_half_imported(&f.sim);
    assert_eq!(f.sim.imgapi().images().len(), 1);

    let report = f.publish(dir).await.expect("re-run completes");
    let outcomes: Vec<_> = report.images.iter().map(|i| i.outcome).collect();
    assert_eq!(
        outcomes,
        [PublishOutcome::AlreadyThere, PublishOutcome::Published]
    );
    let dev = f.sim.imgapi().images_in("dev");
    assert_eq!(dev.len(), 2, "no duplicates: {dev:?}");
    assert!(dev.iter().all(|i| i.state == "active"));
}

#[tokio::test]
async fn a_broken_set_is_refused_before_anything_is_imported() {
    let f = fixture().await;
    let img = Img::new("triton-origin-broken", None);
    let dir = "~~/stor/builds/broken";
    write_set(&f, dir, "master", VERSION, &[&img]).await;
    let login = f.sim.account();
    let f = &f;
    let run = |dir: String| async move { f.publish(&dir).await.expect_err("refused").to_string() };
    // A file whose size is not the manifest's.
    let file = format!("{dir}/triton-origin-broken-{VERSION}.zfs.gz");
    f.manta
        .put(&file, PutSource::bytes("short"), PutOptions::default())
        .await
        .unwrap();
    let e = run(dir.to_owned()).await;
    assert!(
        e.contains(&format!(
            "/{login}/stor/builds/broken/triton-origin-broken-{VERSION}.zfs.gz"
        )) && e.contains("files[0].size"),
        "{e}"
    );
    // No file at all.
    f.manta.delete(&file).await.unwrap();
    let e = run(dir.to_owned()).await;
    assert!(e.contains("is missing"), "{e}");
    // A manifest without a sha1.
    let mut m = img.manifest(VERSION);
    m["files"][0].as_object_mut().unwrap().remove("sha1");
    f.manta
        .put(
            &format!("{dir}/triton-origin-broken-{VERSION}.imgmanifest"),
            PutSource::bytes(m.to_string()),
            PutOptions::default(),
        )
        .await
        .unwrap();
    let e = run(dir.to_owned()).await;
    assert!(e.contains("files[0].sha1"), "{e}");
    // An origin outside the set that the repository does not have.
    let orphan = Img::new("triton-origin-orphan", Some(uuid::Uuid::new_v4()));
    write_set(f, "~~/stor/builds/orphan", "master", VERSION, &[&orphan]).await;
    let e = run("~~/stor/builds/orphan".to_owned()).await;
    assert!(
        e.contains(": origin") && e.contains(&orphan.origin.unwrap().to_string()),
        "{e}"
    );
    // Not a set; a directory that does not exist.
    let e = run("~~/stor".to_owned()).await;
    assert!(e.contains("no *.imgmanifest"), "{e}");
    let e = run("~~/stor/nowhere".to_owned()).await;
    assert!(e.contains("404") || e.contains("ResourceNotFound"), "{e}");
    assert!(f.sim.imgapi().images().is_empty());
}

#[tokio::test]
async fn release_adds_the_latest_set_of_a_version_to_the_release_channels() {
    let f = fixture().await;
    let base = Img::new("triton-origin-base", None);
    let child = Img::new("triton-origin-child", Some(base.uuid));
    let dir = "~~/stor/builds/set";
    write_set(&f, dir, "master", VERSION, &[&base, &child]).await;
    f.publish(dir).await.expect("published");

    let done = release(&f.repo, &ReleaseOptions::new(VERSION))
        .await
        .expect("released");
    assert_eq!(done.len(), 6, "{done:?}");
    assert!(done.iter().all(|r| r.added));
    assert_eq!(done[0].uuid, base.uuid, "the origin first");
    for channel in ["staging", "release", "support"] {
        let have = f.sim.imgapi().images_in(channel);
        let mut uuids: Vec<_> = have.iter().map(|i| i.uuid).collect();
        uuids.sort();
        let mut want = vec![base.uuid, child.uuid];
        want.sort();
        assert_eq!(uuids, want, "{channel}");
    }
    // Again: reported as already there, nothing duplicated.
    let again = release(&f.repo, &ReleaseOptions::new(VERSION))
        .await
        .expect("again");
    assert!(again.iter().all(|r| !r.added));
    assert_eq!(f.sim.imgapi().images().len(), 2);

    let e = release(&f.repo, &ReleaseOptions::new("9.9.9"))
        .await
        .expect_err("unknown version")
        .to_string();
    assert!(
        e.contains("9.9.9") && e.contains("channel dev"),
        "names the version and channel: {e}"
    );
    let mut bad = ReleaseOptions::new(VERSION);
    bad.to = vec!["nightly".into()];
    let e = release(&f.repo, &bad).await.expect_err("unknown channel");
    assert!(e.to_string().contains("nightly"), "{e}");
}
