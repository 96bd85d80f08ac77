//! Client configuration: explicit values, or the environment and profiles
//! the way node-triton and triton-go users already have them.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use imagebake_http::{RetryPolicy, Secret};
use serde::Deserialize;
use url::Url;

use crate::auth::{Algorithm, KeyFingerprint, Signer};
use crate::error::{Error, Result};
use crate::key_source::KeySource;

/// Everything a [`Client`](crate::Client) needs. `Debug` never shows key
/// material or passphrases.
#[derive(Debug, Clone)]
pub struct Config {
    pub(crate) url: Url,
    pub(crate) account: String,
    pub(crate) user: Option<String>,
    pub(crate) act_as: Option<String>,
    pub(crate) roles: Vec<String>,
    pub(crate) key: KeySource,
    pub(crate) algorithm: Option<Algorithm>,
    pub(crate) insecure: bool,
    pub(crate) retry: RetryPolicy,
    pub(crate) timeout: Duration,
    pub(crate) clock_offset_secs: i64,
    pub(crate) profile: Option<String>,
}

impl Config {
    /// Starts an explicit configuration.
    pub fn builder() -> ConfigBuilder {
        ConfigBuilder::default()
    }

    /// The CloudAPI base URL.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The account login (used in `keyId`, and in paths unless acting as
    /// another account).
    pub fn account(&self) -> &str {
        &self.account
    }

    /// The RBAC sub-user, if any.
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// Where the signing key comes from.
    pub fn key_source(&self) -> &KeySource {
        &self.key
    }

    /// Whether TLS certificates are NOT verified.
    pub fn insecure(&self) -> bool {
        self.insecure
    }

    /// The profile the configuration came from (`env` for environment
    /// variables), if it came from [`Config::from_env`].
    pub fn profile(&self) -> Option<&str> {
        self.profile.as_deref()
    }

    /// Reads the configuration as node-triton does: the profile named by
    /// `TRITON_PROFILE`, else the `profile` of `~/.triton/config.json`
    /// (`$XDG_CONFIG_HOME/triton` when set), from `profiles.d/NAME.json`; else
    /// the `env` profile from `TRITON_*` variables with `SDC_*` fallbacks
    /// (`URL`, `ACCOUNT`, `KEY_ID` required; `USER`, `TLS_INSECURE`).
    ///
    /// The key: `TRITON_KEY_MATERIAL`/`SDC_KEY_MATERIAL` (a key file path, or
    /// the key text itself), else the ssh-agent at `SSH_AUTH_SOCK` if it holds
    /// the key, else a key `X` in `~/.ssh` whose `X.pub` matches the key id.
    pub fn from_env() -> Result<Config> {
        let env = |name: &str| std::env::var(name).ok();
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .ok_or_else(|| Error::Config {
                reason: "HOME is not set (needed to find ~/.triton and ~/.ssh)".into(),
            })?;
        Self::from_env_with(&env, &home)
    }

    /// [`Config::from_env`] with the environment and the home directory given
    /// explicitly (for tests and embedding).
    pub fn from_env_with(env: &dyn Fn(&str) -> Option<String>, home: &Path) -> Result<Config> {
        let var = |name: &str| env(name).filter(|v| !v.is_empty());
        let pair = |name: &str| {
            var(&format!("TRITON_{name}"))
                .map(|v| (v, format!("TRITON_{name}")))
                .or_else(|| var(&format!("SDC_{name}")).map(|v| (v, format!("SDC_{name}"))))
        };
        let config_dir = match var("XDG_CONFIG_HOME") {
            Some(x) => PathBuf::from(x).join("triton"),
            None => home.join(".triton"),
        };
        let profile_name = match var("TRITON_PROFILE") {
            Some(p) => p,
            None => current_profile(&config_dir)?.unwrap_or_else(|| "env".to_owned()),
        };

        let mut b = Config::builder();
        let key_id;
        if profile_name == "env" {
            let need = |name: &str| {
                pair(name).ok_or_else(|| Error::Config {
                    reason: format!(
                        "TRITON_{name} (or SDC_{name}) is not set, and no Triton profile is \
                         selected (TRITON_PROFILE or \"profile\" in {})",
                        config_dir.join("config.json").display()
                    ),
                })
            };
            let (url, url_var) = need("URL")?;
            b.url = Some((url, url_var));
            b.account = Some(need("ACCOUNT")?.0);
            key_id = need("KEY_ID")?;
            b.user = pair("USER").map(|p| p.0);
            // As node-triton's `_loadEnvProfile`: TRITON_TLS_INSECURE, else
            // SDC_TLS_INSECURE (`true`/`1`, `false`/`0`), else the legacy
            // SDC_TESTING, where any non-empty value (even `0`) means insecure.
            b.insecure = match pair("TLS_INSECURE") {
                Some((v, name)) => parse_bool(&v, &name)?,
                None => var("SDC_TESTING").is_some(),
            };
            b.act_as = var("TRITON_ACT_AS");
            if let Some(r) = var("TRITON_ROLE") {
                b.roles = r
                    .split(',')
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect();
            }
        } else {
            let (p, path) = read_profile(&config_dir, &profile_name)?;
            let field = |v: Option<String>, f: &str| {
                v.filter(|v| !v.is_empty()).ok_or_else(|| Error::Config {
                    reason: format!(
                        "profile {profile_name:?} ({}) has no \"{f}\"",
                        path.display()
                    ),
                })
            };
            b.url = Some((
                field(p.url, "url")?,
                format!("\"url\" of profile {profile_name:?}"),
            ));
            b.account = Some(field(p.account, "account")?);
            key_id = (
                field(p.key_id, "keyId")?,
                format!("\"keyId\" of profile {profile_name:?}"),
            );
            b.user = p.user.filter(|u| !u.is_empty());
            b.insecure = p.insecure.unwrap_or(false);
            b.act_as = p.act_as_account;
            b.roles = p.roles.unwrap_or_default();
        }
        b.profile = Some(profile_name);

        let fingerprint = KeyFingerprint::parse(&key_id.0).map_err(|_| Error::Config {
            reason: format!(
                "{} = {:?} is not a key fingerprint (expected MD5 aa:bb:… or SHA256:…)",
                key_id.1, key_id.0
            ),
        })?;
        b.key = Some(match pair("KEY_MATERIAL") {
            Some((m, _)) if m.contains("-----BEGIN") => KeySource::Text {
                text: Secret::new(m),
                passphrase: None,
                expect: Some(fingerprint),
            },
            Some((m, _)) => KeySource::File {
                path: expand_home(&m, home),
                passphrase: None,
                expect: Some(fingerprint),
            },
            None => KeySource::Search {
                fingerprint,
                agent_socket: var("SSH_AUTH_SOCK").map(PathBuf::from),
                ssh_dir: Some(home.join(".ssh")),
            },
        });
        b.build()
    }
}

/// A boolean variable as node-triton's `boolFromString` reads it: exactly
/// `true`/`1` or `false`/`0`.
pub(crate) fn parse_bool(v: &str, name: &str) -> Result<bool> {
    match v {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(Error::Config {
            reason: format!("{name} = {v:?} is not a boolean (true, false, 1 or 0)"),
        }),
    }
}

/// An http(s) base URL; the error names where it came from (`url_name`).
pub(crate) fn parse_http_url(url_text: &str, url_name: &str) -> Result<Url> {
    let url = Url::parse(url_text).map_err(|e| Error::Config {
        reason: format!("{url_name} = {url_text:?} is not a valid URL ({e})"),
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
        return Err(Error::Config {
            reason: format!("{url_name} = {url_text:?} is not an http(s) URL"),
        });
    }
    Ok(url)
}

pub(crate) fn expand_home(p: &str, home: &Path) -> PathBuf {
    match p.strip_prefix("~/") {
        Some(rest) => home.join(rest),
        None => PathBuf::from(p),
    }
}

#[derive(Deserialize)]
struct TritonConfigFile {
    #[serde(default)]
    profile: Option<String>,
}

fn current_profile(config_dir: &Path) -> Result<Option<String>> {
    let path = config_dir.join("config.json");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(Error::ConfigIo { path, source }),
    };
    let file: TritonConfigFile =
        serde_json::from_str(&text).map_err(|source| Error::ConfigJson { path, source })?;
    Ok(file.profile.filter(|p| !p.is_empty()))
}

/// `profiles.d/NAME.json`: node-triton's allowed fields; anything else
/// (including `name`) is an error, as in node-triton.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    url: Option<String>,
    account: Option<String>,
    #[serde(rename = "keyId")]
    key_id: Option<String>,
    insecure: Option<bool>,
    user: Option<String>,
    roles: Option<Vec<String>>,
    #[serde(rename = "actAsAccount")]
    act_as_account: Option<String>,
}

fn read_profile(config_dir: &Path, name: &str) -> Result<(ProfileFile, PathBuf)> {
    if name.contains('/') || name.contains('\\') || name.starts_with('.') {
        return Err(Error::Config {
            reason: format!("profile name {name:?} is not valid"),
        });
    }
    let path = config_dir.join("profiles.d").join(format!("{name}.json"));
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::Config {
                reason: format!(
                    "profile {name:?} does not exist ({} not found)",
                    path.display()
                ),
            });
        }
        Err(source) => return Err(Error::ConfigIo { path, source }),
    };
    let p = serde_json::from_str(&text).map_err(|source| Error::ConfigJson {
        path: path.clone(),
        source,
    })?;
    Ok((p, path))
}

/// Builds a [`Config`] from explicit values.
#[derive(Debug, Default, Clone)]
pub struct ConfigBuilder {
    url: Option<(String, String)>,
    account: Option<String>,
    user: Option<String>,
    act_as: Option<String>,
    roles: Vec<String>,
    key: Option<KeySource>,
    algorithm: Option<Algorithm>,
    insecure: bool,
    retry: Option<RetryPolicy>,
    timeout: Option<Duration>,
    clock_offset_secs: i64,
    profile: Option<String>,
}

impl ConfigBuilder {
    /// CloudAPI base URL, e.g. `https://us-central-1.api.mnx.io`.
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.url = Some((url.into(), "url".into()));
        self
    }
    /// Account login.
    pub fn account(mut self, account: impl Into<String>) -> Self {
        self.account = Some(account.into());
        self
    }
    /// RBAC sub-user whose key signs (`keyId` `/LOGIN/users/USER/keys/…`).
    pub fn user(mut self, user: impl Into<String>) -> Self {
        self.user = Some(user.into());
        self
    }
    /// Operate on another account's resources (paths use it; `keyId` keeps
    /// the signer's own login).
    pub fn act_as(mut self, account: impl Into<String>) -> Self {
        self.act_as = Some(account.into());
        self
    }
    /// RBAC roles to assume (`as-role` on every request).
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
    /// Signs with the private key in this file, decrypting it with `passphrase`.
    pub fn key_file_with_passphrase(self, path: impl Into<PathBuf>, passphrase: Secret) -> Self {
        self.key_source(KeySource::File {
            path: path.into(),
            passphrase: Some(passphrase),
            expect: None,
        })
    }
    /// Signs with this private key text (OpenSSH or PEM).
    pub fn key_text(self, text: Secret, passphrase: Option<Secret>) -> Self {
        self.key_source(KeySource::Text {
            text,
            passphrase,
            expect: None,
        })
    }
    /// Signs through the ssh-agent at `socket` with the key of this
    /// fingerprint (MD5 hex, `MD5:…` or `SHA256:…`).
    pub fn agent(self, socket: impl Into<PathBuf>, fingerprint: &str) -> Result<Self> {
        let fingerprint = KeyFingerprint::parse(fingerprint)?;
        Ok(self.key_source(KeySource::Agent {
            socket: socket.into(),
            fingerprint,
        }))
    }
    /// Signs with a signer of your own.
    pub fn signer(self, signer: Arc<dyn Signer>) -> Self {
        self.key_source(KeySource::Signer(signer))
    }
    /// Any key source.
    pub fn key_source(mut self, key: KeySource) -> Self {
        self.key = Some(key);
        self
    }
    /// Signs with this algorithm instead of the key type's default.
    pub fn algorithm(mut self, algorithm: Algorithm) -> Self {
        self.algorithm = Some(algorithm);
        self
    }
    /// Skips TLS certificate verification (only for test deployments).
    pub fn insecure(mut self, insecure: bool) -> Self {
        self.insecure = insecure;
        self
    }
    /// How to retry throttled and failed requests.
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = Some(retry);
        self
    }
    /// Timeout of one HTTP request (default 60 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
    /// Shifts the `Date` the client sends by this many seconds (testing clock
    /// skew handling; 0 in normal use).
    pub fn clock_offset_secs(mut self, secs: i64) -> Self {
        self.clock_offset_secs = secs;
        self
    }

    /// Checks and builds the configuration.
    pub fn build(self) -> Result<Config> {
        let (url_text, url_name) = self.url.ok_or_else(|| Error::Config {
            reason: "no CloudAPI url given".into(),
        })?;
        let url = parse_http_url(&url_text, &url_name)?;
        let account = self
            .account
            .filter(|a| !a.is_empty())
            .ok_or_else(|| Error::Config {
                reason: "no account given".into(),
            })?;
        let key = self.key.ok_or_else(|| Error::Config {
            reason: "no signing key given (key file, key text, ssh-agent or signer)".into(),
        })?;
        Ok(Config {
            url,
            account,
            user: self.user,
            act_as: self.act_as,
            roles: self.roles,
            key,
            algorithm: self.algorithm,
            insecure: self.insecure,
            retry: self.retry.unwrap_or_default(),
            timeout: self.timeout.unwrap_or(Duration::from_secs(60)),
            clock_offset_secs: self.clock_offset_secs,
            profile: self.profile,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const FP: &str = "fa:56:a1:6b:cc:04:97:fe:e2:98:54:c4:2e:0d:26:c6";

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn env_profile_prefers_triton_over_sdc() {
        let home = tempfile::tempdir().unwrap();
        let env = env_of(&[
            ("TRITON_URL", "https://cloudapi.example"),
            ("SDC_URL", "https://sdc.example"),
            ("SDC_ACCOUNT", "alice"),
            ("SDC_KEY_ID", FP),
            ("TRITON_USER", "bob"),
            ("SDC_TLS_INSECURE", "true"),
            ("TRITON_KEY_MATERIAL", "~/.ssh/id_rsa"),
        ]);
        let c = Config::from_env_with(&env, home.path()).unwrap();
        assert_eq!(c.url().as_str(), "https://cloudapi.example/");
        assert_eq!(c.account(), "alice");
        assert_eq!(c.user(), Some("bob"));
        assert!(c.insecure());
        assert_eq!(c.profile(), Some("env"));
        match c.key_source() {
            KeySource::File { path, .. } => assert_eq!(path, &home.path().join(".ssh/id_rsa")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn missing_variables_are_named() {
        let home = tempfile::tempdir().unwrap();
        let e = Config::from_env_with(&env_of(&[]), home.path()).unwrap_err();
        assert!(e.to_string().contains("TRITON_URL (or SDC_URL)"), "{e}");
        let env = env_of(&[("TRITON_URL", "https://x"), ("TRITON_ACCOUNT", "a")]);
        let e = Config::from_env_with(&env, home.path()).unwrap_err();
        assert!(e.to_string().contains("TRITON_KEY_ID"), "{e}");
        let env = env_of(&[
            ("TRITON_URL", "https://x"),
            ("TRITON_ACCOUNT", "a"),
            ("TRITON_KEY_ID", FP),
            ("TRITON_TLS_INSECURE", "maybe"),
        ]);
        let e = Config::from_env_with(&env, home.path()).unwrap_err();
        assert!(e.to_string().contains("TRITON_TLS_INSECURE"), "{e}");
    }

    /// TLS verification from the environment exactly as node-triton reads it
    /// (lib/config.js `_loadEnvProfile`, lib/common.js `boolFromString`), and
    /// a warning from the client whenever it is off.
    #[test]
    fn tls_insecure_and_sdc_testing_as_node_triton_reads_them() {
        let home = tempfile::tempdir().unwrap();
        let insecure = |extra: &[(&str, &str)]| {
            let mut pairs = vec![
                ("TRITON_URL", "https://cloudapi.example"),
                ("TRITON_ACCOUNT", "alice"),
                ("TRITON_KEY_ID", FP),
            ];
            pairs.extend_from_slice(extra);
            Config::from_env_with(&env_of(&pairs), home.path()).map(|c| c.insecure())
        };
        assert!(!insecure(&[]).unwrap());
        // Legacy SDC_TESTING: any non-empty value, even "0" or "false".
        for v in ["1", "true", "0", "false", "anything"] {
            assert!(insecure(&[("SDC_TESTING", v)]).unwrap(), "SDC_TESTING={v}");
        }
        assert!(!insecure(&[("SDC_TESTING", "")]).unwrap());
        // An explicit TLS_INSECURE wins over SDC_TESTING; TRITON_ over SDC_.
        assert!(!insecure(&[("TRITON_TLS_INSECURE", "false"), ("SDC_TESTING", "1")]).unwrap());
        assert!(!insecure(&[("SDC_TLS_INSECURE", "0"), ("SDC_TESTING", "1")]).unwrap());
        assert!(!insecure(&[("TRITON_TLS_INSECURE", "0"), ("SDC_TLS_INSECURE", "1")]).unwrap());
        assert!(insecure(&[("TRITON_TLS_INSECURE", "1")]).unwrap());
        assert!(insecure(&[("SDC_TLS_INSECURE", "true")]).unwrap());
        // Only true/false/1/0, as boolFromString.
        for bad in ["yes", "on", "TRUE", "False"] {
            let e = insecure(&[("TRITON_TLS_INSECURE", bad)]).unwrap_err();
            assert!(e.to_string().contains("TRITON_TLS_INSECURE"), "{bad}: {e}");
        }

        let env = env_of(&[
            ("TRITON_URL", "https://cloudapi.example"),
            ("TRITON_ACCOUNT", "alice"),
            ("TRITON_KEY_ID", FP),
            ("SDC_TESTING", "1"),
        ]);
        let c = Config::from_env_with(&env, home.path()).unwrap();
        let logs = imagebake_testing::capture_logs(|| {
            crate::Client::new(c).unwrap();
        });
        assert!(logs.contains("WARN"), "{logs}");
        assert!(
            logs.contains("TLS certificate verification is off"),
            "{logs}"
        );
        assert!(logs.contains("https://cloudapi.example"), "{logs}");
    }

    #[test]
    fn without_key_material_searches_agent_then_ssh_dir() {
        let home = tempfile::tempdir().unwrap();
        let env = env_of(&[
            ("TRITON_URL", "https://x"),
            ("TRITON_ACCOUNT", "a"),
            (
                "TRITON_KEY_ID",
                "SHA256:29GY+6bxcBkcNNUzTnEcTdTv1W3d3PN/OxyplcYSoX4",
            ),
            ("SSH_AUTH_SOCK", "/tmp/agent.sock"),
            ("SDC_TESTING", "1"),
        ]);
        let c = Config::from_env_with(&env, home.path()).unwrap();
        assert!(c.insecure());
        match c.key_source() {
            KeySource::Search {
                agent_socket,
                ssh_dir,
                ..
            } => {
                assert_eq!(agent_socket.as_deref(), Some(Path::new("/tmp/agent.sock")));
                assert_eq!(ssh_dir.as_deref(), Some(home.path().join(".ssh").as_path()));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn profiles_from_config_json_xdg_and_triton_profile() {
        let home = tempfile::tempdir().unwrap();
        let dir = home.path().join(".triton");
        std::fs::create_dir_all(dir.join("profiles.d")).unwrap();
        std::fs::write(dir.join("config.json"), r#"{"profile": "east"}"#).unwrap();
        std::fs::write(
            dir.join("profiles.d/east.json"),
            format!(r#"{{"url": "https://east.example", "account": "al", "keyId": "{FP}", "user": "u1"}}"#),
        )
        .unwrap();
        std::fs::write(
            dir.join("profiles.d/west.json"),
            format!(r#"{{"url": "https://west.example", "account": "al", "keyId": "{FP}", "insecure": true}}"#),
        )
        .unwrap();
        std::fs::write(
            dir.join("profiles.d/bad.json"),
            r#"{"name": "bad", "url": "https://x"}"#,
        )
        .unwrap();
        std::fs::write(
            dir.join("profiles.d/nokey.json"),
            r#"{"url": "https://x", "account": "a"}"#,
        )
        .unwrap();

        let c = Config::from_env_with(&env_of(&[]), home.path()).unwrap();
        assert_eq!(
            (c.url().host_str(), c.user(), c.profile()),
            (Some("east.example"), Some("u1"), Some("east"))
        );

        let c = Config::from_env_with(&env_of(&[("TRITON_PROFILE", "west")]), home.path()).unwrap();
        assert!(c.insecure());
        assert_eq!(c.url().host_str(), Some("west.example"));

        let e =
            Config::from_env_with(&env_of(&[("TRITON_PROFILE", "bad")]), home.path()).unwrap_err();
        assert!(e.to_string().contains("bad.json"), "{e}");
        let e = Config::from_env_with(&env_of(&[("TRITON_PROFILE", "nokey")]), home.path())
            .unwrap_err();
        assert!(e.to_string().contains("\"keyId\""), "{e}");
        let e =
            Config::from_env_with(&env_of(&[("TRITON_PROFILE", "nope")]), home.path()).unwrap_err();
        assert!(e.to_string().contains("does not exist"), "{e}");

        // XDG_CONFIG_HOME moves the config dir; "env" there falls back to variables.
        let xdg = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(xdg.path().join("triton/profiles.d")).unwrap();
        std::fs::write(
            xdg.path().join("triton/profiles.d/x.json"),
            format!(r#"{{"url": "https://xdg.example", "account": "x", "keyId": "{FP}"}}"#),
        )
        .unwrap();
        std::fs::write(xdg.path().join("triton/config.json"), r#"{"profile": "x"}"#).unwrap();
        let xdg_path = xdg.path().to_str().unwrap().to_owned();
        let c =
            Config::from_env_with(&env_of(&[("XDG_CONFIG_HOME", &xdg_path)]), home.path()).unwrap();
        assert_eq!(c.url().host_str(), Some("xdg.example"));
    }

    #[test]
    fn debug_hides_key_text_and_passphrase() {
        let c = Config::builder()
            .url("https://x")
            .account("a")
            .key_text(
                Secret::new("-----BEGIN SECRET STUFF"),
                Some(Secret::new("hunter2")),
            )
            .build()
            .unwrap();
        let d = format!("{c:?}");
        assert!(!d.contains("SECRET STUFF") && !d.contains("hunter2"), "{d}");
    }
}
