use serde::Serialize;

use crate::api::Empty;
use crate::types::Tag;
use crate::{Client, Result};

/// `CreateTagsRequest`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateTagsRequest {
    /// Resources to tag.
    pub resource_ids: Vec<String>,
    /// Tags to add (an existing key gets the new value).
    pub tags: Vec<Tag>,
    /// Only check permissions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
}

/// `DeleteTagsRequest`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteTagsRequest {
    /// Resources to untag.
    pub resource_ids: Vec<String>,
    /// Tags to remove (an empty value removes the key whatever its value).
    pub tags: Vec<Tag>,
    /// Only check permissions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
}

/// Tags on any resource.
#[derive(Debug, Clone)]
pub struct Tags {
    client: Client,
}

impl Tags {
    pub(crate) fn new(client: Client) -> Self {
        Self { client }
    }

    /// `CreateTags`: adds `tags` to every resource in `resource_ids`.
    pub async fn create<I, S>(&self, resource_ids: I, tags: Vec<Tag>) -> Result<()>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let req = CreateTagsRequest {
            resource_ids: resource_ids.into_iter().map(Into::into).collect(),
            tags,
            dry_run: None,
        };
        let _: Empty = self.client.call("CreateTags", &req).await?;
        Ok(())
    }

    /// `DeleteTags`: removes `tags` from every resource in `resource_ids`.
    pub async fn delete<I, S>(&self, resource_ids: I, tags: Vec<Tag>) -> Result<()>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let req = DeleteTagsRequest {
            resource_ids: resource_ids.into_iter().map(Into::into).collect(),
            tags,
            dry_run: None,
        };
        let _: Empty = self.client.call("DeleteTags", &req).await?;
        Ok(())
    }
}
