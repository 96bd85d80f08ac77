use std::net::IpAddr;

use serde::Deserialize;
use uuid::Uuid;

/// An external address of an instance (`ExternalIp`), tagged by `kind`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ExternalIp {
    /// Outbound-only source NAT; takes no inbound traffic.
    Snat {
        /// The address.
        ip: IpAddr,
        /// The pool it came from.
        ip_pool_id: Uuid,
        /// First port of the range.
        first_port: u16,
        /// Last port of the range.
        last_port: u16,
    },
    /// An address allocated for the instance's lifetime.
    Ephemeral {
        /// The address.
        ip: IpAddr,
        /// The pool it came from.
        ip_pool_id: Uuid,
    },
    /// A named, separately managed address.
    Floating {
        /// ID of the floating IP.
        id: Uuid,
        /// Its name.
        name: String,
        /// Its description.
        description: String,
        /// The address.
        ip: IpAddr,
        /// The pool it came from.
        ip_pool_id: Uuid,
        /// Owning project.
        project_id: Uuid,
        /// Instance it is attached to.
        #[serde(default)]
        instance_id: Option<Uuid>,
        /// Creation time (RFC 3339).
        time_created: String,
        /// Last modification time (RFC 3339).
        time_modified: String,
    },
    /// A kind this client does not know.
    #[serde(other)]
    Unknown,
}

impl ExternalIp {
    /// The address, unless the kind is unknown.
    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            ExternalIp::Snat { ip, .. }
            | ExternalIp::Ephemeral { ip, .. }
            | ExternalIp::Floating { ip, .. } => Some(*ip),
            ExternalIp::Unknown => None,
        }
    }

    /// Whether the address accepts inbound connections (ephemeral or
    /// floating; SNAT entries do not).
    pub fn is_reachable(&self) -> bool {
        matches!(
            self,
            ExternalIp::Ephemeral { .. } | ExternalIp::Floating { .. }
        )
    }
}
