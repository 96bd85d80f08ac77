//! Images: view, list, create from a snapshot, delete, promote, demote.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use uuid::Uuid;

use super::Shared;
use super::http::{self, ApiError, PageRequest, json_response, parse_body, run};
use super::model::{Image, Times, World, check_name, ensure_free, lookup};

#[derive(Deserialize)]
struct ImageCreate {
    name: String,
    description: String,
    os: String,
    version: String,
    source: ImageSource,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ImageSource {
    Snapshot { id: Uuid },
}

/// The index of the image `{image}` names, with the call's optional `project`.
fn find(w: &World, image: &str, q: &http::Query) -> Result<usize, ApiError> {
    lookup(
        w,
        &w.images,
        "image",
        image,
        q.get("project").map(String::as_str),
        true,
    )
}

pub(crate) async fn list(State(sh): State<Arc<Shared>>, Query(q): Query<http::Query>) -> Response {
    run(&sh, "image_list", |w, _| {
        let page = PageRequest::parse(&q, &["project"])?;
        let scope = page
            .scan("project")
            .map(|p| w.project(p).map(|p| p.id))
            .transpose()?;
        Ok(page.in_project(&w.images, scope, |i| i.view()))
    })
    .await
}

pub(crate) async fn create(
    State(sh): State<Arc<Shared>>,
    Query(q): Query<http::Query>,
    body: Bytes,
) -> Response {
    run(&sh, "image_create", |w, ctx| {
        let body: ImageCreate = parse_body(&body)?;
        check_name("name", &body.name)?;
        let scope = q
            .get("project")
            .map(|p| w.project(p).map(|p| p.id))
            .transpose()?;
        let ImageSource::Snapshot { id } = body.source;
        let snap = w
            .snapshots
            .iter()
            .find(|s| s.id == id)
            .ok_or_else(|| ApiError::not_found("snapshot", &id.to_string()))?;
        if scope.is_some_and(|p| p != snap.project_id) {
            return Err(ApiError::bad_request(
                "snapshot does not belong to this project",
            ));
        }
        ensure_free(&w.images, "image", &body.name, scope)?;
        if ctx.fail {
            return Err(ApiError::internal("image create saga failed"));
        }
        // The image holds its own copy of the snapshot's volume.
        let image = Image {
            id: Uuid::new_v4(),
            name: body.name,
            description: body.description,
            os: body.os,
            version: body.version,
            size: snap.size,
            block_size: snap.block_size,
            project_id: scope,
            times: Times::now(),
            volume: snap.volume.clone(),
        };
        if let Some(vms) = &w.vms {
            vms.alias(image.id, snap.id);
        }
        let view = image.view();
        sh.faults.record_created("image", &image.name);
        w.images.push(image);
        Ok(json_response(StatusCode::CREATED, view))
    })
    .await
}

pub(crate) async fn view(
    State(sh): State<Arc<Shared>>,
    Path(image): Path<String>,
    Query(q): Query<http::Query>,
) -> Response {
    run(&sh, "image_view", |w, _| {
        let i = find(w, &image, &q)?;
        Ok(json_response(StatusCode::OK, w.images[i].view()))
    })
    .await
}

pub(crate) async fn delete(
    State(sh): State<Arc<Shared>>,
    Path(image): Path<String>,
    Query(q): Query<http::Query>,
) -> Response {
    run(&sh, "image_delete", |w, _| {
        let i = find(w, &image, &q)?;
        w.images.remove(i);
        Ok(StatusCode::NO_CONTENT.into_response())
    })
    .await
}

pub(crate) async fn promote(
    State(sh): State<Arc<Shared>>,
    Path(image): Path<String>,
    Query(q): Query<http::Query>,
) -> Response {
    run(&sh, "image_promote", |w, _| {
        let i = find(w, &image, &q)?;
        if w.images[i].project_id.is_none() {
            return Err(ApiError::bad_request("image is already a silo image"));
        }
        ensure_free(&w.images, "image", &w.images[i].name, None)?;
        let img = &mut w.images[i];
        img.project_id = None;
        img.times.touch();
        Ok(json_response(StatusCode::ACCEPTED, img.view()))
    })
    .await
}

pub(crate) async fn demote(
    State(sh): State<Arc<Shared>>,
    Path(image): Path<String>,
    Query(q): Query<http::Query>,
) -> Response {
    run(&sh, "image_demote", |w, _| {
        let project = q.get("project").ok_or_else(|| {
            ApiError::bad_request("unable to parse query string: missing field `project`")
        })?;
        let pid = w.project(project)?.id;
        let i = lookup(w, &w.images, "image", &image, None, true)?;
        if w.images[i].project_id.is_some() {
            return Err(ApiError::bad_request("image is not a silo image"));
        }
        ensure_free(&w.images, "image", &w.images[i].name, Some(pid))?;
        let img = &mut w.images[i];
        img.project_id = Some(pid);
        img.times.touch();
        Ok(json_response(StatusCode::ACCEPTED, img.view()))
    })
    .await
}
