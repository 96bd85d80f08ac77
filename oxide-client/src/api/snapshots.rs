use futures::Stream;
use reqwest::Method;

use super::{NameScope, lookup_project, project_query};
use crate::client::{Client, Request};
use crate::error::Result;
use crate::names::validate_name;
use crate::types::{ListOptions, NameOrId, Snapshot, SnapshotCreate};

impl Client {
    /// `snapshot_create`: `POST /v1/snapshots?project=P`. The rack answers
    /// with the finished snapshot (state `ready`); the disk may be attached
    /// to a running instance (the snapshot is then crash-consistent).
    pub async fn snapshot_create(
        &self,
        project: &NameOrId,
        body: &SnapshotCreate,
    ) -> Result<Snapshot> {
        validate_name("name", &body.name)?;
        body.disk.validate("disk")?;
        let req = Request::new("snapshot_create", Method::POST, "/v1/snapshots")
            .create()
            .query("project", project_query(project)?)
            .json(body)?;
        self.json(&req).await
    }

    /// `snapshot_view`: `GET /v1/snapshots/{snapshot}`.
    pub async fn snapshot_view(
        &self,
        snapshot: impl Into<NameOrId>,
        project: Option<&NameOrId>,
    ) -> Result<Snapshot> {
        let req = snapshot_request("snapshot_view", Method::GET, &snapshot.into(), project)?;
        self.json(&req).await
    }

    /// `snapshot_delete`: `DELETE /v1/snapshots/{snapshot}`. Images made
    /// from the snapshot are not affected.
    pub async fn snapshot_delete(
        &self,
        snapshot: impl Into<NameOrId>,
        project: Option<&NameOrId>,
    ) -> Result<()> {
        let req = snapshot_request("snapshot_delete", Method::DELETE, &snapshot.into(), project)?;
        self.empty(&req).await
    }

    /// `snapshot_list`: `GET /v1/snapshots?project=P`.
    pub fn snapshot_list(
        &self,
        project: &NameOrId,
        opts: ListOptions,
    ) -> impl Stream<Item = Result<Snapshot>> + Send + 'static {
        let first = project_query(project).map(|p| {
            Request::new("snapshot_list", Method::GET, "/v1/snapshots").query("project", p)
        });
        self.list_checked(first, opts)
    }
}

fn snapshot_request(
    operation: &'static str,
    method: Method,
    snapshot: &NameOrId,
    project: Option<&NameOrId>,
) -> Result<Request> {
    let p = lookup_project(operation, "snapshot", snapshot, project, NameScope::Project)?;
    Ok(
        Request::new(operation, method, format!("/v1/snapshots/{snapshot}"))
            .query_opt("project", p),
    )
}
