//! Account operations, and the cloud's datacenters.

use std::collections::BTreeMap;

use crate::client::{Client, Req};
use crate::error::Result;
use crate::types::Account;

impl Client {
    /// CloudAPI `GetAccount`: `GET /:login`.
    pub async fn get_account(&self) -> Result<Account> {
        let op = "GetAccount";
        self.send(&Req::get(op, &[])).await?.json(op)
    }

    /// CloudAPI `ListDatacenters`: `GET /:login/datacenters`, each
    /// datacenter of the cloud by name with its CloudAPI URL.
    pub async fn list_datacenters(&self) -> Result<BTreeMap<String, String>> {
        let op = "ListDatacenters";
        self.send(&Req::get(op, &["datacenters"])).await?.json(op)
    }
}
