//! The IMGAPI repository client against the simulator's repository.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use futures::TryStreamExt as _;
use imagebake_sim::Fault;
use imagebake_sim::triton::TritonSim;
use serde_json::{Value, json};
use triton_client::imgapi::{ImgapiClient, ImgapiConfig, ListImagesQuery};
use triton_client::{Error, KeySource};
use uuid::Uuid;

use crate::common::{fast_retry, keygen, sim};

fn repo(sim: &TritonSim) -> ImgapiClient {
    ImgapiClient::new(
        ImgapiConfig::builder()
            .url(sim.imgapi().url())
            .user(sim.imgapi().user())
            .key_file(sim.imgapi().key_path().unwrap())
            .channel("dev")
            .retry(fast_retry(4))
            .build()
            .unwrap(),
    )
    .unwrap()
}

fn api(e: &Error) -> (Option<u16>, Option<&str>) {
    (e.status(), e.code())
}

/// A manifest and its gzip file (any bytes: the repository checks sha1 and
/// size only).
fn image(dir: &Path, name: &str, version: &str) -> (Value, PathBuf) {
    let file = dir.join(format!("{name}-{version}.zfs.gz"));
    std::fs::write(&file, format!("{name}@{version} file bytes").repeat(100)).unwrap();
    let manifest = json!({
        "v": 2,
        "uuid": Uuid::new_v4(),
        "owner": "930896af-bf8c-48d4-885c-6573a94b1853",
        "name": name,
        "version": version,
        "type": "zone-dataset",
        "os": "smartos",
        "public": false,
        "state": "active",
        "files": [{"sha1": "ignored", "size": 1, "compression": "gzip"}],
        "requirements": {"min_platform": {"7.0": "20141030T081701Z"}},
    });
    (manifest, file)
}

fn uuid_of(m: &Value) -> Uuid {
    Uuid::parse_str(m["uuid"].as_str().unwrap()).unwrap()
}

async fn publish(r: &ImgapiClient, manifest: &Value, file: &Path) -> Uuid {
    let id = uuid_of(manifest);
    r.import_image(manifest).await.unwrap();
    r.add_image_file(id, file, "gzip", None).await.unwrap();
    r.activate_image(id).await.unwrap();
    id
}

#[tokio::test]
async fn import_add_file_activate_release_and_delete() {
    let sim = sim().await;
    let r = repo(&sim);
    let dir = tempfile::tempdir().unwrap();
    let channels = r.list_channels().await.unwrap();
    let names: Vec<&str> = channels.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        ["experimental", "dev", "staging", "release", "support"]
    );
    assert!(channels.iter().any(|c| c.name == "dev" && c.default));
    assert_eq!(r.ping().await.unwrap()["user"], sim.imgapi().user());

    let (manifest, file) = image(dir.path(), "triton-origin-x", "1.0.0");
    let id = uuid_of(&manifest);
    let imported = r.import_image(&manifest).await.unwrap();
    assert_eq!(imported.state.as_deref(), Some("unactivated"));
    assert_eq!(
        imported.owner.as_deref(),
        Some("00000000-0000-0000-0000-000000000000"),
        "a private repository forces the owner"
    );
    assert!(
        imported.files.is_empty(),
        "the manifest's files are dropped"
    );
    let e = r.activate_image(id).await.unwrap_err();
    assert_eq!(api(&e), (Some(422), Some("NoActivationNoFile")));
    let with_file = r.add_image_file(id, &file, "gzip", None).await.unwrap();
    assert_eq!(
        with_file.files[0].size,
        std::fs::metadata(&file).unwrap().len()
    );
    let active = r.activate_image(id).await.unwrap();
    assert_eq!(active.state.as_deref(), Some("active"));
    assert!(active.published_at.is_some());
    assert_eq!(active.channels, ["dev"]);
    let e = r.add_image_file(id, &file, "gzip", None).await.unwrap_err();
    assert_eq!(api(&e), (Some(422), Some("ImageFilesImmutable")));
    let e = r.import_image(&manifest).await.unwrap_err();
    assert_eq!(api(&e), (Some(409), Some("ImageUuidAlreadyExists")));

    // Outside its channels an image is 404; release adds channels.
    let staging = r.with_channel("staging").unwrap();
    assert!(staging.get_image(id).await.unwrap_err().is_not_found());
    for target in ["staging", "release", "support"] {
        r.channel_add_image(id, target).await.unwrap();
    }
    r.channel_add_image(id, "staging").await.unwrap(); // no-op
    let got = staging.get_image(id).await.unwrap();
    assert_eq!(got.channels, ["dev", "staging", "release", "support"]);
    assert_eq!(
        sim.imgapi()
            .images_in("release")
            .iter()
            .map(|i| i.uuid)
            .collect::<Vec<_>>(),
        [id]
    );
    assert_eq!(
        sim.imgapi().image_file(id).unwrap(),
        std::fs::read(&file).unwrap()
    );
    let e = r.channel_add_image(id, "nope").await.unwrap_err();
    assert_eq!(api(&e), (Some(422), Some("ValidationFailed")));

    assert_eq!(
        r.disable_image(id).await.unwrap().state.as_deref(),
        Some("disabled")
    );
    let listed: Vec<_> = r
        .list_images(&ListImagesQuery::new())
        .try_collect()
        .await
        .unwrap();
    assert!(listed.is_empty(), "active only by default");
    let listed: Vec<_> = r
        .list_images(&ListImagesQuery::new().state("all"))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    r.enable_image(id).await.unwrap();

    r.delete_image(id, false).await.unwrap();
    assert!(r.get_image(id).await.unwrap_err().is_not_found());
    assert!(staging.get_image(id).await.is_ok(), "still in staging");
    staging.delete_image(id, true).await.unwrap();
    assert_eq!(sim.imgapi().images(), []);
}

#[tokio::test]
async fn files_are_checked_before_and_after_sending() {
    let sim = sim().await;
    let r = repo(&sim);
    let dir = tempfile::tempdir().unwrap();
    let (manifest, file) = image(dir.path(), "checked", "1");
    let id = uuid_of(&manifest);
    r.import_image(&manifest).await.unwrap();
    let e = r.add_image_file(id, &file, "zip", None).await.unwrap_err();
    assert!(matches!(e, Error::InvalidRequest { .. }), "{e}");
    let e = r
        .add_image_file(
            id,
            &file,
            "gzip",
            Some("0000000000000000000000000000000000000000"),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Integrity { .. }), "{e}");
    let e = r
        .add_image_file(id, &dir.path().join("missing"), "gzip", None)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("missing"), "{e}");
    // An origin must already be in the repository.
    let (mut child, _) = image(dir.path(), "child", "1");
    child["origin"] = json!(Uuid::new_v4());
    let e = r.import_image(&child).await.unwrap_err();
    assert_eq!(api(&e), (Some(422), Some("OriginDoesNotExist")));
    let (mut public, _) = image(dir.path(), "public", "1");
    public["public"] = json!(true);
    let e = r.import_image(&public).await.unwrap_err();
    assert_eq!(api(&e), (Some(422), Some("ValidationFailed")));
    let (mut extra, _) = image(dir.path(), "extra", "1");
    extra["frobnicate"] = json!(1);
    let e = r.import_image(&extra).await.unwrap_err();
    assert_eq!(api(&e), (Some(422), Some("InvalidParameter")));
}

#[tokio::test]
async fn listing_pages_filters_and_picks_the_latest() {
    let sim = sim().await;
    let r = repo(&sim);
    let dir = tempfile::tempdir().unwrap();
    let mut ids = Vec::new();
    for (name, version) in [("a", "1"), ("b", "1"), ("a", "2"), ("b", "2"), ("a", "3")] {
        let (m, f) = image(dir.path(), name, version);
        ids.push(publish(&r, &m, &f).await);
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    }
    let before = sim.imgapi().request_count();
    let all: Vec<Uuid> = r
        .list_images(&ListImagesQuery::new().page_size(2))
        .map_ok(|i| i.uuid)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all, ids, "oldest first, none twice");
    // Pages of 2, each after the first repeating its marker row: [1 2]
    // [2 3] [3 4] [4 5] [5] (short).
    assert_eq!(sim.imgapi().request_count() - before, 5);
    let a: Vec<String> = r
        .list_images(&ListImagesQuery::new().name("a"))
        .map_ok(|i| i.version)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(a, ["1", "2", "3"]);
    let latest: Vec<(String, String)> = r
        .list_latest(&ListImagesQuery::new())
        .await
        .unwrap()
        .into_iter()
        .map(|i| (i.name, i.version))
        .collect();
    assert_eq!(
        latest,
        [
            ("b".to_owned(), "2".to_owned()),
            ("a".to_owned(), "3".to_owned())
        ]
    );
    let none: Vec<_> = r
        .with_channel("release")
        .unwrap()
        .list_images(&ListImagesQuery::new())
        .try_collect()
        .await
        .unwrap();
    assert!(none.is_empty());
}

#[tokio::test]
async fn server_errors_and_throttling_are_retried() {
    let sim = sim().await;
    let r = repo(&sim);
    let dir = tempfile::tempdir().unwrap();
    let (m, f) = image(dir.path(), "retried", "1");
    let id = uuid_of(&m);
    let faults = sim.imgapi().faults();
    // An import is a create: a 503 is not re-sent blindly.
    faults.inject("AdminImportImage", Fault::Status(503), 1);
    let e = r.import_image(&m).await.unwrap_err();
    assert_eq!(api(&e), (Some(503), Some("ServiceUnavailableError")));
    faults.inject("AdminImportImage", Fault::Status(429), 1);
    r.import_image(&m).await.unwrap();
    faults.inject("AddImageFile", Fault::Status(500), 1);
    faults.inject("AddImageFile", Fault::DropBefore, 1);
    r.add_image_file(id, &f, "gzip", None).await.unwrap();
    faults.inject("ActivateImage", Fault::Status(503), 2);
    r.activate_image(id).await.unwrap();
    faults.inject("ListImages", Fault::Status(503), 1);
    faults.inject("GetImage", Fault::Status(500), 1);
    faults.inject("ChannelAddImage", Fault::Status(429), 1);
    assert_eq!(
        r.list_images(&ListImagesQuery::new())
            .try_collect::<Vec<_>>()
            .await
            .unwrap()
            .len(),
        1
    );
    r.get_image(id).await.unwrap();
    r.channel_add_image(id, "staging").await.unwrap();
    for op in [
        "AdminImportImage",
        "AddImageFile",
        "ActivateImage",
        "ListImages",
        "GetImage",
        "ChannelAddImage",
    ] {
        assert_eq!(faults.pending(op), 0, "{op}");
    }
    assert_eq!(sim.imgapi().images().len(), 1, "never duplicated");
}

#[tokio::test]
async fn auth_is_rsa_keyed_by_user_and_failures_are_401() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let url = sim.imgapi().url();
    let build = |user: &str, key: &Path| {
        ImgapiClient::new(
            ImgapiConfig::builder()
                .url(url.clone())
                .user(user)
                .key_file(key)
                .retry(fast_retry(2))
                .build()
                .unwrap(),
        )
        .map_err(Box::new)
    };
    let ed = keygen(dir.path(), "ed", "", &["-t", "ed25519"]);
    let e = build(sim.imgapi().user(), &ed).unwrap_err();
    assert!(matches!(*e, Error::UnsupportedAlgorithm { .. }), "{e}");
    let stranger = keygen(dir.path(), "stranger", "", &["-t", "rsa", "-b", "2048"]);
    let (m, _) = image(dir.path(), "x", "1");
    let e = build(sim.imgapi().user(), &stranger)
        .unwrap()
        .import_image(&m)
        .await
        .unwrap_err();
    assert_eq!(api(&e), (Some(401), Some("Unauthorized")), "{e}");
    let key = sim.imgapi().key_path().unwrap().to_owned();
    let e = build("someone-else", &key)
        .unwrap()
        .import_image(&m)
        .await
        .unwrap_err();
    assert_eq!(api(&e), (Some(401), Some("Unauthorized")), "{e}");
    // Unsigned: reads pass, writes do not.
    let anon =
        ImgapiClient::new(ImgapiConfig::builder().url(url.clone()).build().unwrap()).unwrap();
    assert!(anon.list_channels().await.is_ok());
    assert!(anon.ping().await.unwrap().get("user").is_none());
    let e = anon.import_image(&m).await.unwrap_err();
    assert_eq!(api(&e), (Some(401), Some("Unauthorized")));
    assert_eq!(sim.imgapi().images(), []);
}

#[test]
fn config_from_env_reads_updates_imgadm_variables_strictly() {
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir(home.path().join(".ssh")).unwrap();
    let key = home.path().join(".ssh/automation.id_rsa");
    std::fs::write(&key, "not read yet").unwrap();
    let read = |vars: &[(&str, &str)]| {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        ImgapiConfig::from_env_with(&|k| map.get(k).cloned(), Some(home.path()))
            .map_err(|e| e.to_string())
    };
    let c = read(&[]).unwrap();
    assert_eq!(c.url().as_str(), "https://updates.tritondatacenter.com/");
    assert!(c.key_source().is_none() && c.user().is_none() && c.channel().is_none());
    let c = read(&[
        (
            "UPDATES_IMGADM_URL",
            "https://updates.example/?channel=staging",
        ),
        ("UPDATES_IMGADM_USER", "mg"),
        ("UPDATES_IMGADM_IDENTITY", "~/.ssh/automation.id_rsa"),
        ("UPDATES_IMGADM_INSECURE", "1"),
    ])
    .unwrap();
    assert_eq!(
        (c.url().as_str(), c.user(), c.channel(), c.insecure()),
        (
            "https://updates.example/",
            Some("mg"),
            Some("staging"),
            true
        ),
        "_INSECURE=1 turns verification off"
    );
    assert!(matches!(c.key_source(), Some(KeySource::File { path, .. }) if path == &key));
    let c = read(&[
        ("UPDATES_IMGADM_USER", "mg"),
        ("UPDATES_IMGADM_IDENTITY", "SHA256:abcdefghij"),
        ("UPDATES_IMGADM_CHANNEL", "dev"),
    ])
    .unwrap();
    assert!(matches!(c.key_source(), Some(KeySource::Search { .. })));
    assert_eq!(c.channel(), Some("dev"));
    assert!(
        !read(&[("UPDATES_IMGADM_INSECURE", "0")])
            .unwrap()
            .insecure()
    );
    for (vars, named) in [
        (
            vec![("UPDATES_IMGADM_IDENTITY", "SHA256:abc")],
            "UPDATES_IMGADM_USER",
        ),
        (
            vec![("UPDATES_IMGADM_CHANNEL", "Dev")],
            "UPDATES_IMGADM_CHANNEL",
        ),
        (
            vec![("UPDATES_IMGADM_URL", "notaurl")],
            "UPDATES_IMGADM_URL",
        ),
        (
            vec![("UPDATES_IMGADM_INSECURE", "yes")],
            "UPDATES_IMGADM_INSECURE",
        ),
        (
            vec![
                ("UPDATES_IMGADM_USER", "mg"),
                ("UPDATES_IMGADM_IDENTITY", "/no/such/key"),
            ],
            "UPDATES_IMGADM_IDENTITY",
        ),
        (
            vec![("UPDATES_IMGADM_URL", "https://u.example/?channel=BAD")],
            "UPDATES_IMGADM_URL",
        ),
    ] {
        let e = read(&vars).unwrap_err();
        assert!(e.contains(named), "{vars:?}: {e}");
    }
}

#[tokio::test]
async fn debug_never_shows_key_material() {
    let sim = sim().await;
    let r = repo(&sim);
    let key = std::fs::read_to_string(sim.imgapi().key_path().unwrap()).unwrap();
    let shown = format!("{r:?}");
    assert!(!shown.contains(key.lines().nth(1).unwrap()), "{shown}");
    assert!(shown.contains("imagebake-publisher"));
}

#[tokio::test]
async fn publish_is_idempotent_and_leaves_nothing_half_imported() {
    let sim = sim().await;
    let r = repo(&sim);
    let dir = tempfile::tempdir().unwrap();
    let (mut m, f) = image(dir.path(), "pub", "1");
    m["files"] = json!([]);
    let id = uuid_of(&m);

    // A failure past the import deletes the image again.
    sim.imgapi()
        .faults()
        .inject("ActivateImage", Fault::Status(400), 1);
    let e = r.publish(&m, &f, None).await.unwrap_err();
    assert_eq!(e.status(), Some(400));
    assert_eq!(sim.imgapi().images(), [], "nothing half-imported");

    let first = r.publish(&m, &f, None).await.unwrap();
    assert!(!first.already);
    assert_eq!(first.image.state.as_deref(), Some("active"));
    assert_eq!(
        first.image.files[0].compression, "gzip",
        "from the .gz name"
    );
    let again = r.publish(&m, &f, None).await.unwrap();
    assert!(again.already);
    assert_eq!(sim.imgapi().images().len(), 1, "never duplicated");

    // Publishing the same image to another channel adds the channel.
    let staging = r.with_channel("staging").unwrap();
    let there = staging.publish(&m, &f, None).await.unwrap();
    assert!(there.already);
    assert_eq!(there.image.channels, ["dev", "staging"]);

    // Another file under the same UUID is refused.
    let other = dir.path().join("other.zfs.gz");
    std::fs::write(&other, b"different bytes").unwrap();
    let e = r.publish(&m, &other, None).await.unwrap_err();
    assert!(matches!(e, Error::Integrity { .. }), "{e}");

    // An image left unactivated by a crash is replaced.
    let (m2, f2) = image(dir.path(), "crashed", "1");
    let id2 = uuid_of(&m2);
    r.import_image(&m2).await.unwrap();
    let mut m2 = m2;
    m2["files"] = json!([]);
    let done = r.publish(&m2, &f2, Some("gzip")).await.unwrap();
    assert!(!done.already);
    assert_eq!(done.image.uuid, id2);
    assert_eq!(sim.imgapi().images().len(), 2);
    assert!(sim.imgapi().images().iter().any(|i| i.uuid == id));
}
