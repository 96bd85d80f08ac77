//! Network model.

use serde::Deserialize;

use super::NetworkId;

/// A network or network pool (CloudAPI `ListNetworks`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct Network {
    /// Network UUID.
    pub id: NetworkId,
    /// Network name.
    pub name: String,
    /// Whether the network is public (internet-facing).
    #[serde(default)]
    pub public: bool,
    /// Whether the network is a fabric (overlay) network.
    #[serde(default)]
    pub fabric: Option<bool>,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Subnet (fabric networks).
    #[serde(default)]
    pub subnet: Option<String>,
    /// Gateway (fabric networks).
    #[serde(default)]
    pub gateway: Option<String>,
    /// VLAN id (fabric networks).
    #[serde(default)]
    pub vlan_id: Option<u32>,
}
