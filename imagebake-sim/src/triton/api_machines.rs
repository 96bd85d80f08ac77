//! Machines: ListMachines, CreateMachine, GetMachine, Stop/Start/Reboot,
//! RenameMachine, DeleteMachine, and MachineAudit (the jobs those ran).

use std::collections::BTreeMap;
use std::time::SystemTime;

use axum::http::{HeaderName, StatusCode, header};
use serde_json::{Value, json};
use uuid::Uuid;

use super::api_account::find_package;
use super::error::{ApiError, ApiResult, Reply};
use super::params::{Params, metadata_string};
use super::routes::Context;
use super::seed;
use super::state::{AuditEntry, ImageState, Machine, MachineState, Store, Transition};
use super::time::rfc3339;

/// ListMachines' default and largest `limit`.
const MAX_LIMIT: u64 = 1000;

/// A machine as CloudAPI renders it.
pub(crate) fn machine_json(m: &Machine) -> Value {
    let virtual_machine = matches!(m.brand.as_str(), "kvm" | "bhyve");
    let mut v = json!({
        "id": m.id,
        "name": m.name,
        "type": if virtual_machine { "virtualmachine" } else { "smartmachine" },
        "brand": m.brand,
        "state": m.state.as_str(),
        "image": m.image,
        "ips": if m.has_ip { vec![m.ip.as_str()] } else { Vec::new() },
        "memory": m.memory,
        "disk": m.disk,
        "metadata": m.metadata,
        "tags": m.tags,
        "created": rfc3339(m.created),
        "updated": rfc3339(m.updated),
        "docker": false,
        "firewall_enabled": m.firewall_enabled,
        "deletion_protection": m.deletion_protection,
        "compute_node": "44454c4c-3200-1057-8044-b7c04f333532",
        "package": m.package,
        "networks": m.networks,
        "dns_names": [],
    });
    if m.has_ip {
        v["primaryIp"] = json!(m.ip);
    }
    v
}

/// The machine `id`: 404 if unknown, 410 Gone with its body once deleted.
pub(crate) fn live_machine<'a>(
    store: &'a mut Store,
    id: &str,
) -> Result<&'a mut Machine, ApiError> {
    let m = store
        .machine_mut(id)
        .ok_or_else(|| ApiError::not_found(format!("VM {id} not found")))?;
    if m.is_deleted() {
        return Err(ApiError::gone(machine_json(m)));
    }
    Ok(m)
}

/// GetMachine: `GET /:login/machines/:id`.
pub(crate) fn get(store: &mut Store, id: &str) -> ApiResult {
    live_machine(store, id).map(|m| Reply::ok(machine_json(m)))
}

/// ListMachines: `GET /:login/machines` with `name`, `state`, `image`,
/// `brand`, `memory`, `tag.K` filters and `limit`/`offset` paging.
pub(crate) fn list(store: &mut Store, params: &Params) -> ApiResult {
    store.settle();
    let limit = params
        .u64("limit")?
        .unwrap_or(MAX_LIMIT)
        .clamp(1, MAX_LIMIT);
    let offset = params.u64("offset")?.unwrap_or(0);
    let tags: Vec<(&str, String)> = params
        .prefixed("tag.")
        .map(|(k, v)| (k, metadata_string(v)))
        .collect();
    let matching: Vec<&Machine> = store
        .machines
        .iter()
        .filter(|m| !m.is_deleted())
        .filter(|m| params.str("name").is_none_or(|n| m.name == n))
        .filter(|m| params.str("state").is_none_or(|s| m.state.as_str() == s))
        .filter(|m| params.str("image").is_none_or(|i| m.image.to_string() == i))
        .filter(|m| params.str("brand").is_none_or(|b| m.brand == b))
        .filter(|m| {
            params
                .str("memory")
                .is_none_or(|mem| m.memory.to_string() == mem)
        })
        .filter(|m| {
            tags.iter().all(|(k, want)| {
                m.tags
                    .get(*k)
                    .is_some_and(|have| metadata_string(have) == *want)
            })
        })
        .collect();
    let count = matching.len();
    let page: Vec<Value> = matching
        .into_iter()
        .skip(usize::try_from(offset).unwrap_or(usize::MAX))
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
        .map(machine_json)
        .collect();
    Ok(Reply::ok(Value::Array(page))
        .header(
            HeaderName::from_static("x-resource-count"),
            count.to_string(),
        )
        .header(HeaderName::from_static("x-query-limit"), limit.to_string()))
}

/// Network UUIDs from `networks`: UUID strings or `{"ipv4_uuid": ...}` objects.
fn requested_networks(store: &Store, params: &Params) -> Result<Vec<Uuid>, ApiError> {
    let Some(value) = params.0.get("networks") else {
        return Ok(vec![seed::NET_PUBLIC, seed::NET_FABRIC]);
    };
    let items: Vec<Value> = match value {
        Value::Array(items) => items.clone(),
        Value::String(s) => s.split(',').map(|p| Value::String(p.to_owned())).collect(),
        other => {
            return Err(ApiError::invalid_argument(format!(
                "Invalid networks: {other}"
            )));
        }
    };
    items
        .iter()
        .map(|item| {
            let id = match item {
                Value::String(s) => Some(s.as_str()),
                Value::Object(o) => o.get("ipv4_uuid").and_then(Value::as_str),
                _ => None,
            };
            id.and_then(|id| store.networks.iter().find(|n| n.id.to_string() == id))
                .map(|n| n.id)
                .ok_or_else(|| ApiError::invalid_argument(format!("Invalid networks: {item}")))
        })
        .collect()
}

/// CreateMachine: `POST /:login/machines`.
pub(crate) fn create(store: &mut Store, cx: &Context, params: &Params) -> ApiResult {
    let image_id = params.required("image")?;
    let image = store
        .image_mut(&image_id)
        .ok_or_else(|| ApiError::not_found(format!("image {image_id} not found")))?
        .clone();
    if !store.visible(&image) {
        return Err(ApiError::not_found(format!("image {image_id} not found")));
    }
    if image.state != ImageState::Active {
        return Err(ApiError::invalid_argument(format!(
            "image {image_id} is not active (state: {})",
            image.state.as_str()
        )));
    }
    let package = match params.str("package") {
        Some(p) => find_package(store, &p)
            .ok_or_else(|| ApiError::not_found(format!("package {p} not found")))?,
        None => store
            .packages
            .iter()
            .find(|p| p.default)
            .ok_or_else(|| ApiError::missing("package"))?,
    }
    .clone();
    let networks = requested_networks(store, params)?;
    if store.account.keys.is_empty() {
        return Err(ApiError::new(
            409,
            "KeyRequired",
            "At least one SSH key is required to provision",
        ));
    }

    let id = Uuid::new_v4();
    let short: String = id.to_string().chars().take(8).collect();
    let name = params
        .str("name")
        .filter(|n| !n.is_empty())
        .map_or_else(|| short.clone(), |n| n.replace("{{shortId}}", &short));
    ensure_name_free(store, &name, None)?;
    let brand = match (image.kind.as_str(), params.str("brand")) {
        ("zvol", Some(b)) if b == "kvm" || b == "bhyve" => b,
        ("zvol", _) => "bhyve".to_owned(),
        ("lx-dataset", _) => "lx".to_owned(),
        _ => "joyent".to_owned(),
    };
    let mut metadata: BTreeMap<String, String> = params
        .prefixed("metadata.")
        .map(|(k, v)| (k.to_owned(), metadata_string(v)))
        .collect();
    if let Some(Value::Object(m)) = params.0.get("metadata") {
        for (k, v) in m {
            metadata.insert(k.clone(), metadata_string(v));
        }
    }
    let keys: Vec<&str> = store.account.keys.iter().map(|k| k.line.as_str()).collect();
    metadata.insert("root_authorized_keys".to_owned(), keys.join("\n"));
    let mut tags: BTreeMap<String, Value> = params
        .prefixed("tag.")
        .map(|(k, v)| (k.to_owned(), v.clone()))
        .collect();
    if let Some(Value::Object(t)) = params.0.get("tags") {
        tags.extend(t.iter().map(|(k, v)| (k.clone(), v.clone())));
    }

    let now = SystemTime::now();
    let outcome = if cx.fail_resource {
        MachineState::Failed
    } else {
        MachineState::Running
    };
    let provision = Transition::after(outcome, store.delays.provision);
    let mut machine = Machine {
        id,
        name,
        brand,
        image: image.id,
        package: package.name.clone(),
        memory: package.memory,
        disk: package.disk,
        networks,
        state: MachineState::Provisioning,
        pending: Some(provision),
        has_ip: false,
        ip: store.vms.as_ref().map_or_else(
            || super::vm::API_ONLY_IP.to_owned(),
            |v| v.allocate_ip().to_string(),
        ),
        tags,
        metadata,
        firewall_enabled: params.bool("firewall_enabled")?.unwrap_or(false),
        deletion_protection: params.bool("deletion_protection")?.unwrap_or(false),
        created: now,
        updated: now,
        audit: Vec::new(),
    };
    let ok = !cx.fail_resource;
    record(&mut machine, cx, params, "provision", ok, provision.at_wall);
    let body = machine_json(&machine);
    store.machines.push(machine);
    Ok(Reply::json(StatusCode::CREATED, body)
        .header(header::LOCATION, format!("/{}/machines/{id}", cx.login)))
}

/// StopMachine: `POST /:login/machines/:id?action=stop` → 202.
pub(crate) fn stop(store: &mut Store, cx: &Context, id: &str, params: &Params) -> ApiResult {
    let delay = store.delays.stop;
    let m = live_machine(store, id)?;
    match m.state {
        MachineState::Running if !m.is_deleting() => {
            let t = Transition::after(MachineState::Stopped, delay);
            m.state = MachineState::Stopping;
            m.updated = SystemTime::now();
            m.pending = Some(t);
            record(m, cx, params, "stop", true, t.at_wall);
        }
        MachineState::Stopping => {}
        state => {
            return Err(ApiError::invalid_state(format!(
                "VM {id} cannot be stopped in state {}",
                state.as_str()
            )));
        }
    }
    Ok(Reply::empty(StatusCode::ACCEPTED))
}

/// StartMachine: `POST /:login/machines/:id?action=start` → 202.
pub(crate) fn start(store: &mut Store, cx: &Context, id: &str, params: &Params) -> ApiResult {
    let delay = store.delays.start;
    let m = live_machine(store, id)?;
    match m.state {
        MachineState::Stopped if !m.is_deleting() => {
            if m.pending.is_none() {
                let t = Transition::after(MachineState::Running, delay);
                m.pending = Some(t);
                record(m, cx, params, "start", true, t.at_wall);
            }
        }
        state => {
            return Err(ApiError::invalid_state(format!(
                "VM {id} cannot be started in state {}",
                state.as_str()
            )));
        }
    }
    Ok(Reply::empty(StatusCode::ACCEPTED))
}

/// RebootMachine: `POST /:login/machines/:id?action=reboot` → 202 (stays
/// `running`).
pub(crate) fn reboot(store: &mut Store, cx: &Context, id: &str, params: &Params) -> ApiResult {
    let m = live_machine(store, id)?;
    if m.state != MachineState::Running || m.is_deleting() {
        return Err(ApiError::invalid_state(format!(
            "VM {id} cannot be rebooted in state {}",
            m.state.as_str()
        )));
    }
    let now = SystemTime::now();
    m.updated = now;
    record(m, cx, params, "reboot", true, now);
    let machine = m.id;
    if let Some(Err(e)) = store.vms.as_ref().map(|vms| vms.reboot(machine)) {
        tracing::warn!(%machine, error = %e, "simulated machine failed to reboot");
    }
    Ok(Reply::empty(StatusCode::ACCEPTED))
}

/// DeleteMachine: `DELETE /:login/machines/:id` → 204 (also while a delete is
/// under way); 410 with the body once deleted.
pub(crate) fn delete(store: &mut Store, cx: &Context, id: &str, params: &Params) -> ApiResult {
    let delay = store.delays.delete;
    let m = live_machine(store, id)?;
    if m.deletion_protection {
        return Err(ApiError::new(
            409,
            "CannotDestroyMachineError",
            "Instance has \"deletion_protection\" enabled, preventing deletion",
        ));
    }
    if !m.is_deleting() {
        let t = Transition::after(MachineState::Deleted, delay);
        m.pending = Some(t);
        record(m, cx, params, "destroy", true, t.at_wall);
    }
    Ok(Reply::empty(StatusCode::NO_CONTENT))
}

/// Adds a job to the machine's audit trail, shown from `time` on.
fn record(
    m: &mut Machine,
    cx: &Context,
    params: &Params,
    action: &'static str,
    success: bool,
    time: SystemTime,
) {
    m.audit.push(AuditEntry {
        action,
        parameters: Value::Object(params.0.clone()),
        success,
        caller: cx.caller.clone(),
        time,
    });
}

/// MachineAudit: `GET /:login/machines/:id/audit` → the machine's finished
/// jobs, newest first, as `{action, parameters, success: "yes"|"no",
/// caller, time}` (also for a deleted machine; 404 for an unknown one).
pub(crate) fn audit(store: &mut Store, id: &str) -> ApiResult {
    let m = store
        .machine_mut(id)
        .ok_or_else(|| ApiError::not_found(format!("VM {id} not found")))?;
    let now = SystemTime::now();
    let entries: Vec<Value> = m
        .audit
        .iter()
        .rev()
        .filter(|e| e.time <= now)
        .map(|e| {
            json!({
                "action": e.action,
                "parameters": e.parameters,
                "success": if e.success { "yes" } else { "no" },
                "caller": e.caller,
                "time": rfc3339(e.time),
            })
        })
        .collect();
    Ok(Reply::ok(Value::Array(entries)))
}

/// Longest machine name (alias) RenameMachine accepts.
const MAX_NAME: usize = 189;

/// RenameMachine: `POST /:login/machines/:id?action=rename&name=NAME` → 202.
/// The name is required (409 `MissingParameter`), must be 1 to 189 letters,
/// digits, `_`, `.` or `-` starting with a letter or digit, and free among
/// live machines (409 `ValidationFailed`, as CreateMachine).
pub(crate) fn rename(store: &mut Store, cx: &Context, id: &str, params: &Params) -> ApiResult {
    let name = params
        .str("name")
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ApiError::missing("name"))?;
    let valid = name.len() <= MAX_NAME
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if !valid {
        return Err(validation_failed(
            "Invalid",
            &format!("Invalid alias: {name:?}"),
        ));
    }
    let machine = live_machine(store, id)?.id;
    ensure_name_free(store, &name, Some(machine))?;
    let m = live_machine(store, id)?;
    if m.is_deleting() {
        return Err(ApiError::invalid_state(format!(
            "VM {id} cannot be renamed while it is being deleted"
        )));
    }
    let now = SystemTime::now();
    m.name = name;
    m.updated = now;
    record(m, cx, params, "rename", true, now);
    Ok(Reply::empty(StatusCode::ACCEPTED))
}

/// 409 `ValidationFailed` when a live machine other than `except` has `name`.
fn ensure_name_free(store: &Store, name: &str, except: Option<Uuid>) -> Result<(), ApiError> {
    let taken = store
        .machines
        .iter()
        .any(|m| !m.is_deleted() && m.name == name && Some(m.id) != except);
    if taken {
        return Err(validation_failed(
            "Duplicate",
            "Already exists for this owner_uuid",
        ));
    }
    Ok(())
}

/// VMAPI's 409 `ValidationFailed` about the machine's alias.
fn validation_failed(code: &str, message: &str) -> ApiError {
    ApiError::Raw {
        status: StatusCode::CONFLICT,
        body: json!({
            "code": "ValidationFailed",
            "message": "Invalid VM parameters",
            "errors": [{ "field": "alias", "code": code, "message": message }],
        }),
    }
}
