use reqwest::Method;

use crate::client::{Client, Request};
use crate::error::Result;
use crate::types::{NameOrId, Project};

impl Client {
    /// `project_view`: `GET /v1/projects/{project}`.
    pub async fn project_view(&self, project: impl Into<NameOrId>) -> Result<Project> {
        let project = project.into();
        project.validate("project")?;
        let req = Request::new(
            "project_view",
            Method::GET,
            format!("/v1/projects/{project}"),
        );
        self.json(&req).await
    }
}
