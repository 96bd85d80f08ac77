//! Instances: create (with start inside the request), view, list, start,
//! stop, delete, external IPs, serial console.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::Shared;
use super::http::{self, ApiError, Ctx, PageRequest, json_response, parse_body, run};
use super::model::{
    Disk, DiskState, EPHEMERAL_IP, GIB, Instance, SNAT_IP, Times, World, check_hostname,
    check_name, ensure_free, lookup, now_rfc3339,
};

/// Largest decoded `user_data`.
const USER_DATA_MAX: usize = 32 * 1024;

#[derive(Deserialize)]
struct InstanceCreate {
    name: String,
    description: String,
    hostname: String,
    ncpus: u16,
    memory: u64,
    #[serde(default)]
    boot_disk: Option<DiskAttachment>,
    #[serde(default)]
    disks: Vec<DiskAttachment>,
    #[serde(default)]
    external_ips: Vec<ExternalIpCreate>,
    #[serde(default)]
    network_interfaces: Option<NicAttachment>,
    #[serde(default)]
    ssh_public_keys: Option<Vec<String>>,
    #[serde(default)]
    user_data: String,
    #[serde(default = "yes")]
    start: bool,
    #[serde(default)]
    auto_restart_policy: Option<String>,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum DiskAttachment {
    Create {
        name: String,
        description: String,
        size: u64,
        disk_backend: DiskBackend,
    },
    Attach {
        name: String,
    },
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum DiskBackend {
    Local,
    Distributed { disk_source: DiskSource },
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum DiskSource {
    Blank {
        block_size: u32,
    },
    Snapshot {
        snapshot_id: Uuid,
        #[serde(default)]
        read_only: bool,
    },
    Image {
        image_id: Uuid,
        #[serde(default)]
        read_only: bool,
    },
    ImportingBlocks {
        block_size: u32,
    },
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ExternalIpCreate {
    Ephemeral {
        #[serde(default)]
        pool_selector: Option<PoolSelector>,
    },
    Floating {
        floating_ip: String,
    },
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum PoolSelector {
    Auto {
        #[serde(default)]
        ip_version: Option<String>,
    },
    Explicit {
        pool: String,
    },
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum NicAttachment {
    Create { params: Vec<NicCreate> },
    DefaultIpv4,
    DefaultIpv6,
    DefaultDualStack,
    None,
}

#[derive(Deserialize)]
struct NicCreate {
    name: String,
    #[allow(dead_code)]
    description: String,
    vpc_name: String,
    subnet_name: String,
}

fn project_q(q: &http::Query) -> Option<&str> {
    q.get("project").map(String::as_str)
}

pub(crate) async fn list(State(sh): State<Arc<Shared>>, Query(q): Query<http::Query>) -> Response {
    run(&sh, "instance_list", |w, _| {
        let page = PageRequest::parse(&q, &["project"])?;
        let project = page.scan("project").ok_or_else(|| {
            ApiError::bad_request("unable to parse query string: missing field `project`")
        })?;
        let pid = w.project(project)?.id;
        Ok(page.in_project(&w.instances, Some(pid), |i| i.view()))
    })
    .await
}

pub(crate) async fn create(
    State(sh): State<Arc<Shared>>,
    Query(q): Query<http::Query>,
    body: Bytes,
) -> Response {
    run(&sh, "instance_create", |w, ctx| {
        let project = project_q(&q).ok_or_else(|| {
            ApiError::bad_request("unable to parse query string: missing field `project`")
        })?;
        let pid = w.project(project)?.id;
        let body: InstanceCreate = parse_body(&body)?;
        let name = body.name.clone();
        let made = create_instance(w, ctx, pid, body)?;
        sh.faults.record_created("instance", &name);
        Ok(made)
    })
    .await
}

fn create_instance(
    w: &mut World,
    ctx: Ctx,
    pid: Uuid,
    body: InstanceCreate,
) -> Result<Response, ApiError> {
    check_name("name", &body.name)?;
    check_hostname(&body.hostname)?;
    if body.ncpus == 0 || body.ncpus > 64 {
        return Err(ApiError::bad_request(
            "cannot create an instance with 0 or more than 64 CPUs",
        ));
    }
    if body.memory < GIB {
        return Err(ApiError::bad_request("memory must be at least 1 GiB"));
    }
    ensure_free(&w.instances, "instance", &body.name, Some(pid))?;
    let user_data = base64::engine::general_purpose::STANDARD
        .decode(body.user_data.as_bytes())
        .map_err(|e| ApiError::bad_request(format!("unable to parse JSON body: user_data: {e}")))?;
    if user_data.len() > USER_DATA_MAX {
        return Err(ApiError::bad_request(format!(
            "User data too large: {} bytes (maximum {USER_DATA_MAX})",
            user_data.len()
        )));
    }
    if let Some(p) = body
        .auto_restart_policy
        .as_deref()
        .filter(|p| !matches!(*p, "never" | "best_effort"))
    {
        return Err(ApiError::bad_request(format!(
            "unable to parse JSON body: auto_restart_policy: unknown variant `{p}`"
        )));
    }
    check_nics(w, pid, body.network_interfaces.as_ref())?;
    let ephemeral_pool = external_ip_pool(w, &body.external_ips)?;
    let ssh_key_ids = ssh_keys(w, body.ssh_public_keys.as_deref())?;

    let id = Uuid::new_v4();
    // Plan every disk before creating any, so a bad one creates nothing.
    let mut new_disks = Vec::new();
    let mut attach = Vec::new();
    let all = body
        .boot_disk
        .iter()
        .map(|d| (true, d))
        .chain(body.disks.iter().map(|d| (false, d)));
    let mut boot_disk_id = None;
    for (boot, d) in all {
        let disk_id = match d {
            DiskAttachment::Create {
                name,
                description,
                size,
                disk_backend,
            } => {
                let disk = plan_disk(
                    w,
                    pid,
                    DiskState::Attached(id),
                    name,
                    description,
                    *size,
                    disk_backend,
                )?;
                if new_disks.iter().any(|n: &Disk| n.name == disk.name) {
                    return Err(ApiError::already_exists("disk", name));
                }
                let disk_id = disk.id;
                new_disks.push(disk);
                disk_id
            }
            DiskAttachment::Attach { name } => {
                check_name("disks.name", name)?;
                let i = w
                    .disks
                    .iter()
                    .position(|d| d.name == *name && d.project_id == pid)
                    .ok_or_else(|| ApiError::not_found("disk", name))?;
                if w.disks[i].state != DiskState::Detached {
                    return Err(ApiError::bad_request(format!(
                        "disk \"{name}\" cannot be attached in state \"{}\"",
                        w.disks[i].state.name()
                    )));
                }
                attach.push(i);
                w.disks[i].id
            }
        };
        if boot {
            boot_disk_id = Some(disk_id);
        }
    }
    for i in attach {
        w.disks[i].state = DiskState::Attached(id);
    }
    w.disks.extend(new_disks);

    let mut instance = Instance {
        id,
        name: body.name,
        description: body.description,
        project_id: pid,
        hostname: body.hostname,
        ncpus: body.ncpus,
        memory: body.memory,
        state: "stopped",
        pending: None,
        state_updated: now_rfc3339(),
        boot_disk_id,
        auto_restart_policy: body.auto_restart_policy,
        ephemeral_pool,
        ssh_key_ids,
        user_data,
        times: Times::now(),
        ip: w
            .vms
            .as_ref()
            .map_or_else(|| EPHEMERAL_IP.to_owned(), |v| v.allocate_ip().to_string()),
    };
    // The start saga runs inside the request; its failure is only logged and
    // the instance stays stopped.
    if body.start && !ctx.fail {
        instance.set_state(
            "starting",
            Some(("running", ctx.now + ctx.delays.instance_start)),
        );
    }
    let view = instance.view();
    w.instances.push(instance);
    Ok(json_response(StatusCode::CREATED, view))
}

pub(crate) fn plan_disk(
    w: &World,
    pid: Uuid,
    state: DiskState,
    name: &str,
    description: &str,
    size: u64,
    backend: &DiskBackend,
) -> Result<Disk, ApiError> {
    check_name("disk name", name)?;
    super::model::ensure_free(&w.disks, "disk", name, Some(pid))?;
    let (image_id, snapshot_id, read_only, block_size, min_size) = match backend {
        DiskBackend::Local => (None, None, false, 4096, 0),
        DiskBackend::Distributed { disk_source } => match disk_source {
            DiskSource::Blank { block_size } | DiskSource::ImportingBlocks { block_size } => {
                (None, None, false, *block_size, 0)
            }
            DiskSource::Image {
                image_id,
                read_only,
            } => {
                let img = w
                    .images
                    .iter()
                    .find(|i| i.id == *image_id && i.project_id.is_none_or(|p| p == pid))
                    .ok_or_else(|| ApiError::not_found("image", &image_id.to_string()))?;
                (Some(img.id), None, *read_only, img.block_size, img.size)
            }
            DiskSource::Snapshot {
                snapshot_id,
                read_only,
            } => {
                let s = w
                    .snapshots
                    .iter()
                    .find(|s| s.id == *snapshot_id && s.project_id == pid)
                    .ok_or_else(|| ApiError::not_found("snapshot", &snapshot_id.to_string()))?;
                (None, Some(s.id), *read_only, s.block_size, s.size)
            }
        },
    };
    if !matches!(block_size, 512 | 2048 | 4096) {
        return Err(ApiError::bad_request(format!(
            "unsupported block size {block_size}"
        )));
    }
    if size < min_size {
        return Err(ApiError::bad_request(format!(
            "disk size {size} must be greater than or equal to the source size {min_size}"
        )));
    }
    if size == 0 || !size.is_multiple_of(u64::from(block_size)) {
        return Err(ApiError::bad_request(format!(
            "disk size {size} must be a positive multiple of the block size {block_size}"
        )));
    }
    Ok(Disk {
        id: Uuid::new_v4(),
        name: name.to_owned(),
        description: description.to_owned(),
        project_id: pid,
        size,
        block_size,
        image_id,
        snapshot_id,
        read_only,
        state,
        times: Times::now(),
        volume: None,
    })
}

fn check_nics(w: &World, pid: Uuid, nics: Option<&NicAttachment>) -> Result<(), ApiError> {
    let Some(NicAttachment::Create { params }) = nics else {
        return Ok(());
    };
    for nic in params {
        check_name("network_interfaces.name", &nic.name)?;
        let vpc = w
            .vpcs
            .iter()
            .find(|v| v.project_id == pid && v.name == nic.vpc_name)
            .ok_or_else(|| ApiError::not_found("vpc", &nic.vpc_name))?;
        if !vpc.subnets.contains(&nic.subnet_name) {
            return Err(ApiError::not_found("vpc-subnet", &nic.subnet_name));
        }
    }
    Ok(())
}

fn external_ip_pool(w: &World, ips: &[ExternalIpCreate]) -> Result<Option<Uuid>, ApiError> {
    let mut pool = None;
    for ip in ips {
        match ip {
            ExternalIpCreate::Floating { floating_ip } => {
                return Err(ApiError::not_found("floating-ip", floating_ip));
            }
            ExternalIpCreate::Ephemeral { .. } if pool.is_some() => {
                return Err(ApiError::bad_request(
                    "an instance may have at most one ephemeral IP",
                ));
            }
            ExternalIpCreate::Ephemeral { pool_selector } => {
                let found = match pool_selector {
                    None | Some(PoolSelector::Auto { ip_version: None }) => {
                        w.pools.iter().find(|p| p.is_default)
                    }
                    Some(PoolSelector::Auto {
                        ip_version: Some(v),
                    }) => {
                        let p = w.pools.iter().find(|p| p.is_default && p.ip_version == v);
                        if p.is_none() {
                            return Err(ApiError::bad_request(format!(
                                "no default {v} IP pool for the current silo"
                            )));
                        }
                        p
                    }
                    Some(PoolSelector::Explicit { pool }) => Some(
                        w.pools
                            .iter()
                            .find(|p| p.name == *pool || p.id.to_string() == *pool)
                            .ok_or_else(|| ApiError::not_found("ip-pool", pool))?,
                    ),
                };
                let p = found.ok_or_else(|| {
                    ApiError::bad_request("no default IP pool for the current silo")
                })?;
                pool = Some(p.id);
            }
        }
    }
    Ok(pool)
}

fn ssh_keys(w: &World, keys: Option<&[String]>) -> Result<Vec<Uuid>, ApiError> {
    match keys {
        None => Ok(w.ssh_keys.iter().map(|k| k.id).collect()),
        Some(keys) => keys
            .iter()
            .map(|sel| {
                w.ssh_keys
                    .iter()
                    .find(|k| k.name == *sel || k.id.to_string() == *sel)
                    .map(|k| k.id)
                    .ok_or_else(|| ApiError::not_found("ssh-key", sel))
            })
            .collect(),
    }
}

pub(crate) async fn view(
    State(sh): State<Arc<Shared>>,
    Path(instance): Path<String>,
    Query(q): Query<http::Query>,
) -> Response {
    run(&sh, "instance_view", |w, _| {
        let i = lookup(w, &w.instances, "instance", &instance, project_q(&q), false)?;
        Ok(json_response(StatusCode::OK, w.instances[i].view()))
    })
    .await
}

pub(crate) async fn start(
    State(sh): State<Arc<Shared>>,
    Path(instance): Path<String>,
    Query(q): Query<http::Query>,
) -> Response {
    run(&sh, "instance_start", |w, ctx| {
        let i = lookup(w, &w.instances, "instance", &instance, project_q(&q), false)?;
        let inst = &mut w.instances[i];
        match inst.state {
            "stopped" => {
                let end = if ctx.fail { "failed" } else { "running" };
                inst.set_state("starting", Some((end, ctx.now + ctx.delays.instance_start)));
            }
            "starting" | "running" | "rebooting" => {}
            s => {
                return Err(ApiError::bad_request(format!(
                    "cannot start instance in state \"{s}\""
                )));
            }
        }
        Ok(json_response(StatusCode::ACCEPTED, inst.view()))
    })
    .await
}

pub(crate) async fn stop(
    State(sh): State<Arc<Shared>>,
    Path(instance): Path<String>,
    Query(q): Query<http::Query>,
) -> Response {
    run(&sh, "instance_stop", |w, ctx| {
        let i = lookup(w, &w.instances, "instance", &instance, project_q(&q), false)?;
        let inst = &mut w.instances[i];
        match inst.state {
            // A hard power-off; the guest gets no signal.
            "starting" | "running" | "rebooting" | "migrating" | "repairing" => {
                let end = if ctx.fail { "failed" } else { "stopped" };
                inst.set_state("stopping", Some((end, ctx.now + ctx.delays.instance_stop)));
            }
            "failed" => inst.set_state("stopped", None),
            "stopping" | "stopped" => {}
            "creating" => {
                return Err(ApiError::bad_request(
                    "cannot change instance state while it is still being created",
                ));
            }
            s => {
                return Err(ApiError::bad_request(format!(
                    "cannot stop instance in state \"{s}\""
                )));
            }
        }
        Ok(json_response(StatusCode::ACCEPTED, inst.view()))
    })
    .await
}

pub(crate) async fn delete(
    State(sh): State<Arc<Shared>>,
    Path(instance): Path<String>,
    Query(q): Query<http::Query>,
) -> Response {
    run(&sh, "instance_delete", |w, _| {
        let i = lookup(w, &w.instances, "instance", &instance, project_q(&q), false)?;
        if !matches!(w.instances[i].state, "stopped" | "failed") || w.instances[i].pending.is_some()
        {
            return Err(ApiError::bad_request(
                "cannot delete instance: instance is running or has not yet fully stopped",
            ));
        }
        let gone = w.instances.remove(i);
        if let Some(vms) = &w.vms {
            vms.destroy_vm(gone.id);
            if gone.boot_disk_id.is_none() {
                vms.destroy_disk(gone.id);
            }
        }
        // Disks are detached in the same transaction, not deleted.
        for d in &mut w.disks {
            if d.state == DiskState::Attached(gone.id) {
                d.state = DiskState::Detached;
                d.times.touch();
            }
        }
        Ok(StatusCode::NO_CONTENT.into_response())
    })
    .await
}

pub(crate) async fn external_ips(
    State(sh): State<Arc<Shared>>,
    Path(instance): Path<String>,
    Query(q): Query<http::Query>,
) -> Response {
    run(&sh, "instance_external_ip_list", |w, _| {
        let i = lookup(w, &w.instances, "instance", &instance, project_q(&q), false)?;
        let inst = &w.instances[i];
        let default_pool = w.pools.iter().find(|p| p.is_default).map(|p| p.id);
        let mut items = Vec::new();
        if inst.has_vmm() {
            items.push(json!({
                "kind": "snat", "ip": SNAT_IP, "ip_pool_id": default_pool,
                "first_port": 16384, "last_port": 32767,
            }));
        }
        if let Some(pool) = inst.ephemeral_pool {
            items.push(json!({ "kind": "ephemeral", "ip": inst.ip, "ip_pool_id": pool }));
        }
        Ok(json_response(
            StatusCode::OK,
            json!({ "items": items, "next_page": null }),
        ))
    })
    .await
}

pub(crate) async fn serial_console(
    State(sh): State<Arc<Shared>>,
    Path(instance): Path<String>,
    Query(q): Query<http::Query>,
) -> Response {
    run(&sh, "instance_serial_console", |w, _| {
        let i = lookup(w, &w.instances, "instance", &instance, project_q(&q), false)?;
        let inst = &w.instances[i];
        let num = |k: &str| {
            q.get(k)
                .map(|v| {
                    v.parse::<u64>()
                        .map_err(|_| ApiError::bad_request(format!("unable to parse query string: {k}: {v:?}")))
                })
                .transpose()
        };
        let (from_start, most_recent, max_bytes) = (num("from_start")?, num("most_recent")?, num("max_bytes")?);
        if from_start.is_some() == most_recent.is_some() {
            return Err(ApiError::bad_request(
                "exactly one of 'from_start' and 'most_recent' must be specified",
            ));
        }
        if !inst.has_vmm() {
            return Err(ApiError::bad_request(format!(
                "instance \"{}\" is not running (state \"{}\")",
                inst.name, inst.state
            )));
        }
        let log = format!(
            "imagebake-sim: booting {name} ({id})\r\n[    0.000000] Linux version 6.1.0 (imagebake-sim)\r\n\
             cloud-init: datasource NoCloud [cidata]\r\n{host} login: ",
            name = inst.name,
            id = inst.id,
            host = inst.hostname
        );
        let bytes = log.as_bytes();
        let total = bytes.len() as u64;
        let start = match (from_start, most_recent) {
            (Some(f), _) => f.min(total),
            (_, Some(r)) => total.saturating_sub(r),
            _ => 0,
        };
        let end = max_bytes.map_or(total, |m| start.saturating_add(m).min(total));
        let data = bytes.get(start as usize..end as usize).unwrap_or_default();
        Ok(json_response(StatusCode::OK, json!({ "data": data, "last_byte_offset": end })))
    })
    .await
}
