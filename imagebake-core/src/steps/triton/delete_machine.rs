use std::borrow::Cow;

use async_trait::async_trait;
use triton_client::Client;

use super::{ImageActive, MachineDeleting, api};
use crate::{Error, Step, StepCx};

/// CloudAPI `DeleteMachine` of the imaged machine (already deleted counts as
/// done). Its undo stays registered until
/// [`WaitMachineGone`](super::WaitMachineGone) has seen it gone.
#[derive(Debug, Clone)]
pub struct DeleteMachine {
    client: Client,
}

impl DeleteMachine {
    /// Deletes with `client`.
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

#[async_trait]
impl Step<ImageActive> for DeleteMachine {
    type Out = MachineDeleting;

    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed("delete machine")
    }

    async fn run(&self, cx: &StepCx, a: ImageActive) -> Result<MachineDeleting, Error> {
        let id = a.machine.id;
        match cx.cancellable(self.client.delete_machine(&id)).await? {
            Ok(()) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(api(format!("deleting machine {id}"), e)),
        }
        Ok(MachineDeleting {
            machine: a.machine,
            image: a.image,
        })
    }
}
