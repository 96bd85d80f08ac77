use std::borrow::Cow;

use async_trait::async_trait;
use triton_client::Client;

use super::{Provisioned, StoppingMachine, api};
use crate::{Error, Step, StepCx};

/// CloudAPI `StopMachine`. A machine that is already stopping or stopped
/// (the provisioners shut it down) answers `InvalidState`, which is fine:
/// [`WaitStopped`](super::WaitStopped) checks the state that follows.
#[derive(Debug, Clone)]
pub struct StopMachine {
    client: Client,
}

impl StopMachine {
    /// Stops with `client`.
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

#[async_trait]
impl Step<Provisioned> for StopMachine {
    type Out = StoppingMachine;

    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed("stop machine")
    }

    async fn run(&self, cx: &StepCx, p: Provisioned) -> Result<StoppingMachine, Error> {
        let id = p.machine.id;
        match cx.cancellable(self.client.stop_machine(&id)).await? {
            Ok(()) => {}
            Err(e) if e.code() == Some("InvalidState") => {
                tracing::info!(machine = %id, "machine not running at stop; checking its state");
            }
            Err(e) => return Err(api(format!("stopping machine {id}"), e)),
        }
        Ok(StoppingMachine { machine: p.machine })
    }
}
