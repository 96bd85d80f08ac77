//! The `oxide-instance` builder end to end against the in-process Oxide
//! simulator (real HTTP on 127.0.0.1, bearer token, millisecond delays):
//! the happy path (over real SSH as root: a shell provisioner's file is in
//! the image), failed states, a start failure, injected API faults at each
//! call, dropped connections on the creates, SSH that never comes up, a
//! failing provisioner, an image name already taken, Ctrl-C at each step
//! and in each wait, a timeout, `skip_create_image`, the sweep, and
//! configuration errors. Every case checks the simulator's inventory: no
//! instance, disk, snapshot or SSH key left, and no image but the artifact
//! on success.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use imagebake_core::builders::Builder;
use imagebake_core::builders::oxide::{OxideArtifact, OxideBuilder, OxideConfig, OxideSweeper};
use imagebake_core::oxide_client::{Backoff, NameOrId, RetryPolicy, SshKeyCreate};
use imagebake_core::{
    BuildError, CancellationToken, Error, Event, OnError, Runner, SweepFilter, Sweeper,
};
use imagebake_sim::Fault;
use imagebake_sim::oxide::{OxideDelays, OxideSim, OxideSimOptions};
use imagebake_testing::needs_root;
use serde_json::{Value, json};

mod support;
use support::{assert_failed_in, dead_port, merged, ms, observed};

/// The seeded images (never the build's).
const SEED_IMAGES: [&str; 3] = ["debian-12", "ubuntu-24-04", "alpine-3-20"];

/// The steps of a build without a communicator, in order.
const STEPS: &[&str] = &[
    "source image",
    "check image name",
    "create instance",
    "wait running",
    "external ip",
    "stop instance",
    "wait stopped",
    "create snapshot",
    "create image",
    "delete snapshot",
];

fn delays(start: u64, stop: u64) -> OxideDelays {
    OxideDelays {
        instance_start: ms(start),
        instance_stop: ms(stop),
    }
}

async fn sim_with(delays: OxideDelays) -> Arc<OxideSim> {
    Arc::new(
        OxideSim::start(OxideSimOptions {
            delays,
            ..OxideSimOptions::default()
        })
        .await
        .expect("simulator starts"),
    )
}

async fn new_sim() -> Arc<OxideSim> {
    sim_with(delays(5, 5)).await
}

/// A builder block for `sim`: communicator none, fast polls, plus `extra`
/// (a null value removes a key).
fn block(sim: &OxideSim, extra: Value) -> Value {
    let v = json!({
        "type": "oxide-instance",
        "host": sim.url(),
        "token": sim.token(),
        "project": "imagebake",
        "boot_disk_image_name": "debian-12",
        "boot_disk_size": 2u64 << 30,
        "memory": 1u64 << 30,
        "communicator": "none",
        "state_timeout": "30s",
        "poll_cap": "10ms",
    });
    merged(v, extra)
}

fn builder(sim: &OxideSim, extra: Value) -> OxideBuilder {
    let config = OxideConfig::from_json(&block(sim, extra)).expect("config decodes");
    OxideBuilder::new(config)
        .expect("config is valid")
        .retry_policy(RetryPolicy {
            max_attempts: 4,
            backoff: Backoff::new(ms(2), ms(10)),
        })
        .expect("client")
}

/// SSH to a port nothing answers on, giving up after 300 ms.
fn dead_ssh() -> Value {
    json!({"communicator": "ssh", "ssh_username": "root", "ssh_port": dead_port(),
           "ssh_timeout": "300ms"})
}

/// Runs `b` with observer `on_event` (which may cancel the token).
async fn run_with(
    b: &OxideBuilder,
    runner: Runner,
    on_event: impl Fn(&Event, &CancellationToken) + Send + Sync + 'static,
) -> Result<OxideArtifact, BuildError> {
    let (runner, token) = observed(runner, on_event);
    b.run(&runner, token).await
}

async fn run(b: &OxideBuilder) -> Result<OxideArtifact, BuildError> {
    run_with(b, Runner::new(), |_, _| {}).await
}

/// The steps started so far.
type Seen = Arc<Mutex<Vec<String>>>;

/// Records every step started.
fn steps_seen() -> (
    Seen,
    impl Fn(&Event, &CancellationToken) + Send + Sync + 'static,
) {
    let seen: Seen = Arc::default();
    let s = seen.clone();
    (seen, move |e: &Event, _: &CancellationToken| {
        if let Event::StepStarted { step } = e {
            s.lock().unwrap().push(step.clone());
        }
    })
}

/// No instance, disk, snapshot or SSH key is left, and the only image
/// besides the seeded ones is `artifact` (if any).
fn assert_clean(sim: &OxideSim, artifact: Option<&OxideArtifact>, case: &str) {
    let inv = sim.inventory();
    assert!(
        inv.instances.is_empty(),
        "{case}: instances left: {:?}",
        inv.instances
    );
    assert!(inv.disks.is_empty(), "{case}: disks left: {:?}", inv.disks);
    assert!(
        inv.snapshots.is_empty(),
        "{case}: snapshots left: {:?}",
        inv.snapshots
    );
    assert!(
        inv.ssh_keys.is_empty(),
        "{case}: SSH keys left: {:?}",
        inv.ssh_keys
    );
    let images: Vec<String> = inv
        .images
        .iter()
        .filter(|i| !SEED_IMAGES.contains(&i.name.as_str()))
        .map(|i| i.id.to_string())
        .collect();
    let want: Vec<String> = artifact
        .and_then(|a| a.image_id)
        .map(|id| id.to_string())
        .into_iter()
        .collect();
    assert_eq!(images, want, "{case}: images left: {:?}", inv.images);
}

#[tokio::test]
async fn happy_path_without_communicator_makes_the_image_and_leaves_nothing() {
    let sim = new_sim().await;
    let b = builder(
        &sim,
        json!({"user_data": "#cloud-config\n", "cpus": 2, "hostname": "web-{{timestamp}}"}),
    );
    // The instance as the simulator held it when "external ip" started.
    let seen: Arc<Mutex<Vec<(String, usize)>>> = Arc::default();
    let at_ip = Arc::new(Mutex::new(None));
    let (s, obs, ip) = (sim.clone(), seen.clone(), at_ip.clone());
    let artifact = run_with(&b, Runner::new(), move |e, _| {
        if let Event::StepStarted { step } = e {
            let inv = s.inventory();
            if step == "external ip" {
                *ip.lock().unwrap() = inv.instances.first().cloned();
            }
            obs.lock()
                .unwrap()
                .push((step.clone(), inv.instances.len()));
        }
    })
    .await
    .expect("build succeeds");

    assert!(
        artifact.name.starts_with("debian-12-ib-")
            && artifact.name.ends_with(artifact.build_id.as_str()),
        "{}",
        artifact.name
    );
    assert_eq!(
        (artifact.os.as_str(), artifact.version.as_str()),
        ("debian", "12")
    );
    let id = artifact.image_id.expect("an image");
    assert_eq!(artifact.to_string(), format!("{} ({id})", artifact.name));
    assert_eq!(artifact.project, NameOrId::from("imagebake"));
    assert!(artifact.host_key.is_none());
    // The cleanup removed the instance, then its disk.
    let removed: Vec<&str> = artifact
        .cleanup
        .removed()
        .map(|r| r.kind.as_str())
        .collect();
    assert_eq!(removed, ["instance", "disk"], "{}", artifact.cleanup);
    assert_clean(&sim, Some(&artifact), "happy path");

    let steps: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|(s, _)| s.clone())
        .collect();
    assert_eq!(steps, STEPS);
    let instance = at_ip.lock().unwrap().clone().expect("an instance");
    assert_eq!(instance.name, artifact.build_id.as_str());
    assert_eq!(instance.run_state, "running");
    assert_eq!(instance.user_data, b"#cloud-config\n");
    assert!(instance.ssh_key_ids.is_empty(), "explicit, empty key list");
    // The image is the artifact, readable through the API.
    let image = b.client().image_view(id, None).await.expect("image");
    assert_eq!(image.description, "debian 12");
}

#[tokio::test]
async fn a_start_failure_is_reported_as_such_and_cleaned_up() {
    let sim = new_sim().await;
    sim.faults()
        .inject("instance_create", Fault::FailResource, 1);
    let e = run(&builder(&sim, json!({}))).await.unwrap_err();
    assert_failed_in(&e, "create instance", "start failure");
    let kinds: Vec<&str> = e.cleanup.removed().map(|r| r.kind.as_str()).collect();
    assert_eq!(kinds, ["instance", "disk"], "{}", e.cleanup);
    assert_clean(&sim, None, "start failure");
}

#[tokio::test]
async fn failed_states_end_the_build_at_once_and_are_cleaned_up() {
    // A stop that leaves the instance failed: the stop wait ends at once.
    let sim = new_sim().await;
    sim.faults().inject("instance_stop", Fault::FailResource, 1);
    let e = run(&builder(&sim, json!({}))).await.unwrap_err();
    assert_failed_in(&e, "wait stopped", "failed");
    assert_clean(&sim, None, "failed stop");

    // A faulted snapshot.
    let sim = new_sim().await;
    sim.faults()
        .inject("snapshot_create", Fault::FailResource, 1);
    let e = run(&builder(&sim, json!({}))).await.unwrap_err();
    assert_failed_in(&e, "create snapshot", "faulted");
    let kinds: Vec<&str> = e.cleanup.removed().map(|r| r.kind.as_str()).collect();
    assert_eq!(kinds, ["snapshot", "instance", "disk"], "{}", e.cleanup);
    assert_clean(&sim, None, "faulted snapshot");

    // A disk delete saga failing half-way (disk faulted, 500): retried.
    let sim = new_sim().await;
    sim.faults().inject("disk_delete", Fault::FailResource, 1);
    let a = run(&builder(&sim, json!({})))
        .await
        .expect("build succeeds");
    assert!(a.cleanup.is_clean(), "{}", a.cleanup);
    assert_clean(&sim, Some(&a), "faulted disk delete");
}

#[tokio::test]
async fn a_timeout_is_an_error_naming_the_wait_never_an_empty_success() {
    let sim = sim_with(delays(5_000, 5)).await;
    let e = run(&builder(&sim, json!({"state_timeout": "150ms"})))
        .await
        .unwrap_err();
    assert!(matches!(e.cause, Error::Timeout { .. }), "{e}");
    assert_failed_in(&e, "wait running", "timed out");
    assert_clean(&sim, None, "timeout");
}

/// The operations a build without a communicator calls.
const OPS: &[&str] = &[
    "image_view",
    "instance_create",
    "instance_view",
    "instance_external_ip_list",
    "instance_stop",
    "snapshot_create",
    "image_create",
    "snapshot_delete",
    "instance_delete",
    "disk_view",
    "disk_delete",
];

#[tokio::test]
async fn one_api_fault_at_each_call_is_survived_and_leaves_nothing() {
    let faults = [Fault::Status(503), Fault::Throttle, Fault::Status(500)];
    let cases = OPS
        .iter()
        .flat_map(|op| faults.iter().map(move |f| (*op, f.clone())));
    let runs = cases.map(|(op, fault)| async move {
        let sim = new_sim().await;
        sim.faults().inject(op, fault.clone(), 1);
        let case = format!("{op} {fault:?}");
        let r = run(&builder(&sim, json!({}))).await;
        assert_eq!(
            sim.faults().pending(op),
            0,
            "{case}: the call was never made"
        );
        // Lost or refused answers of idempotent calls are retried, and the
        // creates are safe to repeat (unique names): every case succeeds.
        let a = r.unwrap_or_else(|e| panic!("{case}: {e}"));
        assert!(a.cleanup.is_clean(), "{case}: {}", a.cleanup);
        assert_clean(&sim, Some(&a), &case);
    });
    futures::future::join_all(runs).await;
}

#[tokio::test]
async fn a_persistent_api_failure_names_the_step_and_the_call_and_leaves_nothing() {
    // (operation, faults queued, the step that fails): 4 attempts, a
    // create's 4 sends (each after a lookup) included.
    let cases = [
        ("image_view", 4, "source image"),
        ("instance_create", 4, "create instance"),
        ("instance_external_ip_list", 4, "external ip"),
        ("instance_stop", 4, "stop instance"),
        ("snapshot_create", 4, "create snapshot"),
        ("image_create", 4, "create image"),
        ("snapshot_delete", 4, "delete snapshot"),
    ];
    let runs = cases.iter().map(|(op, n, step)| async move {
        let sim = new_sim().await;
        sim.faults().inject(op, Fault::Status(500), *n);
        let e = run(&builder(&sim, json!({}))).await.unwrap_err();
        assert_failed_in(&e, step, op);
        assert_eq!(sim.faults().pending(op), 0, "{op}");
        assert_clean(&sim, None, op);
    });
    futures::future::join_all(runs).await;
}

#[tokio::test]
async fn a_failing_call_is_retried_by_one_loop_only() {
    // The client retries; no step wraps it in a second retry loop, so a
    // persistent 503 costs the policy's 4 attempts, not 4 x 4.
    let sim = new_sim().await;
    sim.faults().inject("image_view", Fault::Status(503), 50);
    let e = run(&builder(&sim, json!({}))).await.unwrap_err();
    assert_failed_in(&e, "source image", "image_view");
    assert_eq!(50 - sim.faults().pending("image_view"), 4);
    assert_clean(&sim, None, "image_view");

    // The delete step uses the client with the undo policy (here the
    // builder's, 4 attempts) and fails; the snapshot's undo is a wait until
    // it is gone, bounded by time, not attempts (its calls are sent once
    // each, the wait is its one loop): it outlasts the 503s and removes it.
    let sim = new_sim().await;
    sim.faults()
        .inject("snapshot_delete", Fault::Status(503), 50);
    let e = run(&builder(&sim, json!({}))).await.unwrap_err();
    assert_failed_in(&e, "delete snapshot", "snapshot_delete");
    assert_eq!(sim.faults().pending("snapshot_delete"), 0);
    assert!(e.cleanup.is_clean(), "{}", e.cleanup);
    assert_clean(&sim, None, "snapshot_delete");
}

#[tokio::test]
async fn an_undo_outlasts_a_run_of_faults_longer_than_the_client_retries() {
    // The load test's leak: a run of transient faults on the boot disk's
    // view and delete (and the instance's) after a successful build used to
    // end the undo after the client's 4 attempts, leaving the disk.
    for op in [
        "instance_view",
        "instance_delete",
        "disk_view",
        "disk_delete",
    ] {
        let sim = new_sim().await;
        let b = builder(&sim, json!({}));
        let s = sim.clone();
        let runner = Runner::new();
        let (runner, token) = observed(runner, move |e: &Event, _: &CancellationToken| {
            // Armed once the image exists: the faults hit the undos only.
            if let Event::StepFinished { step, .. } = e
                && step == "delete snapshot"
            {
                s.faults().inject(op, Fault::Status(503), 12);
            }
        });
        let a = b.run(&runner, token).await.expect("build succeeds");
        assert!(a.cleanup.is_clean(), "{op}: {}", a.cleanup);
        assert_eq!(sim.faults().pending(op), 0, "{op}");
        assert_clean(&sim, Some(&a), op);
    }
}

#[tokio::test]
async fn a_dropped_connection_on_a_create_adopts_the_one_resource_made() {
    let ops = ["instance_create", "snapshot_create", "image_create"];
    let runs = ops.iter().flat_map(|op| {
        [Fault::DropAfter, Fault::DropBefore].map(|fault| async move {
            let sim = new_sim().await;
            sim.faults().inject(op, fault.clone(), 1);
            let case = format!("{op} {fault:?}");
            let most = Arc::new(Mutex::new((0usize, 0usize)));
            let (s, m) = (sim.clone(), most.clone());
            let a = run_with(&builder(&sim, json!({})), Runner::new(), move |e, _| {
                if matches!(e, Event::StepStarted { .. } | Event::WaitProgress { .. }) {
                    let inv = s.inventory();
                    let mut most = m.lock().unwrap();
                    most.0 = most.0.max(inv.instances.len());
                    most.1 = most.1.max(inv.snapshots.len());
                }
            })
            .await
            .unwrap_or_else(|e| panic!("{case}: {e}"));
            assert_eq!(*most.lock().unwrap(), (1, 1), "{case}: more than one made");
            assert_eq!(sim.faults().pending(op), 0, "{case}");
            assert_clean(&sim, Some(&a), &case);
        })
    });
    futures::future::join_all(runs).await;
}

#[tokio::test]
async fn ssh_that_never_comes_up_fails_connect_and_removes_the_temporary_key() {
    // Faults on the temporary key's calls too: the create is adopted or
    // repeated, the delete retried.
    let cases = [
        None,
        Some(("current_user_ssh_key_create", Fault::DropAfter)),
        Some(("current_user_ssh_key_create", Fault::DropBefore)),
        Some(("current_user_ssh_key_create", Fault::Status(500))),
        Some(("current_user_ssh_key_create", Fault::Throttle)),
        Some(("current_user_ssh_key_delete", Fault::Status(500))),
        Some(("current_user_ssh_key_delete", Fault::Status(503))),
    ];
    let runs = cases.into_iter().map(|case| async move {
        let sim = new_sim().await;
        if let Some((op, f)) = &case {
            sim.faults().inject(op, f.clone(), 1);
        }
        let keys = Arc::new(Mutex::new(Vec::new()));
        let (s, k) = (sim.clone(), keys.clone());
        let e = run_with(&builder(&sim, dead_ssh()), Runner::new(), move |e, _| {
            if matches!(e, Event::StepStarted { step } if step == "connect ssh") {
                let inv = s.inventory();
                k.lock()
                    .unwrap()
                    .push((inv.ssh_keys.clone(), inv.instances[0].ssh_key_ids.clone()));
            }
        })
        .await
        .unwrap_err();
        assert_failed_in(&e, "connect ssh", "timed out");
        // One key, named after the build and injected into the instance.
        let keys = keys.lock().unwrap();
        let (ks, injected) = &keys[0];
        assert_eq!(ks.len(), 1, "{case:?}: {ks:?}");
        assert_eq!(ks[0].name, e.build_id.as_str());
        assert_eq!(injected, &vec![ks[0].id]);
        let kinds: Vec<&str> = e.cleanup.removed().map(|r| r.kind.as_str()).collect();
        assert_eq!(kinds, ["instance", "disk", "ssh key"], "{}", e.cleanup);
        if let Some((op, _)) = &case {
            assert_eq!(sim.faults().pending(op), 0, "{case:?}");
        }
        assert_clean(&sim, None, &format!("{case:?}"));
    });
    futures::future::join_all(runs).await;
}

#[tokio::test]
async fn an_existing_image_name_fails_before_anything_is_created() {
    let sim = new_sim().await;
    let first = run(&builder(&sim, json!({"artifact_name": "test-image"})))
        .await
        .expect("first build");
    let (started, obs) = steps_seen();
    let e = run_with(
        &builder(&sim, json!({"artifact_name": "test-image"})),
        Runner::new(),
        obs,
    )
    .await
    .unwrap_err();
    assert_failed_in(&e, "check image name", "test-image already exists");
    assert_eq!(
        *started.lock().unwrap(),
        ["source image", "check image name"]
    );
    assert_clean(&sim, Some(&first), "duplicate name");
}

#[tokio::test]
async fn ctrl_c_at_each_step_cleans_up() {
    let runs = STEPS.iter().map(|step| async move {
        let sim = sim_with(delays(20, 20)).await;
        let b = builder(&sim, json!({}));
        let r = run_with(&b, Runner::new(), move |e, token| {
            if matches!(e, Event::StepStarted { step: s } if s == step) {
                token.cancel();
            }
        })
        .await;
        let e = r.expect_err(step);
        assert!(e.is_cancelled(), "{step}: {e}");
        assert!(e.cleanup.is_clean(), "{step}: {}", e.cleanup);
        assert_clean(&sim, None, step);
    });
    futures::future::join_all(runs).await;
    // The SSH steps: the temporary key, and a connect that never answers.
    for step in ["temporary key", "create instance", "connect ssh"] {
        let sim = new_sim().await;
        let b = builder(&sim, {
            let mut v = dead_ssh();
            v["ssh_timeout"] = json!("30s");
            v
        });
        let e = run_with(&b, Runner::new(), move |e, token| {
            if matches!(e, Event::StepStarted { step: s } if s == step) {
                token.cancel();
            }
        })
        .await
        .expect_err(step);
        assert!(e.is_cancelled(), "{step}: {e}");
        assert!(e.cleanup.is_clean(), "{step}: {}", e.cleanup);
        assert_clean(&sim, None, step);
    }
}

#[tokio::test]
async fn ctrl_c_in_each_wait_cleans_up() {
    let runs = ["wait running", "wait stopped"].map(|wait| async move {
        let sim = sim_with(delays(300, 300)).await;
        let b = builder(&sim, json!({}));
        let r = run_with(&b, Runner::new(), move |e, token| {
            if matches!(e, Event::WaitProgress { step: Some(s), .. } if s == wait) {
                token.cancel();
            }
        })
        .await;
        let e = r.expect_err(wait);
        assert!(e.is_cancelled(), "{wait}: {e}");
        assert_eq!(e.step.as_deref(), Some(wait), "{e}");
        assert!(e.cleanup.is_clean(), "{wait}: {}", e.cleanup);
        assert_clean(&sim, None, wait);
    });
    futures::future::join_all(runs).await;
}

#[tokio::test]
async fn skip_create_image_boots_and_stops_but_makes_no_image() {
    let sim = new_sim().await;
    let (started, obs) = steps_seen();
    let a = run_with(
        &builder(&sim, json!({"skip_create_image": true})),
        Runner::new(),
        obs,
    )
    .await
    .expect("build");
    assert_eq!(a.image_id, None);
    let want: Vec<&str> = STEPS[..7]
        .iter()
        .copied()
        .filter(|s| *s != "check image name")
        .collect();
    assert_eq!(*started.lock().unwrap(), want);
    assert_clean(&sim, None, "skip_create_image");
}

#[tokio::test]
async fn names_keys_and_user_keys_go_into_the_instance() {
    let sim = new_sim().await;
    let mine = sim_client_key(&sim).await.id;
    let seen = Arc::new(Mutex::new(None));
    let (s, k) = (sim.clone(), seen.clone());
    let b = builder(
        &sim,
        json!({"name": "builder-{{timestamp}}", "ssh_public_keys": ["mine"],
               "artifact_name": "web", "artifact_os": "linux", "artifact_version": "1.2",
               "artifact_description": "made by {{uuid}}"}),
    );
    let a = run_with(&b, Runner::new(), move |e, _| {
        if matches!(e, Event::StepStarted { step } if step == "wait running") {
            *k.lock().unwrap() = s.inventory().instances.first().cloned();
        }
    })
    .await
    .expect("build");
    let i = seen.lock().unwrap().clone().expect("instance");
    assert!(i.name.starts_with("builder-1"), "{}", i.name);
    assert_eq!(i.ssh_key_ids, vec![mine]);
    assert_eq!(
        (a.name.as_str(), a.os.as_str(), a.version.as_str()),
        ("web", "linux", "1.2")
    );
    let image = b
        .client()
        .image_view(a.image_id.unwrap(), None)
        .await
        .unwrap();
    assert!(image.description.starts_with("made by ") && !image.description.contains("{{"));
    b.client().current_user_ssh_key_delete(mine).await.unwrap();
    assert_clean(&sim, Some(&a), "names");
}

/// Saves an SSH key `mine` for the user.
async fn sim_client_key(sim: &OxideSim) -> imagebake_core::oxide_client::SshKey {
    let b = builder(sim, json!({}));
    b.client()
        .current_user_ssh_key_create(&SshKeyCreate::new(
            "mine",
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGc6ZzB6cHdVlHSU3xD3pTqSVmKQ7Qb0Bfx0ce8dT5nU user",
        ))
        .await
        .expect("key saved")
}

#[tokio::test]
async fn the_sweep_removes_kept_leftovers_but_not_finished_images() {
    let sim = new_sim().await;
    let done = run(&builder(&sim, json!({}))).await.expect("first build");
    // Two failed builds whose resources are kept (Packer's -on-error=abort):
    // one with its temporary key, one with a faulted snapshot.
    let e = run_with(
        &builder(&sim, dead_ssh()),
        Runner::new().on_error(OnError::Keep),
        |_, _| {},
    )
    .await
    .unwrap_err();
    assert_eq!(e.cleanup.left().count(), 3, "{}", e.cleanup);
    sim.faults()
        .inject("snapshot_create", Fault::FailResource, 1);
    let e = run_with(
        &builder(&sim, json!({})),
        Runner::new().on_error(OnError::Keep),
        |_, _| {},
    )
    .await
    .unwrap_err();
    assert_eq!(e.cleanup.left().count(), 3, "{}", e.cleanup);
    let inv = sim.inventory();
    assert_eq!(
        (
            inv.instances.len(),
            inv.disks.len(),
            inv.snapshots.len(),
            inv.ssh_keys.len()
        ),
        (2, 2, 1, 1)
    );

    let b = builder(&sim, json!({}));
    let sweeper =
        OxideSweeper::new(b.client().clone(), "imagebake").waits(Duration::from_secs(30), ms(10));
    let cancel = CancellationToken::new();
    // Too young for a one-hour sweep.
    let report = sweeper
        .sweep(&SweepFilter::all_builds(Duration::from_secs(3600)), &cancel)
        .await;
    assert!(report.cleanup.entries.is_empty(), "{}", report.cleanup);
    // One build only: its three resources.
    let report = sweeper
        .sweep(&SweepFilter::build(&e.build_id), &cancel)
        .await;
    assert_eq!(report.cleanup.removed().count(), 3, "{}", report.cleanup);
    // Every build, any age: the rest go, the finished image stays.
    let report = sweeper
        .sweep(&SweepFilter::all_builds(Duration::ZERO), &cancel)
        .await;
    assert!(report.list_errors.is_empty(), "{:?}", report.list_errors);
    let kinds: Vec<&str> = report.cleanup.removed().map(|r| r.kind.as_str()).collect();
    assert_eq!(kinds, ["instance", "disk", "ssh key"], "{}", report.cleanup);
    assert!(report.cleanup.is_clean(), "{}", report.cleanup);
    assert_clean(&sim, Some(&done), "after sweep");
}

#[tokio::test]
async fn config_errors_name_the_key_and_the_builder_and_make_no_request() {
    let sim = new_sim().await;
    let cases = [
        (
            json!({"ssh_pty": true}),
            "builder oxide-instance: unknown key `ssh_pty`",
        ),
        (
            json!({"project": null}),
            "builder oxide-instance: missing required key `project`",
        ),
        (json!({"cpus": "two"}), "builder oxide-instance: key `cpus`"),
    ];
    for (extra, want) in cases {
        let e = OxideConfig::from_json(&block(&sim, extra)).unwrap_err();
        assert!(e.to_string().contains(want), "{e}");
    }
    for (extra, want) in [
        (
            json!({"boot_disk_image_id": "debian-12", "boot_disk_image_name": null}),
            "key `boot_disk_image_id`",
        ),
        (json!({"name": "Not_A_Name"}), "key `name`"),
        (
            json!({"communicator": "ssh"}),
            "missing required key `ssh_username`",
        ),
        (json!({"user_data": "x".repeat(40_000)}), "key `user_data`"),
    ] {
        let config = OxideConfig::from_json(&block(&sim, extra)).unwrap();
        let e = OxideBuilder::new(config).unwrap_err().to_string();
        assert!(
            e.contains("builder oxide-instance") && e.contains(want),
            "{e}"
        );
    }
    assert_eq!(sim.request_count(), 0, "checks make no request");
    // Looked up by a name nowhere, and by ID.
    let e = run(&builder(&sim, json!({"boot_disk_image_name": "nope"})))
        .await
        .unwrap_err();
    assert_failed_in(&e, "source image", "ObjectNotFound");
    let debian = b_image_id(&sim, "debian-12").await;
    let a = run(&builder(
        &sim,
        json!({"boot_disk_image_name": null, "boot_disk_image_id": debian}),
    ))
    .await
    .expect("by id");
    assert!(a.name.starts_with("debian-12-"), "{}", a.name);
    assert_clean(&sim, Some(&a), "config");
}

async fn b_image_id(sim: &OxideSim, name: &str) -> String {
    builder(sim, json!({}))
        .client()
        .image_view(name, None)
        .await
        .expect("seeded image")
        .id
        .to_string()
}

/// Over real SSH to a simulated instance (its own sshd in an overlay root
/// on 127.0.0.N) as root: the temporary key logs in, the host key is
/// trusted on first use and reported, a shell provisioner's files end up
/// in the image, and the guest is shut down from inside before the API
/// stop. Needs root, overlayfs, OpenSSH and busybox
/// (`scripts/test-deps.sh`).
#[needs_root("simulated instances: overlay mounts, chroot, sshd")]
#[tokio::test]
async fn over_ssh_a_provisioner_s_files_end_up_in_the_image() {
    use imagebake_core::provision::{Shell, Upload};
    use imagebake_sim::machine::{SshMode, check_support};

    if let Err(why) = check_support() {
        panic!("simulated instances cannot run SSH here: {why}");
    }
    let sim = Arc::new(
        OxideSim::start(OxideSimOptions {
            delays: delays(5, 1_000),
            ssh: SshMode::On,
            ..OxideSimOptions::default()
        })
        .await
        .expect("simulator with SSH instances starts"),
    );
    let port = sim.ssh_port().expect("instances have SSH");
    let ssh = json!({"communicator": "ssh", "ssh_username": "root", "ssh_port": port,
                     "ssh_timeout": "30s"});
    let b = builder(&sim, ssh.clone())
        .provisioner(Shell::inline([
            "echo \"built by $IMAGEBAKE_BUILD_ID\" > /etc/imagebake-test",
            "mkdir -p /opt/app",
        ]))
        .provisioner(Upload::content("hello\n", "/opt/app/hello.txt"));
    // Steps, the host key the simulator shows, and the run state right
    // after the API stop (`stopped`: the guest shut itself down before;
    // `stopping` for a second had the stop cut its power).
    let seen = Arc::new(Mutex::new((Vec::new(), None, None)));
    let (s, l) = (sim.clone(), seen.clone());
    let artifact = run_with(&b, Runner::new(), move |e, _| {
        if let Event::StepStarted { step } = e {
            let inv = s.inventory();
            let mut l = l.lock().unwrap();
            if step == "shell" {
                l.1 = inv.instances[0]
                    .ssh
                    .as_ref()
                    .map(|i| i.host_key_fingerprint.clone());
            }
            if step == "wait stopped" {
                l.2 = Some(inv.instances[0].run_state.clone());
            }
            l.0.push(step.clone());
        }
    })
    .await
    .expect("build over SSH succeeds");
    let id = artifact.image_id.expect("image");
    let mark = sim
        .image_file(id, "/etc/imagebake-test")
        .expect("file in image");
    assert_eq!(
        String::from_utf8_lossy(&mark),
        format!("built by {}\n", artifact.build_id)
    );
    assert_eq!(
        sim.image_file(id, "/opt/app/hello.txt").as_deref(),
        Some(&b"hello\n"[..])
    );
    let (steps, fingerprint, state_at_stop) = seen.lock().unwrap().clone();
    let host_key = artifact.host_key.as_ref().expect("host key recorded");
    assert_eq!(Some(host_key.fingerprint.clone()), fingerprint);
    assert_eq!(
        state_at_stop.as_deref(),
        Some("stopped"),
        "shut down from inside first"
    );
    let want = [
        "temporary key",
        "create instance",
        "wait running",
        "external ip",
        "connect ssh",
        "shell",
        "file",
        "flush",
        "stop instance",
        "wait stopped",
        "create snapshot",
    ];
    let at = steps.iter().position(|s| s == "temporary key").unwrap();
    assert_eq!(&steps[at..at + want.len()], want, "{steps:?}");
    let removed: Vec<&str> = artifact
        .cleanup
        .removed()
        .map(|r| r.kind.as_str())
        .collect();
    assert_eq!(
        removed,
        ["instance", "disk", "ssh key"],
        "{}",
        artifact.cleanup
    );
    assert_clean(&sim, Some(&artifact), "ssh");

    // A failing provisioner: the step and the exit status are named, and
    // nothing is left.
    let b = builder(&sim, ssh).provisioner(Shell::inline(["echo broken >&2; exit 3"]));
    let e = run(&b).await.unwrap_err();
    assert_failed_in(&e, "shell", "status 3");
    assert_clean(&sim, Some(&artifact), "failing provisioner");
}

/// Ctrl-C while a create has been done but not answered (a slow or hung
/// API: the answer comes after the runner's abort grace): the instance
/// (with its boot disk), temporary key, snapshot or image is found by its
/// unique name at once and deleted, the answer is still awaited, and the
/// report names what was removed.
#[tokio::test]
async fn ctrl_c_while_a_create_answers_late_removes_what_it_made() {
    let cases = [
        ("instance_create", "create instance", "instance"),
        ("current_user_ssh_key_create", "temporary key", "ssh key"),
        ("snapshot_create", "create snapshot", "snapshot"),
        ("image_create", "create image", "image"),
    ];
    let runs = cases.iter().map(|&(op, step, kind)| async move {
        let sim = new_sim().await;
        sim.faults()
            .inject(op, Fault::LateAnswer(Duration::from_secs(3)), 1);
        // The key is made only for SSH (which never comes: the build is
        // cancelled before).
        let extra = if kind == "ssh key" {
            dead_ssh()
        } else {
            json!({})
        };
        let runner = Runner::new().abort_grace(Duration::from_secs(1));
        let s = sim.clone();
        let made = move || {
            let inv = s.inventory();
            match kind {
                "instance" => !inv.instances.is_empty(),
                "ssh key" => !inv.ssh_keys.is_empty(),
                "snapshot" => !inv.snapshots.is_empty(),
                _ => inv
                    .images
                    .iter()
                    .any(|i| !SEED_IMAGES.contains(&i.name.as_str())),
            }
        };
        let on_event = support::ctrl_c_once_made(step, made);
        let e = run_with(&builder(&sim, extra), runner, on_event)
            .await
            .expect_err(op);
        assert_clean(&sim, None, op);
        assert_eq!(e.step.as_deref(), Some(step), "{op}: {e}");
        support::assert_late_create_removed(&e, kind);
        if kind == "instance" {
            // The boot disk made with it went too.
            assert!(
                e.cleanup.removed().any(|r| r.kind == "disk"),
                "{}",
                e.cleanup
            );
        }
        assert_eq!(sim.faults().pending(op), 0, "{op}");
    });
    futures::future::join_all(runs).await;
}

#[tokio::test]
async fn force_replaces_the_project_image_of_the_same_name_as_the_plugin_does() {
    let sim = new_sim().await;
    let named = json!({"artifact_name": "test-image"});
    let first = run(&builder(&sim, named.clone()))
        .await
        .expect("first build");
    // A forced build that fails before its image keeps the old one.
    sim.faults()
        .inject("snapshot_create", Fault::FailResource, 1);
    let forced = merged(named.clone(), json!({"packer_force": true}));
    let e = run(&builder(&sim, forced.clone())).await.unwrap_err();
    assert_failed_in(&e, "create snapshot", "faulted");
    assert_clean(&sim, Some(&first), "failed forced build");
    // A forced build skips the name check; the old image is deleted right
    // before the new one is made.
    let (started, obs) = steps_seen();
    let second = run_with(&builder(&sim, forced), Runner::new(), obs)
        .await
        .expect("forced build");
    assert_ne!(second.image_id, first.image_id);
    let want: Vec<&str> = STEPS
        .iter()
        .copied()
        .filter(|s| *s != "check image name")
        .flat_map(|s| {
            if s == "create image" {
                vec!["replace image", s]
            } else {
                vec![s]
            }
        })
        .collect();
    assert_eq!(*started.lock().unwrap(), want);
    assert_clean(&sim, Some(&second), "forced build");
    // With nothing to replace, a forced build just builds.
    let other = merged(
        named,
        json!({"packer_force": true, "artifact_name": "other"}),
    );
    let third = run(&builder(&sim, other))
        .await
        .expect("nothing to replace");
    assert!(third.image_id.is_some());
}
