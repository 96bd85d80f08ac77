//! What a test reads to prove nothing leaked.

use std::collections::BTreeMap;

/// Owner UUID of the public seed images (the datacenter's `admin` user).
pub const SEED_IMAGE_OWNER: &str = "930896af-bf8c-48d4-885c-6573a94b1853";

/// Live (not deleted) machines, and images in any state.
#[derive(Debug, Clone, PartialEq)]
pub struct TritonInventory {
    /// Machines not yet deleted (a machine whose deletion is under way is
    /// still listed until its delete delay has passed).
    pub machines: Vec<SimMachine>,
    /// Every image that exists, including the public seed images.
    pub images: Vec<SimImage>,
}

impl TritonInventory {
    /// Images not owned by [`SEED_IMAGE_OWNER`]: the ones the account made.
    pub fn custom_images(&self) -> Vec<&SimImage> {
        self.images
            .iter()
            .filter(|i| i.owner != SEED_IMAGE_OWNER)
            .collect()
    }
}

/// A machine as the inventory shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct SimMachine {
    /// Machine UUID.
    pub id: String,
    /// Machine name (alias).
    pub name: String,
    /// CloudAPI state (`provisioning`, `running`, `stopped`, `failed`, ...).
    pub state: String,
    /// Machine tags.
    pub tags: BTreeMap<String, serde_json::Value>,
    /// Machine metadata (customer_metadata), including `root_authorized_keys`.
    pub metadata: BTreeMap<String, String>,
    /// The address GetMachine reports once the machine has run (its own
    /// `127.0.0.N` when SSH is on, else `127.0.0.1`).
    pub ip: String,
    /// How to reach it over SSH (SSH on, and booted at least once).
    pub ssh: Option<crate::machine::SshInfo>,
}

/// An image as the inventory shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct SimImage {
    /// Image UUID.
    pub id: String,
    /// Image name.
    pub name: String,
    /// Image version.
    pub version: String,
    /// IMGAPI state (`active`, `creating`, `failed`, `disabled`).
    pub state: String,
    /// Owner account UUID.
    pub owner: String,
    /// Whether the image is public.
    pub public: bool,
}
