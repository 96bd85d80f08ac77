//! What a machine's or an image's state means to someone waiting on it
//! (done, failed, still going). The client never waits itself: the caller
//! polls these looks with its own wait (imagebake-core's `StepCx::wait_for`,
//! or `imagebake_http::wait_for`), which owns progress, timeouts and
//! cancellation.

use imagebake_http::Poll;

use crate::client::Client;
use crate::error::Result;
use crate::types::{Image, ImageId, ImageState, Machine, MachineId, MachineLookup, MachineState};

impl MachineLookup {
    /// What this answer means to a wait for `wanted`: `failed` is a failure,
    /// and so is deletion unless `wanted` is [`MachineState::Deleted`].
    pub fn toward(self, wanted: MachineState) -> Poll<Machine> {
        match self {
            MachineLookup::Gone(m) if wanted == MachineState::Deleted => Poll::Done(m),
            MachineLookup::Gone(_) => Poll::Failed("deleted".to_owned()),
            MachineLookup::Found(m) if m.state == wanted => Poll::Done(m),
            MachineLookup::Found(m) if m.state == MachineState::Failed => {
                Poll::Failed("failed".to_owned())
            }
            MachineLookup::Found(m) => Poll::Pending(m.state.to_string()),
        }
    }
}

impl Image {
    /// What this image's state means to a wait for `active`: `failed` is a
    /// failure naming the image's `error.code` and `error.message`.
    pub fn toward_active(self) -> Poll<Image> {
        match self.state {
            ImageState::Active => Poll::Done(self),
            ImageState::Failed => {
                let why = self.error.as_ref().map(|e| {
                    let code = e.code.as_deref().unwrap_or("no code");
                    match &e.message {
                        Some(m) => format!("{code}: {m}"),
                        None => code.to_owned(),
                    }
                });
                Poll::Failed(match why {
                    Some(w) => format!("failed ({w})"),
                    None => "failed".to_owned(),
                })
            }
            other => Poll::Pending(other.to_string()),
        }
    }
}

impl Client {
    /// One look at a machine for a wait on `wanted` (CloudAPI `GetMachine`,
    /// [`MachineLookup::toward`]).
    pub async fn look_machine(
        &self,
        id: &MachineId,
        wanted: MachineState,
    ) -> Result<Poll<Machine>> {
        Ok(self.get_machine(id).await?.toward(wanted))
    }

    /// One look at a machine for a wait on its deletion: done once
    /// `GetMachine` answers 410 Gone, or 404 when its history is purged.
    pub async fn look_machine_gone(&self, id: &MachineId) -> Result<Poll<()>> {
        match self.get_machine(id).await {
            Ok(MachineLookup::Gone(_)) => Ok(Poll::Done(())),
            Ok(MachineLookup::Found(m)) => Ok(Poll::Pending(m.state.to_string())),
            Err(e) if e.status() == Some(404) => Ok(Poll::Done(())),
            Err(e) => Err(e),
        }
    }

    /// One look at an image for a wait on `active` (CloudAPI `GetImage`,
    /// [`Image::toward_active`]).
    pub async fn look_image_active(&self, id: &ImageId) -> Result<Poll<Image>> {
        Ok(self.get_image(id).await?.toward_active())
    }
}
