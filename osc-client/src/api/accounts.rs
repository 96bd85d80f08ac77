use serde::{Deserialize, Serialize};

use crate::types::Account;
use crate::{Client, Result};

/// `ReadAccountsRequest`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReadAccountsRequest {
    /// Only check permissions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ReadAccountsResponse {
    #[serde(default)]
    accounts: Vec<Account>,
}

/// The caller's account.
#[derive(Debug, Clone)]
pub struct Accounts {
    client: Client,
}

impl Accounts {
    pub(crate) fn new(client: Client) -> Self {
        Self { client }
    }

    /// `ReadAccounts`: the accounts of the caller (one).
    pub async fn read(&self) -> Result<Vec<Account>> {
        let r: ReadAccountsResponse = self
            .client
            .call("ReadAccounts", &ReadAccountsRequest::default())
            .await?;
        Ok(r.accounts)
    }

    /// `ReadAccounts`, first entry: the caller's own account.
    pub async fn current(&self) -> Result<Account> {
        let accounts = self.read().await?;
        crate::api::required(accounts.into_iter().next(), "ReadAccounts", "account")
    }
}
