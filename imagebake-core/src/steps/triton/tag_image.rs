use std::borrow::Cow;
use std::collections::BTreeMap;

use async_trait::async_trait;
use serde_json::Value;
use triton_client::Client;
use triton_client::types::{Image, UpdateImage};

use super::{BUILT_BY_TAG, api};
use crate::{Error, Resource, Step, StepCx};

/// Marks the finished image as the build's result: CloudAPI `UpdateImage`
/// replaces its tags by the configured `image_tags` plus
/// [`BUILT_BY_TAG`](super::BUILT_BY_TAG), dropping the build tags a sweep
/// looks for. Reports the image as the build's artifact.
#[derive(Debug, Clone)]
pub struct TagImage {
    client: Client,
    tags: BTreeMap<String, String>,
}

impl TagImage {
    /// Gives the image `tags` (plus the built-by tag) with `client`.
    pub fn new(client: Client, tags: BTreeMap<String, String>) -> Self {
        Self { client, tags }
    }
}

#[async_trait]
impl Step<Image> for TagImage {
    type Out = Image;

    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed("tag image")
    }

    async fn run(&self, cx: &StepCx, image: Image) -> Result<Image, Error> {
        let mut tags: BTreeMap<String, Value> = self
            .tags
            .iter()
            .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
            .collect();
        tags.insert(BUILT_BY_TAG.to_owned(), cx.build_id().as_str().into());
        let id = image.id;
        let updated = cx
            .cancellable(
                self.client
                    .update_image(&id, &UpdateImage::new().tags(tags)),
            )
            .await?
            .map_err(|e| api(format!("tagging image {id}"), e))?;
        cx.artifact(
            Resource::new("image", id.to_string())
                .named(format!("{}@{}", updated.name, updated.version)),
        );
        Ok(updated)
    }
}
