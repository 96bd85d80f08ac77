//! HTTP Signature authentication: the [`Signer`] trait, the signing
//! [`Algorithm`]s CloudAPI accepts, key-file and ssh-agent signers, and the
//! `Authorization` header.

mod agent;
mod der;
mod fingerprint;
mod header;
mod key;
#[cfg(test)]
mod vectors_tests;

use std::fmt;
use std::str::FromStr;

pub use agent::AgentSigner;
pub use fingerprint::{KeyFingerprint, md5_fingerprint};
pub(crate) use header::{authorization_for, signing_string_for};
pub use header::{authorization_header, key_id_path, signing_string};
pub use key::KeySigner;

use crate::error::{Error, Result};

/// A signing algorithm as written in the `algorithm` parameter of the
/// `Authorization` header.
///
/// Only the combinations CloudAPI verifies exist: every `*-sha384` is
/// rejected by its signature library, so there is none here (parsing one
/// gives a clear error).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// RSA PKCS#1 v1.5 with SHA-1; only used when asked for explicitly.
    RsaSha1,
    /// RSA PKCS#1 v1.5 with SHA-256 (the RSA default).
    RsaSha256,
    /// RSA PKCS#1 v1.5 with SHA-512.
    RsaSha512,
    /// ECDSA with SHA-256, DER-encoded (the P-256 default).
    EcdsaSha256,
    /// ECDSA with SHA-512, DER-encoded (the P-521 default; allowed
    /// on P-256).
    EcdsaSha512,
    /// Ed25519 (CloudAPI 9.18.0 and later).
    Ed25519Sha512,
}

impl Algorithm {
    /// The header value, e.g. `rsa-sha256`.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::RsaSha1 => "rsa-sha1",
            Algorithm::RsaSha256 => "rsa-sha256",
            Algorithm::RsaSha512 => "rsa-sha512",
            Algorithm::EcdsaSha256 => "ecdsa-sha256",
            Algorithm::EcdsaSha512 => "ecdsa-sha512",
            Algorithm::Ed25519Sha512 => "ed25519-sha512",
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl FromStr for Algorithm {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let lower = s.to_ascii_lowercase();
        Ok(match lower.as_str() {
            "rsa-sha1" => Algorithm::RsaSha1,
            "rsa-sha256" => Algorithm::RsaSha256,
            "rsa-sha512" => Algorithm::RsaSha512,
            "ecdsa-sha256" => Algorithm::EcdsaSha256,
            "ecdsa-sha512" => Algorithm::EcdsaSha512,
            "ed25519-sha512" => Algorithm::Ed25519Sha512,
            other if other.ends_with("-sha384") => {
                return Err(Error::UnsupportedAlgorithm {
                    algorithm: other.to_owned(),
                    reason: "CloudAPI's signature library rejects every *-sha384 algorithm; \
                             use sha256 or sha512"
                        .into(),
                });
            }
            other => {
                return Err(Error::UnsupportedAlgorithm {
                    algorithm: other.to_owned(),
                    reason: "not one of rsa-sha1, rsa-sha256, rsa-sha512, ecdsa-sha256, \
                             ecdsa-sha512, ed25519-sha512"
                        .into(),
                });
            }
        })
    }
}

/// Something that signs CloudAPI requests: a key file or an ssh-agent key.
///
/// Implementations must be cheap to share (`Arc<dyn Signer>`) and must never
/// show key material in `Debug`.
#[async_trait::async_trait]
pub trait Signer: Send + Sync + fmt::Debug {
    /// The key's MD5 fingerprint, lower-case colon-separated hex (what
    /// CloudAPI stores and what goes into the header's `keyId`).
    fn key_id(&self) -> &str;

    /// Signs `data` (the signing string) and returns the algorithm actually
    /// used with the signature bytes as they go into the header before
    /// base64: raw PKCS#1 v1.5 for RSA, ASN.1 DER for ECDSA, 64 raw bytes for
    /// Ed25519.
    async fn sign(&self, data: &[u8]) -> Result<(Algorithm, Vec<u8>)>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithm_names_round_trip_and_sha384_is_refused() {
        for a in [
            Algorithm::RsaSha1,
            Algorithm::RsaSha256,
            Algorithm::RsaSha512,
            Algorithm::EcdsaSha256,
            Algorithm::EcdsaSha512,
            Algorithm::Ed25519Sha512,
        ] {
            assert_eq!(a.as_str().parse::<Algorithm>().unwrap(), a);
        }
        assert_eq!(
            "RSA-SHA256".parse::<Algorithm>().unwrap(),
            Algorithm::RsaSha256
        );
        for bad in ["rsa-sha384", "ecdsa-sha384"] {
            let e = bad.parse::<Algorithm>().unwrap_err();
            assert!(e.to_string().contains("sha384"), "{e}");
        }
        assert!("dsa-sha1".parse::<Algorithm>().is_err());
    }
}
