//! The quickstart's bakes (`cargo run --example quickstart`, the README's
//! main command, and a test): an image baked offline on each cloud's
//! simulator, started in this process, one after the other: Triton
//! (`triton`), Oxide (`oxide-instance`), then Outscale (`osc-chroot`). Each
//! shows what a build looks like (its steps in Packer's form, the waits,
//! the provisioner's output, the cleanup, the artifact) and checks the
//! simulator's inventory: one image made, nothing else left behind.
//!
//! When simulated machines can run real SSH here (root, overlayfs, OpenSSH,
//! busybox: see `scripts/test-deps.sh`), the Triton and Oxide builds
//! connect to the machine and run a shell provisioner whose file is then
//! read back from the captured image; otherwise they bake with
//! `communicator: none` and say so. The `osc-chroot` build works on real
//! loop devices, so it runs only as root (with `/bin/busybox`, copied into
//! the image so the provisioner has a shell); otherwise it says why it is
//! skipped.

use std::fmt::Display;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use imagebake_core::bake::describe;
use imagebake_core::builders::Builder;
use imagebake_core::builders::osc_chroot::{OscChrootBuilder, OscChrootConfig};
use imagebake_core::builders::oxide::{OxideBuilder, OxideConfig};
use imagebake_core::builders::triton::{TritonBuilder, TritonConfig};
use imagebake_core::provision::Shell;
use imagebake_core::{
    BuildError, CancellationToken, ChannelObserver, CleanupReport, Event, Runner,
};
use imagebake_sim::machine::{SshMode, check_support};
use imagebake_sim::osc::{OscDelays, OscSim, OscSimOptions};
use imagebake_sim::oxide::{OxideDelays, OxideSim, OxideSimOptions};
use imagebake_sim::triton::{TritonDelays, TritonSim, TritonSimOptions};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

/// What the provisioner writes, and where.
pub const MARK_PATH: &str = "/etc/imagebake-quickstart";
/// The provisioner's line in [`MARK_PATH`].
pub const MARK: &str = "baked by the imagebake quickstart";

/// The busybox applets put into the `osc-chroot` image for the provisioner.
const APPLETS: &str = "sh echo cat uname sleep sync ls rm mkdir env test true false";

/// The clouds of the quickstart, in the order it bakes them.
pub const CLOUDS: [&str; 3] = ["triton", "oxide", "osc-chroot"];

/// How one cloud's bake ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The image was made and nothing was left behind.
    Baked,
    /// The bake failed or left something behind.
    Failed,
    /// The bake did not run, for this reason.
    Skipped(String),
}

/// One cloud's bake, with what its simulator held afterwards.
#[derive(Debug, Clone)]
pub struct Bake {
    /// `triton`, `oxide` or `osc-chroot`.
    pub cloud: &'static str,
    /// How it ended.
    pub outcome: Outcome,
    /// How many images the simulator holds that the bake made.
    pub images: usize,
    /// What else the simulator still held (machines, disks, volumes...),
    /// one entry per kind, e.g. `2 machine(s)`; empty when clean.
    pub leftovers: Vec<String>,
    /// Whether the bake ran a provisioner over SSH (else `communicator:
    /// none`).
    pub ssh: bool,
    /// What the image holds at [`MARK_PATH`], when the provisioner ran.
    pub mark: Option<String>,
}

impl Bake {
    fn skipped(cloud: &'static str, why: &str) -> Self {
        Self {
            cloud,
            outcome: Outcome::Skipped(why.to_owned()),
            images: 0,
            leftovers: Vec::new(),
            ssh: false,
            mark: None,
        }
    }
}

/// Bakes on each of `clouds` (names from [`CLOUDS`]) in turn, printing the
/// progress; stops starting new bakes once `token` is cancelled (Ctrl-C).
pub async fn run(clouds: &[&'static str], token: &CancellationToken) -> Vec<Bake> {
    let ssh = match check_support() {
        Ok(()) => true,
        Err(why) => {
            println!("! simulated machines cannot run SSH here ({why});");
            println!("! Triton and Oxide bake with communicator \"none\" (no provisioner)");
            false
        }
    };
    let mut bakes = Vec::new();
    for &cloud in clouds {
        if token.is_cancelled() {
            bakes.push(Bake::skipped(cloud, "cancelled"));
            continue;
        }
        println!("\n==================== {cloud} ====================");
        let r = match cloud {
            "triton" => triton(ssh, token).await,
            "oxide" => oxide(ssh, token).await,
            "osc-chroot" => osc_chroot(token).await,
            other => Err(anyhow::anyhow!(
                "unknown cloud {other:?} (known: {CLOUDS:?})"
            )),
        };
        bakes.push(r.unwrap_or_else(|e| {
            println!("{cloud}: {e:#}");
            Bake {
                outcome: Outcome::Failed,
                ..Bake::skipped(cloud, "")
            }
        }));
    }
    bakes
}

/// The shell provisioner of every bake: writes the mark and shows it.
fn provisioner() -> Shell {
    Shell::inline([
        format!("echo '{MARK}' > {MARK_PATH}"),
        "uname -a".to_owned(),
        format!("cat {MARK_PATH}"),
    ])
}

/// A runner whose events are printed by the returned task (which ends once
/// the runner and the build are dropped).
fn progress() -> (Runner, JoinHandle<()>) {
    let (observer, mut events) = ChannelObserver::new();
    let runner = Runner::new().observer(Arc::new(observer));
    let printer = tokio::spawn(async move {
        let start = Instant::now();
        while let Some(e) = events.recv().await {
            print_event(start.elapsed(), &e);
        }
    });
    (runner, printer)
}

/// Waits for the printer of `runner`'s events to show them all.
async fn finish(runner: Runner, printer: JoinHandle<()>) {
    drop(runner);
    let _ = printer.await;
}

fn print_event(at: Duration, e: &Event) {
    if let Some((_, line)) = describe(e) {
        println!("[{:>6.2}s] {line}", at.as_secs_f64());
    }
}

/// Prints the artifact or the error with the cleanup report; whether the
/// build succeeded.
fn report<A: Display>(result: &Result<A, BuildError>, cleanup: fn(&A) -> &CleanupReport) -> bool {
    match result {
        Ok(artifact) => {
            println!("\n{artifact}");
            println!("cleanup: {}", cleanup(artifact));
            true
        }
        Err(e) => {
            println!("\n{e}");
            println!("cleanup: {}", e.cleanup);
            false
        }
    }
}

/// Prints what the image holds at [`MARK_PATH`], and returns it.
fn print_mark(file: Option<Vec<u8>>) -> Option<String> {
    match file {
        Some(bytes) => {
            let text = String::from_utf8_lossy(&bytes).trim_end().to_owned();
            println!("{MARK_PATH} in the image: {text:?}");
            Some(text)
        }
        None => {
            println!("{MARK_PATH} is NOT in the image");
            None
        }
    }
}

/// Prints the inventory verdict and makes the [`Bake`]: `Baked` when the
/// build succeeded, made one image and the simulator holds nothing else.
fn verdict(
    cloud: &'static str,
    ok: bool,
    images: usize,
    left: &[(&str, usize)],
    ssh: bool,
    mark: Option<String>,
) -> Bake {
    let leftovers: Vec<String> = left
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(what, n)| format!("{n} {what}(s)"))
        .collect();
    let clean = leftovers.is_empty() && images == usize::from(ok);
    println!(
        "{}",
        if clean {
            "nothing left behind".to_owned()
        } else {
            format!("LEFTOVERS in the simulator: {}", leftovers.join(", "))
        }
    );
    Bake {
        cloud,
        outcome: if ok && clean {
            Outcome::Baked
        } else {
            Outcome::Failed
        },
        images,
        leftovers,
        ssh,
        mark,
    }
}

/// The `triton` builder against [`TritonSim`].
async fn triton(ssh: bool, token: &CancellationToken) -> anyhow::Result<Bake> {
    let sim = TritonSim::start(TritonSimOptions {
        delays: TritonDelays {
            provision: Duration::from_millis(1500),
            stop: Duration::from_millis(700),
            start: Duration::from_millis(700),
            delete: Duration::from_millis(500),
            image_create: Duration::from_millis(2500),
        },
        ssh: if ssh { SshMode::On } else { SshMode::Off },
        ..TritonSimOptions::default()
    })
    .await?;
    println!(
        "Triton simulator at {} (account {})",
        sim.url(),
        sim.account()
    );
    // A Packer builder block, as a template would hold it.
    let mut block = json!({
        "type": "triton",
        "triton_url": sim.url(),
        "triton_account": sim.account(),
        "triton_key_id": sim.key_id(),
        "triton_key_material": sim.private_key_path(),
        "source_machine_package": "g1.small",
        "source_machine_image_filter": {"name": "base-64-lts", "most_recent": true},
        "source_machine_tags": {"purpose": "quickstart"},
        "image_name": "quickstart",
        "image_version": "1.0.{{timestamp}}",
        "image_description": "An image baked by the imagebake quickstart",
        "communicator": "none",
    });
    let port = sim.ssh_port().filter(|_| ssh);
    if let Some(port) = port {
        with_ssh(&mut block, port, false);
    }
    println!("builder block:\n{}", serde_json::to_string_pretty(&block)?);
    let mut builder = TritonBuilder::new(TritonConfig::from_json(&block)?)?;
    if port.is_some() {
        builder = builder.provisioner(provisioner());
    }

    let (runner, printer) = progress();
    let result = builder.run(&runner, token.clone()).await;
    finish(runner, printer).await;
    let ok = report(&result, |a| &a.cleanup);
    let mut mark = None;
    if let (Ok(artifact), Some(_)) = (&result, port) {
        mark = print_mark(sim.image_file(&artifact.image_id.to_string(), MARK_PATH));
    }

    let inv = sim.inventory();
    println!(
        "\nsimulator inventory: {} machine(s), {} custom image(s), {} requests served",
        inv.machines.len(),
        inv.custom_images().len(),
        sim.request_count()
    );
    for i in inv.custom_images() {
        println!("  image {} {}@{} ({})", i.id, i.name, i.version, i.state);
    }
    let images = inv.custom_images().len();
    let left = [("machine", inv.machines.len())];
    sim.shutdown().await;
    Ok(verdict("triton", ok, images, &left, port.is_some(), mark))
}

/// Sets the SSH communicator keys of `block` (`root` login for Oxide).
fn with_ssh(block: &mut Value, port: u16, root: bool) {
    block["communicator"] = json!("ssh");
    block["ssh_port"] = json!(port);
    block["ssh_timeout"] = json!("1m");
    if root {
        block["ssh_username"] = json!("root");
    }
}

/// The `oxide-instance` builder against [`OxideSim`].
async fn oxide(ssh: bool, token: &CancellationToken) -> anyhow::Result<Bake> {
    let sim = OxideSim::start(OxideSimOptions {
        delays: OxideDelays {
            instance_start: Duration::from_millis(1500),
            instance_stop: Duration::from_millis(700),
        },
        ssh: if ssh { SshMode::On } else { SshMode::Off },
        ..OxideSimOptions::default()
    })
    .await?;
    println!("Oxide simulator at {} (project imagebake)", sim.url());
    let seeded = sim.inventory().images.len();
    let mut block = json!({
        "type": "oxide-instance",
        "host": sim.url(),
        "token": sim.token(),
        "project": "imagebake",
        "boot_disk_image_name": "debian-12",
        "boot_disk_size": 2u64 << 30,
        "memory": 1u64 << 30,
        "artifact_description": "An image baked by the imagebake quickstart",
        "communicator": "none",
    });
    let port = sim.ssh_port().filter(|_| ssh);
    if let Some(port) = port {
        with_ssh(&mut block, port, true);
    }
    // The token is a secret: the block is shown without it.
    let mut shown = block.clone();
    shown["token"] = json!("<redacted>");
    println!("builder block:\n{}", serde_json::to_string_pretty(&shown)?);
    let mut builder = OxideBuilder::new(OxideConfig::from_json(&block)?)?;
    if port.is_some() {
        builder = builder.provisioner(provisioner());
    }

    let (runner, printer) = progress();
    let result = builder.run(&runner, token.clone()).await;
    finish(runner, printer).await;
    let ok = report(&result, |a| &a.cleanup);
    let mut mark = None;
    if let (Ok(artifact), Some(_)) = (&result, port)
        && let Some(id) = artifact.image_id
    {
        mark = print_mark(sim.image_file(id, MARK_PATH));
    }

    let inv = sim.inventory();
    let made = inv.images.len().saturating_sub(seeded);
    println!(
        "\nsimulator inventory: {} instance(s), {} disk(s), {} snapshot(s), {} SSH key(s), \
         {made} new image(s), {} requests served",
        inv.instances.len(),
        inv.disks.len(),
        inv.snapshots.len(),
        inv.ssh_keys.len(),
        sim.request_count()
    );
    for i in inv.images.iter().skip(seeded) {
        println!("  image {} {}", i.id, i.name);
    }
    let left = [
        ("instance", inv.instances.len()),
        ("disk", inv.disks.len()),
        ("snapshot", inv.snapshots.len()),
        ("SSH key", inv.ssh_keys.len()),
    ];
    sim.shutdown().await;
    Ok(verdict("oxide", ok, made, &left, port.is_some(), mark))
}

/// The `osc-chroot` builder against [`OscSim`], whose volumes are real loop
/// devices.
async fn osc_chroot(token: &CancellationToken) -> anyhow::Result<Bake> {
    if !imagebake_sim::is_root() {
        let why = "osc-chroot needs root (loop devices, mount, chroot)";
        println!("! skipped: {why}");
        return Ok(Bake::skipped("osc-chroot", why));
    }
    if !Path::new("/bin/busybox").exists() {
        let why = "/bin/busybox is missing (scripts/test-deps.sh installs it)";
        println!("! skipped: {why}");
        return Ok(Bake::skipped("osc-chroot", why));
    }
    let sim = OscSim::start(OscSimOptions {
        delays: OscDelays::uniform(Duration::from_millis(300)),
        ..OscSimOptions::default()
    })
    .await?;
    println!(
        "Outscale simulator at {} (region {}, host VM {})",
        sim.endpoint(),
        sim.region(),
        sim.vm_id()
    );
    let work = tempfile::tempdir()?;
    // `post_mount_commands` at work: the host's busybox and its applets go into
    // the chroot before the provisioner runs (the way the plugin's docs prepare a
    // chroot; the simulator's seed disk has its own busybox too).
    let post = format!(
        "mkdir -p {{{{.MountPath}}}}/bin {{{{.MountPath}}}}/tmp {{{{.MountPath}}}}/proc \
         {{{{.MountPath}}}}/sys {{{{.MountPath}}}}/dev && cp /bin/busybox {{{{.MountPath}}}}/bin/busybox \
         && for a in {APPLETS}; do ln -sf busybox {{{{.MountPath}}}}/bin/$a; done"
    );
    let mut block = json!({
        "type": "osc-chroot",
        "access_key": sim.access_key(),
        "secret_key": sim.secret_key(),
        "region": sim.region(),
        "custom_endpoint_oapi": sim.endpoint(),
        "metadata_url": sim.metadata_url(),
        "device_dir": sim.dev_dir(),
        "device_lock_path": work.path().join("device.lock"),
        "mount_path": format!("{}/mnt/{{{{.Device}}}}", work.path().display()),
        "mount_partition": "0",
        "source_omi_filter": {
            "filters": {"image-name": "Debian-12-*"},
            "owners": ["Outscale"],
            "most_recent": true
        },
        "omi_name": "quickstart-{{timestamp}}",
        "omi_description": "An image baked by the imagebake quickstart",
        "post_mount_commands": [post],
    });
    if !Path::new("/etc/resolv.conf").exists() {
        block["copy_files"] = json!([]);
    }
    // The secret key is a secret: the block is shown without it.
    let mut shown = block.clone();
    shown["secret_key"] = json!("<redacted>");
    println!("builder block:\n{}", serde_json::to_string_pretty(&shown)?);
    let builder =
        OscChrootBuilder::new(OscChrootConfig::from_json(&block)?)?.provisioner(provisioner());

    let (runner, printer) = progress();
    let result = builder.run(&runner, token.clone()).await;
    finish(runner, printer).await;
    let ok = report(&result, |a| &a.cleanup);

    let inv = sim.inventory().await;
    println!(
        "\nsimulator inventory: {} volume(s), {} link(s), {} loop device(s), {} snapshot(s), \
         {} image(s) made",
        inv.volumes.len(),
        inv.links.len(),
        inv.loop_devices.len(),
        inv.snapshots.len(),
        inv.images.len()
    );
    for i in &inv.images {
        println!("  image {i}");
    }
    let snapshots = result.as_ref().map_or(0, |a| a.snapshot_ids.len());
    let left = [
        ("volume", inv.volumes.len()),
        ("link", inv.links.len()),
        ("loop device", inv.loop_devices.len()),
        ("snapshot", inv.snapshots.len().saturating_sub(snapshots)),
    ];
    let images = inv.images.len();
    sim.shutdown().await;
    Ok(verdict("osc-chroot", ok, images, &left, true, None))
}
