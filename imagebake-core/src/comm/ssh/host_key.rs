//! Which server keys to trust: [`HostKeyPolicy`], and the record of the key
//! accepted ([`HostKeyRecord`]).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use russh::keys::{HashAlg, PublicKey};
use serde::Serialize;

use crate::Error;

/// How the server's host key is checked. There is no "accept anything".
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HostKeyPolicy {
    /// Only the key with this SHA-256 fingerprint (`SHA256:…`, as
    /// `ssh-keygen -l` prints it): from the cloud's API or console.
    Pinned(String),
    /// A key listed for the host in this OpenSSH `known_hosts` file (plain,
    /// wildcard, negated and hashed host patterns; `[host]:port` entries
    /// for ports other than 22; `@revoked` keys are refused).
    KnownHosts(PathBuf),
    /// Trust the first key seen, for a machine this build just created, and
    /// only that key afterwards (reconnects after a reboot). The key
    /// accepted is exposed by [`SshCommunicator::host_key`](super::SshCommunicator::host_key)
    /// for the build report.
    TrustFirstUse,
}

impl HostKeyPolicy {
    /// Pins a `SHA256:…` fingerprint (the `SHA256:` prefix may be left out).
    pub fn pinned(fingerprint: &str) -> Result<Self, Error> {
        let fp = normalize(fingerprint);
        let b64 = fp.strip_prefix("SHA256:").unwrap_or_default();
        let decoded = base64::engine::general_purpose::STANDARD_NO_PAD.decode(b64);
        if !matches!(decoded, Ok(ref bytes) if bytes.len() == 32) {
            return Err(Error::Config(format!(
                "pinned host key fingerprint {fingerprint:?} is not a SHA256 fingerprint \
                 (SHA256: and 43 base64 characters, as `ssh-keygen -l` prints)"
            )));
        }
        Ok(Self::Pinned(fp))
    }

    /// Trusts the keys listed in an OpenSSH `known_hosts` file.
    pub fn known_hosts(path: impl Into<PathBuf>) -> Self {
        Self::KnownHosts(path.into())
    }
}

/// Why a host key was trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TrustedBy {
    /// It matched the pinned fingerprint.
    Pinned,
    /// It is listed in the known_hosts file.
    KnownHosts,
    /// It was the first key seen (trust on first use).
    FirstUse,
}

/// The host key a connection accepted, for the build report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostKeyRecord {
    /// `host:port`.
    pub host: String,
    /// The key's algorithm (`ssh-ed25519`).
    pub algorithm: String,
    /// Its SHA-256 fingerprint (`SHA256:…`).
    pub fingerprint: String,
    /// Why it was trusted.
    pub trusted_by: TrustedBy,
}

/// A policy applied to one host; remembers the key trusted on first use.
#[derive(Debug)]
pub(crate) struct HostKeyCheck {
    policy: HostKeyPolicy,
    host: String,
    port: u16,
    first_use: Arc<Mutex<Option<String>>>,
}

impl HostKeyCheck {
    pub(crate) fn new(policy: HostKeyPolicy, host: &str, port: u16) -> Self {
        Self {
            policy,
            host: host.to_owned(),
            port,
            first_use: Arc::default(),
        }
    }

    fn label(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// Accepts `key` or says why not ([`Error::HostKey`], [`Error::Io`] for
    /// an unreadable known_hosts file).
    pub(crate) fn check(&self, key: &PublicKey) -> Result<HostKeyRecord, Error> {
        let fingerprint = key.fingerprint(HashAlg::Sha256).to_string();
        let algorithm = key.algorithm().as_str().to_owned();
        let rejected = |expected: String| Error::HostKey {
            host: self.label(),
            expected,
            got: format!("{algorithm} {fingerprint}"),
        };
        let trusted_by = match &self.policy {
            HostKeyPolicy::Pinned(pin) => {
                if normalize(pin) != fingerprint {
                    return Err(rejected(format!("{} (pinned)", normalize(pin))));
                }
                TrustedBy::Pinned
            }
            HostKeyPolicy::KnownHosts(path) => {
                check_known_hosts(path, &self.host, self.port, key).map_err(|e| match e {
                    KnownHostsError::Rejected(expected) => rejected(expected),
                    KnownHostsError::Io(source) => Error::Io {
                        what: format!("reading known_hosts file {}", path.display()),
                        source,
                    },
                })?;
                TrustedBy::KnownHosts
            }
            HostKeyPolicy::TrustFirstUse => {
                let mut first = self
                    .first_use
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                match first.as_deref() {
                    None => *first = Some(fingerprint.clone()),
                    Some(seen) if seen == fingerprint => {}
                    Some(seen) => {
                        return Err(rejected(format!("{seen} (trusted on first use)")));
                    }
                }
                TrustedBy::FirstUse
            }
        };
        Ok(HostKeyRecord {
            host: self.label(),
            algorithm,
            fingerprint,
            trusted_by,
        })
    }
}

/// `SHA256:abc=` → `SHA256:abc`; a bare base64 string gets the prefix.
fn normalize(fp: &str) -> String {
    let fp = fp.trim().trim_end_matches('=');
    if fp.starts_with("SHA256:") {
        fp.to_owned()
    } else {
        format!("SHA256:{fp}")
    }
}

enum KnownHostsError {
    /// What was expected instead of the key presented.
    Rejected(String),
    Io(std::io::Error),
}

/// Whether `key` is listed for `host`/`port` in the known_hosts file at `path`.
fn check_known_hosts(
    path: &Path,
    host: &str,
    port: u16,
    key: &PublicKey,
) -> Result<(), KnownHostsError> {
    let text = std::fs::read_to_string(path).map_err(KnownHostsError::Io)?;
    let name = if port == 22 {
        host.to_owned()
    } else {
        format!("[{host}]:{port}")
    };
    let mut listed = Vec::new();
    for entry in text.lines().filter_map(parse_line) {
        if !host_matches(entry.hosts, &name) {
            continue;
        }
        let same = entry.key.key_data() == key.key_data();
        match entry.marker {
            Marker::Revoked if same => {
                return Err(KnownHostsError::Rejected(format!(
                    "a key not marked @revoked in {}",
                    path.display()
                )));
            }
            Marker::None if same => return Ok(()),
            Marker::None => listed.push(entry.key.fingerprint(HashAlg::Sha256).to_string()),
            Marker::Revoked | Marker::CertAuthority => {}
        }
    }
    Err(KnownHostsError::Rejected(if listed.is_empty() {
        format!("an entry for {name} in {}", path.display())
    } else {
        format!("{} (from {})", listed.join(" or "), path.display())
    }))
}

enum Marker {
    None,
    Revoked,
    CertAuthority,
}

struct Entry<'a> {
    marker: Marker,
    hosts: &'a str,
    key: PublicKey,
}

/// One `[@marker] hosts keytype base64 [comment]` line; `None` for comments,
/// blank lines and keys that do not parse.
fn parse_line(line: &str) -> Option<Entry<'_>> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let mut fields = line.split_ascii_whitespace();
    let mut first = fields.next()?;
    let marker = match first {
        "@revoked" => Marker::Revoked,
        "@cert-authority" => Marker::CertAuthority,
        m if m.starts_with('@') => return None,
        _ => Marker::None,
    };
    if !matches!(marker, Marker::None) {
        first = fields.next()?;
    }
    let (algorithm, blob) = (fields.next()?, fields.next()?);
    let key = PublicKey::from_openssh(&format!("{algorithm} {blob}")).ok()?;
    Some(Entry {
        marker,
        hosts: first,
        key,
    })
}

/// OpenSSH host pattern list matching: comma-separated patterns with `*`
/// and `?`, `!` negation (a negated match excludes the line), and hashed
/// `|1|salt|hmac` entries.
fn host_matches(patterns: &str, name: &str) -> bool {
    let mut matched = false;
    for pattern in patterns.split(',') {
        if let Some(hashed) = pattern.strip_prefix("|1|") {
            matched |= hashed_matches(hashed, name);
        } else if let Some(negated) = pattern.strip_prefix('!') {
            if glob(&negated.to_ascii_lowercase(), &name.to_ascii_lowercase()) {
                return false;
            }
        } else if glob(&pattern.to_ascii_lowercase(), &name.to_ascii_lowercase()) {
            matched = true;
        }
    }
    matched
}

/// `salt|hmac` (both base64): HMAC-SHA1 of the name keyed with the salt.
fn hashed_matches(hashed: &str, name: &str) -> bool {
    let Some((salt, mac)) = hashed.split_once('|') else {
        return false;
    };
    let (Ok(salt), Ok(mac)) = (STANDARD.decode(salt), STANDARD.decode(mac)) else {
        return false;
    };
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &salt);
    ring::hmac::verify(&key, name.as_bytes(), &mac).is_ok()
}

/// Glob match with `*` (any run) and `?` (one character).
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(&c) if c == '?' || c == t[ti] => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_A: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJdD7y3aLq454yWBdwLWbieU1ebz9/cu7/QEXn9OIeZJ";
    const KEY_B: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILIG2T/B0l0gaqj3puu510tu9N1OkQ4znY3LYuEm5zCF";

    fn key(s: &str) -> PublicKey {
        PublicKey::from_openssh(s).unwrap()
    }

    fn file(text: &str) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), text).unwrap();
        f
    }

    #[test]
    fn globs_and_negation() {
        assert!(glob("*.example.com", "a.example.com"));
        assert!(glob("10.0.0.?", "10.0.0.5"));
        assert!(!glob("10.0.0.?", "10.0.0.55"));
        assert!(glob("*", "x"));
        assert!(host_matches("a,b*,!bad", "bee"));
        assert!(!host_matches("b*,!bad", "bad"));
        assert!(!host_matches("a", "[a]:2222"));
        assert!(host_matches("[a]:2222", "[a]:2222"));
    }

    #[test]
    fn hashed_entry_matches_its_host() {
        // A hashed entry for example.com (russh's known_hosts test vector).
        let line = "|1|O33ESRMWPVkMYIwJ1Uw+n877jTo=|nuuC5vEqXlEZ/8BXQR7m619W6Ak=";
        assert!(host_matches(line, "example.com"));
        assert!(!host_matches(line, "localhost2"));
    }

    #[test]
    fn known_hosts_accepts_listed_rejects_changed_and_unknown() {
        let f = file(&format!(
            "# comment\n[127.0.0.1]:2222 {KEY_A} c\n\nother.host {KEY_B}\n@revoked * {KEY_B}\n"
        ));
        assert!(check_known_hosts(f.path(), "127.0.0.1", 2222, &key(KEY_A)).is_ok());
        match check_known_hosts(f.path(), "127.0.0.1", 2222, &key(KEY_B)) {
            Err(KnownHostsError::Rejected(s)) => assert!(s.contains("@revoked"), "{s}"),
            _ => panic!("revoked key accepted"),
        }
        // Port 22 uses the bare name; no entry for 127.0.0.1 there.
        match check_known_hosts(f.path(), "127.0.0.1", 22, &key(KEY_A)) {
            Err(KnownHostsError::Rejected(s)) => assert!(s.contains("an entry for 127.0.0.1")),
            _ => panic!("unknown host accepted"),
        }
    }

    #[test]
    fn pinned_and_first_use() {
        let a = key(KEY_A);
        let fp = a.fingerprint(HashAlg::Sha256).to_string();
        let pinned = HostKeyCheck::new(HostKeyPolicy::pinned(&fp).unwrap(), "h", 22);
        assert_eq!(pinned.check(&a).unwrap().trusted_by, TrustedBy::Pinned);
        let err = pinned.check(&key(KEY_B)).unwrap_err().to_string();
        assert!(err.contains("h:22") && err.contains(&fp), "{err}");
        assert!(HostKeyPolicy::pinned("MD5:aa:bb").is_err());

        let tofu = HostKeyCheck::new(HostKeyPolicy::TrustFirstUse, "h", 2222);
        assert_eq!(tofu.check(&a).unwrap().fingerprint, fp);
        assert!(tofu.check(&a).is_ok());
        assert!(matches!(
            tofu.check(&key(KEY_B)),
            Err(Error::HostKey { .. })
        ));
    }
}
