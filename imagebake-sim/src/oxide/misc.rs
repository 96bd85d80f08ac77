//! The current user and their SSH keys, IP pools, projects, and unknown
//! paths and methods.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use uuid::Uuid;

use super::Shared;
use super::http::{self, ApiError, PageRequest, json_response, parse_body, run};
use super::model::{Named, SshKey, Times, check_name, ensure_free};

#[derive(Deserialize)]
struct SshKeyCreate {
    name: String,
    description: String,
    public_key: String,
}

/// Finds a silo-level record (no project) by name or ID.
fn find<T: Named>(items: &[T], kind: &str, sel: &str) -> Result<usize, ApiError> {
    let by_id = Uuid::try_parse(sel).ok();
    items
        .iter()
        .position(|r| by_id.map_or(r.name() == sel, |id| r.id() == id))
        .ok_or_else(|| ApiError::not_found(kind, sel))
}

/// Whether `key` looks like an OpenSSH public key line.
fn plausible_public_key(key: &str) -> bool {
    let mut parts = key.split_whitespace();
    let (Some(kind), Some(blob)) = (parts.next(), parts.next()) else {
        return false;
    };
    let known =
        kind.starts_with("ssh-") || kind.starts_with("ecdsa-sha2-") || kind.starts_with("sk-");
    known
        && blob.len() >= 16
        && blob
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '='))
}

pub(crate) async fn ssh_key_create(State(sh): State<Arc<Shared>>, body: Bytes) -> Response {
    run(&sh, "current_user_ssh_key_create", |w, _| {
        let body: SshKeyCreate = parse_body(&body)?;
        check_name("name", &body.name)?;
        if !plausible_public_key(&body.public_key) {
            return Err(ApiError::bad_request("Failed to parse public key"));
        }
        ensure_free(&w.ssh_keys, "ssh-key", &body.name, None)?;
        let key = SshKey {
            id: Uuid::new_v4(),
            name: body.name,
            description: body.description,
            public_key: body.public_key,
            times: Times::now(),
        };
        let view = key.view(w.user_id);
        sh.faults.record_created("ssh-key", &key.name);
        w.ssh_keys.push(key);
        Ok(json_response(StatusCode::CREATED, view))
    })
    .await
}

pub(crate) async fn ssh_key_list(
    State(sh): State<Arc<Shared>>,
    Query(q): Query<http::Query>,
) -> Response {
    run(&sh, "current_user_ssh_key_list", |w, _| {
        let page = PageRequest::parse(&q, &[])?;
        let items = w
            .ssh_keys
            .iter()
            .map(|k| (k.name.clone(), k.id, k.view(w.user_id)))
            .collect();
        Ok(json_response(StatusCode::OK, page.page(items)))
    })
    .await
}

pub(crate) async fn ssh_key_view(
    State(sh): State<Arc<Shared>>,
    Path(key): Path<String>,
) -> Response {
    run(&sh, "current_user_ssh_key_view", |w, _| {
        let i = find(&w.ssh_keys, "ssh-key", &key)?;
        Ok(json_response(StatusCode::OK, w.ssh_keys[i].view(w.user_id)))
    })
    .await
}

pub(crate) async fn ssh_key_delete(
    State(sh): State<Arc<Shared>>,
    Path(key): Path<String>,
) -> Response {
    run(&sh, "current_user_ssh_key_delete", |w, _| {
        let i = find(&w.ssh_keys, "ssh-key", &key)?;
        w.ssh_keys.remove(i);
        Ok(StatusCode::NO_CONTENT.into_response())
    })
    .await
}

pub(crate) async fn ip_pool_list(
    State(sh): State<Arc<Shared>>,
    Query(q): Query<http::Query>,
) -> Response {
    run(&sh, "ip_pool_list", |w, _| {
        let page = PageRequest::parse(&q, &["ip_version", "pool_type"])?;
        let version = page.scan("ip_version").map(str::to_owned);
        let pool_type = page.scan("pool_type").map(str::to_owned);
        let items = w
            .pools
            .iter()
            .filter(|p| version.as_deref().is_none_or(|v| v == p.ip_version))
            .filter(|_| pool_type.as_deref().is_none_or(|t| t == "unicast"))
            .map(|p| (p.name.clone(), p.id, p.view()))
            .collect();
        Ok(json_response(StatusCode::OK, page.page(items)))
    })
    .await
}

pub(crate) async fn ip_pool_view(
    State(sh): State<Arc<Shared>>,
    Path(pool): Path<String>,
) -> Response {
    run(&sh, "ip_pool_view", |w, _| {
        let i = find(&w.pools, "ip-pool", &pool)?;
        Ok(json_response(StatusCode::OK, w.pools[i].view()))
    })
    .await
}

pub(crate) async fn project_view(
    State(sh): State<Arc<Shared>>,
    Path(project): Path<String>,
) -> Response {
    run(&sh, "project_view", |w, _| {
        Ok(json_response(StatusCode::OK, w.project(&project)?.view()))
    })
    .await
}

pub(crate) async fn project_list(
    State(sh): State<Arc<Shared>>,
    Query(q): Query<http::Query>,
) -> Response {
    run(&sh, "project_list", |w, _| {
        let page = PageRequest::parse(&q, &[])?;
        let items = w
            .projects
            .iter()
            .map(|p| (p.name.clone(), p.id, p.view()))
            .collect();
        Ok(json_response(StatusCode::OK, page.page(items)))
    })
    .await
}

pub(crate) async fn current_user_view(State(sh): State<Arc<Shared>>) -> Response {
    run(&sh, "current_user_view", |w, _| {
        Ok(json_response(StatusCode::OK, w.current_user_view()))
    })
    .await
}

/// dropshot's answer to a path no route has: 404, `message` "Not Found",
/// no `error_code`.
pub(crate) async fn not_found() -> Response {
    ApiError::new(StatusCode::NOT_FOUND, None, "Not Found").into_response()
}

/// dropshot's answer to a method the path does not take: 405, `message`
/// "Method Not Allowed", no `error_code`.
pub(crate) async fn method_not_allowed() -> Response {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, None, "Method Not Allowed").into_response()
}
