//! Manta client configuration: explicit values, or node-manta's environment.

use std::path::{Path, PathBuf};
use std::time::Duration;

use imagebake_http::RetryPolicy;
use url::Url;

use crate::auth::KeyFingerprint;
use crate::config::{parse_bool, parse_http_url};
use crate::error::{Error, Result};
use crate::key_source::KeySource;

/// Everything a [`MantaClient`](super::MantaClient) needs. `Debug` never
/// shows key material.
#[derive(Debug, Clone)]
pub struct MantaConfig {
    pub(crate) url: Url,
    pub(crate) user: String,
    pub(crate) subuser: Option<String>,
    pub(crate) roles: Vec<String>,
    pub(crate) key: Option<KeySource>,
    pub(crate) insecure: bool,
    pub(crate) retry: RetryPolicy,
    pub(crate) timeout: Duration,
}

impl MantaConfig {
    /// Starts an explicit configuration.
    pub fn builder() -> MantaConfigBuilder {
        MantaConfigBuilder::default()
    }

    /// The Manta URL.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The account login (`MANTA_USER`).
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The RBAC sub-user (`MANTA_SUBUSER`), if any.
    pub fn subuser(&self) -> Option<&str> {
        self.subuser.as_deref()
    }

    /// Where the signing key comes from; `None` when requests are unsigned
    /// (`MANTA_NO_AUTH=true`).
    pub fn key_source(&self) -> Option<&KeySource> {
        self.key.as_ref()
    }

    /// Whether TLS certificates are NOT verified.
    pub fn insecure(&self) -> bool {
        self.insecure
    }

    /// Reads node-manta's variables: `MANTA_URL`, `MANTA_USER` and
    /// `MANTA_KEY_ID` (a fingerprint in any ssh-keygen form) are required;
    /// `MANTA_SUBUSER`, `MANTA_ROLE` (comma list), `MANTA_TLS_INSECURE` and
    /// `MANTA_NO_AUTH` (`true`/`1`/`false`/`0`) are optional. The key is the
    /// ssh-agent's (at `SSH_AUTH_SOCK`) if it holds it, else a key `X` in
    /// `~/.ssh` whose `X.pub` has the fingerprint. There is no default URL.
    pub fn from_env() -> Result<MantaConfig> {
        let env = |name: &str| std::env::var(name).ok();
        let home = std::env::var_os("HOME").map(PathBuf::from);
        Self::from_env_with(&env, home.as_deref())
    }

    /// [`MantaConfig::from_env`] with the environment and the home directory
    /// given explicitly.
    pub fn from_env_with(
        env: &dyn Fn(&str) -> Option<String>,
        home: Option<&Path>,
    ) -> Result<MantaConfig> {
        let var = |name: &str| env(name).filter(|v| !v.is_empty());
        let need = |name: &str| {
            var(name).ok_or_else(|| Error::Config {
                reason: format!(
                    "{name} is not set (node-manta needs MANTA_URL, MANTA_USER, MANTA_KEY_ID)"
                ),
            })
        };
        let flag = |name: &str| var(name).map_or(Ok(false), |v| parse_bool(&v, name));
        let mut b = MantaConfig::builder();
        b.url = Some((need("MANTA_URL")?, "MANTA_URL".into()));
        b.user = Some(need("MANTA_USER")?);
        b.subuser = var("MANTA_SUBUSER");
        b.roles = var("MANTA_ROLE")
            .map(|r| {
                r.split(',')
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        b.insecure = flag("MANTA_TLS_INSECURE")?;
        if flag("MANTA_NO_AUTH")? {
            b.no_auth = true;
        } else {
            let key_id = need("MANTA_KEY_ID")?;
            let fingerprint = KeyFingerprint::parse(&key_id).map_err(|_| Error::Config {
                reason: format!(
                    "MANTA_KEY_ID = {key_id:?} is not a key fingerprint (expected MD5 aa:bb:… or SHA256:…)"
                ),
            })?;
            b.key = Some(KeySource::Search {
                fingerprint,
                agent_socket: var("SSH_AUTH_SOCK").map(PathBuf::from),
                ssh_dir: home.map(|h| h.join(".ssh")),
            });
        }
        b.build()
    }
}

/// Builds a [`MantaConfig`] from explicit values.
#[derive(Debug, Default, Clone)]
pub struct MantaConfigBuilder {
    url: Option<(String, String)>,
    user: Option<String>,
    subuser: Option<String>,
    roles: Vec<String>,
    key: Option<KeySource>,
    no_auth: bool,
    insecure: bool,
    retry: Option<RetryPolicy>,
    timeout: Option<Duration>,
}

impl MantaConfigBuilder {
    /// Manta URL, e.g. `https://us-central.manta.mnx.io`.
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.url = Some((url.into(), "url".into()));
        self
    }
    /// Account login (`MANTA_USER`).
    pub fn user(mut self, user: impl Into<String>) -> Self {
        self.user = Some(user.into());
        self
    }
    /// RBAC sub-user whose key signs (`keyId` `/LOGIN/SUBUSER/keys/…`).
    pub fn subuser(mut self, subuser: impl Into<String>) -> Self {
        self.subuser = Some(subuser.into());
        self
    }
    /// RBAC roles, sent as the `role` header.
    pub fn roles(mut self, roles: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.roles = roles.into_iter().map(Into::into).collect();
        self
    }
    /// Signs with the private key in this file (not encrypted).
    pub fn key_file(self, path: impl Into<PathBuf>) -> Self {
        self.key_source(KeySource::File {
            path: path.into(),
            passphrase: None,
            expect: None,
        })
    }
    /// Signs with a key from this source.
    pub fn key_source(mut self, key: KeySource) -> Self {
        self.key = Some(key);
        self
    }
    /// Sends requests unsigned (`MANTA_NO_AUTH`).
    pub fn no_auth(mut self) -> Self {
        self.no_auth = true;
        self
    }
    /// Skips TLS certificate verification.
    pub fn insecure(mut self, insecure: bool) -> Self {
        self.insecure = insecure;
        self
    }
    /// Retry policy (default: 6 attempts, 200 ms to 5 s).
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = Some(retry);
        self
    }
    /// Per-request timeout (default 1 h: objects are images).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Checks and builds the configuration.
    pub fn build(self) -> Result<MantaConfig> {
        let (url_text, url_name) = self.url.ok_or_else(|| Error::Config {
            reason: "no Manta url given".into(),
        })?;
        let url = parse_http_url(&url_text, &url_name)?;
        let user = self
            .user
            .filter(|u| !u.is_empty())
            .ok_or_else(|| Error::Config {
                reason: "no Manta user (account login) given".into(),
            })?;
        if user.contains('/') || self.subuser.as_deref().is_some_and(|s| s.contains('/')) {
            return Err(Error::Config {
                reason: format!("Manta user {user:?} and sub-user must not contain '/'"),
            });
        }
        let key = match (self.key, self.no_auth) {
            (_, true) => None,
            (Some(k), false) => Some(k),
            (None, false) => {
                return Err(Error::Config {
                    reason: "no Manta signing key given (key file, ssh-agent, or no_auth)".into(),
                });
            }
        };
        Ok(MantaConfig {
            url,
            user,
            subuser: self.subuser.filter(|s| !s.is_empty()),
            roles: self.roles,
            key,
            insecure: self.insecure,
            retry: self.retry.unwrap_or_default(),
            timeout: self.timeout.unwrap_or(Duration::from_secs(3600)),
        })
    }
}
