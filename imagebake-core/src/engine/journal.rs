use std::fmt;
use std::future::Future;
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use super::Resource;
use super::create::{InFlight, Settle};
use crate::journal::{LOCAL, LOCAL_KINDS, Record, Scope, UndoResult, Writer};
use crate::{BuildId, Error};

/// When an undo runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UndoWhen {
    /// At the end of every build, successful or not (temporary machine,
    /// temporary key, session).
    Always,
    /// Only when the build fails or is cancelled (a half-made image).
    OnFailure,
}

/// What an undo gets: a fresh cancellation token (not the build's, which may
/// already be cancelled), its time limit and the build id.
#[derive(Debug, Clone)]
pub struct UndoCx {
    pub(crate) token: CancellationToken,
    pub(crate) build_id: BuildId,
    pub(crate) resource: Resource,
    pub(crate) timeout: Duration,
}

impl UndoCx {
    /// Cancelled when the undo's time limit passes; pass it to waits.
    pub fn token(&self) -> &CancellationToken {
        &self.token
    }

    /// The build's id.
    pub fn build_id(&self) -> &BuildId {
        &self.build_id
    }

    /// The resource being removed.
    pub fn resource(&self) -> &Resource {
        &self.resource
    }

    /// The undo's time limit.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Waits on a resource (the build's one wait), cancelled by this undo's
    /// token (whatever token `opts` holds): a wait inside an undo ends when
    /// the undo's time limit passes.
    pub async fn wait_for<T, E, F, Fut>(
        &self,
        what: impl Into<String>,
        opts: &imagebake_http::WaitOptions,
        look: F,
    ) -> Result<T, Error>
    where
        E: std::error::Error + Send + Sync + 'static,
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<imagebake_http::Poll<T>, E>>,
    {
        let opts = opts.clone().cancel_on(self.token.clone());
        super::wait(what, &opts, |_, _| {}, look).await
    }
}

type UndoFn = Box<dyn FnOnce(UndoCx) -> BoxFuture<'static, Result<(), Error>> + Send>;

/// How a journal entry is undone.
pub(crate) enum Action {
    /// An undo of a resource whose id is known.
    Undo(UndoFn),
    /// A create in flight, settled by looking up and removing what it made.
    InFlight(Box<dyn Settle>),
}

/// A compensating action for one resource: what to remove, when, how, and
/// (optionally) its own time limit. Register it with
/// [`crate::StepCx::register`], or use the [`crate::StepCx::defer`] and
/// [`crate::StepCx::on_failure`] shorthands.
pub struct Cleanup {
    pub(crate) resource: Resource,
    pub(crate) when: UndoWhen,
    pub(crate) timeout: Option<Duration>,
    pub(crate) action: Action,
}

impl Cleanup {
    fn new<F, Fut>(resource: Resource, when: UndoWhen, undo: F) -> Self
    where
        F: FnOnce(UndoCx) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), Error>> + Send + 'static,
    {
        Self {
            resource,
            when,
            timeout: None,
            action: Action::Undo(Box::new(move |cx| undo(cx).boxed())),
        }
    }

    /// The entry of a create in flight (settled whatever the build's outcome).
    pub(crate) fn in_flight<T: Send + 'static>(entry: InFlight<T>) -> Self {
        Self {
            resource: entry.create.resource().clone(),
            when: UndoWhen::Always,
            timeout: None,
            action: Action::InFlight(Box::new(entry)),
        }
    }

    /// Whether this is a create in flight.
    pub(crate) fn is_in_flight(&self) -> bool {
        matches!(self.action, Action::InFlight(_))
    }

    /// An undo that runs at the end of every build.
    pub fn always<F, Fut>(resource: Resource, undo: F) -> Self
    where
        F: FnOnce(UndoCx) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), Error>> + Send + 'static,
    {
        Self::new(resource, UndoWhen::Always, undo)
    }

    /// An undo that runs only when the build fails or is cancelled.
    pub fn on_failure<F, Fut>(resource: Resource, undo: F) -> Self
    where
        F: FnOnce(UndoCx) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), Error>> + Send + 'static,
    {
        Self::new(resource, UndoWhen::OnFailure, undo)
    }

    /// Gives this undo its own time limit instead of the runner's.
    pub fn timeout(mut self, limit: Duration) -> Self {
        self.timeout = Some(limit);
        self
    }
}

impl fmt::Debug for Cleanup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cleanup")
            .field("resource", &self.resource)
            .field("when", &self.when)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Names a registered undo, to [`crate::StepCx::dismiss`] it when a later
/// step removes the resource itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UndoHandle(u64);

/// The undos registered so far, in registration order; each change also
/// goes to the build's journal file, when it has one.
#[derive(Default)]
pub(crate) struct Journal {
    next: u64,
    entries: Vec<(UndoHandle, Cleanup)>,
    disk: Option<Disk>,
}

/// The journal file of a build and the cloud of its builder's scope.
pub(crate) struct Disk {
    pub(crate) writer: Writer,
    pub(crate) cloud: Option<String>,
}

impl Journal {
    /// A journal that also writes to `writer`.
    pub(crate) fn on_disk(writer: Writer) -> Self {
        Self {
            next: 0,
            entries: Vec::new(),
            disk: Some(Disk {
                writer,
                cloud: None,
            }),
        }
    }

    /// Appends `record` to the file, if any.
    pub(crate) fn record(&mut self, record: &Record) {
        if let Some(d) = &mut self.disk {
            d.writer.record(record);
        }
    }

    /// Records where the builder's resources live.
    pub(crate) fn scope(&mut self, scope: Scope) {
        if let Some(d) = &mut self.disk {
            d.cloud = Some(scope.cloud.clone());
            d.writer.record(&Record::Scope(scope));
        }
    }

    /// The record of a registration: an intent for a create in flight, the
    /// resource otherwise.
    fn record_push(&mut self, h: UndoHandle, c: &Cleanup, replaces: Option<UndoHandle>) {
        let Some(d) = &mut self.disk else { return };
        let r = &c.resource;
        let cloud = if LOCAL_KINDS.contains(&r.kind.as_str()) {
            LOCAL.to_owned()
        } else {
            d.cloud.clone().unwrap_or_default()
        };
        let record = if c.is_in_flight() {
            Record::Intent {
                n: h.0,
                cloud,
                kind: r.kind.clone(),
                name: r.name.clone(),
            }
        } else {
            Record::Made {
                n: h.0,
                replaces: replaces.map(|h| h.0),
                cloud,
                kind: r.kind.clone(),
                id: r.id.clone(),
                name: r.name.clone(),
                when: c.when,
            }
        };
        d.writer.record(&record);
    }

    /// Records what became of undo `h`.
    pub(crate) fn record_outcome(
        &mut self,
        h: UndoHandle,
        result: UndoResult,
        error: Option<String>,
    ) {
        self.record(&Record::Undone {
            n: h.0,
            result,
            error,
        });
    }

    pub(crate) fn push(&mut self, cleanup: Cleanup) -> UndoHandle {
        let h = UndoHandle(self.next);
        self.next += 1;
        self.record_push(h, &cleanup, None);
        self.entries.push((h, cleanup));
        h
    }

    /// Removes an entry; its resource if it was there.
    pub(crate) fn remove(&mut self, handle: UndoHandle) -> Option<Resource> {
        let at = self.entries.iter().position(|(h, _)| *h == handle)?;
        self.record(&Record::Dismissed { n: handle.0 });
        Some(self.entries.remove(at).1.resource)
    }

    /// Replaces an entry with `cleanups` at its place (in their order), and
    /// returns the handle of the last one; the replaced entry's resource.
    /// Without the entry (already drained), they are added at the end.
    pub(crate) fn replace(
        &mut self,
        handle: UndoHandle,
        cleanups: Vec<Cleanup>,
    ) -> (Option<Resource>, Vec<(UndoHandle, Resource, UndoWhen)>) {
        let (at, old) = match self.entries.iter().position(|(h, _)| *h == handle) {
            Some(at) => (at, Some(self.entries.remove(at).1.resource)),
            None => (self.entries.len(), None),
        };
        let mut added = Vec::with_capacity(cleanups.len());
        let mut new: Vec<(UndoHandle, Cleanup)> = Vec::with_capacity(cleanups.len());
        for c in cleanups {
            let h = UndoHandle(self.next);
            self.next += 1;
            self.record_push(h, &c, Some(handle));
            added.push((h, c.resource.clone(), c.when));
            new.push((h, c));
        }
        self.entries.splice(at..at, new);
        (old, added)
    }

    /// Takes every entry, newest first.
    pub(crate) fn drain_lifo(&mut self) -> Vec<(UndoHandle, Cleanup)> {
        let mut v: Vec<(UndoHandle, Cleanup)> = self.entries.drain(..).collect();
        v.reverse();
        v
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        // A tripwire, not the mechanism: the runner drains the journal. An
        // entry here was registered after the build ended (by a task that
        // outlived its step) and will never run.
        for (_, c) in &self.entries {
            tracing::error!(resource = %c.resource, "undo registered after the build ended; not run");
        }
    }
}

/// Runs one undo with its own token and time limit; a panic is contained.
pub(crate) async fn run_undo(
    cleanup: Cleanup,
    build_id: &BuildId,
    default_timeout: Duration,
) -> Result<(), Error> {
    let limit = cleanup.timeout.unwrap_or(default_timeout);
    let token = CancellationToken::new();
    let cx = UndoCx {
        token: token.clone(),
        build_id: build_id.clone(),
        resource: cleanup.resource.clone(),
        timeout: limit,
    };
    let what = format!("removing {}", cleanup.resource);
    let Action::Undo(action) = cleanup.action else {
        return Err(Error::Other(
            format!("{what}: a create in flight is settled, not undone").into(),
        ));
    };
    let Ok(fut) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || action(cx))) else {
        return Err(Error::Panicked { what });
    };
    let fut = std::panic::AssertUnwindSafe(fut).catch_unwind();
    match tokio::time::timeout(limit, fut).await {
        Ok(Ok(r)) => r,
        Ok(Err(_panic)) => Err(Error::Panicked { what }),
        Err(_elapsed) => {
            token.cancel();
            Err(Error::Timeout {
                what,
                after: limit,
                last: None,
            })
        }
    }
}
