//! `imagebake builds` and `imagebake cleanup` on the real binary: a build
//! killed with SIGKILL (no cleanup runs) against the in-process Triton
//! simulator, then its journal listed and replayed. Every run has its own
//! state directory (IMAGEBAKE_STATE_DIR and XDG_STATE_HOME in a temporary
//! directory, HOME too).

use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;

use imagebake_sim::triton::{TritonDelays, TritonSim, TritonSimOptions};

mod support;
use support::{command, triton_env, triton_template};

fn run(dir: &Path, args: &[&str], env: &[(&str, String)]) -> (Option<i32>, String, String) {
    let o: Output = command(dir, args, env).output().expect("imagebake runs");
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// A simulator whose machines provision for a minute.
async fn slow_sim() -> TritonSim {
    TritonSim::start(TritonSimOptions {
        delays: TritonDelays {
            provision: Duration::from_secs(60),
            ..TritonDelays::all(Duration::from_millis(5))
        },
        ..TritonSimOptions::default()
    })
    .await
    .expect("triton simulator starts")
}

/// A build of `sim` killed with SIGKILL while its machine provisions.
async fn killed_build(sim: &TritonSim, dir: &Path) {
    std::fs::write(
        dir.join("t.pkr.hcl"),
        triton_template(sim, "  communicator  = \"none\"", ""),
    )
    .unwrap();
    let mut child = command(dir, &["build", "t.pkr.hcl"], &[])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("imagebake starts");
    while sim.inventory().machines.is_empty() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_build_is_listed_crashed_and_cleanup_crashed_removes_its_machine() {
    let sim = slow_sim().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    tokio::task::block_in_place(|| {
        let (code, out, _) = run(d, &["builds"], &[]);
        assert_eq!(code, Some(0));
        assert!(out.contains("no builds journaled"), "{out}");
    });
    killed_build(&sim, d).await;
    assert_eq!(sim.inventory().machines.len(), 1);
    let journals: Vec<_> = std::fs::read_dir(d.join("state/builds")).unwrap().collect();
    assert_eq!(journals.len(), 1, "one journal, in IMAGEBAKE_STATE_DIR");
    assert!(!d.join("xdg").exists() && !d.join(".local").exists());

    tokio::task::block_in_place(|| {
        let (code, out, err) = run(d, &["builds"], &[]);
        assert_eq!(code, Some(0), "{err}");
        let line = out.lines().find(|l| l.starts_with("ib-")).expect(&out);
        let cols: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(cols[3], "crashed", "{out}");
        assert_eq!(cols[4], "1", "one machine pending: {out}");
        assert_eq!(cols[5], "triton", "{out}");
        let id = cols[0].to_owned();

        // Without credentials: not removed, said so, exit 1.
        let (code, out, _) = run(d, &["cleanup", "--crashed"], &[]);
        assert_eq!(code, Some(1), "{out}");
        assert!(out.contains("NOT removed machine"), "{out}");
        assert!(out.contains("no credentials for triton"), "{out}");
        assert_eq!(sim.inventory().machines.len(), 1);

        // A dry run lists it and changes nothing.
        let env = triton_env(&sim);
        let (code, out, err) = run(d, &["cleanup", "--crashed", "--dry-run"], &env);
        assert_eq!(code, Some(0), "{out}{err}");
        assert!(out.contains("would remove machine"), "{out}");
        assert_eq!(sim.inventory().machines.len(), 1);

        let (code, out, err) = run(d, &["cleanup", &id], &env);
        assert_eq!(code, Some(0), "{out}{err}");
        assert!(out.contains(&format!("==> {id}")), "{out}");
        assert!(out.contains("removed machine"), "{out}");
        assert!(sim.inventory().machines.is_empty());

        let (_, out, _) = run(d, &["builds"], &[]);
        assert!(out.contains(" cleaned "), "{out}");
        let (code, out, _) = run(d, &["cleanup", "--crashed"], &env);
        assert_eq!(code, Some(0));
        assert!(out.contains("no crashed builds"), "{out}");
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cleanup_with_the_template_s_credentials() {
    let sim = slow_sim().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    killed_build(&sim, d).await;
    tokio::task::block_in_place(|| {
        let (code, out, err) = run(d, &["cleanup", "-crashed", "-template", "t.pkr.hcl"], &[]);
        assert_eq!(code, Some(0), "{out}{err}");
        assert!(out.contains("removed machine"), "{out}");
    });
    assert!(sim.inventory().machines.is_empty());
}

#[test]
fn cleanup_needs_builds_or_crashed_and_knows_its_builds() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = run(dir.path(), &["cleanup"], &[]);
    assert_eq!(code, Some(1));
    assert!(err.contains("--crashed"), "{err}");
    let (code, _, err) = run(dir.path(), &["cleanup", "ib-0123456789"], &[]);
    assert_eq!(code, Some(1));
    assert!(err.contains("no journal of build ib-0123456789"), "{err}");
    let (code, out, _) = run(dir.path(), &["builds", "--prune"], &[]);
    assert_eq!(code, Some(0));
    assert!(out.contains("pruned 0"), "{out}");
}
