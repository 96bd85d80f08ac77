//! What the tests that spawn `imagebake` with a state directory share:
//! the command with a clean environment, a Triton template and its
//! credentials in the environment, and the crash tests' kill of a running
//! build, cleanup and journal state checks.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use imagebake_sim::triton::TritonSim;

/// The `imagebake` binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_imagebake");

/// The binary in `dir` with a clean environment whose state directory is
/// `dir/state`, plus `env`.
pub fn command(dir: &Path, args: &[&str], env: &[(&str, String)]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args)
        .current_dir(dir)
        .env_clear()
        .env("HOME", dir)
        .env("XDG_STATE_HOME", dir.join("xdg"))
        .env("IMAGEBAKE_STATE_DIR", dir.join("state"))
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    for (k, v) in env {
        c.env(k, v);
    }
    c
}

/// A `triton` template against `sim` (HCL2), with `comm` lines in the
/// source and `provisioner` blocks in the build.
pub fn triton_template(sim: &TritonSim, comm: &str, provisioner: &str) -> String {
    format!(
        r#"source "triton" "web" {{
  triton_url             = "{url}"
  triton_account         = "{account}"
  triton_key_id          = "{key_id}"
  triton_key_material    = "{key}"
  source_machine_package = "g1.small"
  source_machine_image_filter {{
    name        = "base-64-lts"
    most_recent = true
  }}
  image_name    = "web"
  image_version = "1.0.0"
  poll_cap      = "10ms"
{comm}
}}
build {{
  sources = ["source.triton.web"]
{provisioner}
}}
"#,
        account = sim.account(),
        url = sim.url(),
        key_id = sim.key_id(),
        key = sim.private_key_path().display(),
    )
}

/// The simulator's credentials as `TRITON_*` variables.
pub fn triton_env(sim: &TritonSim) -> Vec<(&'static str, String)> {
    vec![
        ("TRITON_URL", sim.url()),
        ("TRITON_ACCOUNT", sim.account().to_owned()),
        ("TRITON_KEY_ID", sim.key_id().to_owned()),
        (
            "TRITON_KEY_MATERIAL",
            sim.private_key_path().display().to_string(),
        ),
    ]
}

// ------------------------------------------------------------ crash tests

/// How long a kill point is held (by a simulator or a held host
/// command): far longer than any test.
pub const HOLD: Duration = Duration::from_secs(300);

/// Where a build is killed.
pub enum KillAt<'a> {
    /// When stdout shows a line containing this text (a `==> NAME: STEP...`
    /// progress line of a step the simulator holds, or a provisioner's
    /// output).
    Line(&'static str),
    /// When this observation of the simulator holds (a held create was
    /// received and done).
    Observed(&'a dyn Fn() -> bool),
}

/// Starts `imagebake build t.pkr.hcl` in `dir` (with `template` written
/// there), kills it with SIGKILL at `at`, and returns what it printed.
pub fn killed_build(dir: &Path, template: &str, at: KillAt<'_>) -> String {
    std::fs::write(dir.join("t.pkr.hcl"), template).unwrap();
    let stderr = std::fs::File::create(dir.join("build.stderr")).unwrap();
    let mut child = command(dir, &["build", "t.pkr.hcl"], &[])
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("imagebake starts");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let reached = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break false;
        }
        match &at {
            KillAt::Line(text) => match rx.recv_timeout(left) {
                Ok(line) => {
                    let hit = line.contains(text);
                    seen.push(line);
                    if hit {
                        break true;
                    }
                }
                Err(_) => break false,
            },
            KillAt::Observed(holds) => {
                while let Ok(line) = rx.try_recv() {
                    seen.push(line);
                }
                if holds() {
                    break true;
                }
                // Polls the simulator's state, which the held fault keeps.
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    };
    kill(&mut child);
    reader.join().expect("reader");
    seen.extend(rx.try_iter());
    let out = seen.join("\n");
    assert!(
        reached,
        "the kill point was not reached; the build printed:\n{out}\n{}",
        std::fs::read_to_string(dir.join("build.stderr")).unwrap_or_default()
    );
    out
}

pub fn kill(child: &mut Child) {
    // `Child::kill` sends SIGKILL on Unix.
    let _ = child.kill();
    let status = child.wait().expect("reaped");
    assert!(
        std::os::unix::process::ExitStatusExt::signal(&status) == Some(9)
            || status.code().is_some(),
        "{status:?}"
    );
}

/// `imagebake cleanup --crashed` with `env` (and `args`): its output; it
/// must succeed.
pub fn cleanup_crashed(dir: &Path, args: &[&str], env: &[(&str, String)]) -> String {
    let mut all = vec!["cleanup", "--crashed"];
    all.extend(args);
    let o = command(dir, &all, env).output().expect("cleanup runs");
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(o.status.code(), Some(0), "cleanup failed:\n{out}");
    out
}

/// Waits (up to 30 s) for `done` to hold: deletes the cleanup sent finish
/// after the simulator's delete delay.
pub fn eventually(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The build's journal is `crashed` after the kill and `cleaned` after
/// cleanup.
pub fn assert_state(dir: &Path, state: &str) {
    let o = command(dir, &["builds"], &[])
        .output()
        .expect("builds runs");
    let out = String::from_utf8_lossy(&o.stdout);
    let line = out.lines().find(|l| l.starts_with("ib-")).expect(&out);
    assert_eq!(
        line.split_whitespace().nth(3),
        Some(state),
        "imagebake builds:\n{out}"
    );
}
