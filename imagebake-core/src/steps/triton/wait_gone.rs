use std::borrow::Cow;

use async_trait::async_trait;
use triton_client::Client;
use triton_client::types::Image;

use super::{MachineDeleting, Waits};
use crate::{Error, Step, StepCx};

/// Polls CloudAPI `GetMachine` until the machine is gone (410, or 404 once
/// purged), then dismisses its undo. Yields the image.
#[derive(Debug, Clone)]
pub struct WaitMachineGone {
    client: Client,
    waits: Waits,
}

impl WaitMachineGone {
    /// Waits with `client` and `waits`.
    pub fn new(client: Client, waits: Waits) -> Self {
        Self { client, waits }
    }
}

#[async_trait]
impl Step<MachineDeleting> for WaitMachineGone {
    type Out = Image;

    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed("wait machine gone")
    }

    async fn run(&self, cx: &StepCx, d: MachineDeleting) -> Result<Image, Error> {
        let opts = self.waits.learning(
            self.waits.state_timeout,
            &self.client,
            "triton machine delete",
            &d.machine,
        );
        let client = &self.client;
        let id = d.machine.id;
        cx.wait_for(format!("machine {id} to be deleted"), &opts, || {
            client.look_machine_gone(&id)
        })
        .await?;
        cx.dismiss(d.machine.undo);
        Ok(d.image)
    }
}
