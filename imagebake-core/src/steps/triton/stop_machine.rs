use std::borrow::Cow;

use async_trait::async_trait;
use triton_client::Client;

use super::{Provisioned, StoppingMachine, api};
use crate::{Error, ErrorMeta as _, Step, StepCx};

/// CloudAPI `StopMachine`. A machine that is already stopping or stopped
/// (the provisioners shut it down) answers `InvalidState`, which is fine:
/// [`WaitStopped`](super::WaitStopped) checks the state that follows. So
/// a stop whose outcome is unknown (a lost answer, a 5xx) is sent again, at
/// most [`STOP_SENDS`] times in all.
#[derive(Debug, Clone)]
pub struct StopMachine {
    client: Client,
}

/// Sends of `StopMachine` whose outcomes stay unknown.
pub const STOP_SENDS: u32 = 4;

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
        let mut sent = 0;
        loop {
            sent += 1;
            match cx.cancellable(self.client.stop_machine(&id)).await? {
                Ok(()) => break,
                Err(e) if e.code() == Some("InvalidState") => {
                    tracing::info!(machine = %id, "machine not running at stop; checking its state");
                    break;
                }
                // The answer was lost (or a 5xx): sent again, which either
                // stops the machine or answers InvalidState if the first
                // stop was done.
                Err(e) if e.outcome_unknown() && sent < STOP_SENDS => {
                    tracing::info!(machine = %id, error = %e, "stop outcome unknown; sending it again");
                }
                Err(e) => return Err(api(format!("stopping machine {id}"), e)),
            }
        }
        Ok(StoppingMachine { machine: p.machine })
    }
}
