//! Machine tags and metadata endpoints.

use axum::http::StatusCode;
use serde_json::{Map, Value};

use super::api_machines::live_machine;
use super::error::{ApiError, ApiResult, Reply};
use super::params::{Params, metadata_string};
use super::routes::Context;
use super::state::Store;

/// Metadata keys a client cannot set or remove through these endpoints.
const PROTECTED_METADATA: &[&str] = &["root_authorized_keys", "credentials"];
/// Parameters that are never tags or metadata (node-triton's RBAC role).
const NOT_DATA: &[&str] = &["as-role"];

fn tags_json(tags: &std::collections::BTreeMap<String, Value>) -> Value {
    Value::Object(tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
}

/// ListMachineTags: `GET /:login/machines/:id/tags`.
pub(crate) fn list_tags(store: &mut Store, id: &str) -> ApiResult {
    live_machine(store, id).map(|m| Reply::ok(tags_json(&m.tags)))
}

/// AddMachineTags (`POST .../tags`) or, with `replace`, ReplaceMachineTags
/// (`PUT .../tags`): every parameter is a tag; answers all tags.
pub(crate) fn add_tags(store: &mut Store, id: &str, params: &Params, replace: bool) -> ApiResult {
    let m = live_machine(store, id)?;
    if replace {
        m.tags.clear();
    }
    for (k, v) in params
        .0
        .iter()
        .filter(|(k, _)| !NOT_DATA.contains(&k.as_str()))
    {
        m.tags.insert(k.clone(), v.clone());
    }
    m.updated = std::time::SystemTime::now();
    Ok(Reply::ok(tags_json(&m.tags)))
}

/// A single value: the bare text when the client asked for `text/plain`,
/// else JSON.
fn single_value(cx: &Context, value: &Value) -> Reply {
    if cx.wants_text() {
        Reply::text(metadata_string(value))
    } else {
        Reply::ok(value.clone())
    }
}

/// GetMachineTag: `GET /:login/machines/:id/tags/:tag`.
pub(crate) fn get_tag(store: &mut Store, cx: &Context, id: &str, tag: &str) -> ApiResult {
    let m = live_machine(store, id)?;
    m.tags
        .get(tag)
        .map(|v| single_value(cx, v))
        .ok_or_else(|| ApiError::not_found(format!("tag {tag} not found")))
}

/// DeleteMachineTag (`DELETE .../tags/:tag`, 404 if absent) or, with no
/// tag, DeleteMachineTags (`DELETE .../tags`): 204.
pub(crate) fn delete_tag(store: &mut Store, id: &str, tag: Option<&String>) -> ApiResult {
    let m = live_machine(store, id)?;
    match tag {
        Some(t) => {
            if m.tags.remove(t).is_none() {
                return Err(ApiError::not_found(format!("tag {t} not found")));
            }
        }
        None => m.tags.clear(),
    }
    m.updated = std::time::SystemTime::now();
    Ok(Reply::empty(StatusCode::NO_CONTENT))
}

fn metadata_json(m: &std::collections::BTreeMap<String, String>) -> Value {
    Value::Object(
        m.iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect::<Map<_, _>>(),
    )
}

/// ListMachineMetadata: `GET /:login/machines/:id/metadata`.
pub(crate) fn list_metadata(store: &mut Store, id: &str) -> ApiResult {
    live_machine(store, id).map(|m| Reply::ok(metadata_json(&m.metadata)))
}

/// AddMachineMetadata: `POST /:login/machines/:id/metadata`; every parameter
/// is a key; answers all metadata.
pub(crate) fn add_metadata(store: &mut Store, id: &str, params: &Params) -> ApiResult {
    let m = live_machine(store, id)?;
    for (k, v) in &params.0 {
        if !PROTECTED_METADATA.contains(&k.as_str()) && !NOT_DATA.contains(&k.as_str()) {
            m.metadata.insert(k.clone(), metadata_string(v));
        }
    }
    m.updated = std::time::SystemTime::now();
    Ok(Reply::ok(metadata_json(&m.metadata)))
}

/// GetMachineMetadata: `GET /:login/machines/:id/metadata/:key`.
pub(crate) fn get_metadata(store: &mut Store, cx: &Context, id: &str, key: &str) -> ApiResult {
    let m = live_machine(store, id)?;
    m.metadata
        .get(key)
        .map(|v| single_value(cx, &Value::String(v.clone())))
        .ok_or_else(|| ApiError::not_found(format!("metadata key {key} not found")))
}

/// DeleteMachineMetadata (`DELETE .../metadata/:key`) or, with no key,
/// DeleteAllMachineMetadata (`DELETE .../metadata`; keeps
/// `root_authorized_keys`): 204.
pub(crate) fn delete_metadata(store: &mut Store, id: &str, key: Option<&String>) -> ApiResult {
    let m = live_machine(store, id)?;
    match key {
        Some(k) if PROTECTED_METADATA.contains(&k.as_str()) => {
            return Err(ApiError::invalid_argument(format!("{k} cannot be deleted")));
        }
        Some(k) => {
            if m.metadata.remove(k).is_none() {
                return Err(ApiError::not_found(format!("metadata key {k} not found")));
            }
        }
        None => m
            .metadata
            .retain(|k, _| PROTECTED_METADATA.contains(&k.as_str())),
    }
    m.updated = std::time::SystemTime::now();
    Ok(Reply::empty(StatusCode::NO_CONTENT))
}
