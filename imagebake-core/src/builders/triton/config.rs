//! The `triton` builder's configuration: Packer's keys, decoded and checked
//! before any request is made.

use std::collections::BTreeMap;

use imagebake_http::Secret;
use serde::Deserialize;
use serde_json::Value;

use crate::Error;
use crate::builders::common::{SSH_KEYS, SshOptions, split_ssh_keys};
use crate::builders::packer::{self, config_error, config_key_error, secret_opt, string_map};
use crate::steps::triton::Waits;

/// The builder's type name in a Packer template.
pub const BUILDER: &str = "triton";

/// The builder's own keys (Packer's triton builder keys and imagebake's wait
/// settings); the communicator keys ([`SSH_KEYS`]) are accepted too (see
/// [`TritonConfig::all_keys`]).
pub const KEYS: &[&str] = &[
    "triton_url",
    "triton_account",
    "triton_user",
    "triton_key_id",
    "triton_key_material",
    "insecure_skip_tls_verify",
    "source_machine_image",
    "source_machine_image_filter",
    "source_machine_package",
    "source_machine_name",
    "source_machine_networks",
    "source_machine_metadata",
    "source_machine_tags",
    "source_machine_firewall_enabled",
    "image_name",
    "image_version",
    "image_description",
    "image_homepage",
    "image_eula_url",
    "image_acls",
    "image_tags",
    "state_timeout",
    "image_timeout",
    "poll_cap",
    "packer_force",
];

/// The keys without which there is no build.
pub const REQUIRED: &[&str] = &[
    "triton_account",
    "triton_key_id",
    "source_machine_package",
    "image_name",
    "image_version",
];

/// Packer's default CloudAPI endpoint.
pub const DEFAULT_URL: &str = "https://us-sw-1.api.joyent.com";

/// The `triton` builder's configuration, with exactly Packer's keys (see
/// [`KEYS`]) and the communicator keys ([`SshOptions`]; `ssh_username`
/// defaults to `root`, and the login to the API key: `triton_key_material`,
/// else the ssh-agent, as Triton puts the account's keys on the machine). Decode it from a Packer template's builder block with
/// [`TritonConfig::from_json`]; the checks that need no request run in
/// [`TritonBuilder::new`](super::TritonBuilder::new).
///
/// Differences from Packer, all stricter or additive:
/// - `source_machine_image` (a UUID, or `name@version` / `name` as a
///   shorthand for a filter with `most_recent`) and
///   `source_machine_image_filter` are mutually exclusive, and one is needed;
/// - `source_machine_name` defaults to `<build id>-<image_name>` (characters
///   CloudAPI refuses replaced by `-`, at most 63), so parallel builds of one
///   image never collide and a sweep finds the machine by name;
/// - `state_timeout` (machine waits, default `10m`), `image_timeout` (image
///   creation, default `60m`, as IMGAPI allows) and `poll_cap` (longest pause
///   between two polls, default `1s`) replace Packer's fixed 3 s / 10 min.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TritonConfig {
    /// CloudAPI endpoint (default [`DEFAULT_URL`]).
    #[serde(default)]
    pub triton_url: Option<String>,
    /// Account login.
    #[serde(default)]
    pub triton_account: String,
    /// RBAC sub-user whose key signs.
    #[serde(default)]
    pub triton_user: Option<String>,
    /// Fingerprint of the signing key (MD5 `aa:bb:…` or `SHA256:…`).
    #[serde(default)]
    pub triton_key_id: String,
    /// The private key: a file path or the key text. Without it, the
    /// ssh-agent at `SSH_AUTH_SOCK` (then `~/.ssh`) provides the key.
    #[serde(default, deserialize_with = "secret_opt")]
    pub triton_key_material: Option<Secret>,
    /// Skip TLS certificate verification.
    #[serde(default)]
    pub insecure_skip_tls_verify: bool,
    /// Source image UUID (or `name@version`, `name`).
    #[serde(default)]
    pub source_machine_image: Option<String>,
    /// Source image picked by ListImages.
    #[serde(default)]
    pub source_machine_image_filter: Option<ImageFilter>,
    /// Package (name or UUID).
    #[serde(default)]
    pub source_machine_package: String,
    /// Machine name (default `<build id>-<image_name>`).
    #[serde(default)]
    pub source_machine_name: Option<String>,
    /// Network UUIDs (CloudAPI's defaults when empty).
    #[serde(default)]
    pub source_machine_networks: Vec<String>,
    /// Metadata (`metadata.KEY`).
    #[serde(default, deserialize_with = "string_map")]
    pub source_machine_metadata: BTreeMap<String, String>,
    /// Machine tags (`tag.KEY`); `imagebake-build` is added.
    #[serde(default, deserialize_with = "string_map")]
    pub source_machine_tags: BTreeMap<String, String>,
    /// Turn the machine's firewall on.
    #[serde(default)]
    pub source_machine_firewall_enabled: bool,
    /// Image name (`{{timestamp}}`, `{{uuid}}` expanded).
    #[serde(default)]
    pub image_name: String,
    /// Image version (`{{timestamp}}`, `{{uuid}}` expanded).
    #[serde(default)]
    pub image_version: String,
    /// Image description.
    #[serde(default)]
    pub image_description: Option<String>,
    /// Image homepage URL.
    #[serde(default)]
    pub image_homepage: Option<String>,
    /// Image EULA URL.
    #[serde(default)]
    pub image_eula_url: Option<String>,
    /// Account UUIDs to share the image with.
    #[serde(default)]
    pub image_acls: Vec<String>,
    /// Image tags.
    #[serde(default, deserialize_with = "string_map")]
    pub image_tags: BTreeMap<String, String>,
    /// Limit of each machine wait (default `10m`).
    #[serde(default)]
    pub state_timeout: Option<String>,
    /// Limit of the wait for the image (default `60m`).
    #[serde(default)]
    pub image_timeout: Option<String>,
    /// Longest pause between two polls (default `1s`).
    #[serde(default)]
    pub poll_cap: Option<String>,
    /// `-force`: build even if an image of that name@version exists, and
    /// delete the older one(s) once the new image is active.
    #[serde(default)]
    pub packer_force: bool,
    /// The communicator keys (`communicator`, `ssh_*`), decoded apart.
    #[serde(skip)]
    pub ssh: SshOptions,
}

/// `source_machine_image_filter`: Packer's ListImages filter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageFilter {
    /// Exact name (`~sub` for a substring).
    #[serde(default)]
    pub name: Option<String>,
    /// Operating system.
    #[serde(default)]
    pub os: Option<String>,
    /// Version.
    #[serde(default)]
    pub version: Option<String>,
    /// Only public (or, unlike Packer, only private) images.
    #[serde(default)]
    pub public: Option<bool>,
    /// Image state (CloudAPI lists `active` ones by default).
    #[serde(default)]
    pub state: Option<String>,
    /// Owner account UUID.
    #[serde(default)]
    pub owner: Option<String>,
    /// Image type (`zone-dataset`, `zvol`, ...).
    #[serde(default, rename = "type")]
    pub image_type: Option<String>,
    /// With several matches, take the most recently published one (without
    /// it, several matches are an error).
    #[serde(default)]
    pub most_recent: bool,
}

impl ImageFilter {
    /// Whether no field selects anything (`most_recent` alone selects nothing).
    pub fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.os.is_none()
            && self.version.is_none()
            && self.public.is_none()
            && self.state.is_none()
            && self.owner.is_none()
            && self.image_type.is_none()
    }
}

impl TritonConfig {
    /// Decodes a builder block of a Packer JSON template (`type` and `name`
    /// allowed). Unknown keys, missing required keys and wrongly typed values
    /// are errors naming the key and the builder.
    pub fn from_json(value: &Value) -> Result<Self, Error> {
        let (ssh, rest) = split_ssh_keys(value);
        let mut config: TritonConfig = packer::decode(BUILDER, &rest, KEYS, REQUIRED)?;
        config.ssh = SshOptions::from_json(BUILDER, &ssh)?;
        Ok(config)
    }

    /// [`TritonConfig::from_json`] from text.
    pub fn from_json_str(text: &str) -> Result<Self, Error> {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| config_error(BUILDER, &format!("not valid JSON: {e}")))?;
        Self::from_json(&value)
    }

    /// Every key the builder accepts: [`KEYS`] and [`SSH_KEYS`].
    pub fn all_keys() -> impl Iterator<Item = &'static str> {
        KEYS.iter().chain(SSH_KEYS).copied()
    }

    /// Checks the required keys (for a config built in Rust rather than
    /// decoded).
    pub(crate) fn check_required(&self) -> Result<(), Error> {
        let fields = [
            ("triton_account", &self.triton_account),
            ("triton_key_id", &self.triton_key_id),
            ("source_machine_package", &self.source_machine_package),
            ("image_name", &self.image_name),
            ("image_version", &self.image_version),
        ];
        for (key, value) in fields {
            if value.trim().is_empty() {
                return Err(config_key_error(
                    BUILDER,
                    key,
                    &format!("missing required key `{key}`"),
                ));
            }
        }
        Ok(())
    }
}

impl Waits {
    pub(crate) fn from_config(c: &TritonConfig) -> Result<Self, Error> {
        let d = Waits::default();
        let w = Waits {
            state_timeout: packer::duration_key(
                BUILDER,
                "state_timeout",
                c.state_timeout.as_deref(),
                d.state_timeout,
            )?,
            image_timeout: packer::duration_key(
                BUILDER,
                "image_timeout",
                c.image_timeout.as_deref(),
                d.image_timeout,
            )?,
            poll_cap: packer::duration_key(BUILDER, "poll_cap", c.poll_cap.as_deref(), d.poll_cap)?,
        };
        if w.poll_cap.is_zero() {
            return Err(config_key_error(
                BUILDER,
                "poll_cap",
                "key `poll_cap` must be more than 0",
            ));
        }
        Ok(w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::time::Duration;

    fn minimal() -> Value {
        json!({
            "type": "triton",
            "triton_account": "alice",
            "triton_key_id": "aa:bb",
            "source_machine_package": "g4-highcpu-1G",
            "source_machine_image": "c2c31b00-1d60-11ed-9f3a-4b8e2f0d2201",
            "image_name": "img",
            "image_version": "1.0.0",
        })
    }

    #[test]
    fn every_known_key_decodes() {
        let v = minimal();
        let extra = json!({
            "name": "build-one",
            "triton_url": "https://x", "triton_user": "u", "triton_key_material": "/k",
            "insecure_skip_tls_verify": true,
            "source_machine_image_filter": {"name": "base", "os": "smartos", "version": "1",
                "public": true, "state": "active", "owner": "o", "type": "zone-dataset",
                "most_recent": true},
            "source_machine_name": "m", "source_machine_networks": ["n"],
            "source_machine_metadata": {"user-script": "true", "n": 1},
            "source_machine_tags": {"purpose": "x", "flag": true},
            "source_machine_firewall_enabled": true,
            "image_description": "d", "image_homepage": "h", "image_eula_url": "e",
            "image_acls": ["a"], "image_tags": {"k": "v"},
            "communicator": "ssh", "ssh_host": "h", "ssh_port": 2222, "ssh_username": "u",
            "ssh_password": "p", "ssh_private_key_file": "/k", "ssh_agent_auth": false,
            "ssh_timeout": "5m", "ssh_bastion_host": "b", "ssh_bastion_port": 22,
            "ssh_bastion_username": "bu", "ssh_bastion_password": "bp",
            "ssh_bastion_private_key_file": "/bk", "ssh_bastion_agent_auth": false,
            "state_timeout": "10m", "image_timeout": "1h", "poll_cap": "1s",
            "packer_force": true,
        });
        let v = crate::builders::packer::merged(v, &extra);
        // Every key of KEYS is in the document above (so the list and the
        // struct agree), and the struct takes them all.
        for k in TritonConfig::all_keys() {
            assert!(v.get(k).is_some(), "test misses {k}");
        }
        let c = TritonConfig::from_json(&v).unwrap();
        assert_eq!(c.source_machine_metadata["n"], "1");
        assert_eq!(c.source_machine_tags["flag"], "true");
        assert_eq!(c.ssh.ssh_port, Some(2222));
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("\"p\"") && !dbg.contains("bp"), "{dbg}");
    }

    #[test]
    fn unknown_missing_and_mistyped_keys_are_named() {
        let mut v = minimal();
        v["ssh_pty"] = json!(true);
        let e = TritonConfig::from_json(&v).unwrap_err().to_string();
        assert_eq!(
            e,
            "invalid configuration: builder triton: unknown key `ssh_pty`"
        );

        let mut v = minimal();
        v.as_object_mut().unwrap().remove("image_version");
        let e = TritonConfig::from_json(&v).unwrap_err().to_string();
        assert!(
            e.contains("builder triton: missing required key `image_version`"),
            "{e}"
        );

        let mut v = minimal();
        v["ssh_port"] = json!("twenty-two");
        let e = TritonConfig::from_json(&v).unwrap_err().to_string();
        assert!(e.contains("builder triton: key `ssh_port`"), "{e}");

        let mut v = minimal();
        v["source_machine_image_filter"] = json!({"nmae": "x"});
        let e = TritonConfig::from_json(&v).unwrap_err().to_string();
        assert!(
            e.contains("source_machine_image_filter") && e.contains("nmae"),
            "{e}"
        );

        let mut v = minimal();
        v["type"] = json!("amazon-ebs");
        assert!(TritonConfig::from_json(&v).is_err());
    }

    #[test]
    fn waits_default_and_parse() {
        let mut c = TritonConfig::default();
        assert_eq!(Waits::from_config(&c).unwrap(), Waits::default());
        c.state_timeout = Some("2m30s".into());
        c.poll_cap = Some("250ms".into());
        let w = Waits::from_config(&c).unwrap();
        assert_eq!(w.state_timeout, Duration::from_secs(150));
        assert_eq!(w.poll_cap, Duration::from_millis(250));
        c.poll_cap = Some("soon".into());
        let e = Waits::from_config(&c).unwrap_err().to_string();
        assert!(e.contains("key `poll_cap`"), "{e}");
    }
}
