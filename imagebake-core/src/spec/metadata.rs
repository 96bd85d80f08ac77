use std::fmt;

use serde::Serialize;
use uuid::Uuid;

/// The image a spec builds on (`base`): a UUID, `name@version`, a mibe
/// dataset name `NAME-VERSION` (split at the last `-` when what follows
/// starts with a digit and holds a `.`), or a bare image name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BaseRef {
    /// An image UUID.
    Id(Uuid),
    /// An image name and version.
    NameVersion {
        /// The image name.
        name: String,
        /// The image version.
        version: String,
    },
    /// An image name alone (the latest version).
    Name(String),
}

impl BaseRef {
    /// Reads a `base` value (see the type's documentation).
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        if s.is_empty() || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return None;
        }
        if let Ok(id) = Uuid::parse_str(s) {
            return Some(Self::Id(id));
        }
        if let Some((n, v)) = s.split_once('@') {
            if n.is_empty() || v.is_empty() || v.contains('@') {
                return None;
            }
            return Some(Self::NameVersion {
                name: n.to_owned(),
                version: v.to_owned(),
            });
        }
        if let Some((n, v)) = s.rsplit_once('-')
            && !n.is_empty()
            && v.starts_with(|c: char| c.is_ascii_digit())
            && v.contains('.')
        {
            return Some(Self::NameVersion {
                name: n.to_owned(),
                version: v.to_owned(),
            });
        }
        Some(Self::Name(s.to_owned()))
    }

    /// The image name, when the reference has one.
    pub fn name(&self) -> Option<&str> {
        match self {
            Self::Id(_) => None,
            Self::NameVersion { name, .. } | Self::Name(name) => Some(name),
        }
    }

    /// The image version, when the reference has one.
    pub fn version(&self) -> Option<&str> {
        match self {
            Self::NameVersion { version, .. } => Some(version),
            _ => None,
        }
    }
}

impl fmt::Display for BaseRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Id(id) => write!(f, "{id}"),
            Self::NameVersion { name, version } => write!(f, "{name}@{version}"),
            Self::Name(n) => f.write_str(n),
        }
    }
}

/// A network the image needs (`requirements.networks`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpecNetwork {
    /// The NIC name (`net0`).
    pub name: String,
    /// What the network is for (`public`).
    pub description: String,
}

/// What a spec says about the image it makes, from `manifest` or
/// `manifest.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SpecMetadata {
    /// The image name.
    pub name: String,
    /// The image version.
    pub version: String,
    /// The image it builds on.
    pub base: Option<BaseRef>,
    /// `organization` (the first word of `/etc/product`'s Name).
    pub organization: Option<String>,
    /// `brand` (`%brand%` in the motd).
    pub brand: Option<String>,
    /// The image description.
    pub description: Option<String>,
    /// The documentation URL.
    pub homepage: Option<String>,
    /// The image's users (mibe's default: root and admin).
    pub users: Vec<String>,
    /// The `role` tag.
    pub role: Option<String>,
    /// The smallest memory, in MiB (`requirements.min_ram`).
    pub min_ram: Option<u64>,
    /// The networks the image needs (`requirements.networks`).
    pub networks: Vec<SpecNetwork>,
    /// The owner UUID for an IMGAPI manifest.
    pub owner: Option<Uuid>,
    /// The `lbaas` tag.
    pub lbaas: Option<String>,
    /// Billing tags.
    pub billing_tags: Vec<String>,
    /// The metadata keys the image consumes, documented (manifest.json's
    /// `customer_metadata`).
    pub customer_metadata: serde_json::Map<String, serde_json::Value>,
}

impl SpecMetadata {
    /// The image's tags: `role` and `lbaas` when set.
    pub fn tags(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut t = serde_json::Map::new();
        if let Some(r) = &self.role {
            t.insert("role".into(), r.clone().into());
        }
        if let Some(l) = &self.lbaas {
            t.insert("lbaas".into(), l.clone().into());
        }
        t
    }

    /// The fields that differ between `self` and `other`, as
    /// `(field, self's value, other's value)` in a readable form.
    pub fn differences(&self, other: &Self) -> Vec<(&'static str, String, String)> {
        let mut out = Vec::new();
        let mut cmp = |f: &'static str, a: String, b: String| {
            if a != b {
                out.push((f, a, b));
            }
        };
        let opt = |o: &Option<String>| o.clone().unwrap_or_default();
        cmp("name", self.name.clone(), other.name.clone());
        cmp("version", self.version.clone(), other.version.clone());
        cmp(
            "base",
            self.base
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            other
                .base
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
        );
        cmp(
            "organization",
            opt(&self.organization),
            opt(&other.organization),
        );
        cmp("brand", opt(&self.brand), opt(&other.brand));
        cmp(
            "description",
            opt(&self.description),
            opt(&other.description),
        );
        cmp("homepage", opt(&self.homepage), opt(&other.homepage));
        out
    }
}
