//! The simulated datacenter: account, keys, packages, networks, images and
//! machines, with their state machines.
//!
//! Transitions are lazy: a resource records the state it moves to and when;
//! every read settles it first, so no background task is needed and a
//! dropped simulator leaves nothing running.

use std::collections::BTreeMap;
use std::time::{Instant, SystemTime};

use serde_json::Value;
use uuid::Uuid;

use super::TritonDelays;
use super::inventory::{SimImage, SimMachine, TritonInventory};
use super::keys::RegisteredKey;
use super::{seed, vm};
use crate::machine::Machines;

/// The one account, its keys and its sub-users' keys.
#[derive(Debug)]
pub(crate) struct Account {
    pub id: Uuid,
    pub login: String,
    pub created: SystemTime,
    pub keys: Vec<RegisteredKey>,
    pub users: BTreeMap<String, Vec<RegisteredKey>>,
}

impl Account {
    /// Adds (or replaces, by fingerprint) an account key.
    pub fn add_key(&mut self, key: RegisteredKey) {
        self.keys.retain(|k| k.fingerprint != key.fingerprint);
        self.keys.push(key);
    }

    /// Creates `user` if needed and adds (or replaces) a key for it.
    pub fn add_user_key(&mut self, user: &str, key: RegisteredKey) {
        let keys = self.users.entry(user.to_owned()).or_default();
        keys.retain(|k| k.fingerprint != key.fingerprint);
        keys.push(key);
    }
}

/// A package (instance size).
#[derive(Debug, Clone)]
pub(crate) struct Package {
    pub id: Uuid,
    pub name: String,
    pub memory: u64,
    pub disk: u64,
    pub swap: u64,
    pub lwps: u64,
    pub vcpus: u64,
    pub version: String,
    pub group: String,
    pub description: String,
    pub default: bool,
}

/// A network the account can use.
#[derive(Debug, Clone)]
pub(crate) struct Network {
    pub id: Uuid,
    pub name: String,
    pub public: bool,
    pub fabric: bool,
    pub description: String,
}

/// A move to another state at a given time.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Transition<S> {
    pub to: S,
    pub at: Instant,
    pub at_wall: SystemTime,
}

impl<S> Transition<S> {
    pub fn after(to: S, delay: std::time::Duration) -> Self {
        Self {
            to,
            at: Instant::now() + delay,
            at_wall: SystemTime::now() + delay,
        }
    }
}

/// CloudAPI machine states the simulator uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MachineState {
    Provisioning,
    Running,
    Stopping,
    Stopped,
    Failed,
    Deleted,
}

impl MachineState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Provisioning => "provisioning",
            Self::Running => "running",
            Self::Stopping => "stopping",
            Self::Stopped => "stopped",
            Self::Failed => "failed",
            Self::Deleted => "deleted",
        }
    }
}

/// One finished VMAPI job on a machine, as MachineAudit shows it.
#[derive(Debug, Clone)]
pub(crate) struct AuditEntry {
    /// `provision`, `start`, `stop`, `reboot`, `destroy`, `rename`.
    pub action: &'static str,
    /// The request's parameters.
    pub parameters: Value,
    pub success: bool,
    /// `{type: "signature", ip, keyId}`.
    pub caller: Value,
    /// When the job finishes: an entry is shown from then on (CloudAPI
    /// hides jobs still running).
    pub time: SystemTime,
}

/// A machine (instance).
#[derive(Debug, Clone)]
pub(crate) struct Machine {
    pub id: Uuid,
    pub name: String,
    pub brand: String,
    pub image: Uuid,
    pub package: String,
    pub memory: u64,
    pub disk: u64,
    pub networks: Vec<Uuid>,
    pub state: MachineState,
    pub pending: Option<Transition<MachineState>>,
    /// Whether it has been `running` once (it then has its IP).
    pub has_ip: bool,
    /// Its address once running (`127.0.0.1` without simulated SSH).
    pub ip: String,
    pub tags: BTreeMap<String, Value>,
    pub metadata: BTreeMap<String, String>,
    pub firewall_enabled: bool,
    pub deletion_protection: bool,
    pub created: SystemTime,
    pub updated: SystemTime,
    /// Its jobs, oldest first.
    pub audit: Vec<AuditEntry>,
}

impl Machine {
    /// Applies a due transition.
    pub fn settle(&mut self, now: Instant) {
        if let Some(t) = self.pending.filter(|t| t.at <= now) {
            self.state = t.to;
            self.updated = t.at_wall;
            self.pending = None;
            if t.to == MachineState::Running {
                self.has_ip = true;
            }
        }
    }

    /// True once deletion has completed.
    pub fn is_deleted(&self) -> bool {
        self.state == MachineState::Deleted
    }

    /// True while a DeleteMachine is under way.
    pub fn is_deleting(&self) -> bool {
        self.pending.is_some_and(|t| t.to == MachineState::Deleted)
    }
}

/// IMGAPI image states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ImageState {
    Active,
    Disabled,
    Creating,
    Failed,
}

impl ImageState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Disabled => "disabled",
            Self::Creating => "creating",
            Self::Failed => "failed",
        }
    }
}

/// An image manifest.
#[derive(Debug, Clone)]
pub(crate) struct Image {
    pub id: Uuid,
    pub name: String,
    pub version: String,
    pub os: String,
    pub kind: String,
    pub description: Option<String>,
    pub homepage: Option<String>,
    pub eula: Option<String>,
    pub acl: Vec<String>,
    pub tags: serde_json::Map<String, Value>,
    pub owner: Uuid,
    pub public: bool,
    pub state: ImageState,
    pub pending: Option<Transition<ImageState>>,
    pub error: Option<(String, String)>,
    pub published_at: Option<String>,
    pub origin: Option<Uuid>,
    pub requirements: Value,
    pub image_size: Option<u64>,
    pub created: SystemTime,
}

impl Image {
    /// Applies a due transition.
    pub fn settle(&mut self, now: Instant) {
        if let Some(t) = self.pending.filter(|t| t.at <= now) {
            self.state = t.to;
            self.pending = None;
            if t.to == ImageState::Active {
                self.published_at = Some(super::time::rfc3339(t.at_wall));
            }
        }
    }
}

/// Everything the simulator knows.
#[derive(Debug)]
pub(crate) struct Store {
    pub account: Account,
    pub delays: TritonDelays,
    pub packages: Vec<Package>,
    pub networks: Vec<Network>,
    pub images: Vec<Image>,
    pub machines: Vec<Machine>,
    /// The machines' simulated guests, when SSH is on.
    pub vms: Option<Machines>,
}

impl Store {
    /// A store with the seed data and no account keys.
    pub fn new(login: &str, delays: TritonDelays) -> Self {
        Self {
            account: Account {
                id: seed::ACCOUNT_ID,
                login: login.to_owned(),
                created: SystemTime::now(),
                keys: Vec::new(),
                users: BTreeMap::new(),
            },
            delays,
            packages: seed::packages(),
            networks: seed::networks(),
            images: seed::images(),
            machines: Vec::new(),
            vms: None,
        }
    }

    /// Applies every due transition.
    pub fn settle(&mut self) {
        let now = Instant::now();
        let vms = self.vms.as_ref();
        self.machines
            .iter_mut()
            .for_each(|m| vm::settle(vms, m, now));
        self.images.iter_mut().for_each(|i| i.settle(now));
    }

    /// The machine with this id (in any state), settled.
    pub fn machine_mut(&mut self, id: &str) -> Option<&mut Machine> {
        let id = Uuid::parse_str(id).ok()?;
        let now = Instant::now();
        let m = self.machines.iter_mut().find(|m| m.id == id)?;
        vm::settle(self.vms.as_ref(), m, now);
        Some(m)
    }

    /// The image with this id, settled.
    pub fn image_mut(&mut self, id: &str) -> Option<&mut Image> {
        let id = Uuid::parse_str(id).ok()?;
        let now = Instant::now();
        let i = self.images.iter_mut().find(|i| i.id == id)?;
        i.settle(now);
        Some(i)
    }

    /// True when the account may see this image.
    pub fn visible(&self, image: &Image) -> bool {
        image.public
            || image.owner == self.account.id
            || image.acl.iter().any(|a| *a == self.account.id.to_string())
    }

    /// Live machines and all images.
    pub fn inventory(&mut self) -> TritonInventory {
        self.settle();
        TritonInventory {
            machines: self
                .machines
                .iter()
                .filter(|m| !m.is_deleted())
                .map(|m| SimMachine {
                    id: m.id.to_string(),
                    name: m.name.clone(),
                    state: m.state.as_str().to_owned(),
                    tags: m.tags.clone(),
                    metadata: m.metadata.clone(),
                    ip: m.ip.clone(),
                    ssh: self.vms.as_ref().and_then(|v| v.info(m.id)),
                })
                .collect(),
            images: self
                .images
                .iter()
                .map(|i| SimImage {
                    id: i.id.to_string(),
                    name: i.name.clone(),
                    version: i.version.clone(),
                    state: i.state.as_str().to_owned(),
                    owner: i.owner.to_string(),
                    public: i.public,
                })
                .collect(),
        }
    }
}
