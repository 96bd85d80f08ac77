//! Crash tests: `imagebake build` killed with SIGKILL at each step of each
//! builder (no cleanup of its own runs), then `imagebake cleanup --crashed`
//! must leave the simulator's inventory as it was before the build.
//!
//! Each kill point is held by the simulator (a long state delay, or a
//! create whose answer is held back with `Fault::LateAnswer`) and the kill
//! is driven by what is observed: the build's `==> NAME: STEP...` progress
//! line on stdout, or the simulator having done the held create. Every run
//! has its own state directory (IMAGEBAKE_STATE_DIR and XDG_STATE_HOME in a
//! temporary directory, HOME too).

use std::time::Duration;

use imagebake_sim::Fault;
use imagebake_sim::oxide::{OxideDelays, OxideSim, OxideSimOptions};
use imagebake_sim::triton::{TritonDelays, TritonSim, TritonSimOptions};

mod support;
use support::{
    HOLD, KillAt, assert_state, cleanup_crashed, eventually, killed_build, triton_env,
    triton_template,
};

// ------------------------------------------------------------------ Triton

async fn triton_sim(delays: TritonDelays) -> TritonSim {
    TritonSim::start(TritonSimOptions {
        delays,
        ..TritonSimOptions::default()
    })
    .await
    .expect("triton simulator starts")
}

fn quick() -> TritonDelays {
    TritonDelays::all(Duration::from_millis(5))
}

/// Kills a `communicator = "none"` Triton build at `at`, cleans up, and
/// checks nothing the build made is left.
fn triton_crash(sim: &TritonSim, at: KillAt<'_>) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let before = sim.inventory();
    assert!(before.machines.is_empty() && before.custom_images().is_empty());
    killed_build(
        d,
        &triton_template(sim, "  communicator = \"none\"", ""),
        at,
    );
    assert_state(d, "crashed");
    assert_eq!(
        sim.inventory().machines.len(),
        1,
        "the killed build left its machine"
    );
    let out = cleanup_crashed(d, &[], &triton_env(sim));
    eventually(&format!("machines left after cleanup:\n{out}"), || {
        sim.inventory().machines.is_empty()
    });
    eventually(&format!("images left after cleanup:\n{out}"), || {
        sim.inventory().custom_images().is_empty()
    });
    assert_eq!(sim.inventory().images, before.images, "seed images kept");
    assert_state(d, "cleaned");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn triton_killed_while_create_machine_is_unanswered() {
    let sim = triton_sim(quick()).await;
    sim.faults()
        .inject("CreateMachine", Fault::LateAnswer(HOLD), 1);
    let made =
        || sim.faults().pending("CreateMachine") == 0 && !sim.inventory().machines.is_empty();
    tokio::task::block_in_place(|| triton_crash(&sim, KillAt::Observed(&made)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn triton_killed_while_waiting_for_the_machine_to_run() {
    let sim = triton_sim(TritonDelays {
        provision: HOLD,
        ..quick()
    })
    .await;
    tokio::task::block_in_place(|| triton_crash(&sim, KillAt::Line("wait running...")));
}

#[imagebake_testing::needs_root("simulated machines with SSH: overlay mounts, chroot, sshd")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn triton_killed_while_provisioning() {
    let sim = TritonSim::start(TritonSimOptions {
        delays: quick(),
        ssh: imagebake_sim::machine::SshMode::On,
        ..TritonSimOptions::default()
    })
    .await
    .expect("triton simulator with SSH machines starts");
    let port = sim.ssh_port().expect("machines have SSH");
    let comm = format!("  ssh_username = \"root\"\n  ssh_port = {port}\n  ssh_timeout = \"30s\"");
    let provisioner = r#"  provisioner "shell" {
    inline = ["echo crash-marker-provisioning", "sleep 300"]
  }"#;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    tokio::task::block_in_place(|| {
        let out = killed_build(
            d,
            &triton_template(&sim, &comm, provisioner),
            KillAt::Line("crash-marker-provisioning"),
        );
        assert!(out.contains("==> triton.web: connect ssh..."), "{out}");
        assert_state(d, "crashed");
        assert_eq!(sim.inventory().machines.len(), 1);
        let out = cleanup_crashed(d, &[], &triton_env(&sim));
        eventually(&format!("machines left after cleanup:\n{out}"), || {
            sim.inventory().machines.is_empty()
        });
        assert!(sim.inventory().custom_images().is_empty());
        assert_state(d, "cleaned");
    });
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn triton_killed_while_waiting_for_the_machine_to_stop() {
    let sim = triton_sim(TritonDelays {
        stop: HOLD,
        ..quick()
    })
    .await;
    tokio::task::block_in_place(|| triton_crash(&sim, KillAt::Line("wait stopped...")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn triton_killed_while_create_image_is_unanswered() {
    let sim = triton_sim(quick()).await;
    sim.faults()
        .inject("CreateImageFromMachine", Fault::LateAnswer(HOLD), 1);
    let made = || {
        sim.faults().pending("CreateImageFromMachine") == 0
            && !sim.inventory().custom_images().is_empty()
    };
    tokio::task::block_in_place(|| triton_crash(&sim, KillAt::Observed(&made)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn triton_killed_while_waiting_for_the_image() {
    let sim = triton_sim(TritonDelays {
        image_create: HOLD,
        ..quick()
    })
    .await;
    tokio::task::block_in_place(|| triton_crash(&sim, KillAt::Line("wait image...")));
}

/// Kills a Triton build (delete delay held) at `at`, once it has sent a
/// DeleteMachine, then cleans up: the cleanup must send the delete again
/// (the machine is still there, being deleted) and, once it has, the held
/// delete ends; nothing of the build is left.
fn triton_crash_while_deleting(sim: &TritonSim, at: KillAt<'_>) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let before = sim.inventory();
    killed_build(
        d,
        &triton_template(sim, "  communicator = \"none\"", ""),
        at,
    );
    assert_state(d, "crashed");
    assert_eq!(sim.inventory().machines.len(), 1, "the machine is left");
    sim.faults()
        .inject("DeleteMachine", Fault::Slow(Duration::ZERO), 1);
    let out = std::thread::scope(|s| {
        s.spawn(|| {
            eventually("the cleanup sends DeleteMachine", || {
                sim.faults().pending("DeleteMachine") == 0
            });
            sim.finish_transitions();
        });
        cleanup_crashed(d, &[], &triton_env(sim))
    });
    eventually(&format!("machines left after cleanup:\n{out}"), || {
        sim.inventory().machines.is_empty()
    });
    assert!(sim.inventory().custom_images().is_empty(), "{out}");
    assert_eq!(sim.inventory().images, before.images, "seed images kept");
    assert_state(d, "cleaned");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn triton_killed_while_waiting_for_the_machine_to_be_deleted() {
    let sim = triton_sim(TritonDelays {
        delete: HOLD,
        ..quick()
    })
    .await;
    // The image is made (still tagged with the build): the cleanup removes
    // it as well.
    tokio::task::block_in_place(|| {
        triton_crash_while_deleting(&sim, KillAt::Line("wait machine gone..."))
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn triton_killed_while_the_failed_builds_cleanup_deletes_the_machine() {
    let sim = triton_sim(TritonDelays {
        delete: HOLD,
        ..quick()
    })
    .await;
    // The image fails, so the build's own cleanup deletes the machine; its
    // DeleteMachine is done and its answer held.
    sim.faults()
        .inject("CreateImageFromMachine", Fault::FailResource, 1);
    sim.faults()
        .inject("DeleteMachine", Fault::LateAnswer(HOLD), 1);
    let sent = || sim.faults().pending("DeleteMachine") == 0;
    tokio::task::block_in_place(|| triton_crash_while_deleting(&sim, KillAt::Observed(&sent)));
}

// ------------------------------------------------------------------ Oxide

fn oxide_template(sim: &OxideSim) -> String {
    oxide_template_with(sim, "  communicator         = \"none\"", "")
}

/// The Oxide template with `comm` (communicator lines) and `provisioner`
/// (lines of the build block).
fn oxide_template_with(sim: &OxideSim, comm: &str, provisioner: &str) -> String {
    format!(
        r#"source "oxide-instance" "web" {{
  host                 = "{url}"
  token                = "{token}"
  project              = "imagebake"
  boot_disk_image_name = "debian-12"
  boot_disk_size       = 2147483648
  memory               = 1073741824
  artifact_name        = "web-1"
{comm}
}}
build {{
  sources = ["source.oxide-instance.web"]
{provisioner}
}}
"#,
        url = sim.url(),
        token = sim.token(),
    )
}

async fn oxide_sim(delays: OxideDelays) -> OxideSim {
    OxideSim::start(OxideSimOptions {
        delays,
        ..OxideSimOptions::default()
    })
    .await
    .expect("oxide simulator starts")
}

fn oxide_quick() -> OxideDelays {
    OxideDelays {
        instance_start: Duration::from_millis(5),
        instance_stop: Duration::from_millis(5),
    }
}

/// Kills an Oxide build at `at`, cleans up with the template's credentials
/// (`--template`), and checks the silo is as before the build; returns
/// the cleanup's report.
fn oxide_crash(sim: &OxideSim, at: KillAt<'_>) -> String {
    oxide_crash_with(sim, &oxide_template(sim), at)
}

/// [`oxide_crash`] of `template`.
fn oxide_crash_with(sim: &OxideSim, template: &str, at: KillAt<'_>) -> String {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let before = sim.inventory();
    killed_build(d, template, at);
    assert_state(d, "crashed");
    assert_ne!(sim.inventory(), before, "the killed build left something");
    // An instance held `stopping` cannot be deleted until it is stopped:
    // let the held transition end so cleanup need not wait it out.
    sim.finish_transitions();
    let out = cleanup_crashed(d, &["--template", "t.pkr.hcl"], &[]);
    eventually(
        &format!("left after cleanup:\n{out}\n{:#?}", sim.inventory()),
        || sim.inventory() == before,
    );
    assert_state(d, "cleaned");
    out
}

/// Each resource is listed once in the cleanup report `out`: its lines
/// (`removed`, `already gone`, `adopted and removed`, `NOT removed`) name
/// distinct ids.
fn assert_listed_once(out: &str) {
    let ids: Vec<&str> = out
        .lines()
        .map(str::trim)
        .filter(|l| {
            [
                "removed ",
                "already gone ",
                "adopted and removed ",
                "NOT removed ",
            ]
            .iter()
            .any(|p| l.starts_with(p))
        })
        .filter_map(|l| {
            l.split_whitespace()
                .find(|w| w.len() == 36 && w.contains('-'))
        })
        .collect();
    let mut unique = ids.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(ids.len(), unique.len(), "a resource listed twice:\n{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oxide_killed_while_create_instance_is_unanswered() {
    let sim = oxide_sim(oxide_quick()).await;
    sim.faults()
        .inject("instance_create", Fault::LateAnswer(HOLD), 1);
    let made =
        || sim.faults().pending("instance_create") == 0 && !sim.inventory().instances.is_empty();
    tokio::task::block_in_place(|| oxide_crash(&sim, KillAt::Observed(&made)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oxide_killed_while_waiting_for_the_instance_to_run() {
    let sim = oxide_sim(OxideDelays {
        instance_start: HOLD,
        ..oxide_quick()
    })
    .await;
    tokio::task::block_in_place(|| oxide_crash(&sim, KillAt::Line("wait running...")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oxide_killed_while_waiting_for_the_instance_to_stop() {
    let sim = oxide_sim(OxideDelays {
        instance_stop: HOLD,
        ..oxide_quick()
    })
    .await;
    tokio::task::block_in_place(|| oxide_crash(&sim, KillAt::Line("wait stopped...")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oxide_killed_while_create_snapshot_is_unanswered() {
    let sim = oxide_sim(oxide_quick()).await;
    sim.faults()
        .inject("snapshot_create", Fault::LateAnswer(HOLD), 1);
    let made =
        || sim.faults().pending("snapshot_create") == 0 && !sim.inventory().snapshots.is_empty();
    tokio::task::block_in_place(|| oxide_crash(&sim, KillAt::Observed(&made)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oxide_killed_while_create_image_is_unanswered() {
    let sim = oxide_sim(oxide_quick()).await;
    let seeds = sim.inventory().images.len();
    sim.faults()
        .inject("image_create", Fault::LateAnswer(HOLD), 1);
    let made = || sim.faults().pending("image_create") == 0 && sim.inventory().images.len() > seeds;
    let out = tokio::task::block_in_place(|| oxide_crash(&sim, KillAt::Observed(&made)));
    // The image (its create never answered) is found by its name and
    // adopted; the instance, its disk and the snapshot were known by id;
    // each is listed once with its outcome.
    let has = |prefix: &str, kind: &str| {
        out.lines()
            .any(|l| l.trim().starts_with(&format!("{prefix} {kind} ")))
    };
    assert!(has("adopted and removed", "image"), "{out}");
    assert!(out.contains("(web-1)"), "the image's name: {out}");
    for kind in ["instance", "disk", "snapshot"] {
        assert!(has("removed", kind), "{kind}: {out}");
    }
    assert!(!out.contains("NOT removed"), "{out}");
    assert_listed_once(&out);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oxide_killed_while_create_temporary_key_is_unanswered() {
    let sim = oxide_sim(oxide_quick()).await;
    sim.faults()
        .inject("current_user_ssh_key_create", Fault::LateAnswer(HOLD), 1);
    let made = || {
        sim.faults().pending("current_user_ssh_key_create") == 0
            && !sim.inventory().ssh_keys.is_empty()
    };
    // SSH is never reached: the key is made before the instance.
    let comm = "  communicator         = \"ssh\"\n  ssh_username         = \"root\"";
    let template = oxide_template_with(&sim, comm, "");
    let out =
        tokio::task::block_in_place(|| oxide_crash_with(&sim, &template, KillAt::Observed(&made)));
    assert!(
        out.lines()
            .any(|l| l.trim().starts_with("adopted and removed ssh key ")),
        "{out}"
    );
    assert_listed_once(&out);
}

#[imagebake_testing::needs_root("simulated instances with SSH: overlay mounts, chroot, sshd")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oxide_killed_while_provisioning() {
    let sim = OxideSim::start(OxideSimOptions {
        delays: oxide_quick(),
        ssh: imagebake_sim::machine::SshMode::On,
        ..OxideSimOptions::default()
    })
    .await
    .expect("oxide simulator with SSH instances starts");
    let port = sim.ssh_port().expect("instances have SSH");
    let comm = format!(
        "  communicator         = \"ssh\"\n  ssh_username         = \"root\"\n  ssh_port             = {port}\n  ssh_timeout          = \"30s\""
    );
    let provisioner = r#"  provisioner "shell" {
    inline = ["echo crash-marker-provisioning", "sleep 300"]
  }"#;
    let template = oxide_template_with(&sim, &comm, provisioner);
    let out = tokio::task::block_in_place(|| {
        oxide_crash_with(&sim, &template, KillAt::Line("crash-marker-provisioning"))
    });
    // The instance, its disk and the temporary key, each once.
    for kind in ["instance", "disk", "ssh key"] {
        assert!(out.contains(&format!("removed {kind} ")), "{kind}: {out}");
    }
    assert_listed_once(&out);
    sim.shutdown().await;
}
