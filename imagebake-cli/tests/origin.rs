//! `imagebake origin build` run as the real binary against the Triton
//! simulator (CloudAPI and its Manta): a two-image set from a git work tree
//! builds and exports; an origin mismatch and a Ctrl-C (SIGINT to the
//! process) each end with a clear error and nothing left.

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use imagebake_sim::triton::{TritonDelays, TritonSim, TritonSimOptions};
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_imagebake");
const BASE_64_LTS_22: &str = "c2c31b00-1d60-11ed-9f3a-4b8e2f0d2201";
const BASE_64_LTS_23: &str = "e44ed3e0-910b-11ee-b2d6-0b4f7a3c2301";

async fn sim(delay: u64) -> TritonSim {
    TritonSim::start(TritonSimOptions {
        delays: TritonDelays::all(Duration::from_millis(delay)),
        ..TritonSimOptions::default()
    })
    .await
    .expect("simulator starts")
}

/// A git work tree on branch `master` holding `images.json` (two images,
/// the second's origin version `second_version`) and `package.json`; a
/// home whose `~/.ssh` holds the simulator's key.
fn work_tree(sim: &TritonSim, second_version: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let repo = d.path().join("repo");
    fs::create_dir_all(&repo).unwrap();
    let images = json!([
        {"namePrefix": "triton-origin-x86_64", "desc": "on 23.4",
         "origin": {"uuid": BASE_64_LTS_23, "name": "base-64-lts", "version": "23.4.0"},
         "pkgsrc": ["curl-8.4.0"], "protoMinMemoryMb": "1024"},
        {"namePrefix": "triton-origin-x86_64", "desc": "on 22.4",
         "origin": {"uuid": BASE_64_LTS_22, "name": "base-64-lts", "version": second_version},
         "pkgsrc": ["sudo-1.9.15"], "protoMinMemoryMb": "1024"}
    ]);
    fs::write(repo.join("images.json"), images.to_string()).unwrap();
    fs::write(
        repo.join("package.json"),
        r#"{"name": "triton-origin-image", "version": "1.0.1", "homepage": "https://example.invalid/toi"}"#,
    )
    .unwrap();
    imagebake_testing::git_commit_all(&repo, "master");
    let ssh = d.path().join("home/.ssh");
    fs::create_dir_all(&ssh).unwrap();
    fs::copy(sim.private_key_path(), ssh.join("id_sim")).unwrap();
    fs::copy(sim.public_key_path(), ssh.join("id_sim.pub")).unwrap();
    d
}

/// `imagebake origin build` with `args`, the simulator's credentials in
/// TRITON_* and MANTA_*, in `tree`'s repo.
fn command(sim: &TritonSim, tree: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    for (k, _) in std::env::vars() {
        if k.starts_with("TRITON_") || k.starts_with("SDC_") || k.starts_with("MANTA_") {
            c.env_remove(k);
        }
    }
    c.current_dir(tree.join("repo"))
        .args(["origin", "build", "--set", "communicator=none"])
        .args(["--set", "poll_cap=10ms"])
        .args(args)
        .env("HOME", tree.join("home"))
        .env("TRITON_URL", sim.url())
        .env("TRITON_ACCOUNT", sim.account())
        .env("TRITON_KEY_ID", sim.key_id())
        .env("MANTA_URL", sim.manta().url())
        .env("MANTA_USER", sim.account())
        .env("MANTA_KEY_ID", sim.key_id())
        .env_remove("SSH_AUTH_SOCK")
        .env_remove("XDG_CONFIG_HOME");
    c
}

fn builds_entries(sim: &TritonSim) -> Vec<String> {
    sim.manta()
        .paths_under(&format!("/{}/public/builds", sim.account()))
}

fn assert_nothing_left(sim: &TritonSim, case: &str) {
    let inv = sim.inventory();
    assert!(inv.machines.is_empty(), "{case}: {:?}", inv.machines);
    assert!(
        inv.custom_images().is_empty(),
        "{case}: {:?}",
        inv.custom_images()
    );
    let left = builds_entries(sim);
    assert!(left.is_empty(), "{case}: Manta entries left: {left:?}");
}

async fn output(mut c: Command) -> (Option<i32>, String, String) {
    let o = tokio::task::spawn_blocking(move || c.output().expect("runs"))
        .await
        .unwrap();
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[tokio::test]
async fn origin_build_exports_a_two_image_set_and_prints_the_directory() {
    let sim = sim(5).await;
    let tree = work_tree(&sim, "22.4.0");
    let c = command(
        &sim,
        tree.path(),
        &[
            "--images",
            "images.json",
            "--package-json",
            "package.json",
            "-parallel-builds=1",
        ],
    );
    let (code, out, err) = output(c).await;
    assert_eq!(code, Some(0), "{out}{err}");
    let prefix = format!(
        "Export directory: /{}/public/builds/triton-origin-image/master-",
        sim.account()
    );
    let dir = out
        .lines()
        .find_map(|l| l.strip_prefix("Export directory: ").map(str::to_owned))
        .unwrap_or_else(|| panic!("no export directory in {out}"));
    assert!(
        format!("Export directory: {dir}").starts_with(&prefix),
        "{out}"
    );
    assert!(
        out.contains("==> triton-origin-x86_64-22.4.0: create machine..."),
        "progress as imagebake build shows it: {out}"
    );
    let entries = builds_entries(&sim);
    for name in ["triton-origin-x86_64-23.4.0", "triton-origin-x86_64-22.4.0"] {
        for ext in ["imgmanifest", "zfs.gz"] {
            let path = format!("{dir}/{name}-1.0.1.{ext}");
            assert!(entries.contains(&path), "{path} in {entries:?}");
        }
        assert!(out.contains(&format!("--> {name}@1.0.1: {dir}/{name}-1.0.1.imgmanifest")));
    }
    assert!(entries.contains(&format!("{dir}/buildinfo.json")));
    let latest = format!(
        "/{}/public/builds/triton-origin-image/master-latest",
        sim.account()
    );
    assert_eq!(
        sim.manta().read(&latest).unwrap(),
        format!("{dir}\n").into_bytes()
    );
    let manifest: serde_json::Value = serde_json::from_slice(
        &sim.manta()
            .read(&format!(
                "{dir}/triton-origin-x86_64-23.4.0-1.0.1.imgmanifest"
            ))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(manifest["homepage"], "https://example.invalid/toi");
    assert_eq!(manifest["owner"], "00000000-0000-0000-0000-000000000000");
    let inv = sim.inventory();
    assert!(inv.machines.is_empty() && inv.custom_images().is_empty());
}

#[tokio::test]
async fn an_origin_mismatch_is_named_and_leaves_nothing() {
    let sim = sim(5).await;
    let tree = work_tree(&sim, "21.4.0");
    let (code, out, err) = output(command(&sim, tree.path(), &["--version", "2.0.0"])).await;
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(
        err.contains("images.json: [1] (triton-origin-x86_64-21.4.0).origin")
            && err.contains("version is \"22.4.0\", not \"21.4.0\""),
        "{err}"
    );
    assert_nothing_left(&sim, "mismatch");

    // A flag conflict and a missing Manta variable are errors before anything.
    let (code, _, err) = output(command(
        &sim,
        tree.path(),
        &["--version", "1", "--package-json", "package.json"],
    ))
    .await;
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("cannot be used with"), "{err}");
    let mut c = command(&sim, tree.path(), &[]);
    c.env_remove("MANTA_URL");
    let (code, _, err) = output(c).await;
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("MANTA_URL is not set"), "{err}");
}

#[tokio::test]
async fn sigint_mid_build_cleans_up_and_exits_130() {
    let sim = sim(300).await;
    let tree = work_tree(&sim, "22.4.0");
    let mut child = command(&sim, tree.path(), &[])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    let stdout = child.stdout.take().unwrap();
    let pid = child.id().to_string();
    let waited = tokio::task::spawn_blocking(move || {
        let mut seen = Vec::new();
        let mut lines = BufReader::new(stdout).lines();
        for line in lines.by_ref() {
            let line = line.unwrap();
            let hit = line.contains("wait running...");
            seen.push(line);
            if hit {
                let ok = Command::new("kill")
                    .args(["-INT", &pid])
                    .status()
                    .unwrap()
                    .success();
                assert!(ok, "kill -INT");
                break;
            }
        }
        seen.extend(lines.map_while(Result::ok));
        let status = child.wait().unwrap();
        let mut err = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
        (status.code(), seen.join("\n"), err)
    })
    .await
    .unwrap();
    let (code, out, err) = waited;
    assert_eq!(code, Some(130), "{out}\n{err}");
    assert!(err.contains("cancelled"), "{err}");
    assert!(out.contains("Removing machine"), "{out}");
    assert_nothing_left(&sim, "SIGINT");
}

#[test]
fn publish_and_release_are_not_there_yet() {
    let o = Command::new(BIN)
        .args(["origin", "publish", "--from", "/x/stor/set"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not yet implemented"));
}
