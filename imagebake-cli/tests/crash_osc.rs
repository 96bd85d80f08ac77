//! Crash tests of `osc-chroot` against the Outscale simulator (its volumes
//! are real files on loop devices, so root): `imagebake build` killed with
//! SIGKILL at each step (a create sent but unanswered, each wait, the
//! provisioning in the chroot, the unmount), then `imagebake cleanup
//! --crashed --template` must leave the simulator's inventory as before the
//! build (volumes, links, snapshots, images, its loop devices), no mount or
//! loop device of the build on the host, and the journal `cleaned`.
//!
//! A kill point is held by the simulator (a create whose answer is held
//! back with `Fault::LateAnswer`, or a state delay far longer than the
//! test) or by a real host mechanism (a provisioner that sleeps, a
//! `command_wrapper` that sleeps after the first `umount`). The kill is
//! driven by what is observed: the simulator having done the held create,
//! the build polling the held resource, a line the build printed, the held
//! host command's pid file. The build is from scratch (a blank volume
//! formatted by `pre_mount_commands`, a busybox tree copied in by
//! `post_mount_commands`): no source OMI, so no copy of it.

use std::path::Path;
use std::time::Duration;

use imagebake_sim::Fault;
use imagebake_sim::osc::{OscDelays, OscInventory, OscSim, OscSimOptions};

mod support;
use support::{
    HOLD, KillAt, assert_state, cleanup_crashed, eventually, holding_wrapper, killed_build,
    local_leftovers, release,
};

async fn osc_sim(delays: OscDelays) -> OscSim {
    OscSim::start(OscSimOptions {
        delays,
        ..OscSimOptions::default()
    })
    .await
    .expect("outscale simulator starts")
}

fn quick() -> OscDelays {
    OscDelays::uniform(Duration::from_millis(5))
}

/// The simulator's inventory, from the blocking test body (inside
/// `block_in_place`).
fn inventory(sim: &OscSim) -> OscInventory {
    tokio::runtime::Handle::current().block_on(sim.inventory())
}

/// Whether the build sent `then` after its (last) `first` request: it is
/// polling what `first` made.
fn polled_after(sim: &OscSim, first: &str, then: &str) -> bool {
    let log = sim.request_log();
    log.iter()
        .rposition(|(a, _)| a == first)
        .is_some_and(|i| log[i + 1..].iter().any(|(a, _)| a == then))
}

/// A from-scratch `osc-chroot` template against `sim` (HCL2): a blank
/// volume formatted by `pre_mount_commands`, a busybox tree copied in by
/// `post_mount_commands`, with `source` lines in the source and `build`
/// lines in the build. Mounts go under `d/mnt`.
fn osc_template(sim: &OscSim, d: &Path, source: &str, build: &str) -> String {
    let tree = d.join("tree");
    imagebake_testing::busybox_tree(&tree, &["sh", "echo", "sleep"], &["proc", "sys", "dev"]);
    format!(
        r#"source "osc-chroot" "disk" {{
  access_key          = "{access}"
  secret_key          = "{secret}"
  region              = "{region}"
  custom_endpoint_oapi = "{endpoint}"
  metadata_url        = "{metadata}"
  device_dir          = "{dev_dir}"
  device_lock_path    = "{d}/device.lock"
  mount_path          = "{d}/mnt/{{{{.Device}}}}"
  mount_partition     = "0"
  omi_name            = "crash-{{{{timestamp}}}}"
  from_scratch        = true
  root_volume_size    = 1
  root_device_name    = "/dev/sda1"
  omi_block_device_mappings {{
    device_name = "/dev/sda1"
    volume_type = "gp2"
  }}
  pre_mount_commands  = ["mkfs.ext4 -q -F {{{{.Device}}}}"]
  post_mount_commands = ["cp -a {tree}/. {{{{.MountPath}}}}/"]
  copy_files          = []
  poll_cap            = "20ms"
{source}
}}
build {{
  sources = ["source.osc-chroot.disk"]
{build}
}}
"#,
        access = sim.access_key(),
        secret = sim.secret_key(),
        region = sim.region(),
        endpoint = sim.endpoint(),
        metadata = sim.metadata_url(),
        dev_dir = sim.dev_dir().display(),
        d = d.display(),
        tree = tree.display(),
    )
}

/// Nothing of the build is left on the host: no mount or loop device of a
/// path under `d` (its mounts) or under the simulator's data directory
/// (its volumes' files).
fn host_leftovers(sim: &OscSim, d: &Path) -> Vec<String> {
    let mut left = local_leftovers(d);
    left.extend(local_leftovers(sim.data_dir()));
    left
}

/// Kills the build of `template` (written in `d`) at `at`, checks that it
/// left something, cleans up with the template's credentials, and checks
/// the simulator is as before the build, the host clean and the journal
/// `cleaned`.
fn osc_crash(sim: &OscSim, d: &Path, template: &str, at: KillAt<'_>, after_kill: impl FnOnce()) {
    let before = inventory(sim);
    assert!(before.is_empty(), "{before:?}");
    killed_build(d, template, at);
    after_kill();
    assert_state(d, "crashed");
    let left = inventory(sim);
    assert_ne!(
        left, before,
        "the killed build left nothing in the simulator"
    );
    let out = cleanup_crashed(d, &["--template", "t.pkr.hcl"], &[]);
    eventually(
        &format!("left after cleanup:\n{out}\n{:#?}", inventory(sim)),
        || inventory(sim) == before,
    );
    // A loop device the simulator detached goes once the kernel lets go of
    // it (`losetup -d` of a busy device only marks it for removal).
    eventually(
        &format!("left on the host:\n{:#?}\n{out}", host_leftovers(sim, d)),
        || host_leftovers(sim, d).is_empty(),
    );
    assert_state(d, "cleaned");
}

/// Kills a build whose `operation` is done by the simulator and its
/// answer held, once `made` observes what it made.
fn killed_while_unanswered(sim: &OscSim, operation: &str, made: impl Fn(&OscInventory) -> bool) {
    sim.faults().inject(operation, Fault::LateAnswer(HOLD), 1);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let template = osc_template(sim, d, "", "");
    let done = || sim.faults().pending(operation) == 0 && made(&inventory(sim));
    osc_crash(sim, d, &template, KillAt::Observed(&done), || {});
}

/// Kills a build (the simulator holding a state) once it polls, after its
/// `first` request, with `then`.
fn killed_while_waiting(sim: &OscSim, first: &str, then: &str) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let template = osc_template(sim, d, "", "");
    let polling = || polled_after(sim, first, then);
    osc_crash(sim, d, &template, KillAt::Observed(&polling), || {});
}

#[imagebake_testing::needs_root("loop devices for the simulated volumes, mount, chroot")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn osc_killed_while_create_volume_is_unanswered() {
    let sim = osc_sim(quick()).await;
    tokio::task::block_in_place(|| {
        killed_while_unanswered(&sim, "CreateVolume", |i| !i.volumes.is_empty())
    });
    sim.shutdown().await;
}

#[imagebake_testing::needs_root("loop devices for the simulated volumes, mount, chroot")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn osc_killed_while_waiting_for_the_volume() {
    let sim = osc_sim(OscDelays {
        volume_create: HOLD,
        ..quick()
    })
    .await;
    tokio::task::block_in_place(|| killed_while_waiting(&sim, "CreateVolume", "ReadVolumes"));
    sim.shutdown().await;
}

#[imagebake_testing::needs_root("loop devices for the simulated volumes, mount, chroot")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn osc_killed_while_link_volume_is_unanswered() {
    let sim = osc_sim(quick()).await;
    tokio::task::block_in_place(|| {
        killed_while_unanswered(&sim, "LinkVolume", |i| !i.links.is_empty())
    });
    sim.shutdown().await;
}

#[imagebake_testing::needs_root("loop devices for the simulated volumes, mount, chroot")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn osc_killed_while_waiting_for_the_link() {
    let sim = osc_sim(OscDelays {
        volume_link: HOLD,
        ..quick()
    })
    .await;
    tokio::task::block_in_place(|| killed_while_waiting(&sim, "LinkVolume", "ReadVolumes"));
    sim.shutdown().await;
}

#[imagebake_testing::needs_root("loop devices for the simulated volumes, mount, chroot")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn osc_killed_while_provisioning_in_the_chroot() {
    let sim = osc_sim(quick()).await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let provisioner = r#"  provisioner "shell" {
    inline = ["echo crash-marker-osc-chroot", "exec sleep 300 </dev/null >/dev/null 2>&1"]
  }"#;
    let template = osc_template(&sim, d, "", provisioner);
    tokio::task::block_in_place(|| {
        let live = || {
            let left = host_leftovers(&sim, d);
            assert!(
                left.iter()
                    .any(|l| l.contains(&format!("{}/mnt/", d.display())))
                    && left.iter().any(|l| l.contains("/dev/loop")),
                "the killed build left its mounts and the volume's loop device: {left:#?}"
            );
        };
        osc_crash(
            &sim,
            d,
            &template,
            KillAt::Line("crash-marker-osc-chroot"),
            live,
        );
    });
    sim.shutdown().await;
}

#[imagebake_testing::needs_root("loop devices for the simulated volumes, mount, chroot")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn osc_killed_during_the_unmount() {
    let sim = osc_sim(quick()).await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let template = osc_template(&sim, d, &holding_wrapper(d, "umount"), "");
    tokio::task::block_in_place(|| {
        let held = || d.join("held").exists();
        let partly = || {
            release(d);
            // Held after the first (deepest) mount is gone: the root and
            // the rest are still mounted, the volume still linked.
            let left = host_leftovers(&sim, d);
            assert!(
                left.iter()
                    .any(|l| l.contains(&format!("{}/mnt/", d.display()))),
                "the killed build left its root mount: {left:#?}"
            );
            assert!(!inventory(&sim).links.is_empty(), "the volume is linked");
        };
        osc_crash(&sim, d, &template, KillAt::Observed(&held), partly);
    });
    sim.shutdown().await;
}

#[imagebake_testing::needs_root("loop devices for the simulated volumes, mount, chroot")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn osc_killed_while_create_snapshot_is_unanswered() {
    let sim = osc_sim(quick()).await;
    tokio::task::block_in_place(|| {
        killed_while_unanswered(&sim, "CreateSnapshot", |i| !i.snapshots.is_empty())
    });
    sim.shutdown().await;
}

#[imagebake_testing::needs_root("loop devices for the simulated volumes, mount, chroot")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn osc_killed_while_waiting_for_the_snapshot() {
    let sim = osc_sim(OscDelays {
        snapshot_create: HOLD,
        ..quick()
    })
    .await;
    tokio::task::block_in_place(|| killed_while_waiting(&sim, "CreateSnapshot", "ReadSnapshots"));
    sim.shutdown().await;
}

#[imagebake_testing::needs_root("loop devices for the simulated volumes, mount, chroot")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn osc_killed_while_create_image_is_unanswered() {
    let sim = osc_sim(quick()).await;
    tokio::task::block_in_place(|| {
        killed_while_unanswered(&sim, "CreateImage", |i| !i.images.is_empty())
    });
    sim.shutdown().await;
}

#[imagebake_testing::needs_root("loop devices for the simulated volumes, mount, chroot")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn osc_killed_while_waiting_for_the_image() {
    let sim = osc_sim(OscDelays {
        image_create: HOLD,
        ..quick()
    })
    .await;
    tokio::task::block_in_place(|| killed_while_waiting(&sim, "CreateImage", "ReadImages"));
    sim.shutdown().await;
}
