use std::borrow::Cow;
use std::collections::BTreeMap;

use async_trait::async_trait;
use triton_client::Client;
use triton_client::types::{CreateImageFromMachine, Image, ListImages};
use uuid::Uuid;

use super::{BUILD_TAG, CREATED_TAG, ImageInProgress, StoppedMachine, api, now_secs, remove_image};
use crate::{Cleanup, Create, Error, Resource, Step, StepCx};

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

/// CloudAPI `CreateImageFromMachine` of the stopped machine. The image is
/// the build's from the moment the request is sent ([`StepCx::create`]): a
/// Ctrl-C before the answer, or a create that fails, has the cleanup look
/// for it (ListImages by name and version, with this build's tag) and
/// delete it. An undo that deletes the image if the build fails or is
/// cancelled holds its id from the moment the create answers (a failed
/// placeholder, or an image finished after a Ctrl-C, is never left behind).
/// After an unknown outcome the client looks for the image (name, version
/// and this build's tags) before sending the create again.
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
        let (client, build) = (self.client.clone(), cx.build_id().to_string());
        let filter = ListImages::new()
            .name(s.name.clone())
            .version(s.version.clone())
            .all_states();
        let find = move || {
            let (client, build, filter) = (client.clone(), build.clone(), filter.clone());
            async move {
                let images = client
                    .list_images(&filter)
                    .await
                    .map_err(|e| api("looking up the build's image", e))?;
                let ours = |i: &Image| {
                    !i.public && i.tags.get(BUILD_TAG).and_then(|v| v.as_str()) == Some(&build)
                };
                Ok(images.into_iter().filter(ours).collect::<Vec<_>>())
            }
        };
        let client = self.client.clone();
        let undo = move |i: &Image| {
            let (client, id) = (client.clone(), i.id);
            Cleanup::on_failure(
                Resource::new("image", id.to_string()).named(format!("{}@{}", i.name, i.version)),
                move |_ucx| async move { remove_image(&client, &id).await },
            )
        };
        let (client, what) = (self.client.clone(), label.clone());
        let send = async move {
            client
                .create_image_from_machine(&req)
                .await
                .map_err(|e| api(format!("creating image {what}"), e))
        };
        let made = cx
            .create(Create::new("image", Some(label.clone()), find, undo), send)
            .await?;
        let (id, undo) = (made.value.id, made.undo);
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
