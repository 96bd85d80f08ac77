use reqwest::Method;

use super::instances::instance_request;
use crate::client::Client;
use crate::error::Result;
use crate::types::{InstanceSerialConsoleData, NameOrId, SerialConsoleRead};

impl Client {
    /// `instance_serial_console`: `GET /v1/instances/{instance}/serial-console`,
    /// reading buffered console output (useful when a boot goes wrong).
    pub async fn instance_serial_console(
        &self,
        instance: impl Into<NameOrId>,
        project: Option<&NameOrId>,
        read: SerialConsoleRead,
        max_bytes: Option<u64>,
    ) -> Result<InstanceSerialConsoleData> {
        let mut req = instance_request(
            "instance_serial_console",
            Method::GET,
            &instance.into(),
            project,
            "/serial-console",
        )?
        .query_opt("max_bytes", max_bytes);
        req = match read {
            SerialConsoleRead::FromStart(n) => req.query("from_start", n),
            SerialConsoleRead::MostRecent(n) => req.query("most_recent", n),
        };
        self.json(&req).await
    }
}
