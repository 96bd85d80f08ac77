//! The simulated account: records, their state machines and their JSON views.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use serde_json::{Value, json};
use tokio::time::Instant;

use super::OscDelays;
use super::auth::iso_millis;

/// Our own account id.
pub(crate) const ACCOUNT_ID: &str = "123456789012";
/// The account that publishes the public images.
pub(crate) const OUTSCALE_ACCOUNT_ID: &str = "999999999999";
/// Its alias.
pub(crate) const OUTSCALE_ALIAS: &str = "Outscale";

#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Perms {
    pub account_ids: Vec<String>,
    pub global: bool,
}

impl Perms {
    pub fn allows(&self, account: &str) -> bool {
        self.global || self.account_ids.iter().any(|a| a == account)
    }
    pub fn view(&self) -> Value {
        json!({"AccountIds": self.account_ids, "GlobalPermission": self.global})
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Pending,
    Done,
    Failed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LinkPhase {
    Attaching,
    Attached,
    Detaching,
}

#[derive(Debug, Clone)]
pub(crate) struct Link {
    pub vm_id: String,
    pub device_name: String,
    pub phase: LinkPhase,
    pub ready_at: Instant,
    pub fail: bool,
    pub loop_dev: Option<String>,
    pub links: Vec<(PathBuf, String)>,
    pub date: String,
}

#[derive(Debug, Clone)]
pub(crate) struct VolumeRec {
    pub id: String,
    pub size: u64,
    pub volume_type: String,
    pub iops: Option<i64>,
    pub snapshot_id: Option<String>,
    pub subregion: String,
    pub created: String,
    pub client_token: Option<String>,
    pub phase: Phase,
    pub ready_at: Instant,
    pub fail: bool,
    pub link: Option<Link>,
    pub file: Option<PathBuf>,
    pub seed: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct SnapshotRec {
    pub id: String,
    pub volume_id: Option<String>,
    pub volume_size: u64,
    pub owner: String,
    pub alias: Option<String>,
    pub description: String,
    pub created: String,
    pub client_token: Option<String>,
    pub phase: Phase,
    pub ready_at: Instant,
    pub fail: bool,
    pub perms: Perms,
    pub file: PathBuf,
    pub seed: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct ImageRec {
    pub id: String,
    pub name: String,
    pub owner: String,
    pub alias: Option<String>,
    pub description: String,
    pub architecture: String,
    pub root_device_name: String,
    pub mappings: Vec<Value>,
    pub boot_modes: Vec<String>,
    pub product_codes: Vec<String>,
    pub tpm_mandatory: bool,
    pub created: String,
    pub phase: Phase,
    pub ready_at: Instant,
    pub fail: bool,
    pub perms: Perms,
    pub seed: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct VmRec {
    pub id: String,
    pub image_id: String,
    pub subregion: String,
    pub created: String,
}

/// Everything the account holds.
#[derive(Debug)]
pub(crate) struct State {
    next_id: u64,
    pub region: String,
    pub volumes: BTreeMap<String, VolumeRec>,
    pub snapshots: BTreeMap<String, SnapshotRec>,
    pub images: BTreeMap<String, ImageRec>,
    pub vms: BTreeMap<String, VmRec>,
    pub tags: HashMap<String, BTreeMap<String, String>>,
    pub delays: OscDelays,
}

/// Now as an OAPI date-time.
pub(crate) fn now_iso() -> String {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    iso_millis(ms)
}

impl State {
    pub fn new(region: &str, delays: OscDelays) -> Self {
        Self {
            next_id: 0x1000,
            region: region.to_owned(),
            volumes: BTreeMap::new(),
            snapshots: BTreeMap::new(),
            images: BTreeMap::new(),
            vms: BTreeMap::new(),
            tags: HashMap::new(),
            delays,
        }
    }

    /// A fresh id: `vol-0000100a`.
    pub fn id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}-{:08x}", self.next_id)
    }

    /// Moves every resource whose delay has passed to its next state.
    pub fn settle(&mut self, now: Instant) {
        for v in self.volumes.values_mut() {
            if v.phase == Phase::Pending && now >= v.ready_at {
                v.phase = if v.fail { Phase::Failed } else { Phase::Done };
            }
            if let Some(l) = &mut v.link {
                match l.phase {
                    LinkPhase::Attaching if now >= l.ready_at => {
                        l.phase = LinkPhase::Attached;
                        if l.fail {
                            v.phase = Phase::Failed;
                        }
                    }
                    LinkPhase::Detaching if now >= l.ready_at => v.link = None,
                    _ => {}
                }
            }
        }
        for s in self.snapshots.values_mut() {
            if s.phase == Phase::Pending && now >= s.ready_at {
                s.phase = if s.fail { Phase::Failed } else { Phase::Done };
            }
        }
        for i in self.images.values_mut() {
            if i.phase == Phase::Pending && now >= i.ready_at {
                i.phase = if i.fail { Phase::Failed } else { Phase::Done };
            }
        }
    }

    pub fn tags_view(&self, id: &str) -> Value {
        let tags: Vec<Value> = self
            .tags
            .get(id)
            .map(|t| {
                t.iter()
                    .map(|(k, v)| json!({"Key": k, "Value": v}))
                    .collect()
            })
            .unwrap_or_default();
        Value::Array(tags)
    }

    pub fn volume_view(&self, v: &VolumeRec) -> Value {
        let state = match (v.phase, &v.link) {
            (Phase::Failed, _) => "error",
            (Phase::Pending, _) => "creating",
            (Phase::Done, Some(_)) => "in-use",
            (Phase::Done, None) => "available",
        };
        let links: Vec<Value> = v
            .link
            .iter()
            .map(|l| {
                json!({
                    "VolumeId": v.id,
                    "VmId": l.vm_id,
                    "DeviceName": l.device_name,
                    "DeleteOnVmDeletion": v.seed,
                    "State": match l.phase {
                        LinkPhase::Attaching => "attaching",
                        LinkPhase::Attached => "attached",
                        LinkPhase::Detaching => "detaching",
                    },
                })
            })
            .collect();
        let mut out = json!({
            "VolumeId": v.id,
            "State": state,
            "Size": v.size,
            "VolumeType": v.volume_type,
            "SubregionName": v.subregion,
            "CreationDate": v.created,
            "LinkedVolumes": links,
            "Tags": self.tags_view(&v.id),
        });
        if let Some(i) = v.iops {
            out["Iops"] = json!(i);
        }
        if let Some(s) = &v.snapshot_id {
            out["SnapshotId"] = json!(s);
        }
        if let Some(t) = &v.client_token {
            out["ClientToken"] = json!(t);
        }
        out
    }

    pub fn snapshot_view(&self, s: &SnapshotRec) -> Value {
        let (state, progress) = match s.phase {
            Phase::Pending => ("pending", 50),
            Phase::Done => ("completed", 100),
            Phase::Failed => ("error", 0),
        };
        let mut out = json!({
            "SnapshotId": s.id,
            "State": state,
            "Progress": progress,
            "VolumeSize": s.volume_size,
            "AccountId": s.owner,
            "Description": s.description,
            "CreationDate": s.created,
            "PermissionsToCreateVolume": s.perms.view(),
            "Tags": self.tags_view(&s.id),
        });
        if let Some(v) = &s.volume_id {
            out["VolumeId"] = json!(v);
        }
        if let Some(a) = &s.alias {
            out["AccountAlias"] = json!(a);
        }
        if let Some(t) = &s.client_token {
            out["ClientToken"] = json!(t);
        }
        out
    }

    pub fn image_view(&self, i: &ImageRec) -> Value {
        let state = match i.phase {
            Phase::Pending => "pending",
            Phase::Done => "available",
            Phase::Failed => "failed",
        };
        let comment = if i.phase == Phase::Failed {
            json!({"StateCode": "Server.InternalError", "StateMessage": "image registration failed (injected)"})
        } else {
            json!({})
        };
        let mut out = json!({
            "ImageId": i.id,
            "ImageName": i.name,
            "State": state,
            "StateComment": comment,
            "AccountId": i.owner,
            "Architecture": i.architecture,
            "BlockDeviceMappings": i.mappings,
            "BootModes": i.boot_modes,
            "CreationDate": i.created,
            "Description": i.description,
            "FileLocation": format!("{}/{}", i.alias.as_deref().unwrap_or(&i.owner), i.name),
            "ImageType": "machine",
            "PermissionsToLaunch": i.perms.view(),
            "ProductCodes": i.product_codes,
            "RootDeviceName": i.root_device_name,
            "RootDeviceType": "bsu",
            "SecureBoot": false,
            "TpmMandatory": i.tpm_mandatory,
            "Tags": self.tags_view(&i.id),
        });
        if let Some(a) = &i.alias {
            out["AccountAlias"] = json!(a);
        }
        out
    }

    pub fn vm_view(&self, vm: &VmRec) -> Value {
        let mut devices: Vec<Value> = self
            .volumes
            .values()
            .filter_map(|v| {
                let l = v.link.as_ref().filter(|l| l.vm_id == vm.id)?;
                Some(json!({
                    "DeviceName": l.device_name,
                    "Bsu": {
                        "VolumeId": v.id,
                        "State": match l.phase {
                            LinkPhase::Attaching => "attaching",
                            LinkPhase::Attached => "attached",
                            LinkPhase::Detaching => "detaching",
                        },
                        "DeleteOnVmDeletion": v.seed,
                        "LinkDate": l.date,
                    }
                }))
            })
            .collect();
        devices.sort_by(|a, b| a["DeviceName"].as_str().cmp(&b["DeviceName"].as_str()));
        json!({
            "VmId": vm.id,
            "State": "running",
            "Placement": {"SubregionName": vm.subregion, "Tenancy": "default"},
            "ImageId": vm.image_id,
            "VmType": "tinav5.c2r4p2",
            "Architecture": "x86_64",
            "BootMode": "legacy",
            "RootDeviceName": "/dev/sda1",
            "RootDeviceType": "bsu",
            "BlockDeviceMappings": devices,
            "CreationDate": vm.created,
            "PrivateIp": "10.0.0.10",
            "Tags": self.tags_view(&vm.id),
        })
    }

    /// Whether `account` may see image `i`.
    pub fn image_visible(i: &ImageRec, account: &str) -> bool {
        i.owner == account || i.perms.allows(account)
    }

    /// Whether `account` may see (and use) snapshot `s`.
    pub fn snapshot_visible(s: &SnapshotRec, account: &str) -> bool {
        s.owner == account || s.perms.allows(account)
    }

    pub fn exists(&self, id: &str) -> bool {
        self.volumes.contains_key(id)
            || self.vms.contains_key(id)
            || self
                .snapshots
                .get(id)
                .is_some_and(|s| Self::snapshot_visible(s, ACCOUNT_ID))
            || self
                .images
                .get(id)
                .is_some_and(|i| Self::image_visible(i, ACCOUNT_ID))
    }
}
