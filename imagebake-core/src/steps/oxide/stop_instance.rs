use std::borrow::Cow;

use async_trait::async_trait;
use imagebake_http::WaitOptions;
use oxide_client::InstanceState;

use super::{OxideApi, Provisioned, StoppingInstance, api};
use crate::{Error, Step, StepCx};

/// `instance_stop`. Oxide's stop is a hard power-off, so it comes after the
/// flush: when the guest was shut down from inside, the step first waits
/// (up to `shutdown_timeout`) for the instance to stop by itself, so the
/// power is never cut during the guest's own shutdown; the stop is then
/// sent anyway (it does nothing to a stopped instance).
#[derive(Debug, Clone)]
pub struct StopInstance {
    api: OxideApi,
}

impl StopInstance {
    /// Stops with `api`.
    pub fn new(api: OxideApi) -> Self {
        Self { api }
    }
}

#[async_trait]
impl Step<Provisioned> for StopInstance {
    type Out = StoppingInstance;

    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed("stop instance")
    }

    async fn run(&self, cx: &StepCx, p: Provisioned) -> Result<StoppingInstance, Error> {
        let id = p.instance.id;
        let c = &self.api.client;
        if p.flushed.powered_off {
            let w = self.api.waits;
            let opts = WaitOptions::new(w.shutdown_timeout, w.poll_cap);
            let off = cx
                .wait_for(
                    format!("instance {} ({id}) to power off", p.instance.name),
                    &opts,
                    || async move {
                        let i = c.instance_view(id, None).await?;
                        Ok::<_, oxide_client::Error>(i.toward(InstanceState::Stopped).map(drop))
                    },
                )
                .await;
            match off {
                Ok(()) => {}
                Err(Error::Timeout { after, .. }) => {
                    tracing::warn!(instance = %id, ?after, "the guest did not power off; stopping it");
                }
                Err(e) => return Err(e),
            }
        }
        let i = cx
            .cancellable(c.instance_stop(id, None))
            .await?
            .map_err(|e| api(format!("stopping instance {id}"), e))?;
        tracing::info!(instance = %id, state = i.run_state.as_str(), "stop sent");
        Ok(StoppingInstance {
            instance: p.instance,
        })
    }
}
