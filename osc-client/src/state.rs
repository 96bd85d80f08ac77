//! What a volume's, a snapshot's or an image's state means to someone
//! waiting on it (done, failed, still going). The client never waits
//! itself: callers poll `find` with their own wait (imagebake-core's
//! `StepCx::wait_for`, or `imagebake_http::wait_for`), which owns progress,
//! timeouts and cancellation. A resource that is not found is a failure
//! ([`Poll::found`]).

use imagebake_http::Poll;

use crate::types::{Image, ImageState, Snapshot, SnapshotState, Volume, VolumeState};

impl Volume {
    /// What this volume's state means to a wait for `available` with no
    /// link left (after a create or an unlink): `error` is a failure.
    pub fn toward_available(self) -> Poll<Volume> {
        self.toward(|v| v.state == Some(VolumeState::Available) && v.linked_volumes.is_empty())
    }

    /// What this volume's state means to a wait for `in-use` with every link
    /// `attached`: `error` is a failure.
    pub fn toward_linked(self) -> Poll<Volume> {
        self.toward(Volume::is_linked)
    }

    fn toward(self, done: impl Fn(&Volume) -> bool) -> Poll<Volume> {
        if self.state == Some(VolumeState::Error) {
            return Poll::Failed("error".to_owned());
        }
        if done(&self) {
            return Poll::Done(self);
        }
        let links: Vec<String> = self
            .linked_volumes
            .iter()
            .map(|l| state_name(l.state.as_ref()))
            .collect();
        let state = state_name(self.state.as_ref());
        Poll::Pending(if links.is_empty() {
            state
        } else {
            format!("{state} (links: {})", links.join(","))
        })
    }
}

impl Snapshot {
    /// What this snapshot's state means to a wait for `completed`: `error`
    /// is a failure; a pending state shows the progress (`pending 40%`).
    pub fn toward_completed(self) -> Poll<Snapshot> {
        match &self.state {
            Some(SnapshotState::Completed) => Poll::Done(self),
            Some(SnapshotState::Error) => Poll::Failed("error".to_owned()),
            other => Poll::Pending(match self.progress {
                Some(p) => format!("{} {p}%", state_name(other.as_ref())),
                None => state_name(other.as_ref()),
            }),
        }
    }
}

impl Image {
    /// What this image's state means to a wait for `available`: `failed` is
    /// a failure, with the image's state message.
    pub fn toward_available(self) -> Poll<Image> {
        match &self.state {
            Some(ImageState::Available) => Poll::Done(self),
            Some(ImageState::Failed) => {
                let why = self
                    .state_comment
                    .as_ref()
                    .and_then(|c| c.state_message.clone())
                    .unwrap_or_default();
                Poll::Failed(format!("failed {why}").trim().to_owned())
            }
            other => Poll::Pending(state_name(other.as_ref())),
        }
    }
}

/// A state's name, `unknown` when the answer had none.
fn state_name<T: std::fmt::Display>(s: Option<&T>) -> String {
    s.map_or_else(|| "unknown".to_owned(), ToString::to_string)
}
