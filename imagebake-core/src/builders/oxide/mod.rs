//! The Oxide plugin's `oxide-instance` builder: bakes a project image from a
//! temporary instance, with the plugin's configuration keys
//! ([`OxideConfig`]) and without its bugs (silent 30 s timeouts that end in
//! a "successful" build without an image, data lost to the hard API stop,
//! a start failure waited on until the timeout, leaked disks).
//!
//! The build is this composition of [`steps::oxide`](crate::steps::oxide)
//! steps (each reported as events, each registering its undo before it
//! awaits anything else):
//!
//! 1. `source image`: `boot_disk_image_id`, or the image named
//!    `boot_disk_image_name` in the project, then the silo;
//! 2. `check image name` (unless `skip_create_image` or `-force`): the
//!    artifact's name must be free in the project, before anything is
//!    created;
//! 3. `temporary key` (communicator ssh without another login): an ed25519
//!    key uploaded to the user's SSH keys; deleted at the end of every build;
//! 4. `create instance`: boot disk from the image, an ephemeral IP, one NIC,
//!    the keys, the user data; its removal (stop, wait stopped, delete, then
//!    delete the boot disk) registered at once; an instance `stopped` in
//!    the create's answer is the start failure it is;
//! 5. `wait running`; `external ip` (ephemeral or floating, never SNAT);
//! 6. with `communicator: ssh`: `connect ssh` (host key trusted on first
//!    use, recorded in the artifact), the provisioners, then `flush`:
//!    `sync` and a clean shutdown from inside, because the API stop is a
//!    hard power-off;
//! 7. `stop instance`: a guest shut down from inside is first given
//!    `shutdown_timeout` to stop, then the API stop (a no-op by then);
//!    `wait stopped`;
//! 8. `create snapshot` of the boot disk, with `-force` (`packer_force`)
//!    `replace image` (the project's image of that name is deleted, as the
//!    plugin does), `create image` from it (both
//!    deleted if the build fails), `delete snapshot` (the image keeps its
//!    own copy);
//! 9. the cleanup removes the instance, then its disk, then the key.
//!
//! ```no_run
//! use imagebake_core::builders::Builder;
//! use imagebake_core::builders::oxide::{OxideBuilder, OxideConfig};
//! use imagebake_core::{CancellationToken, Runner, TracingObserver, provision::Shell};
//! use std::sync::Arc;
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let config = OxideConfig::from_json_str(r#"{
//!     "type": "oxide-instance",
//!     "project": "imagebake",
//!     "boot_disk_image_name": "debian-12",
//!     "ssh_username": "debian",
//!     "artifact_name": "web-{{timestamp}}"
//! }"#)?;
//! let builder = OxideBuilder::new(config)?.provisioner(Shell::inline(["sudo apt-get -y install nginx"]));
//! let runner = Runner::new().observer(Arc::new(TracingObserver));
//! let artifact = builder.run(&runner, CancellationToken::new()).await?;
//! println!("{artifact}\n{}", artifact.cleanup);
//! # Ok(())
//! # }
//! ```

mod artifact;
mod config;
mod data_source;
mod plan;
mod sweep;

pub use artifact::OxideArtifact;
pub use config::{BUILDER, KEYS, OxideConfig, REQUIRED};
pub use data_source::{DATA_SOURCE, ImageDataSource};
pub(crate) use plan::credentials;
pub use sweep::OxideSweeper;

use oxide_client::{Client, RetryPolicy};
use tokio_util::sync::CancellationToken;

use crate::builders::packer::TemplateVars;
use crate::builders::{Builder, BuilderConfig, Provisioners};
use crate::provision::Flush;
use crate::steps::common::{CommPlan, ConnectSsh};
use crate::steps::oxide::{
    CheckImageName, CreateImage, CreateInstance, CreateSnapshot, CreateTemporaryKey,
    DeleteSnapshot, ExternalAddress, Launch, OxideApi, Provisioned, ReplaceImage, SourceImage,
    StopInstance, WaitRunning, WaitStopped, Waits,
};
use crate::{BuildError, Error, Runner, Sweeper};
use plan::Plan;

/// A checked `oxide-instance` build, ready to run: its configuration, the
/// Oxide client, and the provisioners to run over SSH.
pub struct OxideBuilder {
    plan: Plan,
    api: OxideApi,
    provisioners: Provisioners,
}

impl std::fmt::Debug for OxideBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OxideBuilder")
            .field("client", &self.api.client)
            .field("project", &self.api.project)
            .field("source", &self.plan.source)
            .field("comm", &self.plan.comm)
            .field("provisioners", &self.provisioners)
            .finish_non_exhaustive()
    }
}

impl OxideBuilder {
    fn client_for(plan: &Plan) -> Result<Client, Error> {
        Client::new(plan.client.clone())
            .map_err(|e| Error::provider("builder oxide-instance: setting up the Oxide client", e))
    }

    /// Retries API calls with `policy` (the client's 429/503 retries, and
    /// the retries of stops and deletes on server errors) instead of the
    /// defaults.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Result<Self, Error> {
        self.plan.client = self.plan.client.clone().retry_policy(policy);
        self.api.client = Self::client_for(&self.plan)?;
        self.api.retry = policy;
        Ok(self)
    }

    /// The Oxide client the build uses.
    pub fn client(&self) -> &Client {
        &self.api.client
    }

    /// What the steps are given: client, project, waits, retries.
    pub fn api(&self) -> &OxideApi {
        &self.api
    }

    /// How the instance is reached.
    pub fn communicator(&self) -> &CommPlan {
        &self.plan.comm
    }

    /// The wait settings.
    pub fn waits(&self) -> Waits {
        self.plan.waits
    }
}

impl Builder for OxideBuilder {
    const TYPE: &'static str = BUILDER;
    type Config = OxideConfig;
    type Artifact = OxideArtifact;

    fn with_vars(config: Self::Config, vars: &TemplateVars) -> Result<Self, Error> {
        let plan = Plan::new(&config, vars)?;
        let client = Self::client_for(&plan)?;
        let mut api = OxideApi::new(client, plan.project.clone());
        api.waits = plan.waits;
        Ok(Self {
            plan,
            api,
            provisioners: Provisioners::default(),
        })
    }

    fn provisioners_mut(&mut self) -> &mut Provisioners {
        &mut self.provisioners
    }

    async fn run(
        &self,
        runner: &Runner,
        token: CancellationToken,
    ) -> Result<Self::Artifact, BuildError> {
        if let Some(e) = self.provisioners.refusal(BUILDER, &self.plan.comm, runner) {
            return Err(e);
        }
        let p = &self.plan;
        let a = &self.api;
        let label = format!("oxide-instance in project {}", a.project);
        let built = runner
            .run(&label, token, |cx| async move {
                if let Some(scope) = self.scope() {
                    cx.scope(scope);
                }
                let source = cx
                    .step(&SourceImage::new(a.clone(), p.source.clone()), ())
                    .await?;
                let spec = p.image.resolve(&source, cx.build_id());
                let spec = if p.skip_create_image || p.force {
                    spec
                } else {
                    cx.step(&CheckImageName::new(a.clone()), spec).await?
                };
                let key = match &p.comm {
                    CommPlan::Ssh(ssh) if ssh.uses_temporary_key() => {
                        let make = CreateTemporaryKey::new(a.clone(), p.temporary_key_name.clone());
                        Some(cx.step(&make, ()).await?)
                    }
                    _ => None,
                };
                let launch = Launch {
                    image: source.id,
                    temporary_key: key.as_ref().map(|k| k.id),
                };
                let create = CreateInstance::new(a.clone(), p.instance.clone());
                let instance = cx.step(&create, launch).await?;
                let running = cx.step(&WaitRunning::new(a.clone()), instance).await?;
                let target = cx.step(&ExternalAddress::new(a.clone()), running).await?;
                let (provisioned, host_key) = match &p.comm {
                    CommPlan::None => (Provisioned::without_communicator(target.machine), None),
                    CommPlan::Ssh(ssh) => {
                        let mut connect = ConnectSsh::new(ssh.clone());
                        if let Some(k) = &key {
                            connect = connect.temporary_key(k.key.clone());
                        }
                        // Oxide's stop cuts the power: flush and shut down inside first.
                        let flush = if ssh.is_root() {
                            Flush::sync_and_power_off()
                        } else {
                            Flush::sync_and_power_off()
                                .sync_command("sudo sync")
                                .power_off_command("sudo shutdown -h now || sudo poweroff")
                        };
                        let (instance, flushed, host_key) = (self.provisioners)
                            .run_over_ssh(&cx, &connect, target, &flush)
                            .await?;
                        (Provisioned { instance, flushed }, host_key)
                    }
                };
                let stopping = cx.step(&StopInstance::new(a.clone()), provisioned).await?;
                let stopped = cx.step(&WaitStopped::new(a.clone()), stopping).await?;
                if p.skip_create_image {
                    return Ok((None, spec, host_key));
                }
                let mut snap = cx.step(&CreateSnapshot::new(a.clone()), stopped).await?;
                if p.force {
                    let replace = ReplaceImage::new(a.clone(), spec.name.clone());
                    snap = cx.step(&replace, snap).await?;
                }
                let made = cx
                    .step(&CreateImage::new(a.clone(), spec.clone()), snap)
                    .await?;
                let image = cx.step(&DeleteSnapshot::new(a.clone()), made).await?;
                cx.artifact(
                    crate::Resource::new("image", image.id.to_string()).named(image.name.clone()),
                );
                Ok((Some(image), spec, host_key))
            })
            .await?;
        let (image, spec, host_key) = built.value;
        Ok(OxideArtifact {
            image_id: image.as_ref().map(|i| i.id),
            name: spec.name,
            version: spec.version,
            os: spec.os,
            project: a.project.clone(),
            build_id: built.build_id,
            image,
            host_key,
            cleanup: built.cleanup,
        })
    }

    fn scope(&self) -> Option<crate::journal::Scope> {
        let a = &self.api;
        Some(
            crate::journal::Scope::new(BUILDER, "oxide")
                .endpoint(a.client.host())
                .project(a.project.to_string()),
        )
    }

    fn sweeper(&self) -> Option<Box<dyn Sweeper>> {
        let sweeper = OxideSweeper::new(self.api.client.clone(), self.api.project.clone());
        Some(Box::new(sweeper))
    }
}

impl BuilderConfig for OxideConfig {
    fn from_block(block: &serde_json::Value) -> Result<Self, Error> {
        Self::from_json(block)
    }
}
