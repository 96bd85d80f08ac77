use std::borrow::Cow;

use async_trait::async_trait;
use oxide_client::{
    Instance, InstanceAutoRestartPolicy, InstanceCreate, InstanceState, NameOrId, PoolSelector,
    PrivateIpStackCreate,
};
use uuid::Uuid;

use super::{
    InstanceHandle, OxideApi, api, create_or_adopt, description, found, made_by, remove_disk,
    remove_instance,
};
use crate::{BuildId, Cleanup, Create, Error, Resource, Step, StepCx};

/// What instance to create (the `oxide-instance` keys).
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceSpec {
    /// Name of the instance, its boot disk and its NIC; `None` for the build id.
    pub name: Option<String>,
    /// Hostname; `None` for the name.
    pub hostname: Option<String>,
    /// vCPUs.
    pub ncpus: u16,
    /// Memory in bytes.
    pub memory: u64,
    /// Boot disk size in bytes.
    pub boot_disk_size: u64,
    /// The pool of the ephemeral IP; `None` for the silo's default.
    pub ip_pool: Option<NameOrId>,
    /// VPC of the NIC.
    pub vpc: String,
    /// Subnet of the NIC.
    pub subnet: String,
    /// The user's saved SSH keys to inject too.
    pub ssh_public_keys: Vec<NameOrId>,
    /// User data (sent base64-encoded; at most 32 KiB).
    pub user_data: Vec<u8>,
}

impl Default for InstanceSpec {
    fn default() -> Self {
        Self {
            name: None,
            hostname: None,
            ncpus: 1,
            memory: 2 << 30,
            boot_disk_size: 20 << 30,
            ip_pool: None,
            vpc: "default".into(),
            subnet: "default".into(),
            ssh_public_keys: Vec::new(),
            user_data: Vec::new(),
        }
    }
}

impl InstanceSpec {
    /// Its size class, the key of its waits' history: `2cpu-1024MiB-10240MiB`
    /// (vCPUs, memory, boot disk).
    pub fn size_class(&self) -> String {
        let mib = |b: u64| b >> 20;
        format!(
            "{}cpu-{}MiB-{}MiB",
            self.ncpus,
            mib(self.memory),
            mib(self.boot_disk_size)
        )
    }

    /// The instance's name in build `build_id`.
    pub fn name_for(&self, build_id: &str) -> String {
        self.name.clone().unwrap_or_else(|| build_id.to_owned())
    }

    /// The request body for an instance named `name` booting `image`, with
    /// `temporary_key` (if any) before the user's keys.
    pub fn body(
        &self,
        name: &str,
        image: Uuid,
        temporary_key: Option<Uuid>,
        description: &str,
    ) -> InstanceCreate {
        let hostname = self.hostname.clone().unwrap_or_else(|| name.to_owned());
        let selector = match &self.ip_pool {
            None => PoolSelector::Auto { ip_version: None },
            Some(p) => PoolSelector::Explicit { pool: p.clone() },
        };
        let keys = temporary_key
            .map(NameOrId::Id)
            .into_iter()
            .chain(self.ssh_public_keys.iter().cloned());
        InstanceCreate::new(name, hostname, self.ncpus, self.memory)
            .description(description)
            .boot_disk_from_image(name, image, self.boot_disk_size)
            .ephemeral_ip(selector)
            .network_interface(
                name,
                self.vpc.clone(),
                self.subnet.clone(),
                Some(PrivateIpStackCreate::v4_auto()),
            )
            .ssh_public_keys(keys)
            .user_data(self.user_data.clone())
            .auto_restart_policy(InstanceAutoRestartPolicy::Never)
    }
}

/// What to boot: the source image and the temporary key to inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Launch {
    /// The boot disk's image.
    pub image: Uuid,
    /// The temporary key's id, if the build made one.
    pub temporary_key: Option<Uuid>,
}

/// `instance_create` in the project: a boot disk made from the image, one
/// ephemeral external IP, one NIC, explicit `ssh_public_keys`, the user
/// data; the build id in its description.
///
/// The instance is the build's from the moment the request is sent
/// ([`StepCx::create`]): a Ctrl-C before the answer looks it up by its
/// (unique) name and build id and removes it with its boot disk, and keeps
/// waiting for the answer. The undos (stop, wait stopped, delete the
/// instance; then delete its boot disk) are registered with the ids
/// straight from the answer, so an instance that never starts is still
/// removed. When the answer is lost, the instance is looked up by name and
/// adopted. The rack
/// starts the instance inside the create and still answers 201 when that
/// start fails, leaving it `stopped`: that is reported as the start failure
/// it is, not waited on.
#[derive(Debug, Clone)]
pub struct CreateInstance {
    api: OxideApi,
    spec: InstanceSpec,
}

impl CreateInstance {
    /// Creates an instance as `spec` says.
    pub fn new(api: OxideApi, spec: InstanceSpec) -> Self {
        Self { api, spec }
    }
}

#[async_trait]
impl Step<Launch> for CreateInstance {
    type Out = InstanceHandle;

    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed("create instance")
    }

    async fn run(&self, cx: &StepCx, launch: Launch) -> Result<InstanceHandle, Error> {
        cx.check_cancelled()?;
        let build = cx.build_id().clone();
        let name = self.spec.name_for(build.as_str());
        let body = self.spec.body(
            &name,
            launch.image,
            launch.temporary_key,
            &description(&build),
        );
        let a = self.api.clone();
        let (n, b) = (name.clone(), build.clone());
        let find = move || {
            let (a, n, b) = (a.clone(), n.clone(), b.clone());
            async move {
                let p = &a.project;
                find_instance(&a, &n, &b)
                    .await
                    .map_err(|e| api(format!("looking up instance {n} in project {p}"), e))
            }
        };
        let a = self.api.clone();
        let undo = move |i: &Instance| {
            let (a, id) = (a.clone(), i.id);
            Cleanup::always(
                Resource::new("instance", id.to_string()).named(i.name.clone()),
                move |u| async move {
                    remove_instance(&a, id, u.timeout(), u.token())
                        .await
                        .map(drop)
                },
            )
        };
        // Registered before the instance's undo, so that it runs after it.
        let a = self.api.clone();
        let disk = move |i: &Instance| {
            let a = a.clone();
            let name = i.name.clone();
            i.boot_disk_id
                .map(|disk| {
                    Cleanup::always(
                        Resource::new("disk", disk.to_string()).named(name),
                        move |u| async move {
                            remove_disk(&a, disk, u.timeout(), u.token())
                                .await
                                .map(drop)
                        },
                    )
                })
                .into_iter()
                .collect()
        };
        let (a, n) = (self.api.clone(), name.clone());
        let send = async move {
            let (c, p) = (&a.client, &a.project);
            create_or_adopt(
                || c.instance_create(p, &body),
                || find_instance(&a, &n, &build),
            )
            .await
            .map_err(|e| api(format!("creating instance {n} in project {p}"), e))
        };
        let create = Create::new("instance", Some(name.clone()), find, undo).also(disk);
        let made = cx.create(create, send).await?;
        let (instance, undo) = (made.value, made.undo);
        let id = instance.id;
        tracing::info!(instance = %id, %name, state = instance.run_state.as_str(), "instance created");
        let handle = InstanceHandle {
            id,
            name,
            boot_disk: instance.boot_disk_id,
            undo,
            size: self.spec.size_class(),
        };
        if instance.run_state == InstanceState::Stopped {
            return Err(Error::Failed {
                what: format!("instance {} ({id})", handle.name),
                state: "stopped right after create: the rack could not start it (start \
                        failure; instance_create still answers 201)"
                    .to_owned(),
            });
        }
        cx.check_cancelled()?;
        Ok(handle)
    }
}

/// This build's instance named `name`, if there is one.
async fn find_instance(
    a: &OxideApi,
    name: &str,
    build: &BuildId,
) -> Result<Option<Instance>, oxide_client::Error> {
    let i = found(
        a.client
            .instance_view(NameOrId::Name(name.to_owned()), Some(&a.project))
            .await,
    )?;
    Ok(i.filter(|i| made_by(&i.description, build)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_has_the_plugin_shape() {
        let spec = InstanceSpec {
            ssh_public_keys: vec![NameOrId::from("mine")],
            user_data: b"#cloud-config\n".to_vec(),
            ..InstanceSpec::default()
        };
        let key = Uuid::nil();
        let b = spec.body("ib-abc", Uuid::nil(), Some(key), "d");
        let v = serde_json::to_value(&b).unwrap();
        assert_eq!(v["hostname"], "ib-abc");
        assert_eq!(v["ncpus"], 1);
        assert_eq!(v["memory"], 2u64 << 30);
        assert_eq!(v["boot_disk"]["size"], 20u64 << 30);
        assert_eq!(
            v["boot_disk"]["disk_backend"]["disk_source"]["type"],
            "image"
        );
        assert_eq!(v["external_ips"][0]["pool_selector"]["type"], "auto");
        assert_eq!(v["network_interfaces"]["params"][0]["vpc_name"], "default");
        assert_eq!(
            v["ssh_public_keys"],
            serde_json::json!([key.to_string(), "mine"])
        );
        assert_eq!(v["user_data"], "I2Nsb3VkLWNvbmZpZwo=");
        assert_eq!(v["auto_restart_policy"], "never");
    }
}
