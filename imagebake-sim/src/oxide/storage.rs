//! Disks (view, list, delete) and snapshots (create, view, list, delete).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use uuid::Uuid;

use super::Shared;
use super::http::{self, ApiError, PageRequest, json_response, parse_body, run};
use super::model::{DiskState, Snapshot, Times, check_name, ensure_free, lookup};

#[derive(Deserialize)]
struct SnapshotCreate {
    name: String,
    description: String,
    disk: String,
}

fn project_q(q: &http::Query) -> Option<&str> {
    q.get("project").map(String::as_str)
}

fn required_project(page: &PageRequest) -> Result<&str, ApiError> {
    page.scan("project").ok_or_else(|| {
        ApiError::bad_request("unable to parse query string: missing field `project`")
    })
}

pub(crate) async fn disk_list(
    State(sh): State<Arc<Shared>>,
    Query(q): Query<http::Query>,
) -> Response {
    run(&sh, "disk_list", |w, _| {
        let page = PageRequest::parse(&q, &["project"])?;
        let pid = w.project(required_project(&page)?)?.id;
        Ok(page.in_project(&w.disks, Some(pid), |d| d.view()))
    })
    .await
}

pub(crate) async fn disk_view(
    State(sh): State<Arc<Shared>>,
    Path(disk): Path<String>,
    Query(q): Query<http::Query>,
) -> Response {
    run(&sh, "disk_view", |w, _| {
        let i = lookup(w, &w.disks, "disk", &disk, project_q(&q), false)?;
        Ok(json_response(StatusCode::OK, w.disks[i].view()))
    })
    .await
}

pub(crate) async fn disk_delete(
    State(sh): State<Arc<Shared>>,
    Path(disk): Path<String>,
    Query(q): Query<http::Query>,
) -> Response {
    run(&sh, "disk_delete", |w, ctx| {
        let i = lookup(w, &w.disks, "disk", &disk, project_q(&q), false)?;
        if !matches!(w.disks[i].state, DiskState::Detached | DiskState::Faulted) {
            return Err(ApiError::bad_request(format!(
                "disk cannot be deleted in state \"{}\"",
                w.disks[i].state.name()
            )));
        }
        if ctx.fail {
            // The delete saga failed half-way: the disk is left faulted.
            w.disks[i].state = DiskState::Faulted;
            return Err(ApiError::internal("disk delete saga failed"));
        }
        let gone = w.disks.remove(i);
        if let Some(vms) = &w.vms {
            vms.destroy_disk(gone.id);
        }
        Ok(StatusCode::NO_CONTENT.into_response())
    })
    .await
}

pub(crate) async fn snapshot_list(
    State(sh): State<Arc<Shared>>,
    Query(q): Query<http::Query>,
) -> Response {
    run(&sh, "snapshot_list", |w, _| {
        let page = PageRequest::parse(&q, &["project"])?;
        let pid = w.project(required_project(&page)?)?.id;
        Ok(page.in_project(&w.snapshots, Some(pid), |s| s.view()))
    })
    .await
}

pub(crate) async fn snapshot_create(
    State(sh): State<Arc<Shared>>,
    Query(q): Query<http::Query>,
    body: Bytes,
) -> Response {
    run(&sh, "snapshot_create", |w, ctx| {
        let project = project_q(&q).ok_or_else(|| {
            ApiError::bad_request("unable to parse query string: missing field `project`")
        })?;
        let pid = w.project(project)?.id;
        let body: SnapshotCreate = parse_body(&body)?;
        check_name("name", &body.name)?;
        // The disk is looked up by ID anywhere, or by name in this project.
        let disk = match Uuid::try_parse(&body.disk) {
            Ok(id) => w.disks.iter().find(|d| d.id == id),
            Err(_) => w
                .disks
                .iter()
                .find(|d| d.name == body.disk && d.project_id == pid),
        }
        .ok_or_else(|| ApiError::not_found("disk", &body.disk))?;
        if disk.project_id != pid {
            return Err(ApiError::bad_request(
                "can't create a snapshot of a disk in a different project",
            ));
        }
        if disk.read_only {
            return Err(ApiError::bad_request(
                "can't create a snapshot of a read-only disk",
            ));
        }
        ensure_free(&w.snapshots, "snapshot", &body.name, Some(pid))?;
        let snapshot_id = Uuid::new_v4();
        if let (Some(vms), false) = (&w.vms, ctx.fail) {
            // The snapshot holds a copy of what the guest wrote to the disk.
            vms.capture(disk.id, disk.image_id.or(disk.snapshot_id), snapshot_id)
                .map_err(|e| ApiError::internal(format!("snapshot of disk {}: {e}", disk.id)))?;
        }
        // The saga runs inside the request: the answer is the finished snapshot.
        let snap = Snapshot {
            id: snapshot_id,
            name: body.name,
            description: body.description,
            project_id: pid,
            disk_id: disk.id,
            size: disk.size,
            block_size: disk.block_size,
            state: if ctx.fail { "faulted" } else { "ready" },
            times: Times::now(),
            volume: disk.volume.clone(),
        };
        let view = snap.view();
        sh.faults.record_created("snapshot", &snap.name);
        w.snapshots.push(snap);
        Ok(json_response(StatusCode::CREATED, view))
    })
    .await
}

pub(crate) async fn snapshot_view(
    State(sh): State<Arc<Shared>>,
    Path(snapshot): Path<String>,
    Query(q): Query<http::Query>,
) -> Response {
    run(&sh, "snapshot_view", |w, _| {
        let i = lookup(w, &w.snapshots, "snapshot", &snapshot, project_q(&q), false)?;
        Ok(json_response(StatusCode::OK, w.snapshots[i].view()))
    })
    .await
}

pub(crate) async fn snapshot_delete(
    State(sh): State<Arc<Shared>>,
    Path(snapshot): Path<String>,
    Query(q): Query<http::Query>,
) -> Response {
    run(&sh, "snapshot_delete", |w, _| {
        let i = lookup(w, &w.snapshots, "snapshot", &snapshot, project_q(&q), false)?;
        if w.snapshots[i].state == "creating" {
            return Err(ApiError::bad_request(
                "snapshot cannot be deleted in state \"creating\"",
            ));
        }
        // Images made from it keep their own copy.
        w.snapshots.remove(i);
        Ok(StatusCode::NO_CONTENT.into_response())
    })
    .await
}
