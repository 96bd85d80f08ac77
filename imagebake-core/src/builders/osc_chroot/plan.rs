//! A checked `osc-chroot` configuration: everything the build needs, with
//! the checks that need no request done.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use osc_client::ConfigBuilder;
use osc_client::types::{BlockDeviceMapping, BootMode, BsuToCreate, VolumeType};

use super::config::{BUILDER, OscChrootConfig};
use crate::Error;
use crate::builders::packer::{TemplateVars, config_error, duration_key};
use crate::steps::chroot::{ChrootSettings, DEFAULT_LOCK_PATH, chroot_keys};
use crate::steps::osc::{OmiSource, Waits};

/// The real metadata service.
pub const DEFAULT_METADATA_URL: &str = osc_client::metadata::DEFAULT_METADATA_URL;

#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub client: ConfigBuilder,
    pub metadata_url: String,
    pub source: Option<OmiSource>,
    pub omi_name: String,
    pub omi_description: Option<String>,
    pub boot_modes: Vec<BootMode>,
    pub root_volume_size: u64,
    pub root_volume_type: Option<VolumeType>,
    pub root_volume_tags: BTreeMap<String, String>,
    pub root_device_name: String,
    pub mappings: Vec<BlockDeviceMapping>,
    pub device_path: Option<String>,
    pub device_dir: PathBuf,
    pub lock_path: PathBuf,
    pub chroot: ChrootSettings,
    pub force_deregister: bool,
    pub force_delete_snapshot: bool,
    pub omi_account_ids: Vec<String>,
    pub snapshot_account_ids: Vec<String>,
    pub snapshot_public: bool,
    pub global_permission: bool,
    pub tags: BTreeMap<String, String>,
    pub snapshot_tags: BTreeMap<String, String>,
    pub waits: Waits,
}

/// Where `metadata_url` comes from when the template has none: the host's
/// setting, not the template's (a simulator's metadata service).
pub const METADATA_URL_ENV: &str = "IMAGEBAKE_OSC_METADATA_URL";
/// Where `device_dir` comes from when the template has none.
pub const DEVICE_DIR_ENV: &str = "IMAGEBAKE_OSC_DEVICE_DIR";

fn host_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The build template data of `omi_description`, `root_volume_tags`,
/// `tags` and `snapshot_tags` (`{{.SourceOMITags.Key}}` for one tag).
pub(crate) const BUILD_DATA: &[&str] =
    &["BuildRegion", "SourceOMI", "SourceOMIName", "SourceOMITags"];

fn err(msg: &str) -> Error {
    config_error(BUILDER, msg)
}

/// [`Error::ConfigKey`] about `key`.
fn err_at(key: &str, message: &str) -> Error {
    crate::builders::packer::config_key_error(BUILDER, key, message)
}

/// OAPI image names: 3-128 of letters, digits and `()[] ./-'@_`.
fn valid_omi_name(name: &str) -> bool {
    (3..=128).contains(&name.chars().count())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "()[] ./-'@_".contains(c))
}

fn volume_type(key: &str, v: &str) -> Result<VolumeType, Error> {
    match v {
        "standard" | "gp2" | "io1" => Ok(VolumeType::from(v)),
        other => Err(err_at(
            key,
            &format!("key `{key}`: {other:?} is not a volume type (standard, gp2, io1)"),
        )),
    }
}

impl Plan {
    pub(crate) fn new(c: &OscChrootConfig, vars: &TemplateVars) -> Result<Self, Error> {
        if c.omi_name.trim().is_empty() {
            return Err(err_at("omi_name", "missing required key `omi_name`"));
        }
        let omi_name = vars.expand(BUILDER, "omi_name", &c.omi_name)?;
        if !valid_omi_name(&omi_name) {
            return Err(err_at(
                "omi_name",
                &format!(
                    "key `omi_name`: {omi_name:?} must be 3-128 letters, digits or ()[] ./-'@_"
                ),
            ));
        }
        let omi_description = c
            .omi_description
            .as_deref()
            .map(|d| vars.expand_keeping(BUILDER, "omi_description", d, BUILD_DATA))
            .transpose()?;

        let mut client = osc_client::Config::builder().tls_skip_verify(c.insecure_skip_tls_verify);
        match (&c.access_key, &c.secret_key) {
            (Some(a), Some(s)) if !a.is_empty() => {
                client = client.access_key(a.clone()).secret_key(s.clone());
            }
            (None, None) => {}
            _ => return Err(err("`access_key` and `secret_key` go together")),
        }
        if let Some(r) = c.region.as_deref().filter(|r| !r.is_empty()) {
            client = client.region(r);
        }
        if let Some(e) = c.custom_endpoint_oapi.as_deref().filter(|e| !e.is_empty()) {
            client = client.endpoint(e);
        }

        let source = if c.from_scratch {
            None
        } else {
            match (&c.source_omi, &c.source_omi_filter) {
                (None, None) => {
                    return Err(err(
                        "one of `source_omi` and `source_omi_filter` is required (or `from_scratch`)",
                    ));
                }
                (Some(id), None) => Some(OmiSource::Id(id.clone())),
                (id, Some(f)) => {
                    let mut filters = f.filters.clone();
                    if let Some(id) = id {
                        filters.insert("image-id".to_owned(), id.clone());
                    }
                    crate::steps::osc::source_omi_filters_check(&filters).map_err(|e| {
                        err_at(
                            "source_omi_filter",
                            &format!("key `source_omi_filter`: {e}"),
                        )
                    })?;
                    Some(OmiSource::Filter {
                        filters,
                        owners: f.owners.clone(),
                        most_recent: f.most_recent,
                    })
                }
            }
        };

        let boot_modes = c
            .omi_boot_modes
            .iter()
            .map(|b| match b.as_str() {
                "legacy" => Ok(BootMode::Legacy),
                "uefi" => Ok(BootMode::Uefi),
                other => Err(err_at(
                    "omi_boot_modes",
                    &format!("key `omi_boot_modes`: {other:?} is not a boot mode (legacy, uefi)"),
                )),
            })
            .collect::<Result<Vec<_>, _>>()?;
        match c.omi_virtualization_type.as_deref().map(str::trim) {
            None | Some("" | "hvm") => {}
            Some("paravirtual") => {
                return Err(err_at(
                    "omi_virtualization_type",
                    "key `omi_virtualization_type`: the OAPI makes only hvm images, not paravirtual",
                ));
            }
            Some(other) => {
                return Err(err_at(
                    "omi_virtualization_type",
                    &format!("key `omi_virtualization_type`: {other:?} is not hvm or paravirtual"),
                ));
            }
        }
        let mut snapshot_public = false;
        for g in &c.snapshot_groups {
            if g == "all" {
                snapshot_public = true;
            } else {
                return Err(err_at(
                    "snapshot_groups",
                    &format!("key `snapshot_groups`: {g:?} is not a group (the only one is `all`)"),
                ));
            }
        }
        let mut snapshot_account_ids = c.snapshot_account_ids.clone();
        for u in &c.snapshot_users {
            if !snapshot_account_ids.contains(u) {
                snapshot_account_ids.push(u.clone());
            }
        }
        let root_volume_type = c
            .root_volume_type
            .as_deref()
            .filter(|t| !t.is_empty())
            .map(|t| volume_type("root_volume_type", t))
            .transpose()?;

        let mut mappings = Vec::new();
        for (i, m) in c.omi_block_device_mappings.iter().enumerate() {
            let key = format!("omi_block_device_mappings[{i}]");
            if m.device_name.trim().is_empty() {
                return Err(err(&format!("key `{key}.device_name` is required")));
            }
            if m.no_device {
                continue;
            }
            if let Some(v) = m.virtual_name.as_deref().filter(|v| !v.is_empty()) {
                mappings.push(BlockDeviceMapping {
                    device_name: m.device_name.clone(),
                    bsu: None,
                    virtual_device_name: Some(v.to_owned()),
                });
                continue;
            }
            let vt = m
                .volume_type
                .as_deref()
                .map(|t| volume_type(&format!("{key}.volume_type"), t))
                .transpose()?;
            if m.iops.is_some() && vt != Some(VolumeType::Io1) {
                return Err(err(&format!(
                    "key `{key}.iops`: only io1 volumes take iops"
                )));
            }
            mappings.push(BlockDeviceMapping {
                device_name: m.device_name.clone(),
                bsu: Some(BsuToCreate {
                    snapshot_id: m.snapshot_id.clone(),
                    volume_size: m.volume_size,
                    volume_type: vt,
                    iops: m.iops,
                    delete_on_vm_deletion: Some(m.delete_on_vm_deletion),
                }),
                virtual_device_name: None,
            });
        }
        let root_device_name = c.root_device_name.clone().unwrap_or_default();
        if c.from_scratch {
            if c.root_volume_size == 0 {
                return Err(err("`from_scratch` needs `root_volume_size`"));
            }
            if c.pre_mount_commands.is_empty() {
                return Err(err(
                    "`from_scratch` needs `pre_mount_commands` (to partition and format the volume)",
                ));
            }
            if root_device_name.is_empty() {
                return Err(err("`from_scratch` needs `root_device_name`"));
            }
            if !mappings.iter().any(|m| m.device_name == root_device_name) {
                return Err(err(&format!(
                    "`from_scratch` needs `omi_block_device_mappings` with an entry for \
                     the root device {root_device_name}"
                )));
            }
        }

        let templated = |key: &str, map: &BTreeMap<String, String>| {
            map.iter()
                .map(|(k, v)| {
                    let v = vars.expand_keeping(BUILDER, &format!("{key}.{k}"), v, BUILD_DATA)?;
                    Ok((k.clone(), v))
                })
                .collect::<Result<BTreeMap<_, _>, Error>>()
        };
        let tags = templated("tags", &c.tags)?;
        let snapshot_tags = templated("snapshot_tags", &c.snapshot_tags)?;
        let root_volume_tags = templated("root_volume_tags", &c.root_volume_tags)?;

        let d = |key: &str, v: &Option<String>, default: u64| {
            duration_key(BUILDER, key, v.as_deref(), Duration::from_secs(default))
        };
        let waits = Waits {
            volume: d("volume_timeout", &c.volume_timeout, 600)?,
            snapshot: d("snapshot_timeout", &c.snapshot_timeout, 3600)?,
            image: d("image_timeout", &c.image_timeout, 3600)?,
            device: d("device_timeout", &c.device_timeout, 120)?,
            poll_cap: d("poll_cap", &c.poll_cap, 2)?,
        };
        if waits.poll_cap.is_zero() {
            return Err(err_at("poll_cap", "key `poll_cap` must be more than 0"));
        }

        let keys = chroot_keys!(c, "1");
        let chroot = ChrootSettings::from_keys(BUILDER, &keys, waits.device)?
            .mount_device(c.nvme_device_path.clone());

        Ok(Self {
            client,
            metadata_url: c
                .metadata_url
                .clone()
                .or_else(|| host_env(METADATA_URL_ENV))
                .unwrap_or_else(|| DEFAULT_METADATA_URL.to_owned()),
            source,
            omi_name,
            omi_description,
            boot_modes,
            root_volume_size: c.root_volume_size,
            root_volume_type,
            root_volume_tags,
            root_device_name,
            mappings,
            device_path: c.device_path.clone().filter(|d| !d.is_empty()),
            device_dir: c
                .device_dir
                .clone()
                .or_else(|| host_env(DEVICE_DIR_ENV).map(PathBuf::from))
                .unwrap_or_else(|| PathBuf::from("/dev")),
            chroot,
            lock_path: c
                .device_lock_path
                .clone()
                .unwrap_or_else(|| PathBuf::from(DEFAULT_LOCK_PATH)),
            force_deregister: c.force_deregister || c.packer_force,
            force_delete_snapshot: c.force_delete_snapshot,
            omi_account_ids: c.omi_account_ids.clone(),
            snapshot_account_ids,
            snapshot_public,
            global_permission: c.global_permission,
            tags,
            snapshot_tags,
            waits,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn omi_names() {
        assert!(valid_omi_name("my-image (1.0) [x]"));
        assert!(!valid_omi_name("ab"));
        assert!(!valid_omi_name("bad*name"));
    }

    fn plan(extra: serde_json::Value) -> Result<Plan, Error> {
        let mut v = serde_json::json!({"omi_name": "abc", "source_omi": "ami-1",
            "access_key": "a", "secret_key": "s"});
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        let vars = TemplateVars {
            timestamp: "1700000000".into(),
            uuid: "u".into(),
        };
        Plan::new(&OscChrootConfig::from_json(&v)?, &vars)
    }

    #[test]
    fn seed_keys() {
        let p = plan(serde_json::json!({
            "omi_virtualization_type": "hvm", "skip_region_validation": true,
            "snapshot_users": ["1", "2"], "snapshot_account_ids": ["2", "3"],
            "snapshot_groups": ["all"], "packer_force": true,
            "tags": {"at": "{{timestamp}}-{{.BuildRegion}}"},
            "omi_description": "{{ .SourceOMITags.Name }}",
        }))
        .unwrap();
        assert_eq!(p.snapshot_account_ids, ["2", "3", "1"]);
        assert!(p.snapshot_public && p.force_deregister);
        assert_eq!(p.tags["at"], "1700000000-{{.BuildRegion}}");
        assert_eq!(
            p.omi_description.as_deref(),
            Some("{{ .SourceOMITags.Name }}")
        );
        for (extra, key) in [
            (
                serde_json::json!({"omi_virtualization_type": "paravirtual"}),
                "omi_virtualization_type",
            ),
            (
                serde_json::json!({"snapshot_groups": ["everyone"]}),
                "snapshot_groups",
            ),
            (
                serde_json::json!({"root_volume_tags": {"a": "{{.Device}}"}}),
                "root_volume_tags.a",
            ),
            (
                serde_json::json!({"omi_description": "{{isotime}}"}),
                "omi_description",
            ),
        ] {
            let e = plan(extra).unwrap_err();
            assert_eq!(e.config_key(), Some(key), "{e}");
        }
    }

    #[test]
    fn virtual_name_is_an_ephemeral_mapping() {
        let p = plan(serde_json::json!({
            "from_scratch": true, "root_volume_size": 1, "root_device_name": "/dev/sda1",
            "pre_mount_commands": ["true"],
            "omi_block_device_mappings": [
                {"device_name": "/dev/sda1", "volume_type": "gp2"},
                {"device_name": "/dev/sdb", "virtual_name": "ephemeral0"},
            ],
        }))
        .unwrap();
        assert_eq!(p.mappings.len(), 2);
        assert_eq!(
            p.mappings[1].virtual_device_name.as_deref(),
            Some("ephemeral0")
        );
        assert!(p.mappings[1].bsu.is_none());
    }
}
