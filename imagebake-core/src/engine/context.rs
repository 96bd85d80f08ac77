use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use imagebake_http::{Poll, WaitOptions};
use tokio_util::sync::CancellationToken;

use super::create::Created;
use super::journal::Journal;
use super::{Cleanup, Create, Resource, Step, UndoCx, UndoHandle};
use crate::events::{Event, Events, StepOutcome};
use crate::{BuildId, Error, OutputStream};

/// What every step gets: the build id, the cancellation token, the undo
/// journal and the event stream. Cheap to clone; a clone made for a step
/// knows the step's name (for output and wait events).
#[derive(Clone)]
pub struct StepCx {
    shared: Arc<Shared>,
    step: Option<Arc<str>>,
}

pub(crate) struct Shared {
    pub(crate) build_id: BuildId,
    pub(crate) token: CancellationToken,
    pub(crate) events: Events,
    pub(crate) journal: Mutex<Journal>,
    pub(crate) failed_step: Mutex<Option<String>>,
}

impl Shared {
    pub(crate) fn journal(&self) -> MutexGuard<'_, Journal> {
        // The journal is never left half-updated: a poisoned lock is still usable.
        self.journal
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn take_failed_step(&self) -> Option<String> {
        self.failed_step
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
    }
}

impl StepCx {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared, step: None }
    }

    /// The build id; stamp it on every resource the step creates (as a tag or
    /// in its name).
    pub fn build_id(&self) -> &BuildId {
        &self.shared.build_id
    }

    /// The build's cancellation token; pass it to every wait, HTTP call and
    /// command.
    pub fn token(&self) -> &CancellationToken {
        &self.shared.token
    }

    /// The name of the step this context was made for, if any.
    pub fn step_name(&self) -> Option<&str> {
        self.step.as_deref()
    }

    /// The build's observers.
    pub fn events(&self) -> &Events {
        &self.shared.events
    }

    /// Records where the builder's cloud resources live (its endpoint,
    /// account, project or region) in the build's journal, once at the
    /// start of the build: `imagebake cleanup` finds them there again after
    /// a crash. Resources registered afterwards belong to this scope (loop
    /// devices, mounts and files to the host's).
    pub fn scope(&self, scope: crate::journal::Scope) {
        self.shared.journal().scope(scope);
    }

    /// Registers an undo. Call it in the same poll that learns the resource
    /// exists (no `.await` between the create call's answer and this).
    pub fn register(&self, cleanup: Cleanup) -> UndoHandle {
        tracing::debug!(resource = %cleanup.resource, when = ?cleanup.when, "undo registered");
        let (resource, when) = (cleanup.resource.clone(), cleanup.when);
        let handle = self.shared.journal().push(cleanup);
        self.events().emit(Event::UndoRegistered { resource, when });
        handle
    }

    /// Sends a create whose resource belongs to the build from the moment
    /// it is sent: `create` (what it makes, how to find it without the
    /// answer, its undo) is registered first, then `send` runs on a task of
    /// its own (never dropped, whatever happens to the build). Its answer
    /// swaps the registration for the resource's undo, with the real id.
    ///
    /// On cancellation this returns [`Error::Cancelled`] at once; the
    /// cleanup then looks the resource up (by what `create` finds it with)
    /// and removes it, keeps waiting for the create to end, and removes
    /// what its answer names. When the create fails, the cleanup also looks
    /// for what it may have made before failing.
    pub async fn create<T, Fut>(&self, create: Create<T>, send: Fut) -> Result<Created<T>, Error>
    where
        T: Send + 'static,
        Fut: Future<Output = Result<T, Error>> + Send + 'static,
    {
        super::create::create(self, create, send).await
    }

    /// Swaps a registered entry for `cleanups` at its place; the handle of
    /// the last one.
    pub(crate) fn replace(&self, handle: UndoHandle, cleanups: Vec<Cleanup>) -> UndoHandle {
        let (old, added) = self.shared.journal().replace(handle, cleanups);
        if let Some(resource) = old {
            self.events().emit(Event::UndoDismissed { resource });
        }
        let mut last = handle;
        for (h, resource, when) in added {
            tracing::debug!(%resource, ?when, "undo registered");
            self.events().emit(Event::UndoRegistered { resource, when });
            last = h;
        }
        last
    }

    /// Registers an undo that runs at the end of the build whatever its
    /// outcome (temporary machine, temporary key).
    pub fn defer<F, Fut>(&self, resource: Resource, undo: F) -> UndoHandle
    where
        F: FnOnce(UndoCx) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), Error>> + Send + 'static,
    {
        self.register(Cleanup::always(resource, undo))
    }

    /// Registers an undo that runs only if the build fails or is cancelled
    /// (a snapshot or image that would otherwise be the result).
    pub fn on_failure<F, Fut>(&self, resource: Resource, undo: F) -> UndoHandle
    where
        F: FnOnce(UndoCx) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), Error>> + Send + 'static,
    {
        self.register(Cleanup::on_failure(resource, undo))
    }

    /// Drops a registered undo because its resource is already gone (a step
    /// deleted it). Returns whether it was still registered.
    pub fn dismiss(&self, handle: UndoHandle) -> bool {
        let removed = self.shared.journal().remove(handle);
        match removed {
            Some(resource) => {
                self.events().emit(Event::UndoDismissed { resource });
                true
            }
            None => false,
        }
    }

    /// An error if the build has been cancelled (check it before starting
    /// something that cannot be interrupted).
    pub fn check_cancelled(&self) -> Result<(), Error> {
        if self.token().is_cancelled() {
            Err(self.cancelled_error())
        } else {
            Ok(())
        }
    }

    fn cancelled_error(&self) -> Error {
        Error::cancelled(match self.step_name() {
            Some(s) => format!("step {s}"),
            None => "build".to_owned(),
        })
    }

    /// Runs `fut` unless the build is cancelled first, in which case `fut`
    /// is dropped and [`Error::Cancelled`] returned.
    pub async fn cancellable<F: Future>(&self, fut: F) -> Result<F::Output, Error> {
        tokio::select! {
            biased;
            () = self.token().cancelled() => Err(self.cancelled_error()),
            out = fut => Ok(out),
        }
    }

    /// Waits on a resource (the build's one wait, `engine::wait`), cancelled
    /// by the build's token (whatever token `opts` holds), reporting every
    /// pending state as [`Event::WaitProgress`].
    pub async fn wait_for<T, E, F, Fut>(
        &self,
        what: impl Into<String>,
        opts: &WaitOptions,
        look: F,
    ) -> Result<T, Error>
    where
        E: std::error::Error + Send + Sync + 'static,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Poll<T>, E>>,
    {
        let what = what.into();
        let opts = opts.clone().cancel_on(self.token().clone());
        let step = self.step_name().map(str::to_owned);
        let events = self.events();
        let on_poll = |state: &str, attempt: u32| {
            events.emit(Event::WaitProgress {
                step: step.clone(),
                what: what.clone(),
                state: state.to_owned(),
                attempt,
            });
        };
        super::wait(what.clone(), &opts, on_poll, look).await
    }

    /// Reports one line of command output.
    pub fn output_line(&self, stream: OutputStream, line: &str) {
        self.events().emit(Event::OutputLine {
            step: self.step_name().map(str::to_owned),
            stream,
            line: line.to_owned(),
        });
    }

    /// Reports an artifact the build produced (the image).
    pub fn artifact(&self, artifact: Resource) {
        self.events().emit(Event::Artifact { artifact });
    }

    /// Runs one step: reports it started and finished (with its duration and
    /// outcome), and records it as the failing step if it fails. Does not
    /// start it if the build is already cancelled.
    pub async fn step<In, S>(&self, step: &S, input: In) -> Result<S::Out, Error>
    where
        In: Send + 'static,
        S: Step<In> + ?Sized,
    {
        let name: Arc<str> = Arc::from(step.name().as_ref());
        let cx = Self {
            shared: self.shared.clone(),
            step: Some(name.clone()),
        };
        cx.check_cancelled()?;
        self.events().emit(Event::StepStarted {
            step: name.to_string(),
        });
        let started = Instant::now();
        let result = step.run(&cx, input).await;
        let outcome = match &result {
            Ok(_) => StepOutcome::Ok,
            Err(e) if e.is_cancelled() => StepOutcome::Cancelled,
            Err(e) => StepOutcome::Failed {
                message: crate::chain(e).to_string(),
            },
        };
        {
            let mut failed = self
                .shared
                .failed_step
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if result.is_ok() {
                // A failure handled inside this step is not the build's cause.
                *failed = None;
            } else if failed.is_none() {
                // The innermost failing step is the one to name.
                *failed = Some(name.to_string());
            }
        }
        self.events().emit(Event::StepFinished {
            step: name.to_string(),
            outcome,
            duration: started.elapsed(),
        });
        result
    }

    /// Runs a list of steps of the same type in order, each getting the
    /// previous one's output (a list of provisioners built at run time).
    pub async fn steps<T: Send + 'static>(
        &self,
        steps: &[Box<dyn Step<T, Out = T>>],
        mut value: T,
    ) -> Result<T, Error> {
        for s in steps {
            value = self.step(s.as_ref(), value).await?;
        }
        Ok(value)
    }
}

impl fmt::Debug for StepCx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StepCx")
            .field("build_id", &self.shared.build_id)
            .field("step", &self.step)
            .finish_non_exhaustive()
    }
}
