use serde::{Deserialize, Serialize};

/// Who may use a resource (`PermissionsOnResource`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Permissions {
    /// Account ids allowed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub account_ids: Vec<String>,
    /// Whether everyone is allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub global_permission: Option<bool>,
}

impl Permissions {
    /// Permissions for these accounts.
    pub fn accounts<I, S>(ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            account_ids: ids.into_iter().map(Into::into).collect(),
            global_permission: None,
        }
    }

    /// Permission for everyone.
    pub fn global() -> Self {
        Self {
            account_ids: Vec::new(),
            global_permission: Some(true),
        }
    }
}

/// A change of permissions (`PermissionsOnResourceCreation`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PermissionsChange {
    /// Permissions to add.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additions: Option<Permissions>,
    /// Permissions to remove.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removals: Option<Permissions>,
}

impl PermissionsChange {
    /// Adds these permissions.
    pub fn add(p: Permissions) -> Self {
        Self {
            additions: Some(p),
            removals: None,
        }
    }

    /// Removes these permissions.
    pub fn remove(p: Permissions) -> Self {
        Self {
            additions: None,
            removals: Some(p),
        }
    }
}
