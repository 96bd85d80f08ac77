//! Network operations.

use crate::client::{Client, Req};
use crate::error::Result;
use crate::types::{Network, NetworkId};

impl Client {
    /// CloudAPI `ListNetworks`: `GET /:login/networks`.
    pub async fn list_networks(&self) -> Result<Vec<Network>> {
        let op = "ListNetworks";
        self.send(&Req::get(op, &["networks"])).await?.json(op)
    }

    /// CloudAPI `GetNetwork`: `GET /:login/networks/:id`.
    pub async fn get_network(&self, id: &NetworkId) -> Result<Network> {
        let op = "GetNetwork";
        let id = id.to_string();
        self.send(&Req::get(op, &["networks", &id])).await?.json(op)
    }
}
