//! Disk create and the bulk import of a disk's blocks (Nexus
//! `app/disk.rs`, sagas `disk_create` and `finalize_disk`, Crucible pantry).
//!
//! A disk created with `importing_blocks` is `import_ready` (its 201 body
//! still reads `creating`, the record as first inserted); `bulk-write-start`
//! makes it `importing_from_bulk_writes`, where bulk writes of at most
//! [`MAX_CHUNK_SIZE`] decoded bytes, block-aligned and inside the disk, land
//! in its [`Volume`]; `bulk-write-stop` makes it `import_ready` again;
//! `finalize` (from `import_ready` only) optionally snapshots it and leaves
//! it `detached`. A call in another state gets the rack's 400.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde::Deserialize;
use uuid::Uuid;

use super::Shared;
use super::http::{self, ApiError, json_response, parse_body, run};
use super::instances::{DiskBackend, DiskSource, plan_disk};
use super::model::{DiskState, GIB, Snapshot, Times, check_name, ensure_free, lookup};
use super::volume::Volume;

/// The Crucible pantry's largest bulk write, decoded (`MAX_CHUNK_SIZE`).
pub const MAX_CHUNK_SIZE: usize = 512 * 1024;

/// Nexus's body limit of the bulk-write endpoint
/// (`DISK_BULK_WRITE_MAX_BYTES`).
pub const BULK_WRITE_MAX_BODY: usize = 8 * 1024 * 1024;

/// Largest distributed disk (1023 GiB).
const MAX_DISK_SIZE: u64 = 1023 * GIB;

#[derive(Deserialize)]
struct DiskCreate {
    name: String,
    description: String,
    size: u64,
    disk_backend: DiskBackend,
}

#[derive(Deserialize)]
struct BulkWrite {
    offset: u64,
    base64_encoded_data: String,
}

#[derive(Deserialize)]
struct FinalizeDisk {
    #[serde(default)]
    snapshot_name: Option<String>,
}

fn project_q(q: &http::Query) -> Option<&str> {
    q.get("project").map(String::as_str)
}

fn invalid_size(why: String) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        Some("InvalidValue"),
        format!("unsupported value for \"size\": {why}"),
    )
}

/// Nexus's `validate_disk_create_params` size rules.
fn check_size(size: u64, block_size: u32) -> Result<(), ApiError> {
    if !size.is_multiple_of(u64::from(block_size)) {
        return Err(invalid_size(format!(
            "total size must be a multiple of block size {block_size}"
        )));
    }
    if size < GIB {
        return Err(invalid_size(format!("total size must be at least {GIB}")));
    }
    if !size.is_multiple_of(GIB) {
        return Err(invalid_size(format!(
            "total size must be a multiple of {GIB}"
        )));
    }
    if size > MAX_DISK_SIZE {
        return Err(invalid_size(format!(
            "total size must be less than {}",
            MAX_DISK_SIZE + 1
        )));
    }
    Ok(())
}

/// `disk_create`: `POST /v1/disks?project=P`. A blank, image or snapshot
/// disk is `detached`; an `importing_blocks` one `import_ready`, with an
/// all-zero volume.
pub(crate) async fn disk_create(
    State(sh): State<Arc<Shared>>,
    Query(q): Query<http::Query>,
    body: Bytes,
) -> Response {
    run(&sh, "disk_create", |w, ctx| {
        let project = project_q(&q).ok_or_else(|| {
            ApiError::bad_request("unable to parse query string: missing field `project`")
        })?;
        let pid = w.project(project)?.id;
        let body: DiskCreate = parse_body(&body)?;
        let importing = matches!(
            body.disk_backend,
            DiskBackend::Distributed {
                disk_source: DiskSource::ImportingBlocks { .. }
            }
        );
        let state = if importing {
            DiskState::ImportReady
        } else {
            DiskState::Detached
        };
        let mut disk = plan_disk(
            w,
            pid,
            state,
            &body.name,
            &body.description,
            body.size,
            &body.disk_backend,
        )?;
        check_size(disk.size, disk.block_size)?;
        if ctx.fail {
            return Err(ApiError::internal("disk create saga failed"));
        }
        if importing {
            let volume = Volume::new(disk.size)
                .map_err(|e| ApiError::internal(format!("creating the disk's volume: {e}")))?;
            disk.volume = Some(Arc::new(volume));
        }
        let mut view = disk.view();
        if importing {
            // The answer is the record as first inserted, before the saga
            // set it `import_ready`.
            view["state"] = serde_json::json!({ "state": "creating" });
        }
        w.disks.push(disk);
        Ok(json_response(StatusCode::CREATED, view))
    })
    .await
}

/// Moves disk `{disk}` from state `from` to `to` (bulk-write start and stop).
async fn transition(
    sh: &Shared,
    op: &'static str,
    disk: &str,
    q: &http::Query,
    from: DiskState,
    to: DiskState,
) -> Response {
    run(sh, op, |w, _| {
        let i = lookup(w, &w.disks, "disk", disk, project_q(q), false)?;
        let d = &mut w.disks[i];
        if d.state != from {
            return Err(ApiError::bad_request(format!(
                "cannot set disk in state {} to {}",
                d.state.name(),
                to.name()
            )));
        }
        d.state = to;
        d.times.touch();
        Ok(StatusCode::NO_CONTENT.into_response())
    })
    .await
}

/// `disk_bulk_write_import_start`: `import_ready` to
/// `importing_from_bulk_writes`.
pub(crate) async fn bulk_write_start(
    State(sh): State<Arc<Shared>>,
    Path(disk): Path<String>,
    Query(q): Query<http::Query>,
) -> Response {
    transition(
        &sh,
        "disk_bulk_write_import_start",
        &disk,
        &q,
        DiskState::ImportReady,
        DiskState::ImportingFromBulkWrites,
    )
    .await
}

/// `disk_bulk_write_import_stop`: `importing_from_bulk_writes` to
/// `import_ready`.
pub(crate) async fn bulk_write_stop(
    State(sh): State<Arc<Shared>>,
    Path(disk): Path<String>,
    Query(q): Query<http::Query>,
) -> Response {
    transition(
        &sh,
        "disk_bulk_write_import_stop",
        &disk,
        &q,
        DiskState::ImportingFromBulkWrites,
        DiskState::ImportReady,
    )
    .await
}

/// `disk_bulk_write_import`: writes a chunk into a disk that is
/// `importing_from_bulk_writes`.
pub(crate) async fn bulk_write(
    State(sh): State<Arc<Shared>>,
    Path(disk): Path<String>,
    Query(q): Query<http::Query>,
    body: Body,
) -> Response {
    // The body limit and the decoding come first (dropshot, then Nexus
    // before the pantry call), and without the world's lock.
    let body = match axum::body::to_bytes(body, BULK_WRITE_MAX_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return ApiError::bad_request(format!(
                "request body exceeded maximum size of {BULK_WRITE_MAX_BODY} bytes"
            ))
            .into_response();
        }
    };
    let write = parse_body::<BulkWrite>(&body).and_then(|w| {
        base64::engine::general_purpose::STANDARD
            .decode(&w.base64_encoded_data)
            .map(|data| (w.offset, data))
            .map_err(|e| ApiError::bad_request(format!("error base64 decoding data: {e}")))
    });
    run(&sh, "disk_bulk_write_import", |w, _| {
        let i = lookup(w, &w.disks, "disk", &disk, project_q(&q), false)?;
        let d = &w.disks[i];
        if d.state != DiskState::ImportingFromBulkWrites {
            return Err(ApiError::bad_request(format!(
                "cannot import blocks with a bulk write for disk in state {}",
                d.state.name()
            )));
        }
        let (offset, data) = write?;
        if data.len() > MAX_CHUNK_SIZE {
            return Err(ApiError::bad_request(format!(
                "data len {} over max chunk size {MAX_CHUNK_SIZE}!",
                data.len()
            )));
        }
        let bs = u64::from(d.block_size);
        let len = data.len() as u64;
        if !offset.is_multiple_of(bs) {
            return Err(ApiError::bad_request(format!(
                "offset {offset} is not a multiple of the block size {bs}"
            )));
        }
        if !len.is_multiple_of(bs) {
            return Err(ApiError::bad_request(format!(
                "data length {len} is not a multiple of the block size {bs}"
            )));
        }
        if offset.checked_add(len).is_none_or(|end| end > d.size) {
            return Err(ApiError::bad_request(format!(
                "write of {len} bytes at offset {offset} is past the end of the disk ({} bytes)",
                d.size
            )));
        }
        let volume = d
            .volume
            .as_ref()
            .ok_or_else(|| ApiError::internal("disk has no pantry volume"))?;
        volume
            .write_at(offset, &data)
            .map_err(|e| ApiError::internal(format!("pantry write failed: {e}")))?;
        Ok(StatusCode::NO_CONTENT.into_response())
    })
    .await
}

/// `disk_finalize_import`: from `import_ready`, optionally snapshots the
/// disk (a taken name unwinds to `import_ready`), then leaves it
/// `detached`. An injected `FailResource` fails the saga, which unwinds.
pub(crate) async fn finalize(
    State(sh): State<Arc<Shared>>,
    Path(disk): Path<String>,
    Query(q): Query<http::Query>,
    body: Bytes,
) -> Response {
    run(&sh, "disk_finalize_import", |w, ctx| {
        let i = lookup(w, &w.disks, "disk", &disk, project_q(&q), false)?;
        let body: FinalizeDisk = parse_body(&body)?;
        let d = &w.disks[i];
        if d.state != DiskState::ImportReady {
            return Err(ApiError::bad_request(format!(
                "cannot finalize disk in state {}",
                d.state.name()
            )));
        }
        if let Some(name) = &body.snapshot_name {
            check_name("snapshot_name", name)?;
            ensure_free(&w.snapshots, "snapshot", name, Some(d.project_id))?;
        }
        if ctx.fail {
            return Err(ApiError::internal("finalize disk saga failed"));
        }
        if let Some(name) = body.snapshot_name {
            let snap = Snapshot {
                id: Uuid::new_v4(),
                name,
                description: format!("snapshot of finalized disk {}", d.id),
                project_id: d.project_id,
                disk_id: d.id,
                size: d.size,
                block_size: d.block_size,
                state: "ready",
                times: Times::now(),
                volume: d.volume.clone(),
            };
            w.snapshots.push(snap);
        }
        let d = &mut w.disks[i];
        d.state = DiskState::Detached;
        d.times.touch();
        Ok(StatusCode::NO_CONTENT.into_response())
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_follow_nexus_rules() {
        assert!(check_size(GIB, 512).is_ok());
        assert!(check_size(2 * GIB, 4096).is_ok());
        assert!(check_size(GIB / 2, 512).is_err());
        assert!(check_size(GIB + 512, 512).is_err());
        assert!(check_size(1024 * GIB, 512).is_err());
    }
}
