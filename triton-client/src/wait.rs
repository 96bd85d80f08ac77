//! Waiting for machines and images, on `imagebake_http::wait_for`.

use std::sync::Mutex;

use imagebake_http::{Poll, WaitError, WaitOptions, wait_for};

use crate::client::Client;
use crate::error::{Error, Result};
use crate::types::{
    ImageError, ImageId, ImageState, Machine, MachineId, MachineLookup, MachineState,
};

fn from_wait(e: WaitError<Error>, detail: Option<ImageError>) -> Error {
    match e {
        WaitError::Failed { what, state } => Error::ResourceFailed {
            what,
            state,
            code: detail.as_ref().and_then(|d| d.code.clone()),
            message: detail.and_then(|d| d.message),
        },
        WaitError::Timeout { what, after, last } => Error::Timeout { what, after, last },
        WaitError::Cancelled { what } => Error::Cancelled { what },
        WaitError::Poll { source, .. } => source,
    }
}

impl Client {
    /// Polls CloudAPI `GetMachine` until the machine is in `wanted`.
    ///
    /// `failed` ends the wait at once with [`Error::ResourceFailed`], and so
    /// does deletion (410) unless `wanted` is [`MachineState::Deleted`].
    pub async fn wait_machine_state(
        &self,
        id: &MachineId,
        wanted: MachineState,
        opts: &WaitOptions,
    ) -> Result<Machine> {
        let what = format!("machine {id}");
        let on_poll = |state: &str, n: u32| {
            tracing::debug!(machine = %id, state, poll = n, wanted = %wanted, "waiting for machine");
        };
        wait_for(what, opts, on_poll, || async move {
            Ok(match self.get_machine(id).await? {
                MachineLookup::Gone(m) if wanted == MachineState::Deleted => Poll::Done(m),
                MachineLookup::Gone(_) => Poll::Failed("deleted".to_owned()),
                MachineLookup::Found(m) if m.state == wanted => Poll::Done(m),
                MachineLookup::Found(m) if m.state == MachineState::Failed => {
                    Poll::Failed("failed".to_owned())
                }
                MachineLookup::Found(m) => Poll::Pending(m.state.to_string()),
            })
        })
        .await
        .map_err(|e| from_wait(e, None))
    }

    /// Polls CloudAPI `GetMachine` until the machine is gone: 410 Gone, or
    /// 404 once its history is purged.
    pub async fn wait_machine_gone(&self, id: &MachineId, opts: &WaitOptions) -> Result<()> {
        let what = format!("machine {id} to be deleted");
        wait_for(
            what,
            opts,
            |_, _| {},
            || async move {
                match self.get_machine(id).await {
                    Ok(MachineLookup::Gone(_)) => Ok(Poll::Done(())),
                    Ok(MachineLookup::Found(m)) => Ok(Poll::Pending(m.state.to_string())),
                    Err(e) if e.status() == Some(404) => Ok(Poll::Done(())),
                    Err(e) => Err(e),
                }
            },
        )
        .await
        .map_err(|e| from_wait(e, None))
    }

    /// Polls CloudAPI `GetImage` until the image is `active`. A `failed`
    /// image ends the wait at once with [`Error::ResourceFailed`] carrying
    /// the image's `error.code` and `error.message`.
    pub async fn wait_image_active(
        &self,
        id: &ImageId,
        opts: &WaitOptions,
    ) -> Result<crate::types::Image> {
        let what = format!("image {id}");
        let failure: Mutex<Option<ImageError>> = Mutex::new(None);
        let failure_ref = &failure;
        let r = wait_for(
            what,
            opts,
            |_, _| {},
            || async move {
                let image = self.get_image(id).await?;
                Ok(match image.state {
                    ImageState::Active => Poll::Done(image),
                    ImageState::Failed => {
                        if let Ok(mut f) = failure_ref.lock() {
                            *f = image.error.clone();
                        }
                        Poll::Failed("failed".to_owned())
                    }
                    other => Poll::Pending(other.to_string()),
                })
            },
        )
        .await;
        r.map_err(|e| {
            let detail = failure.lock().ok().and_then(|mut f| f.take());
            from_wait(e, detail)
        })
    }
}
