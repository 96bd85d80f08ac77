use futures::Stream;
use reqwest::Method;

use super::{NameScope, lookup_project, project_query};
use crate::client::{Client, Request};
use crate::error::Result;
use crate::types::{Disk, ListOptions, NameOrId};

impl Client {
    /// `disk_view`: `GET /v1/disks/{disk}`.
    pub async fn disk_view(
        &self,
        disk: impl Into<NameOrId>,
        project: Option<&NameOrId>,
    ) -> Result<Disk> {
        let req = disk_request("disk_view", Method::GET, &disk.into(), project)?;
        self.json(&req).await
    }

    /// `disk_list`: `GET /v1/disks?project=P`.
    pub fn disk_list(
        &self,
        project: &NameOrId,
        opts: ListOptions,
    ) -> impl Stream<Item = Result<Disk>> + Send + 'static {
        let first = project_query(project)
            .map(|p| Request::new("disk_list", Method::GET, "/v1/disks").query("project", p));
        self.list_checked(first, opts)
    }

    /// `disk_delete`: `DELETE /v1/disks/{disk}`; only `detached` or
    /// `faulted` disks can be deleted.
    pub async fn disk_delete(
        &self,
        disk: impl Into<NameOrId>,
        project: Option<&NameOrId>,
    ) -> Result<()> {
        let req = disk_request("disk_delete", Method::DELETE, &disk.into(), project)?;
        self.empty(&req).await
    }
}

fn disk_request(
    operation: &'static str,
    method: Method,
    disk: &NameOrId,
    project: Option<&NameOrId>,
) -> Result<Request> {
    let p = lookup_project(operation, "disk", disk, project, NameScope::Project)?;
    Ok(Request::new(operation, method, format!("/v1/disks/{disk}")).query_opt("project", p))
}
