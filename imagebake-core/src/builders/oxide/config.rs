//! The `oxide-instance` builder's configuration: the Oxide plugin's keys,
//! decoded and checked before any request is made.

use imagebake_http::Secret;
use serde::Deserialize;
use serde_json::Value;

use crate::Error;
use crate::builders::common::{SSH_KEYS, SshOptions, split_ssh_keys};
use crate::builders::packer::{self, config_error, config_key_error, secret_opt};

/// The builder's type name in a Packer template.
pub const BUILDER: &str = "oxide-instance";

/// The builder's own keys (the plugin's, and imagebake's wait settings);
/// the communicator keys ([`SSH_KEYS`]) are accepted too.
pub const KEYS: &[&str] = &[
    "host",
    "token",
    "profile",
    "insecure_skip_verify",
    "boot_disk_image_id",
    "boot_disk_image_name",
    "boot_disk_image_scope",
    "project",
    "boot_disk_size",
    "ip_pool",
    "vpc",
    "subnet",
    "name",
    "hostname",
    "cpus",
    "memory",
    "ssh_public_keys",
    "artifact_name",
    "artifact_os",
    "artifact_version",
    "artifact_description",
    "user_data",
    "skip_create_image",
    "temporary_key_pair_name",
    "state_timeout",
    "poll_cap",
    "shutdown_timeout",
    "request_timeout",
    "packer_force",
];

/// The keys without which there is no build (`boot_disk_image_id` or
/// `boot_disk_image_name` is needed as well).
pub const REQUIRED: &[&str] = &["project"];

/// The `oxide-instance` builder's configuration: the keys of the Oxide
/// Packer plugin (see [`KEYS`]) and the communicator keys ([`SshOptions`]).
/// Decode it with [`OxideConfig::from_json`]; the checks that need no
/// request run in [`OxideBuilder::new`](super::OxideBuilder::new).
///
/// Differences from the plugin, all stricter or additive:
/// - the source image is `boot_disk_image_id` (a UUID) or
///   `boot_disk_image_name`, looked up in `project` then among the silo's
///   images (`boot_disk_image_scope`: `project` or `silo` to pick one);
/// - names default to the build id (instance, boot disk, NIC, snapshot,
///   temporary key) and `<source image name>-<build id>` (image), so a
///   sweep finds leftovers, and are checked before any request;
/// - `state_timeout` (instance and snapshot waits, default `10m`),
///   `poll_cap` (longest pause between polls, default `2s`),
///   `shutdown_timeout` (the guest's own shutdown, default `5m`) and
///   `request_timeout` (one API call, default `5m`: sagas run inside the
///   call) replace the plugin's silent 30 s;
/// - `{{timestamp}}` and `{{uuid}}` work in the names and descriptions;
/// - `ssh_username` is required with `communicator: ssh` (as in Packer).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OxideConfig {
    /// Rack URL (with `token`; default `OXIDE_HOST` or the CLI profile).
    #[serde(default)]
    pub host: Option<String>,
    /// API token (with `host`).
    #[serde(default, deserialize_with = "secret_opt")]
    pub token: Option<Secret>,
    /// Profile of `~/.config/oxide/credentials.toml` (instead of host/token).
    #[serde(default)]
    pub profile: Option<String>,
    /// Skip TLS certificate verification.
    #[serde(default)]
    pub insecure_skip_verify: bool,
    /// UUID of the source image (project or silo image).
    #[serde(default)]
    pub boot_disk_image_id: Option<String>,
    /// Name of the source image, instead of its UUID.
    #[serde(default)]
    pub boot_disk_image_name: Option<String>,
    /// Where `boot_disk_image_name` is looked up: `project`, `silo`, or
    /// (default) the project then the silo.
    #[serde(default)]
    pub boot_disk_image_scope: Option<String>,
    /// Project (name or UUID) of the instance and the image.
    #[serde(default)]
    pub project: String,
    /// Boot disk size in bytes (default 20 GiB).
    #[serde(default)]
    pub boot_disk_size: Option<u64>,
    /// IP pool of the ephemeral IP (default: the silo's default pool).
    #[serde(default)]
    pub ip_pool: Option<String>,
    /// VPC (default `default`).
    #[serde(default)]
    pub vpc: Option<String>,
    /// Subnet (default `default`).
    #[serde(default)]
    pub subnet: Option<String>,
    /// Name of the instance, its boot disk, NIC and snapshot (default: the build id).
    #[serde(default)]
    pub name: Option<String>,
    /// Hostname (default: the name).
    #[serde(default)]
    pub hostname: Option<String>,
    /// vCPUs (default 1).
    #[serde(default)]
    pub cpus: Option<u64>,
    /// Memory in bytes (default 2 GiB).
    #[serde(default)]
    pub memory: Option<u64>,
    /// Names or IDs of the user's saved SSH keys to inject as well.
    #[serde(default)]
    pub ssh_public_keys: Vec<String>,
    /// Image name (default `<source image name>-<build id>`).
    #[serde(default)]
    pub artifact_name: Option<String>,
    /// Image OS (default: the source image's).
    #[serde(default)]
    pub artifact_os: Option<String>,
    /// Image version (default: the source image's).
    #[serde(default)]
    pub artifact_version: Option<String>,
    /// Image description (default: the source image's).
    #[serde(default)]
    pub artifact_description: Option<String>,
    /// User data, plain text (sent base64-encoded); at most 32 KiB.
    #[serde(default)]
    pub user_data: Option<String>,
    /// Boot and provision, but make no snapshot or image.
    #[serde(default)]
    pub skip_create_image: bool,
    /// Name of the temporary SSH key (default: the build id).
    #[serde(default)]
    pub temporary_key_pair_name: Option<String>,
    /// Limit of each instance or snapshot wait (default `10m`).
    #[serde(default)]
    pub state_timeout: Option<String>,
    /// Longest pause between two polls (default `2s`).
    #[serde(default)]
    pub poll_cap: Option<String>,
    /// How long the guest, shut down from inside, may take to stop before
    /// the API stop cuts its power (default `5m`).
    #[serde(default)]
    pub shutdown_timeout: Option<String>,
    /// Limit of one API call (default `5m`).
    #[serde(default)]
    pub request_timeout: Option<String>,
    /// `-force`: delete the project's image of the artifact's name right
    /// before the new one is made (as the plugin does).
    #[serde(default)]
    pub packer_force: bool,
    /// The communicator keys.
    #[serde(skip)]
    pub ssh: SshOptions,
}

impl OxideConfig {
    /// Decodes a builder block of a Packer JSON template (`type` allowed).
    /// Unknown keys, missing required keys and wrongly typed values are
    /// errors naming the key and the builder.
    ///
    /// `name` is the plugin's key (the instance's name), not Packer's build
    /// name: it must then be a valid Oxide name.
    pub fn from_json(value: &Value) -> Result<Self, Error> {
        if !value.is_object() {
            return Err(config_error(
                BUILDER,
                "the configuration must be a JSON object",
            ));
        }
        let (ssh, mut rest) = split_ssh_keys(value);
        // `packer::decode` drops Packer's `name`; here it is the instance's.
        let name = rest.get("name").cloned();
        let mut known: Vec<&str> = KEYS.to_vec();
        known.retain(|k| *k != "name");
        if let Some(obj) = rest.as_object_mut() {
            obj.remove("name");
        }
        let mut config: OxideConfig = packer::decode(BUILDER, &rest, &known, REQUIRED)?;
        config.name = match name {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s),
            Some(other) => {
                return Err(config_key_error(
                    BUILDER,
                    "name",
                    &format!("key `name`: expected a string, got {other}"),
                ));
            }
        };
        config.ssh = SshOptions::from_json(BUILDER, &ssh)?;
        Ok(config)
    }

    /// [`OxideConfig::from_json`] from text.
    pub fn from_json_str(text: &str) -> Result<Self, Error> {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| config_error(BUILDER, &format!("not valid JSON: {e}")))?;
        Self::from_json(&value)
    }

    /// Every key the builder accepts.
    pub fn all_keys() -> impl Iterator<Item = &'static str> {
        KEYS.iter().chain(SSH_KEYS).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn minimal() -> Value {
        json!({
            "type": "oxide-instance",
            "host": "https://oxide.example",
            "token": "oxide-token-secret",
            "project": "imagebake",
            "boot_disk_image_id": "d0c5a0d8-2f2f-4b4b-8c8c-0123456789ab",
        })
    }

    #[test]
    fn every_known_key_decodes() {
        let v = minimal();
        let extra = json!({
            "profile": "p", "insecure_skip_verify": true,
            "boot_disk_image_name": "debian-12", "boot_disk_image_scope": "silo",
            "boot_disk_size": 1u64 << 35, "ip_pool": "default", "vpc": "v", "subnet": "s",
            "name": "builder", "hostname": "h", "cpus": 2, "memory": 1u64 << 31,
            "ssh_public_keys": ["mine"], "artifact_name": "a", "artifact_os": "debian",
            "artifact_version": "12", "artifact_description": "d", "user_data": "#!/bin/sh",
            "skip_create_image": false, "temporary_key_pair_name": "k",
            "state_timeout": "10m", "poll_cap": "1s", "request_timeout": "1m",
            "shutdown_timeout": "1m", "packer_force": true,
            "communicator": "ssh", "ssh_host": "h", "ssh_port": 2222, "ssh_username": "u",
            "ssh_password": "pw", "ssh_private_key_file": "/k", "ssh_agent_auth": false,
            "ssh_timeout": "5m", "ssh_bastion_host": "b", "ssh_bastion_port": 22,
            "ssh_bastion_username": "bu", "ssh_bastion_password": "bp",
            "ssh_bastion_private_key_file": "/bk", "ssh_bastion_agent_auth": false,
        });
        let v = crate::builders::packer::merged(v, &extra);
        for k in OxideConfig::all_keys() {
            assert!(v.get(k).is_some(), "test misses {k}");
        }
        let c = OxideConfig::from_json(&v).unwrap();
        assert_eq!(c.name.as_deref(), Some("builder"));
        assert_eq!(c.ssh.ssh_port, Some(2222));
        assert_eq!(c.cpus, Some(2));
        let dbg = format!("{c:?}");
        assert!(
            !dbg.contains("oxide-token-secret") && !dbg.contains("\"pw\"") && !dbg.contains("bp"),
            "{dbg}"
        );
    }

    #[test]
    fn unknown_missing_and_mistyped_keys_are_named() {
        let mut v = minimal();
        v["ssh_pty"] = json!(true);
        let e = OxideConfig::from_json(&v).unwrap_err().to_string();
        assert_eq!(
            e,
            "invalid configuration: builder oxide-instance: unknown key `ssh_pty`"
        );
        let mut v = minimal();
        v.as_object_mut().unwrap().remove("project");
        let e = OxideConfig::from_json(&v).unwrap_err().to_string();
        assert!(
            e.contains("builder oxide-instance: missing required key `project`"),
            "{e}"
        );
        for (k, bad) in [
            ("cpus", json!("two")),
            ("ssh_port", json!("x")),
            ("name", json!(3)),
        ] {
            let mut v = minimal();
            v[k] = bad;
            let e = OxideConfig::from_json(&v).unwrap_err().to_string();
            assert!(
                e.contains(&format!("builder oxide-instance: key `{k}`")),
                "{e}"
            );
        }
        let mut v = minimal();
        v["type"] = json!("triton");
        assert!(OxideConfig::from_json(&v).is_err());
    }
}
