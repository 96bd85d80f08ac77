//! The records of a build journal, one JSON object a line.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::UndoWhen;

/// Where a builder's cloud resources live: enough to find and remove them
/// again with credentials from the usual sources. Never a secret.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Scope {
    /// The builder type (`triton`, `oxide-instance`, `osc-chroot`,
    /// `local-chroot`).
    pub builder: String,
    /// The cloud whose sweeper removes its resources (`triton`, `oxide`,
    /// `osc`, `local`).
    pub cloud: String,
    /// The API endpoint (URL or host).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// The account (Triton).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// The project (Oxide).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// The region (Outscale).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

impl Scope {
    /// The scope of `builder` on `cloud`, with no endpoint yet.
    pub fn new(builder: impl Into<String>, cloud: impl Into<String>) -> Self {
        Self {
            builder: builder.into(),
            cloud: cloud.into(),
            ..Self::default()
        }
    }

    /// Sets the endpoint.
    pub fn endpoint(mut self, v: impl Into<String>) -> Self {
        self.endpoint = Some(v.into());
        self
    }

    /// Sets the account.
    pub fn account(mut self, v: impl Into<String>) -> Self {
        self.account = Some(v.into());
        self
    }

    /// Sets the project.
    pub fn project(mut self, v: impl Into<String>) -> Self {
        self.project = Some(v.into());
        self
    }

    /// Sets the region.
    pub fn region(mut self, v: impl Into<String>) -> Self {
        self.region = Some(v.into());
        self
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.cloud)?;
        for v in [&self.endpoint, &self.account, &self.project, &self.region]
            .into_iter()
            .flatten()
        {
            write!(f, " {v}")?;
        }
        Ok(())
    }
}

/// The cloud of resources the `local` sweeper removes, whatever the
/// builder: loop devices, mounts, files.
pub const LOCAL: &str = "local";

/// The resource kinds that live on this host (undone by the `local`
/// cleanup: detach, lazy unmount, remove or restore the file).
pub const LOCAL_KINDS: &[&str] = &["loop device", "mount", "image file", "copied file"];

/// What became of an undo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UndoResult {
    /// Removed (or found already gone).
    Removed,
    /// Left on purpose (`-on-error=abort`).
    Kept,
    /// The undo failed: it may still exist.
    Failed,
}

/// One line of a build journal. Resources are numbered `n` in registration
/// order; a later record about `n` changes what is pending.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum Record {
    /// The build started in process `pid` (started at `pid_start` clock
    /// ticks after boot `boot`, so a reused pid is not taken for it).
    Start {
        /// The build id.
        build: String,
        /// The build's label.
        name: String,
        /// The process running it.
        pid: u32,
        /// The process's start time (`/proc/PID/stat` field 22).
        #[serde(default)]
        pid_start: Option<u64>,
        /// The kernel boot id the process ran under.
        #[serde(default)]
        boot: Option<String>,
        /// Unix seconds.
        started: u64,
        /// The template the build came from.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        template: Option<PathBuf>,
    },
    /// The builder's scope: its cloud resources are there.
    Scope(Scope),
    /// A create is about to be sent; its id is not known yet (found again
    /// by the build's tag or unique name).
    Intent {
        /// Its number.
        n: u64,
        /// The cloud.
        cloud: String,
        /// The kind.
        kind: String,
        /// Its unique name, when it has one.
        #[serde(default)]
        name: Option<String>,
    },
    /// A resource exists (with its id) and is to be undone.
    Made {
        /// Its number.
        n: u64,
        /// The intent it settles, when it came from a create.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        replaces: Option<u64>,
        /// The cloud.
        cloud: String,
        /// The kind.
        kind: String,
        /// The id (a path for local resources).
        id: String,
        /// The name.
        #[serde(default)]
        name: Option<String>,
        /// When it is undone.
        when: UndoWhen,
    },
    /// A step removed the resource itself.
    Dismissed {
        /// Its number.
        n: u64,
    },
    /// The build's cleanup starts; on success the undos that run only on
    /// failure are committed (the build's result).
    Cleanup {
        /// Whether the build succeeded.
        success: bool,
    },
    /// An undo ended.
    Undone {
        /// Its number.
        n: u64,
        /// What became of it.
        result: UndoResult,
        /// Why it failed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// The build ended (`ok`, `failed`, `cancelled`).
    End {
        /// Its outcome.
        outcome: String,
    },
    /// `imagebake cleanup` replayed the journal.
    Cleaned {
        /// The process that did it.
        pid: u32,
        /// Unix seconds.
        at: u64,
        /// How many resources may still exist.
        left: usize,
    },
}
