//! The simulated rack's contents: records, seed data, lookups and JSON views.

use std::sync::Arc;
use std::time::SystemTime;

use serde_json::{Value, json};
use tokio::time::Instant;
use uuid::Uuid;

use super::http::ApiError;
use super::volume::Volume;

/// The address every instance's ephemeral IP gets, so SSH from the host works.
pub(crate) const EPHEMERAL_IP: &str = "127.0.0.1";
/// The SNAT address shown while an instance has a VMM (takes no inbound traffic).
pub(crate) const SNAT_IP: &str = "127.0.0.2";
/// One GiB.
pub(crate) const GIB: u64 = 1 << 30;

/// Creation and modification times of a record.
#[derive(Debug, Clone)]
pub(crate) struct Times {
    pub(crate) created: String,
    pub(crate) modified: String,
}

impl Times {
    pub(crate) fn now() -> Self {
        let t = now_rfc3339();
        Self {
            created: t.clone(),
            modified: t,
        }
    }

    pub(crate) fn touch(&mut self) {
        self.modified = now_rfc3339();
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Project {
    pub(crate) id: Uuid,
    pub(crate) name: String,
    pub(crate) times: Times,
}

#[derive(Debug, Clone)]
pub(crate) struct Vpc {
    pub(crate) project_id: Uuid,
    pub(crate) name: String,
    pub(crate) subnets: Vec<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct Pool {
    pub(crate) id: Uuid,
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) ip_version: &'static str,
    pub(crate) is_default: bool,
    pub(crate) times: Times,
}

#[derive(Debug, Clone)]
pub(crate) struct Image {
    pub(crate) id: Uuid,
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) os: String,
    pub(crate) version: String,
    pub(crate) size: u64,
    pub(crate) block_size: u32,
    pub(crate) project_id: Option<Uuid>,
    pub(crate) times: Times,
    /// Its bytes, when it was made from an imported disk.
    pub(crate) volume: Option<Arc<Volume>>,
}

#[derive(Debug, Clone)]
pub(crate) struct Instance {
    pub(crate) id: Uuid,
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) project_id: Uuid,
    pub(crate) hostname: String,
    pub(crate) ncpus: u16,
    pub(crate) memory: u64,
    pub(crate) state: &'static str,
    /// A state the instance reaches on its own at the given time.
    pub(crate) pending: Option<(&'static str, Instant)>,
    pub(crate) state_updated: String,
    pub(crate) boot_disk_id: Option<Uuid>,
    pub(crate) auto_restart_policy: Option<String>,
    /// Pool of the ephemeral IP, if the instance has one.
    pub(crate) ephemeral_pool: Option<Uuid>,
    pub(crate) ssh_key_ids: Vec<Uuid>,
    pub(crate) user_data: Vec<u8>,
    pub(crate) times: Times,
    /// Its ephemeral IP (its own `127.0.0.N` when guests have SSH).
    pub(crate) ip: String,
}

impl Instance {
    /// Whether a VMM exists (so SNAT and the serial console exist).
    pub(crate) fn has_vmm(&self) -> bool {
        matches!(
            self.state,
            "starting" | "running" | "stopping" | "rebooting"
        )
    }

    pub(crate) fn set_state(
        &mut self,
        state: &'static str,
        pending: Option<(&'static str, Instant)>,
    ) {
        self.state = state;
        self.pending = pending;
        self.state_updated = now_rfc3339();
        self.times.touch();
    }

    /// Applies a due pending transition.
    pub(crate) fn settle(&mut self, now: Instant) {
        match self.pending {
            Some((to, at)) if now >= at => self.set_state(to, None),
            _ => {}
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum DiskState {
    Detached,
    Attached(Uuid),
    Faulted,
    /// Created for a bulk import, not being written.
    ImportReady,
    /// Taking bulk writes.
    ImportingFromBulkWrites,
}

impl DiskState {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            DiskState::Detached => "detached",
            DiskState::Attached(_) => "attached",
            DiskState::Faulted => "faulted",
            DiskState::ImportReady => "import_ready",
            DiskState::ImportingFromBulkWrites => "importing_from_bulk_writes",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Disk {
    pub(crate) id: Uuid,
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) project_id: Uuid,
    pub(crate) size: u64,
    pub(crate) block_size: u32,
    pub(crate) image_id: Option<Uuid>,
    pub(crate) snapshot_id: Option<Uuid>,
    pub(crate) read_only: bool,
    pub(crate) state: DiskState,
    pub(crate) times: Times,
    /// Its bytes, when it was created for a bulk import.
    pub(crate) volume: Option<Arc<Volume>>,
}

#[derive(Debug, Clone)]
pub(crate) struct Snapshot {
    pub(crate) id: Uuid,
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) project_id: Uuid,
    pub(crate) disk_id: Uuid,
    pub(crate) size: u64,
    pub(crate) block_size: u32,
    pub(crate) state: &'static str,
    pub(crate) times: Times,
    /// The disk's bytes, when the disk kept them (an imported disk).
    pub(crate) volume: Option<Arc<Volume>>,
}

#[derive(Debug, Clone)]
pub(crate) struct SshKey {
    pub(crate) id: Uuid,
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) public_key: String,
    pub(crate) times: Times,
}

/// Everything in the simulated silo.
#[derive(Debug)]
pub(crate) struct World {
    pub(crate) user_id: Uuid,
    /// When the current user was created.
    pub(crate) user_times: Times,
    /// The silo the user and the projects belong to ([`SEED_SILO`]).
    pub(crate) silo_id: Uuid,
    pub(crate) projects: Vec<Project>,
    pub(crate) vpcs: Vec<Vpc>,
    pub(crate) pools: Vec<Pool>,
    pub(crate) images: Vec<Image>,
    pub(crate) instances: Vec<Instance>,
    pub(crate) disks: Vec<Disk>,
    pub(crate) snapshots: Vec<Snapshot>,
    pub(crate) ssh_keys: Vec<SshKey>,
    /// The instances' simulated guests, when SSH is on.
    pub(crate) vms: Option<crate::machine::Machines>,
}

/// The project every simulator starts with.
pub const SEED_PROJECT: &str = "imagebake";

/// The silo's name.
pub const SEED_SILO: &str = "imagebake-silo";

/// The current user's display name.
pub const SEED_USER: &str = "imagebake-sim";

impl World {
    /// A silo with project `imagebake` (VPC `default`, subnet `default`), a
    /// default IPv4 pool `default`, silo images `debian-12` and
    /// `ubuntu-24-04`, and project image `alpine-3-20`.
    pub(crate) fn seeded() -> Self {
        let project = Project {
            id: Uuid::new_v4(),
            name: SEED_PROJECT.into(),
            times: Times::now(),
        };
        let image = |name: &str, os: &str, version: &str, project_id| Image {
            id: Uuid::new_v4(),
            name: name.into(),
            description: format!("{os} {version}"),
            os: os.into(),
            version: version.into(),
            size: GIB,
            block_size: 512,
            project_id,
            times: Times::now(),
            volume: None,
        };
        Self {
            user_id: Uuid::new_v4(),
            user_times: Times::now(),
            silo_id: Uuid::new_v4(),
            vpcs: vec![Vpc {
                project_id: project.id,
                name: "default".into(),
                subnets: vec!["default".into()],
            }],
            pools: vec![Pool {
                id: Uuid::new_v4(),
                name: "default".into(),
                description: "default IPv4 pool".into(),
                ip_version: "v4",
                is_default: true,
                times: Times::now(),
            }],
            images: vec![
                image("debian-12", "debian", "12", None),
                image("ubuntu-24-04", "ubuntu", "24.04", None),
                image("alpine-3-20", "alpine", "3.20", Some(project.id)),
            ],
            projects: vec![project],
            instances: Vec::new(),
            disks: Vec::new(),
            snapshots: Vec::new(),
            ssh_keys: Vec::new(),
            vms: None,
        }
    }

    /// Applies every due instance transition.
    pub(crate) fn settle(&mut self, now: Instant) {
        super::vm::settle_all(self, now);
    }

    /// Finds a project by name or ID.
    pub(crate) fn project(&self, sel: &str) -> Result<&Project, ApiError> {
        let found = match Uuid::try_parse(sel) {
            Ok(id) => self.projects.iter().find(|p| p.id == id),
            Err(_) => self.projects.iter().find(|p| p.name == sel),
        };
        found.ok_or_else(|| ApiError::not_found("project", sel))
    }
}

/// A record that lives in a project (or the silo) and has a name and an ID.
pub(crate) trait Named {
    fn id(&self) -> Uuid;
    fn name(&self) -> &str;
    fn project_id(&self) -> Option<Uuid>;
}

macro_rules! named {
    ($t:ty, $project:expr) => {
        impl Named for $t {
            fn id(&self) -> Uuid {
                self.id
            }
            fn name(&self) -> &str {
                &self.name
            }
            fn project_id(&self) -> Option<Uuid> {
                let f: fn(&$t) -> Option<Uuid> = $project;
                f(self)
            }
        }
    };
}
named!(Project, |_| None);
named!(Pool, |_| None);
named!(Image, |i| i.project_id);
named!(Instance, |i| Some(i.project_id));
named!(Disk, |d| Some(d.project_id));
named!(Snapshot, |s| Some(s.project_id));
named!(SshKey, |_| None);

/// Resolves a `{resource}` path segment with its optional `project` query
/// following Nexus's lookup rule, returning the record's index.
///
/// `silo_by_name`: a name without project looks among silo-level records
/// (images) instead of being an error.
pub(crate) fn lookup<T: Named>(
    world: &World,
    items: &[T],
    kind: &str,
    sel: &str,
    project: Option<&str>,
    silo_by_name: bool,
) -> Result<usize, ApiError> {
    if let Ok(id) = Uuid::try_parse(sel) {
        if project.is_some() {
            return Err(ApiError::bad_request(format!(
                "when providing {kind} as an ID, project should not be specified"
            )));
        }
        return items
            .iter()
            .position(|r| r.id() == id)
            .ok_or_else(|| ApiError::not_found(kind, sel));
    }
    let scope = match project {
        Some(p) => Some(world.project(p)?.id),
        None if silo_by_name => None,
        None => {
            return Err(ApiError::bad_request(format!(
                "when providing {kind} as a name, project must be specified"
            )));
        }
    };
    items
        .iter()
        .position(|r| r.name() == sel && r.project_id() == scope)
        .ok_or_else(|| ApiError::not_found(kind, sel))
}

/// Fails with `ObjectAlreadyExists` if `name` is taken in `scope`.
pub(crate) fn ensure_free<T: Named>(
    items: &[T],
    kind: &str,
    name: &str,
    scope: Option<Uuid>,
) -> Result<(), ApiError> {
    if items
        .iter()
        .any(|r| r.name() == name && r.project_id() == scope)
    {
        return Err(ApiError::already_exists(kind, name));
    }
    Ok(())
}

/// Why `value` is not a valid `Name`, if it is not.
pub(crate) fn name_problem(value: &str) -> Option<&'static str> {
    if value.is_empty() || value.len() > 63 {
        return Some("name must be 1 to 63 characters");
    }
    if !value.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Some("name must begin with a lower case ASCII letter");
    }
    if !value.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Some("name contains an invalid character");
    }
    if value.ends_with('-') {
        return Some("name cannot end with \"-\"");
    }
    if value.len() == 36 && Uuid::try_parse(value).is_ok() {
        return Some("name cannot be a UUID");
    }
    None
}

/// Checks a `Name` field of a request body (400 like dropshot's body errors).
pub(crate) fn check_name(field: &str, value: &str) -> Result<(), ApiError> {
    match name_problem(value) {
        None => Ok(()),
        Some(why) => Err(ApiError::bad_request(format!(
            "unable to parse JSON body: {field}: {why} (got {value:?})"
        ))),
    }
}

/// Checks a `Hostname` (RFC 1035 labels, at most 253 characters).
pub(crate) fn check_hostname(value: &str) -> Result<(), ApiError> {
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if value.is_empty() || value.len() > 253 || !value.split('.').all(label_ok) {
        return Err(ApiError::bad_request(format!(
            "unable to parse JSON body: hostname: not an RFC 1035 hostname (got {value:?})"
        )));
    }
    Ok(())
}

impl World {
    /// `CurrentUser`: the one user, a silo admin.
    pub(crate) fn current_user_view(&self) -> Value {
        json!({
            "id": self.user_id, "display_name": SEED_USER,
            "silo_id": self.silo_id, "silo_name": SEED_SILO,
            "silo_admin": true, "fleet_viewer": false,
            "time_created": self.user_times.created, "time_modified": self.user_times.modified,
        })
    }
}

impl Project {
    pub(crate) fn view(&self) -> Value {
        json!({
            "id": self.id, "name": self.name, "description": "the imagebake project",
            "time_created": self.times.created, "time_modified": self.times.modified,
        })
    }
}

impl Pool {
    pub(crate) fn view(&self) -> Value {
        json!({
            "id": self.id, "name": self.name, "description": self.description,
            "ip_version": self.ip_version, "pool_type": "unicast", "is_default": self.is_default,
            "time_created": self.times.created, "time_modified": self.times.modified,
        })
    }
}

impl Image {
    pub(crate) fn view(&self) -> Value {
        json!({
            "id": self.id, "name": self.name, "description": self.description,
            "os": self.os, "version": self.version, "size": self.size,
            "block_size": self.block_size, "digest": null, "project_id": self.project_id,
            "time_created": self.times.created, "time_modified": self.times.modified,
        })
    }
}

impl Instance {
    pub(crate) fn view(&self) -> Value {
        let auto_restart_enabled = self.auto_restart_policy.as_deref() != Some("never");
        json!({
            "id": self.id, "name": self.name, "description": self.description,
            "project_id": self.project_id, "hostname": self.hostname,
            "ncpus": self.ncpus, "memory": self.memory, "run_state": self.state,
            "time_run_state_updated": self.state_updated, "boot_disk_id": self.boot_disk_id,
            "auto_restart_enabled": auto_restart_enabled,
            "auto_restart_policy": self.auto_restart_policy,
            "auto_restart_cooldown_expiration": null, "time_last_auto_restarted": null,
            "cpu_platform": null, "enable_jumbo_frames": false,
            "time_created": self.times.created, "time_modified": self.times.modified,
        })
    }
}

impl Disk {
    pub(crate) fn view(&self) -> Value {
        let state = match &self.state {
            DiskState::Attached(i) => json!({ "state": "attached", "instance": i }),
            s => json!({ "state": s.name() }),
        };
        json!({
            "id": self.id, "name": self.name, "description": self.description,
            "project_id": self.project_id, "size": self.size, "block_size": self.block_size,
            "device_path": format!("/mnt/{}", self.name), "disk_type": "distributed",
            "read_only": self.read_only, "image_id": self.image_id, "snapshot_id": self.snapshot_id,
            "state": state,
            "time_created": self.times.created, "time_modified": self.times.modified,
        })
    }
}

impl Snapshot {
    pub(crate) fn view(&self) -> Value {
        json!({
            "id": self.id, "name": self.name, "description": self.description,
            "project_id": self.project_id, "disk_id": self.disk_id, "size": self.size,
            "state": self.state,
            "time_created": self.times.created, "time_modified": self.times.modified,
        })
    }
}

impl SshKey {
    pub(crate) fn view(&self, user_id: Uuid) -> Value {
        json!({
            "id": self.id, "name": self.name, "description": self.description,
            "public_key": self.public_key, "silo_user_id": user_id,
            "time_created": self.times.created, "time_modified": self.times.modified,
        })
    }
}

/// The current time as RFC 3339 UTC with microseconds.
pub(crate) fn now_rfc3339() -> String {
    crate::clock::rfc3339_micros(SystemTime::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_rules() {
        assert_eq!(name_problem("debian-12"), None);
        assert!(name_problem("Debian").is_some());
        assert!(name_problem("a-").is_some());
        assert!(name_problem("d0c5a0d8-2f2f-4b4b-8c8c-0123456789ab").is_some());
    }
}
