//! The `triton` builder end to end against the in-process Triton simulator
//! (real HTTP on 127.0.0.1, signed requests, millisecond delays): the happy
//! path, failed states, injected API faults, dropped connections, an image
//! name already taken, Ctrl-C at each step and in each wait, a timeout, the
//! sweep, and configuration decoding. Every case checks the simulator's
//! inventory: no machine left, and no image but the artifact on success.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use imagebake_core::builders::Builder;
use imagebake_core::builders::triton::{
    TritonArtifact, TritonBuilder, TritonConfig, TritonSweeper,
};
use imagebake_core::triton_client::types::ImageId;
use imagebake_core::triton_client::{Backoff, RetryPolicy};
use imagebake_core::{
    BuildError, CancellationToken, Error, Event, OnError, Runner, SweepFilter, Sweeper,
};
use imagebake_sim::Fault;
use imagebake_sim::triton::{TritonDelays, TritonSim, TritonSimOptions};
use imagebake_testing::needs_root;
use serde_json::{Value, json};

mod support;
use support::{assert_failed_in, dead_port, merged, ms, observed};

const BASE_64_LTS_23: &str = "e44ed3e0-910b-11ee-b2d6-0b4f7a3c2301";

/// The steps of a build without a communicator, in order.
const STEPS: &[&str] = &[
    "source image",
    "check image name",
    "create machine",
    "wait running",
    "stop machine",
    "wait stopped",
    "create image",
    "wait image",
    "delete machine",
    "wait machine gone",
    "tag image",
];

async fn sim_with(delays: TritonDelays) -> Arc<TritonSim> {
    Arc::new(
        TritonSim::start(TritonSimOptions {
            delays,
            ..TritonSimOptions::default()
        })
        .await
        .expect("simulator starts"),
    )
}

async fn sim() -> Arc<TritonSim> {
    sim_with(TritonDelays::all(ms(5))).await
}

/// A builder block for `sim`: communicator none, fast polls, plus `extra`
/// (a null value removes a key).
fn block(sim: &TritonSim, extra: Value) -> Value {
    let v = merged(
        support::triton_credentials(sim),
        json!({
            "source_machine_package": "g1.small",
            "source_machine_image": BASE_64_LTS_23,
            "image_name": "test-image",
            "image_version": "1.0.0",
            "communicator": "none",
            "state_timeout": "30s",
            "image_timeout": "30s",
            "poll_cap": "10ms",
        }),
    );
    merged(v, extra)
}

fn builder(sim: &TritonSim, extra: Value) -> TritonBuilder {
    let config = TritonConfig::from_json(&block(sim, extra)).expect("config decodes");
    TritonBuilder::new(config)
        .expect("config is valid")
        .retry_policy(RetryPolicy {
            max_attempts: 4,
            backoff: Backoff::new(ms(2), ms(10)),
        })
        .expect("client")
}

/// Runs `b` with observer `on_event` (which may cancel the token).
async fn run_with(
    b: &TritonBuilder,
    runner: Runner,
    on_event: impl Fn(&Event, &CancellationToken) + Send + Sync + 'static,
) -> Result<TritonArtifact, BuildError> {
    let (runner, token) = observed(runner, on_event);
    b.run(&runner, token).await
}

async fn run(b: &TritonBuilder) -> Result<TritonArtifact, BuildError> {
    run_with(b, Runner::new(), |_, _| {}).await
}

/// No machine is left, and the only custom image is `artifact` (if any).
fn assert_clean(sim: &TritonSim, artifact: Option<&ImageId>, case: &str) {
    let inv = sim.inventory();
    assert!(
        inv.machines.is_empty(),
        "{case}: machines left: {:?}",
        inv.machines
    );
    let images: Vec<String> = inv.custom_images().iter().map(|i| i.id.clone()).collect();
    let want: Vec<String> = artifact.map(|a| a.to_string()).into_iter().collect();
    assert_eq!(
        images,
        want,
        "{case}: images left: {:?}",
        inv.custom_images()
    );
}

#[tokio::test]
async fn happy_path_makes_the_image_and_leaves_no_machine() {
    let sim = sim().await;
    let b = builder(
        &sim,
        json!({
            "source_machine_image": null,
            "source_machine_image_filter": {"name": "base-64-lts", "most_recent": true},
            "source_machine_metadata": {"user-script": "true"},
            "source_machine_tags": {"purpose": "test"},
            "image_name": "happy-{{timestamp}}",
            "image_description": "made by {{uuid}}",
            "image_tags": {"role": "web"},
        }),
    );
    // What the simulator holds when each step starts, and every step name.
    let seen: Arc<Mutex<Vec<(String, usize, Value)>>> = Arc::default();
    let (s, obs) = (sim.clone(), seen.clone());
    let artifact = run_with(&b, Runner::new(), move |e, _| {
        if let Event::StepStarted { step } = e {
            let inv = s.inventory();
            let tag = inv
                .machines
                .first()
                .and_then(|m| m.tags.get("imagebake-build").cloned())
                .unwrap_or(Value::Null);
            obs.lock()
                .unwrap()
                .push((step.clone(), inv.machines.len(), tag));
        }
    })
    .await
    .expect("build succeeds");

    assert!(artifact.name.starts_with("happy-1"), "{}", artifact.name);
    assert_eq!(artifact.version, "1.0.0");
    assert!(artifact.to_string().starts_with("Image was created: "));
    assert_clean(&sim, Some(&artifact.image_id), "happy path");

    let seen = seen.lock().unwrap().clone();
    let steps: Vec<&str> = seen.iter().map(|(s, _, _)| s.as_str()).collect();
    assert_eq!(steps, STEPS);
    // The machine existed from "wait running" on, tagged with the build id.
    let at_wait = &seen[3];
    assert_eq!(at_wait.1, 1);
    assert_eq!(at_wait.2, json!(artifact.build_id.as_str()));

    // The finished image carries the configured tags and the built-by tag,
    // not the build tag a sweep looks for; its description was expanded.
    let image = b.client().get_image(&artifact.image_id).await.unwrap();
    assert_eq!(image.tags.get("role"), Some(&json!("web")));
    assert_eq!(
        image.tags.get("imagebake-built-by"),
        Some(&json!(artifact.build_id.as_str()))
    );
    assert!(
        !image.tags.contains_key("imagebake-build"),
        "{:?}",
        image.tags
    );
    assert!(!image.description.unwrap_or_default().contains("{{"));
}

#[tokio::test]
async fn a_failed_machine_ends_the_wait_at_once_and_is_deleted() {
    let sim = sim().await;
    sim.faults().inject("CreateMachine", Fault::FailResource, 1);
    let e = run(&builder(&sim, json!({}))).await.unwrap_err();
    assert_failed_in(&e, "wait running", "failed");
    assert!(
        e.cleanup.removed().any(|r| r.kind == "machine"),
        "{}",
        e.cleanup
    );
    assert_clean(&sim, None, "failed machine");
}

#[tokio::test]
async fn a_failed_image_shows_its_error_and_is_deleted() {
    let sim = sim().await;
    sim.faults()
        .inject("CreateImageFromMachine", Fault::FailResource, 1);
    let e = run(&builder(&sim, json!({}))).await.unwrap_err();
    assert_failed_in(&e, "wait image", "PrepareImageDidNotRun");
    let kinds: BTreeSet<&str> = e.cleanup.removed().map(|r| r.kind.as_str()).collect();
    assert_eq!(kinds, BTreeSet::from(["image", "machine"]), "{}", e.cleanup);
    assert_clean(&sim, None, "failed image");
}

#[tokio::test]
async fn api_faults_at_each_call_are_retried() {
    let ops = [
        "ListImages",
        "CreateMachine",
        "GetMachine",
        "StopMachine",
        "CreateImageFromMachine",
        "GetImage",
        "DeleteMachine",
        "UpdateImage",
    ];
    let faults = [Fault::Status(503), Fault::Throttle, Fault::Status(500)];
    let cases = ops
        .iter()
        .flat_map(|op| faults.iter().map(move |f| (*op, f.clone())));
    let runs = cases.map(|(op, fault)| async move {
        let sim = sim().await;
        sim.faults().inject(op, fault.clone(), 1);
        // With a filter, the build lists images (and the name check does anyway).
        let b = builder(
            &sim,
            json!({
                "source_machine_image": null,
                "source_machine_image_filter": {"name": "base-64-lts", "most_recent": true},
            }),
        );
        let case = format!("{op} {fault:?}");
        let r = run(&b).await;
        assert_eq!(
            sim.faults().pending(op),
            0,
            "{case}: the call was never made"
        );
        match &r {
            Ok(a) => assert_clean(&sim, Some(&a.image_id), &case),
            Err(e) => {
                assert!(e.step.is_some(), "{case}: {e}");
                assert!(e.to_string().contains(op), "{case}: {e}");
                assert!(e.cleanup.is_clean(), "{case}: {}", e.cleanup);
                assert_clean(&sim, None, &case);
            }
        }
        // Each is retried: throttling and 503 always, a 500 by the reads
        // and updates, by the creates after looking for what they may have
        // made, and by the stop (a second stop of a stopped machine is
        // refused, which the step accepts).
        assert!(r.is_ok(), "{case}: {}", r.unwrap_err());
    });
    futures::future::join_all(runs).await;
}

#[tokio::test]
async fn a_dropped_connection_on_create_makes_one_machine_which_is_cleaned_up() {
    for fault in [Fault::DropAfter, Fault::DropBefore] {
        let sim = sim().await;
        sim.faults().inject("CreateMachine", fault.clone(), 1);
        // The image's create too (looked up, adopted or sent again), and
        // the stop (sent again: a stop already done is refused).
        sim.faults()
            .inject("CreateImageFromMachine", fault.clone(), 1);
        sim.faults().inject("StopMachine", fault.clone(), 1);
        let most = Arc::new(Mutex::new(0usize));
        let (s, m) = (sim.clone(), most.clone());
        let artifact = run_with(&builder(&sim, json!({})), Runner::new(), move |e, _| {
            if matches!(e, Event::StepStarted { .. } | Event::WaitProgress { .. }) {
                let n = s.inventory().machines.len();
                let mut most = m.lock().unwrap();
                *most = (*most).max(n);
            }
        })
        .await
        .unwrap_or_else(|e| panic!("{fault:?}: {e}"));
        assert_eq!(*most.lock().unwrap(), 1, "{fault:?}: more than one machine");
        assert_eq!(sim.faults().pending("CreateMachine"), 0);
        assert_eq!(sim.faults().pending("CreateImageFromMachine"), 0);
        assert_eq!(sim.faults().stats().made_twice(), [], "{fault:?}");
        assert_clean(&sim, Some(&artifact.image_id), &format!("{fault:?}"));
    }
}

#[tokio::test]
async fn an_existing_image_name_fails_before_any_machine() {
    let sim = sim().await;
    let first = run(&builder(&sim, json!({}))).await.expect("first build");
    let started = Arc::new(Mutex::new(Vec::new()));
    let s = started.clone();
    let e = run_with(&builder(&sim, json!({})), Runner::new(), move |e, _| {
        if let Event::StepStarted { step } = e {
            s.lock().unwrap().push(step.clone());
        }
    })
    .await
    .unwrap_err();
    assert_failed_in(&e, "check image name", "test-image@1.0.0 already exists");
    assert_eq!(
        *started.lock().unwrap(),
        ["source image", "check image name"]
    );
    assert_clean(&sim, Some(&first.image_id), "duplicate name");
}

#[tokio::test]
async fn ctrl_c_at_each_step_cleans_up() {
    let runs = STEPS.iter().map(|step| async move {
        let sim = sim_with(TritonDelays::all(ms(20))).await;
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
}

#[tokio::test]
async fn ctrl_c_in_each_wait_cleans_up() {
    const WAITS: [&str; 4] = [
        "wait running",
        "wait stopped",
        "wait image",
        "wait machine gone",
    ];
    let runs = WAITS.iter().map(|wait| async move {
        let sim = sim_with(TritonDelays::all(ms(300))).await;
        let b = builder(&sim, json!({}));
        let r = run_with(&b, Runner::new(), move |e, token| {
            if matches!(e, Event::WaitProgress { step: Some(s), .. } if s == wait) {
                token.cancel();
            }
        })
        .await;
        let e = r.expect_err(wait);
        assert!(e.is_cancelled(), "{wait}: {e}");
        assert_eq!(e.step.as_deref(), Some(*wait), "{e}");
        assert!(e.cleanup.is_clean(), "{wait}: {}", e.cleanup);
        assert_clean(&sim, None, wait);
    });
    futures::future::join_all(runs).await;
}

#[tokio::test]
async fn a_timeout_names_the_wait_and_cleans_up() {
    let sim = sim_with(TritonDelays {
        provision: Duration::from_secs(5),
        ..TritonDelays::all(ms(5))
    })
    .await;
    let e = run(&builder(&sim, json!({"state_timeout": "150ms"})))
        .await
        .unwrap_err();
    assert!(matches!(e.cause, Error::Timeout { .. }), "{e}");
    assert_failed_in(&e, "wait running", "timed out");
    assert_clean(&sim, None, "timeout");
}

#[tokio::test]
async fn the_sweep_removes_kept_leftovers_but_not_finished_images() {
    let sim = sim().await;
    let done = run(&builder(&sim, json!({}))).await.expect("first build");

    // A failed build whose resources are kept (Packer's -on-error=abort).
    sim.faults()
        .inject("CreateImageFromMachine", Fault::FailResource, 1);
    let b = builder(&sim, json!({"image_version": "2.0.0"}));
    let e = run_with(&b, Runner::new().on_error(OnError::Keep), |_, _| {})
        .await
        .unwrap_err();
    assert_eq!(e.cleanup.left().count(), 2, "{}", e.cleanup);
    let inv = sim.inventory();
    assert_eq!(inv.machines.len(), 1);
    assert_eq!(inv.custom_images().len(), 2);

    let sweeper = TritonSweeper::new(b.client().clone()).waits(Duration::from_secs(30), ms(10));
    // Too young for a one-hour sweep.
    let report = sweeper
        .sweep(
            &SweepFilter::all_builds(Duration::from_secs(3600)),
            &CancellationToken::new(),
        )
        .await;
    assert!(report.cleanup.entries.is_empty(), "{}", report.cleanup);
    // Every build, any age: the leftovers go, the finished image stays.
    let report = sweeper
        .sweep(
            &SweepFilter::all_builds(Duration::ZERO),
            &CancellationToken::new(),
        )
        .await;
    assert!(report.list_errors.is_empty(), "{:?}", report.list_errors);
    assert_eq!(report.cleanup.removed().count(), 2, "{}", report.cleanup);
    assert!(report.cleanup.is_clean(), "{}", report.cleanup);
    assert_clean(&sim, Some(&done.image_id), "after sweep");
}

#[tokio::test]
async fn a_packer_json_template_decodes_and_builds() {
    let sim = sim().await;
    let template = json!({
        "variables": {},
        "builders": [block(&sim, json!({
            "name": "triton-test",
            "source_machine_image": null,
            "source_machine_image_filter": {"name": "base-64-lts", "version": "22.4.0"},
            "source_machine_networks": ["9ec60129-9034-47b4-b111-3026f9b1a10f"],
            "source_machine_firewall_enabled": true,
            "image_version": "{{timestamp}}",
            "image_homepage": "https://example.invalid",
            "image_eula_url": "https://example.invalid/eula",
            "image_acls": ["6b5f1c2e-9a4d-4c1e-8f3b-2d7a9e0c4b15"],
        }))],
        "provisioners": [],
    });
    let text = serde_json::to_string_pretty(&template).unwrap();
    let parsed: Value = serde_json::from_str(&text).unwrap();
    let config = TritonConfig::from_json(&parsed["builders"][0]).expect("decodes");
    let b = TritonBuilder::new(config).unwrap();
    let artifact = run(&b).await.expect("build");
    assert!(
        artifact.version.chars().all(|c| c.is_ascii_digit()),
        "{}",
        artifact.version
    );
    assert_clean(&sim, Some(&artifact.image_id), "template");
}

#[tokio::test]
async fn config_errors_name_the_key_and_the_builder_and_make_no_request() {
    let sim = sim().await;
    let cases = [
        (
            json!({"ssh_pty": true}),
            "builder triton: unknown key `ssh_pty`",
        ),
        (
            json!({"image_name": null}),
            "builder triton: missing required key `image_name`",
        ),
        (
            json!({"triton_account": ""}),
            "builder triton: missing required key `triton_account`",
        ),
    ];
    for (extra, want) in cases {
        let e = TritonConfig::from_json(&block(&sim, extra)).unwrap_err();
        assert!(e.to_string().contains(want), "{e}");
    }
    // A number where Packer wants a duration is decoded weakly (as "3"),
    // then refused as a duration without a unit, naming the key.
    let config = TritonConfig::from_json(&block(&sim, json!({"poll_cap": 3}))).unwrap();
    let e = TritonBuilder::new(config).unwrap_err();
    assert!(e.to_string().contains("poll_cap"), "{e}");
    let config = TritonConfig::from_json(&block(
        &sim,
        json!({"source_machine_image_filter": {"name": "base-64-lts"}}),
    ))
    .unwrap();
    let e = TritonBuilder::new(config).unwrap_err();
    assert!(e.to_string().contains("builder triton"), "{e}");
    // Several matches without most_recent is an error, as in Packer.
    let b = builder(
        &sim,
        json!({"source_machine_image": null,
               "source_machine_image_filter": {"name": "base-64-lts"}}),
    );
    let e = run(&b).await.unwrap_err();
    assert_failed_in(&e, "source image", "most_recent");
    assert_eq!(sim.request_count(), 1, "only the ListImages call");
    assert_clean(&sim, None, "config");
}

/// A simulator whose machines run real SSH, and a builder connecting to
/// them (the test needs root, overlayfs, OpenSSH and busybox:
/// `#[needs_root]` and `scripts/test-deps.sh`).
async fn ssh_sim_and_builder() -> (Arc<TritonSim>, TritonBuilder) {
    let sim = support::triton_ssh_sim().await;
    let port = sim.ssh_port().expect("machines have SSH");
    let b = builder(
        &sim,
        json!({"communicator": "ssh", "ssh_port": port, "ssh_timeout": "30s"}),
    );
    (sim, b)
}

/// Over real SSH to a simulated machine (its own sshd in an overlay root on
/// 127.0.0.N): a shell provisioner's file is found in the captured image.
/// Needs root, overlayfs, OpenSSH and busybox (`scripts/test-deps.sh`).
#[needs_root("simulated machines: overlay mounts, chroot, sshd")]
#[tokio::test]
async fn over_ssh_a_provisioner_s_file_ends_up_in_the_image() {
    use imagebake_core::provision::{Shell, Upload};

    let (sim, b) = ssh_sim_and_builder().await;
    let b = b
        .provisioner(Shell::inline([
            "echo \"built by $IMAGEBAKE_BUILD_ID\" > /etc/imagebake-test",
            "mkdir -p /opt/app",
        ]))
        .provisioner(Upload::content("hello\n", "/opt/app/hello.txt"));
    let lines = Arc::new(Mutex::new(Vec::new()));
    let l = lines.clone();
    let artifact = run_with(&b, Runner::new(), move |e, _| {
        if let Event::StepStarted { step } = e {
            l.lock().unwrap().push(step.clone());
        }
    })
    .await
    .expect("build over SSH succeeds");
    let id = artifact.image_id.to_string();
    let mark = sim
        .image_file(&id, "/etc/imagebake-test")
        .expect("file in image");
    assert_eq!(
        String::from_utf8_lossy(&mark),
        format!("built by {}\n", artifact.build_id)
    );
    assert_eq!(
        sim.image_file(&id, "/opt/app/hello.txt").as_deref(),
        Some(&b"hello\n"[..])
    );
    let steps = lines.lock().unwrap().clone();
    let want = [
        "wait running",
        "connect ssh",
        "shell",
        "file",
        "flush",
        "stop machine",
    ];
    let at = steps.iter().position(|s| s == "wait running").unwrap();
    assert_eq!(&steps[at..at + want.len()], want, "{steps:?}");
    assert_clean(&sim, Some(&artifact.image_id), "ssh");
}

#[tokio::test]
async fn ssh_that_never_comes_up_fails_connect_and_cleans_up() {
    let sim = sim().await;
    let b = builder(
        &sim,
        json!({"communicator": "ssh", "ssh_port": dead_port(), "ssh_timeout": "2s"}),
    );
    let (started, machines) = (Arc::new(Mutex::new(Vec::new())), Arc::new(Mutex::new(0)));
    let (s, st, m) = (sim.clone(), started.clone(), machines.clone());
    let e = run_with(&b, Runner::new(), move |e, _| {
        if let Event::StepStarted { step } = e {
            if step == "connect ssh" {
                *m.lock().unwrap() = s.inventory().machines.len();
            }
            st.lock().unwrap().push(step.clone());
        }
    })
    .await
    .unwrap_err();
    assert_failed_in(&e, "connect ssh", "timed out");
    // The machine existed when the connect began, and was removed after.
    assert_eq!(*machines.lock().unwrap(), 1);
    assert!(
        e.cleanup.removed().any(|r| r.kind == "machine"),
        "{}",
        e.cleanup
    );
    let steps = started.lock().unwrap().clone();
    assert_eq!(
        steps.last().map(String::as_str),
        Some("connect ssh"),
        "{steps:?}"
    );
    assert!(!steps.iter().any(|s| s == "create image"), "{steps:?}");
    assert_clean(&sim, None, "ssh never up");
}

/// Over real SSH to a simulated machine (see
/// `over_ssh_a_provisioner_s_file_ends_up_in_the_image`): a provisioner
/// that fails names its command, exit status and stderr tail, and the
/// build leaves nothing.
#[needs_root("simulated machines: overlay mounts, chroot, sshd")]
#[tokio::test]
async fn a_failing_provisioner_names_the_command_and_cleans_up() {
    use imagebake_core::provision::Shell;

    let (sim, b) = ssh_sim_and_builder().await;
    let b = b.provisioner(Shell::inline([
        "echo first-err-line >&2",
        "echo 'disk is on fire' >&2",
        "exit 7",
    ]));
    let e = run(&b).await.unwrap_err();
    assert_failed_in(&e, "shell", "exited with status 7");
    match &e.cause {
        Error::CommandFailed {
            command,
            status,
            stderr_tail,
            ..
        } => {
            assert_eq!(*status, 7);
            assert!(command.contains("inline script"), "{command}");
            assert_eq!(
                stderr_tail.last().map(String::as_str),
                Some("disk is on fire"),
                "{stderr_tail:?}"
            );
        }
        other => panic!("not a command failure: {other}"),
    }
    assert!(e.to_string().contains("disk is on fire"), "{e}");
    assert!(
        e.cleanup.removed().any(|r| r.kind == "machine"),
        "{}",
        e.cleanup
    );
    assert_clean(&sim, None, "failing provisioner");
}

/// Ctrl-C while a create has been done but not answered (a slow or hung
/// CloudAPI: the answer comes after the runner's abort grace): the machine
/// or image is found by its build tag and deleted at once, the answer is
/// still awaited, and the report names what was removed.
#[tokio::test]
async fn ctrl_c_while_a_create_answers_late_removes_what_it_made() {
    let cases = [
        ("CreateMachine", "create machine", "machine"),
        ("CreateImageFromMachine", "create image", "image"),
    ];
    let runs = cases.iter().map(|&(op, step, kind)| async move {
        let sim = sim().await;
        sim.faults()
            .inject(op, Fault::LateAnswer(Duration::from_secs(3)), 1);
        let runner = Runner::new().abort_grace(Duration::from_secs(1));
        let s = sim.clone();
        let made = move || {
            let inv = s.inventory();
            match kind {
                "machine" => !inv.machines.is_empty(),
                _ => !inv.custom_images().is_empty(),
            }
        };
        let on_event = support::ctrl_c_once_made(step, made);
        let e = run_with(&builder(&sim, json!({})), runner, on_event)
            .await
            .expect_err(op);
        assert_clean(&sim, None, op);
        assert_eq!(e.step.as_deref(), Some(step), "{op}: {e}");
        support::assert_late_create_removed(&e, kind);
        assert_eq!(sim.faults().pending(op), 0, "{op}");
    });
    futures::future::join_all(runs).await;
}

/// A create still unanswered when its cleanup's time is up is reported as
/// possibly left (id unknown), never as "nothing to clean up"; what it had
/// made was still found by its build tag and deleted.
#[tokio::test]
async fn a_create_still_in_flight_after_the_undo_limit_is_reported_as_left() {
    let sim = sim().await;
    sim.faults().inject(
        "CreateMachine",
        Fault::LateAnswer(Duration::from_secs(5)),
        1,
    );
    let runner = Runner::new()
        .abort_grace(Duration::from_secs(1))
        .undo_timeout(Duration::from_secs(2));
    let s = sim.clone();
    let made = move || !s.inventory().machines.is_empty();
    let on_event = support::ctrl_c_once_made("create machine", made);
    let e = run_with(&builder(&sim, json!({})), runner, on_event)
        .await
        .unwrap_err();
    assert!(e.is_cancelled(), "{e}");
    let report = e.cleanup.to_string();
    let left: Vec<_> = e.cleanup.left().map(|l| l.resource.clone()).collect();
    assert_eq!(left.len(), 1, "{report}");
    assert_eq!(left[0].kind, "machine", "{report}");
    assert!(!left[0].has_id(), "{report}");
    assert!(report.contains("create in flight"), "{report}");
    assert!(e.to_string().contains("left behind"), "{e}");
    assert!(
        e.cleanup
            .removed()
            .any(|r| r.kind == "machine" && r.has_id()),
        "{report}"
    );
    assert_clean(&sim, None, "in flight after the undo limit");
}

#[tokio::test]
async fn force_replaces_the_image_of_the_same_name_once_the_new_one_is_active() {
    let sim = sim().await;
    let first = run(&builder(&sim, json!({}))).await.expect("first build");
    // A forced build that fails keeps the old image.
    sim.faults()
        .inject("CreateImageFromMachine", Fault::FailResource, 1);
    let e = run(&builder(&sim, json!({"packer_force": true})))
        .await
        .unwrap_err();
    assert_failed_in(&e, "wait image", "PrepareImageDidNotRun");
    assert_clean(&sim, Some(&first.image_id), "failed forced build");
    // A forced build skips the name check and deletes the old image only
    // after its own is active.
    let started = Arc::new(Mutex::new(Vec::new()));
    let s = started.clone();
    let b = builder(&sim, json!({"packer_force": true}));
    let second = run_with(&b, Runner::new(), move |e, _| {
        if let Event::StepStarted { step } = e {
            s.lock().unwrap().push(step.clone());
        }
    })
    .await
    .expect("forced build");
    assert_ne!(second.image_id, first.image_id);
    let mut want: Vec<&str> = STEPS
        .iter()
        .copied()
        .filter(|s| *s != "check image name")
        .collect();
    want.push("replace image");
    assert_eq!(*started.lock().unwrap(), want);
    assert_clean(&sim, Some(&second.image_id), "forced build");
    // An old image that cannot be deleted is kept; the build still succeeds.
    sim.faults().inject("DeleteImage", Fault::Status(500), 20);
    let third = run(&builder(&sim, json!({"packer_force": true})))
        .await
        .expect("forced build with a failing delete");
    let mut left: Vec<String> = sim
        .inventory()
        .custom_images()
        .iter()
        .map(|i| i.id.clone())
        .collect();
    left.sort();
    let mut want = vec![second.image_id.to_string(), third.image_id.to_string()];
    want.sort();
    assert_eq!(left, want);
}

#[tokio::test]
async fn documented_length_limits_are_checked_at_config_time() {
    let sim = sim().await;
    for (key, max) in [
        ("image_description", 512),
        ("image_homepage", 128),
        ("image_eula_url", 128),
    ] {
        let ok = TritonConfig::from_json(&block(&sim, json!({key: "x".repeat(max)}))).unwrap();
        TritonBuilder::new(ok).unwrap_or_else(|e| panic!("{key} at {max}: {e}"));
        let long =
            TritonConfig::from_json(&block(&sim, json!({key: "x".repeat(max + 1)}))).unwrap();
        let e = TritonBuilder::new(long).unwrap_err();
        assert_eq!(e.config_key(), Some(key), "{e}");
        assert!(e.to_string().contains(&format!("at most {max}")), "{e}");
    }
    assert_eq!(sim.request_count(), 0);
}
