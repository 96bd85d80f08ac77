//! Importing a local disk image into the Oxide simulator without an
//! instance (`imagebake_core::steps::oxide::import_image`): the image's
//! bytes equal the file's, zero chunks are not sent, a qcow2 file is
//! converted first; and every fault (a 5xx on the writes, lost answers,
//! Ctrl-C mid-upload, a finalize failure, a taken name) leaves nothing in
//! the simulator: no disk, no snapshot, no image but the seeded ones.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use imagebake_core::oxide_client::{
    Backoff, BlockSize, Client, Config, Image, NameOrId, RetryPolicy,
};
use imagebake_core::steps::oxide::{CHUNK, ImageSpec, ImportSpec, OxideApi, import_image};
use imagebake_core::{BuildError, Built, CancellationToken, Runner};
use imagebake_sim::Fault;
use imagebake_sim::oxide::{OxideSim, OxideSimOptions};

mod support;
use support::{cancel_when, ms};

const SEED_IMAGES: usize = 3;

async fn new_sim() -> Arc<OxideSim> {
    Arc::new(
        OxideSim::start(OxideSimOptions::default())
            .await
            .expect("simulator starts"),
    )
}

fn api(sim: &OxideSim) -> OxideApi {
    let retry = RetryPolicy {
        max_attempts: 3,
        backoff: Backoff::new(ms(1), ms(5)),
    };
    let client = Client::new(Config::new(sim.url(), sim.token()).retry_policy(retry)).unwrap();
    let mut api = OxideApi::new(client, NameOrId::from("imagebake"));
    api.retry = retry;
    api
}

fn spec(file: &Path, block_size: BlockSize) -> ImportSpec {
    ImportSpec {
        file: file.to_owned(),
        disk_name: "import-disk".into(),
        snapshot_name: "import-snap".into(),
        image: ImageSpec {
            name: "imported".into(),
            os: "linux".into(),
            version: "1".into(),
            description: "imported by a test".into(),
        },
        block_size,
        parallelism: 4,
        replace_image: false,
    }
}

/// A sparse file of `size` bytes with data at `extents` (offset, length):
/// each extent holds a pattern that differs by offset.
fn sparse_file(dir: &Path, name: &str, size: u64, extents: &[(u64, usize)]) -> PathBuf {
    use std::os::unix::fs::FileExt;
    let path = dir.join(name);
    let f = std::fs::File::create(&path).unwrap();
    f.set_len(size).unwrap();
    for (off, len) in extents {
        let data: Vec<u8> = (0..*len)
            .map(|i| ((off + i as u64) % 253 + 1) as u8)
            .collect();
        f.write_all_at(&data, *off).unwrap();
    }
    path
}

async fn run(
    sim: &OxideSim,
    spec: &ImportSpec,
    token: CancellationToken,
) -> Result<Built<Image>, BuildError> {
    let api = api(sim);
    let spec = spec.clone();
    Runner::new()
        .run("import", token, move |cx| async move {
            import_image(&cx, &api, &spec).await
        })
        .await
}

/// The image holds exactly the file's bytes, then zeros.
fn assert_image_is_file(sim: &OxideSim, image: &Image, file: &Path) {
    let want = std::fs::read(file).unwrap();
    let got = sim
        .image_bytes(image.id, 0, want.len() as u64)
        .unwrap()
        .expect("the image keeps its bytes");
    assert!(got == want, "the image's bytes differ from the file's");
    let end = sim.image_data_end(image.id).unwrap();
    assert!(
        end <= want.len() as u64,
        "bytes written past the file: {end}"
    );
}

/// Nothing but the seeded images (and `image`, if any) is left.
fn assert_only(sim: &OxideSim, image: Option<&str>) {
    let inv = sim.inventory();
    assert!(inv.disks.is_empty(), "disks left: {:?}", inv.disks);
    assert!(
        inv.snapshots.is_empty(),
        "snapshots left: {:?}",
        inv.snapshots
    );
    let extra: Vec<&str> = inv
        .images
        .iter()
        .skip(SEED_IMAGES)
        .map(|i| i.name.as_str())
        .collect();
    assert_eq!(extra, image.into_iter().collect::<Vec<_>>(), "images");
}

fn bulk_writes(sim: &OxideSim) -> usize {
    sim.requests()
        .iter()
        .filter(|r| r.path.ends_with("/bulk-write"))
        .count()
}

#[tokio::test]
async fn a_sparse_file_becomes_an_image_with_its_bytes_and_only_the_image_is_left() {
    let sim = new_sim().await;
    let dir = tempfile::tempdir().unwrap();
    // 5 MiB + 3 blocks: data in chunks 0, 2 (across into 3) and the short
    // last one; chunk 1 and 4..9 are holes, chunk 5 is written zeros.
    let size = 10 * CHUNK + 1536;
    let file = sparse_file(
        dir.path(),
        "disk.raw",
        size,
        &[
            (0, 4096),
            (2 * CHUNK + 1000, CHUNK as usize),
            (10 * CHUNK, 1536),
        ],
    );
    {
        use std::os::unix::fs::FileExt;
        let f = std::fs::OpenOptions::new().write(true).open(&file).unwrap();
        f.write_all_at(&vec![0; CHUNK as usize], 5 * CHUNK).unwrap();
    }
    let built = run(
        &sim,
        &spec(&file, BlockSize::B512),
        CancellationToken::new(),
    )
    .await
    .expect("the import succeeds");
    let image = built.value;
    assert_eq!(image.name, "imported");
    assert_eq!(image.size, 1 << 30, "rounded up to a whole GiB");
    assert_image_is_file(&sim, &image, &file);
    assert_eq!(
        bulk_writes(&sim),
        4,
        "only the chunks holding data are sent"
    );
    assert!(built.cleanup.is_clean(), "{}", built.cleanup);
    assert_only(&sim, Some("imported"));
}

#[tokio::test]
async fn every_block_size_works_and_a_file_not_in_whole_blocks_is_refused() {
    let sim = new_sim().await;
    let dir = tempfile::tempdir().unwrap();
    let file = sparse_file(dir.path(), "bs.raw", 3 * CHUNK, &[(CHUNK - 4096, 8192)]);
    for (i, bs) in [BlockSize::B2048, BlockSize::B4096].into_iter().enumerate() {
        let mut s = spec(&file, bs);
        s.image.name = format!("imported-{i}");
        let image = run(&sim, &s, CancellationToken::new()).await.unwrap().value;
        assert_eq!(image.block_size, bs.bytes());
        assert_image_is_file(&sim, &image, &file);
    }
    let odd = sparse_file(dir.path(), "odd.raw", 4096 + 512, &[(0, 100)]);
    let e = run(
        &sim,
        &spec(&odd, BlockSize::B4096),
        CancellationToken::new(),
    )
    .await
    .unwrap_err();
    assert_eq!(e.step.as_deref(), Some("prepare raw file"));
    assert!(
        e.to_string()
            .contains("file size 4608 is not divisible by block size 4096"),
        "{e}"
    );
    let inv = sim.inventory();
    assert!(inv.disks.is_empty() && inv.snapshots.is_empty(), "{inv:?}");
    assert_eq!(inv.images.len(), SEED_IMAGES + 2);
}

#[tokio::test]
async fn a_qcow2_file_is_converted_first() {
    let sim = new_sim().await;
    let dir = tempfile::tempdir().unwrap();
    let raw = sparse_file(dir.path(), "disk.raw", 2 * CHUNK, &[(CHUNK + 512, 2048)]);
    let qcow2 = dir.path().join("disk.qcow2");
    let out = std::process::Command::new("qemu-img")
        .args(["convert", "-f", "raw", "-O", "qcow2"])
        .arg(&raw)
        .arg(&qcow2)
        .output()
        .expect("qemu-img runs");
    assert!(out.status.success(), "{out:?}");
    let image = run(
        &sim,
        &spec(&qcow2, BlockSize::B512),
        CancellationToken::new(),
    )
    .await
    .unwrap()
    .value;
    assert_image_is_file(&sim, &image, &raw);
    // The raw working copy is gone.
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left.len(), 2, "{left:?}");
}

#[tokio::test]
async fn lost_answers_are_retried_or_adopted_and_the_bytes_are_right() {
    let sim = new_sim().await;
    let dir = tempfile::tempdir().unwrap();
    let file = sparse_file(
        dir.path(),
        "disk.raw",
        4 * CHUNK,
        &[(0, 4 * CHUNK as usize)],
    );
    let f = sim.faults();
    f.inject("disk_create", Fault::DropAfter, 1);
    f.inject("disk_bulk_write_import_start", Fault::DropAfter, 1);
    f.inject("disk_bulk_write_import", Fault::DropAfter, 1);
    f.inject("disk_bulk_write_import", Fault::Status(503), 1);
    f.inject("disk_bulk_write_import_stop", Fault::DropAfter, 1);
    f.inject("disk_finalize_import", Fault::DropAfter, 1);
    let image = run(
        &sim,
        &spec(&file, BlockSize::B512),
        CancellationToken::new(),
    )
    .await
    .expect("the import survives lost answers")
    .value;
    assert_image_is_file(&sim, &image, &file);
    assert_only(&sim, Some("imported"));
}

#[tokio::test]
async fn writes_that_keep_failing_leave_nothing() {
    for fault in [Fault::Status(500), Fault::DropAfter] {
        let sim = new_sim().await;
        let dir = tempfile::tempdir().unwrap();
        let file = sparse_file(
            dir.path(),
            "disk.raw",
            4 * CHUNK,
            &[(0, 4 * CHUNK as usize)],
        );
        sim.faults()
            .inject("disk_bulk_write_import", fault.clone(), 100);
        let e = run(
            &sim,
            &spec(&file, BlockSize::B512),
            CancellationToken::new(),
        )
        .await
        .unwrap_err();
        assert_eq!(e.step.as_deref(), Some("upload blocks"), "{fault:?}: {e}");
        assert!(
            e.to_string().contains("writing 524288 bytes at offset"),
            "{e}"
        );
        assert!(e.cleanup.is_clean(), "{}", e.cleanup);
        assert_only(&sim, None);
    }
}

#[tokio::test]
async fn a_finalize_failure_leaves_nothing() {
    let sim = new_sim().await;
    let dir = tempfile::tempdir().unwrap();
    let file = sparse_file(dir.path(), "disk.raw", CHUNK, &[(0, 512)]);
    sim.faults()
        .inject("disk_finalize_import", Fault::FailResource, 4);
    let e = run(
        &sim,
        &spec(&file, BlockSize::B512),
        CancellationToken::new(),
    )
    .await
    .unwrap_err();
    assert_eq!(e.step.as_deref(), Some("finalize import"), "{e}");
    assert!(e.to_string().contains("finalize disk saga failed"), "{e}");
    assert!(e.cleanup.is_clean(), "{}", e.cleanup);
    assert_only(&sim, None);
}

#[tokio::test]
async fn an_image_create_failure_leaves_nothing() {
    let sim = new_sim().await;
    let dir = tempfile::tempdir().unwrap();
    let file = sparse_file(dir.path(), "disk.raw", CHUNK, &[(0, 512)]);
    sim.faults().inject("image_create", Fault::FailResource, 4);
    let e = run(
        &sim,
        &spec(&file, BlockSize::B512),
        CancellationToken::new(),
    )
    .await
    .unwrap_err();
    assert_eq!(e.step.as_deref(), Some("create image"), "{e}");
    assert!(e.cleanup.is_clean(), "{}", e.cleanup);
    assert_only(&sim, None);
}

/// A file of `chunks` full chunks whose writes the simulator answers
/// slowly, and a token cancelled (Ctrl-C) once `after` writes arrived: the
/// upload is surely under way then.
fn slow_upload(
    sim: &Arc<OxideSim>,
    dir: &Path,
    chunks: u64,
    after: usize,
) -> (PathBuf, CancellationToken) {
    let file = sparse_file(
        dir,
        "disk.raw",
        chunks * CHUNK,
        &[(0, (chunks * CHUNK) as usize)],
    );
    let n = usize::try_from(chunks).unwrap();
    sim.faults()
        .inject("disk_bulk_write_import", Fault::Slow(ms(50)), n);
    let token = CancellationToken::new();
    let s = sim.clone();
    cancel_when(token.clone(), move || {
        let n = bulk_writes(&s);
        async move { n >= after }
    });
    (file, token)
}

#[tokio::test]
async fn ctrl_c_mid_upload_leaves_nothing() {
    let sim = new_sim().await;
    let dir = tempfile::tempdir().unwrap();
    let (file, token) = slow_upload(&sim, dir.path(), 64, 6);
    let e = run(&sim, &spec(&file, BlockSize::B512), token)
        .await
        .unwrap_err();
    assert!(e.is_cancelled(), "{e}");
    assert_eq!(e.step.as_deref(), Some("upload blocks"), "{e}");
    assert!(e.cleanup.is_clean(), "{}", e.cleanup);
    assert_only(&sim, None);
    assert!(bulk_writes(&sim) < 64, "the upload stopped early");
}

#[tokio::test]
async fn force_replaces_an_image_of_the_same_name() {
    let sim = new_sim().await;
    let dir = tempfile::tempdir().unwrap();
    let first = sparse_file(dir.path(), "first.raw", CHUNK, &[(0, 512)]);
    let old = run(
        &sim,
        &spec(&first, BlockSize::B512),
        CancellationToken::new(),
    )
    .await
    .unwrap()
    .value;
    let second = sparse_file(dir.path(), "second.raw", 2 * CHUNK, &[(CHUNK, 1024)]);
    let mut s = spec(&second, BlockSize::B512);
    s.replace_image = true;
    let new = run(&sim, &s, CancellationToken::new()).await.unwrap().value;
    assert_ne!(new.id, old.id);
    assert_image_is_file(&sim, &new, &second);
    assert_only(&sim, Some("imported"));
}

#[tokio::test]
async fn a_taken_name_fails_before_anything_is_created() {
    let sim = new_sim().await;
    let dir = tempfile::tempdir().unwrap();
    let file = sparse_file(dir.path(), "disk.raw", CHUNK, &[(0, 512)]);
    let mut s = spec(&file, BlockSize::B512);
    s.image.name = "alpine-3-20".into();
    let e = run(&sim, &s, CancellationToken::new()).await.unwrap_err();
    assert_eq!(e.step.as_deref(), Some("check import names"), "{e}");
    assert!(
        e.to_string()
            .contains("image alpine-3-20 already exists in project imagebake"),
        "{e}"
    );
    assert_eq!(e.cause.config_key(), Some("image_name"));
    assert_only(&sim, None);
    assert_eq!(bulk_writes(&sim), 0);
}

// ------------------------------------------------- the post-processors

use imagebake_core::builders::Artifact;
use imagebake_core::builders::local_chroot::LocalChrootArtifact;
use imagebake_core::postprocess::{PostCx, decode};
use imagebake_core::steps::chroot::DiskFormat;
use imagebake_core::{BuildId, CleanupReport};
use serde_json::{Value, json};

fn post_cx(dir: &Path, cancel: CancellationToken) -> (PostCx, Arc<std::sync::Mutex<Vec<String>>>) {
    let lines: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
    let l = lines.clone();
    let cx = PostCx {
        build_name: "local-chroot.scratch".into(),
        builder_type: "local-chroot".into(),
        run_uuid: "run".into(),
        cwd: dir.to_owned(),
        sensitive: Default::default(),
        progress: Arc::new(move |line: &str| l.lock().unwrap().push(line.to_owned())),
        cancel,
        force: false,
    };
    (cx, lines)
}

fn import_block(sim: &OxideSim, extra: Value) -> Value {
    support::merged(
        json!({
            "host": sim.url(),
            "token": sim.token(),
            "project": "imagebake",
            "image_name": "baked-locally",
            "image_os": "busybox",
            "image_version": "1.36",
            "parallelism": "3",
        }),
        extra,
    )
}

fn local_artifact(path: &Path) -> Arc<dyn Artifact> {
    Arc::new(LocalChrootArtifact {
        path: path.to_owned(),
        format: DiskFormat::Raw,
        build_id: BuildId::generate(),
        cleanup: CleanupReport::default(),
    })
}

#[tokio::test]
async fn oxide_import_then_promote_turn_a_local_artifact_into_a_silo_image() {
    let sim = new_sim().await;
    let dir = tempfile::tempdir().unwrap();
    let file = sparse_file(
        dir.path(),
        "out.raw",
        6 * CHUNK,
        &[(0, 8192), (4 * CHUNK, 4096)],
    );
    let import = decode(
        "oxide-import",
        &import_block(&sim, json!({"block_size": 4096})),
    )
    .expect("the block decodes");
    assert_eq!(import.kind(), "oxide-import");
    let (cx, lines) = post_cx(dir.path(), CancellationToken::new());
    let out = import
        .process(&cx, local_artifact(&file))
        .await
        .expect("the import succeeds");
    assert!(!out.force_keep_input);
    let art = out.artifact;
    assert_eq!(art.cloud(), "oxide");
    assert_eq!(art.builder_type(), "oxide-import");
    assert_eq!(art.name(), "baked-locally");
    let id = NameOrId::from(art.id().unwrap().as_str());
    let image = Client::new(Config::new(sim.url(), sim.token()))
        .unwrap()
        .image_view(id.clone(), None)
        .await
        .unwrap();
    assert_eq!(
        (image.os.as_str(), image.version.as_str(), image.block_size),
        ("busybox", "1.36", 4096)
    );
    assert!(
        image.description.contains("imagebake-build="),
        "{}",
        image.description
    );
    assert_image_is_file(&sim, &image, &file);
    assert_only(&sim, Some("baked-locally"));
    let lines = lines.lock().unwrap().clone();
    assert!(
        lines.iter().any(|l| l == "oxide-import: upload blocks"),
        "{lines:?}"
    );

    let promote = decode(
        "oxide-image-promote",
        &json!({"host": sim.url(), "token": sim.token()}),
    )
    .unwrap();
    let art_id = art.id();
    let promoted = promote.process(&cx, art).await.expect("promoted").artifact;
    assert_eq!(promoted.id(), art_id);
    let image = Client::new(Config::new(sim.url(), sim.token()))
        .unwrap()
        .image_view(id.clone(), None)
        .await
        .unwrap();
    assert!(image.is_silo_image());
    // A local file is not an Oxide image: promoting it is refused.
    let e = promote
        .process(&cx, local_artifact(&file))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("is not an Oxide image"), "{e}");
}

#[tokio::test]
async fn oxide_import_cancelled_leaves_nothing() {
    let sim = new_sim().await;
    let dir = tempfile::tempdir().unwrap();
    let (file, token) = slow_upload(&sim, dir.path(), 32, 3);
    let import = decode("oxide-import", &import_block(&sim, json!({}))).unwrap();
    let (cx, _) = post_cx(dir.path(), token);
    let e = import
        .process(&cx, local_artifact(&file))
        .await
        .unwrap_err();
    assert!(e.is_cancelled(), "{e}");
    assert_only(&sim, None);
}

#[test]
fn post_processor_keys_are_checked_and_named() {
    let base = json!({
        "host": "http://127.0.0.1:1", "token": "oxide-token-secret", "project": "imagebake",
        "image_name": "img", "image_os": "linux", "image_version": "1",
    });
    let d = decode("oxide-import", &base).unwrap();
    assert!(!format!("{d:?}").contains("oxide-token-secret"), "{d:?}");
    for (extra, key, text) in [
        (json!({"bogus": 1}), "bogus", "unknown key `bogus`"),
        (
            json!({"project": null}),
            "project",
            "missing required key `project`",
        ),
        (
            json!({"image_os": null}),
            "image_os",
            "missing required key `image_os`",
        ),
        (
            json!({"block_size": 1000}),
            "block_size",
            "1000 is not 512, 2048 or 4096",
        ),
        (
            json!({"parallelism": 0}),
            "parallelism",
            "0 is not between 1 and 64",
        ),
        (
            json!({"parallelism": "many"}),
            "parallelism",
            "expected a whole number",
        ),
        (
            json!({"image_name": "Not_A_Name"}),
            "image_name",
            "key `image_name`",
        ),
        (json!({"disk_name": "-x"}), "disk_name", "key `disk_name`"),
        (
            json!({"token": null}),
            "token",
            "neither `token` nor OXIDE_TOKEN",
        ),
        (json!({"profile": "p"}), "profile", "conflicts"),
    ] {
        let e = decode("oxide-import", &support::merged(base.clone(), extra)).unwrap_err();
        assert_eq!(e.config_key(), Some(key), "{e}");
        let msg = e.to_string();
        assert!(
            msg.contains("post-processor oxide-import") && msg.contains(text),
            "{msg}"
        );
        assert!(!msg.contains("oxide-token-secret"), "{msg}");
    }
    let e = decode(
        "oxide-image-promote",
        &json!({"host": "http://127.0.0.1:1", "token": "t", "image_name": "img"}),
    )
    .unwrap_err();
    assert_eq!(e.config_key(), Some("project"), "{e}");
}

/// A `local-chroot` build from scratch (busybox, a shell provisioner), then
/// `oxide-import` of its output: the image on the simulator holds exactly
/// the built file. (The same chain in one HCL2 template needs the bake
/// runner in `imagebake_core::bake`; this runs the post-processor on the
/// builder's artifact directly.)
#[imagebake_testing::needs_root("loop devices, mount, chroot")]
#[tokio::test]
async fn a_local_chroot_build_from_scratch_imported_into_oxide() {
    use imagebake_core::builders::Builder;
    use imagebake_core::builders::local_chroot::{LocalChrootBuilder, LocalChrootConfig};
    use imagebake_core::provision::Shell;

    let sim = new_sim().await;
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    imagebake_testing::busybox_tree(&tree, &["sh", "echo", "sync"], &["proc", "sys", "dev"]);
    let out = dir.path().join("out.raw");
    let cfg = LocalChrootConfig::from_json(&json!({
        "type": "local-chroot",
        "mount_path": format!("{}/mnt/{{{{.Device}}}}", dir.path().display()),
        "from_scratch": true,
        "image_size": "64M",
        "rootfs_dir": tree,
        "output_path": out,
    }))
    .unwrap();
    let built = LocalChrootBuilder::new(cfg)
        .unwrap()
        .provisioner(Shell::inline(["echo baked-for-oxide > /etc/baked"]))
        .run(&Runner::new(), CancellationToken::new())
        .await
        .expect("the local build succeeds");
    let import = decode("oxide-import", &import_block(&sim, json!({}))).unwrap();
    let (cx, _) = post_cx(dir.path(), CancellationToken::new());
    let art = import
        .process(&cx, Arc::new(built))
        .await
        .expect("the import succeeds")
        .artifact;
    let image = Client::new(Config::new(sim.url(), sim.token()))
        .unwrap()
        .image_view(NameOrId::from(art.id().unwrap().as_str()), None)
        .await
        .unwrap();
    assert_image_is_file(&sim, &image, &out);
    assert_only(&sim, Some("baked-locally"));
}
