use std::borrow::Cow;

use async_trait::async_trait;
use triton_client::Client;

use crate::origin::{OriginError, choose_package};
use crate::steps::triton::api;
use crate::{Error, Step, StepCx};

/// ListPackages, then the first package with memory in `[m, 2m]` for the
/// entry's `protoMinMemoryMb` ([`choose_package`]); none is an error naming
/// the entry's key.
#[derive(Debug, Clone)]
pub(crate) struct ChoosePackage {
    client: Client,
    min_mb: u64,
    /// `images.json: [i] (name)`.
    at: String,
}

impl ChoosePackage {
    pub(crate) fn new(client: Client, min_mb: u64, at: String) -> Self {
        Self { client, min_mb, at }
    }
}

#[async_trait]
impl<T: Send + 'static> Step<T> for ChoosePackage {
    type Out = (T, String);

    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed("choose package")
    }

    async fn run(&self, cx: &StepCx, input: T) -> Result<(T, String), Error> {
        let packages = cx
            .cancellable(self.client.list_packages(None))
            .await?
            .map_err(|e| api("listing packages", e))?;
        let chosen = choose_package(
            packages.iter().map(|p| (p.name.as_str(), p.memory)),
            self.min_mb,
        )
        .map_err(|e| match e {
            OriginError::Invalid { reason, .. } => super::origin(OriginError::invalid(
                format!("{}.protoMinMemoryMb", self.at),
                reason,
            )),
            other => super::origin(other),
        })?;
        Ok((input, chosen.to_owned()))
    }
}
