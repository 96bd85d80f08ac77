use futures::Stream;
use imagebake_http::{Poll, WaitOptions, wait_for};
use reqwest::Method;

use super::{NameScope, lookup_project, project_query};
use crate::client::{Client, Request};
use crate::error::{Error, Result};
use crate::types::{Disk, DiskState, ListOptions, NameOrId};

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

    /// Polls `disk_view` until the disk is `detached`; `faulted` and
    /// `destroyed` end the wait at once as failures.
    pub async fn disk_wait_detached(
        &self,
        disk: impl Into<NameOrId>,
        project: Option<&NameOrId>,
        opts: &WaitOptions,
    ) -> Result<Disk> {
        let disk = disk.into();
        let req = disk_request("disk_view", Method::GET, &disk, project)?;
        let found = wait_for(
            format!("disk {disk} to be detached"),
            opts,
            |_, _| {},
            || async {
                let d: Disk = self.json(&req).await?;
                Ok::<_, Error>(match d.state {
                    DiskState::Detached => Poll::Done(d),
                    DiskState::Faulted | DiskState::Destroyed => {
                        Poll::Failed(d.state.name().to_owned())
                    }
                    ref s => Poll::Pending(s.name().to_owned()),
                })
            },
        )
        .await?;
        Ok(found)
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
