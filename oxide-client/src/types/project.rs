use serde::Deserialize;
use uuid::Uuid;

/// A project (`Project`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct Project {
    /// Unique ID.
    pub id: Uuid,
    /// Name, unique in the silo.
    pub name: String,
    /// Description.
    pub description: String,
    /// Creation time (RFC 3339).
    pub time_created: String,
    /// Last modification time (RFC 3339).
    pub time_modified: String,
}
