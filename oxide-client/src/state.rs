//! What an instance's, a disk's or a snapshot's state means to someone
//! waiting on it (done, failed, still going). The client never waits
//! itself: callers poll `*_view` with their own wait (imagebake-core's
//! `StepCx::wait_for`, or `imagebake_http::wait_for`), which owns progress,
//! timeouts and cancellation.

use imagebake_http::Poll;

use crate::types::{Disk, DiskState, Instance, InstanceState, Snapshot, SnapshotState};

impl Instance {
    /// What this instance's state means to a wait for `want`: `failed` and
    /// `destroyed` are failures, and so is `stopped` while waiting for
    /// `running` (the rack stops an instance whose start failed).
    pub fn toward(self, want: InstanceState) -> Poll<Instance> {
        match self.run_state {
            s if s == want => Poll::Done(self),
            InstanceState::Failed | InstanceState::Destroyed => {
                Poll::Failed(self.run_state.as_str().to_owned())
            }
            InstanceState::Stopped if want == InstanceState::Running => {
                Poll::Failed("stopped (the start failed; the rack stopped the instance)".to_owned())
            }
            s => Poll::Pending(s.as_str().to_owned()),
        }
    }
}

impl Disk {
    /// What this disk's state means to a wait for `detached`: `faulted` and
    /// `destroyed` are failures.
    pub fn toward_detached(self) -> Poll<Disk> {
        match self.state {
            DiskState::Detached => Poll::Done(self),
            DiskState::Faulted | DiskState::Destroyed => Poll::Failed(self.state.name().to_owned()),
            ref s => Poll::Pending(s.name().to_owned()),
        }
    }
}

impl Snapshot {
    /// What this snapshot's state means to a wait for `ready`: `faulted` and
    /// `destroyed` are failures.
    pub fn toward_ready(self) -> Poll<Snapshot> {
        match self.state {
            SnapshotState::Ready => Poll::Done(self),
            SnapshotState::Faulted => Poll::Failed("faulted".to_owned()),
            SnapshotState::Destroyed => Poll::Failed("destroyed".to_owned()),
            s => Poll::Pending(format!("{s:?}").to_lowercase()),
        }
    }
}
