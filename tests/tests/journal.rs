//! The persistent build journal against the in-process simulators: a build
//! is stopped at a point by aborting its task (no cleanup runs: a crash as
//! the journal sees it), then `journal::cleanup` replays the journal and
//! the simulator's inventory is empty.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use imagebake_core::builders::Builder;
use imagebake_core::builders::triton::{TritonBuilder, TritonConfig, TritonSweeper};
use imagebake_core::journal::{
    self, BuildState, CleanupOptions, Journal, Journaling, Record, Scope,
};
use imagebake_core::triton_client::{Backoff, RetryPolicy};
use imagebake_core::{CancellationToken, Error, Event, Runner, Sweeper};
use imagebake_sim::Fault;
use imagebake_sim::triton::{TritonDelays, TritonSim, TritonSimOptions};
use serde_json::json;
use tokio::sync::mpsc;

mod support;
use support::{merged, ms, observed};

async fn triton_sim() -> Arc<TritonSim> {
    Arc::new(
        TritonSim::start(TritonSimOptions {
            delays: TritonDelays::all(ms(5)),
            ..TritonSimOptions::default()
        })
        .await
        .expect("simulator starts"),
    )
}

fn triton_builder(sim: &TritonSim) -> TritonBuilder {
    let block = merged(
        support::triton_credentials(sim),
        json!({
            "source_machine_package": "g1.small",
            "source_machine_image": "e44ed3e0-910b-11ee-b2d6-0b4f7a3c2301",
            "image_name": "journal-test",
            "image_version": "1.0.0",
            "communicator": "none",
            "state_timeout": "30s",
            "image_timeout": "30s",
            "poll_cap": "10ms",
        }),
    );
    let config = TritonConfig::from_json(&block).expect("config decodes");
    TritonBuilder::new(config)
        .expect("config is valid")
        .retry_policy(RetryPolicy {
            max_attempts: 4,
            backoff: Backoff::new(ms(2), ms(10)),
        })
        .expect("client")
}

/// Runs `b` journaled in `dir` on a task of its own, and aborts that task
/// (its cleanup never runs) once `at` is true of an event and `ready` of
/// the moment after it. Returns the build's journal.
async fn crash<B: Builder>(
    b: Arc<B>,
    dir: &Path,
    at: impl Fn(&Event) -> bool + Send + Sync + 'static,
    ready: impl AsyncFn() -> bool,
) -> Journal {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let runner = Runner::new().journal(Journaling::in_dir(dir));
    let (runner, token) = observed(runner, move |e, _| {
        if at(e) {
            let _ = tx.send(());
        }
    });
    let task = tokio::spawn(async move { b.run(&runner, token).await.map(drop) });
    rx.recv().await.expect("the build reaches the crash point");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !ready().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "never ready to crash"
        );
        tokio::time::sleep(ms(5)).await;
    }
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());
    let journals = journal::read_dir(dir);
    assert_eq!(journals.len(), 1);
    journals.into_iter().next().unwrap().expect("journal reads")
}

/// Makes the journal's process look gone: its recorded start time no
/// longer matches this process (as after a crash and a pid reuse).
fn as_if_dead(j: &Journal) -> Journal {
    let text = std::fs::read_to_string(j.path()).unwrap();
    let (first, rest) = text.split_once('\n').unwrap();
    let mut start: serde_json::Value = serde_json::from_str(first).unwrap();
    start["pid_start"] = json!(1);
    std::fs::write(j.path(), format!("{start}\n{rest}")).unwrap();
    Journal::open(j.path()).unwrap()
}

fn triton_sweepers(
    b: &TritonBuilder,
) -> impl Fn(&Scope) -> Result<Box<dyn Sweeper>, Error> + Send + Sync + use<> {
    let (client, want) = (b.client().clone(), b.scope().expect("triton has a scope"));
    move |scope: &Scope| {
        assert_eq!(scope, &want, "the journal records the builder's scope");
        Ok(
            Box::new(TritonSweeper::new(client.clone()).waits(Duration::from_secs(30), ms(10)))
                as Box<dyn Sweeper>,
        )
    }
}

async fn cleanup_crashed(dir: &Path, sweepers: &dyn journal::Sweepers) -> journal::BuildCleanup {
    let options = CleanupOptions {
        crashed: true,
        ..CleanupOptions::default()
    };
    let mut done = journal::cleanup(dir, &options, sweepers, &CancellationToken::new())
        .await
        .expect("cleanup runs");
    assert_eq!(done.len(), 1, "{done:?}");
    let done = done.remove(0);
    assert!(done.is_clean(), "{done:?}\n{}", done.report);
    done
}

fn step_started(name: &'static str) -> impl Fn(&Event) -> bool + Send + Sync {
    move |e| matches!(e, Event::StepStarted { step } if step == name)
}

#[tokio::test]
async fn triton_crash_in_wait_image_then_cleanup_removes_machine_and_image() {
    let sim = triton_sim().await;
    let dir = tempfile::tempdir().unwrap();
    let b = Arc::new(triton_builder(&sim));
    let j = crash(
        b.clone(),
        dir.path(),
        step_started("wait image"),
        async || true,
    )
    .await;
    assert_eq!(j.state(), BuildState::Running, "this process still runs");
    let inv = sim.inventory();
    assert_eq!((inv.machines.len(), inv.custom_images().len()), (1, 1));
    let kinds: Vec<(String, bool)> = j
        .pending()
        .iter()
        .map(|p| (p.kind.clone(), p.id.is_some()))
        .collect();
    assert_eq!(
        kinds,
        [("machine".to_owned(), true), ("image".to_owned(), true)]
    );

    // A running build is refused by name, and not selected by --crashed.
    let sweepers = triton_sweepers(&b);
    let options = CleanupOptions {
        build_ids: vec![j.build_id().to_owned()],
        ..CleanupOptions::default()
    };
    let done = journal::cleanup(dir.path(), &options, &sweepers, &CancellationToken::new())
        .await
        .unwrap();
    assert!(
        done[0]
            .refused
            .as_deref()
            .unwrap()
            .contains("still running")
    );
    assert_eq!(sim.inventory().machines.len(), 1);

    let j = as_if_dead(&j);
    assert_eq!(j.state(), BuildState::Crashed);
    let done = cleanup_crashed(dir.path(), &sweepers).await;
    assert_eq!(done.report.removed().count(), 2, "{}", done.report);
    let inv = sim.inventory();
    assert!(inv.machines.is_empty(), "{:?}", inv.machines);
    assert!(inv.custom_images().is_empty(), "{:?}", inv.custom_images());
    let j = Journal::open(j.path()).unwrap();
    assert_eq!(j.state(), BuildState::Cleaned);
    assert!(j.pending().is_empty());
    assert!(matches!(
        j.records().last(),
        Some(Record::Cleaned { left: 0, .. })
    ));
}

#[tokio::test]
async fn triton_crash_with_the_create_unanswered_adopts_the_machine_by_tag() {
    let sim = triton_sim().await;
    sim.faults().inject(
        "CreateMachine",
        Fault::LateAnswer(Duration::from_secs(3)),
        1,
    );
    let dir = tempfile::tempdir().unwrap();
    let b = Arc::new(triton_builder(&sim));
    let s = sim.clone();
    let j = crash(
        b.clone(),
        dir.path(),
        step_started("create machine"),
        async || !s.inventory().machines.is_empty(),
    )
    .await;
    let pending = j.pending();
    assert_eq!(pending.len(), 1, "{pending:?}");
    assert_eq!(
        (pending[0].kind.as_str(), pending[0].id.as_deref()),
        ("machine", None)
    );

    as_if_dead(&j);
    let done = cleanup_crashed(dir.path(), &triton_sweepers(&b)).await;
    assert_eq!(done.report.removed().count(), 1, "{}", done.report);
    assert!(sim.inventory().machines.is_empty());
}

#[tokio::test]
async fn a_finished_build_is_journaled_to_its_end_and_left_alone() {
    let sim = triton_sim().await;
    let dir = tempfile::tempdir().unwrap();
    let b = triton_builder(&sim);
    let runner = Runner::new().journal(Journaling::in_dir(dir.path()));
    let artifact = b
        .run(&runner, CancellationToken::new())
        .await
        .expect("build");
    let builds = journal::list_builds(dir.path());
    assert_eq!(builds.len(), 1);
    assert_eq!(builds[0].build_id, artifact.build_id.as_str());
    assert_eq!(builds[0].state, BuildState::Finished);
    assert_eq!(builds[0].builders, ["triton"]);
    // The image is the build's result: committed, not pending.
    assert_eq!(builds[0].pending, 0);
    let j = Journal::open(&builds[0].path).unwrap();
    assert!(matches!(j.records().last(), Some(Record::End { outcome }) if outcome == "ok"));
    // --crashed does not select it; nothing is touched.
    let options = CleanupOptions {
        crashed: true,
        ..CleanupOptions::default()
    };
    let done = journal::cleanup(
        dir.path(),
        &options,
        &triton_sweepers(&b),
        &CancellationToken::new(),
    )
    .await
    .unwrap();
    assert!(done.is_empty());
    assert_eq!(sim.inventory().custom_images().len(), 1);
    // No secret in the file: the key material and its path are not there.
    let text = std::fs::read_to_string(&builds[0].path).unwrap();
    let key = std::fs::read_to_string(sim.private_key_path()).unwrap();
    let key_line = key.lines().nth(1).unwrap();
    assert!(!text.contains(key_line));
    assert!(!text.contains(sim.private_key_path().to_str().unwrap()));
}

mod oxide {
    use super::*;
    use imagebake_core::builders::oxide::{OxideBuilder, OxideConfig};
    use imagebake_core::oxide_client::{Backoff, RetryPolicy};
    use imagebake_sim::oxide::{OxideDelays, OxideSim, OxideSimOptions};

    const SEED_IMAGES: [&str; 3] = ["debian-12", "ubuntu-24-04", "alpine-3-20"];

    async fn sim() -> Arc<OxideSim> {
        Arc::new(
            OxideSim::start(OxideSimOptions {
                delays: OxideDelays {
                    instance_start: ms(5),
                    instance_stop: ms(5),
                },
                ..OxideSimOptions::default()
            })
            .await
            .expect("simulator starts"),
        )
    }

    fn builder(sim: &OxideSim) -> OxideBuilder {
        let config = OxideConfig::from_json(&json!({
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
        }))
        .expect("config decodes");
        OxideBuilder::new(config)
            .expect("config is valid")
            .retry_policy(RetryPolicy {
                max_attempts: 4,
                backoff: Backoff::new(ms(2), ms(10)),
            })
            .expect("client")
    }

    /// The builder's own sweeper, for the scope the journal recorded.
    fn sweepers(
        b: Arc<OxideBuilder>,
    ) -> impl Fn(&Scope) -> Result<Box<dyn Sweeper>, Error> + Send + Sync {
        move |scope: &Scope| {
            assert_eq!(Some(scope), b.scope().as_ref(), "the builder's scope");
            Ok(b.sweeper().expect("oxide has a sweeper"))
        }
    }

    /// No instance, disk, snapshot, key or image of the build is left.
    fn assert_empty(sim: &OxideSim, case: &str) {
        let inv = sim.inventory();
        assert!(inv.instances.is_empty(), "{case}: {:?}", inv.instances);
        assert!(inv.disks.is_empty(), "{case}: {:?}", inv.disks);
        assert!(inv.snapshots.is_empty(), "{case}: {:?}", inv.snapshots);
        assert!(inv.ssh_keys.is_empty(), "{case}: {:?}", inv.ssh_keys);
        let images: Vec<_> = inv
            .images
            .iter()
            .filter(|i| !SEED_IMAGES.contains(&i.name.as_str()))
            .collect();
        assert!(images.is_empty(), "{case}: {images:?}");
    }

    /// Crashes at `step` (once `ready`), then cleans up.
    async fn crash_and_clean(
        step: &'static str,
        late: Option<&str>,
        ready: impl AsyncFn(&OxideSim) -> bool,
    ) -> journal::BuildCleanup {
        let sim = sim().await;
        if let Some(op) = late {
            sim.faults()
                .inject(op, Fault::LateAnswer(Duration::from_secs(3)), 1);
        }
        let dir = tempfile::tempdir().unwrap();
        let b = Arc::new(builder(&sim));
        let s = sim.clone();
        let j = crash(b.clone(), dir.path(), step_started(step), async || {
            ready(&s).await
        })
        .await;
        assert!(!j.pending().is_empty(), "{step}: something is pending");
        as_if_dead(&j);
        let done = cleanup_crashed(dir.path(), &sweepers(b)).await;
        assert_empty(&sim, step);
        done
    }

    #[tokio::test]
    async fn crash_in_wait_stopped_then_cleanup_removes_instance_and_disk() {
        crash_and_clean("wait stopped", None, async |s: &OxideSim| {
            !s.inventory().instances.is_empty()
        })
        .await;
    }

    #[tokio::test]
    async fn crash_with_the_snapshot_create_unanswered_adopts_it_by_name() {
        crash_and_clean(
            "create snapshot",
            Some("snapshot_create"),
            async |s: &OxideSim| !s.inventory().snapshots.is_empty(),
        )
        .await;
    }

    #[tokio::test]
    async fn crash_with_the_image_create_unanswered_adopts_it_by_name() {
        let done = crash_and_clean(
            "create image",
            Some("image_create"),
            async |s: &OxideSim| s.inventory().images.len() > SEED_IMAGES.len(),
        )
        .await;
        assert!(
            done.report
                .removed()
                .any(|r| r.kind == "image" && r.has_id()),
            "{}",
            done.report
        );
    }
}

/// The chroot builders as root: a build aborted inside its provisioner
/// (loop device attached, root and extra mounts, working copy, copied
/// files), then the cleanup: no loop device or mount left.
mod chroot {
    use super::*;
    use imagebake_core::builders::local_chroot::{LocalChrootBuilder, LocalChrootConfig};
    use imagebake_core::builders::osc_chroot::{OscChrootBuilder, OscChrootConfig};
    use imagebake_core::provision::Shell;
    use imagebake_sim::osc::{OscDelays, OscSim, OscSimOptions};
    use imagebake_testing::needs_root;
    use support::assert_nothing_left;

    const APPLETS: &[&str] = &["sh", "sleep", "echo", "mkdir", "true"];

    /// Sweepers that must not be asked (everything is on this host).
    fn no_cloud(scope: &Scope) -> Result<Box<dyn Sweeper>, Error> {
        panic!("no cloud sweeper needed, asked for {scope}")
    }

    #[needs_root("loop devices, mount, chroot")]
    #[tokio::test]
    async fn local_chroot_crash_in_the_provisioner_then_cleanup_detaches_and_unmounts() {
        let dir = tempfile::tempdir().unwrap();
        let tree = dir.path().join("tree");
        imagebake_testing::busybox_tree(&tree, APPLETS, &["proc", "sys", "dev"]);
        let out = dir.path().join("out.raw");
        let config = LocalChrootConfig::from_json(&json!({
            "type": "local-chroot",
            "mount_path": format!("{}/mnt/{{{{.Device}}}}", dir.path().display()),
            "from_scratch": true,
            "image_size": "64M",
            "rootfs_dir": tree,
            "output_path": out,
        }))
        .expect("config decodes");
        let b = Arc::new(
            LocalChrootBuilder::new(config)
                .unwrap()
                .provisioner(Shell::inline(["sleep 30"])),
        );
        let jdir = dir.path().join("journal");
        let j = crash(b, &jdir, step_started("shell"), async || true).await;
        let kinds: std::collections::BTreeSet<String> =
            j.pending().into_iter().map(|p| p.kind).collect();
        assert!(
            kinds.contains("loop device") && kinds.contains("mount"),
            "{kinds:?}"
        );
        as_if_dead(&j);
        let done = cleanup_crashed(&jdir, &no_cloud).await;
        assert!(
            done.report.removed().any(|r| r.kind == "loop device"),
            "{}",
            done.report
        );
        assert_nothing_left(dir.path());
        let work: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".raw"))
            .collect();
        assert!(work.is_empty(), "image files left: {work:?}");
    }

    #[needs_root("loop devices, mount, chroot")]
    #[tokio::test]
    async fn osc_chroot_crash_in_the_provisioner_then_cleanup_empties_the_simulator() {
        let sim = Arc::new(
            OscSim::start(OscSimOptions {
                delays: OscDelays::uniform(ms(5)),
                ..OscSimOptions::default()
            })
            .await
            .expect("simulator starts"),
        );
        let dir = tempfile::tempdir().unwrap();
        let mut block = support::osc_chroot_block(&sim, dir.path());
        block["omi_name"] = json!("journal-{{timestamp}}");
        // Busybox into the seed root, so that the provisioner can sleep.
        block["post_mount_commands"] = json!([format!(
            "mkdir -p {{{{.MountPath}}}}/bin && cp /bin/busybox {{{{.MountPath}}}}/bin/busybox \
             && for a in {}; do ln -sf busybox {{{{.MountPath}}}}/bin/$a; done",
            APPLETS.join(" ")
        )]);
        let config = OscChrootConfig::from_json(&block).expect("config decodes");
        let b = Arc::new(
            OscChrootBuilder::new(config)
                .unwrap()
                .provisioner(Shell::inline(["sleep 30"])),
        );
        let jdir = dir.path().join("journal");
        let j = crash(b.clone(), &jdir, step_started("shell"), async || true).await;
        let kinds: std::collections::BTreeSet<String> =
            j.pending().into_iter().map(|p| p.kind).collect();
        assert!(
            kinds.contains("volume") && kinds.contains("mount"),
            "{kinds:?}"
        );
        as_if_dead(&j);
        let sweepers = move |scope: &Scope| {
            assert_eq!(Some(scope), b.scope().as_ref());
            Ok(b.sweeper().expect("osc has a sweeper"))
        };
        cleanup_crashed(&jdir, &sweepers).await;
        let inv = sim.inventory().await;
        assert!(inv.volumes.is_empty(), "{inv:?}");
        assert!(
            inv.links.is_empty() && inv.loop_devices.is_empty(),
            "{inv:?}"
        );
        assert_nothing_left(dir.path());
    }
}
