use std::borrow::Cow;

use async_trait::async_trait;
use oxide_client::InstanceState;

use super::{OxideApi, StoppedInstance, StoppingInstance};
use crate::{Error, Step, StepCx};

/// Polls `instance_view` until the instance is `stopped`, within
/// `state_timeout` (a timeout is an error); `failed` and `destroyed` end the
/// wait at once.
#[derive(Debug, Clone)]
pub struct WaitStopped {
    api: OxideApi,
}

impl WaitStopped {
    /// Waits with `api`'s wait settings.
    pub fn new(api: OxideApi) -> Self {
        Self { api }
    }
}

#[async_trait]
impl Step<StoppingInstance> for WaitStopped {
    type Out = StoppedInstance;

    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed("wait stopped")
    }

    async fn run(&self, cx: &StepCx, s: StoppingInstance) -> Result<StoppedInstance, Error> {
        let id = s.instance.id;
        let c = &self.api.client;
        cx.wait_for(
            format!("instance {} ({id}) to be stopped", s.instance.name),
            &self.api.learning("oxide instance stop", &s.instance.size),
            || async move {
                let i = c.instance_view(id, None).await?;
                Ok::<_, oxide_client::Error>(i.toward(InstanceState::Stopped).map(drop))
            },
        )
        .await?;
        Ok(StoppedInstance {
            instance: s.instance,
        })
    }
}
