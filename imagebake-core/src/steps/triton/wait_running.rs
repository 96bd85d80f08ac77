use std::borrow::Cow;

use async_trait::async_trait;
use triton_client::Client;
use triton_client::types::MachineState;

use super::{MachineHandle, RunningMachine, Waits};
use crate::{Error, Step, StepCx};

/// Polls CloudAPI `GetMachine` until the machine is `running`; `failed` (or
/// deleted) ends the wait at once, the build's cancellation at once, and
/// `state_timeout` bounds it.
#[derive(Debug, Clone)]
pub struct WaitRunning {
    client: Client,
    waits: Waits,
}

impl WaitRunning {
    /// Waits with `client` and `waits`.
    pub fn new(client: Client, waits: Waits) -> Self {
        Self { client, waits }
    }
}

#[async_trait]
impl Step<MachineHandle> for WaitRunning {
    type Out = RunningMachine;

    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed("wait running")
    }

    async fn run(&self, cx: &StepCx, handle: MachineHandle) -> Result<RunningMachine, Error> {
        let opts = self.waits.learning(
            self.waits.state_timeout,
            &self.client,
            "triton machine provision",
            &handle,
        );
        let client = &self.client;
        let id = handle.id;
        let machine = cx
            .wait_for(format!("machine {id} to run"), &opts, || {
                client.look_machine(&id, MachineState::Running)
            })
            .await?;
        Ok(RunningMachine { handle, machine })
    }
}
