//! Checking a [`TritonConfig`] and turning it into what the steps take,
//! before any request is made.

use std::path::{Path, PathBuf};

use imagebake_http::Secret;
use triton_client::auth::KeyFingerprint;
use triton_client::types::{ImageId, ImageType, ListImages, NetworkId};
use triton_client::{ConfigBuilder, KeySource};
use uuid::Uuid;

use super::config::{BUILDER, DEFAULT_URL, ImageFilter, TritonConfig};
use crate::Error;
use crate::builders::common::SshDefaults;
use crate::builders::packer::{TemplateVars, config_error};
use crate::steps::common::{CommPlan, SshLogin};
use crate::steps::triton::{ImageSource, ImageSpec, MachineSpec, Waits};

/// A checked configuration.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub(crate) client: ConfigBuilder,
    pub(crate) source: ImageSource,
    pub(crate) machine: MachineSpec,
    pub(crate) image: ImageSpec,
    pub(crate) comm: CommPlan,
    pub(crate) waits: Waits,
    pub(crate) force: bool,
}

fn err(message: &str) -> Error {
    config_error(BUILDER, message)
}

/// [`Error::ConfigKey`] about `key`.
fn err_at(key: &str, message: &str) -> Error {
    crate::builders::packer::config_key_error(BUILDER, key, message)
}

impl Plan {
    /// Checks `c` and expands `{{timestamp}}`/`{{uuid}}` in the names.
    /// Reads nothing but the key file's existence and, when no key is
    /// configured, `SSH_AUTH_SOCK` and `HOME` (as Packer does).
    pub(crate) fn new(c: &TritonConfig, vars: &TemplateVars) -> Result<Self, Error> {
        c.check_required()?;
        let expand = |key: &str, v: &str| vars.expand(BUILDER, key, v);
        let opt = |key: &str, v: &Option<String>| v.as_deref().map(|v| expand(key, v)).transpose();

        let image = ImageSpec {
            name: expand("image_name", &c.image_name)?,
            version: expand("image_version", &c.image_version)?,
            description: opt("image_description", &c.image_description)?,
            homepage: opt("image_homepage", &c.image_homepage)?,
            eula: opt("image_eula_url", &c.image_eula_url)?,
            acl: uuids("image_acls", &c.image_acls)?,
            tags: c.image_tags.clone(),
        };
        if image.name.chars().count() > 512 {
            return Err(err_at(
                "image_name",
                "key `image_name` is longer than 512 characters",
            ));
        }
        // The limits the plugin's documentation gives (IMGAPI's manifest).
        let limits = [
            ("image_version", Some(&image.version), 128),
            ("image_description", image.description.as_ref(), 512),
            ("image_homepage", image.homepage.as_ref(), 128),
            ("image_eula_url", image.eula.as_ref(), 128),
        ];
        for (key, value, max) in limits {
            let n = value.map_or(0, |v| v.chars().count());
            if n > max {
                return Err(err_at(
                    key,
                    &format!("key `{key}` is {n} characters long; at most {max} are allowed"),
                ));
            }
        }

        let name = opt("source_machine_name", &c.source_machine_name)?;
        if let Some(n) = &name {
            check_machine_name(n)?;
        }
        let networks = uuids("source_machine_networks", &c.source_machine_networks)?
            .into_iter()
            .map(NetworkId)
            .collect();
        let machine = MachineSpec {
            name,
            default_name_suffix: image.name.clone(),
            package: c.source_machine_package.trim().to_owned(),
            networks,
            metadata: c.source_machine_metadata.clone(),
            tags: c.source_machine_tags.clone(),
            firewall_enabled: c.source_machine_firewall_enabled,
        };

        Ok(Plan {
            client: client_config(c)?,
            source: source(c)?,
            machine,
            image,
            comm: comm(c)?,
            waits: Waits::from_config(c)?,
            force: c.packer_force,
        })
    }
}

fn uuids(key: &str, values: &[String]) -> Result<Vec<Uuid>, Error> {
    values
        .iter()
        .map(|v| {
            Uuid::parse_str(v.trim())
                .map_err(|_| err_at(key, &format!("key `{key}`: {v:?} is not a UUID")))
        })
        .collect()
}

/// CloudAPI's alias rule: a letter or digit, then letters, digits, `_.-`.
fn check_machine_name(n: &str) -> Result<(), Error> {
    let mut chars = n.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if ok {
        Ok(())
    } else {
        Err(err_at(
            "source_machine_name",
            &format!(
                "key `source_machine_name`: {n:?} is not a valid machine name (a letter or digit, \
             then letters, digits, `_`, `.`, `-`)"
            ),
        ))
    }
}

fn source(c: &TritonConfig) -> Result<ImageSource, Error> {
    let filter = c
        .source_machine_image_filter
        .as_ref()
        .filter(|f| **f != ImageFilter::default());
    match (c.source_machine_image.as_deref().map(str::trim), filter) {
        (Some(_), Some(_)) => Err(err(
            "keys `source_machine_image` and `source_machine_image_filter` are both set; use one",
        )),
        (None | Some(""), None) => Err(err_at(
            "source_machine_image",
            "missing required key `source_machine_image` (or `source_machine_image_filter`)",
        )),
        (Some(image), None) => match Uuid::parse_str(image) {
            Ok(u) => Ok(ImageSource::Id(ImageId(u))),
            Err(_) => {
                // `name@version` or `name`: the most recent such image.
                let (name, version) = match image.split_once('@') {
                    Some((n, v)) => (n, Some(v)),
                    None => (image, None),
                };
                if name.is_empty() || version.is_some_and(str::is_empty) {
                    return Err(err_at(
                        "source_machine_image",
                        &format!(
                            "key `source_machine_image`: {image:?} is not a UUID, name or name@version"
                        ),
                    ));
                }
                let mut f = ListImages::new().name(name);
                if let Some(v) = version {
                    f = f.version(v);
                }
                Ok(ImageSource::Filter {
                    filter: f,
                    most_recent: true,
                    described: format!("{{name: {name:?}, version: {version:?}}}"),
                })
            }
        },
        (_, Some(f)) => filter_source(f),
    }
}

fn filter_source(f: &ImageFilter) -> Result<ImageSource, Error> {
    if f.is_empty() {
        return Err(err_at(
            "source_machine_image_filter",
            "key `source_machine_image_filter` selects nothing (give name, os, version, public, \
             state, owner or type)",
        ));
    }
    let mut l = ListImages::new();
    if let Some(v) = &f.name {
        l = l.name(v.clone());
    }
    if let Some(v) = &f.os {
        l = l.os(v.clone());
    }
    if let Some(v) = &f.version {
        l = l.version(v.clone());
    }
    if let Some(v) = f.public {
        l = l.public(v);
    }
    if let Some(v) = &f.state {
        l = match v.as_str() {
            "all" => l.all_states(),
            s => l.state(
                serde_json::from_value(serde_json::Value::from(s))
                    .map_err(|_| err(&format!("source_machine_image_filter.state: {s:?}")))?,
            ),
        };
    }
    if let Some(v) = &f.owner {
        l = l.owner(v.clone());
    }
    if let Some(t) = &f.image_type {
        let parsed: ImageType = serde_json::from_value(serde_json::Value::from(t.as_str()))
            .map_err(|_| err(&format!("source_machine_image_filter.type: {t:?}")))?;
        if parsed == ImageType::Unknown {
            return Err(err_at(
                "source_machine_image_filter.type",
                &format!("key `source_machine_image_filter.type`: unknown image type {t:?}"),
            ));
        }
        l = l.image_type(parsed);
    }
    Ok(ImageSource::Filter {
        filter: l,
        most_recent: f.most_recent,
        described: describe_filter(f),
    })
}

fn describe_filter(f: &ImageFilter) -> String {
    let mut parts = Vec::new();
    let fields = [
        ("name", &f.name),
        ("os", &f.os),
        ("version", &f.version),
        ("state", &f.state),
        ("owner", &f.owner),
        ("type", &f.image_type),
    ];
    for (k, v) in fields {
        if let Some(v) = v {
            parts.push(format!("{k}: {v:?}"));
        }
    }
    if let Some(p) = f.public {
        parts.push(format!("public: {p}"));
    }
    format!("{{{}}}", parts.join(", "))
}

/// The API key: a file (checked against `triton_key_id`), key text, or the
/// ssh-agent then `~/.ssh` (node-triton's search, a superset of Packer's
/// agent-only fallback).
fn client_config(c: &TritonConfig) -> Result<ConfigBuilder, Error> {
    let fingerprint = KeyFingerprint::parse(c.triton_key_id.trim()).map_err(|_| {
        err_at(
            "triton_key_id",
            &format!(
                "key `triton_key_id`: {:?} is not a key fingerprint (MD5 aa:bb:… or SHA256:…)",
                c.triton_key_id
            ),
        )
    })?;
    let key = match &c.triton_key_material {
        Some(m) => match key_material(m) {
            KeyMaterial::Locked(what) => {
                let socket = agent_socket().ok_or_else(|| locked_error(&what))?;
                KeySource::Agent {
                    socket,
                    fingerprint,
                }
            }
            KeyMaterial::File(path) => KeySource::File {
                path,
                passphrase: None,
                expect: Some(fingerprint),
            },
            KeyMaterial::Text => KeySource::Text {
                text: m.clone(),
                passphrase: None,
                expect: Some(fingerprint),
            },
            KeyMaterial::Neither => {
                return Err(err_at(
                    "triton_key_material",
                    "key `triton_key_material`: neither an existing file nor a private key",
                ));
            }
        },
        None => KeySource::Search {
            fingerprint,
            agent_socket: agent_socket(),
            ssh_dir: std::env::var_os("HOME").map(|h| Path::new(&h).join(".ssh")),
        },
    };
    let url = c
        .triton_url
        .as_deref()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or(DEFAULT_URL);
    let mut b = triton_client::Config::builder()
        .url(url)
        .account(c.triton_account.trim())
        .insecure(c.insecure_skip_tls_verify)
        .key_source(key);
    if let Some(u) = c.triton_user.as_deref().filter(|u| !u.is_empty()) {
        b = b.user(u);
    }
    Ok(b)
}

enum KeyMaterial {
    File(PathBuf),
    Text,
    /// A passphrase-protected key (its file, or "the key text").
    Locked(String),
    Neither,
}

fn agent_socket() -> Option<PathBuf> {
    std::env::var_os("SSH_AUTH_SOCK")
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
}

/// A passphrase-protected key without an ssh-agent: neither Packer
/// (triton-go) nor node-triton (smartdc-auth) reads a passphrase from the
/// template or the environment; both sign with the agent holding the key.
fn locked_error(what: &str) -> Error {
    let load = if what == KEY_TEXT {
        "load the key into an ssh-agent (`ssh-add`)".to_owned()
    } else {
        format!("load it into an ssh-agent (`ssh-add {what}`)")
    };
    err_at(
        "triton_key_material",
        &format!(
            "key `triton_key_material`: {what} is passphrase-protected; {load} and set \
             SSH_AUTH_SOCK, as Packer and the triton CLI use such keys"
        ),
    )
}

/// How errors name a key given as text.
const KEY_TEXT: &str = "the key text";

fn locked(r: Result<triton_client::auth::KeySigner, triton_client::Error>) -> bool {
    matches!(r, Err(triton_client::Error::PassphraseRequired { .. }))
}

/// Packer's rule: a path that exists is a key file, anything else the key.
fn key_material(m: &Secret) -> KeyMaterial {
    let text = m.expose();
    if text.contains("-----BEGIN") {
        if locked(triton_client::auth::KeySigner::from_text(m, None)) {
            return KeyMaterial::Locked(KEY_TEXT.to_owned());
        }
        return KeyMaterial::Text;
    }
    let path = match text.strip_prefix("~/") {
        Some(rest) => match std::env::var_os("HOME") {
            Some(h) => Path::new(&h).join(rest),
            None => PathBuf::from(text),
        },
        None => PathBuf::from(text),
    };
    if path.is_file() {
        if locked(triton_client::auth::KeySigner::from_file(&path, None)) {
            return KeyMaterial::Locked(path.display().to_string());
        }
        KeyMaterial::File(path)
    } else {
        KeyMaterial::Neither
    }
}

/// The communicator plan: Packer's `ssh_*` keys, with Triton's defaults
/// (user `root`; the API key logs in, as Triton puts the account's keys on
/// the machine: `triton_key_material`'s file or text, else the ssh-agent).
fn comm(c: &TritonConfig) -> Result<CommPlan, Error> {
    let api_key = match c.triton_key_material.as_ref().map(|m| (m, key_material(m))) {
        Some((_, KeyMaterial::File(path))) => SshLogin::KeyFile(path),
        Some((m, KeyMaterial::Text)) => SshLogin::KeyText(m.clone()),
        // A locked key signs through the agent, for SSH too.
        _ => SshLogin::Agent,
    };
    let defaults = SshDefaults::new(api_key.clone())
        .username("root")
        .bastion_login(api_key);
    c.ssh.plan_with(BUILDER, &defaults)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::time::Duration;

    fn vars() -> TemplateVars {
        TemplateVars {
            timestamp: "1700000000".into(),
            uuid: "0000".into(),
        }
    }

    fn config(extra: serde_json::Value) -> TritonConfig {
        let v = json!({
            "triton_account": "alice",
            "triton_key_id": "fa:56:a1:6b:cc:04:97:fe:e2:98:54:c4:2e:0d:26:c6",
            "triton_key_material": "-----BEGIN OPENSSH PRIVATE KEY-----",
            "source_machine_package": "g4-highcpu-1G",
            "source_machine_image": "c2c31b00-1d60-11ed-9f3a-4b8e2f0d2201",
            "image_name": "img-{{timestamp}}",
            "image_version": "1.0.{{uuid}}",
        });
        let v = crate::builders::packer::merged(v, &extra);
        TritonConfig::from_json(&v).unwrap()
    }

    fn plan_err(extra: serde_json::Value) -> String {
        Plan::new(&config(extra), &vars()).unwrap_err().to_string()
    }

    #[test]
    fn expands_names_and_defaults_ssh_to_the_api_key() {
        let p = Plan::new(&config(json!({})), &vars()).unwrap();
        assert_eq!(p.image.name, "img-1700000000");
        assert_eq!(p.image.version, "1.0.0000");
        match p.comm {
            CommPlan::Ssh(s) => {
                assert_eq!((s.username.as_str(), s.port), ("root", 22));
                assert!(matches!(s.login, SshLogin::KeyText(_)));
                assert_eq!(s.timeout, Duration::from_secs(300));
            }
            CommPlan::None => panic!("ssh is the default"),
        }
        assert!(matches!(p.source, ImageSource::Id(_)));
        // A bastion logs in with the API key too; a given login wins.
        let p = Plan::new(
            &config(json!({"ssh_bastion_host": "jump", "ssh_username": "admin",
                "ssh_agent_auth": true})),
            &vars(),
        )
        .unwrap();
        match p.comm {
            CommPlan::Ssh(s) => {
                assert_eq!((s.username.as_str(), &s.login), ("admin", &SshLogin::Agent));
                let b = s.bastion.expect("bastion");
                assert_eq!(b.username, "admin");
                assert!(matches!(b.login, SshLogin::KeyText(_)));
            }
            CommPlan::None => panic!("ssh is the default"),
        }
    }

    #[test]
    fn source_rules() {
        let e = plan_err(json!({"source_machine_image_filter": {"name": "base"}}));
        assert!(e.contains("both set"), "{e}");
        let e = plan_err(json!({"source_machine_image": null}));
        assert!(
            e.contains("missing required key `source_machine_image`"),
            "{e}"
        );
        let e = plan_err(json!({"source_machine_image": null,
            "source_machine_image_filter": {"most_recent": true}}));
        assert!(e.contains("selects nothing"), "{e}");
        let p = Plan::new(
            &config(json!({"source_machine_image": "base-64-lts@22.4.0"})),
            &vars(),
        )
        .unwrap();
        assert!(matches!(
            p.source,
            ImageSource::Filter {
                most_recent: true,
                ..
            }
        ));
    }

    #[test]
    fn other_checks_name_their_key() {
        for (extra, key) in [
            (json!({"triton_key_id": "nope"}), "triton_key_id"),
            (
                json!({"triton_key_material": "/does/not/exist"}),
                "triton_key_material",
            ),
            (
                json!({"source_machine_networks": ["x"]}),
                "source_machine_networks",
            ),
            (json!({"image_acls": ["x"]}), "image_acls"),
            (
                json!({"source_machine_name": "-bad name"}),
                "source_machine_name",
            ),
            (json!({"communicator": "winrm"}), "communicator"),
            (json!({"ssh_timeout": "forever"}), "ssh_timeout"),
            (json!({"ssh_bastion_port": 2222}), "ssh_bastion_host"),
            (json!({"image_name": "{{isotime}}"}), "image_name"),
        ] {
            let e = plan_err(extra);
            assert!(
                e.contains(key) && e.contains("builder triton"),
                "{key}: {e}"
            );
        }
    }
}
