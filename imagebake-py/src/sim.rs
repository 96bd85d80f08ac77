//! The simulators from Python: `TritonSim`, `OxideSim` and `OscSim`, each a
//! context manager serving on 127.0.0.1 on the process's runtime until
//! `close()` (or the end of the `with` block). Inventories are plain dicts.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use imagebake_sim::machine::{SshInfo, SshMode};
use imagebake_sim::osc::{OscDelays, OscSim, OscSimOptions};
use imagebake_sim::oxide::{OxideDelays, OxideSim, OxideSimOptions};
use imagebake_sim::triton::{TritonDelays, TritonSim, TritonSimOptions};
use imagebake_sim::{Fault, Faults};
use pyo3::prelude::*;
use serde_json::{Value, json};

use crate::convert::json_to_py;
use crate::errors::{ConfigError, Failure};
use crate::runtime::{block_on, runtime};

/// A simulator slot: `None` once closed.
struct Slot<T>(Mutex<Option<T>>);

impl<T> Slot<T> {
    fn new(sim: T) -> Self {
        Self(Mutex::new(Some(sim)))
    }

    fn with<R>(&self, f: impl FnOnce(&T) -> R) -> PyResult<R> {
        let guard = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        match guard.as_ref() {
            Some(sim) => Ok(f(sim)),
            None => Err(Failure::Usage("the simulator is closed".into()).into()),
        }
    }

    fn take(&self) -> Option<T> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

fn ssh_mode(ssh: bool) -> SshMode {
    if ssh { SshMode::On } else { SshMode::Off }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A fault from its Python description: `kind` is "status" (with
/// `status`), "throttle", "drop_before", "drop_after", "slow" (with
/// `delay_ms`) or "fail_resource".
/// A `ConfigError` whose `field` is `field`.
fn config_error(field: &str, message: String) -> PyErr {
    let err = ConfigError::new_err(message);
    Python::attach(|py| match err.value(py).setattr("field", field) {
        Ok(()) => err,
        Err(e) => e,
    })
}

fn fault(kind: &str, status: Option<u16>, delay_ms: Option<u64>) -> PyResult<Fault> {
    let bad = |m: String| config_error("kind", m);
    Ok(match kind {
        "status" => Fault::Status(
            status.ok_or_else(|| bad("key `kind`: fault \"status\" needs status=".into()))?,
        ),
        "throttle" => Fault::Throttle,
        "drop_before" => Fault::DropBefore,
        "drop_after" => Fault::DropAfter,
        "slow" => Fault::Slow(ms(delay_ms.unwrap_or(100))),
        "fail_resource" => Fault::FailResource,
        other => {
            return Err(bad(format!(
                "key `kind`: {other:?} is not a fault (status, throttle, drop_before, \
                 drop_after, slow, fail_resource)"
            )));
        }
    })
}

/// Queues the fault; an operation the simulator does not serve (a typo) is a
/// `ConfigError` with `field` "operation" listing the close names.
fn inject(faults: &Faults, op: &str, f: Fault, times: usize) -> PyResult<()> {
    faults
        .try_inject(op, f, times)
        .map_err(|e| config_error("operation", format!("key `operation`: {e}")))
}

fn ssh_json(s: Option<&SshInfo>) -> Value {
    match s {
        None => Value::Null,
        Some(s) => json!({
            "ip": s.ip.to_string(),
            "port": s.port,
            "host_key": s.host_key,
            "host_key_fingerprint": s.host_key_fingerprint,
            "sshd_running": s.sshd_running,
        }),
    }
}

fn dict(py: Python<'_>, v: &Value) -> PyResult<Py<PyAny>> {
    json_to_py(py, v)
}

/// A local Triton CloudAPI (see `imagebake.sim.Triton`).
#[pyclass(frozen, name = "TritonSim", module = "imagebake.sim")]
pub struct PyTritonSim {
    sim: Slot<TritonSim>,
}

#[pymethods]
impl PyTritonSim {
    /// Starts the simulator. `ssh=True` makes machines reachable over real
    /// SSH (needs root); `delay_ms` is the time of each state transition.
    #[new]
    #[pyo3(signature = (*, ssh=false, delay_ms=20, port=0))]
    fn new(py: Python<'_>, ssh: bool, delay_ms: u64, port: u16) -> PyResult<Self> {
        let opts = TritonSimOptions {
            port,
            delays: TritonDelays::all(ms(delay_ms)),
            ssh: ssh_mode(ssh),
            ..TritonSimOptions::default()
        };
        let sim = block_on(py, TritonSim::start(opts))?.map_err(Failure::from)?;
        Ok(Self {
            sim: Slot::new(sim),
        })
    }

    /// CloudAPI's URL (`http://127.0.0.1:PORT`).
    #[getter]
    fn url(&self) -> PyResult<String> {
        self.sim.with(TritonSim::url)
    }

    /// The account login.
    #[getter]
    fn account(&self) -> PyResult<String> {
        self.sim.with(|s| s.account().to_owned())
    }

    /// The MD5 fingerprint of the account key.
    #[getter]
    fn key_id(&self) -> PyResult<String> {
        self.sim.with(|s| s.key_id().to_owned())
    }

    /// The account's private key file (ed25519, OpenSSH format).
    #[getter]
    fn private_key_path(&self) -> PyResult<String> {
        self.sim
            .with(|s| s.private_key_path().display().to_string())
    }

    /// The `.pub` file beside it.
    #[getter]
    fn public_key_path(&self) -> PyResult<String> {
        self.sim.with(|s| s.public_key_path().display().to_string())
    }

    /// The port machines' sshd listen on (None without `ssh=True`).
    #[getter]
    fn ssh_port(&self) -> PyResult<Option<u16>> {
        self.sim.with(TritonSim::ssh_port)
    }

    /// Requests served so far.
    #[getter]
    fn request_count(&self) -> PyResult<u64> {
        self.sim.with(TritonSim::request_count)
    }

    /// The `triton` builder keys that point a build at this simulator.
    fn builder_config(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let v = self.sim.with(|s| {
            json!({
                "triton_url": s.url(),
                "triton_account": s.account(),
                "triton_key_id": s.key_id(),
                "triton_key_material": s.private_key_path().display().to_string(),
            })
        })?;
        dict(py, &v)
    }

    /// Makes the next `times` requests of CloudAPI operation `operation`
    /// (`CreateMachine`, `GetImage`, ...) misbehave (see `kind`).
    #[pyo3(signature = (operation, kind, *, status=None, delay_ms=None, times=1))]
    fn inject_fault(
        &self,
        operation: &str,
        kind: &str,
        status: Option<u16>,
        delay_ms: Option<u64>,
        times: usize,
    ) -> PyResult<()> {
        let f = fault(kind, status, delay_ms)?;
        self.sim.with(|s| inject(s.faults(), operation, f, times))?
    }

    /// Drops every queued fault.
    fn clear_faults(&self) -> PyResult<()> {
        self.sim.with(|s| s.faults().clear())
    }

    /// Live machines and every image: `{"machines": [...], "images":
    /// [...], "custom_images": [...]}` (custom: not the seed images).
    fn inventory(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let v = self.sim.with(|s| {
            let inv = s.inventory();
            let image = |i: &imagebake_sim::triton::SimImage| {
                json!({"id": i.id, "name": i.name, "version": i.version, "state": i.state,
                       "owner": i.owner, "public": i.public})
            };
            json!({
                "machines": inv.machines.iter().map(|m| json!({
                    "id": m.id, "name": m.name, "state": m.state, "tags": m.tags,
                    "metadata": m.metadata, "ip": m.ip, "ssh": ssh_json(m.ssh.as_ref()),
                })).collect::<Vec<_>>(),
                "images": inv.images.iter().map(image).collect::<Vec<_>>(),
                "custom_images": inv.custom_images().into_iter().map(image).collect::<Vec<_>>(),
            })
        })?;
        dict(py, &v)
    }

    /// The URL of its Manta (same account and keys).
    #[getter]
    fn manta_url(&self) -> PyResult<String> {
        self.sim.with(|s| s.manta().url())
    }

    /// Every Manta directory and object path, sorted.
    fn manta_paths(&self) -> PyResult<Vec<String>> {
        self.sim
            .with(|s| s.manta().inventory().into_iter().map(|e| e.path).collect())
    }

    /// A Manta object's bytes (None when there is no object at `path`).
    fn manta_read(&self, path: &str) -> PyResult<Option<Vec<u8>>> {
        self.sim.with(|s| s.manta().read(path))
    }

    /// A file of an image made over SSH, as its machines would see it
    /// (None when absent).
    fn image_file(&self, image_id: &str, path: &str) -> PyResult<Option<Vec<u8>>> {
        self.sim.with(|s| s.image_file(image_id, path))
    }

    /// Stops serving and removes every machine and key file.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        if let Some(sim) = self.sim.take() {
            py.detach(|| runtime().block_on(sim.shutdown()));
        }
        Ok(())
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, py: Python<'_>, _exc: &Bound<'_, pyo3::types::PyTuple>) -> PyResult<bool> {
        self.close(py)?;
        Ok(false)
    }
}

/// A local Oxide API (see `imagebake.sim.Oxide`).
#[pyclass(frozen, name = "OxideSim", module = "imagebake.sim")]
pub struct PyOxideSim {
    sim: Slot<OxideSim>,
}

#[pymethods]
impl PyOxideSim {
    /// Starts the simulator. `ssh=True` makes instances reachable over real
    /// SSH (needs root); `delay_ms` is the time of a start or a stop;
    /// `api_version` the newest `api-version` the rack accepts (default the
    /// simulator's newest, what current SDKs send).
    #[new]
    #[pyo3(signature = (*, ssh=false, delay_ms=20, port=0, api_version=None))]
    fn new(
        py: Python<'_>,
        ssh: bool,
        delay_ms: u64,
        port: u16,
        api_version: Option<String>,
    ) -> PyResult<Self> {
        let mut opts = OxideSimOptions {
            port,
            delays: OxideDelays {
                instance_start: ms(delay_ms),
                instance_stop: ms(delay_ms),
            },
            ssh: ssh_mode(ssh),
            ..OxideSimOptions::default()
        };
        if let Some(v) = api_version {
            opts.api_version = v;
        }
        let sim = block_on(py, OxideSim::start(opts))?.map_err(|e| {
            if e.kind() == std::io::ErrorKind::InvalidInput {
                config_error("api_version", format!("key `api_version`: {e}"))
            } else {
                Failure::from(e).into()
            }
        })?;
        Ok(Self {
            sim: Slot::new(sim),
        })
    }

    /// The API's URL.
    #[getter]
    fn url(&self) -> PyResult<String> {
        self.sim.with(OxideSim::url)
    }

    /// The bearer token it accepts.
    #[getter]
    fn token(&self) -> PyResult<String> {
        self.sim.with(|s| s.token().to_owned())
    }

    /// The seeded project's name.
    #[getter]
    fn project(&self) -> &'static str {
        imagebake_sim::oxide::SEED_PROJECT
    }

    /// The newest `api-version` the simulated rack accepts.
    #[getter]
    fn api_version(&self) -> PyResult<String> {
        self.sim.with(OxideSim::api_version)
    }

    /// The port instances' sshd listen on (None without `ssh=True`).
    #[getter]
    fn ssh_port(&self) -> PyResult<Option<u16>> {
        self.sim.with(OxideSim::ssh_port)
    }

    /// Requests served so far.
    #[getter]
    fn request_count(&self) -> PyResult<u64> {
        self.sim.with(OxideSim::request_count)
    }

    /// The `oxide-instance` builder keys that point a build at this simulator.
    fn builder_config(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let v = self.sim.with(|s| {
            json!({"host": s.url(), "token": s.token(), "project": imagebake_sim::oxide::SEED_PROJECT})
        })?;
        dict(py, &v)
    }

    /// Makes the next `times` requests of operation `operation`
    /// (`instance_create`, `image_create`, ...) misbehave (see `kind`).
    #[pyo3(signature = (operation, kind, *, status=None, delay_ms=None, times=1))]
    fn inject_fault(
        &self,
        operation: &str,
        kind: &str,
        status: Option<u16>,
        delay_ms: Option<u64>,
        times: usize,
    ) -> PyResult<()> {
        let f = fault(kind, status, delay_ms)?;
        self.sim.with(|s| inject(s.faults(), operation, f, times))?
    }

    /// Drops every queued fault.
    fn clear_faults(&self) -> PyResult<()> {
        self.sim.with(|s| s.faults().clear())
    }

    /// `{"instances", "disks", "snapshots", "images", "ssh_keys"}`, each a
    /// list of dicts (images include the seeded ones).
    fn inventory(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let v = self.sim.with(|s| {
            let inv = s.inventory();
            let res = |l: &[imagebake_sim::oxide::ResourceInfo]| {
                l.iter()
                    .map(|r| json!({"id": r.id.to_string(), "name": r.name, "state": r.state}))
                    .collect::<Vec<_>>()
            };
            json!({
                "instances": inv.instances.iter().map(|i| json!({
                    "id": i.id.to_string(), "name": i.name, "run_state": i.run_state,
                    "boot_disk_id": i.boot_disk_id.map(|d| d.to_string()),
                    "ssh_key_ids": i.ssh_key_ids.iter().map(ToString::to_string).collect::<Vec<_>>(),
                    "ssh": ssh_json(i.ssh.as_ref()),
                })).collect::<Vec<_>>(),
                "disks": res(&inv.disks),
                "snapshots": res(&inv.snapshots),
                "images": res(&inv.images),
                "ssh_keys": res(&inv.ssh_keys),
            })
        })?;
        dict(py, &v)
    }

    /// `length` bytes of image `image` (its id) from `offset`: what the
    /// image holds (None: an image without stored bytes, such as the seeded
    /// ones).
    fn image_bytes<'py>(
        &self,
        py: Python<'py>,
        image: &str,
        offset: u64,
        length: u64,
    ) -> PyResult<Option<Bound<'py, pyo3::types::PyBytes>>> {
        let id = uuid::Uuid::parse_str(image)
            .map_err(|e| Failure::Usage(format!("image id {image:?}: {e}")))?;
        let bytes = self
            .sim
            .with(|s| s.image_bytes(id, offset, length))?
            .map_err(Failure::from)?;
        Ok(bytes.map(|b| pyo3::types::PyBytes::new(py, &b)))
    }

    /// Stops serving and removes every instance.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        if let Some(sim) = self.sim.take() {
            py.detach(|| runtime().block_on(sim.shutdown()));
        }
        Ok(())
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, py: Python<'_>, _exc: &Bound<'_, pyo3::types::PyTuple>) -> PyResult<bool> {
        self.close(py)?;
        Ok(false)
    }
}

/// A local Outscale API with real loop-device volumes (see `imagebake.sim.Osc`).
#[pyclass(frozen, name = "OscSim", module = "imagebake.sim")]
pub struct PyOscSim {
    sim: Slot<OscSim>,
}

#[pymethods]
impl PyOscSim {
    /// Starts the simulator; `delay_ms` is the time of each state transition.
    #[new]
    #[pyo3(signature = (*, delay_ms=5, port=0))]
    fn new(py: Python<'_>, delay_ms: u64, port: u16) -> PyResult<Self> {
        let opts = OscSimOptions {
            port,
            delays: OscDelays::uniform(ms(delay_ms)),
            ..OscSimOptions::default()
        };
        let sim = block_on(py, OscSim::start(opts))?.map_err(Failure::from)?;
        Ok(Self {
            sim: Slot::new(sim),
        })
    }

    /// The OAPI endpoint URL.
    #[getter]
    fn endpoint(&self) -> PyResult<String> {
        self.sim.with(OscSim::endpoint)
    }

    /// The region.
    #[getter]
    fn region(&self) -> PyResult<String> {
        self.sim.with(|s| s.region().to_owned())
    }

    /// The access key it accepts.
    #[getter]
    fn access_key(&self) -> PyResult<String> {
        self.sim.with(|s| s.access_key().to_owned())
    }

    /// The secret key it accepts.
    #[getter]
    fn secret_key(&self) -> PyResult<String> {
        self.sim.with(|s| s.secret_key().to_owned())
    }

    /// The metadata service URL (what the build VM asks for its id).
    #[getter]
    fn metadata_url(&self) -> PyResult<String> {
        self.sim.with(OscSim::metadata_url)
    }

    /// The directory holding the device links of linked volumes.
    #[getter]
    fn dev_dir(&self) -> PyResult<String> {
        self.sim.with(|s| s.dev_dir().display().to_string())
    }

    /// The id of the seeded source OMI.
    #[getter]
    fn source_image_id(&self) -> PyResult<String> {
        self.sim.with(|s| s.source_image_id().to_owned())
    }

    /// Requests served so far.
    #[getter]
    fn request_count(&self) -> PyResult<u64> {
        self.sim.with(OscSim::request_count)
    }

    /// The `osc-chroot` builder keys that point a build at this simulator.
    fn builder_config(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let v = self.sim.with(|s| {
            json!({
                "access_key": s.access_key(), "secret_key": s.secret_key(),
                "region": s.region(), "custom_endpoint_oapi": s.endpoint(),
                "metadata_url": s.metadata_url(),
                "device_dir": s.dev_dir().display().to_string(),
            })
        })?;
        dict(py, &v)
    }

    /// Makes the next `times` requests of OAPI call `operation`
    /// (`CreateVolume`, `LinkVolume`, ...) misbehave (see `kind`).
    #[pyo3(signature = (operation, kind, *, status=None, delay_ms=None, times=1))]
    fn inject_fault(
        &self,
        operation: &str,
        kind: &str,
        status: Option<u16>,
        delay_ms: Option<u64>,
        times: usize,
    ) -> PyResult<()> {
        let f = fault(kind, status, delay_ms)?;
        self.sim.with(|s| inject(s.faults(), operation, f, times))?
    }

    /// Drops every queued fault.
    fn clear_faults(&self) -> PyResult<()> {
        self.sim.with(|s| s.faults().clear())
    }

    /// `{"volumes", "snapshots", "images", "loop_devices"}` (ids, the
    /// seeded ones left out) and `"links"` (dicts).
    fn inventory(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let guard = self.sim.0.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(sim) = guard.as_ref() else {
            return Err(Failure::Usage("the simulator is closed".into()).into());
        };
        let inv = py.detach(|| runtime().block_on(sim.inventory()));
        drop(guard);
        let v = json!({
            "volumes": inv.volumes, "snapshots": inv.snapshots, "images": inv.images,
            "loop_devices": inv.loop_devices,
            "links": inv.links.iter().map(|l| json!({
                "volume_id": l.volume_id, "vm_id": l.vm_id, "device_name": l.device_name,
                "state": l.state, "loop_device": l.loop_device,
            })).collect::<Vec<_>>(),
        });
        dict(py, &v)
    }

    /// Stops serving and detaches every loop device.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        if let Some(sim) = self.sim.take() {
            py.detach(|| runtime().block_on(sim.shutdown()));
        }
        Ok(())
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, py: Python<'_>, _exc: &Bound<'_, pyo3::types::PyTuple>) -> PyResult<bool> {
        self.close(py)?;
        Ok(false)
    }
}
