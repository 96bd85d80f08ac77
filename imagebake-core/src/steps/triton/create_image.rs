use std::borrow::Cow;
use std::collections::BTreeMap;

use async_trait::async_trait;
use triton_client::Client;
use triton_client::types::CreateImageFromMachine;
use uuid::Uuid;

use super::{BUILD_TAG, CREATED_TAG, ImageInProgress, StoppedMachine, api, now_secs, remove_image};
use crate::{Error, Resource, Step, StepCx};

/// The image to make (Packer's `image_*` keys).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImageSpec {
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
    /// Description.
    pub description: Option<String>,
    /// Homepage URL.
    pub homepage: Option<String>,
    /// EULA URL.
    pub eula: Option<String>,
    /// Accounts to share it with.
    pub acl: Vec<Uuid>,
    /// Tags (the build tags are added while it is unfinished).
    pub tags: BTreeMap<String, String>,
}

/// CloudAPI `CreateImageFromMachine` of the stopped machine. An undo that
/// deletes the image if the build fails or is cancelled is registered the
/// moment the create answers (a failed placeholder, or an image finished
/// after a Ctrl-C, is never left behind). The create is never re-sent after
/// an unknown outcome (the client's rule) and never abandoned half-way.
#[derive(Debug, Clone)]
pub struct CreateImage {
    client: Client,
    spec: ImageSpec,
}

impl CreateImage {
    /// Creates the image `spec` describes with `client`.
    pub fn new(client: Client, spec: ImageSpec) -> Self {
        Self { client, spec }
    }
}

#[async_trait]
impl Step<StoppedMachine> for CreateImage {
    type Out = ImageInProgress;

    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed("create image")
    }

    async fn run(&self, cx: &StepCx, m: StoppedMachine) -> Result<ImageInProgress, Error> {
        cx.check_cancelled()?;
        let s = &self.spec;
        let mut req = CreateImageFromMachine::new(m.machine.id, s.name.clone(), s.version.clone());
        if let Some(d) = &s.description {
            req = req.description(d.clone());
        }
        if let Some(h) = &s.homepage {
            req = req.homepage(h.clone());
        }
        if let Some(e) = &s.eula {
            req = req.eula(e.clone());
        }
        if !s.acl.is_empty() {
            req = req.acl(s.acl.iter().copied());
        }
        for (k, v) in &s.tags {
            req = req.tag(k.clone(), v.clone());
        }
        req = req
            .tag(BUILD_TAG, cx.build_id().as_str())
            .tag(CREATED_TAG, now_secs().to_string());
        let label = format!("{}@{}", s.name, s.version);
        let image = self
            .client
            .create_image_from_machine(&req)
            .await
            .map_err(|e| api(format!("creating image {label}"), e))?;
        let id = image.id;
        let client = self.client.clone();
        let undo = cx.on_failure(
            Resource::new("image", id.to_string()).named(label.clone()),
            move |_ucx| async move { remove_image(&client, &id).await },
        );
        tracing::info!(image = %id, %label, "image creation started");
        let out = ImageInProgress {
            machine: m.machine,
            image: id,
            undo,
        };
        cx.check_cancelled()?;
        Ok(out)
    }
}
