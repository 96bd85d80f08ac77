//! The Outscale (OAPI) simulator, with real block devices.
//!
//! Serves `POST /api/v1/{Action}` (also `/{Action}` and `/api/latest/{Action}`;
//! runs of slashes collapsed first, as the gateway does, so Outscale's CLI's
//! `//api/latest/{Action}` works, signed over the collapsed path) on
//! 127.0.0.1, answers any other path with a 404 `Errors[]` body, checks OSC4-HMAC-SHA256 and AWS4-HMAC-SHA256 signatures
//! (401 with an `Errors[]` body otherwise), answers `Errors[]` bodies with the
//! gateway's codes, pages Read calls, keeps tags, and moves volumes, links,
//! snapshots and images through their states after configurable delays.
//!
//! Volumes are real: each is a sparse file in the data directory (blank, or a
//! copy of its snapshot's file). `LinkVolume` to the host VM ([`OscSim::vm_id`])
//! attaches the file to a loop device and links the requested device name
//! under the simulator's device directory (`<dev_dir>/xvdf -> /dev/loopN`, plus
//! `xvdf1..4 -> /dev/loopNp1..4`). This needs root; without it `LinkVolume`
//! fails with a clear error and everything else works. `UnlinkVolume` detaches,
//! `CreateSnapshot` copies the volume's file, `CreateImage` registers snapshots.
//!
//! A metadata service on its own port answers `GET /latest/meta-data/<key>`
//! (`instance-id`, `placement/availability-zone`, ...) for the host VM.
//!
//! Seed: the host VM (with its root volume on `/dev/sda1`), and two public
//! Debian images of the `Outscale` account whose root snapshot is a small
//! ext4 disk holding `/etc/os-release`.

mod actions;
pub mod auth;
mod blockdev;
mod error;
mod filters;
mod handler;
mod metadata;
mod seed;
mod state;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use serde_json::{Value, json};

use crate::faults::Faults;
use crate::server::SimServer;
use state::{ACCOUNT_ID, LinkPhase, State};

/// How long each resource stays in its transitional state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OscDelays {
    /// `creating` → `available`.
    pub volume_create: Duration,
    /// Link `attaching` → `attached`.
    pub volume_link: Duration,
    /// Link `detaching` → gone (volume `available`).
    pub volume_unlink: Duration,
    /// Snapshot `pending` → `completed`.
    pub snapshot_create: Duration,
    /// Image `pending` → `available`.
    pub image_create: Duration,
}

impl OscDelays {
    /// The same delay everywhere.
    pub fn uniform(d: Duration) -> Self {
        Self {
            volume_create: d,
            volume_link: d,
            volume_unlink: d,
            snapshot_create: d,
            image_create: d,
        }
    }
}

impl Default for OscDelays {
    /// 20 ms everywhere: states are visible, tests stay fast.
    fn default() -> Self {
        Self::uniform(Duration::from_millis(20))
    }
}

/// How to start the simulator.
#[derive(Debug, Clone)]
pub struct OscSimOptions {
    /// API port on 127.0.0.1 (0 picks a free one).
    pub port: u16,
    /// Metadata-service port (0 picks a free one).
    pub metadata_port: u16,
    /// State delays.
    pub delays: OscDelays,
    /// Where volume and snapshot files live (default: a temporary directory
    /// removed at shutdown).
    pub data_dir: Option<PathBuf>,
    /// Where device links go (default `<data_dir>/dev`).
    pub dev_dir: Option<PathBuf>,
    /// Region (default `eu-west-2`).
    pub region: String,
    /// Access key accepted.
    pub access_key: String,
    /// Secret key of that access key.
    pub secret_key: String,
    /// Size of the seed disk in bytes (sparse; default 64 MiB).
    pub seed_disk_bytes: u64,
}

impl Default for OscSimOptions {
    fn default() -> Self {
        Self {
            port: 0,
            metadata_port: 0,
            delays: OscDelays::default(),
            data_dir: None,
            dev_dir: None,
            region: "eu-west-2".to_owned(),
            access_key: "OSCSIMACCESSKEY00001".to_owned(),
            secret_key: "oscsimsecretkey0000000000000000000000001".to_owned(),
            seed_disk_bytes: 64 << 20,
        }
    }
}

/// A link in the inventory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OscLink {
    /// Volume.
    pub volume_id: String,
    /// VM.
    pub vm_id: String,
    /// API device name.
    pub device_name: String,
    /// `attaching`, `attached` or `detaching`.
    pub state: String,
    /// The loop device, when attached to the host VM.
    pub loop_device: Option<String>,
}

/// What API calls created and still exists (the seed is left out), for leak checks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OscInventory {
    /// Volume ids.
    pub volumes: Vec<String>,
    /// Links of those volumes.
    pub links: Vec<OscLink>,
    /// Snapshot ids.
    pub snapshots: Vec<String>,
    /// Image ids.
    pub images: Vec<String>,
    /// Loop devices the simulator holds attached.
    pub loop_devices: Vec<String>,
}

impl OscInventory {
    /// Whether nothing is left.
    pub fn is_empty(&self) -> bool {
        self.volumes.is_empty()
            && self.links.is_empty()
            && self.snapshots.is_empty()
            && self.images.is_empty()
            && self.loop_devices.is_empty()
    }
}

/// State shared by the handlers.
pub(crate) struct Shared {
    state: tokio::sync::Mutex<State>,
    faults: Faults,
    requests: AtomicU64,
    log: std::sync::Mutex<Vec<(String, Value)>>,
    loops: std::sync::Mutex<BTreeSet<String>>,
    access_key: String,
    secret_key: String,
    region: String,
    vm_id: String,
    subregion: String,
    seed_image_id: String,
    data_dir: PathBuf,
    dev_dir: PathBuf,
}

impl Shared {
    pub(crate) fn track_loop(&self, dev: &str, attached: bool) {
        let mut l = self.loops.lock().unwrap_or_else(|e| e.into_inner());
        if attached {
            l.insert(dev.to_owned());
        } else {
            l.remove(dev);
        }
    }
}

/// A running Outscale simulator. Call [`OscSim::shutdown`] when done; dropping
/// it also detaches its loop devices (synchronously) as a safety net.
pub struct OscSim {
    api: Option<SimServer>,
    metadata: Option<SimServer>,
    shared: Arc<Shared>,
    temp: Option<tempfile::TempDir>,
}

impl std::fmt::Debug for OscSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OscSim")
            .field("endpoint", &self.endpoint())
            .field("region", &self.shared.region)
            .field("data_dir", &self.shared.data_dir)
            .finish_non_exhaustive()
    }
}

impl OscSim {
    /// Starts the API and the metadata service on 127.0.0.1 and seeds the account.
    pub async fn start(opts: OscSimOptions) -> std::io::Result<Self> {
        let (temp, data_dir) = match &opts.data_dir {
            Some(d) => (None, d.clone()),
            None => {
                let t = tempfile::Builder::new().prefix("osc-sim-").tempdir()?;
                let p = t.path().to_path_buf();
                (Some(t), p)
            }
        };
        let dev_dir = opts.dev_dir.clone().unwrap_or_else(|| data_dir.join("dev"));
        for d in [
            data_dir.join("volumes"),
            data_dir.join("snapshots"),
            dev_dir.clone(),
        ] {
            tokio::fs::create_dir_all(&d).await?;
        }
        let mut st = State::new(&opts.region, opts.delays);
        let subregion = format!("{}a", opts.region);
        let (vm_id, seed_image_id) =
            seed::seed(&mut st, &data_dir, &subregion, opts.seed_disk_bytes).await?;
        let shared = Arc::new(Shared {
            state: tokio::sync::Mutex::new(st),
            faults: Faults::new("osc", actions::ACTIONS),
            requests: AtomicU64::new(0),
            log: std::sync::Mutex::new(Vec::new()),
            loops: std::sync::Mutex::new(BTreeSet::new()),
            access_key: opts.access_key.clone(),
            secret_key: opts.secret_key.clone(),
            region: opts.region.clone(),
            vm_id,
            subregion,
            seed_image_id,
            data_dir,
            dev_dir,
        });
        // One handler routes every path itself, after collapsing slashes.
        let api_router = Router::new()
            .fallback(handler::handle)
            .with_state(shared.clone());
        let api = SimServer::serve(api_router, opts.port).await?;
        let metadata =
            SimServer::serve(metadata::router(shared.clone()), opts.metadata_port).await?;
        Ok(Self {
            api: Some(api),
            metadata: Some(metadata),
            shared,
            temp,
        })
    }

    /// API base URL, `http://127.0.0.1:PORT` (requests go to `/api/v1/{Action}`).
    pub fn endpoint(&self) -> String {
        self.api.as_ref().map(SimServer::url).unwrap_or_default()
    }

    /// Region.
    pub fn region(&self) -> &str {
        &self.shared.region
    }

    /// The subregion of the host VM (`eu-west-2a`).
    pub fn subregion(&self) -> &str {
        &self.shared.subregion
    }

    /// Access key accepted.
    pub fn access_key(&self) -> &str {
        &self.shared.access_key
    }

    /// Its secret key.
    pub fn secret_key(&self) -> &str {
        &self.shared.secret_key
    }

    /// Our account id.
    pub fn account_id(&self) -> &str {
        ACCOUNT_ID
    }

    /// Metadata-service base URL, `http://127.0.0.1:PORT`.
    pub fn metadata_url(&self) -> String {
        self.metadata
            .as_ref()
            .map(SimServer::url)
            .unwrap_or_default()
    }

    /// The VM the builder runs on (what the metadata service names).
    pub fn vm_id(&self) -> &str {
        &self.shared.vm_id
    }

    /// The newest seeded public source image (`Debian-12-...`, account alias `Outscale`).
    pub fn source_image_id(&self) -> &str {
        &self.shared.seed_image_id
    }

    /// Where device links are made (`<dev_dir>/xvdf`).
    pub fn dev_dir(&self) -> &Path {
        &self.shared.dev_dir
    }

    /// The data directory (volume and snapshot files).
    pub fn data_dir(&self) -> &Path {
        &self.shared.data_dir
    }

    /// Where the API device name `/dev/xvdf` is reachable.
    pub fn device_path(&self, device_name: &str) -> PathBuf {
        let base = device_name.rsplit('/').next().unwrap_or(device_name);
        self.shared.dev_dir.join(base)
    }

    /// Fault queues; operation names are action names (`CreateVolume`, `LinkVolume`, ...).
    pub fn faults(&self) -> &Faults {
        &self.shared.faults
    }

    /// Changes the delays for resources created from now on.
    pub async fn set_delays(&self, delays: OscDelays) {
        self.shared.state.lock().await.delays = delays;
    }

    /// API requests received so far (any action, any outcome).
    pub fn request_count(&self) -> u64 {
        self.shared.requests.load(Ordering::SeqCst)
    }

    /// Every request body received, with its action, in order (for schema checks).
    pub fn request_log(&self) -> Vec<(String, Value)> {
        self.shared
            .log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// What API calls created and still exists.
    pub async fn inventory(&self) -> OscInventory {
        let mut st = self.shared.state.lock().await;
        st.settle(tokio::time::Instant::now());
        let links = st
            .volumes
            .values()
            .filter(|v| !v.seed)
            .filter_map(|v| {
                let l = v.link.as_ref()?;
                Some(OscLink {
                    volume_id: v.id.clone(),
                    vm_id: l.vm_id.clone(),
                    device_name: l.device_name.clone(),
                    state: match l.phase {
                        LinkPhase::Attaching => "attaching",
                        LinkPhase::Attached => "attached",
                        LinkPhase::Detaching => "detaching",
                    }
                    .to_owned(),
                    loop_device: l.loop_dev.clone(),
                })
            })
            .collect();
        OscInventory {
            volumes: st
                .volumes
                .values()
                .filter(|v| !v.seed)
                .map(|v| v.id.clone())
                .collect(),
            links,
            snapshots: st
                .snapshots
                .values()
                .filter(|s| !s.seed)
                .map(|s| s.id.clone())
                .collect(),
            images: st
                .images
                .values()
                .filter(|i| !i.seed)
                .map(|i| i.id.clone())
                .collect(),
            loop_devices: self
                .shared
                .loops
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .cloned()
                .collect(),
        }
    }

    /// Stops both servers, detaches every loop device, removes the device
    /// links and the files the simulator made.
    pub async fn shutdown(mut self) {
        if let Some(s) = self.api.take() {
            s.shutdown().await;
        }
        if let Some(s) = self.metadata.take() {
            s.shutdown().await;
        }
        let mut st = self.shared.state.lock().await;
        for v in st.volumes.values_mut() {
            if let Some(l) = &mut v.link {
                blockdev::remove_links(&l.links);
                if let Some(dev) = l.loop_dev.take() {
                    if let Err(e) = blockdev::detach(&dev).await {
                        tracing::warn!(device = %dev, error = %e, "detaching at shutdown");
                    }
                    self.shared.track_loop(&dev, false);
                }
            }
            if let Some(f) = &v.file {
                let _ = tokio::fs::remove_file(f).await;
            }
        }
        for s in st.snapshots.values() {
            let _ = tokio::fs::remove_file(&s.file).await;
        }
        drop(st);
        if let Some(t) = self.temp.take() {
            let _ = t.close();
        }
    }
}

impl Drop for OscSim {
    fn drop(&mut self) {
        let loops: Vec<String> = self
            .shared
            .loops
            .lock()
            .map(|l| l.iter().cloned().collect())
            .unwrap_or_default();
        for dev in loops {
            blockdev::detach_blocking(&dev);
            self.shared.track_loop(&dev, false);
        }
        if let Ok(st) = self.shared.state.try_lock() {
            for v in st.volumes.values() {
                if let Some(l) = &v.link {
                    blockdev::remove_links(&l.links);
                }
            }
        }
    }
}

/// Serves this simulator on 127.0.0.1:`port`, prints one JSON line describing
/// it on stdout, and runs until Ctrl-C. `chaos` adds random faults to every
/// request.
pub async fn serve_cli(port: u16, chaos: Option<crate::Chaos>) -> std::io::Result<()> {
    let sim = OscSim::start(OscSimOptions {
        port,
        ..OscSimOptions::default()
    })
    .await?;
    sim.faults()
        .set_chaos(chaos)
        .map_err(std::io::Error::other)?;
    let line = json!({
        "cloud": "osc",
        "endpoint": sim.endpoint(),
        "region": sim.region(),
        "access_key": sim.access_key(),
        "secret_key": sim.secret_key(),
        "metadata_url": sim.metadata_url(),
        "vm_id": sim.vm_id(),
        "dev_dir": sim.dev_dir(),
    });
    println!("{line}");
    let _ = tokio::signal::ctrl_c().await;
    sim.shutdown().await;
    Ok(())
}
