//! The clouds' read operations a script needs, returning plain dicts:
//! `TritonClient` (images, machines), `OxideClient` (images, instances,
//! disks, snapshots) and `OscClient` (images, volumes, snapshots, VMs).
//! Calls block without holding the GIL; errors are `ApiError` (with status,
//! code, request id) or `ImagebakeError`.

use std::fmt::Debug;
use std::str::FromStr;

use futures::TryStreamExt;
use imagebake_core::osc_client::{self, api as filters};
use imagebake_core::oxide_client::{self, ListOptions, NameOrId};
use imagebake_core::triton_client::{self, types as tt};
use imagebake_http::Secret;
use pyo3::prelude::*;
use serde_json::{Value, json};

use crate::convert::{json_to_py, py_to_json};
use crate::errors::Failure;
use crate::runtime::block_on;

fn client_err<E: std::error::Error + Send + Sync + 'static>(e: E) -> PyErr {
    Failure::Client(Box::new(e)).into()
}

/// Runs a client call from Python and converts its answer.
fn call<T, E, F>(py: Python<'_>, fut: F, to_json: impl FnOnce(T) -> Value) -> PyResult<Py<PyAny>>
where
    F: Future<Output = Result<T, E>> + Send,
    T: Send,
    E: std::error::Error + Send + Sync + 'static,
{
    let v = block_on(py, fut)?.map_err(client_err)?;
    json_to_py(py, &to_json(v))
}

/// A server enum's Debug name in snake case (`Attached { .. }` → "attached").
fn state_name(v: &impl Debug) -> String {
    let text = format!("{v:?}");
    let word: String = text.chars().take_while(|c| c.is_alphanumeric()).collect();
    let mut out = String::new();
    for (i, c) in word.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push('_');
        }
        out.extend(c.to_lowercase());
    }
    out
}

// ------------------------------------------------------------------ Triton

fn triton_image(i: &tt::Image) -> Value {
    json!({
        "id": i.id.to_string(), "name": i.name, "version": i.version, "os": i.os,
        "state": i.state.to_string(), "public": i.public,
        "owner": i.owner.map(|o| o.to_string()), "published_at": i.published_at,
        "description": i.description, "tags": i.tags,
    })
}

fn triton_machine(m: &tt::Machine) -> Value {
    json!({
        "id": m.id.to_string(), "name": m.name, "state": m.state.to_string(),
        "image": m.image.map(|i| i.to_string()), "package": m.package,
        "memory": m.memory, "disk": m.disk, "ips": m.ips, "primary_ip": m.primary_ip,
        "tags": m.tags, "metadata": m.metadata, "created": m.created,
    })
}

/// A Triton CloudAPI client signing with a key file.
#[pyclass(frozen, name = "TritonClient", module = "imagebake")]
pub struct PyTritonClient {
    client: triton_client::Client,
}

#[pymethods]
impl PyTritonClient {
    /// A client for `url` as `account`, signing with the private key in
    /// `key_file` (for a simulator: `sim.url`, `sim.account`,
    /// `sim.private_key_path`).
    #[new]
    #[pyo3(signature = (url, account, key_file, *, user=None))]
    fn new(url: &str, account: &str, key_file: &str, user: Option<&str>) -> PyResult<Self> {
        let mut b = triton_client::Config::builder()
            .url(url)
            .account(account)
            .key_file(key_file);
        if let Some(u) = user {
            b = b.user(u);
        }
        let config = b.build().map_err(client_err)?;
        let client = triton_client::Client::new(config).map_err(client_err)?;
        Ok(Self { client })
    }

    /// `ListImages` (active images; `name` filters by exact name).
    #[pyo3(signature = (*, name=None))]
    fn list_images(&self, py: Python<'_>, name: Option<String>) -> PyResult<Py<PyAny>> {
        let mut filter = tt::ListImages::default();
        if let Some(n) = name {
            filter = filter.name(n);
        }
        let c = self.client.clone();
        call(py, async move { c.list_images(&filter).await }, |v| {
            Value::Array(v.iter().map(triton_image).collect())
        })
    }

    /// `GetImage`.
    fn get_image(&self, py: Python<'_>, id: &str) -> PyResult<Py<PyAny>> {
        let id = tt::ImageId::from_str(id).map_err(client_err)?;
        let c = self.client.clone();
        call(py, async move { c.get_image(&id).await }, |i| {
            triton_image(&i)
        })
    }

    /// `ListMachines` (every live machine of the account).
    fn list_machines(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let c = self.client.clone();
        call(
            py,
            async move { c.list_machines(&tt::ListMachines::default()).await },
            |v| Value::Array(v.iter().map(triton_machine).collect()),
        )
    }

    /// `GetMachine` (a deleted machine has state "deleted").
    fn get_machine(&self, py: Python<'_>, id: &str) -> PyResult<Py<PyAny>> {
        let id = tt::MachineId::from_str(id).map_err(client_err)?;
        let c = self.client.clone();
        call(py, async move { c.get_machine(&id).await }, |m| {
            triton_machine(m.machine())
        })
    }
}

// ------------------------------------------------------------------ Oxide

fn oxide_image(i: &oxide_client::Image) -> Value {
    json!({
        "id": i.id.to_string(), "name": i.name, "description": i.description, "os": i.os,
        "version": i.version, "size": i.size, "block_size": i.block_size,
        "project_id": i.project_id.map(|p| p.to_string()), "time_created": i.time_created,
    })
}

fn oxide_instance(i: &oxide_client::Instance) -> Value {
    json!({
        "id": i.id.to_string(), "name": i.name, "description": i.description,
        "project_id": i.project_id.to_string(), "hostname": i.hostname, "ncpus": i.ncpus,
        "memory": i.memory, "run_state": i.run_state.as_str(),
        "boot_disk_id": i.boot_disk_id.map(|d| d.to_string()), "time_created": i.time_created,
    })
}

fn oxide_disk(d: &oxide_client::Disk) -> Value {
    json!({
        "id": d.id.to_string(), "name": d.name, "description": d.description,
        "project_id": d.project_id.to_string(), "size": d.size, "state": state_name(&d.state),
        "image_id": d.image_id.map(|i| i.to_string()),
        "snapshot_id": d.snapshot_id.map(|i| i.to_string()), "time_created": d.time_created,
    })
}

fn oxide_snapshot(s: &oxide_client::Snapshot) -> Value {
    json!({
        "id": s.id.to_string(), "name": s.name, "description": s.description,
        "project_id": s.project_id.to_string(), "disk_id": s.disk_id.to_string(),
        "size": s.size, "state": state_name(&s.state), "time_created": s.time_created,
    })
}

/// An Oxide API client with a bearer token.
#[pyclass(frozen, name = "OxideClient", module = "imagebake")]
pub struct PyOxideClient {
    client: oxide_client::Client,
}

#[pymethods]
impl PyOxideClient {
    /// A client for `host` with `token` (for a simulator: `sim.url`,
    /// `sim.token`).
    #[new]
    fn new(host: &str, token: &str) -> PyResult<Self> {
        let config = oxide_client::Config::new(host, Secret::new(token.to_owned()));
        let client = oxide_client::Client::new(config).map_err(client_err)?;
        Ok(Self { client })
    }

    /// `image_list`: the project's images (the silo's with `project=None`).
    #[pyo3(signature = (project=None))]
    fn list_images(&self, py: Python<'_>, project: Option<String>) -> PyResult<Py<PyAny>> {
        let c = self.client.clone();
        let p = project.map(NameOrId::from);
        call(
            py,
            async move {
                c.image_list(p.as_ref(), ListOptions::default())
                    .try_collect::<Vec<_>>()
                    .await
            },
            |v| Value::Array(v.iter().map(oxide_image).collect()),
        )
    }

    /// `image_view` (by id, or by name in `project`).
    #[pyo3(signature = (image, project=None))]
    fn get_image(
        &self,
        py: Python<'_>,
        image: &str,
        project: Option<String>,
    ) -> PyResult<Py<PyAny>> {
        let c = self.client.clone();
        let image = NameOrId::from(image);
        let p = project.map(NameOrId::from);
        call(
            py,
            async move { c.image_view(image, p.as_ref()).await },
            |i| oxide_image(&i),
        )
    }

    /// `instance_list`.
    fn list_instances(&self, py: Python<'_>, project: &str) -> PyResult<Py<PyAny>> {
        let c = self.client.clone();
        let p = NameOrId::from(project);
        call(
            py,
            async move {
                c.instance_list(&p, ListOptions::default())
                    .try_collect::<Vec<_>>()
                    .await
            },
            |v| Value::Array(v.iter().map(oxide_instance).collect()),
        )
    }

    /// `instance_view` (by id, or by name in `project`).
    #[pyo3(signature = (instance, project=None))]
    fn get_instance(
        &self,
        py: Python<'_>,
        instance: &str,
        project: Option<String>,
    ) -> PyResult<Py<PyAny>> {
        let c = self.client.clone();
        let i = NameOrId::from(instance);
        let p = project.map(NameOrId::from);
        call(
            py,
            async move { c.instance_view(i, p.as_ref()).await },
            |i| oxide_instance(&i),
        )
    }

    /// `disk_list`.
    fn list_disks(&self, py: Python<'_>, project: &str) -> PyResult<Py<PyAny>> {
        let c = self.client.clone();
        let p = NameOrId::from(project);
        call(
            py,
            async move {
                c.disk_list(&p, ListOptions::default())
                    .try_collect::<Vec<_>>()
                    .await
            },
            |v| Value::Array(v.iter().map(oxide_disk).collect()),
        )
    }

    /// `snapshot_list`.
    fn list_snapshots(&self, py: Python<'_>, project: &str) -> PyResult<Py<PyAny>> {
        let c = self.client.clone();
        let p = NameOrId::from(project);
        call(
            py,
            async move {
                c.snapshot_list(&p, ListOptions::default())
                    .try_collect::<Vec<_>>()
                    .await
            },
            |v| Value::Array(v.iter().map(oxide_snapshot).collect()),
        )
    }
}

// ------------------------------------------------------------------ Outscale

fn tags(t: &[osc_client::types::Tag]) -> Value {
    Value::Object(
        t.iter()
            .map(|t| (t.key.clone(), Value::String(t.value.clone())))
            .collect(),
    )
}

fn osc_image(i: &osc_client::types::Image) -> Value {
    json!({
        "image_id": i.image_id, "image_name": i.image_name,
        "state": i.state.as_ref().map(ToString::to_string), "account_id": i.account_id,
        "description": i.description, "creation_date": i.creation_date,
        "boot_modes": i.boot_modes.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "tags": tags(&i.tags),
    })
}

fn osc_volume(v: &osc_client::types::Volume) -> Value {
    json!({
        "volume_id": v.volume_id, "state": v.state.as_ref().map(ToString::to_string),
        "size": v.size, "volume_type": v.volume_type.as_ref().map(ToString::to_string),
        "snapshot_id": v.snapshot_id, "subregion_name": v.subregion_name,
        "creation_date": v.creation_date, "tags": tags(&v.tags),
    })
}

fn osc_snapshot(s: &osc_client::types::Snapshot) -> Value {
    json!({
        "snapshot_id": s.snapshot_id, "state": s.state.as_ref().map(ToString::to_string),
        "volume_id": s.volume_id, "volume_size": s.volume_size, "description": s.description,
        "creation_date": s.creation_date, "tags": tags(&s.tags),
    })
}

fn osc_vm(v: &osc_client::types::Vm) -> Value {
    json!({
        "vm_id": v.vm_id, "state": v.state, "image_id": v.image_id, "vm_type": v.vm_type,
        "creation_date": v.creation_date, "tags": tags(&v.tags),
    })
}

/// Decodes an OAPI `Filters` object from a dict (OAPI's own keys, e.g.
/// `{"ImageIds": ["ami-1"]}`).
fn filters_of<T: serde::de::DeserializeOwned + Default>(
    f: Option<&Bound<'_, PyAny>>,
) -> PyResult<T> {
    match f {
        None => Ok(T::default()),
        Some(f) => {
            let v = py_to_json(f, "filters")?;
            serde_path_to_error::deserialize(v).map_err(|e| {
                Failure::from(imagebake_core::Error::Config(format!(
                    "key `filters.{}`: {}",
                    e.path(),
                    e.inner()
                )))
                .into()
            })
        }
    }
}

/// An Outscale OAPI client with an access key.
#[pyclass(frozen, name = "OscClient", module = "imagebake")]
pub struct PyOscClient {
    client: osc_client::Client,
}

#[pymethods]
impl PyOscClient {
    /// A client for `region` with an access key (for a simulator:
    /// `sim.access_key`, `sim.secret_key`, `sim.region`, `endpoint=sim.endpoint`).
    #[new]
    #[pyo3(signature = (access_key, secret_key, region, *, endpoint=None))]
    fn new(
        access_key: &str,
        secret_key: &str,
        region: &str,
        endpoint: Option<&str>,
    ) -> PyResult<Self> {
        let mut b = osc_client::Config::builder()
            .access_key(access_key)
            .secret_key(Secret::new(secret_key.to_owned()))
            .region(region);
        if let Some(e) = endpoint {
            b = b.endpoint(e);
        }
        let config = b.build().map_err(client_err)?;
        let client = osc_client::Client::new(config).map_err(client_err)?;
        Ok(Self { client })
    }

    /// `ReadImages` with OAPI `Filters` (a dict, e.g. `{"ImageIds": [...]}`).
    #[pyo3(signature = (filters=None))]
    fn read_images(
        &self,
        py: Python<'_>,
        filters: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let f: filters::FiltersImage = filters_of(filters)?;
        let c = self.client.clone();
        call(py, async move { c.images().read(f).await }, |v| {
            Value::Array(v.iter().map(osc_image).collect())
        })
    }

    /// `ReadVolumes` with OAPI `Filters`.
    #[pyo3(signature = (filters=None))]
    fn read_volumes(
        &self,
        py: Python<'_>,
        filters: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let f: filters::FiltersVolume = filters_of(filters)?;
        let c = self.client.clone();
        call(py, async move { c.volumes().read(f).await }, |v| {
            Value::Array(v.iter().map(osc_volume).collect())
        })
    }

    /// `ReadSnapshots` with OAPI `Filters`.
    #[pyo3(signature = (filters=None))]
    fn read_snapshots(
        &self,
        py: Python<'_>,
        filters: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let f: filters::FiltersSnapshot = filters_of(filters)?;
        let c = self.client.clone();
        call(py, async move { c.snapshots().read(f).await }, |v| {
            Value::Array(v.iter().map(osc_snapshot).collect())
        })
    }

    /// `ReadVms` with OAPI `Filters`.
    #[pyo3(signature = (filters=None))]
    fn read_vms(&self, py: Python<'_>, filters: Option<&Bound<'_, PyAny>>) -> PyResult<Py<PyAny>> {
        let f: filters::FiltersVm = filters_of(filters)?;
        let c = self.client.clone();
        call(py, async move { c.vms().read(f).await }, |v| {
            Value::Array(v.iter().map(osc_vm).collect())
        })
    }
}
