use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::FutureExt;
use tokio_util::sync::CancellationToken;

use super::context::Shared;
use super::journal::{Action, Journal, run_undo};
use super::{Cleanup, CleanupEntry, CleanupOutcome, CleanupReport, Resource, StepCx, UndoWhen};
use crate::events::{Event, Events, Observer, StepOutcome, UndoOutcome};
use crate::journal::{Journaling, Record, UndoResult};
use crate::{BuildId, Error};

/// What to do with the resources of a build that failed or was cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnError {
    /// Run every undo (the default).
    #[default]
    Cleanup,
    /// Leave everything in place for debugging and list it in the report
    /// (Packer's `-on-error=abort`).
    Keep,
}

/// A successful build: its value and its cleanup report.
#[derive(Debug)]
pub struct Built<T> {
    /// What the build produced.
    pub value: T,
    /// The build's id.
    pub build_id: BuildId,
    /// What the cleanup (undos marked [`UndoWhen::Always`]) did.
    pub cleanup: CleanupReport,
}

/// A failed or cancelled build: the cause, the step it happened in, and what
/// the cleanup did.
#[derive(Debug)]
pub struct BuildError {
    /// The build's id.
    pub build_id: BuildId,
    /// The step that failed, when the failure came from a step.
    pub step: Option<String>,
    /// Why the build failed.
    pub cause: Error,
    /// What the cleanup did, with the ids of anything left behind.
    pub cleanup: CleanupReport,
}

impl BuildError {
    /// Whether the build was cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.cause.is_cancelled()
    }
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "build {} failed", self.build_id)?;
        if let Some(step) = &self.step {
            write!(f, " in step `{step}`")?;
        }
        write!(f, ": {}", crate::chain(&self.cause))?;
        let left: Vec<String> = self
            .cleanup
            .left()
            .map(|e| e.resource.to_string())
            .collect();
        if !left.is_empty() {
            write!(f, "; left behind: {}", left.join(", "))?;
        }
        Ok(())
    }
}

impl std::error::Error for BuildError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.cause)
    }
}

/// Runs a build: gives its steps a [`StepCx`], then runs the due undos in
/// reverse order and reports them.
///
/// Each run gets a fresh [`BuildId`] (the one [`Runner::id`] shows until the
/// run starts), unless one was set with [`Runner::build_id`]. A clone has its
/// own next id.
pub struct Runner {
    /// The id set with [`Runner::build_id`], used by every run.
    fixed_id: Option<BuildId>,
    /// The id of the next run, replaced by a fresh one as each run starts.
    next_id: std::sync::Mutex<BuildId>,
    on_error: OnError,
    undo_timeout: Duration,
    abort_grace: Duration,
    observers: Vec<Arc<dyn Observer>>,
    journal: Option<Journaling>,
}

impl Default for Runner {
    fn default() -> Self {
        Self::new()
    }
}

impl Clone for Runner {
    fn clone(&self) -> Self {
        Self {
            fixed_id: self.fixed_id.clone(),
            next_id: std::sync::Mutex::new(BuildId::generate()),
            on_error: self.on_error,
            undo_timeout: self.undo_timeout,
            abort_grace: self.abort_grace,
            observers: self.observers.clone(),
            journal: self.journal.clone(),
        }
    }
}

impl fmt::Debug for Runner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runner")
            .field("build_id", &self.id())
            .field("on_error", &self.on_error)
            .field("undo_timeout", &self.undo_timeout)
            .field("abort_grace", &self.abort_grace)
            .field("observers", &self.observers.len())
            .field("journal", &self.journal)
            .finish()
    }
}

impl Runner {
    /// A runner with a fresh build id per run, [`OnError::Cleanup`], a 5
    /// minute limit per undo, a 30 second grace after cancellation, and no
    /// observers.
    pub fn new() -> Self {
        Self {
            fixed_id: None,
            next_id: std::sync::Mutex::new(BuildId::generate()),
            on_error: OnError::Cleanup,
            undo_timeout: Duration::from_secs(300),
            abort_grace: Duration::from_secs(30),
            observers: Vec::new(),
            journal: None,
        }
    }

    /// Keeps the build's journal on disk (see [`crate::journal`]): every
    /// registration, create intent and undo outcome is appended and made
    /// durable before the build goes on, so that `imagebake cleanup` can
    /// remove what the build made after its process died. Without it the
    /// journal is only in memory.
    pub fn journal(mut self, journaling: Journaling) -> Self {
        self.journal = Some(journaling);
        self
    }

    /// Uses this build id for every run instead of a fresh one per run.
    pub fn build_id(mut self, id: BuildId) -> Self {
        self.fixed_id = Some(id);
        self
    }

    /// Sets the policy for a failed build's resources.
    pub fn on_error(mut self, policy: OnError) -> Self {
        self.on_error = policy;
        self
    }

    /// Sets the default time limit of each undo.
    pub fn undo_timeout(mut self, limit: Duration) -> Self {
        self.undo_timeout = limit;
        self
    }

    /// Sets how long the build may go on after its token is cancelled before
    /// the runner drops it (a step that ignores the token) and cleans up.
    /// A create in flight is never dropped with it (see [`StepCx::create`]):
    /// the cleanup settles it.
    pub fn abort_grace(mut self, grace: Duration) -> Self {
        self.abort_grace = grace;
        self
    }

    /// Adds an observer of the build's events.
    pub fn observer(mut self, observer: Arc<dyn Observer>) -> Self {
        self.observers.push(observer);
        self
    }

    /// The id of the next build this runner runs (what a builder names its
    /// resources after before it calls [`Runner::run`]).
    pub fn id(&self) -> BuildId {
        match &self.fixed_id {
            Some(id) => id.clone(),
            None => self.lock_next_id().clone(),
        }
    }

    /// The id for a run starting now; the next run gets a fresh one.
    fn take_id(&self) -> BuildId {
        match &self.fixed_id {
            Some(id) => id.clone(),
            None => std::mem::replace(&mut *self.lock_next_id(), BuildId::generate()),
        }
    }

    fn lock_next_id(&self) -> std::sync::MutexGuard<'_, BuildId> {
        // A poisoned lock still holds a valid id.
        self.next_id
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs `build` (which calls [`StepCx::step`] for each of its steps) and
    /// then the cleanup: on success the undos marked [`UndoWhen::Always`]; on
    /// failure or cancellation every undo (or none, under [`OnError::Keep`]).
    /// Undos run newest first, each with its own fresh token and time limit;
    /// one failing does not stop the others. A panic in `build` is contained
    /// and counts as a failure.
    pub async fn run<T, F, Fut>(
        &self,
        name: &str,
        token: CancellationToken,
        build: F,
    ) -> Result<Built<T>, BuildError>
    where
        F: FnOnce(StepCx) -> Fut,
        Fut: Future<Output = Result<T, Error>> + Send,
    {
        let started = Instant::now();
        let build_id = self.take_id();
        let events = Events::new(self.observers.clone());
        events.emit(Event::BuildStarted {
            build_id: build_id.clone(),
            name: name.to_owned(),
        });
        let journal = match &self.journal {
            None => Journal::default(),
            Some(j) => match j.start(&build_id, name) {
                Ok(writer) => Journal::on_disk(writer),
                Err(cause) => {
                    return Err(BuildError {
                        build_id,
                        step: None,
                        cause,
                        cleanup: CleanupReport::default(),
                    });
                }
            },
        };
        let shared = Arc::new(Shared {
            build_id: build_id.clone(),
            token: token.clone(),
            events: events.clone(),
            journal: Mutex::new(journal),
            failed_step: Mutex::new(None),
        });

        let result = self.drive(StepCx::new(shared.clone()), &token, build).await;
        let failed_step = shared.take_failed_step();
        let success = result.is_ok();
        let entries = {
            let mut j = shared.journal();
            j.record(&Record::Cleanup { success });
            j.drain_lifo()
        };

        let undoer = Undoer {
            events: &events,
            build_id: &build_id,
            timeout: self.undo_timeout,
        };
        let mut report = CleanupReport::default();
        for (handle, cleanup) in entries {
            if success && cleanup.when == UndoWhen::OnFailure {
                // The build's result (an image): committed, not undone.
                continue;
            }
            let done = if !success && self.on_error == OnError::Keep {
                events.emit(Event::UndoFinished {
                    resource: cleanup.resource.clone(),
                    outcome: UndoOutcome::Kept,
                });
                vec![CleanupEntry {
                    resource: cleanup.resource,
                    when: cleanup.when,
                    outcome: CleanupOutcome::Kept,
                }]
            } else if cleanup.is_in_flight() {
                undoer.settle(cleanup).await
            } else {
                vec![undoer.run(cleanup).await]
            };
            let (result, error) = match done.iter().find(|e| e.is_left()) {
                None => (UndoResult::Removed, None),
                Some(CleanupEntry {
                    outcome: CleanupOutcome::Failed(e),
                    ..
                }) => (UndoResult::Failed, Some(crate::chain(e).to_string())),
                Some(_) => (UndoResult::Kept, None),
            };
            shared.journal().record_outcome(handle, result, error);
            report.entries.extend(done);
        }

        let outcome = match &result {
            Ok(_) => StepOutcome::Ok,
            Err(e) if e.is_cancelled() => StepOutcome::Cancelled,
            Err(e) => StepOutcome::Failed {
                message: e.to_string(),
            },
        };
        shared.journal().record(&Record::End {
            outcome: match &outcome {
                StepOutcome::Ok => "ok",
                StepOutcome::Cancelled => "cancelled",
                _ => "failed",
            }
            .to_owned(),
        });
        events.emit(Event::BuildFinished {
            build_id: build_id.clone(),
            outcome,
            duration: started.elapsed(),
        });
        match result {
            Ok(value) => Ok(Built {
                value,
                build_id: build_id.clone(),
                cleanup: report,
            }),
            Err(cause) => Err(BuildError {
                build_id: build_id.clone(),
                step: failed_step,
                cause,
                cleanup: report,
            }),
        }
    }

    /// Runs the build future until it ends, or until the grace after
    /// cancellation passes; contains panics.
    async fn drive<T, F, Fut>(
        &self,
        cx: StepCx,
        token: &CancellationToken,
        build: F,
    ) -> Result<T, Error>
    where
        F: FnOnce(StepCx) -> Fut,
        Fut: Future<Output = Result<T, Error>> + Send,
    {
        let Ok(fut) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || build(cx)))
        else {
            return Err(Error::Panicked {
                what: "build".into(),
            });
        };
        let fut = std::panic::AssertUnwindSafe(fut).catch_unwind();
        let grace = self.abort_grace;
        let abandon = async {
            token.cancelled().await;
            tokio::time::sleep(grace).await;
        };
        tokio::select! {
            r = fut => match r {
                Ok(r) => r,
                Err(_panic) => Err(Error::Panicked { what: "build".into() }),
            },
            () = abandon => Err(Error::cancelled(format!(
                "build did not stop within {grace:?} of cancellation; abandoned"
            ))),
        }
    }
}

/// Runs undos for the cleanup at the end of a build, reporting each as
/// events.
pub(crate) struct Undoer<'a> {
    pub(crate) events: &'a Events,
    pub(crate) build_id: &'a BuildId,
    pub(crate) timeout: Duration,
}

impl Undoer<'_> {
    /// Runs one undo (of a resource whose id is known).
    pub(crate) async fn run(&self, cleanup: Cleanup) -> CleanupEntry {
        let resource = cleanup.resource.clone();
        let when = cleanup.when;
        self.events.emit(Event::UndoStarted {
            resource: resource.clone(),
        });
        let outcome = match run_undo(cleanup, self.build_id, self.timeout).await {
            Ok(()) => CleanupOutcome::Removed,
            Err(e) => CleanupOutcome::Failed(e),
        };
        self.finished(&resource, &outcome);
        CleanupEntry {
            resource,
            when,
            outcome,
        }
    }

    /// Settles a create in flight: an entry per resource it made, and one
    /// for the create itself while it may still make something unseen.
    pub(crate) async fn settle(&self, cleanup: Cleanup) -> Vec<CleanupEntry> {
        let resource = cleanup.resource.clone();
        let when = cleanup.when;
        let limit = cleanup.timeout.unwrap_or(self.timeout);
        let Action::InFlight(entry) = cleanup.action else {
            return vec![self.run(cleanup).await];
        };
        self.events.emit(Event::UndoStarted {
            resource: resource.clone(),
        });
        let settled = entry.settle(self, limit).await;
        let mut entries = settled.entries;
        match settled.outcome {
            Ok(()) => {
                let outcome = if entries.is_empty() {
                    UndoOutcome::NotMade
                } else {
                    UndoOutcome::Removed
                };
                self.events.emit(Event::UndoFinished { resource, outcome });
            }
            Err(e) => {
                let outcome = CleanupOutcome::Failed(e);
                self.finished(&resource, &outcome);
                entries.push(CleanupEntry {
                    resource,
                    when,
                    outcome,
                });
            }
        }
        entries
    }

    fn finished(&self, resource: &Resource, outcome: &CleanupOutcome) {
        let outcome = match outcome {
            CleanupOutcome::Failed(e) => {
                tracing::warn!(%resource, error = %e, "undo failed");
                UndoOutcome::Failed {
                    message: e.to_string(),
                }
            }
            CleanupOutcome::Kept => UndoOutcome::Kept,
            _ => UndoOutcome::Removed,
        };
        self.events.emit(Event::UndoFinished {
            resource: resource.clone(),
            outcome,
        });
    }
}
