use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// An SSH public key of the current user (`SshKey`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct SshKey {
    /// Unique ID.
    pub id: Uuid,
    /// Name, unique for the user.
    pub name: String,
    /// Description.
    pub description: String,
    /// The public key, OpenSSH format.
    pub public_key: String,
    /// The owning user.
    pub silo_user_id: Uuid,
    /// Creation time (RFC 3339).
    pub time_created: String,
    /// Last modification time (RFC 3339).
    pub time_modified: String,
}

/// Body of `current_user_ssh_key_create` (`SshKeyCreate`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct SshKeyCreate {
    /// Name of the key.
    pub name: String,
    /// Description.
    pub description: String,
    /// The public key, OpenSSH format (`ssh-ed25519 AAAA...`).
    pub public_key: String,
}

impl SshKeyCreate {
    /// A key named `name`.
    pub fn new(name: impl Into<String>, public_key: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            description: String::new(),
            public_key: public_key.into(),
        }
    }

    /// With this description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }
}
