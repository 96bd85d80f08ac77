use std::borrow::Cow;

use async_trait::async_trait;
use oxide_client::InstanceState;

use super::{InstanceHandle, OxideApi, RunningInstance};
use crate::{Error, Step, StepCx};

/// Polls `instance_view` until the instance is `running`, within
/// `state_timeout` (a timeout is an error, never an empty success).
/// `failed` and `destroyed` end the wait at once, and so does `stopped`,
/// which after a create means the start failed.
#[derive(Debug, Clone)]
pub struct WaitRunning {
    api: OxideApi,
}

impl WaitRunning {
    /// Waits with `api`'s wait settings.
    pub fn new(api: OxideApi) -> Self {
        Self { api }
    }
}

#[async_trait]
impl Step<InstanceHandle> for WaitRunning {
    type Out = RunningInstance;

    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed("wait running")
    }

    async fn run(&self, cx: &StepCx, handle: InstanceHandle) -> Result<RunningInstance, Error> {
        let id = handle.id;
        let c = &self.api.client;
        let instance = cx
            .wait_for(
                format!("instance {} ({id}) to be running", handle.name),
                &self.api.learning("oxide instance start", &handle.size),
                || async move {
                    Ok::<_, oxide_client::Error>(
                        c.instance_view(id, None)
                            .await?
                            .toward(InstanceState::Running),
                    )
                },
            )
            .await?;
        Ok(RunningInstance { handle, instance })
    }
}
