//! SSH public keys registered with the simulated account, their MD5
//! fingerprints, and the account key generated at start.

use std::io;
use std::path::PathBuf;

use md5::{Digest as _, Md5};
use ssh_key::private::{Ed25519Keypair, KeypairData};
use ssh_key::{LineEnding, PrivateKey, PublicKey};

/// A key registered for the account or a sub-user.
#[derive(Debug, Clone)]
pub(crate) struct RegisteredKey {
    /// Key name (lookup by name works like lookup by fingerprint).
    pub name: String,
    /// MD5, lower-case colon-separated hex, no `MD5:` prefix (as UFDS stores it).
    pub fingerprint: String,
    /// The OpenSSH public key line as registered.
    pub line: String,
    /// The parsed key.
    pub key: PublicKey,
}

impl RegisteredKey {
    /// True when `key` (a keyId's last part) names this key.
    pub fn matches(&self, key: &str) -> bool {
        self.name == key || self.fingerprint == key
    }
}

/// MD5 over the SSH wire-format public key blob, hex pairs joined by `:`.
pub(crate) fn md5_fingerprint(key: &PublicKey) -> io::Result<String> {
    let blob = key.to_bytes().map_err(invalid)?;
    let digest = Md5::digest(&blob);
    let hex: Vec<String> = digest.iter().map(|b| format!("{b:02x}")).collect();
    Ok(hex.join(":"))
}

/// Parses an OpenSSH public key line. An empty `name` defaults to the key's
/// comment, else its fingerprint (as UFDS does).
pub(crate) fn parse_public_key(name: &str, openssh: &str) -> io::Result<RegisteredKey> {
    let line = openssh.trim();
    let key = PublicKey::from_openssh(line).map_err(invalid)?;
    let fingerprint = md5_fingerprint(&key)?;
    let name = if !name.is_empty() {
        name.to_owned()
    } else if !key.comment().is_empty() {
        key.comment().to_string()
    } else {
        fingerprint.clone()
    };
    Ok(RegisteredKey {
        name,
        fingerprint,
        line: line.to_owned(),
        key,
    })
}

fn invalid(e: ssh_key::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, e)
}

/// The account key made at start, in its own temporary directory.
#[derive(Debug)]
pub(crate) struct GeneratedKey {
    pub dir: tempfile::TempDir,
    pub private_path: PathBuf,
    pub public_path: PathBuf,
    pub key: RegisteredKey,
}

/// Name under which the generated key is registered.
pub(crate) const GENERATED_KEY_NAME: &str = "imagebake-sim";

/// Generates an Ed25519 key, writes it as an unencrypted OpenSSH file
/// `id_ed25519` (mode 0600) with `id_ed25519.pub` beside it.
pub(crate) fn generate_account_key() -> io::Result<GeneratedKey> {
    let mut seed = [0u8; 32];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut seed)
        .map_err(|_| io::Error::other("no system randomness for the simulator key"))?;
    let keypair = Ed25519Keypair::from_seed(&seed);
    let private =
        PrivateKey::new(KeypairData::Ed25519(keypair), GENERATED_KEY_NAME).map_err(invalid)?;
    let dir = tempfile::Builder::new()
        .prefix("imagebake-triton-sim-")
        .tempdir()?;
    let private_path = dir.path().join("id_ed25519");
    let public_path = dir.path().join("id_ed25519.pub");
    private
        .write_openssh_file(&private_path, LineEnding::LF)
        .map_err(invalid)?;
    let public_line = private.public_key().to_openssh().map_err(invalid)?;
    std::fs::write(&public_path, format!("{public_line}\n"))?;
    let key = parse_public_key(GENERATED_KEY_NAME, &public_line)?;
    Ok(GeneratedKey {
        dir,
        private_path,
        public_path,
        key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_fingerprint_matches_the_reference_vector() {
        let line = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDAI8AowC+1bDa//i3A/FO6bbLpKIcJAr0p4u2KKNXvE/eQvgXZsil1QJb7ycT2iA9mHCl9kLkQ6vv7X2q48u/achKNw+Vf4VfUihrKJq5PXeBEU0CK8FxilfjfiUPwaE4UDy5XJzrAM9Ve1NMqjNbrzrLg/BSwQ+mQLqKxBixr6Q== test";
        let key = parse_public_key("", line).expect("parses");
        assert_eq!(
            key.fingerprint,
            "fa:56:a1:6b:cc:04:97:fe:e2:98:54:c4:2e:0d:26:c6"
        );
        assert_eq!(key.name, "test");
        assert!(key.matches("test") && key.matches(&key.fingerprint));
    }

    #[test]
    fn generated_key_files_round_trip() {
        let g = generate_account_key().expect("generates");
        let private = PrivateKey::read_openssh_file(&g.private_path).expect("reads");
        assert_eq!(
            md5_fingerprint(private.public_key()).expect("fp"),
            g.key.fingerprint
        );
        let public = std::fs::read_to_string(&g.public_path).expect("pub file");
        assert_eq!(public.trim(), g.key.line);
    }
}
