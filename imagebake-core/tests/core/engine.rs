//! The step engine against a mocked cloud.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use imagebake_core::{
    BuildError, BuildId, CancellationToken, ChannelObserver, Cleanup, CleanupOutcome, Error, Event,
    OnError, Poll, Resource, Runner, Step, StepCx, StepOutcome, UndoOutcome, UndoWhen, WaitOptions,
    from_fn,
};
use mockall::predicate::eq;
use mockall::{Sequence, automock};

use crate::support::drain;

/// The slice of a cloud API the engine tests need.
#[automock]
#[async_trait]
pub trait Cloud: Send + Sync {
    /// Creates a resource of `kind` and returns its id.
    async fn create(&self, kind: &str) -> Result<String, Error>;
    /// Deletes a resource.
    async fn delete(&self, id: &str) -> Result<(), Error>;
}

/// A step that creates a `kind` resource and registers its undo at once.
fn create(
    cloud: &Arc<MockCloud>,
    kind: &'static str,
    when: UndoWhen,
) -> impl Step<(), Out = String> {
    let cloud = cloud.clone();
    from_fn(format!("create {kind}"), move |cx: StepCx, (): ()| {
        let cloud = cloud.clone();
        async move {
            let id = cloud.create(kind).await?;
            let (c, del) = (cloud.clone(), id.clone());
            let undo = move |_| async move { c.delete(&del).await };
            let res = Resource::new(kind, &id);
            match when {
                UndoWhen::Always => cx.defer(res, undo),
                UndoWhen::OnFailure => cx.on_failure(res, undo),
            };
            Ok(id)
        }
    })
}

fn explode() -> impl Step<(), Out = ()> {
    from_fn("explode", |_cx: StepCx, (): ()| async {
        Err::<(), _>(Error::Config("boom".into()))
    })
}

/// A cloud that hands out `key k-1`, `machine m-1`, `disk d-1`.
fn cloud_with_creates() -> MockCloud {
    let mut cloud = MockCloud::new();
    cloud.expect_create().returning(|kind| {
        Ok(match kind {
            "ssh key" => "k-1",
            "machine" => "m-1",
            _ => "d-1",
        }
        .to_owned())
    });
    cloud
}

/// Key and machine always undone, disk only on failure; optionally a failing
/// last step.
async fn three_resources(
    runner: &Runner,
    cloud: &Arc<MockCloud>,
    fail: bool,
) -> Result<String, BuildError> {
    let (key, machine, disk) = (
        create(cloud, "ssh key", UndoWhen::Always),
        create(cloud, "machine", UndoWhen::Always),
        create(cloud, "disk", UndoWhen::OnFailure),
    );
    runner
        .run("test", CancellationToken::new(), |cx| async move {
            cx.step(&key, ()).await?;
            cx.step(&machine, ()).await?;
            let disk = cx.step(&disk, ()).await?;
            if fail {
                cx.step(&explode(), ()).await?;
            }
            Ok(disk)
        })
        .await
        .map(|b| b.value)
}

fn ids(report: &imagebake_core::CleanupReport) -> Vec<&str> {
    report
        .entries
        .iter()
        .map(|e| e.resource.id.as_str())
        .collect()
}

#[tokio::test]
async fn undos_run_newest_first_when_a_step_fails() {
    let mut cloud = cloud_with_creates();
    let mut seq = Sequence::new();
    for id in ["d-1", "m-1", "k-1"] {
        cloud
            .expect_delete()
            .with(eq(id))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(()));
    }
    let cloud = Arc::new(cloud);
    let err = three_resources(&Runner::new(), &cloud, true)
        .await
        .unwrap_err();
    assert_eq!(err.step.as_deref(), Some("explode"));
    assert!(
        matches!(err.cause, Error::Config(ref m) if m == "boom"),
        "{err}"
    );
    assert_eq!(ids(&err.cleanup), ["d-1", "m-1", "k-1"]);
    assert!(
        err.cleanup
            .entries
            .iter()
            .all(|e| matches!(e.outcome, CleanupOutcome::Removed))
    );
    assert!(err.cleanup.is_clean());
    assert_eq!(err.cleanup.entries[0].when, UndoWhen::OnFailure);
}

#[tokio::test]
async fn success_runs_only_the_always_undos() {
    let mut cloud = cloud_with_creates();
    let mut seq = Sequence::new();
    for id in ["m-1", "k-1"] {
        cloud
            .expect_delete()
            .with(eq(id))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(()));
    }
    cloud.expect_delete().with(eq("d-1")).never();
    let cloud = Arc::new(cloud);
    let runner = Runner::new();
    let announced = runner.id();
    let (key, machine, disk) = (
        create(&cloud, "ssh key", UndoWhen::Always),
        create(&cloud, "machine", UndoWhen::Always),
        create(&cloud, "disk", UndoWhen::OnFailure),
    );
    let built = runner
        .run("ok", CancellationToken::new(), |cx| async move {
            cx.step(&key, ()).await?;
            cx.step(&machine, ()).await?;
            cx.step(&disk, ()).await
        })
        .await
        .unwrap();
    assert_eq!(built.value, "d-1");
    assert_eq!(built.build_id, announced);
    assert_eq!(ids(&built.cleanup), ["m-1", "k-1"]);
    assert!(built.cleanup.is_clean());
    assert_eq!(built.cleanup.removed().count(), 2);
}

#[tokio::test]
async fn a_failing_undo_does_not_stop_the_others() {
    let mut cloud = cloud_with_creates();
    cloud
        .expect_delete()
        .with(eq("d-1"))
        .times(1)
        .returning(|_| Ok(()));
    cloud
        .expect_delete()
        .with(eq("m-1"))
        .times(1)
        .returning(|_| {
            Err(Error::provider(
                "deleting machine m-1",
                std::io::Error::other("409 InvalidState"),
            ))
        });
    cloud
        .expect_delete()
        .with(eq("k-1"))
        .times(1)
        .returning(|_| Ok(()));
    let cloud = Arc::new(cloud);
    let err = three_resources(&Runner::new(), &cloud, true)
        .await
        .unwrap_err();
    // The original cause survives a failing cleanup (Packer overwrote it).
    assert!(matches!(err.cause, Error::Config(_)));
    let left: Vec<_> = err.cleanup.left().collect();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].resource, Resource::new("machine", "m-1"));
    assert!(matches!(
        &left[0].outcome,
        CleanupOutcome::Failed(Error::Provider { .. })
    ));
    assert_eq!(err.cleanup.removed().count(), 2);
    let text = err.to_string();
    assert!(
        text.contains("boom") && text.contains("left behind: machine m-1"),
        "{text}"
    );
    let report = err.cleanup.to_string();
    assert!(
        report.contains("NOT removed machine m-1: deleting machine m-1: 409 InvalidState"),
        "{report}"
    );
}

#[tokio::test(start_paused = true)]
async fn an_undo_that_hangs_times_out_and_the_rest_still_run() {
    let mut cloud = cloud_with_creates();
    cloud
        .expect_delete()
        .with(eq("m-1"))
        .times(1)
        .returning(|_| Ok(()));
    let cloud = Arc::new(cloud);
    let machine = create(&cloud, "machine", UndoWhen::Always);
    let seen_token: Arc<Mutex<Option<CancellationToken>>> = Arc::default();
    let seen = seen_token.clone();
    let hang = from_fn("attach volume", move |cx: StepCx, (): ()| {
        let seen = seen.clone();
        async move {
            cx.register(
                Cleanup::always(Resource::new("volume", "v-1"), move |ucx| async move {
                    *seen.lock().unwrap() = Some(ucx.token().clone());
                    std::future::pending::<()>().await;
                    Ok(())
                })
                .timeout(Duration::from_millis(50)),
            );
            Ok(())
        }
    });
    let built = Runner::new()
        .run("t", CancellationToken::new(), |cx| async move {
            cx.step(&machine, ()).await?;
            cx.step(&hang, ()).await
        })
        .await
        .unwrap();
    assert_eq!(ids(&built.cleanup), ["v-1", "m-1"]);
    match &built.cleanup.entries[0].outcome {
        CleanupOutcome::Failed(Error::Timeout { after, .. }) => {
            assert_eq!(*after, Duration::from_millis(50))
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        built.cleanup.entries[1].outcome,
        CleanupOutcome::Removed
    ));
    let token = seen_token.lock().unwrap().clone().expect("undo ran");
    assert!(
        token.is_cancelled(),
        "the undo's own token is cancelled at its time limit"
    );
}

#[tokio::test]
async fn cancelling_mid_wait_stops_the_wait_and_cleans_up() {
    let mut cloud = cloud_with_creates();
    cloud
        .expect_delete()
        .with(eq("m-1"))
        .times(1)
        .returning(|_| Ok(()));
    let cloud = Arc::new(cloud);
    let machine = create(&cloud, "machine", UndoWhen::Always);
    let token = CancellationToken::new();
    let looks = Arc::new(AtomicU32::new(0));
    let undo_token_live = Arc::new(AtomicBool::new(false));
    let (observer, mut rx) = ChannelObserver::new();
    let runner = Runner::new().observer(Arc::new(observer));
    let (t, l, live) = (token.clone(), looks.clone(), undo_token_live.clone());
    let wait = from_fn("wait running", move |cx: StepCx, id: String| {
        let (t, l, live) = (t.clone(), l.clone(), live.clone());
        async move {
            cx.defer(Resource::new("probe", "p-1"), move |ucx| async move {
                live.store(!ucx.token().is_cancelled(), Ordering::SeqCst);
                Ok(())
            });
            let opts = WaitOptions::new(Duration::from_secs(3600), Duration::from_millis(5));
            cx.wait_for(format!("machine {id}"), &opts, || {
                if l.fetch_add(1, Ordering::SeqCst) == 2 {
                    t.cancel();
                }
                async { Ok::<_, std::io::Error>(Poll::<()>::Pending("provisioning".into())) }
            })
            .await
        }
    });
    let err = runner
        .run("t", token.clone(), |cx| async move {
            let id = cx.step(&machine, ()).await?;
            cx.step(&wait, id).await
        })
        .await
        .unwrap_err();
    assert!(err.is_cancelled(), "{err}");
    assert_eq!(err.step.as_deref(), Some("wait running"));
    assert_eq!(
        looks.load(Ordering::SeqCst),
        3,
        "the wait stops at the cancellation"
    );
    assert_eq!(ids(&err.cleanup), ["p-1", "m-1"]);
    assert!(err.cleanup.is_clean());
    assert!(
        undo_token_live.load(Ordering::SeqCst),
        "undos get a fresh token"
    );
    let events = drain(&mut rx);
    let progress: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::WaitProgress {
                step,
                what,
                state,
                attempt,
            } => Some((step.clone(), what.clone(), state.clone(), *attempt)),
            _ => None,
        })
        .collect();
    // The third look cancels before its answer is seen: two progress events.
    assert_eq!(progress.len(), 2);
    assert_eq!(
        progress[1],
        (
            Some("wait running".into()),
            "machine m-1".into(),
            "provisioning".into(),
            1
        )
    );
    assert!(events.iter().any(|e| matches!(e,
        Event::StepFinished { step, outcome: StepOutcome::Cancelled, .. } if step == "wait running")));
}

#[tokio::test]
async fn keep_policy_leaves_resources_and_reports_them() {
    let mut cloud = cloud_with_creates();
    cloud.expect_delete().never();
    let cloud = Arc::new(cloud);
    let (observer, mut rx) = ChannelObserver::new();
    let runner = Runner::new()
        .on_error(OnError::Keep)
        .observer(Arc::new(observer));
    let err = three_resources(&runner, &cloud, true).await.unwrap_err();
    assert_eq!(ids(&err.cleanup), ["d-1", "m-1", "k-1"]);
    assert!(
        err.cleanup
            .entries
            .iter()
            .all(|e| matches!(e.outcome, CleanupOutcome::Kept))
    );
    assert!(!err.cleanup.is_clean());
    let text = err.to_string();
    assert!(
        text.contains("left behind: disk d-1, machine m-1, ssh key k-1"),
        "{text}"
    );
    let kept = drain(&mut rx)
        .into_iter()
        .filter(|e| {
            matches!(
                e,
                Event::UndoFinished {
                    outcome: UndoOutcome::Kept,
                    ..
                }
            )
        })
        .count();
    assert_eq!(kept, 3);
}

#[tokio::test]
async fn events_report_steps_undos_and_the_build() {
    let mut cloud = cloud_with_creates();
    cloud
        .expect_delete()
        .with(eq("m-1"))
        .times(1)
        .returning(|_| Ok(()));
    let cloud = Arc::new(cloud);
    let machine = create(&cloud, "machine", UndoWhen::Always);
    let (observer, mut rx) = ChannelObserver::new();
    let runner = Runner::new().observer(Arc::new(observer));
    let err = runner
        .run("events", CancellationToken::new(), |cx| async move {
            let id = cx.step(&machine, ()).await?;
            cx.artifact(Resource::new("image", format!("img-of-{id}")));
            cx.step(&explode(), ()).await
        })
        .await
        .unwrap_err();
    let events = drain(&mut rx);
    let kinds: Vec<String> = events
        .iter()
        .map(|e| match e {
            Event::BuildStarted { name, build_id } => {
                assert_eq!(build_id, &err.build_id);
                format!("build started {name}")
            }
            Event::StepStarted { step } => format!("start {step}"),
            Event::StepFinished {
                step,
                outcome: StepOutcome::Ok,
                ..
            } => format!("ok {step}"),
            Event::StepFinished {
                step,
                outcome: StepOutcome::Failed { message },
                ..
            } => {
                format!("failed {step}: {message}")
            }
            Event::Artifact { artifact } => format!("artifact {artifact}"),
            Event::UndoRegistered { resource, .. } => format!("registered {resource}"),
            Event::UndoStarted { resource } => format!("undo {resource}"),
            Event::UndoFinished {
                resource,
                outcome: UndoOutcome::Removed,
            } => format!("removed {resource}"),
            Event::BuildFinished {
                outcome: StepOutcome::Failed { .. },
                ..
            } => "build failed".into(),
            other => format!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "build started events",
            "start create machine",
            "registered machine m-1",
            "ok create machine",
            "artifact image img-of-m-1",
            "start explode",
            "failed explode: invalid configuration: boom",
            "undo machine m-1",
            "removed machine m-1",
            "build failed",
        ]
    );
}

#[tokio::test]
async fn a_dismissed_undo_does_not_run() {
    let mut cloud = cloud_with_creates();
    // Once by the delete step; the undo was dismissed.
    cloud
        .expect_delete()
        .with(eq("m-1"))
        .times(1)
        .returning(|_| Ok(()));
    let cloud = Arc::new(cloud);
    let c = cloud.clone();
    let err = Runner::new()
        .run("t", CancellationToken::new(), |cx| async move {
            let id = c.create("machine").await?;
            let c2 = c.clone();
            let handle = cx.defer(Resource::new("machine", &id), move |_| async move {
                c2.delete("m-1").await
            });
            c.delete(&id).await?;
            assert!(cx.dismiss(handle));
            assert!(!cx.dismiss(handle));
            cx.step(&explode(), ()).await
        })
        .await
        .unwrap_err();
    assert!(err.cleanup.entries.is_empty());
    assert_eq!(err.cleanup.to_string(), "nothing to clean up");
}

#[tokio::test(start_paused = true)]
async fn a_step_that_ignores_cancellation_is_abandoned_after_the_grace() {
    let undone = Arc::new(AtomicBool::new(false));
    let token = CancellationToken::new();
    let (u, t) = (undone.clone(), token.clone());
    let err = Runner::new()
        .abort_grace(Duration::from_secs(1))
        .run("t", token.clone(), |cx| async move {
            cx.defer(Resource::new("machine", "m-9"), move |_| async move {
                u.store(true, Ordering::SeqCst);
                Ok(())
            });
            t.cancel();
            // Ignores the token.
            std::future::pending::<()>().await;
            Ok(())
        })
        .await
        .unwrap_err();
    assert!(err.is_cancelled(), "{err}");
    assert!(undone.load(Ordering::SeqCst));
    assert_eq!(ids(&err.cleanup), ["m-9"]);
}

#[tokio::test]
async fn a_panicking_step_still_cleans_up() {
    let mut cloud = cloud_with_creates();
    cloud
        .expect_delete()
        .with(eq("m-1"))
        .times(1)
        .returning(|_| Ok(()));
    let cloud = Arc::new(cloud);
    let machine = create(&cloud, "machine", UndoWhen::Always);
    let err = Runner::new()
        .run("t", CancellationToken::new(), |cx| async move {
            cx.step(&machine, ()).await?;
            if cx.build_id().as_str().starts_with("ib-") {
                panic!("deliberate panic in a test step");
            }
            Ok(())
        })
        .await
        .unwrap_err();
    assert!(matches!(err.cause, Error::Panicked { .. }), "{err}");
    assert_eq!(ids(&err.cleanup), ["m-1"]);
    assert!(err.cleanup.is_clean());
}

#[tokio::test]
async fn a_cancelled_build_starts_no_step() {
    let mut cloud = MockCloud::new();
    cloud.expect_create().never();
    let cloud = Arc::new(cloud);
    let machine = create(&cloud, "machine", UndoWhen::Always);
    let token = CancellationToken::new();
    token.cancel();
    let err = Runner::new()
        .run("t", token, |cx| async move { cx.step(&machine, ()).await })
        .await
        .unwrap_err();
    assert!(err.is_cancelled());
    assert!(err.cleanup.entries.is_empty());
}

/// Each run of one runner is a build of its own, with its own id (the one
/// `Runner::id` showed before the run); a fixed id is kept by every run.
#[tokio::test]
async fn each_run_of_a_reused_runner_gets_a_fresh_build_id() {
    async fn run_once(runner: &Runner) -> BuildId {
        runner
            .run("again", CancellationToken::new(), |cx| async move {
                Ok(cx.build_id().clone())
            })
            .await
            .unwrap()
            .build_id
    }
    let runner = Runner::new();
    let first_announced = runner.id();
    let first = run_once(&runner).await;
    let second_announced = runner.id();
    let second = run_once(&runner).await;
    assert_eq!(first, first_announced);
    assert_eq!(second, second_announced);
    assert_ne!(first, second);
    let clone = runner.clone();
    assert_ne!(clone.id(), runner.id(), "a clone has its own next id");

    let fixed: BuildId = "ib-fixed00001".parse().unwrap();
    let runner = Runner::new().build_id(fixed.clone());
    assert_eq!(run_once(&runner).await, fixed);
    assert_eq!(run_once(&runner).await, fixed);
    assert_eq!(runner.id(), fixed);
}
