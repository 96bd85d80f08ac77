//! What a build reports while it runs: an [`Event`] stream delivered to
//! [`Observer`]s (a channel for progress displays and the Python wrapper, and
//! `tracing` for logs).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::mpsc;

use crate::{BuildId, OutputStream, Resource, UndoWhen};

/// How a step or a build ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
#[non_exhaustive]
pub enum StepOutcome {
    /// It succeeded.
    Ok,
    /// It failed; `message` is the error's text.
    Failed {
        /// The error, as text.
        message: String,
    },
    /// It was cancelled.
    Cancelled,
}

/// How an undo ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
#[non_exhaustive]
pub enum UndoOutcome {
    /// The resource is gone.
    Removed,
    /// The undo failed or timed out; the resource may remain.
    Failed {
        /// The error, as text.
        message: String,
    },
    /// The build's `OnError::Keep` policy left the resource in place.
    Kept,
    /// A create in flight ended having made nothing (proven absent).
    NotMade,
}

/// One thing that happened during a build.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Event {
    /// The build started.
    BuildStarted {
        /// Its id.
        build_id: BuildId,
        /// Its name.
        name: String,
    },
    /// The build ended (after its cleanup).
    BuildFinished {
        /// Its id.
        build_id: BuildId,
        /// How it ended.
        outcome: StepOutcome,
        /// How long it took, cleanup included.
        #[serde(rename = "duration_ms", serialize_with = "millis")]
        duration: Duration,
    },
    /// A step started.
    StepStarted {
        /// The step's name.
        step: String,
    },
    /// A step ended.
    StepFinished {
        /// The step's name.
        step: String,
        /// How it ended.
        outcome: StepOutcome,
        /// How long it ran.
        #[serde(rename = "duration_ms", serialize_with = "millis")]
        duration: Duration,
    },
    /// A wait looked at a resource that is not there yet.
    WaitProgress {
        /// The step waiting.
        step: Option<String>,
        /// What is waited on ("machine 7f3e…").
        what: String,
        /// Its current state.
        state: String,
        /// How many looks so far (from 0).
        attempt: u32,
    },
    /// A command printed a line.
    OutputLine {
        /// The step running the command.
        step: Option<String>,
        /// Which stream.
        stream: OutputStream,
        /// The line, without its line ending.
        line: String,
    },
    /// A resource became the build's: its undo was registered (or, for a
    /// create in flight, whose id is not known yet, the create was sent).
    /// Until its undo finishes or is dismissed it may be left behind.
    UndoRegistered {
        /// The resource.
        resource: Resource,
        /// When its undo runs.
        when: UndoWhen,
    },
    /// A registered undo was dropped: a step removed the resource itself,
    /// or the create in flight answered and its undo now names the real id.
    UndoDismissed {
        /// The resource.
        resource: Resource,
    },
    /// An undo started.
    UndoStarted {
        /// The resource it removes.
        resource: Resource,
    },
    /// An undo ended (or was skipped under `OnError::Keep`).
    UndoFinished {
        /// The resource.
        resource: Resource,
        /// What happened to it.
        outcome: UndoOutcome,
    },
    /// The build produced something that outlives it (an image).
    Artifact {
        /// The artifact.
        artifact: Resource,
    },
}

fn millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Receives every event of a build, in order. Called synchronously from the
/// build's task: keep it quick and never block.
pub trait Observer: Send + Sync {
    /// Called for each event.
    fn on_event(&self, event: &Event);
}

/// Sends every event into an unbounded channel (for a progress display, or a
/// binding that drains it from another thread). A dropped receiver is ignored.
#[derive(Debug, Clone)]
pub struct ChannelObserver {
    tx: mpsc::UnboundedSender<Event>,
}

impl ChannelObserver {
    /// An observer and the receiving end of its channel.
    pub fn new() -> (Self, mpsc::UnboundedReceiver<Event>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Self { tx }, rx)
    }
}

impl Observer for ChannelObserver {
    fn on_event(&self, event: &Event) {
        // A receiver that went away means nobody is watching: not an error.
        let _ = self.tx.send(event.clone());
    }
}

/// Logs every event with `tracing` (output lines at `debug`, failures at
/// `warn`, the rest at `info`).
#[derive(Debug, Clone, Copy, Default)]
pub struct TracingObserver;

impl Observer for TracingObserver {
    fn on_event(&self, event: &Event) {
        match event {
            Event::BuildStarted { build_id, name } => {
                tracing::info!(%build_id, %name, "build started");
            }
            Event::BuildFinished {
                build_id,
                outcome: StepOutcome::Ok,
                duration,
            } => {
                tracing::info!(%build_id, ?duration, "build finished");
            }
            Event::BuildFinished {
                build_id,
                outcome,
                duration,
            } => {
                tracing::warn!(%build_id, ?outcome, ?duration, "build did not succeed");
            }
            Event::StepStarted { step } => tracing::info!(%step, "step started"),
            Event::StepFinished {
                step,
                outcome: StepOutcome::Ok,
                duration,
            } => {
                tracing::info!(%step, ?duration, "step finished");
            }
            Event::StepFinished {
                step,
                outcome,
                duration,
            } => {
                tracing::warn!(%step, ?outcome, ?duration, "step did not succeed");
            }
            Event::WaitProgress {
                step,
                what,
                state,
                attempt,
            } => {
                tracing::info!(step = step.as_deref(), %what, %state, attempt, "waiting");
            }
            Event::OutputLine { step, stream, line } => {
                tracing::debug!(step = step.as_deref(), ?stream, "{line}");
            }
            Event::UndoRegistered { resource, when } => {
                tracing::debug!(%resource, ?when, "undo registered");
            }
            Event::UndoDismissed { resource } => tracing::debug!(%resource, "undo dismissed"),
            Event::UndoStarted { resource } => tracing::info!(%resource, "removing"),
            Event::UndoFinished {
                resource,
                outcome: UndoOutcome::Removed,
            } => {
                tracing::info!(%resource, "removed");
            }
            Event::UndoFinished {
                resource,
                outcome: UndoOutcome::NotMade,
            } => {
                tracing::info!(%resource, "the create made nothing");
            }
            Event::UndoFinished { resource, outcome } => {
                tracing::warn!(%resource, ?outcome, "left in place");
            }
            Event::Artifact { artifact } => tracing::info!(%artifact, "artifact"),
        }
    }
}

/// Wraps a closure as an [`Observer`] (for callbacks from a binding).
pub struct FnObserver<F>(pub F);

impl<F> fmt::Debug for FnObserver<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FnObserver")
    }
}

impl<F: Fn(&Event) + Send + Sync> Observer for FnObserver<F> {
    fn on_event(&self, event: &Event) {
        (self.0)(event);
    }
}

/// The observers of one build; cheap to clone. Steps emit through
/// [`crate::StepCx::events`].
#[derive(Clone, Default)]
pub struct Events {
    observers: Arc<[Arc<dyn Observer>]>,
}

impl Events {
    /// Delivers to these observers, in this order.
    pub fn new(observers: Vec<Arc<dyn Observer>>) -> Self {
        Self {
            observers: observers.into(),
        }
    }

    /// Delivers `event` to every observer.
    pub fn emit(&self, event: Event) {
        for o in self.observers.iter() {
            o.on_event(&event);
        }
    }
}

impl fmt::Debug for Events {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Events({} observers)", self.observers.len())
    }
}
