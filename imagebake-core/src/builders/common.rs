//! Configuration keys every builder with a communicator shares: Packer's
//! `communicator` and `ssh_*` keys ([`SshOptions`]), decoded on their own
//! and turned into a [`CommPlan`] with the builder's [`SshDefaults`]; and
//! the check every such builder makes before its first step
//! ([`Provisioners::refusal`](super::Provisioners::refusal)).

use std::path::PathBuf;
use std::time::Duration;

use imagebake_http::Secret;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::Error;
use crate::builders::packer::{self, config_error, config_key_error, secret_opt};
use crate::steps::common::{CommPlan, SshLogin, SshPlan};

/// The communicator keys [`SshOptions`] takes.
pub const SSH_KEYS: &[&str] = &[
    "communicator",
    "ssh_host",
    "ssh_port",
    "ssh_username",
    "ssh_password",
    "ssh_private_key_file",
    "ssh_agent_auth",
    "ssh_timeout",
    "ssh_bastion_host",
    "ssh_bastion_port",
    "ssh_bastion_username",
    "ssh_bastion_password",
    "ssh_bastion_private_key_file",
    "ssh_bastion_agent_auth",
];

/// Packer's communicator keys: `communicator` (`ssh` or `none`) and the
/// `ssh_*` keys. Secrets are held as [`Secret`]s.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SshOptions {
    /// `ssh` (default) or `none`.
    #[serde(default)]
    pub communicator: Option<String>,
    /// SSH host (default: the address the cloud gives the machine).
    #[serde(default)]
    pub ssh_host: Option<String>,
    /// SSH port (default 22).
    #[serde(default)]
    pub ssh_port: Option<u16>,
    /// SSH user.
    #[serde(default)]
    pub ssh_username: Option<String>,
    /// SSH password.
    #[serde(default, deserialize_with = "secret_opt")]
    pub ssh_password: Option<Secret>,
    /// SSH private key file.
    #[serde(default)]
    pub ssh_private_key_file: Option<PathBuf>,
    /// Log in with the ssh-agent's keys.
    #[serde(default)]
    pub ssh_agent_auth: bool,
    /// How long to try to connect (Go duration, default `5m`).
    #[serde(default)]
    pub ssh_timeout: Option<String>,
    /// Bastion (jump host).
    #[serde(default)]
    pub ssh_bastion_host: Option<String>,
    /// Bastion port (default 22).
    #[serde(default)]
    pub ssh_bastion_port: Option<u16>,
    /// Bastion user (default: `ssh_username`).
    #[serde(default)]
    pub ssh_bastion_username: Option<String>,
    /// Bastion password.
    #[serde(default, deserialize_with = "secret_opt")]
    pub ssh_bastion_password: Option<Secret>,
    /// Bastion private key file.
    #[serde(default)]
    pub ssh_bastion_private_key_file: Option<PathBuf>,
    /// Log in to the bastion with the ssh-agent.
    #[serde(default)]
    pub ssh_bastion_agent_auth: bool,
}

/// Splits a builder block into its communicator keys ([`SSH_KEYS`]) and the
/// rest (`type` and `name` stay with the rest).
pub fn split_ssh_keys(value: &Value) -> (Value, Value) {
    let mut ssh = Map::new();
    let mut rest = Map::new();
    if let Value::Object(obj) = value {
        for (k, v) in obj {
            if SSH_KEYS.contains(&k.as_str()) {
                ssh.insert(k.clone(), v.clone());
            } else {
                rest.insert(k.clone(), v.clone());
            }
        }
        (Value::Object(ssh), Value::Object(rest))
    } else {
        (Value::Object(ssh), value.clone())
    }
}

/// What a builder supplies where the `ssh_*` keys leave something out.
#[derive(Debug, Clone, PartialEq)]
pub struct SshDefaults {
    /// The user when `ssh_username` is not set; `None` makes the key
    /// required (as in Packer).
    pub username: Option<String>,
    /// The login when none of `ssh_private_key_file`, `ssh_password` and
    /// `ssh_agent_auth` is set.
    pub login: SshLogin,
    /// The bastion's login when none of its own login keys is set.
    pub bastion_login: SshLogin,
}

impl SshDefaults {
    /// `login` for the machine, the ssh-agent for a bastion, and
    /// `ssh_username` required.
    pub fn new(login: SshLogin) -> Self {
        Self {
            username: None,
            login,
            bastion_login: SshLogin::Agent,
        }
    }

    /// The user when `ssh_username` is not set.
    pub fn username(mut self, username: impl Into<String>) -> Self {
        self.username = Some(username.into());
        self
    }

    /// The bastion's login when none of its login keys is set.
    pub fn bastion_login(mut self, login: SshLogin) -> Self {
        self.bastion_login = login;
        self
    }
}

impl SshOptions {
    /// Decodes the communicator keys of a builder block (other keys are an
    /// error naming the key and `builder`).
    pub fn from_json(builder: &str, value: &Value) -> Result<Self, Error> {
        packer::decode(builder, value, SSH_KEYS, &[])
    }

    /// Checks the keys and makes the plan. `default_login` is used when
    /// none of `ssh_private_key_file`, `ssh_password`, `ssh_agent_auth` is
    /// set; `default_username` when `ssh_username` is not (`None` makes it
    /// required, as in Packer); a bastion logs in with the agent unless its
    /// keys say otherwise. Errors name the key and `builder`.
    pub fn plan(
        &self,
        builder: &str,
        default_login: SshLogin,
        default_username: Option<&str>,
    ) -> Result<CommPlan, Error> {
        let mut defaults = SshDefaults::new(default_login);
        defaults.username = default_username.map(str::to_owned);
        self.plan_with(builder, &defaults)
    }

    /// [`SshOptions::plan`] with all of the builder's defaults given.
    pub fn plan_with(&self, builder: &str, defaults: &SshDefaults) -> Result<CommPlan, Error> {
        let err = |m: &str| config_error(builder, m);
        let err_at = |k: &str, m: &str| config_key_error(builder, k, m);
        match self.communicator.as_deref().unwrap_or("ssh") {
            "none" => return Ok(CommPlan::None),
            "ssh" => {}
            other => {
                return Err(err_at(
                    "communicator",
                    &format!("key `communicator`: {other:?} is not supported (ssh or none)"),
                ));
            }
        }
        let username = match self
            .ssh_username
            .as_deref()
            .filter(|u| !u.trim().is_empty())
        {
            Some(u) => u.trim().to_owned(),
            None => match &defaults.username {
                Some(u) => u.clone(),
                None => {
                    return Err(err_at(
                        "ssh_username",
                        "missing required key `ssh_username` (needed with communicator ssh)",
                    ));
                }
            },
        };
        let timeout = packer::duration_key(
            builder,
            "ssh_timeout",
            self.ssh_timeout.as_deref(),
            Duration::from_secs(300),
        )?;
        if timeout.is_zero() {
            return Err(err_at(
                "ssh_timeout",
                "key `ssh_timeout` must be more than 0",
            ));
        }
        let bastion = match self.ssh_bastion_host.as_deref().filter(|h| !h.is_empty()) {
            None => {
                let set = self.ssh_bastion_port.is_some()
                    || self.ssh_bastion_username.is_some()
                    || self.ssh_bastion_password.is_some()
                    || self.ssh_bastion_private_key_file.is_some()
                    || self.ssh_bastion_agent_auth;
                if set {
                    return Err(err(
                        "ssh_bastion_* keys are set but `ssh_bastion_host` is not",
                    ));
                }
                None
            }
            Some(h) => Some(Box::new(SshPlan {
                host: Some(h.to_owned()),
                port: self.ssh_bastion_port.unwrap_or(22),
                username: self
                    .ssh_bastion_username
                    .clone()
                    .unwrap_or_else(|| username.clone()),
                login: login(
                    self.ssh_bastion_private_key_file.as_ref(),
                    self.ssh_bastion_password.as_ref(),
                    self.ssh_bastion_agent_auth,
                )
                .unwrap_or_else(|| defaults.bastion_login.clone()),
                timeout,
                bastion: None,
            })),
        };
        Ok(CommPlan::Ssh(SshPlan {
            host: self.ssh_host.clone().filter(|h| !h.trim().is_empty()),
            port: self.ssh_port.unwrap_or(22),
            username,
            login: login(
                self.ssh_private_key_file.as_ref(),
                self.ssh_password.as_ref(),
                self.ssh_agent_auth,
            )
            .unwrap_or_else(|| defaults.login.clone()),
            timeout,
            bastion,
        }))
    }
}

/// The login the keys ask for, if any: a key file, then a password, then
/// the agent.
fn login(key_file: Option<&PathBuf>, password: Option<&Secret>, agent: bool) -> Option<SshLogin> {
    if let Some(p) = key_file {
        return Some(SshLogin::KeyFile(p.clone()));
    }
    if let Some(p) = password {
        return Some(SshLogin::Password(p.clone()));
    }
    agent.then_some(SshLogin::Agent)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn splits_decodes_and_plans() {
        let block = json!({"type": "x", "project": "p", "ssh_username": "debian",
            "ssh_port": 2222, "ssh_timeout": "30s"});
        let (ssh, rest) = split_ssh_keys(&block);
        assert_eq!(rest, json!({"type": "x", "project": "p"}));
        let o = SshOptions::from_json("x", &ssh).unwrap();
        match o.plan("x", SshLogin::TemporaryKey, None).unwrap() {
            CommPlan::Ssh(p) => {
                assert_eq!((p.username.as_str(), p.port), ("debian", 2222));
                assert_eq!(p.login, SshLogin::TemporaryKey);
                assert!(p.uses_temporary_key() && !p.is_root());
                assert_eq!(p.timeout, Duration::from_secs(30));
            }
            CommPlan::None => panic!("ssh is the default"),
        }
    }

    #[test]
    fn errors_name_the_key() {
        let plan = |v: Value, user: Option<&str>| {
            SshOptions::from_json("b", &v)
                .and_then(|o| o.plan("b", SshLogin::Agent, user))
                .map_err(|e| e.to_string())
        };
        let e = plan(json!({}), None).unwrap_err();
        assert!(
            e.contains("builder b: missing required key `ssh_username`"),
            "{e}"
        );
        assert!(plan(json!({}), Some("root")).is_ok());
        assert_eq!(
            plan(json!({"communicator": "none"}), None),
            Ok(CommPlan::None)
        );
        for (v, key) in [
            (json!({"communicator": "winrm"}), "communicator"),
            (json!({"ssh_timeout": "soon"}), "ssh_timeout"),
            (json!({"ssh_bastion_port": 22}), "ssh_bastion_host"),
            (json!({"ssh_port": "x"}), "ssh_port"),
            (json!({"ssh_pty": true}), "ssh_pty"),
        ] {
            let e = plan(v, Some("root")).unwrap_err();
            assert!(e.contains(key) && e.contains("builder b"), "{key}: {e}");
        }
        let d = SshDefaults::new(SshLogin::TemporaryKey)
            .username("root")
            .bastion_login(SshLogin::Password(Secret::new("b")));
        let o = SshOptions::from_json("b", &json!({"ssh_bastion_host": "j"})).unwrap();
        match o.plan_with("b", &d).unwrap() {
            CommPlan::Ssh(p) => {
                assert_eq!(
                    (p.username.as_str(), &p.login),
                    ("root", &SshLogin::TemporaryKey)
                );
                let b = p.bastion.expect("bastion");
                assert_eq!((b.username.as_str(), b.port), ("root", 22));
                assert!(matches!(b.login, SshLogin::Password(_)));
            }
            CommPlan::None => panic!("ssh is the default"),
        }
        let p = plan(json!({"ssh_password": "pw", "ssh_username": "u"}), None).unwrap();
        assert!(!format!("{p:?}").contains("\"pw\""), "{p:?}");
    }
}
