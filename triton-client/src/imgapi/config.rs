//! IMGAPI repository client configuration: explicit values, or the
//! environment `updates-imgadm` reads.

use std::path::{Path, PathBuf};
use std::time::Duration;

use imagebake_http::RetryPolicy;
use url::Url;

use crate::auth::KeyFingerprint;
use crate::config::{expand_home, parse_bool, parse_http_url};
use crate::error::{Error, Result};
use crate::key_source::KeySource;

/// updates-imgadm's default repository.
pub const DEFAULT_UPDATES_URL: &str = "https://updates.tritondatacenter.com";

/// Everything an [`ImgapiClient`](super::ImgapiClient) needs. `Debug` never
/// shows key material.
#[derive(Debug, Clone)]
pub struct ImgapiConfig {
    pub(crate) url: Url,
    pub(crate) user: Option<String>,
    pub(crate) key: Option<KeySource>,
    pub(crate) channel: Option<String>,
    pub(crate) insecure: bool,
    pub(crate) retry: RetryPolicy,
    pub(crate) timeout: Duration,
}

impl ImgapiConfig {
    /// Starts an explicit configuration.
    pub fn builder() -> ImgapiConfigBuilder {
        ImgapiConfigBuilder::default()
    }

    /// The repository URL (without any `?channel=`).
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The user requests are signed as (`keyId`), if any.
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// The channel every request names; `None` for the server's default.
    pub fn channel(&self) -> Option<&str> {
        self.channel.as_deref()
    }

    /// Where the signing key comes from; `None` when requests are unsigned.
    pub fn key_source(&self) -> Option<&KeySource> {
        self.key.as_ref()
    }

    /// Whether TLS certificates are NOT verified.
    pub fn insecure(&self) -> bool {
        self.insecure
    }

    /// Reads updates-imgadm's variables: `UPDATES_IMGADM_URL` (default
    /// [`DEFAULT_UPDATES_URL`]; a `?channel=X` on it sets the channel),
    /// `UPDATES_IMGADM_USER`, `UPDATES_IMGADM_IDENTITY` (a private key path or
    /// an MD5/SHA256 fingerprint looked up in the ssh-agent and `~/.ssh`;
    /// default `~/.ssh/id_rsa` when it exists), `UPDATES_IMGADM_CHANNEL` and
    /// `UPDATES_IMGADM_INSECURE` (parsed strictly: `true`/`1` or
    /// `false`/`0`, anything else is an error naming the variable, where
    /// updates-imgadm takes any non-empty value, even `0`, as insecure).
    /// Requests are signed when both user and identity are known; an
    /// identity without a user is an error.
    pub fn from_env() -> Result<ImgapiConfig> {
        let env = |name: &str| std::env::var(name).ok();
        let home = std::env::var_os("HOME").map(PathBuf::from);
        Self::from_env_with(&env, home.as_deref())
    }

    /// [`ImgapiConfig::from_env`] with the environment and the home directory
    /// given explicitly.
    pub fn from_env_with(
        env: &dyn Fn(&str) -> Option<String>,
        home: Option<&Path>,
    ) -> Result<ImgapiConfig> {
        let var = |name: &str| env(name).filter(|v| !v.is_empty());
        let mut b = ImgapiConfig::builder();
        let (url, url_name) = match var("UPDATES_IMGADM_URL") {
            Some(u) => (u, "UPDATES_IMGADM_URL"),
            None => (DEFAULT_UPDATES_URL.to_owned(), "the default URL"),
        };
        b.url = Some((url, url_name.to_owned()));
        b.user = var("UPDATES_IMGADM_USER");
        if let Some(c) = var("UPDATES_IMGADM_CHANNEL") {
            b.channel = Some((c, "UPDATES_IMGADM_CHANNEL".into()));
        }
        b.insecure = var("UPDATES_IMGADM_INSECURE")
            .map_or(Ok(false), |v| parse_bool(&v, "UPDATES_IMGADM_INSECURE"))?;
        let identity = var("UPDATES_IMGADM_IDENTITY");
        b.key = match (&identity, &b.user) {
            (Some(_), None) => {
                return Err(Error::Config {
                    reason: "UPDATES_IMGADM_IDENTITY is set but UPDATES_IMGADM_USER is not \
                             (IMGAPI's keyId is the user name)"
                        .into(),
                });
            }
            (Some(id), Some(_)) => Some(identity_source(id, home, var("SSH_AUTH_SOCK"))?),
            (None, Some(_)) => home
                .map(|h| h.join(".ssh/id_rsa"))
                .filter(|p| p.is_file())
                .map(|path| KeySource::File {
                    path,
                    passphrase: None,
                    expect: None,
                }),
            (None, None) => None,
        };
        b.build()
    }
}

/// `-i`: a private key path, else a fingerprint (found in the agent or
/// `~/.ssh`), as updates-imgadm's `cliSigner`.
fn identity_source(id: &str, home: Option<&Path>, agent: Option<String>) -> Result<KeySource> {
    let path = match home {
        Some(h) => expand_home(id, h),
        None => PathBuf::from(id),
    };
    if path.is_file() {
        return Ok(KeySource::File {
            path,
            passphrase: None,
            expect: None,
        });
    }
    match KeyFingerprint::parse(id) {
        Ok(fingerprint) => Ok(KeySource::Search {
            fingerprint,
            agent_socket: agent.map(PathBuf::from),
            ssh_dir: home.map(|h| h.join(".ssh")),
        }),
        Err(_) => Err(Error::Config {
            reason: format!(
                "UPDATES_IMGADM_IDENTITY = {id:?} is neither an existing key file nor a key \
                 fingerprint (MD5 aa:bb:… or SHA256:…)"
            ),
        }),
    }
}

/// Whether `name` is a valid channel name (`^[a-z][a-z0-9_-]*$`).
pub(crate) fn valid_channel(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

/// Builds an [`ImgapiConfig`] from explicit values.
#[derive(Debug, Default, Clone)]
pub struct ImgapiConfigBuilder {
    url: Option<(String, String)>,
    user: Option<String>,
    key: Option<KeySource>,
    channel: Option<(String, String)>,
    insecure: bool,
    retry: Option<RetryPolicy>,
    timeout: Option<Duration>,
}

impl ImgapiConfigBuilder {
    /// The repository URL; a `?channel=X` on it sets the channel.
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.url = Some((url.into(), "url".into()));
        self
    }
    /// The user requests are signed as.
    pub fn user(mut self, user: impl Into<String>) -> Self {
        self.user = Some(user.into());
        self
    }
    /// Signs with the RSA private key in this file.
    pub fn key_file(self, path: impl Into<PathBuf>) -> Self {
        self.key_source(KeySource::File {
            path: path.into(),
            passphrase: None,
            expect: None,
        })
    }
    /// Signs with a key from this source (an RSA key).
    pub fn key_source(mut self, key: KeySource) -> Self {
        self.key = Some(key);
        self
    }
    /// The channel every request names.
    pub fn channel(mut self, channel: impl Into<String>) -> Self {
        self.channel = Some((channel.into(), "channel".into()));
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
    /// Per-request timeout (default 1 h, IMGAPI's own for file uploads).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Checks and builds the configuration.
    pub fn build(self) -> Result<ImgapiConfig> {
        let (url_text, url_name) = self.url.ok_or_else(|| Error::Config {
            reason: "no IMGAPI url given".into(),
        })?;
        let mut url = parse_http_url(&url_text, &url_name)?;
        let mut channel = self.channel;
        let mut rest = Vec::new();
        for (k, v) in url.query_pairs() {
            if k == "channel" {
                if channel.is_none() {
                    channel = Some((v.into_owned(), format!("?channel= of {url_name}")));
                }
            } else {
                rest.push((k.into_owned(), v.into_owned()));
            }
        }
        if rest.is_empty() {
            url.set_query(None);
        } else {
            url.query_pairs_mut().clear().extend_pairs(rest);
        }
        if let Some((c, from)) = &channel
            && !valid_channel(c)
        {
            return Err(Error::Config {
                reason: format!("{from} = {c:?} is not a channel name ([a-z][a-z0-9_-]*)"),
            });
        }
        let user = self.user.filter(|u| !u.is_empty());
        if self.key.is_some() && user.is_none() {
            return Err(Error::Config {
                reason: "an IMGAPI key is given but no user (the keyId is the user name)".into(),
            });
        }
        Ok(ImgapiConfig {
            url,
            key: if user.is_some() { self.key } else { None },
            user,
            channel: channel.map(|c| c.0),
            insecure: self.insecure,
            retry: self.retry.unwrap_or_default(),
            timeout: self.timeout.unwrap_or(Duration::from_secs(3600)),
        })
    }
}
