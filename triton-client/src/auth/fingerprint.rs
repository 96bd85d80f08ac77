//! Key fingerprints: the MD5 form CloudAPI wants in `keyId`, and parsing the
//! forms users configure (MD5 hex, `MD5:` hex, `SHA256:` base64).

use std::fmt;

use md5::{Digest, Md5};
use ssh_key::{HashAlg, PublicKey};

use crate::error::{Error, Result};

/// The MD5 fingerprint of `key` as CloudAPI stores it: MD5 over the SSH wire
/// encoding of the public key, lower-case hex pairs joined by `:`.
pub fn md5_fingerprint(key: &PublicKey) -> Result<String> {
    let blob = key.to_bytes().map_err(|e| Error::Key {
        key: "public key".into(),
        reason: "cannot encode the public key".into(),
        source: Some(Box::new(e)),
    })?;
    Ok(md5_hex(&blob))
}

pub(crate) fn md5_hex(blob: &[u8]) -> String {
    let digest = Md5::digest(blob);
    let mut out = String::with_capacity(47);
    for (i, b) in digest.iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// A fingerprint as a user configured it, used to find a key (never sent
/// as-is: the header always carries the MD5 form).
#[derive(Clone, PartialEq, Eq)]
pub enum KeyFingerprint {
    /// MD5, as lower-case colon hex (`aa:bb:…`), given with or without `MD5:`.
    Md5(String),
    /// SHA-256, as `SHA256:` followed by unpadded base64.
    Sha256(String),
}

impl KeyFingerprint {
    /// Parses `aa:bb:…` (16 hex pairs), `MD5:aa:bb:…` or `SHA256:base64`.
    pub fn parse(s: &str) -> Result<Self> {
        let s = s.trim();
        let bad = |why: &str| Error::Config {
            reason: format!(
                "key id {s:?} is not a key fingerprint ({why}); expected MD5 hex \
                 (aa:bb:…), MD5:aa:bb:… or SHA256:…"
            ),
        };
        if let Some(b64) = s.strip_prefix("SHA256:") {
            let b64 = b64.trim_end_matches('=');
            if b64.is_empty() {
                return Err(bad("empty SHA256 value"));
            }
            return Ok(KeyFingerprint::Sha256(b64.to_owned()));
        }
        let hex = s
            .strip_prefix("MD5:")
            .or_else(|| s.strip_prefix("md5:"))
            .unwrap_or(s)
            .to_ascii_lowercase();
        let pairs: Vec<&str> = hex.split(':').collect();
        let ok = pairs.len() == 16
            && pairs
                .iter()
                .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()));
        if !ok {
            return Err(bad("not 16 colon-separated hex pairs"));
        }
        Ok(KeyFingerprint::Md5(hex))
    }

    /// Whether `key` has this fingerprint.
    pub fn matches(&self, key: &PublicKey) -> bool {
        match self {
            KeyFingerprint::Md5(hex) => md5_fingerprint(key).is_ok_and(|fp| &fp == hex),
            KeyFingerprint::Sha256(b64) => {
                let fp = key.fingerprint(HashAlg::Sha256).to_string();
                fp.strip_prefix("SHA256:")
                    .is_some_and(|have| have.trim_end_matches('=') == b64)
            }
        }
    }
}

impl fmt::Display for KeyFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyFingerprint::Md5(h) => f.write_str(h),
            KeyFingerprint::Sha256(b) => write!(f, "SHA256:{b}"),
        }
    }
}

impl fmt::Debug for KeyFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyFingerprint({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PUB: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDAI8AowC+1bDa//i3A/FO6bbLpKIcJAr0p4u2KKNXvE/eQvgXZsil1QJb7ycT2iA9mHCl9kLkQ6vv7X2q48u/achKNw+Vf4VfUihrKJq5PXeBEU0CK8FxilfjfiUPwaE4UDy5XJzrAM9Ve1NMqjNbrzrLg/BSwQ+mQLqKxBixr6Q== test";

    #[test]
    fn every_configured_form_finds_the_key() {
        let key = PublicKey::from_openssh(PUB).unwrap();
        assert_eq!(
            md5_fingerprint(&key).unwrap(),
            "fa:56:a1:6b:cc:04:97:fe:e2:98:54:c4:2e:0d:26:c6"
        );
        for form in [
            "fa:56:a1:6b:cc:04:97:fe:e2:98:54:c4:2e:0d:26:c6",
            "MD5:fa:56:a1:6b:cc:04:97:fe:e2:98:54:c4:2e:0d:26:c6",
            "FA:56:A1:6B:CC:04:97:FE:E2:98:54:C4:2E:0D:26:C6",
            "SHA256:29GY+6bxcBkcNNUzTnEcTdTv1W3d3PN/OxyplcYSoX4",
        ] {
            let fp = KeyFingerprint::parse(form).unwrap();
            assert!(fp.matches(&key), "{form}");
        }
        let other =
            KeyFingerprint::parse("00:56:a1:6b:cc:04:97:fe:e2:98:54:c4:2e:0d:26:c6").unwrap();
        assert!(!other.matches(&key));
    }

    #[test]
    fn garbage_is_a_clear_error() {
        let e = KeyFingerprint::parse("my-key-name").unwrap_err();
        assert!(e.to_string().contains("my-key-name"), "{e}");
    }
}
