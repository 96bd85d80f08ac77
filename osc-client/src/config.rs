//! Configuration as the official SDKs read it: explicit values, then the
//! `OSC_*` environment variables, then a profile in `~/.osc/config.json`.
//!
//! Each field is resolved on its own in that order (so an explicit region
//! wins over `OSC_REGION`, which wins over the profile's `region`). The region
//! defaults to `eu-west-2`, the protocol to `https`, and the endpoint to
//! `{protocol}://api.{region}.outscale.com`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use imagebake_http::{RetryPolicy, Secret};
use serde::Deserialize;
use url::Url;

use crate::error::ConfigError;
use crate::sign::SignatureVersion;

/// The default region.
pub const DEFAULT_REGION: &str = "eu-west-2";

/// A resolved configuration; build one with [`Config::builder`],
/// [`Config::from_env`] or [`Config::explicit`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// Access key.
    pub access_key: String,
    /// Secret key (redacted in `Debug`).
    pub secret_key: Secret,
    /// Region, e.g. `eu-west-2`.
    pub region: String,
    /// Base URL; requests go to `{endpoint}/api/v1/{Action}`.
    pub endpoint: Url,
    /// Accept any TLS certificate (`OSC_TLS_SKIP_VERIFY`).
    pub tls_skip_verify: bool,
    /// Signature scheme (OSC4 by default).
    pub signature: SignatureVersion,
    /// Retries for throttling (503 code 6, 429 codes 24/25).
    pub retry: RetryPolicy,
    /// `ResultsPerPage` for streamed listings (1..=1000).
    pub page_size: u32,
    /// Timeout of one HTTP attempt.
    pub request_timeout: Duration,
    /// How long to wait for the TCP (and TLS) connection of an attempt
    /// (15 s, or `request_timeout` when shorter, unless set).
    pub connect_timeout: Duration,
}

impl Config {
    /// A builder; nothing is read until `build`.
    pub fn builder() -> ConfigBuilder {
        ConfigBuilder::default()
    }

    /// Explicit values only (no environment, no profile file).
    pub fn explicit(
        access_key: impl Into<String>,
        secret_key: impl Into<Secret>,
        region: impl Into<String>,
        endpoint: impl Into<String>,
    ) -> Result<Self, ConfigError> {
        Self::builder()
            .access_key(access_key)
            .secret_key(secret_key)
            .region(region)
            .endpoint(endpoint)
            .build_with(|_| None, None)
    }

    /// `OSC_*` variables, then `~/.osc/config.json` (or `OSC_CONFIG_FILE`).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::builder().build()
    }

    /// Like [`Config::from_env`], with the environment given as a lookup
    /// function and the home directory given explicitly (tests use this
    /// instead of touching the process environment).
    pub fn from_env_with(
        env: impl Fn(&str) -> Option<String>,
        home: Option<&Path>,
    ) -> Result<Self, ConfigError> {
        Self::builder().build_with(env, home)
    }
}

/// Collects explicit values; [`ConfigBuilder::build`] fills the rest.
#[derive(Debug, Clone, Default)]
pub struct ConfigBuilder {
    access_key: Option<String>,
    secret_key: Option<Secret>,
    region: Option<String>,
    profile: Option<String>,
    config_file: Option<PathBuf>,
    endpoint: Option<String>,
    protocol: Option<String>,
    tls_skip_verify: Option<bool>,
    signature: SignatureVersion,
    retry: Option<RetryPolicy>,
    page_size: Option<u32>,
    request_timeout: Option<Duration>,
    connect_timeout: Option<Duration>,
}

impl ConfigBuilder {
    /// Access key.
    pub fn access_key(mut self, v: impl Into<String>) -> Self {
        self.access_key = Some(v.into());
        self
    }
    /// Secret key.
    pub fn secret_key(mut self, v: impl Into<Secret>) -> Self {
        self.secret_key = Some(v.into());
        self
    }
    /// Region.
    pub fn region(mut self, v: impl Into<String>) -> Self {
        self.region = Some(v.into());
        self
    }
    /// Profile name in the profile file (default `default`).
    pub fn profile(mut self, v: impl Into<String>) -> Self {
        self.profile = Some(v.into());
        self
    }
    /// Profile file (default `~/.osc/config.json`).
    pub fn config_file(mut self, v: impl Into<PathBuf>) -> Self {
        self.config_file = Some(v.into());
        self
    }
    /// Endpoint: `https://api.eu-west-2.outscale.com`, with or without a
    /// trailing `/api/v1`, with or without the protocol.
    pub fn endpoint(mut self, v: impl Into<String>) -> Self {
        self.endpoint = Some(v.into());
        self
    }
    /// Protocol used when the endpoint has none (`https`).
    pub fn protocol(mut self, v: impl Into<String>) -> Self {
        self.protocol = Some(v.into());
        self
    }
    /// Accept any TLS certificate.
    pub fn tls_skip_verify(mut self, v: bool) -> Self {
        self.tls_skip_verify = Some(v);
        self
    }
    /// Signature scheme.
    pub fn signature(mut self, v: SignatureVersion) -> Self {
        self.signature = v;
        self
    }
    /// Retry policy for throttled calls.
    pub fn retry(mut self, v: RetryPolicy) -> Self {
        self.retry = Some(v);
        self
    }
    /// `ResultsPerPage` for streamed listings (clamped to 1..=1000).
    pub fn page_size(mut self, v: u32) -> Self {
        self.page_size = Some(v.clamp(1, 1000));
        self
    }
    /// Timeout of one HTTP attempt.
    pub fn request_timeout(mut self, v: Duration) -> Self {
        self.request_timeout = Some(v);
        self
    }
    /// Timeout of the connection of one HTTP attempt (default 15 s, or the
    /// request timeout when shorter).
    pub fn connect_timeout(mut self, v: Duration) -> Self {
        self.connect_timeout = Some(v);
        self
    }

    /// Resolves with the process environment and `$HOME`.
    pub fn build(self) -> Result<Config, ConfigError> {
        let home = std::env::var_os("HOME").map(PathBuf::from);
        self.build_with(|k| std::env::var(k).ok(), home.as_deref())
    }

    /// Resolves with `env` as the environment and `home` as the home directory.
    pub fn build_with(
        self,
        env: impl Fn(&str) -> Option<String>,
        home: Option<&Path>,
    ) -> Result<Config, ConfigError> {
        let env = |k: &str| env(k).filter(|v| !v.is_empty());
        let named_profile = self.profile.clone().or_else(|| env("OSC_PROFILE"));
        let file = self
            .config_file
            .clone()
            .or_else(|| env("OSC_CONFIG_FILE").map(PathBuf::from))
            .or_else(|| home.map(|h| h.join(".osc").join("config.json")));
        let profile = match &file {
            Some(f) => load_profile(f, named_profile.as_deref())?,
            None => Profile::default(),
        };
        let file_name = file.as_ref().map_or_else(
            || "~/.osc/config.json".to_owned(),
            |f| f.display().to_string(),
        );

        let access_key = self
            .access_key
            .or_else(|| env("OSC_ACCESS_KEY"))
            .or(profile.access_key);
        let secret_key = self
            .secret_key
            .or_else(|| env("OSC_SECRET_KEY").map(Secret::from))
            .or(profile.secret_key.map(Secret::from));
        let (Some(access_key), Some(secret_key)) = (access_key, secret_key) else {
            return Err(ConfigError::MissingCredentials { file: file_name });
        };
        let region = self
            .region
            .or_else(|| env("OSC_REGION"))
            .or(profile.region)
            .unwrap_or_else(|| DEFAULT_REGION.to_owned());
        let protocol = self
            .protocol
            .or_else(|| env("OSC_PROTOCOL"))
            .or(profile.protocol)
            .unwrap_or_else(|| "https".to_owned());
        let endpoint = self
            .endpoint
            .or_else(|| env("OSC_ENDPOINT_API"))
            .or(profile.endpoints.api)
            .unwrap_or_else(|| format!("api.{region}.outscale.com"));
        let tls_skip_verify = self
            .tls_skip_verify
            .or_else(|| env("OSC_TLS_SKIP_VERIFY").map(|v| skip_verify_from_env(&v)))
            .or(profile.tls_skip_verify)
            .unwrap_or(false);
        let request_timeout = self.request_timeout.unwrap_or(Duration::from_secs(60));
        Ok(Config {
            access_key,
            secret_key,
            region,
            endpoint: normalize_endpoint(&endpoint, &protocol)?,
            tls_skip_verify,
            signature: self.signature,
            retry: self.retry.unwrap_or_default(),
            page_size: self.page_size.unwrap_or(100),
            request_timeout,
            connect_timeout: self
                .connect_timeout
                .unwrap_or_else(|| imagebake_http::connect_timeout(request_timeout)),
        })
    }
}

/// `OSC_TLS_SKIP_VERIFY` as the Outscale SDKs read it (osc-sdk-rust,
/// osc-sdk-python): `true` in any case turns verification off; any other
/// value keeps it on, even over a profile's `tls_skip_verify` (a value that
/// is not `false` either is warned about).
fn skip_verify_from_env(v: &str) -> bool {
    let v = v.trim();
    if v.eq_ignore_ascii_case("true") {
        return true;
    }
    if !v.eq_ignore_ascii_case("false") {
        tracing::warn!(
            value = v,
            "OSC_TLS_SKIP_VERIFY is neither true nor false: TLS certificates stay verified \
             (only `true` turns verification off, as in the Outscale SDKs)"
        );
    }
    false
}

/// Adds the protocol when missing and drops a trailing `/api/v1` or `/`.
fn normalize_endpoint(endpoint: &str, protocol: &str) -> Result<Url, ConfigError> {
    let mut s = endpoint.trim().to_owned();
    if !s.contains("://") {
        s = format!("{protocol}://{s}");
    }
    let trimmed = s.trim_end_matches('/');
    let trimmed = trimmed
        .strip_suffix("/api/v1")
        .or_else(|| trimmed.strip_suffix("/api/latest"))
        .unwrap_or(trimmed);
    Url::parse(trimmed).map_err(|source| ConfigError::Endpoint {
        endpoint: endpoint.to_owned(),
        source,
    })
}

/// One profile of `~/.osc/config.json`.
#[derive(Debug, Default, Deserialize)]
struct Profile {
    #[serde(default)]
    access_key: Option<String>,
    #[serde(default)]
    secret_key: Option<String>,
    #[serde(default)]
    region: Option<String>,
    #[serde(default)]
    protocol: Option<String>,
    #[serde(default)]
    endpoints: Endpoints,
    #[serde(default)]
    tls_skip_verify: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
struct Endpoints {
    #[serde(default)]
    api: Option<String>,
}

/// Reads profile `name` (or `default`) from `file`. A missing file is fine
/// unless a profile was asked for by name.
fn load_profile(file: &Path, name: Option<&str>) -> Result<Profile, ConfigError> {
    let shown = file.display().to_string();
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && name.is_none() => {
            return Ok(Profile::default());
        }
        Err(source) => {
            return Err(ConfigError::File {
                file: shown,
                source,
            });
        }
    };
    let mut profiles: HashMap<String, Profile> =
        serde_json::from_str(&text).map_err(|source| ConfigError::Parse {
            file: shown.clone(),
            source,
        })?;
    match name {
        Some(n) => profiles.remove(n).ok_or(ConfigError::UnknownProfile {
            profile: n.to_owned(),
            file: shown,
        }),
        None => Ok(profiles.remove("default").unwrap_or_default()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| map.get(k).cloned()
    }

    fn home_with(profiles: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join(".osc")).expect("mkdir");
        std::fs::write(dir.path().join(".osc/config.json"), profiles).expect("write");
        dir
    }

    const FILE: &str = r#"{
        "default": {"access_key": "AKFILE", "secret_key": "SKFILE", "region": "us-east-2"},
        "other": {"access_key": "AKOTHER", "secret_key": "SKOTHER", "region": "us-west-1",
                  "protocol": "http", "endpoints": {"api": "localhost:3000/api/v1"},
                  "tls_skip_verify": true}
    }"#;

    #[test]
    fn defaults_from_env_only() {
        let c = Config::from_env_with(
            env_of(&[("OSC_ACCESS_KEY", "AK"), ("OSC_SECRET_KEY", "SK")]),
            None,
        )
        .expect("config");
        assert_eq!(c.access_key, "AK");
        assert_eq!(c.secret_key.expose(), "SK");
        assert_eq!(c.region, "eu-west-2");
        assert_eq!(c.endpoint.as_str(), "https://api.eu-west-2.outscale.com/");
        assert!(!c.tls_skip_verify);
    }

    #[test]
    fn explicit_beats_env_beats_file() {
        let home = home_with(FILE);
        let env = env_of(&[
            ("OSC_REGION", "cloudgouv-eu-west-1"),
            ("OSC_ACCESS_KEY", "AKENV"),
        ]);
        let c = Config::builder()
            .access_key("AKX")
            .build_with(&env, Some(home.path()))
            .expect("config");
        assert_eq!(c.access_key, "AKX");
        assert_eq!(c.secret_key.expose(), "SKFILE");
        assert_eq!(c.region, "cloudgouv-eu-west-1");
        assert_eq!(
            c.endpoint.host_str(),
            Some("api.cloudgouv-eu-west-1.outscale.com")
        );

        let c = Config::from_env_with(&env, Some(home.path())).expect("config");
        assert_eq!(c.access_key, "AKENV");
    }

    #[test]
    fn named_profile_with_endpoint_and_protocol() {
        let home = home_with(FILE);
        let c = Config::from_env_with(env_of(&[("OSC_PROFILE", "other")]), Some(home.path()))
            .expect("config");
        assert_eq!(c.access_key, "AKOTHER");
        assert_eq!(c.region, "us-west-1");
        assert_eq!(c.endpoint.as_str(), "http://localhost:3000/");
        assert!(c.tls_skip_verify);

        let err = Config::from_env_with(env_of(&[("OSC_PROFILE", "nope")]), Some(home.path()))
            .expect_err("unknown profile");
        assert!(matches!(err, ConfigError::UnknownProfile { .. }), "{err:?}");
    }

    #[test]
    fn config_file_env_and_endpoint_env() {
        let home = home_with(FILE);
        let file = home.path().join(".osc/config.json");
        let c = Config::from_env_with(
            env_of(&[
                ("OSC_CONFIG_FILE", file.to_str().expect("utf8")),
                ("OSC_ENDPOINT_API", "http://127.0.0.1:9999/api/v1/"),
                ("OSC_TLS_SKIP_VERIFY", "true"),
            ]),
            None,
        )
        .expect("config");
        assert_eq!(c.access_key, "AKFILE");
        assert_eq!(c.endpoint.as_str(), "http://127.0.0.1:9999/");
        assert!(c.tls_skip_verify);
    }

    /// `OSC_TLS_SKIP_VERIFY` as osc-sdk-rust reads it: only `true` (any
    /// case) turns verification off; `1` or `yes` keep it on, with a warning;
    /// a set value wins over the profile's `tls_skip_verify`.
    #[test]
    fn tls_skip_verify_from_env_as_the_sdks_read_it() {
        let creds = [("OSC_ACCESS_KEY", "AK"), ("OSC_SECRET_KEY", "SK")];
        let skip = |v: &str| {
            let mut env = creds.to_vec();
            env.push(("OSC_TLS_SKIP_VERIFY", v));
            let mut out = None;
            let logs = imagebake_testing::capture_logs(|| {
                out = Some(
                    Config::from_env_with(env_of(&env), None)
                        .expect("config")
                        .tls_skip_verify,
                );
            });
            (out.expect("ran"), logs)
        };
        assert_eq!(skip("true"), (true, String::new()));
        assert_eq!(skip("TRUE"), (true, String::new()));
        assert_eq!(skip("false"), (false, String::new()));
        for unclear in ["1", "yes", "on"] {
            let (on, logs) = skip(unclear);
            assert!(!on, "{unclear}");
            assert!(
                logs.contains("OSC_TLS_SKIP_VERIFY is neither true nor false"),
                "{unclear}: {logs}"
            );
        }
        let home = home_with(FILE);
        let c = Config::from_env_with(
            env_of(&[("OSC_PROFILE", "other"), ("OSC_TLS_SKIP_VERIFY", "false")]),
            Some(home.path()),
        )
        .expect("config");
        assert!(!c.tls_skip_verify, "the variable wins over the profile");
    }

    #[test]
    fn missing_credentials_and_secret_never_shown() {
        let err = Config::from_env_with(env_of(&[]), None).expect_err("no creds");
        assert!(matches!(err, ConfigError::MissingCredentials { .. }));
        let c = Config::explicit("AK", "super-secret", "eu-west-2", "http://127.0.0.1:1")
            .expect("config");
        assert!(!format!("{c:?}").contains("super-secret"));
    }

    #[test]
    fn bad_file_is_an_error() {
        let home = home_with("not json");
        let err = Config::from_env_with(env_of(&[]), Some(home.path())).expect_err("parse");
        assert!(matches!(err, ConfigError::Parse { .. }));
    }
}
