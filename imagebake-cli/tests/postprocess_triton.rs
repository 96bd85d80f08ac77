//! The `triton-export` and `imgapi-publish` post-processors, run by the
//! real `imagebake build` on a `triton` template against the Triton
//! simulator, its Manta and its IMGAPI repository (configured as node-manta
//! and updates-imgadm are: `MANTA_URL`, `UPDATES_IMGADM_*`).

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use imagebake_core::triton_client::imgapi::{ImgapiClient, ImgapiConfig};
use imagebake_core::triton_client::manta::{MantaClient, MantaConfig};
use imagebake_sim::Fault;
use imagebake_sim::manta::MantaEntry;
use imagebake_sim::triton::{TritonDelays, TritonSim, TritonSimOptions};
use serde_json::{Value, json};
use support::{command, triton_template};

async fn sim() -> TritonSim {
    TritonSim::start(TritonSimOptions {
        delays: TritonDelays::all(Duration::from_millis(5)),
        ..TritonSimOptions::default()
    })
    .await
    .expect("triton simulator starts")
}

fn manta(sim: &TritonSim) -> MantaClient {
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

/// The repository and Manta environment (no `UPDATES_IMGADM_CHANNEL`).
fn env(sim: &TritonSim) -> Vec<(&'static str, String)> {
    vec![
        ("MANTA_URL", sim.manta().url()),
        ("UPDATES_IMGADM_URL", sim.imgapi().url()),
        ("UPDATES_IMGADM_USER", sim.imgapi().user().to_owned()),
        (
            "UPDATES_IMGADM_IDENTITY",
            sim.imgapi().key_path().unwrap().display().to_string(),
        ),
    ]
}

/// Puts the builds' origin (the newest `base-64-lts`, the template's
/// source) in the repository: an incremental image needs it there.
async fn seed_origin(sim: &TritonSim, dir: &Path) {
    let base = sim
        .inventory()
        .images
        .into_iter()
        .filter(|i| i.name == "base-64-lts")
        .max_by(|a, b| a.version.cmp(&b.version))
        .expect("the seed has base-64-lts");
    let file = dir.join("base.zfs.gz");
    std::fs::write(&file, b"base image bytes").unwrap();
    let repo = ImgapiClient::new(
        ImgapiConfig::builder()
            .url(sim.imgapi().url())
            .user(sim.imgapi().user())
            .key_file(sim.imgapi().key_path().unwrap())
            .channel("dev")
            .build()
            .unwrap(),
    )
    .unwrap();
    let manifest = json!({
        "v": 2, "uuid": base.id, "owner": "00000000-0000-0000-0000-000000000000",
        "name": base.name, "version": base.version, "public": false,
        "type": "zone-dataset", "os": "smartos",
    });
    repo.publish(&manifest, &file, Some("gzip")).await.unwrap();
}

/// `imagebake build ARGS t.pkr.hcl` in `dir` for `post` (the build's
/// post-processor lines): exit code, stdout, stderr.
fn build(
    sim: &TritonSim,
    dir: &Path,
    post: &str,
    args: &[&str],
    env: &[(&str, String)],
) -> (Option<i32>, String, String) {
    std::fs::write(
        dir.join("t.pkr.hcl"),
        triton_template(sim, "  communicator = \"none\"", post),
    )
    .unwrap();
    let mut all = vec!["build"];
    all.extend(args);
    all.push("t.pkr.hcl");
    let o =
        tokio::task::block_in_place(|| command(dir, &all, env).output().expect("imagebake runs"));
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn sha1_of(bytes: &[u8], dir: &Path) -> String {
    let path = dir.join("sha1-input");
    std::fs::write(&path, bytes).unwrap();
    let o = Command::new("sha1sum")
        .arg(&path)
        .output()
        .expect("sha1sum");
    String::from_utf8_lossy(&o.stdout)
        .split_whitespace()
        .next()
        .expect("a digest")
        .to_owned()
}

fn object<'a>(inv: &'a [MantaEntry], path: &str) -> &'a MantaEntry {
    inv.iter()
        .find(|e| e.path == path && !e.directory)
        .unwrap_or_else(|| panic!("no object {path} in {inv:#?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_then_publish_in_one_chain_by_the_real_naming_rule() {
    let sim = sim().await;
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    seed_origin(&sim, d).await;
    let m = manta(&sim);
    m.mkdirp("~~/stor/exports").await.unwrap();
    let post = r#"
  post-processors {
    post-processor "triton-export" {
      manta_path = "~~/stor/exports"
    }
    post-processor "imgapi-publish" {
      channel = "dev"
    }
  }
  post-processor "triton-export" {
    manta_path = "~~/stor/exports/prefixed"
  }
"#;
    let (code, out, err) = build(&sim, d, post, &[], &env(&sim));
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(
        out.contains("triton-export: export image to Manta"),
        "{out}"
    );

    let image = sim.inventory().custom_images()[0].clone();
    let acct = sim.account();
    // An existing directory: NAME-VERSION.* inside it; any other path: a
    // prefix.
    let inv = sim.manta().inventory();
    let manifest_path = format!("/{acct}/stor/exports/web-1.0.0.imgmanifest");
    let file_path = format!("/{acct}/stor/exports/web-1.0.0.zfs.gz");
    object(&inv, &format!("/{acct}/stor/exports/prefixed.imgmanifest"));
    object(&inv, &format!("/{acct}/stor/exports/prefixed.zfs.gz"));
    let file_size = object(&inv, &file_path).size;

    let manifest: Value = serde_json::from_slice(&m.get_bytes(&manifest_path).await.unwrap())
        .expect("the manifest is JSON");
    assert_eq!(manifest["uuid"], json!(image.id));
    let bytes = m.get_bytes(&file_path).await.unwrap();
    let sha1 = sha1_of(&bytes, d);
    assert_eq!(manifest["files"][0]["sha1"], json!(sha1));
    assert_eq!(manifest["files"][0]["size"], json!(bytes.len()));
    assert_eq!(file_size, Some(bytes.len() as u64));

    let dev = sim.imgapi().images_in("dev");
    let published = dev
        .iter()
        .find(|i| i.uuid.to_string() == image.id)
        .unwrap_or_else(|| panic!("{} not in dev: {dev:#?}", image.id));
    assert_eq!(published.state, "active");
    assert_eq!(published.file, Some((sha1, bytes.len() as u64)));
    assert_eq!(sim.imgapi().image_file(published.uuid), Some(bytes));
    assert!(out.contains(&format!(
        "{} (web@1.0.0) published in channel dev",
        image.id
    )));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_straight_after_the_build_uses_a_temporary_export_removed_even_on_failure() {
    let sim = sim().await;
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    seed_origin(&sim, d).await;
    let before = sim.manta().inventory();
    let mut env = env(&sim);
    env.push(("UPDATES_IMGADM_CHANNEL", "experimental".to_owned()));
    let post = r#"  post-processor "imgapi-publish" {}"#;

    // IMGAPI fails the activation: an error naming the post-processor,
    // nothing half-imported, no temporary directory left.
    sim.imgapi()
        .faults()
        .inject("ActivateImage", Fault::Status(500), 1);
    let (code, out, err) = build(&sim, d, post, &[], &env);
    assert_eq!(code, Some(1), "{out}\n{err}");
    assert!(
        out.contains("post-processor imgapi-publish failed") && out.contains("500"),
        "{out}\n{err}"
    );
    let repo = sim.imgapi().images();
    assert_eq!(repo.len(), 1, "only the seeded origin: {repo:#?}");
    assert_eq!(sim.manta().inventory(), before);

    // Again (-force: the first build's image is replaced): published.
    let (code, out, err) = build(&sim, d, post, &["-force"], &env);
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(
        out.contains("imgapi-publish: export image to Manta"),
        "{out}"
    );
    let image = sim.inventory().custom_images()[0].clone();
    let published = sim.imgapi().images_in("experimental");
    assert_eq!(published.len(), 1, "{published:#?}");
    assert_eq!(published[0].uuid.to_string(), image.id);
    assert_eq!(published[0].state, "active");
    assert_eq!(sim.manta().inventory(), before);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_names_the_bad_key_of_both_post_processors() {
    let sim = sim().await;
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let env = env(&sim);
    let validate = |post: &str| {
        std::fs::write(
            d.join("t.pkr.hcl"),
            triton_template(&sim, "  communicator = \"none\"", post),
        )
        .unwrap();
        let o = tokio::task::block_in_place(|| {
            command(d, &["validate", "t.pkr.hcl"], &env)
                .output()
                .expect("imagebake runs")
        });
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr),
        )
    };
    let ok = r#"
  post-processors {
    post-processor "triton-export" { manta_path = "~~/stor/x" }
    post-processor "imgapi-publish" { channel = "staging" }
  }"#;
    let (code, out) = validate(ok);
    assert_eq!(code, Some(0), "{out}");
    let o = tokio::task::block_in_place(|| {
        command(d, &["inspect", "t.pkr.hcl"], &env)
            .output()
            .expect("imagebake runs")
    });
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(
        out.contains(
            "    post-processors:\n\n      0:\n        triton-export\n        imgapi-publish\n"
        ),
        "{out}"
    );

    let cases = [
        (
            r#"  post-processor "triton-export" {}"#,
            "post-processor triton-export: missing required key `manta_path`",
        ),
        (
            r#"  post-processor "triton-export" { manta_path = "~~/stor/x/" }"#,
            "post-processor triton-export: key `manta_path`: \"~~/stor/x/\" ends with `/`",
        ),
        (
            r#"  post-processor "triton-export" { manta_path = "stor/x" }"#,
            "key `manta_path`: \"stor/x\" is not an absolute Manta path",
        ),
        (
            r#"  post-processor "triton-export" {
    manta_path = "~~/stor/x"
    manta_url  = "ftp://manta"
  }"#,
            "post-processor triton-export: key `manta_url`: \"ftp://manta\" is not an http(s) URL",
        ),
        (
            r#"  post-processor "imgapi-publish" { channel = "Dev!" }"#,
            "post-processor imgapi-publish: key `channel`: \"Dev!\" is not a channel name",
        ),
        (
            r#"  post-processor "imgapi-publish" { chanel = "dev" }"#,
            "post-processor imgapi-publish: unknown key `chanel`",
        ),
    ];
    for (post, want) in cases {
        let (code, out) = validate(post);
        assert_eq!(code, Some(1), "{post}: {out}");
        assert!(out.contains(want), "{post}: want {want:?} in\n{out}");
    }
    sim.shutdown().await;
}
