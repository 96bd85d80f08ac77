use futures::Stream;
use reqwest::Method;

use super::{NameScope, lookup_project, project_query};
use crate::client::{Client, Request};
use crate::error::{Error, Result};
use crate::names::{validate_hostname, validate_name};
use crate::types::{
    ExternalIpCreate, Instance, InstanceCreate, InstanceDiskAttachment,
    InstanceNetworkInterfaceAttachment, ListOptions, NameOrId, PoolSelector, USER_DATA_MAX_BYTES,
};

impl Client {
    /// `instance_create`: `POST /v1/instances?project=P`.
    ///
    /// With `start: true` the rack starts the instance inside this call; if
    /// that start fails it still answers 201 and the instance stays
    /// `stopped` (see [`Instance::toward`]).
    pub async fn instance_create(
        &self,
        project: &NameOrId,
        body: &InstanceCreate,
    ) -> Result<Instance> {
        check_instance_create(body)?;
        let req = Request::new("instance_create", Method::POST, "/v1/instances")
            .create()
            .query("project", project_query(project)?)
            .json(body)?;
        self.json(&req).await
    }

    /// `instance_view`: `GET /v1/instances/{instance}`.
    pub async fn instance_view(
        &self,
        instance: impl Into<NameOrId>,
        project: Option<&NameOrId>,
    ) -> Result<Instance> {
        let req = instance_request("instance_view", Method::GET, &instance.into(), project, "")?;
        self.json(&req).await
    }

    /// `instance_list`: `GET /v1/instances?project=P`.
    pub fn instance_list(
        &self,
        project: &NameOrId,
        opts: ListOptions,
    ) -> impl Stream<Item = Result<Instance>> + Send + 'static {
        let first = project_query(project).map(|p| {
            Request::new("instance_list", Method::GET, "/v1/instances").query("project", p)
        });
        self.list_checked(first, opts)
    }

    /// `instance_start`: `POST /v1/instances/{instance}/start` (202; poll
    /// `instance_view` until [`Instance::toward`] says running).
    pub async fn instance_start(
        &self,
        instance: impl Into<NameOrId>,
        project: Option<&NameOrId>,
    ) -> Result<Instance> {
        let req = instance_request(
            "instance_start",
            Method::POST,
            &instance.into(),
            project,
            "/start",
        )?;
        self.json(&req).await
    }

    /// `instance_stop`: `POST /v1/instances/{instance}/stop` (202). This is a
    /// hard power-off: the guest gets no shutdown signal, so sync its disks
    /// first. Stopping a stopped instance succeeds and does nothing, so the
    /// request is retried as an idempotent one (after a 5xx or a lost
    /// answer too).
    pub async fn instance_stop(
        &self,
        instance: impl Into<NameOrId>,
        project: Option<&NameOrId>,
    ) -> Result<Instance> {
        let req = instance_request(
            "instance_stop",
            Method::POST,
            &instance.into(),
            project,
            "/stop",
        )?
        .idempotent();
        self.json(&req).await
    }

    /// `instance_delete`: `DELETE /v1/instances/{instance}`. Only `stopped`
    /// or `failed` instances can be deleted; their disks are detached, not
    /// deleted.
    pub async fn instance_delete(
        &self,
        instance: impl Into<NameOrId>,
        project: Option<&NameOrId>,
    ) -> Result<()> {
        let req = instance_request(
            "instance_delete",
            Method::DELETE,
            &instance.into(),
            project,
            "",
        )?;
        self.empty(&req).await
    }
}

/// A request on `/v1/instances/{instance}{suffix}` following the lookup rule.
pub(crate) fn instance_request(
    operation: &'static str,
    method: Method,
    instance: &NameOrId,
    project: Option<&NameOrId>,
    suffix: &str,
) -> Result<Request> {
    let p = lookup_project(operation, "instance", instance, project, NameScope::Project)?;
    Ok(Request::new(
        operation,
        method,
        format!("/v1/instances/{instance}{suffix}"),
    )
    .query_opt("project", p))
}

/// Checks every name, the hostname and the user data of an `InstanceCreate`.
fn check_instance_create(body: &InstanceCreate) -> Result<()> {
    validate_name("name", &body.name)?;
    validate_hostname("hostname", &body.hostname)?;
    if body.user_data.len() > USER_DATA_MAX_BYTES {
        return Err(Error::InvalidRequest {
            operation: "instance_create",
            reason: format!(
                "user_data is {} bytes; at most {USER_DATA_MAX_BYTES} are allowed",
                body.user_data.len()
            ),
        });
    }
    if body.ncpus == 0 {
        return Err(Error::InvalidRequest {
            operation: "instance_create",
            reason: "ncpus must be at least 1".into(),
        });
    }
    if let Some(disk) = &body.boot_disk {
        check_disk(disk, "boot_disk.name")?;
    }
    for disk in &body.disks {
        check_disk(disk, "disks.name")?;
    }
    for ip in &body.external_ips {
        match ip {
            ExternalIpCreate::Ephemeral {
                pool_selector: PoolSelector::Explicit { pool },
            } => pool.validate("external_ips.pool")?,
            ExternalIpCreate::Floating { floating_ip } => {
                floating_ip.validate("external_ips.floating_ip")?
            }
            _ => {}
        }
    }
    if let Some(InstanceNetworkInterfaceAttachment::Create { params }) = &body.network_interfaces {
        for nic in params {
            validate_name("network_interfaces.name", &nic.name)?;
            validate_name("network_interfaces.vpc_name", &nic.vpc_name)?;
            validate_name("network_interfaces.subnet_name", &nic.subnet_name)?;
        }
    }
    for key in body.ssh_public_keys.iter().flatten() {
        key.validate("ssh_public_keys")?;
    }
    for group in &body.anti_affinity_groups {
        group.validate("anti_affinity_groups")?;
    }
    Ok(())
}

fn check_disk(disk: &InstanceDiskAttachment, field: &'static str) -> Result<()> {
    match disk {
        InstanceDiskAttachment::Create { name, .. } | InstanceDiskAttachment::Attach { name } => {
            validate_name(field, name)
        }
    }
}
