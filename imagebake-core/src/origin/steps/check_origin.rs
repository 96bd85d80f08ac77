use std::borrow::Cow;

use async_trait::async_trait;
use triton_client::Client;
use triton_client::types::{Image, ImageId};

use crate::origin::{OriginError, OriginRef};
use crate::steps::triton::api;
use crate::{Error, Step, StepCx};

/// The origin image of an entry, as CloudAPI shows it, checked.
#[derive(Debug, Clone)]
pub(crate) struct CheckedOrigin {
    /// GetImage's answer.
    pub(crate) image: Image,
}

/// GetImage of `origin.uuid`: it must exist and carry the entry's name and
/// version (triton-origin-image checks them against the image server before
/// building); otherwise an error naming the entry and what differs.
#[derive(Debug, Clone)]
pub(crate) struct CheckOrigin {
    client: Client,
    origin: OriginRef,
    /// `images.json: [i] (name)`.
    at: String,
}

impl CheckOrigin {
    pub(crate) fn new(client: Client, origin: OriginRef, at: String) -> Self {
        Self { client, origin, at }
    }
}

#[async_trait]
impl Step<()> for CheckOrigin {
    type Out = CheckedOrigin;

    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed("check origin")
    }

    async fn run(&self, cx: &StepCx, (): ()) -> Result<CheckedOrigin, Error> {
        let o = &self.origin;
        let id = ImageId(o.uuid);
        let got = cx.cancellable(self.client.get_image(&id)).await?;
        let image = match got {
            Ok(i) => i,
            Err(e) if e.is_not_found() => {
                return Err(super::origin(OriginError::invalid(
                    format!("{}.origin.uuid", self.at),
                    format!("image {} does not exist", o.uuid),
                )));
            }
            Err(e) => return Err(api(format!("getting origin image {}", o.uuid), e)),
        };
        let mut differs = Vec::new();
        if image.name != o.name {
            differs.push(format!("name is {:?}, not {:?}", image.name, o.name));
        }
        if image.version != o.version {
            differs.push(format!(
                "version is {:?}, not {:?}",
                image.version, o.version
            ));
        }
        if !differs.is_empty() {
            return Err(super::origin(OriginError::invalid(
                format!("{}.origin", self.at),
                format!("image {}: its {}", o.uuid, differs.join(" and its ")),
            )));
        }
        Ok(CheckedOrigin { image })
    }
}
