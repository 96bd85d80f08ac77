//! Reading build journals: one build's records, what is still pending,
//! and the state of every build in a directory.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use super::{Record, Scope, UndoResult, process};
use crate::{Error, UndoWhen};

/// Where a build stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BuildState {
    /// Its process still runs.
    Running,
    /// It ended (resources it kept with `-on-error=abort` are pending).
    Finished,
    /// Its process is gone and it never ended: `imagebake cleanup
    /// --crashed` replays its undos.
    Crashed,
    /// `imagebake cleanup` removed everything it left.
    Cleaned,
}

impl fmt::Display for BuildState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Running => "running",
            Self::Finished => "finished",
            Self::Crashed => "crashed",
            Self::Cleaned => "cleaned",
        })
    }
}

/// A resource whose undo has not run (or failed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pending {
    /// Its number in the journal.
    pub n: u64,
    /// Its cloud (`local` for loop devices, mounts and files).
    pub cloud: String,
    /// Its kind.
    pub kind: String,
    /// Its id; `None` for a create whose answer never came (found again by
    /// the build's tag or the unique name).
    pub id: Option<String>,
    /// Its name.
    pub name: Option<String>,
    /// When its undo was due.
    pub when: UndoWhen,
}

impl Pending {
    /// The resource as cleanup reports name it.
    pub fn resource(&self) -> crate::Resource {
        let mut r = crate::Resource::new(&self.kind, self.id.clone().unwrap_or_default());
        r.name = self.name.clone();
        r
    }
}

/// One build's journal, read.
#[derive(Debug, Clone)]
pub struct Journal {
    path: PathBuf,
    records: Vec<Record>,
}

impl Journal {
    /// Reads a journal file. A last line cut short (the process died while
    /// writing it) is left out; any other bad line is an error naming the
    /// file and the line.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::io(format!("reading the build journal {}", path.display()), e))?;
        let lines: Vec<&str> = text.lines().collect();
        let mut records = Vec::with_capacity(lines.len());
        for (i, line) in lines.iter().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<Record>(line) {
                Ok(r) => records.push(r),
                Err(_) if i + 1 == lines.len() && !text.ends_with('\n') => {}
                Err(e) => {
                    return Err(Error::Config(format!(
                        "{}:{}: not a build journal record: {e}",
                        path.display(),
                        i + 1
                    )));
                }
            }
        }
        if !matches!(records.first(), Some(Record::Start { .. })) {
            return Err(Error::Config(format!(
                "{}:1: a build journal starts with a `start` record",
                path.display()
            )));
        }
        Ok(Self {
            path: path.to_owned(),
            records,
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Its records, in the order they were written.
    pub fn records(&self) -> &[Record] {
        &self.records
    }

    fn start(
        &self,
    ) -> (
        &str,
        &str,
        u32,
        Option<u64>,
        Option<&str>,
        u64,
        Option<&Path>,
    ) {
        match &self.records[0] {
            Record::Start {
                build,
                name,
                pid,
                pid_start,
                boot,
                started,
                template,
            } => (
                build,
                name,
                *pid,
                *pid_start,
                boot.as_deref(),
                *started,
                template.as_deref(),
            ),
            _ => unreachable!("checked by open"),
        }
    }

    /// The build id.
    pub fn build_id(&self) -> &str {
        self.start().0
    }

    /// The build's label.
    pub fn name(&self) -> &str {
        self.start().1
    }

    /// When it started (Unix seconds).
    pub fn started(&self) -> u64 {
        self.start().5
    }

    /// The template it came from, when recorded.
    pub fn template(&self) -> Option<&Path> {
        self.start().6
    }

    /// The scopes its builder recorded.
    pub fn scopes(&self) -> Vec<&Scope> {
        self.records
            .iter()
            .filter_map(|r| match r {
                Record::Scope(s) => Some(s),
                _ => None,
            })
            .collect()
    }

    /// The builder types.
    pub fn builders(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.scopes().iter().map(|s| s.builder.as_str()).collect();
        v.dedup();
        v
    }

    /// Whether the build's process still runs.
    pub fn is_running(&self) -> bool {
        let (_, _, pid, pid_start, boot, _, _) = self.start();
        !self.has(|r| matches!(r, Record::End { .. })) && process::alive(pid, pid_start, boot)
    }

    fn has(&self, f: impl Fn(&Record) -> bool) -> bool {
        self.records.iter().any(f)
    }

    /// Where the build stands.
    pub fn state(&self) -> BuildState {
        if self.is_running() {
            BuildState::Running
        } else if self.has(|r| matches!(r, Record::Cleaned { .. })) && self.pending().is_empty() {
            BuildState::Cleaned
        } else if self.has(|r| matches!(r, Record::End { .. })) {
            BuildState::Finished
        } else {
            BuildState::Crashed
        }
    }

    /// The resources whose undo is still due, oldest first: registered,
    /// not dismissed, not removed; without those committed as the result
    /// of a build that succeeded.
    pub fn pending(&self) -> Vec<Pending> {
        let mut live: BTreeMap<u64, Pending> = BTreeMap::new();
        let mut success = false;
        for r in &self.records {
            match r {
                Record::Start { .. } | Record::Scope(_) | Record::End { .. } => {}
                Record::Intent {
                    n,
                    cloud,
                    kind,
                    name,
                } => {
                    live.insert(
                        *n,
                        Pending {
                            n: *n,
                            cloud: cloud.clone(),
                            kind: kind.clone(),
                            id: None,
                            name: name.clone(),
                            when: UndoWhen::Always,
                        },
                    );
                }
                Record::Made {
                    n,
                    replaces,
                    cloud,
                    kind,
                    id,
                    name,
                    when,
                } => {
                    if let Some(old) = replaces {
                        live.remove(old);
                    }
                    live.insert(
                        *n,
                        Pending {
                            n: *n,
                            cloud: cloud.clone(),
                            kind: kind.clone(),
                            id: Some(id.clone()),
                            name: name.clone(),
                            when: *when,
                        },
                    );
                }
                Record::Dismissed { n } => {
                    live.remove(n);
                }
                Record::Cleanup { success: s } => success = *s,
                Record::Undone { n, result, .. } => {
                    if *result == UndoResult::Removed {
                        live.remove(n);
                    }
                }
                Record::Cleaned { .. } => {}
            }
        }
        live.into_values()
            .filter(|p| !(success && p.when == UndoWhen::OnFailure))
            .collect()
    }

    /// What `imagebake builds` shows of it.
    pub fn summary(&self) -> BuildSummary {
        BuildSummary {
            build_id: self.build_id().to_owned(),
            name: self.name().to_owned(),
            started: self.started(),
            builders: self.builders().iter().map(|s| (*s).to_owned()).collect(),
            state: self.state(),
            pending: self.pending().len(),
            path: self.path.clone(),
        }
    }
}

/// One line of `imagebake builds`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BuildSummary {
    /// The build id.
    pub build_id: String,
    /// Its label.
    pub name: String,
    /// When it started (Unix seconds).
    pub started: u64,
    /// Its builder types.
    pub builders: Vec<String>,
    /// Where it stands.
    pub state: BuildState,
    /// How many resources may still exist.
    pub pending: usize,
    /// Its journal file.
    pub path: PathBuf,
}

/// The directory of the build journals: `builds` in
/// [`imagebake_host::state_dir::state_dir`].
pub fn builds_dir() -> Result<PathBuf, Error> {
    imagebake_host::state_dir::state_dir()
        .map(|d| d.join("builds"))
        .map_err(|e| Error::Config(e.to_string()))
}

/// Every journal in `dir`, oldest first (none when the directory does not
/// exist). A file that cannot be read is reported as an error of its own.
pub fn read_dir(dir: &Path) -> Vec<Result<Journal, Error>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(e) => {
            return vec![Err(Error::io(
                format!("listing the build journals in {}", dir.display()),
                e,
            ))];
        }
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    paths.sort();
    let mut v: Vec<Result<Journal, Error>> = paths.iter().map(Journal::open).collect();
    v.sort_by_key(|j| j.as_ref().map_or(0, Journal::started));
    v
}

/// The builds journaled in `dir`, oldest first; unreadable journals are
/// left out (with a warning).
pub fn list_builds(dir: &Path) -> Vec<BuildSummary> {
    read_dir(dir)
        .into_iter()
        .filter_map(|j| match j {
            Ok(j) => Some(j.summary()),
            Err(e) => {
                tracing::warn!(error = %e, "skipping a build journal");
                None
            }
        })
        .collect()
}

/// How long the journal of a build that left nothing stays (finished or
/// cleaned, nothing pending) before [`prune`] removes it.
pub const RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);

/// Removes the journals of builds that left nothing (finished or cleaned,
/// nothing pending) and started longer than `older_than` ago; returns
/// their paths. Crashed and running builds, and finished ones with kept
/// resources, are never removed.
pub fn prune(dir: &Path, older_than: Duration) -> Result<Vec<PathBuf>, Error> {
    let now = crate::steps::common::now_secs();
    let mut removed = Vec::new();
    for j in read_dir(dir).into_iter().flatten() {
        let s = j.summary();
        let done = matches!(s.state, BuildState::Finished | BuildState::Cleaned) && s.pending == 0;
        if done && now.saturating_sub(s.started) >= older_than.as_secs() {
            std::fs::remove_file(&s.path)
                .map_err(|e| Error::io(format!("removing {}", s.path.display()), e))?;
            removed.push(s.path);
        }
    }
    Ok(removed)
}
