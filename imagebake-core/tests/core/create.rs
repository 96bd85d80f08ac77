//! A create in flight ([`StepCx::create`]) against an in-memory cloud whose
//! creates are done at once and answered when the test says: the resource
//! belongs to the build from the moment the request is sent.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use imagebake_core::{
    BuildError, CancellationToken, ChannelObserver, Cleanup, Create, Error, Event, Resource,
    Runner, StepCx, UndoOutcome, from_fn,
};
use tokio::sync::Notify;

use crate::support::drain;

/// Machines that exist, and how many deletes were sent.
#[derive(Default)]
struct Cloud {
    machines: Mutex<BTreeSet<String>>,
    deletes: Mutex<u32>,
}

impl Cloud {
    fn exists(&self) -> bool {
        !self.machines.lock().unwrap().is_empty()
    }

    fn delete(&self, id: &str) {
        *self.deletes.lock().unwrap() += 1;
        self.machines.lock().unwrap().remove(id);
    }
}

/// How the create behaves.
#[derive(Clone, Copy)]
enum Answer {
    /// Makes `m-1`, then answers with it once `release` is notified.
    Late,
    /// Makes `m-1`, then fails (a 500 after the work was done).
    FailAfterMaking,
    /// Makes nothing and fails at once.
    FailBeforeMaking,
    /// Makes nothing and never answers.
    Never,
}

/// The create of machine `m-1` through `cx.create`, looked up by listing.
async fn create_machine(
    cx: &StepCx,
    cloud: &Arc<Cloud>,
    answer: Answer,
    release: &Arc<Notify>,
) -> Result<String, Error> {
    let c = cloud.clone();
    let find = move || {
        let c = c.clone();
        async move { Ok::<_, Error>(c.machines.lock().unwrap().clone()) }
    };
    let c = cloud.clone();
    let undo = move |id: &String| {
        let (c, id) = (c.clone(), id.clone());
        Cleanup::always(Resource::new("machine", id.clone()), move |_| async move {
            c.delete(&id);
            Ok(())
        })
    };
    let (c, release) = (cloud.clone(), release.clone());
    let send = async move {
        if !matches!(answer, Answer::FailBeforeMaking | Answer::Never) {
            c.machines.lock().unwrap().insert("m-1".to_owned());
        }
        match answer {
            Answer::Late => {
                release.notified().await;
                Ok("m-1".to_owned())
            }
            Answer::FailAfterMaking | Answer::FailBeforeMaking => {
                Err(Error::Config("create failed".into()))
            }
            Answer::Never => std::future::pending().await,
        }
    };
    let made = cx
        .create(Create::new("machine", Some("vm".into()), find, undo), send)
        .await?;
    Ok(made.value)
}

/// Runs one build creating the machine; cancels it once the machine exists
/// (when `cancel` is set), then lets the answer go after the build's end
/// began.
async fn build(
    runner: Runner,
    cloud: &Arc<Cloud>,
    answer: Answer,
    cancel: bool,
) -> (Result<String, BuildError>, Vec<Event>) {
    let (observer, mut rx) = ChannelObserver::new();
    let runner = runner.observer(Arc::new(observer));
    let token = CancellationToken::new();
    let release = Arc::new(Notify::new());
    if cancel {
        let (c, t, r) = (cloud.clone(), token.clone(), release.clone());
        tokio::spawn(async move {
            while !c.exists() {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            t.cancel();
            // The answer comes only after the cleanup has begun.
            tokio::time::sleep(Duration::from_millis(50)).await;
            r.notify_one();
        });
    }
    let (c, r) = (cloud.clone(), release.clone());
    let step = from_fn("create machine", move |cx: StepCx, (): ()| {
        let (c, r) = (c.clone(), r.clone());
        async move { create_machine(&cx, &c, answer, &r).await }
    });
    let result = runner
        .run(
            "in flight",
            token,
            |cx| async move { cx.step(&step, ()).await },
        )
        .await
        .map(|b| b.value);
    (result, drain(&mut rx))
}

fn undo_events(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::UndoRegistered { resource, .. } => Some(format!("registered {resource}")),
            Event::UndoDismissed { resource } => Some(format!("dismissed {resource}")),
            Event::UndoStarted { resource } => Some(format!("undo {resource}")),
            Event::UndoFinished { resource, outcome } => Some(format!("{outcome:?} {resource}")),
            _ => None,
        })
        .collect()
}

const IN_FLIGHT: &str = "machine <create in flight, id unknown> (vm)";

#[tokio::test]
async fn a_create_answered_in_time_becomes_an_ordinary_undo() {
    let cloud = Arc::new(Cloud::default());
    let release = Arc::new(Notify::new());
    release.notify_one();
    let (c, r) = (cloud.clone(), release.clone());
    let built = Runner::new()
        .run("ok", CancellationToken::new(), |cx| async move {
            create_machine(&cx, &c, Answer::Late, &r).await
        })
        .await
        .expect("build succeeds");
    assert_eq!(built.value, "m-1");
    assert_eq!(
        built.cleanup.to_string(),
        "1 removed, 0 left\n  removed machine m-1"
    );
    assert!(!cloud.exists());
}

#[tokio::test]
async fn cancelled_in_flight_the_resource_is_found_removed_and_the_answer_awaited() {
    let cloud = Arc::new(Cloud::default());
    let (r, events) = build(Runner::new(), &cloud, Answer::Late, true).await;
    let e = r.unwrap_err();
    assert!(e.is_cancelled(), "{e}");
    assert!(
        e.cause.to_string().contains("while creating machine"),
        "{e}"
    );
    assert_eq!(
        e.cleanup.to_string(),
        "1 removed, 0 left\n  removed machine m-1"
    );
    assert!(!cloud.exists());
    // Found by the lookup and deleted once: the late answer names the same one.
    assert_eq!(*cloud.deletes.lock().unwrap(), 1);
    assert_eq!(
        undo_events(&events),
        [
            format!("registered {IN_FLIGHT}"),
            format!("undo {IN_FLIGHT}"),
            "undo machine m-1".to_owned(),
            "Removed machine m-1".to_owned(),
            format!("Removed {IN_FLIGHT}"),
        ]
    );
}

#[tokio::test]
async fn a_failed_create_is_looked_up_and_what_it_made_removed() {
    let cloud = Arc::new(Cloud::default());
    let (r, _) = build(Runner::new(), &cloud, Answer::FailAfterMaking, false).await;
    let e = r.unwrap_err();
    assert!(e.to_string().contains("create failed"), "{e}");
    assert_eq!(
        e.cleanup.to_string(),
        "1 removed, 0 left\n  removed machine m-1"
    );
    assert!(!cloud.exists());
}

#[tokio::test]
async fn a_failed_create_that_made_nothing_is_reported_as_not_made() {
    let cloud = Arc::new(Cloud::default());
    let (r, events) = build(Runner::new(), &cloud, Answer::FailBeforeMaking, false).await;
    let e = r.unwrap_err();
    assert!(e.cleanup.entries.is_empty(), "{}", e.cleanup);
    assert!(events.iter().any(|e| matches!(e,
        Event::UndoFinished { resource, outcome: UndoOutcome::NotMade } if !resource.has_id())));
    assert_eq!(*cloud.deletes.lock().unwrap(), 0);
}

#[tokio::test]
async fn a_create_that_never_answers_is_reported_as_possibly_left() {
    let cloud = Arc::new(Cloud::default());
    let runner = Runner::new().undo_timeout(Duration::from_millis(200));
    let (c, t) = (cloud.clone(), CancellationToken::new());
    let token = t.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(20)).await;
        t.cancel();
    });
    let release = Arc::new(Notify::new());
    let e = runner
        .run("hung", token, |cx| async move {
            create_machine(&cx, &c, Answer::Never, &release).await
        })
        .await
        .unwrap_err();
    let report = e.cleanup.to_string();
    assert!(!e.cleanup.is_clean(), "{report}");
    assert!(
        report.starts_with(&format!(
            "0 removed, 1 left\n  NOT removed {IN_FLIGHT}: timed out"
        )),
        "{report}"
    );
    assert!(
        e.to_string()
            .contains("left behind: machine <create in flight"),
        "{e}"
    );
}
