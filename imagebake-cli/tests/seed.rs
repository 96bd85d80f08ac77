//! The seed documents' own examples (`tests/templates/seed/`, copied from
//! the plugins' documentation) run by the real `imagebake build` against the
//! simulators, unchanged but for credentials, endpoints and IDs: each change
//! is one `replace` below, next to the file it applies to.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use imagebake_sim::machine::SshMode;
use imagebake_sim::osc::{OscDelays, OscSim, OscSimOptions};
use imagebake_sim::oxide::{OxideDelays, OxideSim, OxideSimOptions};
use imagebake_sim::triton::{TritonDelays, TritonSim, TritonSimOptions};
use imagebake_testing::needs_root;

const BIN: &str = env!("CARGO_BIN_EXE_imagebake");

/// The fixture `name` with each `(from, to)` replaced; every `from` must be
/// in it (so a fixture change cannot silently skip a replacement).
fn fixture(name: &str, changes: &[(&str, &str)]) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/templates/seed")
        .join(name);
    let mut text = std::fs::read_to_string(&path).expect("fixture");
    for (from, to) in changes {
        assert!(text.contains(from), "{name} has no {from:?}");
        text = text.replace(from, to);
    }
    text
}

/// `imagebake build FILE` in `dir` (also HOME) with only PATH and `env` set;
/// the output is printed when the test fails.
fn build(dir: &Path, file: &str, text: &str, env: &[(&str, String)]) -> Output {
    std::fs::write(dir.join(file), text).unwrap();
    let mut c = Command::new(BIN);
    c.args(["build", file])
        .current_dir(dir)
        .env_clear()
        .env("HOME", dir)
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    for (k, v) in env {
        c.env(k, v);
    }
    let o = c.output().expect("imagebake runs");
    eprintln!(
        "--- imagebake build {file}: {:?}\n{}\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// An ssh-agent on a socket in `dir`, holding `key`; killed on drop.
struct Agent {
    child: Child,
    socket: String,
}

impl Agent {
    fn start(dir: &Path, key: &Path) -> Agent {
        let socket = dir.join("agent.sock").display().to_string();
        let child = Command::new("ssh-agent")
            .args(["-D", "-a", &socket])
            .stdout(Stdio::null())
            .spawn()
            .expect("ssh-agent starts");
        for _ in 0..100 {
            if Path::new(&socket).exists() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let added = Command::new("ssh-add")
            .arg(key)
            .env("SSH_AUTH_SOCK", &socket)
            .output()
            .expect("ssh-add runs");
        assert!(added.status.success(), "{added:?}");
        Agent { child, socket }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn triton(ssh: SshMode) -> TritonSim {
    TritonSim::start(TritonSimOptions {
        delays: TritonDelays::all(Duration::from_millis(5)),
        ssh,
        ..TritonSimOptions::default()
    })
    .await
    .expect("triton simulator starts")
}

/// The Triton doc's JSON example for `sim`: its credentials; `keys` (the
/// simulator's endpoints, say) added to the builder; the simulator's
/// package and image in place of the public cloud's.
fn triton_basic(sim: &TritonSim, keys: &str) -> String {
    fixture(
        "triton-basic.json",
        &[
            ("triton_username", sim.account()),
            (
                "6b:95:03:3d:d3:6e:52:69:01:96:1a:46:4a:8d:c1:7e",
                sim.key_id(),
            ),
            (
                "\"type\": \"triton\",",
                &format!(
                    "\"type\": \"triton\", \"triton_url\": \"{}\", {keys}",
                    sim.url()
                ),
            ),
            ("g4-highcpu-128M", "g1.small"),
            ("ubuntu-16.04", "ubuntu-22.04"),
            ("lx-dataset", "zvol"),
        ],
    )
}

/// The Triton doc's JSON example, over real SSH with the key in an
/// ssh-agent, as the doc sets it up (no `triton_key_material`, no
/// `ssh_private_key_file`).
#[needs_root("simulated machines: overlay mounts, chroot, sshd")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn triton_doc_json_example_builds() {
    let sim = triton(SshMode::On).await;
    let dir = tempfile::tempdir().unwrap();
    let agent = Agent::start(dir.path(), sim.private_key_path());
    let port = sim.ssh_port().expect("ssh");
    // The machines' sshd is the simulator's port.
    let t = triton_basic(&sim, &format!("\"ssh_port\": {port},"));
    let o = tokio::task::block_in_place(|| {
        build(
            dir.path(),
            "basic.json",
            &t,
            &[("SSH_AUTH_SOCK", agent.socket.clone())],
        )
    });
    assert_eq!(o.status.code(), Some(0));
    let inv = sim.inventory();
    let images: Vec<(String, String)> = inv
        .custom_images()
        .iter()
        .map(|i| (i.name.clone(), i.version.clone()))
        .collect();
    assert_eq!(images, [("my_new_image".to_owned(), "1.0.0".to_owned())]);
    assert!(inv.machines.is_empty(), "{:?}", inv.machines);
}

/// A passphrase-protected `triton_key_material` signs through the ssh-agent
/// holding the key (as Packer and the triton CLI use such keys); without an
/// agent, the error names the key and says how.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn triton_locked_key_file_works_through_the_agent() {
    let sim = triton(SshMode::Off).await;
    let dir = tempfile::tempdir().unwrap();
    let locked = dir.path().join("locked_key");
    std::fs::copy(sim.private_key_path(), &locked).unwrap();
    let enc = Command::new("ssh-keygen")
        .args(["-q", "-p", "-P", "", "-N", "s3cret-pass", "-f"])
        .arg(&locked)
        .output()
        .expect("ssh-keygen runs");
    assert!(enc.status.success(), "{enc:?}");
    let t = triton_basic(
        &sim,
        &format!(
            "\"communicator\": \"none\", \"triton_key_material\": \"{}\",",
            locked.display()
        ),
    );
    let o = tokio::task::block_in_place(|| build(dir.path(), "locked.json", &t, &[]));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        err.contains("triton_key_material") && err.contains("passphrase-protected"),
        "{err}"
    );
    assert!(!err.contains("s3cret-pass"), "{err}");
    assert!(sim.inventory().machines.is_empty());

    // The agent holds the key (added from the unlocked original).
    let agent = Agent::start(dir.path(), sim.private_key_path());
    let o = tokio::task::block_in_place(|| {
        build(
            dir.path(),
            "locked.json",
            &t,
            &[("SSH_AUTH_SOCK", agent.socket.clone())],
        )
    });
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(sim.inventory().custom_images().len(), 1);
}

async fn osc() -> OscSim {
    OscSim::start(OscSimOptions {
        delays: OscDelays::uniform(Duration::from_millis(5)),
        ..OscSimOptions::default()
    })
    .await
    .expect("outscale simulator starts")
}

/// The Outscale credentials and endpoints in the environment, as the
/// plugin's examples take them, plus the host's side of the simulator
/// (metadata service, device directory).
fn osc_env(sim: &OscSim) -> Vec<(&'static str, String)> {
    vec![
        ("OSC_ACCESS_KEY", sim.access_key().to_owned()),
        ("OSC_SECRET_KEY", sim.secret_key().to_owned()),
        ("OSC_REGION", sim.region().to_owned()),
        ("OSC_ENDPOINT_API", sim.endpoint().to_owned()),
        ("IMAGEBAKE_OSC_METADATA_URL", sim.metadata_url().to_owned()),
        (
            "IMAGEBAKE_OSC_DEVICE_DIR",
            sim.dev_dir().display().to_string(),
        ),
    ]
}

/// The plugin's HCL2 example (from scratch: parted, mkfs.ext4 on partition
/// 1), then the doc's basic JSON example on the OMI it made (a partitioned
/// disk, as real OMIs are; the simulator's seed disk is not partitioned).
#[needs_root("loop devices, mount, chroot")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn osc_chroot_doc_examples_build_in_hcl2_and_json() {
    let sim = osc().await;
    let dir = tempfile::tempdir().unwrap();
    let env = osc_env(&sim);
    let hcl = fixture("osc-chroot.pkr.hcl", &[]);
    let o = tokio::task::block_in_place(|| build(dir.path(), "osc-chroot.pkr.hcl", &hcl, &env));
    assert_eq!(o.status.code(), Some(0));
    let client = imagebake_core::osc_client::Client::new(
        imagebake_core::osc_client::Config::explicit(
            sim.access_key(),
            sim.secret_key().to_owned(),
            sim.region(),
            sim.endpoint(),
        )
        .unwrap(),
    )
    .unwrap();
    let inv = sim.inventory().await;
    let mut made = Vec::new();
    for id in &inv.images {
        let i = client.images().find(id).await.unwrap().expect("image");
        if i.image_name.starts_with("packer-outscale-chroot ") {
            made.push(i);
        }
    }
    assert_eq!(made.len(), 1, "{inv:?}");
    let scratch = made.remove(0);
    assert_eq!(scratch.root_device_name.as_deref(), Some("xvdf"));

    let json = fixture(
        "osc-chroot-basic.json",
        &[
            ("YOUR KEY HERE", sim.access_key()),
            ("YOUR SECRET KEY HERE", sim.secret_key()),
            ("ami-3e158364", &scratch.image_id),
        ],
    );
    // The same second as the first build would give the same name.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let o = tokio::task::block_in_place(|| build(dir.path(), "basic.json", &json, &env));
    assert_eq!(o.status.code(), Some(0));
    let inv = sim.inventory().await;
    let mut names = Vec::new();
    for id in &inv.images {
        let i = client.images().find(id).await.unwrap().expect("image");
        if i.image_name.starts_with("packer-outscale-chroot ") {
            names.push(i.image_name);
        }
    }
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(
        inv.links.is_empty() && inv.loop_devices.is_empty(),
        "{inv:?}"
    );
    sim.shutdown().await;
}

async fn oxide(ssh: SshMode) -> OxideSim {
    OxideSim::start(OxideSimOptions {
        delays: OxideDelays {
            instance_start: Duration::from_millis(5),
            instance_stop: Duration::from_millis(5),
        },
        ssh,
        ..OxideSimOptions::default()
    })
    .await
    .expect("oxide simulator starts")
}

fn oxide_env(sim: &OxideSim) -> Vec<(&'static str, String)> {
    vec![
        ("OXIDE_HOST", sim.url()),
        ("OXIDE_TOKEN", sim.token().to_owned()),
    ]
}

/// The plugin's example template: the `oxide-image` data source gives the
/// boot image, credentials from `OXIDE_HOST`/`OXIDE_TOKEN`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oxide_example_template_with_the_data_source_builds() {
    let sim = oxide(SshMode::Off).await;
    let dir = tempfile::tempdir().unwrap();
    let t = fixture(
        "oxide-template.pkr.hcl",
        &[
            ("packer-acc-test", "imagebake"),
            ("\"noble\"", "\"ubuntu-24-04\""),
        ],
    );
    let o = tokio::task::block_in_place(|| build(dir.path(), "t.pkr.hcl", &t, &oxide_env(&sim)));
    assert_eq!(o.status.code(), Some(0));
    let inv = sim.inventory();
    assert!(
        inv.images
            .iter()
            .any(|i| i.name.starts_with("ubuntu-24-04-")),
        "{:?}",
        inv.images
    );
    assert!(inv.instances.is_empty() && inv.disks.is_empty());
}

/// The builder doc's example over real SSH: shell, file, shell, and the
/// reboot with `expect_disconnect`. Needs root (simulated machines).
#[needs_root("simulated machines reachable over SSH (overlay mounts, sshd)")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oxide_doc_example_builds_over_ssh() {
    let sim = oxide(SshMode::On).await;
    let dir = tempfile::tempdir().unwrap();
    let image = sim
        .inventory()
        .images
        .iter()
        .find(|i| i.name == "ubuntu-24-04")
        .expect("seed image")
        .id
        .to_string();
    let port = sim.ssh_port().expect("ssh").to_string();
    let t = fixture(
        "oxide-instance.pkr.hcl",
        &[
            ("packer-acc-test", "imagebake"),
            ("feb2c8ee-5a1d-4d66-beeb-289b860561bf", &image),
            // Endpoint: the simulator machines' sshd.
            (
                "ssh_username = \"ubuntu\"",
                &format!("ssh_username = \"ubuntu\"\n  ssh_port = {port}"),
            ),
        ],
    );
    let o = tokio::task::block_in_place(|| build(dir.path(), "t.pkr.hcl", &t, &oxide_env(&sim)));
    assert_eq!(o.status.code(), Some(0));
    let inv = sim.inventory();
    let made = inv
        .images
        .iter()
        .find(|i| i.name.starts_with("ubuntu-24-04-"))
        .expect("the image");
    assert_eq!(
        sim.image_file(made.id, "/opt/hello.txt").as_deref(),
        Some(&b"Hello from Packer!"[..])
    );
    assert!(inv.instances.is_empty() && inv.disks.is_empty());
}

/// A `host` in the template with the token from `OXIDE_TOKEN` (as the
/// plugin's SDK takes it); without the token, the error names the key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oxide_host_in_the_template_takes_the_token_from_oxide_token() {
    let sim = oxide(SshMode::Off).await;
    let dir = tempfile::tempdir().unwrap();
    let t = serde_json::json!({"builders": [{
        "type": "oxide-instance",
        "host": sim.url(),
        "project": "imagebake",
        "boot_disk_image_name": "debian-12",
        "communicator": "none",
    }]})
    .to_string();
    let o = tokio::task::block_in_place(|| build(dir.path(), "t.json", &t, &[]));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        err.contains("token") && err.contains("OXIDE_TOKEN"),
        "{err}"
    );
    assert!(sim.inventory().instances.is_empty());

    let env = [("OXIDE_TOKEN", sim.token().to_owned())];
    let o = tokio::task::block_in_place(|| build(dir.path(), "t.json", &t, &env));
    assert_eq!(o.status.code(), Some(0));
    let inv = sim.inventory();
    assert!(
        inv.images.iter().any(|i| i.name.starts_with("debian-12-")),
        "{:?}",
        inv.images
    );
}
