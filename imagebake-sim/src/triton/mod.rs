//! A local Triton CloudAPI.
//!
//! [`TritonSim`] serves CloudAPI's paths (`/:login/...` and `/my/...`), status
//! codes, `{"code","message"}` error bodies and state names on 127.0.0.1, as
//! described in `shared/notes/triton-api.md`:
//!
//! - every request but `GET /--ping` must carry a valid HTTP Signature
//!   (`Authorization: Signature keyId="/LOGIN[/users/USER]/keys/KEY",...`)
//!   made with a key registered for the account or one of its sub-users
//!   (RSA sha1/256/512, ECDSA P-256/P-384/P-521 with sha256/sha512, Ed25519);
//! - machines move `provisioning` → `running` (or `failed`), `running` →
//!   `stopping` → `stopped`, `stopped` → `running`, and to `deleted`, after
//!   which GetMachine answers 410 Gone with the machine body;
//! - images made by CreateImageFromMachine move `creating` → `active` (or
//!   `failed` with an `error` object);
//! - MachineAudit lists the machine's finished jobs newest first
//!   (`provision`, `start`, `stop`, `reboot`, `rename`, `destroy`, each
//!   shown once it has finished); RenameMachine renames at once;
//!   ListDatacenters names the one datacenter, `imagebake-sim-1`;
//! - an unknown path is 404 `ResourceNotFound` and a method the path does not
//!   take 405 `BadMethod`, before authentication, as restify routes;
//! - every transition takes the time set in [`TritonDelays`];
//! - [`Faults`] injected per CloudAPI operation name (`CreateMachine`,
//!   `GetImage`, ...; another name is refused) are applied to the next requests of that operation. A
//!   dropped connection (`DropBefore`/`DropAfter`) closes the connection
//!   without any HTTP answer: the client sees a connection error.
//!
//! Behaviour the notes leave open, chosen here: StopMachine on a machine that
//! is not `running` (or already `stopping`), StartMachine on one that is not
//! `stopped`, and CreateImageFromMachine on a machine that is not `stopped`
//! answer 409 `InvalidState`. Machine names are unique among live machines
//! (409 `ValidationFailed`, as VMAPI does). Image name@version is not unique.

mod api_account;
mod api_images;
mod api_machine_meta;
mod api_machines;
pub(crate) mod auth;
pub(crate) mod error;
mod http;
mod inventory;
pub(crate) mod keys;
mod params;
pub(crate) mod routes;
mod seed;
mod state;
pub(crate) mod time;
pub(crate) mod verify;
mod vm;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;

use crate::imgapi::ImgapiSim;
use crate::machine::{BootHold, GuestFlavor, Machines, ShutdownOnDrop, SshMode};
use crate::manta::{MantaShared, MantaSim};
use crate::{Faults, SimServer};

pub use inventory::{SEED_IMAGE_OWNER, SimImage, SimMachine, TritonInventory};

/// How to start a [`TritonSim`].
#[derive(Debug, Clone)]
pub struct TritonSimOptions {
    /// Port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// The account login (default `imagebake`).
    pub account: String,
    /// How long each state transition takes.
    pub delays: TritonDelays,
    /// Largest accepted difference between a request's `Date` and now
    /// (default 300 s, as CloudAPI).
    pub clock_skew_limit: Duration,
    /// Whether machines are reachable over real SSH (default off; see
    /// [`crate::machine`]). On, a running machine runs sshd on its own
    /// `127.0.0.N` (its `primaryIp`) and [`TritonSim::ssh_port`], accepting
    /// the account's keys as `root`.
    pub ssh: SshMode,
}

impl Default for TritonSimOptions {
    fn default() -> Self {
        Self {
            port: 0,
            account: "imagebake".to_owned(),
            delays: TritonDelays::default(),
            clock_skew_limit: Duration::from_secs(300),
            ssh: SshMode::Off,
        }
    }
}

/// Time each state transition takes (all 20 ms by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TritonDelays {
    /// `provisioning` → `running` (or `failed`).
    pub provision: Duration,
    /// `stopping` → `stopped`.
    pub stop: Duration,
    /// `stopped` → `running`.
    pub start: Duration,
    /// DeleteMachine → `deleted` (GetMachine answers 410).
    pub delete: Duration,
    /// `creating` → `active` (or `failed`).
    pub image_create: Duration,
}

impl TritonDelays {
    /// The same delay for every transition.
    pub fn all(delay: Duration) -> Self {
        Self {
            provision: delay,
            stop: delay,
            start: delay,
            delete: delay,
            image_create: delay,
        }
    }
}

impl Default for TritonDelays {
    fn default() -> Self {
        Self::all(Duration::from_millis(20))
    }
}

/// What the request handlers share.
#[derive(Debug)]
pub(crate) struct Shared {
    store: Mutex<state::Store>,
    faults: Faults,
    requests: AtomicU64,
    clock_skew_limit: Duration,
    /// The Manta ExportImage writes into (set once it serves).
    manta: OnceLock<Arc<MantaShared>>,
}

impl Shared {
    /// Locks the store; a poisoned lock is still usable (the store has no
    /// invariant a panic could break halfway).
    fn store(&self) -> MutexGuard<'_, state::Store> {
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A running Triton CloudAPI simulator. Serving stops when it is dropped or
/// [`TritonSim::shutdown`] is called; its key files are removed then.
#[derive(Debug)]
pub struct TritonSim {
    server: SimServer,
    shared: Arc<Shared>,
    account: String,
    key_id: String,
    private_key_path: PathBuf,
    public_key_path: PathBuf,
    _key_dir: tempfile::TempDir,
    vms: Option<ShutdownOnDrop>,
    manta: MantaSim,
    imgapi: ImgapiSim,
}

impl TritonSim {
    /// Starts a simulator with the seed data (images, packages, networks)
    /// and a freshly generated Ed25519 account key named `imagebake-sim`.
    ///
    /// With [`SshMode::On`] it first builds the machines' base root
    /// filesystem (a blocking second or so); it fails with a
    /// [`crate::machine::MachineError`] (as the I/O error's source) naming
    /// what is missing when machines cannot run here.
    pub async fn start(opts: TritonSimOptions) -> std::io::Result<TritonSim> {
        let generated = keys::generate_account_key()?;
        let key_id = generated.key.fingerprint.clone();
        let mut store = state::Store::new(&opts.account, opts.delays);
        store.account.keys.push(generated.key);
        let vms = Machines::start_for(opts.ssh).await?;
        store.vms.clone_from(&vms);
        if let Some(vms) = &vms {
            // Seed images present their system: SmartOS (bash, /opt/local,
            // pkgsrc's tools) or Linux (bash, apt-get).
            for image in &store.images {
                match image.os.as_str() {
                    "smartos" => vms.flavor(image.id, GuestFlavor::SmartOs),
                    "linux" => vms.flavor(image.id, GuestFlavor::Linux),
                    _ => {}
                }
            }
        }
        let shared = Arc::new(Shared {
            store: Mutex::new(store),
            faults: Faults::new("triton", routes::OPERATIONS),
            requests: AtomicU64::new(0),
            clock_skew_limit: opts.clock_skew_limit,
            manta: OnceLock::new(),
        });
        let manta = MantaSim::start(
            &opts.account,
            manta_keys(Arc::downgrade(&shared)),
            opts.clock_skew_limit,
        )
        .await?;
        let _ = shared.manta.set(Arc::clone(manta.shared()));
        let imgapi = ImgapiSim::start(opts.clock_skew_limit).await?;
        let server = SimServer::serve(http::router(Arc::clone(&shared)), opts.port).await?;
        Ok(TritonSim {
            server,
            shared,
            account: opts.account,
            key_id,
            private_key_path: generated.private_path,
            public_key_path: generated.public_path,
            _key_dir: generated.dir,
            vms: vms.map(ShutdownOnDrop),
            manta,
            imgapi,
        })
    }

    /// The Manta served beside CloudAPI (same account and keys; ExportImage
    /// writes into it).
    pub fn manta(&self) -> &MantaSim {
        &self.manta
    }

    /// The IMGAPI repository served beside CloudAPI (its own user and RSA
    /// key).
    pub fn imgapi(&self) -> &ImgapiSim {
        &self.imgapi
    }

    /// The port every machine's sshd listens on (on the machine's own
    /// address), when machines have SSH.
    pub fn ssh_port(&self) -> Option<u16> {
        self.vms.as_ref().map(|v| v.0.ssh_port())
    }

    /// Makes every machine boot wait until the returned guard is dropped (a
    /// guest slow to boot, for tests of what the API does meanwhile); `None`
    /// when machines have no SSH.
    pub fn hold_machine_boots(&self) -> Option<BootHold> {
        Some(self.vms.as_ref()?.0.hold_boots())
    }

    /// File `path` (absolute, as the image's machines see it) of image
    /// `image_id` as the image presents it: its captured layers read top
    /// down, deletions respected. `None` when the file is absent, the image
    /// unknown, or machines have no SSH.
    pub fn image_file(&self, image_id: &str, path: &str) -> Option<Vec<u8>> {
        let id = uuid::Uuid::parse_str(image_id).ok()?;
        self.shared.store().images.iter().find(|i| i.id == id)?;
        let vms = &self.vms.as_ref()?.0;
        match vms.read_file(id, Path::new(path)) {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(image = %id, path, error = %e, "reading an image file");
                None
            }
        }
    }

    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// The account login.
    pub fn account(&self) -> &str {
        &self.account
    }

    /// The account key the simulator generated at start (ed25519, unencrypted
    /// OpenSSH file, with `<path>.pub` beside it), registered as the account's
    /// key named "imagebake-sim".
    pub fn private_key_path(&self) -> &Path {
        &self.private_key_path
    }

    /// The `.pub` file beside [`TritonSim::private_key_path`].
    pub fn public_key_path(&self) -> &Path {
        &self.public_key_path
    }

    /// The MD5 colon-hex fingerprint of the generated account key.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// Registers another account key (OpenSSH public key line); returns its
    /// MD5 fingerprint.
    ///
    /// # Panics
    /// If `public_openssh` is not an OpenSSH public key line (a test-setup
    /// mistake); use [`TritonSim::try_add_key`] to get an error instead.
    pub fn add_key(&self, name: &str, public_openssh: &str) -> String {
        match self.try_add_key(name, public_openssh) {
            Ok(fp) => fp,
            Err(e) => panic!("TritonSim::add_key({name}): {e}"),
        }
    }

    /// Registers another account key; fails when the line does not parse.
    pub fn try_add_key(&self, name: &str, public_openssh: &str) -> std::io::Result<String> {
        let key = keys::parse_public_key(name, public_openssh)?;
        let fp = key.fingerprint.clone();
        self.shared.store().account.add_key(key);
        Ok(fp)
    }

    /// Creates sub-user `user` if needed and registers a key for it; returns
    /// its MD5 fingerprint.
    ///
    /// # Panics
    /// If `public_openssh` is not an OpenSSH public key line; use
    /// [`TritonSim::try_add_user_key`] to get an error instead.
    pub fn add_user_key(&self, user: &str, name: &str, public_openssh: &str) -> String {
        match self.try_add_user_key(user, name, public_openssh) {
            Ok(fp) => fp,
            Err(e) => panic!("TritonSim::add_user_key({user}, {name}): {e}"),
        }
    }

    /// Registers a sub-user key; fails when the line does not parse.
    pub fn try_add_user_key(
        &self,
        user: &str,
        name: &str,
        public_openssh: &str,
    ) -> std::io::Result<String> {
        let key = keys::parse_public_key(name, public_openssh)?;
        let fp = key.fingerprint.clone();
        self.shared.store().account.add_user_key(user, key);
        Ok(fp)
    }

    /// The fault queues, per CloudAPI operation name.
    pub fn faults(&self) -> &Faults {
        &self.shared.faults
    }

    /// Changes the delays of transitions started from now on.
    pub fn set_delays(&self, delays: TritonDelays) {
        self.shared.store().delays = delays;
    }

    /// Ends every machine and image transition under way now, as if its
    /// delay had passed (a test that held one, e.g. a delete, lets it end).
    pub fn finish_transitions(&self) {
        let now = std::time::Instant::now();
        let mut store = self.shared.store();
        for t in store.machines.iter_mut().filter_map(|m| m.pending.as_mut()) {
            t.at = now;
        }
        for t in store.images.iter_mut().filter_map(|i| i.pending.as_mut()) {
            t.at = now;
        }
        store.settle();
    }

    /// Live (not deleted) machines, and images in any state (including the
    /// public seed images, owned by [`SEED_IMAGE_OWNER`]).
    pub fn inventory(&self) -> TritonInventory {
        self.shared.store().inventory()
    }

    /// Requests served so far (all paths, including failed ones).
    pub fn request_count(&self) -> u64 {
        self.shared.requests.load(Ordering::Relaxed)
    }

    /// The JSON line `serve_cli` prints: cloud, url, account, key_id,
    /// private_key_path, public_key_path, manta_url, imgapi_url, imgapi_user,
    /// imgapi_key_path, and ssh_port when machines have SSH. It generates the
    /// IMGAPI key if it does not exist yet.
    pub fn cli_line(&self) -> String {
        // Fields in the documented order (serde_json's map would sort them).
        let field = |v: serde_json::Value| v.to_string();
        let ssh = self
            .ssh_port()
            .map_or_else(String::new, |p| format!(",\"ssh_port\":{p}"));
        format!(
            "{{\"cloud\":\"triton\",\"url\":{},\"account\":{},\"key_id\":{},\"private_key_path\":{},\"public_key_path\":{},\"manta_url\":{},\"imgapi_url\":{},\"imgapi_user\":{},\"imgapi_key_path\":{}{ssh}}}",
            field(self.url().into()),
            field(self.account.as_str().into()),
            field(self.key_id.as_str().into()),
            field(self.private_key_path.to_string_lossy().as_ref().into()),
            field(self.public_key_path.to_string_lossy().as_ref().into()),
            field(self.manta.url().into()),
            field(self.imgapi.url().into()),
            field(self.imgapi.user().into()),
            field(
                self.imgapi
                    .key_path()
                    .map(|p| p.to_string_lossy().into_owned())
                    .unwrap_or_default()
                    .into()
            ),
        )
    }

    /// Stops serving, stops every machine (sshd and everything inside),
    /// unmounts their roots and removes the key files and the machines' data.
    pub async fn shutdown(self) {
        self.server.shutdown().await;
        self.manta.shutdown().await;
        self.imgapi.shutdown().await;
        if let Some(vms) = self.vms {
            let _ = tokio::task::spawn_blocking(move || drop(vms)).await;
        }
    }
}

/// Manta's view of the account's keys: `(md5, key)` of the account or of a
/// sub-user.
fn manta_keys(shared: std::sync::Weak<Shared>) -> crate::manta::auth::KeyLookup {
    Arc::new(move |login: &str, user: Option<&str>| {
        let shared = shared.upgrade().ok_or("AccountDoesNotExist")?;
        let store = shared.store();
        if login != store.account.login {
            return Err("AccountDoesNotExist");
        }
        let keys = match user {
            None => &store.account.keys,
            Some(u) => store.account.users.get(u).ok_or("UserDoesNotExist")?,
        };
        Ok(keys
            .iter()
            .map(|k| (k.fingerprint.clone(), k.key.clone()))
            .collect())
    })
}

/// Serves this simulator on 127.0.0.1:`port` (0 picks a free port), prints one
/// JSON line describing it on stdout (see [`TritonSim::cli_line`]), and runs
/// until Ctrl-C. The key files live in a temporary directory removed on exit.
/// Machines get SSH when this host allows it; otherwise stderr says why not.
/// `chaos` adds random faults to every request of CloudAPI, Manta and IMGAPI.
pub async fn serve_cli(port: u16, chaos: Option<crate::Chaos>) -> std::io::Result<()> {
    use std::io::Write as _;
    let sim = TritonSim::start(TritonSimOptions {
        port,
        ssh: crate::machine::cli_mode("triton"),
        ..TritonSimOptions::default()
    })
    .await?;
    for faults in [sim.faults(), sim.manta().faults(), sim.imgapi().faults()] {
        faults
            .set_chaos(chaos.clone())
            .map_err(std::io::Error::other)?;
    }
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}", sim.cli_line())?;
        out.flush()?;
    }
    let stopped = tokio::signal::ctrl_c().await;
    sim.shutdown().await;
    stopped
}
