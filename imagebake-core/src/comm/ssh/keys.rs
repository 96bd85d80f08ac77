//! Temporary key pairs for clouds that inject a public key into the machine.

use std::fmt;
use std::sync::Arc;

use imagebake_http::Secret;
use russh::keys::{HashAlg, PrivateKey};
use ssh_key::LineEnding;
use ssh_key::private::{Ed25519Keypair, KeypairData};

use super::SshAuth;
use crate::Error;

/// An ed25519 key pair generated for one build: inject
/// [`public_openssh`](Self::public_openssh) into the machine (cloud
/// metadata), log in with [`auth`](Self::auth), and remove the public key
/// from the cloud in an undo. `Debug` shows the fingerprint only.
#[derive(Clone)]
pub struct TemporaryKey {
    key: Arc<PrivateKey>,
}

impl TemporaryKey {
    /// Generates a key from the system's random source; `comment` ends the
    /// public key line (the build id is a good one).
    pub fn generate(comment: &str) -> Result<Self, Error> {
        let mut seed = Seed([0u8; 32]);
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut seed.0)
            .map_err(|_| Error::Config("no system randomness for an SSH key".to_owned()))?;
        let pair = Ed25519Keypair::from_seed(&seed.0);
        let key = PrivateKey::new(KeypairData::Ed25519(pair), comment)
            .map_err(|e| Error::communicator("generating an ed25519 key", e))?;
        Ok(Self { key: Arc::new(key) })
    }

    /// The public key as an `authorized_keys` line: `ssh-ed25519 AAAA… comment`.
    pub fn public_openssh(&self) -> String {
        // Encoding an in-memory ed25519 public key cannot fail.
        self.key.public_key().to_openssh().unwrap_or_default()
    }

    /// The SHA-256 fingerprint of the public key (`SHA256:…`).
    pub fn fingerprint(&self) -> String {
        self.key.fingerprint(HashAlg::Sha256).to_string()
    }

    /// The private key in OpenSSH format, unencrypted (to hand to a tool
    /// that needs a file; write it with mode 0600).
    pub fn private_openssh(&self) -> Result<Secret, Error> {
        let pem = self
            .key
            .to_openssh(LineEnding::LF)
            .map_err(|e| Error::communicator("encoding the temporary SSH key", e))?;
        Ok(Secret::new(pem.as_str()))
    }

    /// Logs in with this key.
    pub fn auth(&self) -> SshAuth {
        SshAuth::Key(self.key.clone())
    }
}

impl fmt::Debug for TemporaryKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TemporaryKey")
            .field("fingerprint", &self.fingerprint())
            .finish()
    }
}

/// A seed wiped when dropped.
struct Seed([u8; 32]);

impl Drop for Seed {
    fn drop(&mut self) {
        self.0.fill(0);
        std::hint::black_box(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_distinct_keys_and_hides_the_secret() {
        let a = TemporaryKey::generate("ib-test").unwrap();
        let b = TemporaryKey::generate("ib-test").unwrap();
        assert_ne!(a.fingerprint(), b.fingerprint());
        let line = a.public_openssh();
        assert!(
            line.starts_with("ssh-ed25519 AAAA") && line.ends_with(" ib-test"),
            "{line}"
        );
        let pem = a.private_openssh().unwrap();
        assert!(pem.expose().contains("BEGIN OPENSSH PRIVATE KEY"));
        let dbg = format!("{a:?} {:?}", a.auth());
        assert!(
            dbg.contains(&a.fingerprint()) && !dbg.contains("PRIVATE"),
            "{dbg}"
        );
        // The PEM round-trips into an auth method.
        assert!(matches!(
            SshAuth::key_openssh(pem.expose(), None),
            Ok(SshAuth::Key(k)) if k.fingerprint(HashAlg::Sha256).to_string() == a.fingerprint()
        ));
    }
}
