use serde::Deserialize;

/// The caller's account (`Account`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
#[non_exhaustive]
pub struct Account {
    /// Account id (12 digits).
    pub account_id: String,
    /// Customer id.
    pub customer_id: Option<String>,
    /// E-mail address.
    pub email: Option<String>,
    /// Company name.
    pub company_name: Option<String>,
}
