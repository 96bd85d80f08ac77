use std::borrow::Cow;

use async_trait::async_trait;
use triton_client::Client;
use triton_client::types::MachineState;

use super::{StoppedMachine, StoppingMachine, Waits};
use crate::{Error, Step, StepCx};

/// Polls CloudAPI `GetMachine` until the machine is `stopped` (`failed` or
/// deleted end the wait at once).
#[derive(Debug, Clone)]
pub struct WaitStopped {
    client: Client,
    waits: Waits,
}

impl WaitStopped {
    /// Waits with `client` and `waits`.
    pub fn new(client: Client, waits: Waits) -> Self {
        Self { client, waits }
    }
}

#[async_trait]
impl Step<StoppingMachine> for WaitStopped {
    type Out = StoppedMachine;

    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed("wait stopped")
    }

    async fn run(&self, cx: &StepCx, m: StoppingMachine) -> Result<StoppedMachine, Error> {
        let opts = self.waits.learning(
            self.waits.state_timeout,
            &self.client,
            "triton machine stop",
            &m.machine,
        );
        let client = &self.client;
        let id = m.machine.id;
        cx.wait_for(format!("machine {id} to stop"), &opts, || {
            client.look_machine(&id, MachineState::Stopped)
        })
        .await?;
        Ok(StoppedMachine { machine: m.machine })
    }
}
