//! The [`Builder`] trait every builder implements (Packer's
//! `packersdk.Builder`: configuration → steps → artifact), and the
//! [`Provisioners`] a builder runs on its communicator.

use std::fmt;
use std::future::Future;

use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::artifact::Artifact;
use super::packer::{TemplateVars, config_error};
use crate::comm::ssh::HostKeyRecord;
use crate::provision::{Flush, Flushed};
use crate::steps::common::{CommPlan, ConnectSsh, SshTarget};
use crate::{BuildError, CleanupReport, Comm, Error, Runner, Step, StepCx, Sweeper};

/// A provisioner: a step on the communicator (built from a template's
/// `provisioners`, or given in Rust).
pub type Provisioner = Box<dyn Step<Comm, Out = Comm>>;

/// The provisioners of a build, run in order on its communicator.
#[derive(Default)]
pub struct Provisioners(Vec<Provisioner>);

impl Provisioners {
    /// Adds one at the end.
    pub fn push(&mut self, step: Provisioner) {
        self.0.push(step);
    }

    /// Adds these at the end.
    pub fn extend(&mut self, steps: impl IntoIterator<Item = Provisioner>) {
        self.0.extend(steps);
    }

    /// How many there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The steps, in order.
    pub fn steps(&self) -> &[Provisioner] {
        &self.0
    }

    /// Runs them in order on `comm` (each reported as a step).
    pub async fn run(&self, cx: &StepCx, comm: Comm) -> Result<Comm, Error> {
        cx.steps(&self.0, comm).await
    }

    /// Connects to `target` over SSH with `connect`, runs the provisioners
    /// there, then `flush`: the machine handle, the flush proof and the host
    /// key trusted on first use.
    pub async fn run_over_ssh<T: Send + 'static>(
        &self,
        cx: &StepCx,
        connect: &ConnectSsh,
        target: SshTarget<T>,
        flush: &Flush,
    ) -> Result<(T, Flushed, Option<HostKeyRecord>), Error> {
        let connected = cx.step(connect, target).await?;
        let comm = self.run(cx, connected.comm).await?;
        let flushed = cx.step(flush, comm).await?;
        Ok((connected.machine, flushed, connected.host_key))
    }

    /// The error that ends a build at once, before any step, when there
    /// are provisioners but `communicator` is `none` (nothing could run
    /// them); `builder` names the builder in it.
    pub fn refusal(&self, builder: &str, comm: &CommPlan, runner: &Runner) -> Option<BuildError> {
        (matches!(comm, CommPlan::None) && !self.is_empty()).then(|| BuildError {
            build_id: runner.id().clone(),
            step: None,
            cause: config_error(
                builder,
                "provisioners need a communicator, but `communicator` is \"none\"",
            ),
            cleanup: CleanupReport::default(),
        })
    }
}

impl fmt::Debug for Provisioners {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<_> = self.0.iter().map(|s| s.name()).collect();
        f.debug_tuple("Provisioners").field(&names).finish()
    }
}

/// A builder's configuration, decoded from a builder block.
pub trait BuilderConfig: Sized {
    /// Decodes a builder block: `type` (when present, already matched) and
    /// `name` are accepted; any other unknown key, a missing required key
    /// or a value of the wrong type is an error naming the key and the
    /// builder.
    fn from_block(block: &Value) -> Result<Self, Error>;
}

/// A builder: a checked configuration that runs as a composition of steps
/// and returns its [`Builder::Artifact`].
///
/// The four built-in builders implement it; a Rust user implements it for
/// their own and registers it with
/// [`BuilderRegistry::register`](super::BuilderRegistry::register), after
/// which templates, the command and the Python package run it like the
/// others (as an [`AnyBuilder`](super::AnyBuilder), whose artifact is a
/// `Box<dyn Artifact>`). [`Builder::from_block`] does every check that
/// needs no request; [`Builder::run`] runs the steps with the [`Runner`]
/// (its build id, observers and error policy), and the cleanup runs in
/// every case.
pub trait Builder: fmt::Debug + Send + Sync + Sized + 'static {
    /// The type name in templates (`triton`).
    const TYPE: &'static str;

    /// Other type names accepted for it (Packer's `outscale-chroot` for
    /// `osc-chroot`).
    const ALIASES: &'static [&'static str] = &[];

    /// What a successful build returns.
    type Artifact: Artifact;

    /// Its configuration, as decoded.
    type Config: BuilderConfig;

    /// Checks `config` (no request is made), with `{{timestamp}}` and
    /// `{{uuid}}` from `vars`, and sets up what the build needs (clients).
    fn with_vars(config: Self::Config, vars: &TemplateVars) -> Result<Self, Error>;

    /// [`Builder::with_vars`] with `{{timestamp}}` and `{{uuid}}` taken now.
    fn new(config: Self::Config) -> Result<Self, Error> {
        Self::with_vars(config, &TemplateVars::now())
    }

    /// Decodes and checks a builder block (a template's `builders[i]`, or
    /// an HCL2 source's attributes as JSON; see
    /// [`BuilderConfig::from_block`]), with `{{timestamp}}` and `{{uuid}}`
    /// from `vars`. No request is made.
    fn from_block(block: &Value, vars: &TemplateVars) -> Result<Self, Error> {
        Self::with_vars(Self::Config::from_block(block)?, vars)
    }

    /// The provisioners the build runs (its communicator's steps).
    fn provisioners_mut(&mut self) -> &mut Provisioners;

    /// Adds a provisioner (run in order, on the builder's communicator).
    fn provisioner(mut self, step: impl Step<Comm, Out = Comm> + 'static) -> Self {
        self.provisioners_mut().push(Box::new(step));
        self
    }

    /// Adds provisioners built at run time (from a template).
    fn provisioners(mut self, steps: Vec<Provisioner>) -> Self {
        self.provisioners_mut().extend(steps);
        self
    }

    /// Runs the build with `runner` until done, failed, or `token` is
    /// cancelled; the cleanup runs in every case and is reported in the
    /// artifact or the error.
    fn run(
        &self,
        runner: &Runner,
        token: CancellationToken,
    ) -> impl Future<Output = Result<Self::Artifact, BuildError>> + Send;

    /// A sweeper for what crashed builds of this kind left, using this
    /// builder's client and settings (`None` for a builder that makes
    /// nothing to sweep).
    fn sweeper(&self) -> Option<Box<dyn Sweeper>> {
        None
    }

    /// Where this builder's cloud resources live (endpoint, account,
    /// project, region; never a secret), for the build journal (see
    /// [`StepCx::scope`]) and `imagebake cleanup --template`. `None` for a
    /// builder that makes nothing outside this host.
    fn scope(&self) -> Option<crate::journal::Scope> {
        None
    }
}
