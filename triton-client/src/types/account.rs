//! Account and SSH key models.

use serde::Deserialize;
use uuid::Uuid;

/// The account (CloudAPI `GetAccount`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Account {
    /// Account UUID.
    pub id: Uuid,
    /// Login name (used in every path).
    pub login: String,
    /// E-mail address.
    #[serde(default)]
    pub email: Option<String>,
    /// Company name.
    #[serde(default)]
    pub company_name: Option<String>,
    /// First name.
    #[serde(default)]
    pub first_name: Option<String>,
    /// Last name.
    #[serde(default)]
    pub last_name: Option<String>,
    /// Creation time (ISO 8601).
    #[serde(default)]
    pub created: Option<String>,
    /// Last update time (ISO 8601).
    #[serde(default)]
    pub updated: Option<String>,
    /// Whether Triton CNS is on for the account.
    #[serde(default)]
    pub triton_cns_enabled: Option<bool>,
}

/// An SSH key registered on the account (CloudAPI `ListKeys`, `GetKey`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct SshKey {
    /// Key name.
    pub name: String,
    /// MD5 fingerprint, colon hex.
    pub fingerprint: String,
    /// The OpenSSH public key line.
    pub key: String,
    /// Whether the key is attested (hardware keys).
    #[serde(default)]
    pub attested: Option<bool>,
    /// Whether the key requires multi-factor use.
    #[serde(default)]
    pub multifactor: Option<Vec<String>>,
}
