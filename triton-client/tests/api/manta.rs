//! The Manta client against the simulator's Manta (served beside CloudAPI,
//! same account and keys).

use std::collections::HashMap;
use std::path::Path;

use futures::TryStreamExt as _;
use imagebake_sim::Fault;
use imagebake_sim::triton::TritonSim;
use triton_client::manta::{EntryKind, MantaClient, MantaConfig, PutOptions, PutSource};
use triton_client::types::{CreateImageFromMachine, CreateMachine, MachineState};
use triton_client::{Error, KeySource, Secret};

use crate::common::{an_image, client, fast_retry, keygen, sim, wait, wait_until};

fn manta(sim: &TritonSim) -> MantaClient {
    MantaClient::new(
        MantaConfig::builder()
            .url(sim.manta().url())
            .user(sim.account())
            .key_file(sim.private_key_path())
            .retry(fast_retry(4))
            .build()
            .unwrap(),
    )
    .unwrap()
}

fn api(e: &Error) -> (Option<u16>, Option<&str>) {
    (e.status(), e.code())
}

#[tokio::test]
async fn directories_and_objects_round_trip_and_land_in_the_folder() {
    let sim = sim().await;
    let m = manta(&sim);
    let login = sim.account();
    m.mkdirp("~~/stor/a/b/c").await.unwrap();
    m.mkdirp("~~/stor/a/b/c").await.unwrap(); // repeat is a no-op
    let r = m
        .put(
            "~~/stor/a/b/c/hello.txt",
            PutSource::bytes("hello manta"),
            PutOptions {
                content_type: Some("text/plain".into()),
                ..PutOptions::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(r.size, 11);
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("big.bin");
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&local, &big).unwrap();
    m.put(
        "~~/stor/a/big.bin",
        PutSource::file(&local),
        PutOptions::default(),
    )
    .await
    .unwrap();

    let info = m.head("~~/stor/a/big.bin").await.unwrap();
    assert_eq!((info.kind, info.size), (EntryKind::Object, Some(300_000)));
    assert_eq!(
        m.head("~~/stor/a/b").await.unwrap().kind,
        EntryKind::Directory
    );
    assert_eq!(
        m.get_bytes("~~/stor/a/b/c/hello.txt").await.unwrap(),
        b"hello manta"
    );
    let back = dir.path().join("back.bin");
    m.get_to_file(&format!("/{login}/stor/a/big.bin"), &back)
        .await
        .unwrap();
    assert_eq!(std::fs::read(&back).unwrap(), big);
    // The simulator keeps the bytes in a folder on disk.
    let on_disk = sim.manta().root().join(login).join("stor/a/big.bin");
    assert_eq!(std::fs::read(on_disk).unwrap(), big);

    let names: Vec<(String, EntryKind)> = m
        .list("~~/stor/a")
        .map_ok(|e| (e.name, e.kind))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        names,
        [
            ("b".to_owned(), EntryKind::Directory),
            ("big.bin".to_owned(), EntryKind::Object)
        ]
    );

    let e = m.delete("~~/stor/a/b").await.unwrap_err();
    assert_eq!(api(&e), (Some(400), Some("DirectoryNotEmpty")), "{e}");
    let e = m.delete("~~/stor").await.unwrap_err();
    assert_eq!(
        api(&e),
        (Some(400), Some("OperationNotAllowedOnRootDirectory"))
    );
    let e = m.get_bytes("~~/stor/nothing").await.unwrap_err();
    assert!(e.is_not_found(), "{e}");
    assert!(e.request_id().is_some(), "Manta's request id is kept: {e}");
    let e = m.mkdir("~~/stor/x/y").await.unwrap_err();
    assert_eq!(api(&e), (Some(404), Some("DirectoryDoesNotExist")));

    m.delete("~~/stor/a/b/c/hello.txt").await.unwrap();
    for d in ["~~/stor/a/b/c", "~~/stor/a/b"] {
        m.delete(d).await.unwrap();
    }
    m.delete("~~/stor/a/big.bin").await.unwrap();
    m.delete("~~/stor/a").await.unwrap();
    assert_eq!(sim.manta().inventory(), []);
}

#[tokio::test]
async fn put_with_mkdirs_creates_the_parents_only_when_missing() {
    let sim = sim().await;
    let m = manta(&sim);
    let opts = PutOptions {
        mkdirs: true,
        ..PutOptions::default()
    };
    m.put("~~/stor/p/q/obj", PutSource::bytes("x"), opts.clone())
        .await
        .unwrap();
    let paths: Vec<String> = sim
        .manta()
        .inventory()
        .into_iter()
        .map(|e| e.path)
        .collect();
    let login = sim.account();
    assert_eq!(
        paths,
        [
            format!("/{login}/stor/p"),
            format!("/{login}/stor/p/q"),
            format!("/{login}/stor/p/q/obj")
        ]
    );
    let e = m
        .put(
            "~~/stor/r/obj",
            PutSource::bytes("x"),
            PutOptions::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(api(&e), (Some(404), Some("DirectoryDoesNotExist")));
}

#[tokio::test]
async fn listing_pages_with_an_inclusive_marker_and_stops_on_a_short_page() {
    let sim = sim().await;
    let m = manta(&sim);
    m.mkdirp("~~/stor/many").await.unwrap();
    let want: Vec<String> = (0..7).map(|i| format!("obj-{i}")).collect();
    for name in &want {
        m.put(
            &format!("~~/stor/many/{name}"),
            PutSource::bytes(name.clone()),
            PutOptions::default(),
        )
        .await
        .unwrap();
    }
    let before = sim.manta().request_count();
    let got: Vec<String> = m
        .list_paged("~~/stor/many", 3)
        .map_ok(|e| e.name)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(got, want);
    // Pages: 0-2, 2-4, 4-6, 6 (short): each repeated marker skipped.
    assert_eq!(sim.manta().request_count() - before, 4);
    let e = m
        .list("~~/stor/missing")
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert!(e.is_not_found(), "{e}");
}

#[tokio::test]
async fn server_errors_and_throttling_are_retried_client_errors_are_not() {
    let sim = sim().await;
    let m = manta(&sim);
    let faults = sim.manta().faults();
    faults.inject("PutDirectory", Fault::Status(503), 2);
    m.mkdirp("~~/stor/r").await.unwrap();
    faults.inject("PutObject", Fault::Throttle, 1);
    faults.inject("PutObject", Fault::Status(429), 1);
    faults.inject("PutObject", Fault::DropBefore, 1);
    m.put(
        "~~/stor/r/o",
        PutSource::bytes("data"),
        PutOptions::default(),
    )
    .await
    .unwrap();
    faults.inject("GetObject", Fault::Status(500), 1);
    assert_eq!(m.get_bytes("~~/stor/r/o").await.unwrap(), b"data");
    faults.inject("ListDirectory", Fault::Status(503), 1);
    assert_eq!(
        m.list("~~/stor/r")
            .try_collect::<Vec<_>>()
            .await
            .unwrap()
            .len(),
        1
    );
    for op in ["PutDirectory", "PutObject", "GetObject", "ListDirectory"] {
        assert_eq!(faults.pending(op), 0, "{op}");
    }
    faults.inject("HeadObject", Fault::Status(400), 1);
    let e = m.head("~~/stor/r/o").await.unwrap_err();
    assert_eq!(e.status(), Some(400));
    faults.inject("GetObject", Fault::Status(503), 10);
    let e = m.get_bytes("~~/stor/r/o").await.unwrap_err();
    assert_eq!(api(&e), (Some(503), Some("ServiceUnavailable")));
    faults.clear();
}

#[tokio::test]
async fn auth_failures_carry_mantas_codes_and_sub_users_sign_without_users() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let stranger = keygen(dir.path(), "stranger", "", &["-t", "ed25519"]);
    let cfg = |f: &dyn Fn(
        triton_client::manta::MantaConfigBuilder,
    ) -> triton_client::manta::MantaConfigBuilder| {
        MantaClient::new(
            f(MantaConfig::builder()
                .url(sim.manta().url())
                .user(sim.account())
                .retry(fast_retry(2)))
            .build()
            .unwrap(),
        )
        .unwrap()
    };
    let e = cfg(&|b| b.key_file(&stranger))
        .mkdir("~~/stor/x")
        .await
        .unwrap_err();
    assert_eq!(api(&e), (Some(403), Some("KeyDoesNotExist")), "{e}");

    // A sub-user key: keyId /LOGIN/SUBUSER/keys/MD5.
    let bob = keygen(dir.path(), "bob", "", &["-t", "rsa", "-b", "2048"]);
    let public = std::fs::read_to_string(bob.with_extension("pub")).unwrap();
    sim.add_user_key("bob", "bob-key", public.trim());
    cfg(&|b| b.key_file(&bob).subuser("bob"))
        .mkdir("~~/stor/by-bob")
        .await
        .unwrap();
    let e = cfg(&|b| b.key_file(&bob).subuser("carol"))
        .mkdir("~~/stor/x")
        .await
        .unwrap_err();
    assert_eq!(api(&e), (Some(403), Some("UserDoesNotExist")), "{e}");
    let e = cfg(&|b| b.key_file(&bob))
        .mkdir("~~/stor/x")
        .await
        .unwrap_err();
    assert_eq!(api(&e), (Some(403), Some("KeyDoesNotExist")), "{e}");

    // Unsigned: only reads under /LOGIN/public.
    let own = manta(&sim);
    own.put(
        "~~/public/p.txt",
        PutSource::bytes("pub"),
        PutOptions::default(),
    )
    .await
    .unwrap();
    let anon = cfg(&|b| b.no_auth());
    assert_eq!(anon.get_bytes("~~/public/p.txt").await.unwrap(), b"pub");
    let e = anon.mkdir("~~/stor/x").await.unwrap_err();
    assert_eq!(api(&e), (Some(401), Some("AuthorizationRequired")), "{e}");
}

#[tokio::test]
async fn config_from_env_reads_node_manta_variables_strictly() {
    let home = tempfile::tempdir().unwrap();
    let read = |vars: &[(&str, &str)]| {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        MantaConfig::from_env_with(&|k| map.get(k).cloned(), Some(home.path()))
            .map_err(|e| e.to_string())
    };
    let fp = "fa:56:a1:6b:cc:04:97:fe:e2:98:54:c4:2e:0d:26:c6";
    let full = [
        ("MANTA_URL", "https://manta.example"),
        ("MANTA_USER", "alice"),
        ("MANTA_KEY_ID", fp),
    ];
    let c = read(&full).unwrap();
    assert_eq!(
        (c.url().as_str(), c.user(), c.subuser(), c.insecure()),
        ("https://manta.example/", "alice", None, false)
    );
    assert!(
        matches!(c.key_source(), Some(KeySource::Search { ssh_dir: Some(d), .. }) if d == &home.path().join(".ssh"))
    );
    let with = |extra: (&'static str, &'static str)| {
        let mut v = full.to_vec();
        v.push(extra);
        read(&v)
    };
    let c = with(("MANTA_SUBUSER", "bob")).unwrap();
    assert_eq!(c.subuser(), Some("bob"));
    assert!(with(("MANTA_TLS_INSECURE", "1")).unwrap().insecure());
    for (var, value) in [
        ("MANTA_TLS_INSECURE", "yes"),
        ("MANTA_NO_AUTH", "maybe"),
        ("MANTA_URL", "ftp://x"),
    ] {
        let e = with((var, value)).unwrap_err();
        assert!(e.contains(var), "{var}: {e}");
    }
    for missing in ["MANTA_URL", "MANTA_USER", "MANTA_KEY_ID"] {
        let v: Vec<_> = full
            .iter()
            .copied()
            .filter(|(k, _)| *k != missing)
            .collect();
        let e = read(&v).unwrap_err();
        assert!(e.contains(missing), "{e}");
    }
    let e = with(("MANTA_KEY_ID", "not-a-fingerprint"));
    // The later MANTA_KEY_ID wins in the map.
    assert!(e.unwrap_err().contains("MANTA_KEY_ID"));
    let no_auth = read(&[
        ("MANTA_URL", "http://127.0.0.1:1"),
        ("MANTA_USER", "alice"),
        ("MANTA_NO_AUTH", "true"),
    ])
    .unwrap();
    assert!(no_auth.key_source().is_none());
}

#[tokio::test]
async fn debug_never_shows_key_material() {
    let sim = sim().await;
    let text = std::fs::read_to_string(sim.private_key_path()).unwrap();
    let config = MantaConfig::builder()
        .url(sim.manta().url())
        .user(sim.account())
        .key_source(KeySource::Text {
            text: Secret::new(text.clone()),
            passphrase: Some(Secret::new("hunter2-passphrase".to_owned())),
            expect: None,
        })
        .build()
        .unwrap();
    let client = MantaClient::new(config.clone()).unwrap();
    client.mkdir("~~/stor/dbg").await.unwrap();
    let body_line = text.lines().nth(1).unwrap();
    for shown in [format!("{config:?}"), format!("{client:?}")] {
        assert!(!shown.contains(body_line), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
    }
}

#[tokio::test]
async fn export_image_writes_the_file_and_manifest_into_manta() {
    let sim = sim().await;
    let c = client(&sim);
    let m = manta(&sim);
    let image = an_image(&c).await;
    let machine = c
        .create_machine(&CreateMachine::new(image, "g1.small").name("exp"))
        .await
        .unwrap();
    wait_until(&wait(), || {
        c.look_machine(&machine.id, MachineState::Running)
    })
    .await
    .unwrap();
    c.stop_machine(&machine.id).await.unwrap();
    wait_until(&wait(), || {
        c.look_machine(&machine.id, MachineState::Stopped)
    })
    .await
    .unwrap();
    let img = c
        .create_image_from_machine(&CreateImageFromMachine::new(machine.id, "origin", "1.0.0"))
        .await
        .unwrap();
    wait_until(&wait(), || c.look_image_active(&img.id))
        .await
        .unwrap();
    let login = sim.account();
    let dir = format!("/{login}/stor/builds/set-1");
    m.mkdirp(&dir).await.unwrap();
    let out = c.export_image(&img.id, &dir).await.unwrap();
    assert_eq!(
        out.manifest_path.as_deref(),
        Some(format!("{dir}/origin-1.0.0.imgmanifest").as_str())
    );
    assert_eq!(out.manta_url.as_deref(), Some(sim.manta().url().as_str()));
    let manifest: serde_json::Value = serde_json::from_slice(
        &m.get_bytes(&format!("{dir}/origin-1.0.0.imgmanifest"))
            .await
            .unwrap(),
    )
    .unwrap();
    let local = tempfile::tempdir().unwrap();
    let file = local.path().join("f.zfs.gz");
    m.get_to_file(&format!("{dir}/origin-1.0.0.zfs.gz"), &file)
        .await
        .unwrap();
    assert_eq!(manifest["uuid"], img.id.to_string().as_str());
    assert_eq!(manifest["files"][0]["sha1"], sha1_hex(&file).as_str());
    assert_eq!(
        manifest["files"][0]["size"],
        std::fs::metadata(&file).unwrap().len()
    );
    // A path that does not exist is a prefix.
    let out = c
        .export_image(&img.id, &format!("{dir}/renamed"))
        .await
        .unwrap();
    assert_eq!(
        out.image_path.as_deref(),
        Some(format!("{dir}/renamed.zfs.gz").as_str())
    );
    let e = c.export_image(&img.id, "~~/stor/builds").await.unwrap_err();
    assert_eq!(api(&e), (Some(422), Some("NotMantaPathOwner")));
}

fn sha1_hex(p: &Path) -> String {
    use sha1::Digest as _;
    sha1::Sha1::digest(std::fs::read(p).unwrap())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
