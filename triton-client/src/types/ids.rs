//! Resource identifiers as newtypes over UUIDs.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// The UUID.
            pub fn uuid(&self) -> Uuid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = crate::Error;

            fn from_str(s: &str) -> crate::Result<Self> {
                Uuid::parse_str(s).map($name).map_err(|_| crate::Error::InvalidRequest {
                    reason: format!(concat!($what, " id {:?} is not a UUID"), s),
                })
            }
        }

        impl From<Uuid> for $name {
            fn from(u: Uuid) -> Self {
                $name(u)
            }
        }
    };
}

uuid_id!(
    /// A machine (instance) UUID.
    MachineId,
    "machine"
);
uuid_id!(
    /// An image UUID.
    ImageId,
    "image"
);
uuid_id!(
    /// A package UUID.
    PackageId,
    "package"
);
uuid_id!(
    /// A network (or network pool) UUID.
    NetworkId,
    "network"
);

/// A resource named either by UUID or by name (packages accept both).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum NameOrId {
    /// By UUID.
    Id(Uuid),
    /// By name.
    Name(String),
}

impl fmt::Display for NameOrId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NameOrId::Id(u) => u.fmt(f),
            NameOrId::Name(n) => f.write_str(n),
        }
    }
}

impl From<&str> for NameOrId {
    /// A UUID string becomes `Id`, anything else `Name`.
    fn from(s: &str) -> Self {
        Uuid::parse_str(s).map_or_else(|_| NameOrId::Name(s.to_owned()), NameOrId::Id)
    }
}

impl From<String> for NameOrId {
    fn from(s: String) -> Self {
        NameOrId::from(s.as_str())
    }
}

impl From<PackageId> for NameOrId {
    fn from(id: PackageId) -> Self {
        NameOrId::Id(id.0)
    }
}

impl Serialize for NameOrId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}
