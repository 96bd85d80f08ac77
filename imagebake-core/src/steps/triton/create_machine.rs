use std::borrow::Cow;
use std::collections::BTreeMap;

use async_trait::async_trait;
use triton_client::Client;
use triton_client::types::{
    CreateMachine as CreateMachineRequest, ImageId, ListMachines, Machine, NetworkId,
};

use super::{BUILD_TAG, CREATED_TAG, MachineHandle, Waits, api, now_secs, remove_machine};
use crate::{Cleanup, Create, Error, Resource, Step, StepCx};

/// What machine to create (Packer's `source_machine_*` keys).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MachineSpec {
    /// Its name; `None` for `<build id>-<suffix>`.
    pub name: Option<String>,
    /// What the default name ends with (the image name).
    pub default_name_suffix: String,
    /// Package, name or UUID.
    pub package: String,
    /// Networks (CloudAPI's defaults when empty).
    pub networks: Vec<NetworkId>,
    /// Metadata.
    pub metadata: BTreeMap<String, String>,
    /// Tags (the build tags are added).
    pub tags: BTreeMap<String, String>,
    /// Whether the firewall is on.
    pub firewall_enabled: bool,
}

/// The longest machine name the default produces.
const MAX_DEFAULT_NAME: usize = 63;

impl MachineSpec {
    /// The machine's name for build `build_id`: the given one, or
    /// `<build id>-<suffix>` with characters other than letters, digits,
    /// `_`, `.` and `-` replaced by `-`, at most 63 characters.
    pub fn name_for(&self, build_id: &str) -> String {
        if let Some(n) = &self.name {
            return n.clone();
        }
        let suffix: String = self
            .default_name_suffix
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        let mut name = if suffix.is_empty() {
            build_id.to_owned()
        } else {
            format!("{build_id}-{suffix}")
        };
        name.truncate(MAX_DEFAULT_NAME);
        name.trim_end_matches(['-', '.', '_']).to_owned()
    }
}

/// CloudAPI `CreateMachine` from the source image, tagged with the build id.
/// The machine is the build's from the moment the request is sent
/// ([`StepCx::create`]): a Ctrl-C before the answer finds it by its build
/// tag (ListMachines) and deletes it, and keeps waiting for the answer. The
/// undo (delete, wait until gone) holds the machine id from the moment the
/// create answers, so a machine that never reaches `running` is still
/// deleted.
#[derive(Debug, Clone)]
pub struct CreateMachine {
    client: Client,
    spec: MachineSpec,
    waits: Waits,
}

impl CreateMachine {
    /// Creates a machine as `spec` says; its undo waits with `waits`.
    pub fn new(client: Client, spec: MachineSpec, waits: Waits) -> Self {
        Self {
            client,
            spec,
            waits,
        }
    }
}

#[async_trait]
impl Step<ImageId> for CreateMachine {
    type Out = MachineHandle;

    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed("create machine")
    }

    async fn run(&self, cx: &StepCx, image: ImageId) -> Result<MachineHandle, Error> {
        cx.check_cancelled()?;
        let s = &self.spec;
        let name = s.name_for(cx.build_id().as_str());
        let mut req = CreateMachineRequest::new(image, s.package.as_str())
            .name(name.clone())
            .firewall_enabled(s.firewall_enabled);
        for n in &s.networks {
            req = req.network(*n);
        }
        for (k, v) in &s.metadata {
            req = req.metadata(k.clone(), v.clone());
        }
        for (k, v) in &s.tags {
            req = req.tag(k.clone(), v.clone());
        }
        req = req
            .tag(BUILD_TAG, cx.build_id().as_str())
            .tag(CREATED_TAG, now_secs().to_string());
        let client = self.client.clone();
        let build = cx.build_id().to_string();
        let find = move || {
            let (client, build) = (client.clone(), build.clone());
            async move {
                client
                    .list_machines(&ListMachines::new().tag(BUILD_TAG, build))
                    .await
                    .map_err(|e| api("looking up the build's machine", e))
            }
        };
        let (client, cap) = (self.client.clone(), self.waits.poll_cap);
        let undo = move |m: &Machine| {
            let (client, id) = (client.clone(), m.id);
            Cleanup::always(
                Resource::new("machine", id.to_string()).named(m.name.clone()),
                move |ucx| async move {
                    remove_machine(&client, &id, ucx.timeout(), cap, ucx.token()).await
                },
            )
        };
        let (client, label) = (self.client.clone(), name.clone());
        let send = async move {
            client
                .create_machine(&req)
                .await
                .map_err(|e| api(format!("creating machine {label}"), e))
        };
        let made = cx
            .create(Create::new("machine", Some(name.clone()), find, undo), send)
            .await?;
        let (id, undo) = (made.value.id, made.undo);
        tracing::info!(machine = %id, %name, "machine created");
        let handle = MachineHandle {
            id,
            name,
            undo,
            package: s.package.clone(),
        };
        cx.check_cancelled()?;
        Ok(handle)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_name_has_build_id_and_safe_characters() {
        let spec = MachineSpec {
            default_name_suffix: "my image/v1 ü".into(),
            ..MachineSpec::default()
        };
        assert_eq!(spec.name_for("ib-abc"), "ib-abc-my-image-v1");
        let long = MachineSpec {
            default_name_suffix: "x".repeat(100),
            ..MachineSpec::default()
        };
        assert_eq!(long.name_for("ib-abc").len(), 63);
        let given = MachineSpec {
            name: Some("builder".into()),
            ..MachineSpec::default()
        };
        assert_eq!(given.name_for("ib-abc"), "builder");
    }
}
