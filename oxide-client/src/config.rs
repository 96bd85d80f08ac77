//! Where the client finds its rack and token, resolved the way the official
//! Oxide SDK and CLI do it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use imagebake_http::{RetryPolicy, Secret};
use serde::Deserialize;

use crate::error::{Error, Result};

/// How to reach a rack: host, token and transport settings.
///
/// `Debug` never shows the token.
#[derive(Debug, Clone)]
pub struct Config {
    pub(crate) host: String,
    pub(crate) token: Secret,
    pub(crate) insecure: bool,
    pub(crate) timeout: Duration,
    pub(crate) retry: RetryPolicy,
}

impl Config {
    /// An explicit host (`https://oxide.example.com`) and token; the first
    /// choice of the resolution order, reading no environment or file.
    pub fn new(host: impl Into<String>, token: impl Into<Secret>) -> Self {
        Self {
            host: host.into().trim_end_matches('/').to_owned(),
            token: token.into(),
            insecure: false,
            timeout: Duration::from_secs(60),
            retry: RetryPolicy::default(),
        }
    }

    /// Resolves host and token from the process environment and
    /// `~/.config/oxide`; see [`Config::from_env_with`].
    pub fn from_env() -> Result<Self> {
        let home = std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(PathBuf::from)
            .ok_or(Error::NoHomeDir)?;
        Self::from_env_with(|k| std::env::var(k).ok(), &home)
    }

    /// Resolves host and token as the official SDK does, with `env` standing
    /// for the environment and `home` for the home directory:
    ///
    /// 1. `OXIDE_HOST` together with `OXIDE_PROFILE` is an error.
    /// 2. `OXIDE_TOKEN` (which then needs `OXIDE_HOST`).
    /// 3. Otherwise a profile from `~/.config/oxide/credentials.toml`
    ///    (`[profile.NAME]` tables with `host` and `token`): the one whose
    ///    host is `OXIDE_HOST` if that is set, else `OXIDE_PROFILE`, else the
    ///    `default-profile` of `~/.config/oxide/config.toml`.
    ///
    /// `OXIDE_INSECURE` is not read: insecure TLS is only ever set with
    /// [`Config::insecure`].
    pub fn from_env_with(env: impl Fn(&str) -> Option<String>, home: &Path) -> Result<Self> {
        let var = |k: &str| env(k).filter(|v| !v.is_empty());
        let host = var("OXIDE_HOST");
        let profile = var("OXIDE_PROFILE");
        if host.is_some() && profile.is_some() {
            return Err(Error::HostProfileConflict);
        }
        if let Some(token) = var("OXIDE_TOKEN") {
            let host = host.ok_or(Error::MissingHost)?;
            return Ok(Self::new(host, token));
        }
        let dir = config_dir(home);
        let creds = read_credentials(&dir)?;
        let name = match (host, profile) {
            (Some(host), _) => creds
                .profile
                .iter()
                .find(|(_, p)| p.host.trim_end_matches('/') == host.trim_end_matches('/'))
                .map(|(name, _)| name.clone())
                .ok_or_else(|| Error::MissingToken {
                    host,
                    path: dir.join("credentials.toml"),
                })?,
            (None, Some(profile)) => profile,
            (None, None) => default_profile(&dir)?,
        };
        Self::from_credentials(&dir, creds, &name)
    }

    /// Uses the named profile of `~/.config/oxide/credentials.toml` under
    /// `home`, ignoring the environment.
    pub fn from_profile(profile: &str, home: &Path) -> Result<Self> {
        let dir = config_dir(home);
        let creds = read_credentials(&dir)?;
        Self::from_credentials(&dir, creds, profile)
    }

    fn from_credentials(dir: &Path, mut creds: CredentialsFile, name: &str) -> Result<Self> {
        let p = creds.profile.remove(name).ok_or_else(|| Error::NoProfile {
            profile: name.to_owned(),
            path: dir.join("credentials.toml"),
        })?;
        Ok(Self::new(p.host, p.token))
    }

    /// Accepts any TLS certificate and host name (test racks with expired
    /// certificates). Off unless asked for.
    pub fn insecure(mut self, insecure: bool) -> Self {
        self.insecure = insecure;
        self
    }

    /// Per-request timeout (default 60 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How 429 and 503 answers are retried (default: 6 attempts, 200 ms to 5 s).
    pub fn retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The rack's base URL.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Whether TLS verification is off.
    pub fn is_insecure(&self) -> bool {
        self.insecure
    }
}

fn config_dir(home: &Path) -> PathBuf {
    home.join(".config").join("oxide")
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CredentialsFile {
    profile: BTreeMap<String, ProfileCredentials>,
}

#[derive(Deserialize)]
struct ProfileCredentials {
    host: String,
    #[serde(deserialize_with = "secret")]
    token: Secret,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
struct BasicConfigFile {
    default_profile: Option<String>,
}

fn secret<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Secret, D::Error> {
    String::deserialize(d).map(Secret::new)
}

fn read_credentials(dir: &Path) -> Result<CredentialsFile> {
    let path = dir.join("credentials.toml");
    match std::fs::read_to_string(&path) {
        Ok(text) => parse_toml(&path, &text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(Error::NoAuthenticatedHosts { path })
        }
        Err(source) => Err(Error::ConfigRead { path, source }),
    }
}

fn default_profile(dir: &Path) -> Result<String> {
    let path = dir.join("config.toml");
    let config: BasicConfigFile = match std::fs::read_to_string(&path) {
        Ok(text) => parse_toml(&path, &text)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::NoDefaultProfile { path });
        }
        Err(source) => return Err(Error::ConfigRead { path, source }),
    };
    config
        .default_profile
        .ok_or(Error::NoDefaultProfile { path })
}

fn parse_toml<T: serde::de::DeserializeOwned>(path: &Path, text: &str) -> Result<T> {
    toml::from_str(text).map_err(|e| Error::ConfigParse {
        path: path.to_owned(),
        line: e
            .span()
            .and_then(|s| text.get(..s.start))
            .map(|before| before.matches('\n').count() + 1),
        message: e.message().to_owned(),
    })
}
