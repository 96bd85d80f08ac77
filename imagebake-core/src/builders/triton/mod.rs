//! Packer's `triton` builder: bakes a Triton custom image from a temporary
//! machine, with Packer's configuration keys ([`TritonConfig`]) and without
//! its leaks.
//!
//! The build is this composition of [`steps::triton`](crate::steps::triton)
//! steps (each reported as events, each registering its undo before it
//! awaits anything else):
//!
//! 1. `source image`: the UUID, or ListImages with the filter;
//! 2. `check image name` (not with `-force`): `image_name@image_version`
//!    must be free (before any machine exists);
//! 3. `create machine`: CreateMachine tagged with the build id; its delete
//!    is registered with the id straight from the answer;
//! 4. `wait running`: `failed` ends at once;
//! 5. with `communicator: ssh`: `connect ssh` (`ssh_host` or `primaryIp`;
//!    the shared [`ConnectSsh`] step, host key trusted on first use and
//!    recorded in the artifact), the provisioners, `flush` (`sync`);
//! 6. `stop machine`, `wait stopped`;
//! 7. `create image`: its delete on failure is registered at once;
//! 8. `wait image`: `failed` ends at once with the image's error;
//! 9. `delete machine`, `wait machine gone` (the machine's undo dismissed);
//! 10. `tag image`: the build tags replaced by `image_tags` and
//!     `imagebake-built-by`;
//! 11. with `-force` (`packer_force`): `replace image` deletes the
//!     account's older images of that name@version, now that the new one
//!     is active.
//!
//! Waits poll with backoff up to `poll_cap` (1 s) and stop at once on
//! cancellation; once the wait history ([`WaitHistory`](crate::WaitHistory))
//! knows how long a transition takes on this cloud for this package, they
//! poll around its expected end instead. CloudAPI calls are retried by the
//! client where safe.
//!
//! ```no_run
//! use imagebake_core::builders::Builder;
//! use imagebake_core::builders::triton::{TritonBuilder, TritonConfig};
//! use imagebake_core::{CancellationToken, Runner, TracingObserver, provision::Shell};
//! use std::sync::Arc;
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let config = TritonConfig::from_json_str(r#"{
//!     "type": "triton",
//!     "triton_account": "alice",
//!     "triton_key_id": "SHA256:29GY+6bxcBkcNNUzTnEcTdTv1W3d3PN/OxyplcYSoX4",
//!     "source_machine_package": "g4-highcpu-1G",
//!     "source_machine_image_filter": {"name": "base-64-lts", "most_recent": true},
//!     "image_name": "my-image",
//!     "image_version": "1.0.{{timestamp}}"
//! }"#)?;
//! let builder = TritonBuilder::new(config)?.provisioner(Shell::inline(["pkgin -y in nginx"]));
//! let runner = Runner::new().observer(Arc::new(TracingObserver));
//! let artifact = builder.run(&runner, CancellationToken::new()).await?;
//! println!("{artifact}\n{}", artifact.cleanup);
//! # Ok(())
//! # }
//! ```

mod artifact;
mod config;
mod plan;
mod sweep;

/// How the machine is reached (the plan every builder shares).
pub use crate::steps::common::CommPlan;
pub use artifact::TritonArtifact;
pub use config::{BUILDER, DEFAULT_URL, ImageFilter, KEYS, REQUIRED, TritonConfig};
pub use sweep::TritonSweeper;

use tokio_util::sync::CancellationToken;
use triton_client::{Client, RetryPolicy};

use crate::builders::packer::TemplateVars;
use crate::builders::{Builder, BuilderConfig, Provisioners};
use crate::provision::Flush;
use crate::steps::common::{ConnectSsh, SshTarget};
use crate::steps::triton::{
    CheckImageName, CreateImage, CreateMachine, DeleteMachine, Provisioned, ReplaceImages,
    SourceImage, StopMachine, TagImage, WaitImage, WaitMachineGone, WaitRunning, WaitStopped,
    Waits,
};
use crate::{BuildError, Error, Runner, Sweeper};
use plan::Plan;

/// A checked `triton` build, ready to run: its configuration, the CloudAPI
/// client, and the provisioners to run over SSH.
pub struct TritonBuilder {
    plan: Plan,
    client: Client,
    provisioners: Provisioners,
}

impl std::fmt::Debug for TritonBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TritonBuilder")
            .field("client", &self.client)
            .field("image", &self.plan.image)
            .field("comm", &self.plan.comm)
            .field("provisioners", &self.provisioners)
            .finish_non_exhaustive()
    }
}

impl TritonBuilder {
    fn client_for(plan: &Plan) -> Result<Client, Error> {
        let config = plan
            .client
            .clone()
            .build()
            .map_err(|e| Error::provider("builder triton: CloudAPI client configuration", e))?;
        Client::new(config)
            .map_err(|e| Error::provider("builder triton: setting up the CloudAPI client", e))
    }

    /// Retries CloudAPI calls with `policy` instead of the client's default.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Result<Self, Error> {
        self.plan.client = self.plan.client.clone().retry(policy);
        self.client = Self::client_for(&self.plan)?;
        Ok(self)
    }

    /// The CloudAPI client the build uses.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The image's name and version, templates expanded.
    pub fn image_label(&self) -> (&str, &str) {
        (&self.plan.image.name, &self.plan.image.version)
    }

    /// How the machine is reached.
    pub fn communicator(&self) -> &CommPlan {
        &self.plan.comm
    }

    /// The wait settings.
    pub fn waits(&self) -> Waits {
        self.plan.waits
    }

    /// The build's steps on `cx`, from the source image to the tagged image
    /// (what [`Builder::run`] runs in a build of its own): for a caller
    /// that runs them inside a larger build (`origin::build`), whose later
    /// steps use the image and whose failure undoes it. Check
    /// [`Provisioners::refusal`] first.
    pub(crate) async fn steps(
        &self,
        cx: &crate::StepCx,
    ) -> Result<
        (
            triton_client::types::Image,
            Option<crate::comm::ssh::HostKeyRecord>,
        ),
        Error,
    > {
        if let Some(scope) = self.scope() {
            cx.scope(scope);
        }
        let p = &self.plan;
        let c = &self.client;
        let w = p.waits;
        let source = cx
            .step(&SourceImage::new(c.clone(), p.source.clone()), ())
            .await?;
        let source = if p.force {
            source
        } else {
            let check = CheckImageName::new(c.clone(), &p.image.name, &p.image.version);
            cx.step(&check, source).await?
        };
        let create = CreateMachine::new(c.clone(), p.machine.clone(), w);
        let machine = cx.step(&create, source).await?;
        let running = cx.step(&WaitRunning::new(c.clone(), w), machine).await?;
        let (provisioned, host_key) = match &p.comm {
            CommPlan::None => (Provisioned::without_communicator(running.handle), None),
            CommPlan::Ssh(ssh) => {
                let target = SshTarget {
                    machine: running.handle,
                    address: running.machine.primary_ip,
                };
                let flush = if ssh.is_root() {
                    Flush::sync_only()
                } else {
                    Flush::sync_only().sync_command("sudo sync")
                };
                let connect = ConnectSsh::new(ssh.clone());
                let (machine, flushed, host_key) = (self.provisioners)
                    .run_over_ssh(cx, &connect, target, &flush)
                    .await?;
                (Provisioned { machine, flushed }, host_key)
            }
        };
        let stopping = cx.step(&StopMachine::new(c.clone()), provisioned).await?;
        let stopped = cx.step(&WaitStopped::new(c.clone(), w), stopping).await?;
        let creating = cx
            .step(&CreateImage::new(c.clone(), p.image.clone()), stopped)
            .await?;
        let active = cx.step(&WaitImage::new(c.clone(), w), creating).await?;
        let deleting = cx.step(&DeleteMachine::new(c.clone()), active).await?;
        let image = cx
            .step(&WaitMachineGone::new(c.clone(), w), deleting)
            .await?;
        let mut image = cx
            .step(&TagImage::new(c.clone(), p.image.tags.clone()), image)
            .await?;
        if p.force {
            image = cx.step(&ReplaceImages::new(c.clone()), image).await?;
        }
        Ok((image, host_key))
    }
}

impl Builder for TritonBuilder {
    const TYPE: &'static str = BUILDER;
    type Config = TritonConfig;
    type Artifact = TritonArtifact;

    /// Also reads the key file, if any.
    fn with_vars(config: Self::Config, vars: &TemplateVars) -> Result<Self, Error> {
        let plan = Plan::new(&config, vars)?;
        let client = Self::client_for(&plan)?;
        Ok(Self {
            plan,
            client,
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
        let label = format!(
            "triton {}@{}",
            self.plan.image.name, self.plan.image.version
        );
        let built = runner
            .run(&label, token, |cx| async move { self.steps(&cx).await })
            .await?;
        let (image, host_key) = built.value;
        Ok(TritonArtifact {
            image_id: image.id,
            name: image.name.clone(),
            version: image.version.clone(),
            build_id: built.build_id,
            image,
            host_key,
            cleanup: built.cleanup,
            access: self.plan.client.clone().build().ok(),
        })
    }

    fn scope(&self) -> Option<crate::journal::Scope> {
        let c = &self.client;
        Some(
            crate::journal::Scope::new(BUILDER, "triton")
                .endpoint(c.url().as_str())
                .account(c.account()),
        )
    }

    fn sweeper(&self) -> Option<Box<dyn Sweeper>> {
        let w = self.plan.waits;
        let sweeper = TritonSweeper::new(self.client.clone()).waits(w.state_timeout, w.poll_cap);
        Some(Box::new(sweeper))
    }
}

impl BuilderConfig for TritonConfig {
    fn from_block(block: &serde_json::Value) -> Result<Self, Error> {
        Self::from_json(block)
    }
}
