//! The chroot builders for real, as root: `local-chroot` on loop devices
//! (from scratch with a busybox root, qcow2 in and out, a failing
//! provisioner, Ctrl-C), and `osc-chroot` against the in-process Outscale
//! simulator, whose volumes are real loop devices (happy path with the file
//! read back from the registered OMI's snapshot, permissions and tags, an
//! OMI name already taken and `force_deregister`, injected 5xx/429, failed
//! states at the waits, Ctrl-C at each step). Every case checks that no loop
//! device and no mount of the test is left, and the simulator's inventory.
//! Without root every test is reported as ignored (`#[needs_root]`).

use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use imagebake_core::builders::local_chroot::{LocalChrootBuilder, LocalChrootConfig};
use imagebake_core::builders::osc_chroot::{
    OscChrootArtifact, OscChrootBuilder, OscChrootConfig, OscSweeper,
};
use imagebake_core::builders::{Artifact, Builder};
use imagebake_core::osc_client::types::Tag;
use imagebake_core::provision::Shell;
use imagebake_core::{
    BuildError, CancellationToken, Event, FnObserver, Observer, OnError, Runner, SweepFilter,
    Sweeper,
};
use imagebake_sim::Fault;
use imagebake_sim::osc::{OscDelays, OscSim, OscSimOptions};
use imagebake_testing::needs_root;
use serde_json::{Value, json};
use tempfile::TempDir;

mod support;
use support::{assert_nothing_left, sh};

const APPLETS: &[&str] = &[
    "sh", "echo", "cat", "sleep", "sync", "ls", "rm", "chmod", "mkdir", "env", "test", "true",
    "false", "printf", "id",
];

/// A busybox root directory (what `rootfs_dir` / `rootfs_tarball` take).
fn busybox_tree(dir: &Path) {
    imagebake_testing::busybox_tree(dir, APPLETS, &["proc", "sys", "dev"]);
    std::fs::write(dir.join("etc/hostname"), "busybox\n").expect("hostname");
}

/// Mounts partition `part` (0: whole disk) of raw `image` read-only at a
/// fresh directory, runs `f` on it, and cleans up.
fn with_mounted_image<T>(image: &Path, part: u32, f: impl FnOnce(&Path) -> T) -> T {
    let mnt = tempfile::tempdir().expect("mnt");
    let dev = sh(&format!(
        "losetup --find --show --partscan -r {}",
        image.display()
    ));
    let dev = dev.trim().to_owned();
    let node = if part == 0 {
        dev.clone()
    } else {
        let _ = Command::new("partx").args(["-a", &dev]).status();
        format!("{dev}p{part}")
    };
    let mounted = Command::new("mount")
        .args(["-o", "ro", &node])
        .arg(mnt.path())
        .status()
        .expect("mount");
    let out = if mounted.success() {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(mnt.path())));
        sh(&format!("umount {}", mnt.path().display()));
        Some(r)
    } else {
        None
    };
    sh(&format!("losetup -d {dev}"));
    match out {
        Some(Ok(v)) => v,
        Some(Err(p)) => std::panic::resume_unwind(p),
        None => panic!("mounting {node} of {} failed", image.display()),
    }
}

/// Cancels `token` when step `name` starts.
fn cancel_at(name: &'static str, token: CancellationToken) -> Arc<FnObserver<impl Fn(&Event)>> {
    Arc::new(FnObserver(move |e: &Event| {
        if let Event::StepStarted { step } = e
            && step == name
        {
            token.cancel();
        }
    }))
}

/// Lines recorded by an observer.
type Log = Arc<Mutex<Vec<String>>>;

/// An observer recording what `pick` takes from each event.
fn recorder(pick: fn(&Event) -> Option<String>) -> (Log, Arc<dyn Observer>) {
    let log: Log = Arc::new(Mutex::new(Vec::new()));
    let l = log.clone();
    let obs = Arc::new(FnObserver(move |e: &Event| {
        if let Some(x) = pick(e) {
            l.lock().unwrap().push(x);
        }
    }));
    (log, obs)
}

/// Records the names of the steps that started.
fn step_log() -> (Log, Arc<dyn Observer>) {
    recorder(|e| match e {
        Event::StepStarted { step } => Some(step.clone()),
        _ => None,
    })
}

/// Records the output lines of a build.
fn output_log() -> (Log, Arc<dyn Observer>) {
    recorder(|e| match e {
        Event::OutputLine { line, .. } => Some(line.clone()),
        _ => None,
    })
}

// ---------------------------------------------------------------- local

fn local_config(dir: &Path, extra: Value) -> LocalChrootConfig {
    let mut v = json!({
        "type": "local-chroot",
        "mount_path": format!("{}/mnt/{{{{.Device}}}}", dir.display()),
    });
    for (k, x) in extra.as_object().expect("object") {
        v[k] = x.clone();
    }
    LocalChrootConfig::from_json(&v).expect("config decodes")
}

fn scratch_config(dir: &Path, output: &Path, extra: Value) -> LocalChrootConfig {
    let tree = dir.join("tree");
    if !tree.exists() {
        busybox_tree(&tree);
    }
    let mut base = json!({
        "from_scratch": true,
        "image_size": "64M",
        "rootfs_dir": tree,
        "filesystem_label": "bakeroot",
        "output_path": output,
    });
    for (k, x) in extra.as_object().expect("object") {
        base[k] = x.clone();
    }
    local_config(dir, base)
}

#[needs_root("loop devices, mount, chroot")]
#[tokio::test]
async fn local_from_scratch_with_busybox_and_shell() {
    let dir = TempDir::new().unwrap();
    let out = dir.path().join("out.raw");
    let cfg = scratch_config(dir.path(), &out, json!({}));
    let shell = Shell::inline([
        "echo baked-by-imagebake > /etc/baked",
        "test -e /proc/self/status && echo proc > /etc/proc-was-mounted",
        "test -e /dev/null && echo dev > /etc/dev-was-mounted",
        "cat /proc/self/mounts > /etc/mounts-seen",
    ]);
    let builder = LocalChrootBuilder::new(cfg).unwrap().provisioner(shell);
    let art = builder
        .run(&Runner::new(), CancellationToken::new())
        .await
        .expect("build succeeds");
    assert_eq!(art.path, out);
    assert!(art.cleanup.is_clean(), "{}", art.cleanup);
    assert_nothing_left(dir.path());
    let work: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains(".work.raw"))
        .collect();
    assert!(work.is_empty(), "working copy left: {work:?}");
    // The MBR imagebake wrote itself is one sfdisk finds sound.
    let verify = sh(&format!("sfdisk --verify {}", out.display()));
    assert!(verify.contains("No errors detected"), "{verify}");
    with_mounted_image(&out, 1, |root| {
        // The throwaway build filesystem was mounted without write barriers.
        let mounts = std::fs::read_to_string(root.join("etc/mounts-seen")).unwrap();
        let root_line = mounts.lines().find(|l| l.split(' ').nth(1) == Some("/"));
        assert!(
            root_line.is_some_and(|l| l.contains("ext4") && l.contains("nobarrier")),
            "{mounts}"
        );
        assert_eq!(
            std::fs::read_to_string(root.join("etc/baked")).unwrap(),
            "baked-by-imagebake\n"
        );
        assert!(root.join("etc/proc-was-mounted").exists());
        assert!(root.join("etc/dev-was-mounted").exists());
        assert!(
            root.join("bin/busybox").exists(),
            "the rootfs_dir was copied"
        );
        // The chroot mounts were undone before imaging: /proc is empty.
        assert_eq!(std::fs::read_dir(root.join("proc")).unwrap().count(), 0);
    });
}

#[needs_root("loop devices, mount, chroot")]
#[tokio::test]
async fn local_qcow2_in_and_out() {
    let dir = TempDir::new().unwrap();
    let tree = dir.path().join("tree");
    busybox_tree(&tree);
    let tarball = dir.path().join("rootfs.tar.gz");
    sh(&format!(
        "tar -czf {} -C {} .",
        tarball.display(),
        tree.display()
    ));
    // A qcow2 made from scratch from a tarball, on a GPT disk.
    let first = dir.path().join("first.qcow2");
    let cfg = local_config(
        dir.path(),
        json!({
            "from_scratch": true, "image_size": "48M", "partition_table": "gpt",
            "rootfs_tarball": tarball, "output_path": first,
        }),
    );
    LocalChrootBuilder::new(cfg)
        .unwrap()
        .provisioner(Shell::inline(["echo one > /etc/first"]))
        .run(&Runner::new(), CancellationToken::new())
        .await
        .expect("first build");
    let info = sh(&format!("qemu-img info --output=json {}", first.display()));
    assert!(info.contains("\"format\": \"qcow2\""), "{info}");

    // Then a build from that qcow2 to another qcow2.
    let second = dir.path().join("second.qcow2");
    let cfg = local_config(
        dir.path(),
        json!({"image_path": first, "output_path": second, "copy_files": []}),
    );
    let art = LocalChrootBuilder::new(cfg)
        .unwrap()
        .provisioner(Shell::inline(["echo two > /etc/second"]))
        .run(&Runner::new(), CancellationToken::new())
        .await
        .expect("second build");
    assert!(art.cleanup.is_clean(), "{}", art.cleanup);
    assert_nothing_left(dir.path());
    let info = sh(&format!("qemu-img info --output=json {}", second.display()));
    assert!(info.contains("\"format\": \"qcow2\""), "{info}");
    let raw2 = dir.path().join("second.raw");
    sh(&format!(
        "qemu-img convert -f qcow2 -O raw {} {}",
        second.display(),
        raw2.display()
    ));
    with_mounted_image(&raw2, 1, |root| {
        assert_eq!(
            std::fs::read_to_string(root.join("etc/first")).unwrap(),
            "one\n"
        );
        assert_eq!(
            std::fs::read_to_string(root.join("etc/second")).unwrap(),
            "two\n"
        );
    });
    // The source image was not modified.
    let raw1 = dir.path().join("first.raw");
    sh(&format!(
        "qemu-img convert -f qcow2 -O raw {} {}",
        first.display(),
        raw1.display()
    ));
    with_mounted_image(&raw1, 1, |root| {
        assert!(!root.join("etc/second").exists(), "the source was modified");
    });
}

#[needs_root("loop devices, mount, chroot")]
#[tokio::test]
async fn local_failing_provisioner_leaves_nothing() {
    let dir = TempDir::new().unwrap();
    let out = dir.path().join("out.raw");
    let cfg = scratch_config(dir.path(), &out, json!({}));
    let err: BuildError = LocalChrootBuilder::new(cfg)
        .unwrap()
        .provisioner(Shell::inline([
            "sleep 300 &",
            "echo about to fail >&2",
            "exit 7",
        ]))
        .run(&Runner::new(), CancellationToken::new())
        .await
        .expect_err("the provisioner fails");
    assert_eq!(err.step.as_deref(), Some("shell"), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("status 7") && msg.contains("about to fail"),
        "{msg}"
    );
    assert!(err.cleanup.is_clean(), "{}", err.cleanup);
    assert_nothing_left(dir.path());
    assert!(!out.exists(), "no output after a failure");
}

#[needs_root("loop devices, mount, chroot")]
#[tokio::test]
async fn local_cancel_at_each_step_leaves_nothing() {
    for step in [
        "attach loop device",
        "chroot",
        "mkfs ext4",
        "mount root",
        "populate root",
        "chroot mounts",
        "shell",
        "unmount",
        "detach loop device",
        "write output",
    ] {
        let dir = TempDir::new().unwrap();
        let out = dir.path().join("out.raw");
        let cfg = scratch_config(dir.path(), &out, json!({}));
        let token = CancellationToken::new();
        let (log, obs) = step_log();
        let runner = Runner::new()
            .observer(cancel_at(step, token.clone()))
            .observer(obs);
        let err = LocalChrootBuilder::new(cfg)
            .unwrap()
            .provisioner(Shell::inline(["echo x > /etc/x"]))
            .run(&runner, token)
            .await
            .expect_err("cancelled");
        assert!(err.is_cancelled(), "{step}: {err}");
        assert!(
            log.lock().unwrap().iter().any(|s| s == step),
            "{step} never started"
        );
        assert!(err.cleanup.is_clean(), "{step}: {}", err.cleanup);
        println!("cancelled at {step}");
        assert_nothing_left(dir.path());
        assert!(!out.exists(), "{step}: output left");
    }
}

#[test]
fn local_config_errors_name_the_key() {
    let e = LocalChrootConfig::from_json(
        &json!({"type": "local-chroot", "output_path": "/x", "bogus": 1}),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("local-chroot") && e.contains("`bogus`"), "{e}");
    let e = LocalChrootConfig::from_json(&json!({"type": "local-chroot"}))
        .unwrap_err()
        .to_string();
    assert!(e.contains("`output_path`"), "{e}");
    let cfg = LocalChrootConfig::from_json(&json!({"output_path": "/x.raw", "from_scratch": true}))
        .unwrap();
    let e = LocalChrootBuilder::new(cfg).unwrap_err().to_string();
    assert!(e.contains("image_size"), "{e}");
    let cfg = LocalChrootConfig::from_json(
        &json!({"output_path": "/x.raw", "image_size": "1G", "image_path": "/a.raw"}),
    )
    .unwrap();
    let e = LocalChrootBuilder::new(cfg).unwrap_err().to_string();
    assert!(e.contains("`image_size` is only for `from_scratch`"), "{e}");
    let small = |table: &str| {
        LocalChrootBuilder::new(
            LocalChrootConfig::from_json(&json!({"output_path": "/x.raw", "from_scratch": true,
                "image_size": "2M", "partition_table": table}))
            .unwrap(),
        )
    };
    let e = small("gpt").unwrap_err().to_string();
    assert!(e.contains("image_size") && e.contains("no room"), "{e}");
    small("none").expect("a whole-disk filesystem needs no room for a table");
}

// ---------------------------------------------------------------- osc

async fn osc_sim() -> OscSim {
    OscSim::start(OscSimOptions {
        delays: OscDelays::uniform(Duration::from_millis(5)),
        ..OscSimOptions::default()
    })
    .await
    .expect("simulator starts")
}

/// A builder block for `sim`: the seed's whole-disk ext4 root, busybox put
/// in by `post_mount_commands` so provisioners have a shell.
fn osc_block(sim: &OscSim, dir: &Path, extra: Value) -> Value {
    let post = format!(
        "mkdir -p {{{{.MountPath}}}}/bin {{{{.MountPath}}}}/tmp {{{{.MountPath}}}}/proc \
         {{{{.MountPath}}}}/sys {{{{.MountPath}}}}/dev && cp /bin/busybox {{{{.MountPath}}}}/bin/busybox \
         && for a in {}; do ln -sf busybox {{{{.MountPath}}}}/bin/$a; done",
        APPLETS.join(" ")
    );
    let mut v = support::osc_chroot_block(sim, dir);
    v["omi_name"] = json!("baked-{{timestamp}}");
    v["post_mount_commands"] = json!([post]);
    for (k, x) in extra.as_object().expect("object") {
        v[k] = x.clone();
    }
    v
}

fn osc_builder(sim: &OscSim, dir: &Path, extra: Value) -> OscChrootBuilder {
    let cfg = OscChrootConfig::from_json(&osc_block(sim, dir, extra)).expect("config decodes");
    OscChrootBuilder::new(cfg)
        .expect("builder")
        .provisioner(Shell::inline(["echo baked-on-osc > /etc/baked"]))
}

/// The sim holds nothing but `keep` (image and snapshot ids), no link, no
/// loop device; nothing of the test is mounted.
async fn assert_osc_clean(sim: &OscSim, dir: &Path, keep: &[String]) {
    let inv = sim.inventory().await;
    let mut left: Vec<String> = inv
        .volumes
        .iter()
        .chain(&inv.snapshots)
        .chain(&inv.images)
        .filter(|id| !keep.contains(id))
        .cloned()
        .collect();
    left.extend(inv.loop_devices.iter().cloned());
    left.extend(inv.links.iter().map(|l| format!("link {}", l.volume_id)));
    assert!(left.is_empty(), "left in the simulator: {left:?} ({inv:?})");
    assert_nothing_left(dir);
}

fn kept(a: &OscChrootArtifact) -> Vec<String> {
    let mut v = vec![a.omi_id.clone()];
    v.extend(a.snapshot_ids.iter().cloned());
    v
}

#[needs_root("loop devices, mount, chroot")]
#[tokio::test]
async fn osc_happy_path_bakes_the_file_into_the_omi() {
    let sim = osc_sim().await;
    let dir = TempDir::new().unwrap();
    let builder = osc_builder(
        &sim,
        dir.path(),
        json!({
            "omi_description": "made by the test",
            "omi_account_ids": ["111122223333"],
            "snapshot_account_ids": ["444455556666"],
            "omi_boot_modes": ["uefi"],
            "root_volume_size": 2,
            "root_volume_type": "gp2",
            "root_volume_tags": {"purpose": "work"},
            "tags": {"team": "bakers", "from": "{{.SourceOMI}}"},
            "snapshot_tags": {"team": "snapshots"},
        }),
    );
    let art = builder
        .run(&Runner::new(), CancellationToken::new())
        .await
        .expect("build succeeds");
    assert!(art.cleanup.is_clean(), "{}", art.cleanup);
    assert!(art.omi_name.starts_with("baked-"), "{}", art.omi_name);
    assert_eq!(art.snapshot_ids.len(), 1);
    assert_osc_clean(&sim, dir.path(), &kept(&art)).await;

    let client = sim_client(&sim);
    let image = client
        .images()
        .find(&art.omi_id)
        .await
        .unwrap()
        .expect("omi");
    assert_eq!(image.description.as_deref(), Some("made by the test"));
    assert_eq!(image.boot_modes.len(), 1);
    let launch = image.permissions_to_launch.clone().unwrap_or_default();
    assert_eq!(launch.account_ids, vec!["111122223333"]);
    assert_ne!(launch.global_permission, Some(true));
    let root = image
        .root_mapping()
        .and_then(|m| m.bsu.clone())
        .expect("root");
    assert_eq!(root.volume_size, Some(2));
    assert!(
        image.tags.contains(&Tag::new("team", "bakers")),
        "{:?}",
        image.tags
    );
    assert!(
        image
            .tags
            .contains(&Tag::new("from", sim.source_image_id())),
        "{:?}",
        image.tags
    );
    let snap = client
        .snapshots()
        .find(&art.snapshot_ids[0])
        .await
        .unwrap()
        .expect("snapshot");
    let perms = snap
        .permissions_to_create_volume
        .clone()
        .unwrap_or_default();
    assert!(
        perms.account_ids.contains(&"444455556666".to_owned()),
        "{perms:?}"
    );
    assert!(
        perms.account_ids.contains(&"111122223333".to_owned()),
        "{perms:?}"
    );
    assert_ne!(perms.global_permission, Some(true));
    assert!(
        snap.tags.contains(&Tag::new("team", "snapshots")),
        "{:?}",
        snap.tags
    );
    assert!(
        !snap.tags.iter().any(|t| t.key == "imagebake-build"),
        "{:?}",
        snap.tags
    );

    // The snapshot's backing file holds what the provisioner wrote.
    let file = sim
        .data_dir()
        .join("snapshots")
        .join(format!("{}.img", art.snapshot_ids[0]));
    with_mounted_image(&file, 0, |root| {
        assert_eq!(
            std::fs::read_to_string(root.join("etc/baked")).unwrap(),
            "baked-on-osc\n"
        );
        assert!(
            root.join("etc/os-release").exists(),
            "the source's files are there"
        );
        assert!(
            !root.join("etc/resolv.conf").exists(),
            "copy_files put the image's own state back"
        );
    });
    sim.shutdown().await;
}

#[needs_root("loop devices, mount, chroot")]
#[tokio::test]
async fn osc_from_scratch_registers_the_mappings() {
    let sim = osc_sim().await;
    let dir = TempDir::new().unwrap();
    let mut block = osc_block(
        &sim,
        dir.path(),
        json!({
            "from_scratch": true,
            "root_volume_size": 1,
            "pre_mount_commands": ["mkfs.ext4 -q -F -L scratch {{.Device}}"],
            "root_device_name": "/dev/sda1",
            "omi_block_device_mappings": [
                {"device_name": "/dev/sda1", "volume_type": "gp2", "delete_on_vm_deletion": true},
                {"device_name": "/dev/sdb", "volume_size": 3, "volume_type": "standard"},
                {"device_name": "/dev/sdc", "no_device": true}
            ],
        }),
    );
    block.as_object_mut().unwrap().remove("source_omi_filter");
    block.as_object_mut().unwrap().remove("copy_files");
    let cfg = OscChrootConfig::from_json(&block).unwrap();
    let art = OscChrootBuilder::new(cfg)
        .unwrap()
        .provisioner(Shell::inline([
            "mkdir -p /etc",
            "echo scratch > /etc/baked",
        ]))
        .run(&Runner::new(), CancellationToken::new())
        .await
        .expect("from scratch");
    // Packer's manifest `artifact_id` for Outscale: `region:ami-…`.
    assert_eq!(
        Artifact::packer_id(&art),
        format!("{}:{}", art.region, art.omi_id)
    );
    assert_osc_clean(&sim, dir.path(), &kept(&art)).await;
    let image = sim_client(&sim)
        .images()
        .find(&art.omi_id)
        .await
        .unwrap()
        .expect("omi");
    assert_eq!(image.root_device_name.as_deref(), Some("/dev/sda1"));
    let names: Vec<&str> = image
        .block_device_mappings
        .iter()
        .map(|m| m.device_name.as_str())
        .collect();
    assert_eq!(names, vec!["/dev/sda1", "/dev/sdb"]);
    let root = image.root_mapping().and_then(|m| m.bsu.clone()).unwrap();
    assert_eq!(
        root.snapshot_id.as_deref(),
        Some(art.snapshot_ids[0].as_str())
    );
    assert_eq!(root.volume_size, Some(1));
    assert_eq!(
        root.volume_type
            .as_ref()
            .map(ToString::to_string)
            .as_deref(),
        Some("gp2")
    );
    let file = sim
        .data_dir()
        .join("snapshots")
        .join(format!("{}.img", art.snapshot_ids[0]));
    with_mounted_image(&file, 0, |root| {
        assert_eq!(
            std::fs::read_to_string(root.join("etc/baked")).unwrap(),
            "scratch\n"
        );
    });
    sim.shutdown().await;
}

#[needs_root("loop devices, mount, chroot")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn osc_parallel_builds_take_distinct_devices() {
    let sim = osc_sim().await;
    let dir = TempDir::new().unwrap();
    let (log_a, obs_a) = output_log();
    let (log_b, obs_b) = output_log();
    // Each build, once its device is attached and mounted (post-mount
    // commands run on the host), says so and waits until the other one is
    // attached too: the two builds hold their devices at the same time, so
    // they must have chosen distinct names (one finishing before the other
    // links could otherwise reuse a name, rightly).
    let defaults = osc_block(&sim, dir.path(), json!({}))["post_mount_commands"].clone();
    let meet = |me: &str, other: &str| {
        let (me, other) = (dir.path().join(me), dir.path().join(other));
        let mut commands = defaults.as_array().expect("post_mount_commands").clone();
        commands.extend([
            json!(format!("touch {}", me.display())),
            json!(format!(
                "i=0; while [ ! -e {} ]; do i=$((i+1)); [ $i -gt 600 ] && exit 1; sleep 0.05; done",
                other.display()
            )),
        ]);
        Value::Array(commands)
    };
    let a = osc_builder(
        &sim,
        dir.path(),
        json!({"omi_name": "parallel-a", "post_mount_commands": meet("attached-a", "attached-b")}),
    );
    let b = osc_builder(
        &sim,
        dir.path(),
        json!({"omi_name": "parallel-b", "post_mount_commands": meet("attached-b", "attached-a")}),
    );
    let (ra, rb) = (Runner::new().observer(obs_a), Runner::new().observer(obs_b));
    let (x, y) = tokio::join!(
        a.run(&ra, CancellationToken::new()),
        b.run(&rb, CancellationToken::new())
    );
    let (x, y) = (x.expect("build a"), y.expect("build b"));
    let device = |log: &Log| {
        log.lock()
            .unwrap()
            .iter()
            .find(|l| l.starts_with("/dev/xvd") && l.contains(" is "))
            .cloned()
            .expect("the device line")
    };
    let (da, db) = (device(&log_a), device(&log_b));
    assert_ne!(
        da.split(' ').next(),
        db.split(' ').next(),
        "two builds linked the same device name"
    );
    let mut keep = kept(&x);
    keep.extend(kept(&y));
    assert_osc_clean(&sim, dir.path(), &keep).await;
    sim.shutdown().await;
}

#[needs_root("loop devices, mount, chroot")]
#[tokio::test]
async fn osc_existing_name_fails_first_then_force_deregister_replaces_it() {
    let sim = osc_sim().await;
    let dir = TempDir::new().unwrap();
    let fixed = json!({"omi_name": "fixed-name"});
    let first = osc_builder(&sim, dir.path(), fixed.clone())
        .run(&Runner::new(), CancellationToken::new())
        .await
        .expect("first build");
    let volumes_before = sim
        .request_log()
        .iter()
        .filter(|(a, _)| a == "CreateVolume")
        .count();
    let err = osc_builder(&sim, dir.path(), fixed)
        .run(&Runner::new(), CancellationToken::new())
        .await
        .expect_err("the name is taken");
    assert_eq!(err.step.as_deref(), Some("check omi name"), "{err}");
    assert!(err.to_string().contains("fixed-name"), "{err}");
    let volumes_after = sim
        .request_log()
        .iter()
        .filter(|(a, _)| a == "CreateVolume")
        .count();
    assert_eq!(volumes_before, volumes_after, "no volume before the check");
    assert_osc_clean(&sim, dir.path(), &kept(&first)).await;

    let second = osc_builder(
        &sim,
        dir.path(),
        json!({"omi_name": "fixed-name", "force_deregister": true, "force_delete_snapshot": true}),
    )
    .run(&Runner::new(), CancellationToken::new())
    .await
    .expect("force_deregister build");
    assert_ne!(second.omi_id, first.omi_id);
    assert_osc_clean(&sim, dir.path(), &kept(&second)).await;
    sim.shutdown().await;
}

#[needs_root("loop devices, mount, chroot")]
#[tokio::test]
async fn osc_throttling_is_retried() {
    let sim = osc_sim().await;
    let dir = TempDir::new().unwrap();
    for op in [
        "CreateVolume",
        "LinkVolume",
        "UnlinkVolume",
        "CreateSnapshot",
        "CreateImage",
        "ReadVolumes",
    ] {
        sim.faults().inject(op, Fault::Throttle, 1);
        sim.faults().inject(op, Fault::Status(503), 1);
    }
    let art = osc_builder(&sim, dir.path(), json!({}))
        .run(&Runner::new(), CancellationToken::new())
        .await
        .expect("throttling is retried");
    assert_osc_clean(&sim, dir.path(), &kept(&art)).await;
    sim.shutdown().await;
}

#[needs_root("loop devices, mount, chroot")]
#[tokio::test]
async fn osc_server_errors_and_failed_states_leave_nothing() {
    let cases: &[(&str, Fault, &str, &str)] = &[
        ("ReadVms", Fault::Status(500), "host vm info", "500"),
        ("ReadImages", Fault::Status(500), "check omi name", "500"),
        ("CreateVolume", Fault::Status(500), "create volume", "500"),
        ("CreateTags", Fault::Status(500), "copy source omi", "500"),
        ("LinkVolume", Fault::Status(500), "link volume", "500"),
        ("CreateSnapshot", Fault::Status(500), "snapshot", "500"),
        ("CreateImage", Fault::Status(500), "copy source omi", "500"),
        (
            "CreateVolume",
            Fault::FailResource,
            "create volume",
            "error",
        ),
        ("LinkVolume", Fault::FailResource, "link volume", "error"),
        ("CreateSnapshot", Fault::FailResource, "snapshot", "error"),
        (
            "CreateImage",
            Fault::FailResource,
            "copy source omi",
            "failed",
        ),
    ];
    // A server error persists (the client retries a read, an idempotent
    // call or a create with an unknown outcome, so one 500 passes).
    let times = |f: &Fault| if matches!(f, Fault::Status(_)) { 10 } else { 1 };
    for (op, fault, step, cause) in cases {
        let sim = osc_sim().await;
        let dir = TempDir::new().unwrap();
        sim.faults().inject(op, fault.clone(), times(fault));
        let err = osc_builder(&sim, dir.path(), json!({}))
            .run(&Runner::new(), CancellationToken::new())
            .await
            .expect_err("the fault fails the build");
        assert_eq!(err.step.as_deref(), Some(*step), "{op} {fault:?}: {err}");
        assert!(err.to_string().contains(cause), "{op} {fault:?}: {err}");
        assert!(err.cleanup.is_clean(), "{op}: {}", err.cleanup);
        assert_osc_clean(&sim, dir.path(), &[]).await;
        sim.shutdown().await;
    }
    // The registration of the final OMI (the second CreateImage) failing.
    for fault in [Fault::Status(500), Fault::FailResource] {
        let sim = osc_sim().await;
        let dir = TempDir::new().unwrap();
        sim.faults()
            .inject("CreateImage", Fault::Slow(Duration::ZERO), 1);
        sim.faults()
            .inject("CreateImage", fault.clone(), times(&fault));
        let err = osc_builder(&sim, dir.path(), json!({}))
            .run(&Runner::new(), CancellationToken::new())
            .await
            .expect_err("register fails");
        assert_eq!(
            err.step.as_deref(),
            Some("register omi"),
            "{fault:?}: {err}"
        );
        assert!(err.cleanup.is_clean(), "{}", err.cleanup);
        assert_osc_clean(&sim, dir.path(), &[]).await;
        sim.shutdown().await;
    }
}

fn sim_client(sim: &OscSim) -> imagebake_core::osc_client::Client {
    imagebake_core::osc_client::Client::new(
        imagebake_core::osc_client::Config::explicit(
            sim.access_key(),
            sim.secret_key().to_owned(),
            sim.region(),
            sim.endpoint(),
        )
        .unwrap(),
    )
    .unwrap()
}

#[needs_root("loop devices, mount, chroot")]
#[tokio::test]
async fn osc_dropped_connections_leak_nothing() {
    // Answers lost after the creates: re-sent with the same ClientToken, or
    // the image found by name; the build goes on and nothing is doubled.
    let sim = osc_sim().await;
    let dir = TempDir::new().unwrap();
    sim.faults().inject("CreateVolume", Fault::DropAfter, 1);
    sim.faults().inject("CreateSnapshot", Fault::DropAfter, 1);
    sim.faults().inject("CreateImage", Fault::DropAfter, 2);
    let art = osc_builder(&sim, dir.path(), json!({}))
        .run(&Runner::new(), CancellationToken::new())
        .await
        .expect("lost answers are recovered");
    assert_osc_clean(&sim, dir.path(), &kept(&art)).await;
    sim.shutdown().await;

    // A link whose answer is lost, or that never reached the server: the
    // volume is read, and the link taken as made or sent again.
    for fault in [Fault::DropAfter, Fault::DropBefore] {
        let sim = osc_sim().await;
        let dir = TempDir::new().unwrap();
        sim.faults().inject("LinkVolume", fault.clone(), 1);
        let art = osc_builder(&sim, dir.path(), json!({}))
            .run(&Runner::new(), CancellationToken::new())
            .await
            .unwrap_or_else(|e| panic!("{fault:?}: the link is recovered: {e}"));
        assert!(art.cleanup.is_clean(), "{fault:?}: {}", art.cleanup);
        assert_osc_clean(&sim, dir.path(), &kept(&art)).await;
        sim.shutdown().await;
    }
}

#[needs_root("loop devices, mount, chroot")]
#[tokio::test]
async fn osc_sweep_removes_a_kept_failed_build() {
    let sim = osc_sim().await;
    let dir = TempDir::new().unwrap();
    sim.faults().inject("LinkVolume", Fault::Status(500), 10);
    let runner = Runner::new().on_error(OnError::Keep);
    let err = osc_builder(&sim, dir.path(), json!({}))
        .run(&runner, CancellationToken::new())
        .await
        .expect_err("the link fails");
    assert!(!err.cleanup.is_clean(), "kept: {}", err.cleanup);
    let inv = sim.inventory().await;
    assert_eq!(inv.volumes.len(), 1, "{inv:?}");
    assert_eq!(inv.images.len(), 1, "the source copy: {inv:?}");
    // Another build's leftovers are not touched; this one's go.
    let sweeper =
        OscSweeper::new(sim_client(&sim)).waits(Duration::from_secs(10), Duration::from_millis(20));
    let other: imagebake_core::BuildId = "ib-0000000000".parse().unwrap();
    let none = sweeper
        .sweep(&SweepFilter::build(&other), &CancellationToken::new())
        .await;
    assert!(none.cleanup.entries.is_empty(), "{}", none.cleanup);
    let report = sweeper
        .sweep(
            &SweepFilter::build(&err.build_id),
            &CancellationToken::new(),
        )
        .await;
    assert!(report.list_errors.is_empty(), "{:?}", report.list_errors);
    assert!(report.cleanup.is_clean(), "{}", report.cleanup);
    assert_eq!(report.cleanup.entries.len(), 2, "{}", report.cleanup);
    assert_osc_clean(&sim, dir.path(), &[]).await;
    sim.shutdown().await;
}

#[needs_root("loop devices, mount, chroot")]
#[tokio::test]
async fn osc_failing_provisioner_and_cancel_at_each_step_leave_nothing() {
    let sim = osc_sim().await;
    let dir = TempDir::new().unwrap();
    let cfg = OscChrootConfig::from_json(&osc_block(&sim, dir.path(), json!({}))).unwrap();
    let err = OscChrootBuilder::new(cfg)
        .unwrap()
        .provisioner(Shell::inline(["sleep 300 &", "exit 3"]))
        .run(&Runner::new(), CancellationToken::new())
        .await
        .expect_err("provisioner fails");
    assert_eq!(err.step.as_deref(), Some("shell"), "{err}");
    assert_osc_clean(&sim, dir.path(), &[]).await;

    for step in [
        "host vm info",
        "check omi name",
        "source omi",
        "copy source omi",
        "create volume",
        "device lock",
        "link volume",
        "wait for device",
        "chroot",
        "mount root",
        "post-mount commands",
        "chroot mounts",
        "copy files",
        "shell",
        "unmount",
        "unlink volume",
        "snapshot",
        "register omi",
        "omi permissions",
        "tag omi",
    ] {
        let token = CancellationToken::new();
        let (log, obs) = step_log();
        let runner = Runner::new()
            .observer(cancel_at(step, token.clone()))
            .observer(obs);
        let err = osc_builder(&sim, dir.path(), json!({}))
            .run(&runner, token)
            .await
            .expect_err("cancelled");
        assert!(err.is_cancelled(), "{step}: {err}");
        assert!(
            log.lock().unwrap().iter().any(|s| s == step),
            "{step} never started"
        );
        assert!(err.cleanup.is_clean(), "{step}: {}", err.cleanup);
        assert_osc_clean(&sim, dir.path(), &[]).await;
    }
    sim.shutdown().await;
}

#[test]
fn osc_config_errors_name_the_key() {
    let e = OscChrootConfig::from_json(
        &json!({"type": "osc-chroot", "omi_name": "abc", "ami_name": "x"}),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("osc-chroot") && e.contains("`ami_name`"), "{e}");
    let e = OscChrootConfig::from_json(&json!({"type": "osc-chroot", "source_omi": "ami-1"}))
        .unwrap_err()
        .to_string();
    assert!(e.contains("`omi_name`"), "{e}");
    let packer = OscChrootConfig::from_json(
        &json!({"type": "outscale-chroot", "omi_name": "abc", "source_omi": "ami-1"}),
    );
    assert!(packer.is_ok(), "Packer's type name is accepted");
    let check = |v: Value| {
        let cfg = OscChrootConfig::from_json(&v).expect("decodes");
        OscChrootBuilder::new(cfg).unwrap_err().to_string()
    };
    let base = |extra: Value| {
        let mut v =
            json!({"omi_name": "abc", "source_omi": "ami-1", "access_key": "a", "secret_key": "s"});
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        v
    };
    assert!(
        check(json!({"omi_name": "abc", "access_key": "a", "secret_key": "s"}))
            .contains("source_omi")
    );
    assert!(check(base(json!({"omi_boot_modes": ["bios"]}))).contains("omi_boot_modes"));
    assert!(check(base(json!({"chroot_mounts": [["proc", "proc"]]}))).contains("exactly 3"));
    assert!(check(base(json!({"from_scratch": true}))).contains("root_volume_size"));
    assert!(check(base(json!({"root_volume_type": "ssd"}))).contains("root_volume_type"));
    assert!(check(base(json!({"omi_name": "a*"}))).contains("omi_name"));
    assert!(check(base(json!({"secret_key": null}))).contains("access_key"));
    assert!(
        check(base(
            json!({"source_omi_filter": {"filters": {"owner-alias": "x"}}})
        ))
        .contains("owner-alias")
    );
}

/// Ctrl-C while a create has been done but not answered (a slow or hung
/// API: the answer comes after the runner's abort grace): the volume or
/// snapshot is found by its `ClientToken`, the image (the source's copy, or
/// the registered OMI) by its name, and deleted at once; the answer is
/// still awaited, and the report names what was removed.
#[needs_root("loop devices, mount, chroot")]
#[tokio::test]
async fn osc_ctrl_c_while_a_create_answers_late_removes_what_it_made() {
    use imagebake_core::osc_client::api::FiltersSnapshot;

    let late = Fault::LateAnswer(Duration::from_secs(3));
    // (operation, faults queued before the late one, step, kind)
    let cases = [
        ("CreateVolume", 0, "create volume", "volume"),
        ("CreateSnapshot", 0, "snapshot", "snapshot"),
        ("CreateImage", 0, "copy source omi", "image"),
        ("CreateImage", 1, "register omi", "image"),
    ];
    for (op, before, step, kind) in cases {
        let sim = Arc::new(osc_sim().await);
        let dir = TempDir::new().unwrap();
        if before > 0 {
            sim.faults().inject(op, Fault::Slow(Duration::ZERO), before);
        }
        sim.faults().inject(op, late.clone(), 1);
        let token = CancellationToken::new();
        let (s, t) = (sim.clone(), token.clone());
        let on_step = FnObserver(move |e: &Event| {
            if !matches!(e, Event::StepStarted { step: st } if st == step) {
                return;
            }
            let s = s.clone();
            support::cancel_when(t.clone(), move || {
                let s = s.clone();
                async move {
                    let inv = s.inventory().await;
                    match kind {
                        "volume" => !inv.volumes.is_empty(),
                        // Before the snapshot, only the source's copy has an image.
                        "image" if step == "register omi" => inv.images.len() > 1,
                        "image" => !inv.images.is_empty(),
                        // A snapshot of the working volume.
                        _ => {
                            let filters = FiltersSnapshot {
                                volume_ids: inv.volumes.clone(),
                                ..FiltersSnapshot::default()
                            };
                            let found = sim_client(&s).snapshots().read(filters).await;
                            found.is_ok_and(|f| !f.is_empty())
                        }
                    }
                }
            });
        });
        let runner = Runner::new()
            .abort_grace(Duration::from_secs(1))
            .observer(Arc::new(on_step));
        let e = osc_builder(&sim, dir.path(), json!({}))
            .run(&runner, token)
            .await
            .expect_err(step);
        drop(runner);
        assert_osc_clean(&sim, dir.path(), &[]).await;
        support::assert_late_create_removed(&e, kind);
        assert_eq!(e.step.as_deref(), Some(step), "{step}: {e}");
        assert_eq!(sim.faults().pending(op), 0, "{step}");
        match Arc::try_unwrap(sim) {
            Ok(sim) => sim.shutdown().await,
            Err(_) => panic!("{step}: the simulator is still shared"),
        }
    }
}

/// The seed document's keys reach the OAPI as Outscale takes them:
/// `snapshot_users` and `snapshot_groups = ["all"]` on the snapshot's
/// create-volume permissions, the build template data (with
/// `{{.SourceOMITags.Key}}`) in `omi_description`, `root_volume_tags` and
/// `tags`, `{{timestamp}}` in `tags`; `omi_virtualization_type = "hvm"` and
/// `skip_region_validation` accepted.
#[needs_root("loop devices, mount, chroot")]
#[tokio::test]
async fn osc_seed_keys_reach_the_simulator() {
    let sim = osc_sim().await;
    let dir = TempDir::new().unwrap();
    let client = sim_client(&sim);
    let source = sim.source_image_id().to_owned();
    client
        .tags()
        .create([source.clone()], vec![Tag::new("os", "debian")])
        .await
        .expect("tag the source OMI");
    let builder = osc_builder(
        &sim,
        dir.path(),
        json!({
            "omi_description": "{{.SourceOMIName}} in {{.BuildRegion}}",
            "omi_virtualization_type": "hvm",
            "skip_region_validation": true,
            "snapshot_users": ["444455556666"],
            "snapshot_groups": ["all"],
            "root_volume_tags": {"from": "{{.SourceOMI}}"},
            "tags": {"os": "{{ .SourceOMITags.os }}", "at": "{{timestamp}}"},
        }),
    );
    let art = builder
        .run(&Runner::new(), CancellationToken::new())
        .await
        .expect("build succeeds");
    assert_osc_clean(&sim, dir.path(), &kept(&art)).await;
    let image = client
        .images()
        .find(&art.omi_id)
        .await
        .unwrap()
        .expect("omi");
    let source_name = client
        .images()
        .find(&source)
        .await
        .unwrap()
        .expect("source")
        .image_name;
    assert_eq!(
        image.description,
        Some(format!("{source_name} in {}", sim.region()))
    );
    assert!(
        image.tags.contains(&Tag::new("os", "debian")),
        "{:?}",
        image.tags
    );
    let at = image.tags.iter().find(|t| t.key == "at").expect("at tag");
    assert!(
        at.value.len() >= 10 && at.value.chars().all(|c| c.is_ascii_digit()),
        "{at:?}"
    );
    let snap = client
        .snapshots()
        .find(&art.snapshot_ids[0])
        .await
        .unwrap()
        .expect("snapshot");
    let perms = snap.permissions_to_create_volume.unwrap_or_default();
    assert_eq!(perms.account_ids, vec!["444455556666"], "{perms:?}");
    assert_eq!(perms.global_permission, Some(true), "{perms:?}");
    // The working volume (deleted since) was tagged with the source's id.
    let tagged = sim.request_log().into_iter().any(|(a, body)| {
        a == "CreateTags"
            && body["ResourceIds"][0]
                .as_str()
                .is_some_and(|r| r.starts_with("vol-"))
            && body["Tags"].as_array().is_some_and(|t| {
                t.iter()
                    .any(|t| t["Key"] == "from" && t["Value"] == source.as_str())
            })
    });
    assert!(tagged, "{:?}", sim.request_log());
    sim.shutdown().await;
}

/// `-force` (`packer_force`) is the plugin's `force_deregister`: a forced
/// build that fails keeps the old OMI; one that succeeds deletes it right
/// before registering its own (its snapshot stays: no
/// `force_delete_snapshot`).
#[needs_root("loop devices, mount, chroot")]
#[tokio::test]
async fn osc_packer_force_replaces_the_omi_of_the_same_name() {
    let sim = osc_sim().await;
    let dir = TempDir::new().unwrap();
    let first = osc_builder(&sim, dir.path(), json!({"omi_name": "fixed-name"}))
        .run(&Runner::new(), CancellationToken::new())
        .await
        .expect("first build");
    let forced = json!({"omi_name": "fixed-name", "packer_force": true});
    sim.faults()
        .inject("CreateSnapshot", Fault::FailResource, 1);
    let err = osc_builder(&sim, dir.path(), forced.clone())
        .run(&Runner::new(), CancellationToken::new())
        .await
        .expect_err("the snapshot fails");
    assert_eq!(err.step.as_deref(), Some("snapshot"), "{err}");
    assert_osc_clean(&sim, dir.path(), &kept(&first)).await;

    let second = osc_builder(&sim, dir.path(), forced)
        .run(&Runner::new(), CancellationToken::new())
        .await
        .expect("forced build");
    assert_ne!(second.omi_id, first.omi_id);
    let mut keep = kept(&second);
    keep.extend(first.snapshot_ids.iter().cloned());
    assert_osc_clean(&sim, dir.path(), &keep).await;
    let inv = sim.inventory().await;
    assert!(!inv.images.contains(&first.omi_id), "{inv:?}");
    assert!(inv.snapshots.contains(&first.snapshot_ids[0]), "{inv:?}");
    sim.shutdown().await;
}
