//! Where the signing key comes from, and finding it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use imagebake_http::Secret;

use crate::auth::{AgentSigner, Algorithm, KeyFingerprint, KeySigner, Signer};
use crate::error::{Error, Result};

/// Where the client gets its signing key. `Debug` never shows key material
/// or passphrases.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum KeySource {
    /// A private key file.
    File {
        /// The file.
        path: PathBuf,
        /// Passphrase for an encrypted OpenSSH key.
        passphrase: Option<Secret>,
        /// The fingerprint the user configured; checked against the file.
        expect: Option<KeyFingerprint>,
    },
    /// A private key given as text.
    Text {
        /// The key (OpenSSH or PEM).
        text: Secret,
        /// Passphrase for an encrypted OpenSSH key.
        passphrase: Option<Secret>,
        /// The fingerprint the user configured; checked against the key.
        expect: Option<KeyFingerprint>,
    },
    /// A key held by the ssh-agent listening on `socket`.
    Agent {
        /// The agent's socket (`SSH_AUTH_SOCK`).
        socket: PathBuf,
        /// Which key.
        fingerprint: KeyFingerprint,
    },
    /// The agent if it holds the key, else a file `X` in `ssh_dir` whose
    /// `X.pub` has the fingerprint (node-triton's lookup order).
    Search {
        /// Which key.
        fingerprint: KeyFingerprint,
        /// The agent's socket, if one is configured.
        agent_socket: Option<PathBuf>,
        /// Usually `~/.ssh`.
        ssh_dir: Option<PathBuf>,
    },
    /// A signer the caller built.
    Signer(Arc<dyn Signer>),
}

impl KeySource {
    /// Builds the signer if that needs no I/O beyond reading a file
    /// (`None` for agent and search sources, which are resolved on first use).
    pub(crate) fn resolve_now(
        &self,
        algorithm: Option<Algorithm>,
    ) -> Option<Result<Arc<dyn Signer>>> {
        match self {
            KeySource::File {
                path,
                passphrase,
                expect,
            } => Some(
                KeySigner::from_file(path, passphrase.as_ref())
                    .and_then(|k| check(k, expect.as_ref(), &path.display().to_string()))
                    .and_then(|k| with_algorithm(k, algorithm)),
            ),
            KeySource::Text {
                text,
                passphrase,
                expect,
            } => Some(
                KeySigner::from_text(text, passphrase.as_ref())
                    .and_then(|k| check(k, expect.as_ref(), "in-memory key"))
                    .and_then(|k| with_algorithm(k, algorithm)),
            ),
            KeySource::Signer(s) => Some(Ok(Arc::clone(s))),
            KeySource::Agent { .. } | KeySource::Search { .. } => None,
        }
    }

    /// Builds the signer, talking to the agent or searching `ssh_dir` if needed.
    pub(crate) async fn resolve(&self, algorithm: Option<Algorithm>) -> Result<Arc<dyn Signer>> {
        if let Some(now) = self.resolve_now(algorithm) {
            return now;
        }
        match self {
            KeySource::Agent {
                socket,
                fingerprint,
            } => agent(socket, fingerprint, algorithm).await,
            KeySource::Search {
                fingerprint,
                agent_socket,
                ssh_dir,
            } => {
                let mut searched = Vec::new();
                if let Some(socket) = agent_socket {
                    match agent(socket, fingerprint, algorithm).await {
                        Ok(s) => return Ok(s),
                        Err(e @ Error::UnsupportedAlgorithm { .. }) => return Err(e),
                        Err(e) => {
                            tracing::debug!(error = %e, "key not usable through the ssh-agent");
                            searched.push(format!("ssh-agent at {}", socket.display()));
                        }
                    }
                } else {
                    searched.push("ssh-agent (SSH_AUTH_SOCK not set)".to_owned());
                }
                if let Some(dir) = ssh_dir {
                    if let Some(path) = find_in_dir(dir, fingerprint) {
                        let k = KeySigner::from_file(&path, None)?;
                        return with_algorithm(k, algorithm);
                    }
                    searched.push(format!("{}/*.pub", dir.display()));
                }
                Err(Error::KeyNotFound {
                    fingerprint: fingerprint.to_string(),
                    searched: searched.join(", "),
                })
            }
            _ => unreachable_source(),
        }
    }
}

fn unreachable_source() -> Result<Arc<dyn Signer>> {
    Err(Error::Config {
        reason: "key source resolved twice".into(),
    })
}

async fn agent(
    socket: &Path,
    fingerprint: &KeyFingerprint,
    algorithm: Option<Algorithm>,
) -> Result<Arc<dyn Signer>> {
    let mut s = AgentSigner::connect(socket, fingerprint).await?;
    if let Some(a) = algorithm {
        s = s.with_algorithm(a)?;
    }
    Ok(Arc::new(s))
}

fn check(k: KeySigner, expect: Option<&KeyFingerprint>, origin: &str) -> Result<KeySigner> {
    match expect {
        Some(fp) if !fp.matches(k.public_key()) => Err(Error::Config {
            reason: format!(
                "the key {origin} has fingerprint {}, not the configured key id {fp}",
                crate::auth::Signer::key_id(&k)
            ),
        }),
        _ => Ok(k),
    }
}

fn with_algorithm(k: KeySigner, algorithm: Option<Algorithm>) -> Result<Arc<dyn Signer>> {
    let k = match algorithm {
        Some(a) => k.with_algorithm(a)?,
        None => k,
    };
    Ok(Arc::new(k))
}

/// A private key file `X` in `dir` whose `X.pub` has `fingerprint`.
fn find_in_dir(dir: &Path, fingerprint: &KeyFingerprint) -> Option<PathBuf> {
    let entries = std::fs::read_dir(dir).ok()?;
    let mut pubs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "pub"))
        .collect();
    pubs.sort();
    pubs.into_iter().find_map(|pub_path| {
        let key = ssh_key::PublicKey::read_openssh_file(&pub_path).ok()?;
        if !fingerprint.matches(&key) {
            return None;
        }
        let private = pub_path.with_extension("");
        private.is_file().then_some(private)
    })
}
