//! Checking an [`OxideConfig`] and turning it into what the steps take,
//! before any request is made.

use std::path::PathBuf;
use std::time::Duration;

use imagebake_http::Secret;
use oxide_client::names::{validate_hostname, validate_name};
use oxide_client::{NameOrId, USER_DATA_MAX_BYTES};
use uuid::Uuid;

use super::config::{BUILDER, OxideConfig};
use crate::Error;
use crate::builders::packer::{TemplateVars, config_error, duration_key};
use crate::steps::common::{CommPlan, SshLogin};
use crate::steps::oxide::{ImagePlan, ImageSource, InstanceSpec, Waits};

/// A checked configuration.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub(crate) client: oxide_client::Config,
    pub(crate) project: NameOrId,
    pub(crate) source: ImageSource,
    pub(crate) instance: InstanceSpec,
    pub(crate) image: ImagePlan,
    pub(crate) skip_create_image: bool,
    pub(crate) force: bool,
    pub(crate) temporary_key_name: Option<String>,
    pub(crate) comm: CommPlan,
    pub(crate) waits: Waits,
}

fn err(message: &str) -> Error {
    config_error(BUILDER, message)
}

/// [`Error::ConfigKey`] about `key`.
fn err_at(key: &str, message: &str) -> Error {
    crate::builders::packer::config_key_error(BUILDER, key, message)
}

/// A `Name` check whose error names the key.
fn name_key(key: &str, value: &str) -> Result<(), Error> {
    validate_name("name", value).map_err(|e| err_at(key, &format!("key `{key}`: {e}")))
}

fn non_empty(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

impl Plan {
    /// Checks `c` and expands `{{timestamp}}`/`{{uuid}}`. Reads nothing but
    /// the environment and `~/.config/oxide` when no `host`/`token` are
    /// given (as the plugin does).
    pub(crate) fn new(c: &OxideConfig, vars: &TemplateVars) -> Result<Self, Error> {
        let expand = |key: &str, v: &Option<String>| {
            non_empty(v)
                .map(|v| vars.expand(BUILDER, key, v))
                .transpose()
        };
        let project = c.project.trim();
        if project.is_empty() {
            return Err(err_at("project", "missing required key `project`"));
        }
        let project = NameOrId::from(project);
        project
            .validate("project")
            .map_err(|e| err_at("project", &format!("key `project`: {e}")))?;

        let name = expand("name", &c.name)?;
        if let Some(n) = &name {
            name_key("name", n)?;
        }
        let hostname = expand("hostname", &c.hostname)?;
        if let Some(h) = &hostname {
            validate_hostname("hostname", h)
                .map_err(|e| err_at("hostname", &format!("key `hostname`: {e}")))?;
        }
        let ncpus = match c.cpus {
            None => 1,
            Some(n) => u16::try_from(n).ok().filter(|n| *n > 0).ok_or_else(|| {
                err_at(
                    "cpus",
                    &format!("key `cpus`: {n} is not between 1 and 65535"),
                )
            })?,
        };
        let positive = |key: &str, v: Option<u64>, default: u64| match v {
            Some(0) => Err(err_at(
                key,
                &format!("key `{key}` must be more than 0 bytes"),
            )),
            Some(n) => Ok(n),
            None => Ok(default),
        };
        let ssh_public_keys = c
            .ssh_public_keys
            .iter()
            .map(|k| {
                let k = NameOrId::from(k.trim());
                k.validate("ssh_public_keys")
                    .map(|()| k)
                    .map_err(|e| err_at("ssh_public_keys", &format!("key `ssh_public_keys`: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let user_data = c.user_data.clone().unwrap_or_default().into_bytes();
        if user_data.len() > USER_DATA_MAX_BYTES {
            return Err(err_at(
                "user_data",
                &format!(
                    "key `user_data` is {} bytes; at most {USER_DATA_MAX_BYTES} are allowed",
                    user_data.len()
                ),
            ));
        }
        let ip_pool = non_empty(&c.ip_pool).map(NameOrId::from);
        if let Some(p) = &ip_pool {
            p.validate("ip_pool")
                .map_err(|e| err_at("ip_pool", &format!("key `ip_pool`: {e}")))?;
        }
        let vpc = non_empty(&c.vpc).unwrap_or("default").to_owned();
        name_key("vpc", &vpc)?;
        let subnet = non_empty(&c.subnet).unwrap_or("default").to_owned();
        name_key("subnet", &subnet)?;
        let instance = InstanceSpec {
            name,
            hostname,
            ncpus,
            memory: positive("memory", c.memory, 2 << 30)?,
            boot_disk_size: positive("boot_disk_size", c.boot_disk_size, 20 << 30)?,
            ip_pool,
            vpc,
            subnet,
            ssh_public_keys,
            user_data,
        };

        let image = ImagePlan {
            name: expand("artifact_name", &c.artifact_name)?,
            os: expand("artifact_os", &c.artifact_os)?,
            version: expand("artifact_version", &c.artifact_version)?,
            description: expand("artifact_description", &c.artifact_description)?,
        };
        if let Some(n) = &image.name {
            name_key("artifact_name", n)?;
        }
        let temporary_key_name = expand("temporary_key_pair_name", &c.temporary_key_pair_name)?;
        if let Some(n) = &temporary_key_name {
            name_key("temporary_key_pair_name", n)?;
        }

        let comm = c.ssh.plan(BUILDER, SshLogin::TemporaryKey, None)?;
        let d = Waits::default();
        let waits = Waits {
            state_timeout: duration_key(
                BUILDER,
                "state_timeout",
                c.state_timeout.as_deref(),
                d.state_timeout,
            )?,
            poll_cap: duration_key(BUILDER, "poll_cap", c.poll_cap.as_deref(), d.poll_cap)?,
            shutdown_timeout: duration_key(
                BUILDER,
                "shutdown_timeout",
                c.shutdown_timeout.as_deref(),
                d.shutdown_timeout,
            )?,
        };
        if waits.poll_cap.is_zero() || waits.state_timeout.is_zero() {
            return Err(err(
                "keys `state_timeout` and `poll_cap` must be more than 0",
            ));
        }
        let request_timeout = duration_key(
            BUILDER,
            "request_timeout",
            c.request_timeout.as_deref(),
            Duration::from_secs(300),
        )?;
        if request_timeout.is_zero() {
            return Err(err_at(
                "request_timeout",
                "key `request_timeout` must be more than 0",
            ));
        }
        let client = client_config(c)?
            .insecure(c.insecure_skip_verify)
            .timeout(request_timeout);

        Ok(Plan {
            client,
            project,
            source: source(c)?,
            instance,
            image,
            skip_create_image: c.skip_create_image,
            force: c.packer_force,
            temporary_key_name,
            comm,
            waits,
        })
    }
}

fn source(c: &OxideConfig) -> Result<ImageSource, Error> {
    let scope = non_empty(&c.boot_disk_image_scope);
    match (
        non_empty(&c.boot_disk_image_id),
        non_empty(&c.boot_disk_image_name),
    ) {
        (Some(_), Some(_)) => Err(err(
            "keys `boot_disk_image_id` and `boot_disk_image_name` are both set; use one",
        )),
        (None, None) => Err(err_at(
            "boot_disk_image_id",
            "missing required key `boot_disk_image_id` (or `boot_disk_image_name`)",
        )),
        (Some(id), None) => {
            if scope.is_some() {
                return Err(err_at(
                    "boot_disk_image_scope",
                    "key `boot_disk_image_scope` goes with `boot_disk_image_name`, not an ID",
                ));
            }
            Uuid::parse_str(id).map(ImageSource::Id).map_err(|_| {
                err_at(
                    "boot_disk_image_id",
                    &format!(
                        "key `boot_disk_image_id`: {id:?} is not a UUID (use boot_disk_image_name \
                     for a name)"
                    ),
                )
            })
        }
        (None, Some(name)) => {
            name_key("boot_disk_image_name", name)?;
            let (project, silo) = match scope {
                None => (true, true),
                Some("project") => (true, false),
                Some("silo") => (false, true),
                Some(other) => {
                    return Err(err_at(
                        "boot_disk_image_scope",
                        &format!(
                            "key `boot_disk_image_scope`: {other:?} is not `project` or `silo`"
                        ),
                    ));
                }
            };
            Ok(ImageSource::Name {
                name: name.to_owned(),
                project,
                silo,
            })
        }
    }
}

/// Host and token, a profile, or (neither) the SDK's resolution from
/// `OXIDE_*` and `~/.config/oxide`.
pub(super) fn client_config(c: &OxideConfig) -> Result<oxide_client::Config, Error> {
    client_config_with(c, &|k| std::env::var(k).ok())
}

/// The credentials: `host` and `token` from the template, each falling back
/// to `OXIDE_HOST`/`OXIDE_TOKEN` (as the plugin's SDK does) once the other is
/// in the template; `profile`; else the SDK's environment rules.
fn client_config_with(
    c: &OxideConfig,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<oxide_client::Config, Error> {
    let host = non_empty(&c.host);
    let token = c.token.as_ref().filter(|t| !t.expose().trim().is_empty());
    let profile = non_empty(&c.profile);
    let creds = |e: oxide_client::Error| err(&format!("Oxide credentials: {e}"));
    let from_env = |name: &str| env(name).filter(|v| !v.trim().is_empty());
    match (host, token, profile) {
        (Some(_), _, Some(_)) | (_, Some(_), Some(_)) => Err(err_at(
            "profile",
            "key `profile` conflicts with `host` and `token`; use one or the other",
        )),
        (Some(h), t, None) => {
            if !(h.starts_with("https://") || h.starts_with("http://")) {
                return Err(err_at(
                    "host",
                    &format!("key `host`: {h:?} is not an http:// or https:// URL"),
                ));
            }
            let t = match t {
                Some(t) => t.clone(),
                None => from_env("OXIDE_TOKEN").map(Secret::new).ok_or_else(|| {
                    err_at(
                        "token",
                        "key `host` is set but neither `token` nor OXIDE_TOKEN is",
                    )
                })?,
            };
            Ok(oxide_client::Config::new(h, t))
        }
        (None, Some(t), None) => {
            let h = from_env("OXIDE_HOST").ok_or_else(|| {
                err_at(
                    "host",
                    "key `token` is set but neither `host` nor OXIDE_HOST is",
                )
            })?;
            Ok(oxide_client::Config::new(h, t.clone()))
        }
        (None, None, Some(p)) => {
            let home = std::env::var_os("HOME")
                .filter(|h| !h.is_empty())
                .map(PathBuf::from)
                .ok_or_else(|| creds(oxide_client::Error::NoHomeDir))?;
            oxide_client::Config::from_profile(p, &home).map_err(creds)
        }
        (None, None, None) => oxide_client::Config::from_env().map_err(creds),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars() -> TemplateVars {
        TemplateVars {
            timestamp: "1700000000".into(),
            uuid: "0000".into(),
        }
    }

    fn config(extra: serde_json::Value) -> OxideConfig {
        let v = json!({
            "host": "http://127.0.0.1:1",
            "token": "t",
            "project": "imagebake",
            "boot_disk_image_name": "debian-12",
            "ssh_username": "root",
        });
        let v = crate::builders::packer::merged(v, &extra);
        OxideConfig::from_json(&v).unwrap()
    }

    fn plan_err(extra: serde_json::Value) -> String {
        Plan::new(&config(extra), &vars()).unwrap_err().to_string()
    }

    #[test]
    fn defaults() {
        let p = Plan::new(&config(json!({})), &vars()).unwrap();
        assert_eq!(p.instance, InstanceSpec::default());
        assert_eq!(
            p.source,
            ImageSource::Name {
                name: "debian-12".into(),
                project: true,
                silo: true
            }
        );
        assert_eq!(p.waits, Waits::default());
        assert!(!p.skip_create_image);
        match p.comm {
            CommPlan::Ssh(s) => assert!(s.uses_temporary_key() && s.is_root()),
            CommPlan::None => panic!("ssh is the default"),
        }
        let p = Plan::new(
            &config(json!({"artifact_name": "img-{{timestamp}}", "cpus": 4})),
            &vars(),
        )
        .unwrap();
        assert_eq!(p.image.name.as_deref(), Some("img-1700000000"));
        assert_eq!(p.instance.ncpus, 4);
    }

    #[test]
    fn checks_name_their_key() {
        for (extra, key) in [
            (json!({"project": "Bad_Project"}), "project"),
            (json!({"name": "Builder"}), "name"),
            (json!({"hostname": "-h"}), "hostname"),
            (json!({"cpus": 70000}), "cpus"),
            (json!({"memory": 0}), "memory"),
            (json!({"ssh_public_keys": ["x_y"]}), "ssh_public_keys"),
            (json!({"user_data": "x".repeat(32 * 1024 + 1)}), "user_data"),
            (json!({"artifact_name": "{{isotime}}"}), "artifact_name"),
            (json!({"artifact_name": "a-"}), "artifact_name"),
            (
                json!({"temporary_key_pair_name": "K"}),
                "temporary_key_pair_name",
            ),
            (json!({"boot_disk_image_id": "x"}), "boot_disk_image_id"),
            (json!({"boot_disk_image_name": null}), "boot_disk_image_id"),
            (
                json!({"boot_disk_image_scope": "rack"}),
                "boot_disk_image_scope",
            ),
            (json!({"ssh_username": null}), "ssh_username"),
            (json!({"state_timeout": "soon"}), "state_timeout"),
            (json!({"poll_cap": "0"}), "poll_cap"),
            (json!({"token": null}), "token"),
            (json!({"profile": "p"}), "profile"),
            (json!({"host": "oxide.example"}), "host"),
            (json!({"vpc": "V"}), "vpc"),
        ] {
            let e = plan_err(extra);
            assert!(
                e.contains(key) && e.contains("builder oxide-instance"),
                "{key}: {e}"
            );
        }
    }

    #[test]
    fn host_in_the_template_takes_the_token_from_oxide_token() {
        let c = config(json!({"token": null}));
        let env = |k: &str| (k == "OXIDE_TOKEN").then(|| "from-env".to_owned());
        let got = client_config_with(&c, &env).unwrap();
        assert_eq!(got.host(), "http://127.0.0.1:1");
        let none = |_: &str| None;
        let e = client_config_with(&c, &none).unwrap_err();
        assert_eq!(e.config_key(), Some("token"), "{e}");
        assert!(e.to_string().contains("OXIDE_TOKEN"), "{e}");

        let c = config(json!({"host": null}));
        let env = |k: &str| (k == "OXIDE_HOST").then(|| "http://127.0.0.1:2".to_owned());
        assert_eq!(
            client_config_with(&c, &env).unwrap().host(),
            "http://127.0.0.1:2"
        );
        let e = client_config_with(&c, &none).unwrap_err();
        assert_eq!(e.config_key(), Some("host"), "{e}");
    }
}
