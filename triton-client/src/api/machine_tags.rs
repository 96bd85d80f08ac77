//! Machine tag operations.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::client::{Client, Reply, Req};
use crate::error::Result;
use crate::types::MachineId;

impl Client {
    /// CloudAPI `ListMachineTags`: `GET /:login/machines/:id/tags`.
    pub async fn list_machine_tags(&self, id: &MachineId) -> Result<BTreeMap<String, Value>> {
        let op = "ListMachineTags";
        let id = id.to_string();
        self.send(&Req::get(op, &["machines", &id, "tags"]))
            .await?
            .json(op)
    }

    /// CloudAPI `AddMachineTags`: `POST /:login/machines/:id/tags`; returns
    /// all tags afterwards.
    pub async fn add_machine_tags(
        &self,
        id: &MachineId,
        tags: &BTreeMap<String, Value>,
    ) -> Result<BTreeMap<String, Value>> {
        self.write_tags("AddMachineTags", Req::post, id, tags).await
    }

    /// CloudAPI `ReplaceMachineTags`: `PUT /:login/machines/:id/tags`;
    /// returns all tags afterwards.
    pub async fn replace_machine_tags(
        &self,
        id: &MachineId,
        tags: &BTreeMap<String, Value>,
    ) -> Result<BTreeMap<String, Value>> {
        self.write_tags("ReplaceMachineTags", Req::put, id, tags)
            .await
    }

    async fn write_tags(
        &self,
        op: &'static str,
        method: fn(&'static str, &[&str]) -> Req,
        id: &MachineId,
        tags: &BTreeMap<String, Value>,
    ) -> Result<BTreeMap<String, Value>> {
        let id = id.to_string();
        let body = Value::Object(tags.clone().into_iter().collect());
        self.send(&method(op, &["machines", &id, "tags"]).json(body))
            .await?
            .json(op)
    }

    /// CloudAPI `GetMachineTag`: `GET /:login/machines/:id/tags/:tag`; the
    /// value as text.
    pub async fn get_machine_tag(&self, id: &MachineId, tag: &str) -> Result<String> {
        let id = id.to_string();
        let reply = self
            .send(&Req::get("GetMachineTag", &["machines", &id, "tags", tag]))
            .await?;
        Ok(text_value(&reply))
    }

    /// CloudAPI `DeleteMachineTag`: `DELETE /:login/machines/:id/tags/:tag`.
    pub async fn delete_machine_tag(&self, id: &MachineId, tag: &str) -> Result<()> {
        let id = id.to_string();
        self.send(&Req::delete(
            "DeleteMachineTag",
            &["machines", &id, "tags", tag],
        ))
        .await?;
        Ok(())
    }

    /// CloudAPI `DeleteMachineTags`: `DELETE /:login/machines/:id/tags`.
    pub async fn delete_machine_tags(&self, id: &MachineId) -> Result<()> {
        let id = id.to_string();
        self.send(&Req::delete(
            "DeleteMachineTags",
            &["machines", &id, "tags"],
        ))
        .await?;
        Ok(())
    }
}

/// A single tag or metadata value: a JSON string's content, other JSON as
/// its text, or the raw body when it is not JSON.
pub(crate) fn text_value(reply: &Reply) -> String {
    match serde_json::from_slice::<Value>(&reply.body) {
        Ok(Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::from_utf8_lossy(&reply.body).into_owned(),
    }
}
