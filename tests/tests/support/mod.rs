//! Helpers shared by the builder test binaries (each includes this with
//! `mod support;` and uses a part of it).
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use imagebake_core::{BuildError, CancellationToken, Event, FnObserver, Runner};
use serde_json::Value;

/// `n` milliseconds.
pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// `base` with the keys of `extra` set; a null value removes the key.
pub fn merged(mut base: Value, extra: Value) -> Value {
    for (k, x) in extra.as_object().expect("object") {
        if x.is_null() {
            base.as_object_mut().expect("object").remove(k);
        } else {
            base[k] = x.clone();
        }
    }
    base
}

/// A port nothing listens on (SSH that never comes up).
pub fn dead_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// `runner` with observer `on_event` (which may cancel the build), and the
/// build's token.
pub fn observed(
    runner: Runner,
    on_event: impl Fn(&Event, &CancellationToken) + Send + Sync + 'static,
) -> (Runner, CancellationToken) {
    let token = CancellationToken::new();
    let t = token.clone();
    let runner = runner.observer(Arc::new(FnObserver(move |e: &Event| on_event(e, &t))));
    (runner, token)
}

/// The error names its step and cause, and the cleanup left nothing.
pub fn assert_failed_in(e: &BuildError, step: &str, cause: &str) {
    assert_eq!(e.step.as_deref(), Some(step), "{e}");
    let text = e.to_string();
    assert!(text.contains(&format!("in step `{step}`")), "{text}");
    assert!(text.contains(cause), "want {cause:?} in: {text}");
    assert!(e.cleanup.is_clean(), "{}", e.cleanup);
}

/// Cancels `token` as soon as `ready` says so (polled every 10 ms on a task
/// of its own): Ctrl-C at a moment defined by the simulator's state, such as
/// "the create has been done but not answered".
pub fn cancel_when<F, Fut>(token: CancellationToken, ready: F)
where
    F: Fn() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    tokio::spawn(async move {
        while !ready().await {
            tokio::time::sleep(ms(10)).await;
        }
        token.cancel();
    });
}

/// An observer (for [`observed`]) that cancels the build once step `step`
/// has started and `made` says its create has been done (the simulator
/// holds the resource).
pub fn ctrl_c_once_made(
    step: &'static str,
    made: impl Fn() -> bool + Send + Sync + 'static,
) -> impl Fn(&Event, &CancellationToken) + Send + Sync + 'static {
    let made = Arc::new(made);
    move |e, token| {
        if matches!(e, Event::StepStarted { step: s } if s == step) {
            let made = made.clone();
            cancel_when(token.clone(), move || {
                let m = made();
                async move { m }
            });
        }
    }
}

/// A build cancelled while the create of a `kind` resource had been done
/// but not answered: its report removed that resource (by its real id),
/// leaves nothing, and never says "nothing to clean up".
pub fn assert_late_create_removed(e: &BuildError, kind: &str) {
    assert!(e.is_cancelled(), "{e}");
    let report = e.cleanup.to_string();
    assert!(e.cleanup.is_clean(), "{report}");
    assert!(!report.contains("nothing to clean up"), "{report}");
    assert!(
        e.cleanup.removed().any(|r| r.kind == kind && r.has_id()),
        "no {kind} removed: {report}"
    );
}

/// A Triton simulator whose machines run real SSH (the test needs root,
/// overlayfs, OpenSSH and busybox: `#[needs_root]` and
/// `scripts/test-deps.sh`), with 5 ms delays.
pub async fn triton_ssh_sim() -> Arc<imagebake_sim::triton::TritonSim> {
    use imagebake_sim::machine::{SshMode, check_support};
    use imagebake_sim::triton::{TritonDelays, TritonSim, TritonSimOptions};

    if let Err(why) = check_support() {
        panic!("simulated machines cannot run SSH here: {why}");
    }
    Arc::new(
        TritonSim::start(TritonSimOptions {
            delays: TritonDelays::all(ms(5)),
            ssh: SshMode::On,
            ..TritonSimOptions::default()
        })
        .await
        .expect("simulator with SSH machines starts"),
    )
}

/// A `triton` builder block holding only `sim`'s endpoint and credentials.
pub fn triton_credentials(sim: &imagebake_sim::triton::TritonSim) -> Value {
    serde_json::json!({
        "type": "triton",
        "triton_url": sim.url(),
        "triton_account": sim.account(),
        "triton_key_id": sim.key_id(),
        "triton_key_material": sim.private_key_path().to_str().unwrap(),
    })
}

/// Evaluates the Packer JSON template `template` (written to a file in a
/// new temporary directory) with `env` as the environment.
pub async fn plan_json(
    template: &Value,
    env: std::collections::BTreeMap<String, String>,
) -> Result<imagebake_core::template::Plan, imagebake_core::template::TemplateError> {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("template.json");
    std::fs::write(&path, serde_json::to_vec_pretty(template).unwrap()).expect("write");
    plan_file(&path, env).await
}

/// Evaluates the template at `path` with `env` as the environment.
pub async fn plan_file(
    path: &std::path::Path,
    env: std::collections::BTreeMap<String, String>,
) -> Result<imagebake_core::template::Plan, imagebake_core::template::TemplateError> {
    let opts = imagebake_core::template::Options {
        env,
        cwd: std::env::current_dir().expect("cwd"),
        ..Default::default()
    };
    imagebake_core::template::plan(path, &opts, &imagebake_core::template::Placeholders).await
}

/// An `osc-chroot` block for `sim` with its work files under `dir`: the
/// seed's whole-disk ext4 root from the newest `Debian-12-*` image (the
/// `copy_files` default dropped where the host has no `/etc/resolv.conf`).
pub fn osc_chroot_block(sim: &imagebake_sim::osc::OscSim, dir: &std::path::Path) -> Value {
    let mut v = serde_json::json!({
        "type": "osc-chroot",
        "access_key": sim.access_key(),
        "secret_key": sim.secret_key(),
        "region": sim.region(),
        "custom_endpoint_oapi": sim.endpoint(),
        "metadata_url": sim.metadata_url(),
        "device_dir": sim.dev_dir(),
        "device_lock_path": dir.join("device.lock"),
        "mount_path": format!("{}/mnt/{{{{.Device}}}}", dir.display()),
        "mount_partition": "0",
        "source_omi_filter": {
            "filters": {"image-name": "Debian-12-*"},
            "owners": ["Outscale"],
            "most_recent": true
        },
        "poll_cap": "20ms",
    });
    if !std::path::Path::new("/etc/resolv.conf").exists() {
        v["copy_files"] = serde_json::json!([]);
    }
    v
}

/// Runs `cmd` with `sh -c`; its standard output (a failure panics).
pub fn sh(cmd: &str) -> String {
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .output()
        .expect("sh");
    assert!(
        out.status.success(),
        "`{cmd}` failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Nothing of the test (paths under `dir`) is mounted or loop-attached.
pub fn assert_nothing_left(dir: &std::path::Path) {
    let d = dir.to_string_lossy();
    let mounts = std::fs::read_to_string("/proc/self/mounts").expect("mounts");
    let ours: Vec<&str> = mounts.lines().filter(|l| l.contains(d.as_ref())).collect();
    assert!(ours.is_empty(), "mounts left: {ours:?}");
    let loops = sh("losetup -a");
    let ours: Vec<&str> = loops.lines().filter(|l| l.contains(d.as_ref())).collect();
    assert!(ours.is_empty(), "loop devices left: {ours:?}");
}
