//! A simulated Oxide rack (the external API, newest version
//! [`API_VERSION`] by default, settable with [`OxideSimOptions::api_version`]).
//!
//! It serves the real paths with bearer-token auth (401 otherwise; an unknown
//! path is 404 and a wrong method 405 with dropshot's error body, whoever
//! asks), rejects an `api-version` newer than its own with dropshot's 400,
//! and follows Nexus's
//! rules: instance create starts the instance inside the request (a start
//! fault leaves it `stopped` and still answers 201); stop is a hard,
//! idempotent power-off; delete only from `stopped`/`failed`, detaching the
//! disks; disk delete only when `detached`/`faulted`; snapshot create answers
//! `ready`; an image is a copy of its snapshot; names are unique per project
//! (`ObjectAlreadyExists`); lists page with opaque tokens and `next_page`;
//! errors are `{request_id, message, error_code}`. Every instance's ephemeral
//! IP is `127.0.0.1`. A disk created for a bulk import goes through the
//! import states (`import_ready`, `importing_from_bulk_writes`, finalize to
//! `detached` with a snapshot) and keeps the written bytes in a sparse
//! file, so an image made from its snapshot can be read back
//! ([`OxideSim::image_bytes`]).
//!
//! Fault operation names are the API's operation ids (`instance_create`,
//! `instance_stop`, `snapshot_create`, `image_create`, `disk_delete`, ...).

mod http;
mod images;
mod import;
mod instances;
mod misc;
mod model;
mod storage;
mod vm;
mod volume;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use uuid::Uuid;

use crate::faults::Faults;
use crate::machine::{GuestFlavor, Machines, ShutdownOnDrop, SshInfo, SshMode};
use crate::server::SimServer;

pub use import::{BULK_WRITE_MAX_BODY, MAX_CHUNK_SIZE};
pub use model::SEED_PROJECT;

/// The newest API version the simulator supports by default: what the
/// current official SDKs send (the `oxide` crate 0.19).
pub const API_VERSION: &str = "2026091500.0.0";

/// Every operation id the simulator serves; faults can be queued for these
/// only.
pub const OPERATIONS: &[&str] = &[
    "current_user_view",
    "current_user_ssh_key_create",
    "current_user_ssh_key_delete",
    "current_user_ssh_key_list",
    "current_user_ssh_key_view",
    "disk_bulk_write_import",
    "disk_bulk_write_import_start",
    "disk_bulk_write_import_stop",
    "disk_create",
    "disk_delete",
    "disk_finalize_import",
    "disk_list",
    "disk_view",
    "image_create",
    "image_delete",
    "image_demote",
    "image_list",
    "image_promote",
    "image_view",
    "instance_create",
    "instance_delete",
    "instance_external_ip_list",
    "instance_list",
    "instance_serial_console",
    "instance_start",
    "instance_stop",
    "instance_view",
    "ip_pool_list",
    "ip_pool_view",
    "project_list",
    "project_view",
    "snapshot_create",
    "snapshot_delete",
    "snapshot_list",
    "snapshot_view",
];

/// How long simulated state transitions take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OxideDelays {
    /// `starting` to `running` (after create or start).
    pub instance_start: Duration,
    /// `stopping` to `stopped`.
    pub instance_stop: Duration,
}

/// How to start an [`OxideSim`].
#[derive(Debug, Clone)]
pub struct OxideSimOptions {
    /// Port on 127.0.0.1 (0 picks a free one).
    pub port: u16,
    /// The bearer token to accept; `None` makes a random one.
    pub token: Option<String>,
    /// State-transition delays.
    pub delays: OxideDelays,
    /// The newest `api-version` the simulated rack supports; newer ones get
    /// dropshot's 400 "server does not support this API version".
    pub api_version: String,
    /// Whether instances are reachable over real SSH (default off; see
    /// [`crate::machine`]). On, a running instance runs sshd on its own
    /// `127.0.0.N` (its ephemeral IP) and [`OxideSim::ssh_port`], accepting
    /// its `ssh_public_keys` as `root`; its boot disk is what it writes to.
    pub ssh: SshMode,
}

impl Default for OxideSimOptions {
    fn default() -> Self {
        Self {
            port: 0,
            token: None,
            delays: OxideDelays::default(),
            api_version: API_VERSION.to_owned(),
            ssh: SshMode::Off,
        }
    }
}

/// One request as the simulator received it (before auth).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// HTTP method.
    pub method: String,
    /// Path, without the query.
    pub path: String,
    /// Query parameters, in order.
    pub query: Vec<(String, String)>,
    /// The `api-version` header, if sent.
    pub api_version: Option<String>,
    /// Whether the bearer token was right.
    pub authorized: bool,
}

impl RecordedRequest {
    /// The value of query parameter `key`, if present.
    pub fn query_param(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// A live instance, as the inventory shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceInfo {
    /// ID.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// Run state.
    pub run_state: String,
    /// Boot disk.
    pub boot_disk_id: Option<Uuid>,
    /// IDs of the SSH keys injected at create.
    pub ssh_key_ids: Vec<Uuid>,
    /// Decoded user data.
    pub user_data: Vec<u8>,
    /// How to reach its guest over SSH (SSH on, and booted at least once).
    pub ssh: Option<SshInfo>,
}

/// A disk, snapshot, image or SSH key, as the inventory shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceInfo {
    /// ID.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// State (`detached`, `attached`, `ready`, ...); empty for images and keys.
    pub state: String,
}

/// Everything that exists in the simulated silo.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OxideInventory {
    /// Instances.
    pub instances: Vec<InstanceInfo>,
    /// Disks.
    pub disks: Vec<ResourceInfo>,
    /// Snapshots.
    pub snapshots: Vec<ResourceInfo>,
    /// Images (the seeded ones included).
    pub images: Vec<ResourceInfo>,
    /// SSH keys of the current user.
    pub ssh_keys: Vec<ResourceInfo>,
}

/// State shared by the handlers.
#[derive(Debug)]
pub(crate) struct Shared {
    world: Mutex<model::World>,
    faults: Faults,
    token: String,
    api_version: (u64, u64, u64),
    delays: Mutex<OxideDelays>,
    log: Mutex<Vec<RecordedRequest>>,
    request_count: AtomicU64,
}

impl Shared {
    fn world(&self) -> MutexGuard<'_, model::World> {
        self.world.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn delays(&self) -> OxideDelays {
        *self.delays.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn log_request(&self, r: RecordedRequest) {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).push(r);
    }
}

/// A running Oxide simulator.
#[derive(Debug)]
pub struct OxideSim {
    server: SimServer,
    shared: Arc<Shared>,
    vms: Option<ShutdownOnDrop>,
}

impl OxideSim {
    /// Seeds a silo (project `imagebake` with VPC and subnet `default`, IP
    /// pool `default` (IPv4, the silo default), silo images `debian-12` and
    /// `ubuntu-24-04`, project image `alpine-3-20`) and serves it.
    ///
    /// With [`SshMode::On`] it first builds the guests' base root filesystem
    /// (a blocking second or so); it fails with a
    /// [`crate::machine::MachineError`] (as the I/O error's source) naming
    /// what is missing when guests cannot run here.
    pub async fn start(opts: OxideSimOptions) -> std::io::Result<Self> {
        let api_version = http::parse_version(&opts.api_version).ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!(
                    "api_version {:?} must be X.Y.Z (e.g. {API_VERSION})",
                    opts.api_version
                ),
            )
        })?;
        let vms = Machines::start_for(opts.ssh).await?;
        let mut world = model::World::seeded();
        world.vms.clone_from(&vms);
        if let Some(vms) = &vms {
            // The seeded images are Linux: bash and an `apt-get` stand-in.
            for image in &world.images {
                vms.flavor(image.id, GuestFlavor::Linux);
            }
        }
        let shared = Arc::new(Shared {
            world: Mutex::new(world),
            faults: Faults::new("oxide", OPERATIONS),
            token: opts
                .token
                .unwrap_or_else(|| format!("oxide-sim-{}", Uuid::new_v4().simple())),
            api_version,
            delays: Mutex::new(opts.delays),
            log: Mutex::new(Vec::new()),
            request_count: AtomicU64::new(0),
        });
        let server = SimServer::serve(router(Arc::clone(&shared)), opts.port).await?;
        Ok(Self {
            server,
            shared,
            vms: vms.map(ShutdownOnDrop),
        })
    }

    /// The port every guest's sshd listens on (on the instance's own
    /// ephemeral IP), when instances have SSH.
    pub fn ssh_port(&self) -> Option<u16> {
        self.vms.as_ref().map(|v| v.0.ssh_port())
    }

    /// File `path` (absolute, as the image's instances see it) of image
    /// `image` as the image presents it: the layers captured by the
    /// snapshots in its ancestry read top down, deletions respected. `None`
    /// when the file is absent, the image unknown, or guests have no SSH.
    pub fn image_file(&self, image: Uuid, path: &str) -> Option<Vec<u8>> {
        self.shared.world().images.iter().find(|i| i.id == image)?;
        let vms = &self.vms.as_ref()?.0;
        match vms.read_file(image, std::path::Path::new(path)) {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(%image, path, error = %e, "reading an image file");
                None
            }
        }
    }

    /// `len` bytes of image `image` from `offset` (cut at the image's
    /// end; unwritten blocks read as zeros), for an image made from an
    /// imported disk's snapshot. `None` when the image is unknown or keeps
    /// no bytes (the seeded images, images of instances' disks).
    ///
    /// # Errors
    /// Reading the simulator's volume file failed.
    pub fn image_bytes(
        &self,
        image: Uuid,
        offset: u64,
        len: u64,
    ) -> std::io::Result<Option<Vec<u8>>> {
        let Some(volume) = self.image_volume(image) else {
            return Ok(None);
        };
        volume.read_at(offset, len).map(Some)
    }

    /// One past the last byte written into image `image`'s volume while it
    /// was an imported disk (0: nothing written); `None` as for
    /// [`OxideSim::image_bytes`]. Every byte from there to the image's end
    /// reads as zero.
    pub fn image_data_end(&self, image: Uuid) -> Option<u64> {
        self.image_volume(image).map(|v| v.data_end())
    }

    fn image_volume(&self, image: Uuid) -> Option<Arc<volume::Volume>> {
        let w = self.shared.world();
        w.images.iter().find(|i| i.id == image)?.volume.clone()
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// The bearer token the simulator accepts.
    pub fn token(&self) -> &str {
        &self.shared.token
    }

    /// The newest `api-version` the simulator accepts.
    pub fn api_version(&self) -> String {
        let (a, b, c) = self.shared.api_version;
        format!("{a}.{b}.{c}")
    }

    /// Fault queues, by operation id.
    pub fn faults(&self) -> &Faults {
        &self.shared.faults
    }

    /// Changes the state-transition delays for later requests.
    pub fn set_delays(&self, delays: OxideDelays) {
        *self.shared.delays.lock().unwrap_or_else(|e| e.into_inner()) = delays;
    }

    /// Requests received so far (all of them, rejected ones included).
    pub fn request_count(&self) -> u64 {
        self.shared.request_count.load(Ordering::SeqCst)
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared
            .log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// ID of the seeded project.
    pub fn project_id(&self) -> Uuid {
        self.shared.world().projects[0].id
    }

    /// What exists now (pending state transitions that are due applied).
    pub fn inventory(&self) -> OxideInventory {
        let mut w = self.shared.world();
        w.settle(tokio::time::Instant::now());
        let info = |id: Uuid, name: &str, state: &str| ResourceInfo {
            id,
            name: name.to_owned(),
            state: state.to_owned(),
        };
        OxideInventory {
            instances: w
                .instances
                .iter()
                .map(|i| InstanceInfo {
                    id: i.id,
                    name: i.name.clone(),
                    run_state: i.state.to_owned(),
                    boot_disk_id: i.boot_disk_id,
                    ssh_key_ids: i.ssh_key_ids.clone(),
                    user_data: i.user_data.clone(),
                    ssh: w.vms.as_ref().and_then(|v| v.info(i.id)),
                })
                .collect(),
            disks: w
                .disks
                .iter()
                .map(|d| info(d.id, &d.name, d.state.name()))
                .collect(),
            snapshots: w
                .snapshots
                .iter()
                .map(|s| info(s.id, &s.name, s.state))
                .collect(),
            images: w.images.iter().map(|i| info(i.id, &i.name, "")).collect(),
            ssh_keys: w.ssh_keys.iter().map(|k| info(k.id, &k.name, "")).collect(),
        }
    }

    /// Ends every pending instance transition (`starting`, `stopping`)
    /// now: a test that held a state with a long delay releases it.
    pub fn finish_transitions(&self) {
        let now = tokio::time::Instant::now();
        let mut w = self.shared.world();
        for i in &mut w.instances {
            if let Some((to, _)) = i.pending {
                i.pending = Some((to, now));
            }
        }
        w.settle(now);
    }

    /// Stops serving, stops every guest (sshd and everything inside),
    /// unmounts their roots and removes their data.
    pub async fn shutdown(self) {
        self.server.shutdown().await;
        if let Some(vms) = self.vms {
            let _ = tokio::task::spawn_blocking(move || drop(vms)).await;
        }
    }
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v1/images", get(images::list).post(images::create))
        .route(
            "/v1/images/{image}",
            get(images::view).delete(images::delete),
        )
        .route("/v1/images/{image}/promote", post(images::promote))
        .route("/v1/images/{image}/demote", post(images::demote))
        .route(
            "/v1/instances",
            get(instances::list).post(instances::create),
        )
        .route(
            "/v1/instances/{instance}",
            get(instances::view).delete(instances::delete),
        )
        .route("/v1/instances/{instance}/start", post(instances::start))
        .route("/v1/instances/{instance}/stop", post(instances::stop))
        .route(
            "/v1/instances/{instance}/external-ips",
            get(instances::external_ips),
        )
        .route(
            "/v1/instances/{instance}/serial-console",
            get(instances::serial_console),
        )
        .route(
            "/v1/disks",
            get(storage::disk_list).post(import::disk_create),
        )
        .route(
            "/v1/disks/{disk}/bulk-write-start",
            post(import::bulk_write_start),
        )
        .route(
            "/v1/disks/{disk}/bulk-write",
            post(import::bulk_write).layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/v1/disks/{disk}/bulk-write-stop",
            post(import::bulk_write_stop),
        )
        .route("/v1/disks/{disk}/finalize", post(import::finalize))
        .route(
            "/v1/disks/{disk}",
            get(storage::disk_view).delete(storage::disk_delete),
        )
        .route(
            "/v1/snapshots",
            get(storage::snapshot_list).post(storage::snapshot_create),
        )
        .route(
            "/v1/snapshots/{snapshot}",
            get(storage::snapshot_view).delete(storage::snapshot_delete),
        )
        .route(
            "/v1/me/ssh-keys",
            get(misc::ssh_key_list).post(misc::ssh_key_create),
        )
        .route(
            "/v1/me/ssh-keys/{key}",
            get(misc::ssh_key_view).delete(misc::ssh_key_delete),
        )
        .route("/v1/ip-pools", get(misc::ip_pool_list))
        .route("/v1/ip-pools/{pool}", get(misc::ip_pool_view))
        .route("/v1/projects", get(misc::project_list))
        .route("/v1/projects/{project}", get(misc::project_view))
        .route("/v1/me", get(misc::current_user_view))
        .method_not_allowed_fallback(misc::method_not_allowed)
        .route_layer(axum::middleware::from_fn_with_state(
            Arc::clone(&shared),
            http::authenticate,
        ))
        .fallback(misc::not_found)
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&shared),
            http::gate,
        ))
        .with_state(shared)
}

/// Serves this simulator on 127.0.0.1:`port` (with short, visible start and
/// stop delays) supporting API versions up to `api_version` ([`API_VERSION`]
/// when `None`), prints one JSON line describing it on stdout (with
/// `ssh_port` when instances have SSH; stderr says why not otherwise), and
/// runs until Ctrl-C. `chaos` adds random faults to every request.
pub async fn serve_cli(
    port: u16,
    api_version: Option<String>,
    chaos: Option<crate::Chaos>,
) -> std::io::Result<()> {
    let sim = OxideSim::start(OxideSimOptions {
        port,
        api_version: api_version.unwrap_or_else(|| API_VERSION.to_owned()),
        ssh: crate::machine::cli_mode("oxide"),
        delays: OxideDelays {
            instance_start: Duration::from_secs(2),
            instance_stop: Duration::from_secs(1),
        },
        ..OxideSimOptions::default()
    })
    .await?;
    sim.faults()
        .set_chaos(chaos)
        .map_err(std::io::Error::other)?;
    let mut line = serde_json::json!({
        "cloud": "oxide",
        "host": sim.url(),
        "token": sim.token(),
        "project": SEED_PROJECT,
        "api_version": sim.api_version(),
    });
    if let Some(port) = sim.ssh_port() {
        line["ssh_port"] = port.into();
    }
    println!("{line}");
    tokio::signal::ctrl_c().await?;
    sim.shutdown().await;
    Ok(())
}
