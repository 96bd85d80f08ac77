//! `imagebake spec check` and `imagebake spec build` run as the real binary:
//! a good folder is summarized, a bad manifest line is named with its file
//! and line, and a spec bakes on the Triton simulator over real SSH with
//! the package picked from its minram.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use imagebake_sim::machine::SshMode;
use imagebake_sim::triton::{TritonDelays, TritonSim, TritonSimOptions};
use imagebake_testing::needs_root;

const BIN: &str = env!("CARGO_BIN_EXE_imagebake");

fn imagebake(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("TRITON_PROFILE")
        .output()
        .expect("imagebake runs")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn spec_dir(manifest: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    fs::write(d.path().join("manifest"), manifest).unwrap();
    fs::write(d.path().join("packages"), "nginx\n").unwrap();
    fs::write(
        d.path().join("customize"),
        "echo customized > /etc/customized\n",
    )
    .unwrap();
    d
}

/// The Triton simulator with SSH machines.
async fn ssh_sim() -> TritonSim {
    TritonSim::start(TritonSimOptions {
        delays: TritonDelays::all(std::time::Duration::from_millis(5)),
        ssh: SshMode::On,
        ..TritonSimOptions::default()
    })
    .await
    .expect("simulator with SSH machines starts")
}

/// The simulator holds no machine and one image, `web 1.0.0`, with
/// customize's mark; its id.
fn the_one_baked_image(sim: &TritonSim) -> String {
    let inv = sim.inventory();
    assert!(inv.machines.is_empty(), "{:?}", inv.machines);
    let images = inv.custom_images();
    assert_eq!(images.len(), 1, "{images:?}");
    assert_eq!(
        (images[0].name.as_str(), images[0].version.as_str()),
        ("web", "1.0.0")
    );
    let id = images[0].id.clone();
    assert_eq!(
        sim.image_file(&id, "/etc/customized").as_deref(),
        Some(&b"customized\n"[..])
    );
    id
}

fn dir_arg(d: &Path) -> &str {
    d.to_str().unwrap()
}

#[test]
fn spec_check_summarizes_or_names_the_bad_line() {
    let d = spec_dir("name=\"web-1.0.0\"\nbase=\"base-64-lts-23.4.0\"\nminram=\"2048\"\n");
    let o = imagebake(&["spec", "check", dir_arg(d.path())]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains(": web 1.0.0"), "{t}");
    assert!(t.contains("packages: nginx"), "{t}");
    assert!(
        t.contains("triton: image_name=\"web\" image_version=\"1.0.0\""),
        "{t}"
    );

    let d = spec_dir("name=\"web-1.0.0\"\nbase=`uname`\n");
    let o = imagebake(&["spec", "check", dir_arg(d.path())]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("manifest:2"), "{t}");
}

#[needs_root("simulated machines: overlay mounts, chroot, sshd")]
#[tokio::test]
async fn spec_build_bakes_on_triton_with_the_package_from_minram() {
    let sim = ssh_sim().await;
    let d = spec_dir(
        "name=\"web-1.0.0\"\nbase=\"base-64-lts-23.4.0\"\nminram=\"1500\"\n\
         description=\"from the spec\"\n",
    );
    let set = |k: &str, v: &str| format!("{k}={v}");
    let args = [
        set("triton_url", &sim.url()),
        set("triton_account", sim.account()),
        set("triton_key_id", sim.key_id()),
        set(
            "triton_key_material",
            sim.private_key_path().to_str().unwrap(),
        ),
        set("communicator", "ssh"),
        set("ssh_port", &sim.ssh_port().unwrap().to_string()),
        set("poll_cap", "10ms"),
        // Set both ways: the builder's key wins, and the build says so.
        set("image_description", "ours"),
    ];
    let mut argv = vec!["spec", "build", "--builder", "triton"];
    for a in &args {
        argv.extend(["--set", a.as_str()]);
    }
    argv.push(dir_arg(d.path()));
    let o = tokio::task::spawn_blocking({
        let argv: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
        move || Command::new(BIN).args(&argv).output().expect("runs")
    })
    .await
    .unwrap();
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    // g1.medium (4096 MiB) is the smallest with 1500 MiB.
    assert!(t.contains("Note: package g1.medium (4096 MiB"), "{t}");
    assert!(
        t.contains("Note: builder triton: `image_description` = \"ours\" is used; the spec"),
        "{t}"
    );
    let id = the_one_baked_image(&sim);
    assert!(
        sim.image_file(&id, "/opt/local/pkg/nginx-1.25.4/+COMMENT")
            .is_some()
    );
}

/// Without credentials on the command line, `spec build` on Triton reads
/// them as the clients do: here a node-triton profile
/// (`~/.triton/profiles.d/sim.json`, selected by `TRITON_PROFILE`: URL,
/// account, key id) with the key file of `TRITON_KEY_MATERIAL` (which the
/// SSH login to the machine uses too).
#[needs_root("simulated machines: overlay mounts, chroot, sshd")]
#[tokio::test]
async fn spec_build_on_triton_reads_a_node_triton_profile() {
    let sim = ssh_sim().await;
    let home = tempfile::tempdir().unwrap();
    let profiles = home.path().join(".triton/profiles.d");
    fs::create_dir_all(&profiles).unwrap();
    fs::write(
        profiles.join("sim.json"),
        serde_json::json!({"url": sim.url(), "account": sim.account(), "keyId": sim.key_id()})
            .to_string(),
    )
    .unwrap();
    let key = sim.private_key_path().to_owned();
    let d = spec_dir("name=\"web-1.0.0\"\nbase=\"base-64-lts-23.4.0\"\n");
    let port = format!("ssh_port={}", sim.ssh_port().unwrap());
    let argv: Vec<String> = [
        "spec",
        "build",
        "--builder",
        "triton",
        "--set",
        "communicator=ssh",
        "--set",
        &port,
        "--set",
        "poll_cap=10ms",
        dir_arg(d.path()),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let home_dir = home.path().to_owned();
    let o = tokio::task::spawn_blocking(move || {
        let mut c = Command::new(BIN);
        for (k, _) in std::env::vars() {
            if k.starts_with("TRITON_") || k.starts_with("SDC_") {
                c.env_remove(k);
            }
        }
        c.args(&argv)
            .env("HOME", &home_dir)
            .env("TRITON_PROFILE", "sim")
            .env("TRITON_KEY_MATERIAL", &key)
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("SSH_AUTH_SOCK")
            .output()
            .expect("runs")
    })
    .await
    .unwrap();
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    the_one_baked_image(&sim);

    // Without a profile or variables, the error says what is missing.
    let o = Command::new(BIN)
        .args(["spec", "build", "--builder", "triton", dir_arg(d.path())])
        .env("HOME", home.path().join("empty"))
        .env_remove("TRITON_PROFILE")
        .env_remove("TRITON_URL")
        .env_remove("SDC_URL")
        .env_remove("XDG_CONFIG_HOME")
        .output()
        .expect("runs");
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("TRITON_URL (or SDC_URL) is not set"), "{t}");
}
