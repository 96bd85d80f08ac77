//! The persistent build journal: what a build made, on disk, so that a
//! build whose process died (SIGKILL, out of memory, a reboot, a cancelled
//! CI job) is cleaned up exactly, by `imagebake cleanup`.
//!
//! A [`Runner`](crate::Runner) given [`Journaling`] appends one JSON
//! [`Record`] a line to `<dir>/<build id>.jsonl` and makes each durable
//! (`fsync`) before the build goes on: the build's start (its process id
//! and start time, so that "process gone" is exact), the builder's
//! [`Scope`] (cloud, endpoint, account, project, region), before each create
//! is sent its intent (kind, unique name; found again by the build's tag or
//! that name), each resource with its id once known, each undo's outcome,
//! and the build's end. Never a secret: the cleanup takes credentials again
//! from the usual sources.
//!
//! [`list_builds`] tells which builds run, finished, crashed or were
//! cleaned; [`cleanup`] replays a dead build's pending undos with each
//! cloud's [`Sweeper`](crate::Sweeper): it removes what exists by id
//! (already gone counts as removed), sweeps by the build's tag or name for
//! creates whose answer never came, and marks the journal cleaned.
//!
//! Journals of builds that left nothing are removed by [`prune`] after
//! [`RETENTION`] (`imagebake builds --prune`); those of crashed builds, or
//! with resources left, stay until cleaned.

mod credentials;
mod local;
mod process;
mod read;
mod record;
mod replay;
mod writer;

use std::path::PathBuf;

pub use credentials::{FromBuilders, FromEnv};
pub use local::LocalSweeper;
pub use read::{
    BuildState, BuildSummary, Journal, Pending, RETENTION, builds_dir, list_builds, prune, read_dir,
};
pub use record::{LOCAL, LOCAL_KINDS, Record, Scope, UndoResult};
pub use replay::{BuildCleanup, CleanupOptions, Sweepers, cleanup};
pub(crate) use writer::Writer;

use crate::{BuildId, Error};

/// Where a [`Runner`](crate::Runner) keeps its builds' journals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Journaling {
    dir: PathBuf,
    template: Option<PathBuf>,
}

impl Journaling {
    /// Journals in `dir` (one file per build).
    pub fn in_dir(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            template: None,
        }
    }

    /// Journals in [`builds_dir`]: `IMAGEBAKE_STATE_DIR`, else
    /// `$XDG_STATE_HOME/imagebake`, else `~/.local/state/imagebake`, then
    /// `builds`.
    pub fn default_dir() -> Result<Self, Error> {
        Ok(Self::in_dir(builds_dir()?))
    }

    /// Records the template the builds come from (`imagebake cleanup
    /// --template` can take its credentials again).
    pub fn template(mut self, path: impl Into<PathBuf>) -> Self {
        self.template = Some(path.into());
        self
    }

    /// The directory.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// The template the builds come from, when recorded.
    pub fn template_path(&self) -> Option<&std::path::Path> {
        self.template.as_deref()
    }

    /// Creates the journal of build `id` and writes its start.
    pub(crate) fn start(&self, id: &BuildId, name: &str) -> Result<Writer, Error> {
        let mut w = Writer::create(&self.dir, id.as_str())?;
        let (pid, pid_start, boot) = process::current();
        w.write(&Record::Start {
            build: id.to_string(),
            name: name.to_owned(),
            pid,
            pid_start,
            boot,
            started: crate::steps::common::now_secs(),
            template: self.template.clone(),
        })?;
        Ok(w)
    }
}
