//! Signing with a private key held in memory (read from a file or given as
//! text): OpenSSH (also passphrase-encrypted), PEM PKCS#1, SEC1 and PKCS#8.

use std::fmt;
use std::path::Path;

use imagebake_http::Secret;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::signature::hazmat::PrehashSigner;
use rsa::Pkcs1v15Sign;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::DecodePrivateKey;
use ssh_key::private::{EcdsaKeypair, KeypairData};
use ssh_key::public::{EcdsaPublicKey, Ed25519PublicKey, KeyData};
use ssh_key::{PrivateKey, PublicKey};

use super::fingerprint::md5_fingerprint;
use super::{Algorithm, Signer};
use crate::error::{Error, Result};

/// The key itself, in the form its signing crate wants.
enum Private {
    Rsa(Box<rsa::RsaPrivateKey>),
    P256(p256::ecdsa::SigningKey),
    P521(p521::ecdsa::SigningKey),
    Ed25519(ed25519_dalek::SigningKey),
}

impl Private {
    fn default_algorithm(&self) -> Algorithm {
        match self {
            Private::Rsa(_) => Algorithm::RsaSha256,
            Private::P256(_) => Algorithm::EcdsaSha256,
            Private::P521(_) => Algorithm::EcdsaSha512,
            Private::Ed25519(_) => Algorithm::Ed25519Sha512,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Private::Rsa(_) => "RSA",
            Private::P256(_) => "ECDSA P-256",
            Private::P521(_) => "ECDSA P-521",
            Private::Ed25519(_) => "Ed25519",
        }
    }

    fn allows(&self, algorithm: Algorithm) -> bool {
        use Algorithm::*;
        matches!(
            (self, algorithm),
            (Private::Rsa(_), RsaSha1 | RsaSha256 | RsaSha512)
                | (Private::P256(_), EcdsaSha256 | EcdsaSha512)
                | (Private::P521(_), EcdsaSha512)
                | (Private::Ed25519(_), Ed25519Sha512)
        )
    }
}

/// Signs with a private key in memory. `Debug` shows only the key's
/// fingerprint, type and origin.
pub struct KeySigner {
    private: Private,
    public: PublicKey,
    key_id: String,
    algorithm: Algorithm,
    origin: String,
}

impl fmt::Debug for KeySigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeySigner")
            .field("key_id", &self.key_id)
            .field("kind", &self.private.kind())
            .field("algorithm", &self.algorithm)
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

impl KeySigner {
    /// Reads a private key file (OpenSSH, PEM PKCS#1 / SEC1 / PKCS#8).
    /// `passphrase` decrypts an encrypted OpenSSH key; an encrypted key
    /// without one is [`Error::PassphraseRequired`].
    pub fn from_file(path: impl AsRef<Path>, passphrase: Option<&Secret>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| Error::KeyIo {
            path: path.to_owned(),
            source,
        })?;
        let text = Secret::new(text);
        Self::parse(text.expose(), passphrase, path.display().to_string())
    }

    /// Parses a private key given as text (same formats as [`from_file`](Self::from_file)).
    pub fn from_text(text: &Secret, passphrase: Option<&Secret>) -> Result<Self> {
        Self::parse(text.expose(), passphrase, "in-memory key".to_owned())
    }

    /// Signs with `algorithm` instead of the key type's default
    /// (RSA → rsa-sha256, P-256 → ecdsa-sha256, P-521 → ecdsa-sha512,
    /// Ed25519 → ed25519-sha512). Refuses combinations CloudAPI
    /// cannot verify (every `*-sha384`, and P-521 with SHA-256).
    pub fn with_algorithm(mut self, algorithm: Algorithm) -> Result<Self> {
        if !self.private.allows(algorithm) {
            return Err(Error::UnsupportedAlgorithm {
                algorithm: algorithm.to_string(),
                reason: format!("not usable with an {} key", self.private.kind()),
            });
        }
        self.algorithm = algorithm;
        Ok(self)
    }

    /// The algorithm requests are signed with.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The public half of the key.
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// Signs `data` now (the [`Signer`] impl calls this).
    pub fn sign_bytes(&self, data: &[u8]) -> Result<(Algorithm, Vec<u8>)> {
        let alg = self.algorithm;
        let sig = match &self.private {
            Private::Rsa(k) => {
                let (padding, digest) = match alg {
                    Algorithm::RsaSha1 => (
                        Pkcs1v15Sign::new::<sha1::Sha1>(),
                        digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, data),
                    ),
                    Algorithm::RsaSha512 => (
                        Pkcs1v15Sign::new::<sha2::Sha512>(),
                        digest(&ring::digest::SHA512, data),
                    ),
                    _ => (
                        Pkcs1v15Sign::new::<sha2::Sha256>(),
                        digest(&ring::digest::SHA256, data),
                    ),
                };
                k.sign(padding, &digest).map_err(|e| Error::Sign {
                    reason: format!("RSA: {e}"),
                })?
            }
            Private::P256(k) => {
                let sig: p256::ecdsa::Signature = k
                    .sign_prehash(&ecdsa_digest(alg, data))
                    .map_err(ecdsa_err)?;
                sig.to_der().as_bytes().to_vec()
            }
            Private::P521(k) => {
                let sig: p521::ecdsa::Signature = k
                    .sign_prehash(&ecdsa_digest(alg, data))
                    .map_err(ecdsa_err)?;
                sig.to_der().as_bytes().to_vec()
            }
            Private::Ed25519(k) => k.sign(data).to_bytes().to_vec(),
        };
        Ok((alg, sig))
    }

    fn parse(text: &str, passphrase: Option<&Secret>, origin: String) -> Result<Self> {
        let (private, public) = parse_key(text, passphrase, &origin)?;
        let key_id = md5_fingerprint(&public)?;
        Ok(Self {
            algorithm: private.default_algorithm(),
            private,
            public,
            key_id,
            origin,
        })
    }
}

#[async_trait::async_trait]
impl Signer for KeySigner {
    fn key_id(&self) -> &str {
        &self.key_id
    }

    async fn sign(&self, data: &[u8]) -> Result<(Algorithm, Vec<u8>)> {
        self.sign_bytes(data)
    }
}

fn digest(alg: &'static ring::digest::Algorithm, data: &[u8]) -> Vec<u8> {
    ring::digest::digest(alg, data).as_ref().to_vec()
}

fn ecdsa_digest(alg: Algorithm, data: &[u8]) -> Vec<u8> {
    match alg {
        Algorithm::EcdsaSha512 => digest(&ring::digest::SHA512, data),
        _ => digest(&ring::digest::SHA256, data),
    }
}

fn ecdsa_err(e: p256::ecdsa::Error) -> Error {
    Error::Sign {
        reason: format!("ECDSA: {e}"),
    }
}

fn key_err(
    origin: &str,
    reason: &str,
    source: impl std::error::Error + Send + Sync + 'static,
) -> Error {
    Error::Key {
        key: origin.to_owned(),
        reason: reason.to_owned(),
        source: Some(Box::new(source)),
    }
}

fn parse_key(
    text: &str,
    passphrase: Option<&Secret>,
    origin: &str,
) -> Result<(Private, PublicKey)> {
    let t = text.trim_start();
    if t.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----") {
        return parse_openssh(t, passphrase, origin);
    }
    if t.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----")
        || t.contains("Proc-Type: 4,ENCRYPTED")
    {
        return Err(Error::Key {
            key: origin.to_owned(),
            reason: "passphrase-protected PEM keys are not supported; convert the key to the \
                     OpenSSH format with `ssh-keygen -p -f FILE` (it keeps the passphrase)"
                .into(),
            source: None,
        });
    }
    let private = if t.starts_with("-----BEGIN RSA PRIVATE KEY-----") {
        let k = rsa::RsaPrivateKey::from_pkcs1_pem(t)
            .map_err(|e| key_err(origin, "invalid PKCS#1 RSA key", e))?;
        Private::Rsa(Box::new(k))
    } else if t.starts_with("-----BEGIN EC PRIVATE KEY-----") {
        if let Ok(k) = p256::SecretKey::from_sec1_pem(t) {
            Private::P256(k.into())
        } else if p384::SecretKey::from_sec1_pem(t).is_ok() {
            return Err(p384_refused(origin));
        } else if let Ok(k) = p521::SecretKey::from_sec1_pem(t) {
            Private::P521(p521::ecdsa::SigningKey::from(&k))
        } else {
            return Err(Error::Key {
                key: origin.to_owned(),
                reason: "invalid SEC1 EC key, or a curve other than P-256/P-521".into(),
                source: None,
            });
        }
    } else if t.starts_with("-----BEGIN PRIVATE KEY-----") {
        parse_pkcs8(t, origin)?
    } else {
        return Err(Error::Key {
            key: origin.to_owned(),
            reason: "not a private key in OpenSSH or PEM (PKCS#1, SEC1, PKCS#8) format".into(),
            source: None,
        });
    };
    let public = public_of(&private, origin)?;
    Ok((private, public))
}

fn parse_pkcs8(t: &str, origin: &str) -> Result<Private> {
    if let Ok(k) = rsa::RsaPrivateKey::from_pkcs8_pem(t) {
        return Ok(Private::Rsa(Box::new(k)));
    }
    if let Ok(k) = p256::ecdsa::SigningKey::from_pkcs8_pem(t) {
        return Ok(Private::P256(k));
    }
    if let Ok(k) = p521::SecretKey::from_pkcs8_pem(t) {
        return Ok(Private::P521(p521::ecdsa::SigningKey::from(&k)));
    }
    if p384::ecdsa::SigningKey::from_pkcs8_pem(t).is_ok() {
        return Err(p384_refused(origin));
    }
    if let Ok(k) = ed25519_dalek::SigningKey::from_pkcs8_pem(t) {
        return Ok(Private::Ed25519(k));
    }
    Err(Error::Key {
        key: origin.to_owned(),
        reason: "invalid PKCS#8 key, or a key type other than RSA, ECDSA, Ed25519".into(),
        source: None,
    })
}

fn public_of(private: &Private, origin: &str) -> Result<PublicKey> {
    let data = match private {
        Private::Rsa(k) => {
            let public = ssh_key::public::RsaPublicKey::try_from(&k.to_public_key())
                .map_err(|e| key_err(origin, "cannot derive the RSA public key", e))?;
            KeyData::Rsa(public)
        }
        Private::P256(k) => KeyData::Ecdsa(EcdsaPublicKey::from(k.verifying_key())),
        Private::P521(k) => KeyData::Ecdsa(EcdsaPublicKey::from(k.verifying_key())),
        Private::Ed25519(k) => KeyData::Ed25519(Ed25519PublicKey::from(&k.verifying_key())),
    };
    Ok(PublicKey::new(data, ""))
}

fn parse_openssh(
    t: &str,
    passphrase: Option<&Secret>,
    origin: &str,
) -> Result<(Private, PublicKey)> {
    let mut key = PrivateKey::from_openssh(t)
        .map_err(|e| key_err(origin, "invalid OpenSSH private key", e))?;
    if key.is_encrypted() {
        let Some(pass) = passphrase else {
            return Err(Error::PassphraseRequired {
                key: origin.to_owned(),
            });
        };
        key = key
            .decrypt(pass.expose().as_bytes())
            .map_err(|e| key_err(origin, "cannot decrypt (wrong passphrase?)", e))?;
    }
    let public = key.public_key().clone();
    let private = match key.key_data() {
        KeypairData::Rsa(kp) => Private::Rsa(Box::new(
            rsa::RsaPrivateKey::try_from(kp).map_err(|e| key_err(origin, "invalid RSA key", e))?,
        )),
        KeypairData::Ecdsa(EcdsaKeypair::NistP256 { private, .. }) => Private::P256(
            p256::ecdsa::SigningKey::from_slice(private.as_slice())
                .map_err(|e| key_err(origin, "invalid P-256 key", e))?,
        ),
        KeypairData::Ecdsa(EcdsaKeypair::NistP521 { private, .. }) => Private::P521(
            p521::ecdsa::SigningKey::from_slice(private.as_slice())
                .map_err(|e| key_err(origin, "invalid P-521 key", e))?,
        ),
        KeypairData::Ecdsa(EcdsaKeypair::NistP384 { .. }) => return Err(p384_refused(origin)),
        KeypairData::Ed25519(kp) => Private::Ed25519(ed25519_dalek::SigningKey::from_bytes(
            &kp.private.to_bytes(),
        )),
        other => {
            return Err(Error::UnsupportedAlgorithm {
                algorithm: other
                    .algorithm()
                    .map(|a| a.to_string())
                    .unwrap_or_else(|_| "unknown".into()),
                reason: "CloudAPI accepts RSA, ECDSA and Ed25519 keys".into(),
            });
        }
    };
    Ok((private, public))
}

/// P-384 keys are refused: the curve's natural hash is SHA-384, which
/// CloudAPI's signature library rejects, and an ssh-agent can sign them no
/// other way.
fn p384_refused(origin: &str) -> Error {
    Error::UnsupportedAlgorithm {
        algorithm: "ECDSA P-384".into(),
        reason: format!(
            "key {origin}: CloudAPI rejects SHA-384 signatures, the only kind a P-384 key \
             makes everywhere; use an Ed25519, ECDSA P-256/P-521 or RSA key"
        ),
    }
}
