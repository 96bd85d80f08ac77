//! SSH key operations.

use crate::client::{Client, Req};
use crate::error::Result;
use crate::types::SshKey;

impl Client {
    /// CloudAPI `ListKeys`: `GET /:login/keys`.
    pub async fn list_keys(&self) -> Result<Vec<SshKey>> {
        let op = "ListKeys";
        self.send(&Req::get(op, &["keys"])).await?.json(op)
    }

    /// CloudAPI `GetKey`: `GET /:login/keys/:key`, by key name or MD5
    /// fingerprint.
    pub async fn get_key(&self, name_or_fingerprint: &str) -> Result<SshKey> {
        let op = "GetKey";
        self.send(&Req::get(op, &["keys", name_or_fingerprint]))
            .await?
            .json(op)
    }
}
