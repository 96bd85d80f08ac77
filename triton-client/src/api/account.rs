//! Account operations.

use crate::client::{Client, Req};
use crate::error::Result;
use crate::types::Account;

impl Client {
    /// CloudAPI `GetAccount`: `GET /:login`.
    pub async fn get_account(&self) -> Result<Account> {
        let op = "GetAccount";
        self.send(&Req::get(op, &[])).await?.json(op)
    }
}
