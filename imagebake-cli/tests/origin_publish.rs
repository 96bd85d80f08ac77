//! `imagebake origin publish` and `imagebake origin release`, the real
//! binary against the Triton simulator's Manta and IMGAPI repository,
//! configured as node-manta and updates-imgadm are (MANTA_*,
//! UPDATES_IMGADM_*).

use std::path::Path;
use std::process::{Command, Output};

use imagebake_core::triton_client::manta::{MantaClient, MantaConfig, PutOptions, PutSource};
use imagebake_sim::Fault;
use imagebake_sim::triton::{TritonSim, TritonSimOptions};
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_imagebake");
const VERSION: &str = "master-20261206T000000Z-gbb45b8d";

fn sha1_of(path: &Path) -> String {
    let o = Command::new("sha1sum").arg(path).output().expect("sha1sum");
    String::from_utf8_lossy(&o.stdout)
        .split_whitespace()
        .next()
        .expect("a digest")
        .to_owned()
}

/// Writes a two-image set (the second incremental on the first) into
/// `dir` with `<branch>-latest` beside it; returns the images' UUIDs.
async fn write_set(sim: &TritonSim, tmp: &Path, dir: &str) -> Vec<uuid::Uuid> {
    let manta = MantaClient::new(
        MantaConfig::builder()
            .url(sim.manta().url())
            .user(sim.account())
            .key_file(sim.private_key_path())
            .build()
            .unwrap(),
    )
    .unwrap();
    let mut uuids = Vec::new();
    for name in ["triton-origin-base", "triton-origin-child"] {
        let uuid = uuid::Uuid::new_v4();
        let file = tmp.join(format!("{name}.zfs.gz"));
        let bytes: Vec<u8> = (0..200_000u32)
            .map(|i| (i % 251) as u8)
            .chain(name.bytes())
            .collect();
        std::fs::write(&file, &bytes).unwrap();
        let mut manifest = json!({
            "v": 2, "uuid": uuid, "owner": "00000000-0000-0000-0000-000000000000",
            "name": name, "version": VERSION, "state": "active", "disabled": false,
            "public": false, "type": "zone-dataset", "os": "smartos",
            "files": [{"sha1": sha1_of(&file), "size": bytes.len(), "compression": "gzip"}],
        });
        if let Some(origin) = uuids.first() {
            manifest["origin"] = json!(origin);
        }
        let stem = format!("{dir}/{name}-{VERSION}");
        manta
            .put(
                &format!("{stem}.zfs.gz"),
                PutSource::file(&file),
                PutOptions {
                    mkdirs: true,
                    ..PutOptions::default()
                },
            )
            .await
            .unwrap();
        manta
            .put(
                &format!("{stem}.imgmanifest"),
                PutSource::bytes(manifest.to_string()),
                PutOptions::default(),
            )
            .await
            .unwrap();
        uuids.push(uuid);
    }
    let info =
        json!({"branch": "master", "timestamp": "20261206T000000Z", "git": "bb45b8d0c0ffee"});
    manta
        .put(
            &format!("{dir}/buildinfo.json"),
            PutSource::bytes(info.to_string()),
            PutOptions::default(),
        )
        .await
        .unwrap();
    let parent = dir.rsplit_once('/').unwrap().0;
    manta
        .put(
            &format!("{parent}/master-latest"),
            PutSource::bytes(manta.resolve(dir).unwrap()),
            PutOptions::default(),
        )
        .await
        .unwrap();
    uuids
}

/// Runs `imagebake ARGS` with only the environment node-manta and
/// updates-imgadm read (the Manta key found in `$HOME/.ssh` by its
/// fingerprint, as node-manta finds it).
fn imagebake(sim: &TritonSim, home: &Path, args: &[&str]) -> (Output, String, String) {
    let o = tokio::task::block_in_place(|| {
        Command::new(BIN)
            .args(args)
            .env_clear()
            .env("HOME", home)
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("MANTA_URL", sim.manta().url())
            .env("MANTA_USER", sim.account())
            .env("MANTA_KEY_ID", sim.key_id())
            .env("UPDATES_IMGADM_URL", sim.imgapi().url())
            .env("UPDATES_IMGADM_USER", sim.imgapi().user())
            .env(
                "UPDATES_IMGADM_IDENTITY",
                sim.imgapi().key_path().expect("key"),
            )
            .output()
            .expect("imagebake runs")
    });
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    (o, out, err)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_and_release_an_origin_set_with_the_binary() {
    let sim = TritonSim::start(TritonSimOptions::default())
        .await
        .expect("sim");
    let tmp = tempfile::tempdir().unwrap();
    let ssh = tmp.path().join(".ssh");
    std::fs::create_dir(&ssh).unwrap();
    std::fs::copy(sim.private_key_path(), ssh.join("id_ed25519")).unwrap();
    std::fs::copy(sim.public_key_path(), ssh.join("id_ed25519.pub")).unwrap();
    let dir = "~~/public/builds/triton-origin-image/master-20261206T000000Z";
    let uuids = write_set(&sim, tmp.path(), dir).await;
    let from = format!(
        "/{}/public/builds/triton-origin-image/master-latest",
        sim.account()
    );

    // IMGAPI fails the first activation: a clear error, nothing left.
    sim.imgapi()
        .faults()
        .inject("ActivateImage", Fault::Status(500), 1);
    let (o, out, err) = imagebake(&sim, tmp.path(), &["origin", "publish", "--from", &from]);
    assert_eq!(o.status.code(), Some(1), "{out}\n{err}");
    assert!(
        err.contains("Error: ") && err.contains("activating triton-origin-base@"),
        "{err}"
    );
    assert!(err.contains("500"), "{err}");
    assert!(
        sim.imgapi().images().is_empty(),
        "{:?}",
        sim.imgapi().images()
    );

    // Re-run: both published to dev (master), the base first.
    let (o, out, err) = imagebake(&sim, tmp.path(), &["origin", "publish", "--from", &from]);
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(
        lines[0].contains(": 2 image(s) to ") && lines[0].ends_with(" channel dev"),
        "{out}"
    );
    assert!(
        lines[1].starts_with(&uuids[0].to_string()) && lines[1].contains(": published"),
        "{out}"
    );
    assert!(
        lines[2].starts_with(&uuids[1].to_string()) && lines[2].contains(": published"),
        "{out}"
    );
    let dev = sim.imgapi().images_in("dev");
    assert_eq!(dev.len(), 2);
    assert!(dev.iter().all(|i| i.state == "active" && i.file.is_some()));

    // Again, single-dash as Packer users write flags: skipped.
    let (o, out, err) = imagebake(&sim, tmp.path(), &["origin", "publish", "-from", dir]);
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    assert_eq!(out.matches(": already there").count(), 2, "{out}");
    assert_eq!(sim.imgapi().images().len(), 2);

    // Release to the default channels, then again.
    let (o, out, err) = imagebake(
        &sim,
        tmp.path(),
        &["origin", "release", "--version", VERSION],
    );
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    assert_eq!(out.matches(": added").count(), 6, "{out}");
    for channel in ["staging", "release", "support"] {
        assert_eq!(sim.imgapi().images_in(channel).len(), 2, "{channel}");
        assert_eq!(
            out.matches(&format!(" {channel}: added")).count(),
            2,
            "{out}"
        );
    }
    let (o, out, _) = imagebake(
        &sim,
        tmp.path(),
        &[
            "origin",
            "release",
            "--version",
            VERSION,
            "--to",
            "staging,release",
        ],
    );
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(out.matches(": already there").count(), 4, "{out}");

    // An unknown version: a clear error naming it.
    let (o, out, err) = imagebake(
        &sim,
        tmp.path(),
        &["origin", "release", "--version", "0.0.1"],
    );
    assert_eq!(o.status.code(), Some(1), "{out}\n{err}");
    assert!(
        err.contains("version 0.0.1") && err.contains("channel dev"),
        "{err}"
    );

    // Bad credentials are named, strictly.
    let o = tokio::task::block_in_place(|| {
        Command::new(BIN)
            .args(["origin", "release", "--version", VERSION])
            .env_clear()
            .env("HOME", tmp.path())
            .env("UPDATES_IMGADM_URL", sim.imgapi().url())
            .env("UPDATES_IMGADM_IDENTITY", "/no/such/key")
            .output()
            .unwrap()
    });
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1));
    assert!(err.contains("UPDATES_IMGADM_USER"), "{err}");
}
