//! `imagebake cleanup`: replaying the pending undos of builds whose process
//! is gone.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::{BuildState, Journal, LOCAL, LocalSweeper, Pending, Record, Scope, UndoResult, Writer};
use crate::{CleanupEntry, CleanupOutcome, CleanupReport, Error, Removal, SweepFilter, Sweeper};

/// Where [`cleanup`] gets the sweeper (with its credentials) of each scope
/// a journal recorded; a closure `Fn(&Scope) -> Result<Box<dyn Sweeper>, Error>`
/// is one.
pub trait Sweepers: Send + Sync {
    /// The sweeper of `scope`; an error says why there is none (no
    /// credentials, another endpoint).
    fn sweeper(&self, scope: &Scope) -> Result<Box<dyn Sweeper>, Error>;
}

impl<F> Sweepers for F
where
    F: Fn(&Scope) -> Result<Box<dyn Sweeper>, Error> + Send + Sync,
{
    fn sweeper(&self, scope: &Scope) -> Result<Box<dyn Sweeper>, Error> {
        self(scope)
    }
}

/// Which builds [`cleanup`] replays.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CleanupOptions {
    /// These builds (their process must be gone).
    pub build_ids: Vec<String>,
    /// Every crashed build (process gone, never ended).
    pub crashed: bool,
    /// Only lists what would be removed (listings are still made).
    pub dry_run: bool,
}

/// What [`cleanup`] did for one build.
#[derive(Debug)]
pub struct BuildCleanup {
    /// The build id.
    pub build_id: String,
    /// Its label.
    pub name: String,
    /// Its journal.
    pub path: PathBuf,
    /// Where it stood before.
    pub state: BuildState,
    /// Why it was not replayed (still running).
    pub refused: Option<String>,
    /// One entry per resource: removed, not removed with the error, or
    /// (dry run) kept.
    pub report: CleanupReport,
    /// What needs no entry (a create in flight found to have made nothing).
    pub notes: Vec<String>,
    /// Listings or journal writes that failed.
    pub errors: Vec<Error>,
}

impl BuildCleanup {
    /// Whether nothing is left and nothing failed (a dry run is clean when
    /// nothing failed).
    pub fn is_clean(&self) -> bool {
        self.refused.is_none()
            && self.errors.is_empty()
            && !self
                .report
                .entries
                .iter()
                .any(|e| matches!(e.outcome, CleanupOutcome::Failed(_)))
    }
}

/// Replays the pending undos of the builds `options` selects among the
/// journals in `dir`, newest resource first: removes each resource whose
/// id is known ([`Sweeper::remove`]; already gone counts as removed), and
/// for a create whose answer never came sweeps the build's tag or name
/// (each cloud once). Writes each outcome and, at the end, a `cleaned`
/// record to the journal. A running build is refused; a build named but
/// not journaled is an error.
pub async fn cleanup(
    dir: &Path,
    options: &CleanupOptions,
    sweepers: &dyn Sweepers,
    cancel: &CancellationToken,
) -> Result<Vec<BuildCleanup>, Error> {
    if options.build_ids.is_empty() && !options.crashed {
        return Err(Error::Config(
            "name the builds to clean up (see `imagebake builds`) or pass --crashed".into(),
        ));
    }
    let mut journals = Vec::new();
    for j in super::read_dir(dir) {
        match j {
            Ok(j) => journals.push(j),
            Err(e) => tracing::warn!(error = %e, "skipping a build journal"),
        }
    }
    for id in &options.build_ids {
        if !journals.iter().any(|j| j.build_id() == id) {
            return Err(Error::Config(format!(
                "no journal of build {id} in {} (see `imagebake builds`)",
                dir.display()
            )));
        }
    }
    let mut out = Vec::new();
    for j in journals {
        let named = options.build_ids.iter().any(|id| id == j.build_id());
        let state = j.state();
        if !(named || options.crashed && state == BuildState::Crashed) {
            continue;
        }
        out.push(replay(&j, state, options.dry_run, sweepers, cancel).await);
    }
    Ok(out)
}

/// Replays one journal.
async fn replay(
    j: &Journal,
    state: BuildState,
    dry_run: bool,
    sweepers: &dyn Sweepers,
    cancel: &CancellationToken,
) -> BuildCleanup {
    let mut done = BuildCleanup {
        build_id: j.build_id().to_owned(),
        name: j.name().to_owned(),
        path: j.path().to_owned(),
        state,
        refused: None,
        report: CleanupReport::default(),
        notes: Vec::new(),
        errors: Vec::new(),
    };
    if state == BuildState::Running {
        done.refused = Some(format!(
            "build {} is still running; stop it (its own cleanup then runs) or wait until its process is gone",
            j.build_id()
        ));
        return done;
    }
    let mut writer = if dry_run {
        None
    } else {
        match Writer::append_to(j.path()) {
            Ok(w) => Some(w),
            Err(e) => {
                done.errors.push(e);
                return done;
            }
        }
    };
    let mut sweepers_of: HashMap<String, Result<Box<dyn Sweeper>, String>> = HashMap::new();
    let mut swept: HashMap<String, bool> = HashMap::new();
    let mut left = 0;
    for p in j.pending().iter().rev() {
        if cancel.is_cancelled() {
            done.errors.push(Error::cancelled("cleanup"));
            left += 1;
            continue;
        }
        let sweeper = sweepers_of
            .entry(p.cloud.clone())
            .or_insert_with(|| sweeper_for(j, &p.cloud, sweepers));
        let result = match sweeper {
            Err(why) => Err(Error::Config(why.clone())),
            Ok(_) if dry_run => {
                if p.id.is_some() && !done.lists(&p.resource()) {
                    done.report.entries.push(entry(p, CleanupOutcome::Kept));
                }
                if p.id.is_some() {
                    continue;
                }
                Ok(None)
            }
            Ok(sweeper) => match &p.id {
                Some(_) => sweeper.remove_found(&p.resource(), cancel).await.map(Some),
                None => Ok(None),
            },
        };
        let result = match (result, &p.id, sweeper) {
            (Ok(_), None, Ok(sweeper)) => {
                let before = done.report.entries.len();
                let named = adopt_named(j, p, sweeper.as_ref(), dry_run, cancel, &mut done).await;
                let clean = match swept.get(&p.cloud) {
                    Some(clean) => *clean,
                    None => {
                        let clean = adopt(j, sweeper.as_ref(), dry_run, cancel, &mut done).await;
                        swept.insert(p.cloud.clone(), clean);
                        clean
                    }
                } && named;
                if clean && done.report.entries.len() == before {
                    done.notes.push(format!(
                        "{}{}: its create was in flight; nothing carries the build's tag or this name (never made, or already gone)",
                        p.kind,
                        p.name.as_ref().map(|n| format!(" {n}")).unwrap_or_default()
                    ));
                }
                if dry_run {
                    continue;
                }
                if clean {
                    Ok(())
                } else {
                    Err(Error::Other(
                        format!(
                            "{}: the sweep by the build's tag or name did not finish",
                            p.resource()
                        )
                        .into(),
                    ))
                }
            }
            (Ok(found), Some(_), _) => {
                // Listed once: a sweep for a create in flight may have
                // removed it already (then it is gone now).
                if !done.lists(&p.resource()) {
                    let outcome = match found {
                        Some(Removal::AlreadyGone) => CleanupOutcome::AlreadyGone,
                        _ => CleanupOutcome::Removed,
                    };
                    done.report.entries.push(entry(p, outcome));
                }
                Ok(())
            }
            (Err(e), _, _) => {
                let text = crate::chain(&e).to_string();
                done.report
                    .entries
                    .push(entry(p, CleanupOutcome::Failed(e)));
                Err(Error::Other(text.into()))
            }
            (Ok(_), None, Err(_)) => unreachable!("a missing sweeper is an error above"),
        };
        if result.is_err() {
            left += 1;
        }
        if let Some(w) = &mut writer {
            let (result, error) = match result {
                Ok(()) => (UndoResult::Removed, None),
                Err(e) => (UndoResult::Failed, Some(crate::chain(&e).to_string())),
            };
            if let Err(e) = w.write(&Record::Undone {
                n: p.n,
                result,
                error,
            }) {
                done.errors.push(e);
            }
        }
    }
    if let Some(w) = &mut writer {
        let record = Record::Cleaned {
            pid: std::process::id(),
            at: crate::steps::common::now_secs(),
            left,
        };
        if let Err(e) = w.write(&record) {
            done.errors.push(e);
        }
    }
    done
}

/// Sweeps the cloud for what the build made (its tag, or its id in the
/// name), for a create whose answer never came; whether the sweep was
/// complete.
async fn adopt(
    j: &Journal,
    sweeper: &dyn Sweeper,
    dry_run: bool,
    cancel: &CancellationToken,
    done: &mut BuildCleanup,
) -> bool {
    let filter = SweepFilter {
        prefix: j.build_id().to_owned(),
        older_than: Duration::ZERO,
        dry_run,
    };
    let swept = sweeper.sweep(&filter, cancel).await;
    let clean = swept.list_errors.is_empty() && swept.cleanup.is_clean();
    // What the journal knew by id was removed, not adopted.
    let known: Vec<_> = j
        .pending()
        .iter()
        .filter(|p| p.id.is_some())
        .map(Pending::resource)
        .collect();
    for mut e in swept.cleanup.entries {
        if done.lists(&e.resource) {
            continue;
        }
        let by_id = known.iter().any(|k| same(k, &e.resource));
        if matches!(e.outcome, CleanupOutcome::Removed) && !by_id {
            e.outcome = CleanupOutcome::Adopted;
        }
        done.report.entries.push(e);
    }
    done.errors.extend(swept.list_errors);
    clean
}

/// Removes what [`Sweeper::find_named`] finds of `p` (by its unique name,
/// made since the build started); whether that went well.
async fn adopt_named(
    j: &Journal,
    p: &Pending,
    sweeper: &dyn Sweeper,
    dry_run: bool,
    cancel: &CancellationToken,
    done: &mut BuildCleanup,
) -> bool {
    let Some(name) = &p.name else { return true };
    let found = match sweeper.find_named(&p.kind, name, j.started()).await {
        Ok(found) => found,
        Err(e) => {
            done.errors.push(e);
            return false;
        }
    };
    let mut clean = true;
    for resource in found {
        if done.lists(&resource) {
            continue;
        }
        let outcome = if dry_run {
            CleanupOutcome::Kept
        } else {
            match sweeper.remove_found(&resource, cancel).await {
                Ok(Removal::Removed) => CleanupOutcome::Adopted,
                Ok(Removal::AlreadyGone) => CleanupOutcome::AlreadyGone,
                Err(e) => {
                    clean = false;
                    CleanupOutcome::Failed(e)
                }
            }
        };
        done.report.entries.push(CleanupEntry {
            resource,
            when: p.when,
            outcome,
        });
    }
    clean
}

/// The sweeper of the resources of `cloud` in journal `j`.
fn sweeper_for(
    j: &Journal,
    cloud: &str,
    sweepers: &dyn Sweepers,
) -> Result<Box<dyn Sweeper>, String> {
    if cloud == LOCAL {
        return Ok(Box::new(LocalSweeper));
    }
    let Some(scope) = j.scopes().into_iter().find(|s| s.cloud == cloud) else {
        return Err(format!(
            "the journal records no scope for cloud `{cloud}`: remove it with `imagebake sweep`"
        ));
    };
    sweepers
        .sweeper(scope)
        .map_err(|e| format!("no credentials for {scope}: {}", crate::chain(&e)))
}

/// Whether `a` and `b` are the same resource (kind and id).
fn same(a: &crate::Resource, b: &crate::Resource) -> bool {
    a.kind == b.kind && a.id == b.id
}

impl BuildCleanup {
    /// Whether the report already has an entry for `resource` (each
    /// resource is listed once, with its first outcome).
    fn lists(&self, resource: &crate::Resource) -> bool {
        self.report
            .entries
            .iter()
            .any(|e| same(&e.resource, resource))
    }
}

fn entry(p: &Pending, outcome: CleanupOutcome) -> CleanupEntry {
    CleanupEntry {
        resource: p.resource(),
        when: p.when,
        outcome,
    }
}
