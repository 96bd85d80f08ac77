//! A create in flight: what a create request makes belongs to the build
//! from the moment the request is sent, not from the moment its answer
//! comes back.
//!
//! [`StepCx::create`](super::StepCx::create) registers an in-flight entry
//! in the journal *before* it sends the request, and sends it on a task of
//! its own, so neither a Ctrl-C nor the runner's abort grace drops it. When
//! the answer comes back, the entry becomes the resource's ordinary undos
//! (with the real id), in the same poll. When the build ends first, the
//! cleanup settles the entry: it looks the resource up at once (build tag,
//! unique name, client token) and removes what it finds, keeps waiting for
//! the create to end, removes what the answer names, and only then counts
//! the create as settled (see [`InFlight::settle`]).

use std::collections::HashSet;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use tokio::sync::watch;

use super::runner::Undoer;
use super::{Cleanup, CleanupEntry, Resource, UndoHandle};
use crate::Error;

type FindFn<T> = Arc<dyn Fn() -> BoxFuture<'static, Result<Vec<T>, Error>> + Send + Sync>;
type UndoOf<T> = Arc<dyn Fn(&T) -> Cleanup + Send + Sync>;
type AlsoOf<T> = Arc<dyn Fn(&T) -> Vec<Cleanup> + Send + Sync>;

/// A create about to be sent: what it makes, how to find what it made
/// without its answer, and the undo of what it made. Give it to
/// [`StepCx::create`](super::StepCx::create) with the create request.
pub struct Create<T> {
    resource: Resource,
    find: FindFn<T>,
    undo: UndoOf<T>,
    also: Option<AlsoOf<T>>,
}

impl<T> Create<T> {
    /// A create of a `kind` resource named `name` (for reports while its id
    /// is not known). `find` looks up what this build's create made, without
    /// its answer: by build tag, unique name or client token (every match
    /// is removed, so it must only match this build's resource). `undo`
    /// makes the undo of one made resource, from the create's answer or
    /// from what `find` returned.
    pub fn new<F, Fut, I, U>(
        kind: impl Into<String>,
        name: Option<String>,
        find: F,
        undo: U,
    ) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<I, Error>> + Send + 'static,
        I: IntoIterator<Item = T>,
        U: Fn(&T) -> Cleanup + Send + Sync + 'static,
    {
        let mut resource = Resource::being_created(kind);
        resource.name = name;
        Self {
            resource,
            find: Arc::new(move || {
                find()
                    .map(|r| r.map(|found| found.into_iter().collect()))
                    .boxed()
            }),
            undo: Arc::new(undo),
            also: None,
        }
    }

    /// Also registers these undos for what the made resource brings along
    /// (an instance's boot disk); they run after the resource's own undo.
    pub fn also<A>(mut self, also: A) -> Self
    where
        A: Fn(&T) -> Vec<Cleanup> + Send + Sync + 'static,
    {
        self.also = Some(Arc::new(also));
        self
    }

    /// The resource as reports name it while its create is in flight.
    pub fn resource(&self) -> &Resource {
        &self.resource
    }

    /// The undos of `made`, in registration order (the resource's own last,
    /// so that it runs first).
    fn cleanups(&self, made: &T) -> Vec<Cleanup> {
        let mut v = self.also.as_ref().map(|a| a(made)).unwrap_or_default();
        v.push((self.undo)(made));
        v
    }
}

impl<T> Clone for Create<T> {
    fn clone(&self) -> Self {
        Self {
            resource: self.resource.clone(),
            find: self.find.clone(),
            undo: self.undo.clone(),
            also: self.also.clone(),
        }
    }
}

impl<T> std::fmt::Debug for Create<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Create")
            .field("resource", &self.resource)
            .finish_non_exhaustive()
    }
}

/// What [`StepCx::create`](super::StepCx::create) made: the create's answer
/// and the handle of the resource's undo.
#[derive(Debug)]
pub struct Created<T> {
    /// The create's answer.
    pub value: T,
    /// The undo registered for the resource (to dismiss it when a later
    /// step removes the resource).
    pub undo: UndoHandle,
}

/// Where the create stands.
enum State<T> {
    /// Sent; no answer yet.
    Sent,
    /// Answered, not yet taken by the step.
    Answered(Result<T, Error>),
    /// Taken by the step.
    Taken,
}

/// The create's answer, shared by its task, the step and the journal entry.
pub(crate) struct Slot<T> {
    state: Mutex<State<T>>,
    ended: watch::Sender<bool>,
}

impl<T> Slot<T> {
    pub(crate) fn new() -> Self {
        Self {
            state: Mutex::new(State::Sent),
            ended: watch::Sender::new(false),
        }
    }

    fn state(&self) -> MutexGuard<'_, State<T>> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records the answer and wakes whoever waits for it.
    pub(crate) fn answer(&self, r: Result<T, Error>) {
        *self.state() = State::Answered(r);
        self.ended.send_replace(true);
    }

    /// Waits until the create has answered.
    pub(crate) async fn answered(&self) {
        let mut rx = self.ended.subscribe();
        // The sender lives as long as `self`: this cannot fail.
        let _ = rx.wait_for(|ended| *ended).await;
    }

    fn has_answered(&self) -> bool {
        *self.ended.borrow()
    }

    /// Takes the answer (the step does this).
    pub(crate) fn take(&self) -> Option<Result<T, Error>> {
        let mut s = self.state();
        match std::mem::replace(&mut *s, State::Sent) {
            State::Answered(r) => {
                *s = State::Taken;
                Some(r)
            }
            other => {
                *s = other;
                None
            }
        }
    }
}

/// The journal's side of a create in flight.
pub(crate) struct InFlight<T> {
    pub(crate) create: Create<T>,
    pub(crate) slot: Arc<Slot<T>>,
}

/// How an in-flight create was settled by the cleanup.
pub(crate) struct Settled {
    /// One entry per resource it made (removed or not).
    pub(crate) entries: Vec<CleanupEntry>,
    /// `Ok` once the create has ended and what it made is known; an error
    /// when it may still make (or have made) something unseen.
    pub(crate) outcome: Result<(), Error>,
}

/// A create in flight, type-erased for the journal.
pub(crate) trait Settle: Send {
    /// Settles it: see [`InFlight::settle`].
    fn settle<'a>(
        self: Box<Self>,
        undoer: &'a Undoer<'a>,
        limit: Duration,
    ) -> BoxFuture<'a, Settled>;
}

impl<T: Send + 'static> Settle for InFlight<T> {
    fn settle<'a>(
        self: Box<Self>,
        undoer: &'a Undoer<'a>,
        limit: Duration,
    ) -> BoxFuture<'a, Settled> {
        (*self).settle(undoer, limit).boxed()
    }
}

impl<T: Send + 'static> InFlight<T> {
    /// (a) Unless the create has already answered, looks the resource up
    /// at once and removes what it finds; (b) waits (up to `limit`) for the
    /// create to end, then removes what its answer names or, when it
    /// failed, looks again and removes what it finds. Settled only when the
    /// create has ended and every lookup succeeded.
    async fn settle(self, undoer: &Undoer<'_>, limit: Duration) -> Settled {
        let mut done = Done::default();
        let what = &self.create.resource;
        if !self.slot.has_answered() {
            match self.find(limit).await {
                Ok(found) => done.remove(&self.create, found, undoer).await,
                // Looked for again once the create has ended.
                Err(e) => {
                    tracing::warn!(resource = %what, error = %e, "looking up a create in flight failed")
                }
            }
        }
        if tokio::time::timeout(limit, self.slot.answered())
            .await
            .is_err()
        {
            return done.with(Err(Error::Timeout {
                what: "waiting for its create to answer (what it makes may be left)".to_owned(),
                after: limit,
                last: None,
            }));
        }
        let answer = self.slot.take();
        let failed = match answer {
            Some(Ok(made)) => {
                done.remove(&self.create, vec![made], undoer).await;
                false
            }
            Some(Err(e)) => {
                tracing::info!(resource = %what, error = %e, "create in flight failed; looking for what it may have made");
                true
            }
            None => true,
        };
        if failed {
            match self.find(limit).await {
                Ok(found) => done.remove(&self.create, found, undoer).await,
                Err(e) => return done.with(Err(e)),
            }
        }
        done.with(Ok(()))
    }

    async fn find(&self, limit: Duration) -> Result<Vec<T>, Error> {
        let what = &self.create.resource;
        match tokio::time::timeout(limit, (self.create.find)()).await {
            Ok(r) => r,
            Err(_) => Err(Error::Timeout {
                what: format!("looking up {what}"),
                after: limit,
                last: None,
            }),
        }
    }
}

/// The resources an in-flight create was found to have made, each removed
/// once.
#[derive(Default)]
struct Done {
    seen: HashSet<(String, String)>,
    entries: Vec<CleanupEntry>,
}

impl Done {
    async fn remove<T>(&mut self, create: &Create<T>, made: Vec<T>, undoer: &Undoer<'_>) {
        for m in made {
            // Newest first: the resource's own undo, then what it brought.
            for c in create.cleanups(&m).into_iter().rev() {
                let key = (c.resource.kind.clone(), c.resource.id.clone());
                if self.seen.insert(key) {
                    self.entries.push(undoer.run(c).await);
                }
            }
        }
    }

    fn with(self, outcome: Result<(), Error>) -> Settled {
        Settled {
            entries: self.entries,
            outcome,
        }
    }
}

/// Registers `create` in the journal, sends `send` on its own task, and
/// returns the answer: the entry then holds the resource's undos. When the
/// build is cancelled first, returns [`Error::Cancelled`] at once and
/// leaves the entry to the cleanup.
pub(crate) async fn create<T, Fut>(
    cx: &super::StepCx,
    create: Create<T>,
    send: Fut,
) -> Result<Created<T>, Error>
where
    T: Send + 'static,
    Fut: Future<Output = Result<T, Error>> + Send + 'static,
{
    cx.check_cancelled()?;
    let resource = create.resource.clone();
    let slot = Arc::new(Slot::new());
    let handle = cx.register(Cleanup::in_flight(InFlight {
        create: create.clone(),
        slot: slot.clone(),
    }));
    // Registered: now it may be sent. Its own task, so that nothing the
    // build does (or the runner dropping it) drops the request.
    let answer = slot.clone();
    let what = resource.to_string();
    tokio::spawn(async move {
        let r = std::panic::AssertUnwindSafe(send).catch_unwind().await;
        answer.answer(r.unwrap_or_else(|_| {
            Err(Error::Panicked {
                what: format!("creating {what}"),
            })
        }));
    });
    tokio::select! {
        biased;
        () = slot.answered() => {}
        () = cx.token().cancelled() => {
            return Err(Error::cancelled(format!(
                "{} while creating {resource}; the cleanup removes what the create makes",
                cx.step_name().map_or_else(|| "build".to_owned(), |s| format!("step {s}")),
            )));
        }
    }
    // The same poll that learned the answer swaps the entry for the undos.
    match slot.take() {
        Some(Ok(value)) => {
            let undo = cx.replace(handle, create.cleanups(&value));
            Ok(Created { value, undo })
        }
        // The create failed: the entry stays, so that the cleanup makes
        // sure it made nothing (a 5xx may come after the work was done).
        Some(Err(e)) => Err(e),
        None => Err(Error::Panicked {
            what: format!("creating {resource}: the answer was taken twice"),
        }),
    }
}
