use std::borrow::Cow;

use async_trait::async_trait;
use triton_client::manta::MantaClient;

use super::manta;
use crate::origin::{BuildStamp, write_set_markers};
use crate::{Error, Resource, Step, StepCx};

/// The set's markers, once every image of it is exported: `buildinfo.json`
/// in the directory, then `<branch>-latest` beside it (written last, so a
/// reader that follows it finds a complete set). `buildinfo.json` is
/// removed again if the set fails (unless something was at its path
/// before); `<branch>-latest` is only written when
/// nothing else is left to fail, and is never removed (it may have pointed
/// to an earlier set).
#[derive(Debug, Clone)]
pub(crate) struct SetMarkers {
    manta: MantaClient,
    dir: String,
    stamp: BuildStamp,
}

impl SetMarkers {
    pub(crate) fn new(manta: MantaClient, dir: String, stamp: BuildStamp) -> Self {
        Self { manta, dir, stamp }
    }
}

#[async_trait]
impl Step<()> for SetMarkers {
    type Out = String;

    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed("write set markers")
    }

    async fn run(&self, cx: &StepCx, (): ()) -> Result<String, Error> {
        let info = format!("{}/buildinfo.json", self.dir);
        // Something already there (an earlier run's) is not this run's to remove.
        let there = match cx.cancellable(self.manta.head(&info)).await? {
            Ok(_) => true,
            Err(e) if e.is_not_found() => false,
            Err(e) => return Err(manta(format!("looking at {info}"), e)),
        };
        let (client, path) = (self.manta.clone(), info.clone());
        if !there {
            cx.on_failure(
                Resource::new("manta object", info),
                move |_ucx| async move {
                    match client.delete(&path).await {
                        Ok(()) => Ok(()),
                        Err(e) if e.is_not_found() => Ok(()),
                        Err(e) => Err(manta(format!("removing {path}"), e)),
                    }
                },
            );
        }
        cx.check_cancelled()?;
        write_set_markers(&self.manta, &self.dir, &self.stamp)
            .await
            .map_err(super::origin)
    }
}
