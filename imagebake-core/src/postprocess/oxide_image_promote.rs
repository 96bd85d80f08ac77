//! The `oxide-image-promote` post-processor: makes the project image the
//! previous step made (an `oxide-instance` build or `oxide-import`) a silo
//! image, visible to every project of the silo (`image_promote`). With
//! `image_name` (and `project`), it promotes that image instead.
//!
//! Keys: `host`/`token`/`profile`, `insecure_skip_verify` (as the
//! `oxide-instance` builder), `project`, `image_name`.

use std::sync::Arc;

use futures::future::BoxFuture;
use oxide_client::{Client, Image, NameOrId};
use serde_json::Value;
use uuid::Uuid;

use super::oxide_import::{Block, OxideImageArtifact, check_name, project};
use super::{PostCx, PostOutput, PostProcessor, key_error};
use crate::builders::Artifact;
use crate::{CleanupReport, Error};

/// The post-processor's type in templates.
pub const TYPE: &str = "oxide-image-promote";

/// Its keys.
pub const KEYS: &[&str] = &[
    "host",
    "token",
    "profile",
    "insecure_skip_verify",
    "project",
    "image_name",
];

/// The `oxide-image-promote` post-processor, decoded and checked.
#[derive(Debug, Clone)]
pub struct OxideImagePromote {
    client: oxide_client::Config,
    /// `image_name` in `project`, instead of the input artifact's image.
    named: Option<(String, NameOrId)>,
}

impl OxideImagePromote {
    /// Decodes and checks a block's keys (no request is made).
    pub fn from_config(config: &Value) -> Result<Self, Error> {
        let b = Block::decode(TYPE, config, KEYS)?;
        let client = b.client(TYPE)?;
        let image_name = b.image_name.filter(|n| !n.trim().is_empty());
        check_name(TYPE, "image_name", image_name.as_deref())?;
        let named = match (image_name, b.project.filter(|p| !p.trim().is_empty())) {
            (None, _) => None,
            (Some(name), Some(p)) => Some((name, project(TYPE, p)?)),
            (Some(_), None) => {
                return Err(key_error(TYPE, "project", "is needed with `image_name`"));
            }
        };
        Ok(Self { client, named })
    }

    /// Promotes the image (`input`'s, or the configured one) to the silo.
    pub async fn promote(&self, input: &dyn Artifact) -> Result<Image, Error> {
        let client = Client::new(self.client.clone()).map_err(|e| {
            Error::provider(
                format!("post-processor {TYPE}: setting up the Oxide client"),
                e,
            )
        })?;
        let (image, project) = match &self.named {
            Some((name, p)) => (NameOrId::Name(name.clone()), Some(p)),
            None => {
                let id = (input.cloud() == "oxide")
                    .then(|| input.id())
                    .flatten()
                    .and_then(|id| Uuid::try_parse(&id).ok())
                    .ok_or_else(|| {
                        Error::Config(format!(
                            "post-processor {TYPE}: artifact {input} (builder {}) is not an \
                             Oxide image; set `image_name` and `project`",
                            input.builder_type()
                        ))
                    })?;
                (NameOrId::Id(id), None)
            }
        };
        client
            .image_promote(image.clone(), project)
            .await
            .map_err(|e| Error::provider(format!("promoting image {image} to the silo"), e))
    }
}

impl PostProcessor for OxideImagePromote {
    fn kind(&self) -> &'static str {
        TYPE
    }

    fn process<'a>(
        &'a self,
        cx: &'a PostCx,
        input: Arc<dyn Artifact>,
    ) -> BoxFuture<'a, Result<PostOutput, Error>> {
        Box::pin(async move {
            let image = tokio::select! {
                biased;
                () = cx.cancel.cancelled() => {
                    return Err(Error::cancelled(format!("post-processor {TYPE}")));
                }
                r = self.promote(input.as_ref()) => r?,
            };
            (cx.progress)(&format!(
                "{TYPE}: image {} ({}) is now a silo image",
                image.name, image.id
            ));
            Ok(PostOutput {
                artifact: Arc::new(OxideImageArtifact {
                    made_by: TYPE,
                    image,
                    project: None,
                    file: None,
                    build_id: input.build().0.clone(),
                    cleanup: CleanupReport::default(),
                }),
                force_keep_input: true,
            })
        })
    }
}
