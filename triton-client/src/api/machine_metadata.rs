//! Machine metadata operations.

use std::collections::BTreeMap;

use serde_json::Value;

use super::machine_tags::text_value;
use crate::client::{Client, Req};
use crate::error::Result;
use crate::types::MachineId;

#[derive(serde::Deserialize)]
#[serde(transparent)]
struct StringMap(
    #[serde(deserialize_with = "crate::types::string_map_deserialize")] BTreeMap<String, String>,
);

impl Client {
    /// CloudAPI `ListMachineMetadata`: `GET /:login/machines/:id/metadata`.
    pub async fn list_machine_metadata(&self, id: &MachineId) -> Result<BTreeMap<String, String>> {
        let op = "ListMachineMetadata";
        let id = id.to_string();
        let m: StringMap = self
            .send(&Req::get(op, &["machines", &id, "metadata"]))
            .await?
            .json(op)?;
        Ok(m.0)
    }

    /// CloudAPI `AddMachineMetadata`: `POST /:login/machines/:id/metadata`
    /// (adds or replaces the given keys); returns all metadata afterwards.
    pub async fn add_machine_metadata(
        &self,
        id: &MachineId,
        metadata: &BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, String>> {
        let op = "AddMachineMetadata";
        let id = id.to_string();
        let body = Value::Object(
            metadata
                .iter()
                .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
                .collect(),
        );
        let m: StringMap = self
            .send(&Req::post(op, &["machines", &id, "metadata"]).json(body))
            .await?
            .json(op)?;
        Ok(m.0)
    }

    /// CloudAPI `GetMachineMetadata`: `GET /:login/machines/:id/metadata/:key`.
    pub async fn get_machine_metadata(&self, id: &MachineId, key: &str) -> Result<String> {
        let id = id.to_string();
        let reply = self
            .send(&Req::get(
                "GetMachineMetadata",
                &["machines", &id, "metadata", key],
            ))
            .await?;
        Ok(text_value(&reply))
    }

    /// CloudAPI `DeleteMachineMetadata`: `DELETE /:login/machines/:id/metadata/:key`.
    pub async fn delete_machine_metadata(&self, id: &MachineId, key: &str) -> Result<()> {
        let id = id.to_string();
        let req = Req::delete("DeleteMachineMetadata", &["machines", &id, "metadata", key]);
        self.send(&req).await?;
        Ok(())
    }

    /// CloudAPI `DeleteAllMachineMetadata`: `DELETE /:login/machines/:id/metadata`.
    pub async fn delete_all_machine_metadata(&self, id: &MachineId) -> Result<()> {
        let id = id.to_string();
        let req = Req::delete("DeleteAllMachineMetadata", &["machines", &id, "metadata"]);
        self.send(&req).await?;
        Ok(())
    }
}
