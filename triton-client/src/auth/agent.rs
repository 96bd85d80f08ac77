//! Signing through a running ssh-agent (russh's agent client).
//!
//! The key is picked by fingerprint among the agent's identities. RSA keys are
//! asked for with the `rsa-sha2-256`/`rsa-sha2-512` flag and the header's
//! algorithm is named after the signature format the agent actually returned;
//! ECDSA signatures come back as SSH `mpint r, mpint s` and are converted to
//! DER.

use std::fmt;
use std::path::{Path, PathBuf};

use russh::keys::agent::client::AgentClient;
use russh::keys::{Algorithm as SshAlgorithm, EcdsaCurve, HashAlg, PublicKey};
use tokio::net::UnixStream;
use tokio::sync::Mutex;

use super::der::ssh_ecdsa_to_der;
use super::fingerprint::{KeyFingerprint, md5_fingerprint};
use super::{Algorithm, Signer};
use crate::error::{Error, Result};

/// Signs with a key held by an ssh-agent. `Debug` shows the socket path and
/// the key's fingerprint only.
pub struct AgentSigner {
    socket: PathBuf,
    key: PublicKey,
    key_id: String,
    rsa_hash: HashAlg,
    conn: Mutex<Option<AgentClient<UnixStream>>>,
}

impl fmt::Debug for AgentSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentSigner")
            .field("socket", &self.socket)
            .field("key_id", &self.key_id)
            .field("key_type", &self.key.algorithm().as_str())
            .finish_non_exhaustive()
    }
}

fn agent_err(reason: impl Into<String>, source: russh::keys::Error) -> Error {
    Error::Agent {
        reason: reason.into(),
        source: Some(source),
    }
}

impl AgentSigner {
    /// Connects to the agent at `socket` and picks the identity whose
    /// fingerprint matches `fingerprint` (any form [`KeyFingerprint`] parses).
    /// Fails with [`Error::KeyNotFound`] if the agent does not hold it, and
    /// refuses P-384 keys (an agent always signs them with SHA-384, which
    /// CloudAPI rejects).
    pub async fn connect(socket: impl AsRef<Path>, fingerprint: &KeyFingerprint) -> Result<Self> {
        let socket = socket.as_ref().to_owned();
        let mut client = connect(&socket).await?;
        let identities = client
            .request_identities()
            .await
            .map_err(|e| agent_err("cannot list identities", e))?;
        let key = identities
            .iter()
            .map(|id| id.public_key().into_owned())
            .find(|k| fingerprint.matches(k))
            .ok_or_else(|| Error::KeyNotFound {
                fingerprint: fingerprint.to_string(),
                searched: format!("ssh-agent at {}", socket.display()),
            })?;
        match key.algorithm() {
            SshAlgorithm::Ecdsa {
                curve: EcdsaCurve::NistP384,
            } => {
                return Err(Error::UnsupportedAlgorithm {
                    algorithm: "ECDSA P-384 (ssh-agent)".into(),
                    reason: "an ssh-agent signs P-384 keys with SHA-384, which CloudAPI rejects"
                        .into(),
                });
            }
            SshAlgorithm::Rsa { .. } | SshAlgorithm::Ecdsa { .. } | SshAlgorithm::Ed25519 => {}
            other => {
                return Err(Error::UnsupportedAlgorithm {
                    algorithm: other.as_str().to_owned(),
                    reason: "CloudAPI accepts RSA, ECDSA P-256/P-521 and Ed25519 keys".into(),
                });
            }
        }
        let key_id = md5_fingerprint(&key)?;
        Ok(Self {
            socket,
            key,
            key_id,
            rsa_hash: HashAlg::Sha256,
            conn: Mutex::new(Some(client)),
        })
    }

    /// For an RSA key, asks the agent for rsa-sha2-512 instead of
    /// rsa-sha2-256. Other algorithms cannot be chosen for agent keys.
    pub fn with_algorithm(mut self, algorithm: Algorithm) -> Result<Self> {
        let is_rsa = matches!(self.key.algorithm(), SshAlgorithm::Rsa { .. });
        self.rsa_hash = match (is_rsa, algorithm) {
            (true, Algorithm::RsaSha256) => HashAlg::Sha256,
            (true, Algorithm::RsaSha512) => HashAlg::Sha512,
            (false, a) if a == self.default_algorithm() => self.rsa_hash,
            (_, a) => {
                return Err(Error::UnsupportedAlgorithm {
                    algorithm: a.to_string(),
                    reason: format!(
                        "cannot be asked of an ssh-agent for a {} key",
                        self.key.algorithm().as_str()
                    ),
                });
            }
        };
        Ok(self)
    }

    fn default_algorithm(&self) -> Algorithm {
        match self.key.algorithm() {
            SshAlgorithm::Ecdsa {
                curve: EcdsaCurve::NistP521,
            } => Algorithm::EcdsaSha512,
            SshAlgorithm::Ecdsa { .. } => Algorithm::EcdsaSha256,
            SshAlgorithm::Ed25519 => Algorithm::Ed25519Sha512,
            _ => Algorithm::RsaSha256,
        }
    }

    /// The public key the agent signs with.
    pub fn public_key(&self) -> &PublicKey {
        &self.key
    }
}

async fn connect(socket: &Path) -> Result<AgentClient<UnixStream>> {
    AgentClient::connect_uds(socket)
        .await
        .map_err(|e| agent_err(format!("cannot connect to {}", socket.display()), e))
}

#[async_trait::async_trait]
impl Signer for AgentSigner {
    fn key_id(&self) -> &str {
        &self.key_id
    }

    async fn sign(&self, data: &[u8]) -> Result<(Algorithm, Vec<u8>)> {
        let mut guard = self.conn.lock().await;
        let client = match guard.as_mut() {
            Some(c) => c,
            None => guard.insert(connect(&self.socket).await?),
        };
        let result = client
            .sign_request_signature(&self.key, Some(self.rsa_hash), data)
            .await;
        let sig = match result {
            Ok(sig) => sig,
            Err(e) => {
                // A broken connection is re-opened on the next request.
                *guard = None;
                return Err(agent_err("the agent refused or failed to sign", e));
            }
        };
        drop(guard);
        let blob = sig.as_bytes();
        Ok(match sig.algorithm() {
            SshAlgorithm::Rsa {
                hash: Some(HashAlg::Sha256),
            } => (Algorithm::RsaSha256, blob.to_vec()),
            SshAlgorithm::Rsa {
                hash: Some(HashAlg::Sha512),
            } => (Algorithm::RsaSha512, blob.to_vec()),
            SshAlgorithm::Rsa { .. } => (Algorithm::RsaSha1, blob.to_vec()),
            SshAlgorithm::Ed25519 => (Algorithm::Ed25519Sha512, blob.to_vec()),
            SshAlgorithm::Ecdsa {
                curve: EcdsaCurve::NistP256,
            } => (Algorithm::EcdsaSha256, ssh_ecdsa_to_der(blob)?),
            SshAlgorithm::Ecdsa {
                curve: EcdsaCurve::NistP521,
            } => (Algorithm::EcdsaSha512, ssh_ecdsa_to_der(blob)?),
            other => {
                return Err(Error::Sign {
                    reason: format!(
                        "the agent returned an unusable signature type {}",
                        other.as_str()
                    ),
                });
            }
        })
    }
}
