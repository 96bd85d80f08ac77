use serde::Deserialize;
use uuid::Uuid;

use super::IpVersion;

/// An IP pool linked to the current silo (`SiloIpPool`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct SiloIpPool {
    /// Unique ID.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Address family.
    pub ip_version: IpVersion,
    /// Unicast or multicast.
    pub pool_type: IpPoolType,
    /// Whether it is the silo's default for its version and type.
    pub is_default: bool,
    /// Creation time (RFC 3339).
    pub time_created: String,
    /// Last modification time (RFC 3339).
    pub time_modified: String,
}

/// Pool type (`IpPoolType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum IpPoolType {
    /// Unicast addresses.
    Unicast,
    /// Multicast addresses.
    Multicast,
    /// A type this client does not know.
    #[serde(other)]
    Unknown,
}

impl IpPoolType {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            IpPoolType::Unicast => "unicast",
            IpPoolType::Multicast => "multicast",
            IpPoolType::Unknown => "unknown",
        }
    }
}
