//! Package model.

use serde::Deserialize;

use super::PackageId;

/// A package: the size of a machine (CloudAPI `ListPackages`, `GetPackage`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct Package {
    /// Package UUID.
    pub id: PackageId,
    /// Package name.
    pub name: String,
    /// Memory in MiB.
    #[serde(default)]
    pub memory: u64,
    /// Disk in MiB.
    #[serde(default)]
    pub disk: u64,
    /// Swap in MiB.
    #[serde(default)]
    pub swap: u64,
    /// Maximum number of lightweight processes.
    #[serde(default)]
    pub lwps: Option<u64>,
    /// Number of vCPUs (0 for zones with a CPU cap only).
    #[serde(default)]
    pub vcpus: Option<u64>,
    /// Package version.
    #[serde(default)]
    pub version: Option<String>,
    /// Package group.
    #[serde(default)]
    pub group: Option<String>,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Whether this is the default package.
    #[serde(default)]
    pub default: Option<bool>,
    /// Whether the package has a flexible disk (bhyve).
    #[serde(default)]
    pub flexible_disk: Option<bool>,
}
