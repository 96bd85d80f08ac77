//! Runs the builds of an evaluated template ([`crate::template::Plan`]) as
//! `packer build` does: every builder, provisioner and post-processor is
//! checked before any build starts (an invalid template creates nothing),
//! the builds run in parallel (at most `parallel_builds` at once), each
//! successful build's post-processor chains run after it, and progress is
//! shown in Packer's form (`==> NAME: …`, or `-machine-readable` lines).
//! The `imagebake` command, the examples and the Python package all run
//! builds through [`run`].
//!
//! ```no_run
//! use imagebake_core::CancellationToken;
//! use imagebake_core::bake::{self, BakeOptions};
//! use imagebake_core::template::{self, Options, Placeholders};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let opts = Options::from_process()?;
//! let plan = template::plan("bake.pkr.hcl".as_ref(), &opts, &Placeholders).await?;
//! for artifact in bake::run(&plan, &BakeOptions::default(), CancellationToken::new()).await? {
//!     println!("{artifact}");
//! }
//! # Ok(())
//! # }
//! ```

mod leftovers;
mod prepare;
mod progress;
mod provisioner;
mod runner;
mod ui;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

pub use leftovers::Leftovers;
pub use prepare::prepare;
pub use progress::{WAIT_EVERY, describe};
pub use runner::run;
pub(crate) use ui::Ui;
pub use ui::{Level, ProgressSink, UiMode, machine_line, packer_duration};

use crate::builders::{Artifact, BuilderRegistry};
use crate::journal::Journaling;
use crate::template::TemplateError;
use crate::{BuildError, Error, OnError};

/// How to run the builds and report them.
#[derive(Clone)]
pub struct BakeOptions {
    /// Receives every progress line (default: standard output).
    pub progress: ProgressSink,
    /// Packer's text, stamped text (`-timestamp-ui`) or machine-readable
    /// lines (`-machine-readable`).
    pub ui: UiMode,
    /// Records what each build may leave behind, for an exit before the
    /// cleanups end (a second Ctrl-C).
    pub leftovers: Leftovers,
    /// What a failed build does with what it made (Packer's `-on-error`).
    pub on_error: OnError,
    /// At most this many builds at once (Packer's `-parallel-builds`); 0
    /// means no limit.
    pub parallel_builds: usize,
    /// Packer's `-force`: every builder gets `packer_force: true` and
    /// replaces an existing artifact of the same name.
    pub force: bool,
    /// Relative post-processor outputs are relative to this directory
    /// (default: the working directory, as in Packer).
    pub cwd: PathBuf,
    /// The builder types the plan may use (default: the built-in builders;
    /// register your own to run them too).
    pub registry: Arc<BuilderRegistry>,
    /// Keeps each build's journal on disk (see [`crate::journal`]) so that
    /// `imagebake cleanup` can remove what a build whose process died
    /// made; `None` (the default) keeps it in memory only. The command
    /// and the Python package set it to [`Journaling::default_dir`].
    pub journal: Option<Journaling>,
}

impl Default for BakeOptions {
    fn default() -> Self {
        Self {
            progress: Arc::new(|line: &str| println!("{line}")),
            ui: UiMode::default(),
            leftovers: Leftovers::default(),
            on_error: OnError::default(),
            parallel_builds: 0,
            force: false,
            cwd: std::env::current_dir().unwrap_or_default(),
            registry: Arc::new(BuilderRegistry::default()),
            journal: None,
        }
    }
}

impl fmt::Debug for BakeOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BakeOptions")
            .field("ui", &self.ui)
            .field("on_error", &self.on_error)
            .field("parallel_builds", &self.parallel_builds)
            .field("force", &self.force)
            .field("cwd", &self.cwd)
            .field("registry", &self.registry)
            .field("journal", &self.journal)
            .finish_non_exhaustive()
    }
}

/// Why a build did not end well.
#[derive(Debug)]
#[non_exhaustive]
pub enum Failure {
    /// The build failed or was cancelled; its cleanup report is inside.
    Build(BuildError),
    /// The build made its artifact, then a post-processor failed.
    PostProcess(Error),
}

impl Failure {
    /// Whether the build was cancelled (Ctrl-C).
    pub fn is_cancelled(&self) -> bool {
        match self {
            Self::Build(e) => e.is_cancelled(),
            Self::PostProcess(e) => e.is_cancelled(),
        }
    }

    /// The build's error, when the build itself failed.
    pub fn build_error(&self) -> Option<&BuildError> {
        match self {
            Self::Build(e) => Some(e),
            Self::PostProcess(_) => None,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Build(e) => e.fmt(f),
            Self::PostProcess(e) => write!(f, "post-processor failed: {}", crate::chain(e)),
        }
    }
}

/// A build that did not end well.
#[derive(Debug)]
pub struct FailedBuild {
    /// The build's name (as in the plan).
    pub name: String,
    /// Why, and what its cleanup did.
    pub error: Failure,
}

/// Why a bake did not make every artifact.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BakeError {
    /// A builder, provisioner or post-processor is invalid; no build was
    /// started.
    #[error(transparent)]
    Template(#[from] TemplateError),
    /// Some builds failed (or were cancelled); the others' artifacts (and
    /// those of builds whose post-processors failed) are here.
    #[error("{} of {} builds failed: {}", failed.len(), builds, failed_names(failed))]
    Builds {
        /// The artifacts made, in plan order.
        artifacts: Vec<Arc<dyn Artifact>>,
        /// The builds that failed, each with its cleanup report.
        failed: Vec<FailedBuild>,
        /// How many builds ran.
        builds: usize,
    },
}

fn failed_names(failed: &[FailedBuild]) -> String {
    failed
        .iter()
        .map(|f| f.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

impl BakeError {
    /// Whether every failed build was cancelled (Ctrl-C).
    pub fn is_cancelled(&self) -> bool {
        matches!(self, Self::Builds { failed, .. }
            if !failed.is_empty() && failed.iter().all(|f| f.error.is_cancelled()))
    }
}
