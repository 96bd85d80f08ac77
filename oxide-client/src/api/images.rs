use futures::Stream;
use reqwest::Method;

use super::{NameScope, lookup_project};
use crate::client::{Client, Request};
use crate::error::Result;
use crate::names::validate_name;
use crate::types::{Image, ImageCreate, ListOptions, NameOrId};

impl Client {
    /// `image_view`: `GET /v1/images/{image}`. By name, `project` picks a
    /// project image and `None` a silo image.
    pub async fn image_view(
        &self,
        image: impl Into<NameOrId>,
        project: Option<&NameOrId>,
    ) -> Result<Image> {
        let req = image_request(
            "image_view",
            Method::GET,
            &image.into(),
            "",
            project,
            NameScope::ProjectOrSilo,
        )?;
        self.json(&req).await
    }

    /// `image_list`: `GET /v1/images`, the project's images with `project`,
    /// the silo's without.
    pub fn image_list(
        &self,
        project: Option<&NameOrId>,
        opts: ListOptions,
    ) -> impl Stream<Item = Result<Image>> + Send + 'static {
        let first = project
            .map(|p| p.validate("project").map(|()| p.to_string()))
            .transpose()
            .map(|p| Request::new("image_list", Method::GET, "/v1/images").query_opt("project", p));
        self.list_checked(first, opts)
    }

    /// `image_create`: `POST /v1/images`; a project image with `project`, a
    /// silo image without (which needs silo-level rights).
    pub async fn image_create(
        &self,
        project: Option<&NameOrId>,
        body: &ImageCreate,
    ) -> Result<Image> {
        validate_name("name", &body.name)?;
        let p = project
            .map(|p| p.validate("project").map(|()| p.to_string()))
            .transpose()?;
        let req = Request::new("image_create", Method::POST, "/v1/images")
            .create()
            .query_opt("project", p)
            .json(body)?;
        self.json(&req).await
    }

    /// `image_delete`: `DELETE /v1/images/{image}`.
    pub async fn image_delete(
        &self,
        image: impl Into<NameOrId>,
        project: Option<&NameOrId>,
    ) -> Result<()> {
        let req = image_request(
            "image_delete",
            Method::DELETE,
            &image.into(),
            "",
            project,
            NameScope::ProjectOrSilo,
        )?;
        self.empty(&req).await
    }

    /// `image_promote`: `POST /v1/images/{image}/promote`, making a project
    /// image a silo image.
    pub async fn image_promote(
        &self,
        image: impl Into<NameOrId>,
        project: Option<&NameOrId>,
    ) -> Result<Image> {
        let req = image_request(
            "image_promote",
            Method::POST,
            &image.into(),
            "/promote",
            project,
            NameScope::Project,
        )?;
        self.json(&req).await
    }

    /// `image_demote`: `POST /v1/images/{image}/demote?project=P`, making a
    /// silo image an image of project `project` (always sent: it is the
    /// destination, not a lookup scope).
    pub async fn image_demote(
        &self,
        image: impl Into<NameOrId>,
        project: &NameOrId,
    ) -> Result<Image> {
        let image = image.into();
        image.validate("image")?;
        let p = super::project_query(project)?;
        let req = Request::new(
            "image_demote",
            Method::POST,
            format!("/v1/images/{image}/demote"),
        )
        .query("project", p);
        self.json(&req).await
    }
}

/// The request `operation` on `/v1/images/{image}` followed by `suffix`,
/// with the `project` query its lookup `scope` allows.
fn image_request(
    operation: &'static str,
    method: Method,
    image: &NameOrId,
    suffix: &str,
    project: Option<&NameOrId>,
    scope: NameScope,
) -> Result<Request> {
    let p = lookup_project(operation, "image", image, project, scope)?;
    Ok(
        Request::new(operation, method, format!("/v1/images/{image}{suffix}"))
            .query_opt("project", p),
    )
}
