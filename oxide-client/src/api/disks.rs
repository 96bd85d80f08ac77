use futures::Stream;
use reqwest::Method;

use super::{NameScope, lookup_project, project_query};
use crate::client::{Client, Request};
use crate::error::{Error, Result};
use crate::names::validate_name;
use crate::types::{
    BULK_WRITE_MAX_CHUNK, Disk, DiskCreate, FinalizeDisk, ImportBlocksBulkWrite, ListOptions,
    NameOrId,
};

impl Client {
    /// `disk_view`: `GET /v1/disks/{disk}`.
    pub async fn disk_view(
        &self,
        disk: impl Into<NameOrId>,
        project: Option<&NameOrId>,
    ) -> Result<Disk> {
        let req = disk_request("disk_view", Method::GET, &disk.into(), "", project)?;
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

    /// `disk_create`: `POST /v1/disks?project=P`. The answer is the record
    /// as first inserted: its state may still read `creating` although the
    /// create is done (read it with [`Client::disk_view`]).
    pub async fn disk_create(&self, project: &NameOrId, body: &DiskCreate) -> Result<Disk> {
        validate_name("name", &body.name)?;
        let p = project_query(project)?;
        let req = Request::new("disk_create", Method::POST, "/v1/disks")
            .create()
            .query("project", p)
            .json(body)?;
        self.json(&req).await
    }

    /// `disk_bulk_write_import_start`: `POST /v1/disks/{disk}/bulk-write-start`,
    /// `import_ready` to `importing_from_bulk_writes`. Not re-sent after a
    /// lost answer (a second start is refused: read the state instead).
    pub async fn disk_bulk_write_import_start(
        &self,
        disk: impl Into<NameOrId>,
        project: Option<&NameOrId>,
    ) -> Result<()> {
        let req = disk_request(
            "disk_bulk_write_import_start",
            Method::POST,
            &disk.into(),
            "/bulk-write-start",
            project,
        )?;
        self.empty(&req).await
    }

    /// `disk_bulk_write_import`: `POST /v1/disks/{disk}/bulk-write`, `data`
    /// (at most [`BULK_WRITE_MAX_CHUNK`] bytes, whole blocks) written at
    /// `offset` (a multiple of the block size). Writing the same bytes again
    /// changes nothing, so it is retried after a 5xx or a lost answer too.
    pub async fn disk_bulk_write_import(
        &self,
        disk: impl Into<NameOrId>,
        project: Option<&NameOrId>,
        offset: u64,
        data: &[u8],
    ) -> Result<()> {
        const OP: &str = "disk_bulk_write_import";
        if data.len() > BULK_WRITE_MAX_CHUNK {
            return Err(Error::InvalidRequest {
                operation: OP,
                reason: format!(
                    "a bulk write holds at most {BULK_WRITE_MAX_CHUNK} bytes, not {}",
                    data.len()
                ),
            });
        }
        let req = disk_request(OP, Method::POST, &disk.into(), "/bulk-write", project)?
            .idempotent()
            .json(&ImportBlocksBulkWrite::new(offset, data))?;
        self.empty(&req).await
    }

    /// `disk_bulk_write_import_stop`: `POST /v1/disks/{disk}/bulk-write-stop`,
    /// `importing_from_bulk_writes` to `import_ready`.
    pub async fn disk_bulk_write_import_stop(
        &self,
        disk: impl Into<NameOrId>,
        project: Option<&NameOrId>,
    ) -> Result<()> {
        let req = disk_request(
            "disk_bulk_write_import_stop",
            Method::POST,
            &disk.into(),
            "/bulk-write-stop",
            project,
        )?;
        self.empty(&req).await
    }

    /// `disk_finalize_import`: `POST /v1/disks/{disk}/finalize`, from
    /// `import_ready`: takes the snapshot `body` names, if any, and leaves
    /// the disk `detached`. A failed finalize leaves it `import_ready`.
    pub async fn disk_finalize_import(
        &self,
        disk: impl Into<NameOrId>,
        project: Option<&NameOrId>,
        body: &FinalizeDisk,
    ) -> Result<()> {
        if let Some(name) = &body.snapshot_name {
            validate_name("snapshot_name", name)?;
        }
        let req = disk_request(
            "disk_finalize_import",
            Method::POST,
            &disk.into(),
            "/finalize",
            project,
        )?
        .json(body)?;
        self.empty(&req).await
    }

    /// `disk_delete`: `DELETE /v1/disks/{disk}`; only `detached` or
    /// `faulted` disks can be deleted.
    pub async fn disk_delete(
        &self,
        disk: impl Into<NameOrId>,
        project: Option<&NameOrId>,
    ) -> Result<()> {
        let req = disk_request("disk_delete", Method::DELETE, &disk.into(), "", project)?;
        self.empty(&req).await
    }
}

/// The request `operation` on `/v1/disks/{disk}` followed by `suffix`, with
/// the lookup rule's `project`.
fn disk_request(
    operation: &'static str,
    method: Method,
    disk: &NameOrId,
    suffix: &str,
    project: Option<&NameOrId>,
) -> Result<Request> {
    let p = lookup_project(operation, "disk", disk, project, NameScope::Project)?;
    Ok(
        Request::new(operation, method, format!("/v1/disks/{disk}{suffix}"))
            .query_opt("project", p),
    )
}
