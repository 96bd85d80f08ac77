//! Machine (instance) models, filters and the create request.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{ImageId, MachineId, NameOrId, NetworkId};

/// Machine state as CloudAPI translates it from VMAPI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MachineState {
    /// Being created.
    Provisioning,
    /// Seen during a reboot.
    Ready,
    /// Running.
    Running,
    /// Shutting down.
    Stopping,
    /// Stopped.
    Stopped,
    /// Its compute node is unreachable.
    Offline,
    /// Destroyed (GetMachine answers 410 Gone).
    Deleted,
    /// Provisioning failed.
    Failed,
    /// CloudAPI's own `unknown`, or a state this client does not know.
    #[serde(other)]
    Unknown,
}

impl MachineState {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            MachineState::Provisioning => "provisioning",
            MachineState::Ready => "ready",
            MachineState::Running => "running",
            MachineState::Stopping => "stopping",
            MachineState::Stopped => "stopped",
            MachineState::Offline => "offline",
            MachineState::Deleted => "deleted",
            MachineState::Failed => "failed",
            MachineState::Unknown => "unknown",
        }
    }
}

impl fmt::Display for MachineState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// One finished job on a machine (CloudAPI `MachineAudit`), e.g. `provision`,
/// `start`, `stop`, `reboot`, `rename`, `destroy`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AuditEntry {
    /// What the job did.
    pub action: String,
    /// Whether it succeeded (the wire's `"yes"`/`"no"`).
    #[serde(with = "yes_no")]
    pub success: bool,
    /// When it finished (ISO 8601).
    pub time: String,
    /// Who asked: `{type, ip, keyId}` for a signed request, `{type:
    /// "operator"}` for an operator's job.
    #[serde(default)]
    pub caller: Value,
    /// The request's parameters, when CloudAPI recorded them.
    #[serde(default)]
    pub parameters: Option<Value>,
}

/// CloudAPI's `success: "yes" | "no"` as a bool.
mod yes_no {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(v: &bool, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(if *v { "yes" } else { "no" })
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
        Ok(String::deserialize(d)? == "yes")
    }
}

/// A machine (CloudAPI `GetMachine`, `ListMachines`, `CreateMachine`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct Machine {
    /// Machine UUID.
    pub id: MachineId,
    /// Name.
    #[serde(default)]
    pub name: String,
    /// `smartmachine` or `virtualmachine`.
    #[serde(default, rename = "type")]
    pub machine_type: Option<String>,
    /// Brand (`joyent`, `lx`, `bhyve`, `kvm`).
    #[serde(default)]
    pub brand: Option<String>,
    /// State.
    pub state: MachineState,
    /// Image UUID.
    #[serde(default)]
    pub image: Option<ImageId>,
    /// Package name.
    #[serde(default)]
    pub package: Option<String>,
    /// Memory in MiB.
    #[serde(default)]
    pub memory: Option<u64>,
    /// Disk in MiB.
    #[serde(default)]
    pub disk: Option<u64>,
    /// Metadata (string values).
    #[serde(default, deserialize_with = "super::string_map::deserialize")]
    pub metadata: BTreeMap<String, String>,
    /// Tags.
    #[serde(default)]
    pub tags: BTreeMap<String, Value>,
    /// Creation time (ISO 8601).
    #[serde(default)]
    pub created: Option<String>,
    /// Last update time (ISO 8601).
    #[serde(default)]
    pub updated: Option<String>,
    /// IP addresses (filled once running).
    #[serde(default)]
    pub ips: Vec<String>,
    /// Primary IP address (filled once running).
    #[serde(default, rename = "primaryIp")]
    pub primary_ip: Option<String>,
    /// Networks the machine is on.
    #[serde(default)]
    pub networks: Vec<NetworkId>,
    /// Whether the firewall is on.
    #[serde(default)]
    pub firewall_enabled: Option<bool>,
    /// Compute node UUID.
    #[serde(default)]
    pub compute_node: Option<String>,
}

/// What CloudAPI `GetMachine` found.
#[derive(Debug, Clone, PartialEq)]
pub enum MachineLookup {
    /// The machine exists.
    Found(Machine),
    /// The machine was deleted (410 Gone, with its last known body).
    Gone(Machine),
}

impl MachineLookup {
    /// The machine, found or gone.
    pub fn machine(&self) -> &Machine {
        match self {
            MachineLookup::Found(m) | MachineLookup::Gone(m) => m,
        }
    }

    /// The machine, found or gone.
    pub fn into_machine(self) -> Machine {
        match self {
            MachineLookup::Found(m) | MachineLookup::Gone(m) => m,
        }
    }

    /// Whether the machine was deleted.
    pub fn is_gone(&self) -> bool {
        matches!(self, MachineLookup::Gone(_))
    }
}

/// Body of CloudAPI `CreateMachine`.
///
/// Give it a `name` or a tag unique to this request (a build id): if the
/// outcome of a create is unknown (timeout, dropped connection, 5xx), the
/// client looks the machine up by name, tags and image before trying again,
/// so a retry never makes a second machine.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateMachine {
    pub(crate) name: Option<String>,
    pub(crate) package: NameOrId,
    pub(crate) image: ImageId,
    pub(crate) networks: Vec<NetworkId>,
    pub(crate) metadata: BTreeMap<String, String>,
    pub(crate) tags: BTreeMap<String, Value>,
    pub(crate) firewall_enabled: Option<bool>,
    pub(crate) locality: Option<Value>,
}

impl CreateMachine {
    /// A machine of `image` with `package` (UUID or name).
    pub fn new(image: ImageId, package: impl Into<NameOrId>) -> Self {
        Self {
            name: None,
            package: package.into(),
            image,
            networks: Vec::new(),
            metadata: BTreeMap::new(),
            tags: BTreeMap::new(),
            firewall_enabled: None,
            locality: None,
        }
    }
    /// Machine name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
    /// Adds a network.
    pub fn network(mut self, network: NetworkId) -> Self {
        self.networks.push(network);
        self
    }
    /// Adds a metadata key (`metadata.KEY`; `user-script` runs at boot).
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }
    /// Adds a tag (`tag.KEY`).
    pub fn tag(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.tags.insert(key.into(), value.into());
        self
    }
    /// Turns the firewall on or off.
    pub fn firewall_enabled(mut self, on: bool) -> Self {
        self.firewall_enabled = Some(on);
        self
    }
    /// Locality hints (deprecated by CloudAPI in favour of affinity), e.g.
    /// `{"strict": false, "far": ["<uuid>"]}`.
    pub fn locality(mut self, locality: Value) -> Self {
        self.locality = Some(locality);
        self
    }

    /// The JSON body: `metadata.K` and `tag.K` flattened to top-level keys.
    pub(crate) fn body(&self) -> Value {
        let mut m = Map::new();
        if let Some(n) = &self.name {
            m.insert("name".into(), n.clone().into());
        }
        m.insert("package".into(), self.package.to_string().into());
        m.insert("image".into(), self.image.to_string().into());
        if !self.networks.is_empty() {
            let nets = self.networks.iter().map(|n| Value::from(n.to_string()));
            m.insert("networks".into(), Value::Array(nets.collect()));
        }
        for (k, v) in &self.metadata {
            m.insert(format!("metadata.{k}"), v.clone().into());
        }
        for (k, v) in &self.tags {
            m.insert(format!("tag.{k}"), v.clone());
        }
        if let Some(f) = self.firewall_enabled {
            m.insert("firewall_enabled".into(), f.into());
        }
        if let Some(l) = &self.locality {
            m.insert("locality".into(), l.clone());
        }
        Value::Object(m)
    }

    /// Whether a machine made by this request can be found again.
    pub(crate) fn is_identifiable(&self) -> bool {
        self.name.is_some() || !self.tags.is_empty()
    }

    /// The ListMachines filter that finds a machine made by this request.
    pub(crate) fn lookup(&self) -> ListMachines {
        let mut l = ListMachines::new().image(self.image);
        if let Some(n) = &self.name {
            l = l.name(n.clone());
        }
        for (k, v) in &self.tags {
            let v = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            l = l.tag(k.clone(), v);
        }
        l
    }
}

/// Filters and paging for CloudAPI `ListMachines`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListMachines {
    name: Option<String>,
    state: Option<MachineState>,
    image: Option<ImageId>,
    tags: BTreeMap<String, String>,
    pub(crate) limit: Option<u32>,
    pub(crate) offset: Option<u32>,
}

impl ListMachines {
    /// Every machine (first page of up to 1000).
    pub fn new() -> Self {
        Self::default()
    }
    /// Only machines with this name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
    /// Only machines in this state.
    pub fn state(mut self, state: MachineState) -> Self {
        self.state = Some(state);
        self
    }
    /// Only machines of this image.
    pub fn image(mut self, image: ImageId) -> Self {
        self.image = Some(image);
        self
    }
    /// Only machines with tag `key` = `value` (`tag.KEY=VALUE`).
    pub fn tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.tags.insert(key.into(), value.into());
        self
    }
    /// At most this many machines per page (CloudAPI's maximum is 1000).
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }
    /// Skip this many machines.
    pub fn offset(mut self, offset: u32) -> Self {
        self.offset = Some(offset);
        self
    }

    pub(crate) fn query(&self) -> Vec<(String, String)> {
        let mut q = Vec::new();
        if let Some(n) = &self.name {
            q.push(("name".into(), n.clone()));
        }
        if let Some(s) = self.state {
            q.push(("state".into(), s.as_str().into()));
        }
        if let Some(i) = self.image {
            q.push(("image".into(), i.to_string()));
        }
        for (k, v) in &self.tags {
            q.push((format!("tag.{k}"), v.clone()));
        }
        if let Some(l) = self.limit {
            q.push(("limit".into(), l.to_string()));
        }
        if let Some(o) = self.offset {
            q.push(("offset".into(), o.to_string()));
        }
        q
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn create_body_flattens_metadata_and_tags() {
        let img = ImageId(Uuid::nil());
        let req = CreateMachine::new(img, "g1.small")
            .name("vm")
            .metadata("user-script", "echo hi")
            .tag("build", "b1")
            .tag("n", 3)
            .firewall_enabled(true);
        let body = req.body();
        assert_eq!(body["metadata.user-script"], "echo hi");
        assert_eq!(body["tag.build"], "b1");
        assert_eq!(body["tag.n"], 3);
        assert_eq!(body["package"], "g1.small");
        assert_eq!(body["firewall_enabled"], true);
        let q = req.lookup().query();
        assert!(q.contains(&("tag.n".into(), "3".into())));
        assert!(q.contains(&("name".into(), "vm".into())));
    }

    #[test]
    fn unknown_state_is_tolerated() {
        let m: Machine = serde_json::from_value(serde_json::json!({
            "id": "00000000-0000-0000-0000-000000000001", "state": "hibernating",
            "metadata": {"a": "b", "n": 1}
        }))
        .unwrap();
        assert_eq!(m.state, MachineState::Unknown);
        assert_eq!(m.metadata["n"], "1");
    }
}
