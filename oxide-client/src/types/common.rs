use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::Result;
use crate::names::validate_name;

/// A resource given by UUID or by name (the API's untagged `NameOrId`).
///
/// `From<&str>` reads a UUID-shaped string as an ID and anything else as a
/// name; names are checked when a request is made.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum NameOrId {
    /// By ID: sent without a `project` (the lookup rule).
    Id(Uuid),
    /// By name: sent with its `project`.
    Name(String),
}

impl NameOrId {
    /// Whether this is an ID.
    pub fn is_id(&self) -> bool {
        matches!(self, NameOrId::Id(_))
    }

    /// Checks a name against the `Name` rules; the error names `field`.
    pub fn validate(&self, field: &'static str) -> Result<()> {
        match self {
            NameOrId::Id(_) => Ok(()),
            NameOrId::Name(n) => validate_name(field, n),
        }
    }
}

impl From<Uuid> for NameOrId {
    fn from(id: Uuid) -> Self {
        NameOrId::Id(id)
    }
}

impl From<&Uuid> for NameOrId {
    fn from(id: &Uuid) -> Self {
        NameOrId::Id(*id)
    }
}

impl From<&str> for NameOrId {
    fn from(s: &str) -> Self {
        match Uuid::try_parse(s) {
            Ok(id) if crate::names::looks_like_uuid(s) => NameOrId::Id(id),
            _ => NameOrId::Name(s.to_owned()),
        }
    }
}

impl From<String> for NameOrId {
    fn from(s: String) -> Self {
        NameOrId::from(s.as_str())
    }
}

impl From<&String> for NameOrId {
    fn from(s: &String) -> Self {
        NameOrId::from(s.as_str())
    }
}

impl From<&NameOrId> for NameOrId {
    fn from(v: &NameOrId) -> Self {
        v.clone()
    }
}

impl fmt::Display for NameOrId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NameOrId::Id(id) => id.fmt(f),
            NameOrId::Name(n) => f.write_str(n),
        }
    }
}

impl Serialize for NameOrId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for NameOrId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        String::deserialize(d).map(NameOrId::from)
    }
}

/// One page of a listing (`*ResultsPage`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ResultsPage<T> {
    /// The items on this page.
    pub items: Vec<T>,
    /// Token for the next page; `None` on the last one.
    #[serde(default)]
    pub next_page: Option<String>,
}

/// IP version (`IpVersion`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IpVersion {
    /// IPv4.
    V4,
    /// IPv6.
    V6,
    /// A version this client does not know.
    #[serde(other)]
    Unknown,
}

impl IpVersion {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            IpVersion::V4 => "v4",
            IpVersion::V6 => "v6",
            IpVersion::Unknown => "unknown",
        }
    }
}

/// Listing order (`NameOrIdSortMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SortMode {
    /// By name, ascending (the API's default).
    #[default]
    NameAscending,
    /// By name, descending.
    NameDescending,
    /// By ID, ascending.
    IdAscending,
}

impl SortMode {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            SortMode::NameAscending => "name_ascending",
            SortMode::NameDescending => "name_descending",
            SortMode::IdAscending => "id_ascending",
        }
    }
}

/// Paging knobs of a list operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ListOptions {
    /// Items per page (the rack's default is 100); must be at least 1.
    pub limit: Option<u32>,
    /// Order; `None` leaves it to the rack (name ascending).
    pub sort_by: Option<SortMode>,
}

impl ListOptions {
    /// Pages of `limit` items.
    pub fn limit(limit: u32) -> Self {
        Self {
            limit: Some(limit),
            sort_by: None,
        }
    }

    /// With this order.
    pub fn sort_by(mut self, sort_by: SortMode) -> Self {
        self.sort_by = Some(sort_by);
        self
    }
}
