//! Runs the builds of a Packer JSON template, as `packer build` does: every
//! build checked before any starts, the selected ones run in parallel, one
//! progress line per event prefixed with the build's name, each artifact
//! (or failure) reported with its cleanup.
//!
//! ```no_run
//! use imagebake_core::CancellationToken;
//! use imagebake_examples::bake::{self, BakeOptions};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let options = BakeOptions::default();
//! let template = bake::load("examples/templates/triton.json".as_ref(), &options)?;
//! for artifact in bake::run(&template, &options, CancellationToken::new()).await? {
//!     println!("{artifact}");
//! }
//! # Ok(())
//! # }
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use imagebake_core::builders::packer::expand_env_with;
use imagebake_core::builders::{AnyBuilder, Artifact, BuilderRegistry};
use imagebake_core::packer_template::Template;
use imagebake_core::{
    BuildError, BuildId, CancellationToken, Error, Event, FnObserver, OnError, Resource, Runner,
    StepOutcome, UndoOutcome, UndoWhen,
};
use serde_json::Value;

use crate::progress::describe;

/// Where progress lines go.
pub type ProgressSink = Arc<dyn Fn(&str) + Send + Sync>;

/// What to run and how to report it.
#[derive(Clone)]
pub struct BakeOptions {
    /// Run only these builds (Packer's `-only`); empty for all.
    pub only: Vec<String>,
    /// Leave these builds out (Packer's `-except`).
    pub except: Vec<String>,
    /// Values for `{{env `NAME`}}` that win over the process environment.
    pub env: BTreeMap<String, String>,
    /// Receives every progress line (default: standard output).
    pub progress: ProgressSink,
    /// Records what each build may leave behind, for an exit before the
    /// cleanups end (a second Ctrl-C).
    pub leftovers: Leftovers,
    /// What a failed build does with what it made (Packer's `-on-error`).
    pub on_error: OnError,
    /// At most this many builds at once (Packer's `-parallel-builds`); 0
    /// means no limit.
    pub parallel_builds: usize,
    /// The builder types the template may use (default: the built-in
    /// builders; register your own to run them too).
    pub registry: Arc<BuilderRegistry>,
}

impl Default for BakeOptions {
    fn default() -> Self {
        Self {
            only: Vec::new(),
            except: Vec::new(),
            env: BTreeMap::new(),
            progress: Arc::new(|line: &str| println!("{line}")),
            leftovers: Leftovers::default(),
            on_error: OnError::default(),
            parallel_builds: 0,
            registry: Arc::new(BuilderRegistry::default()),
        }
    }
}

impl fmt::Debug for BakeOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `env` may hold tokens: only its names are shown.
        f.debug_struct("BakeOptions")
            .field("only", &self.only)
            .field("except", &self.except)
            .field("env", &self.env.keys().collect::<Vec<_>>())
            .field("registry", &self.registry)
            .finish_non_exhaustive()
    }
}

/// A build that did not make its artifact.
#[derive(Debug)]
pub struct FailedBuild {
    /// The build's name (its builder's `name`, else its `type`).
    pub name: String,
    /// Why, and what its cleanup did.
    pub error: BuildError,
}

/// Why a bake did not make every artifact.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BakeError {
    /// The template file could not be read.
    #[error("reading template {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The template, a builder block or the build selection is invalid; no
    /// build was started.
    #[error(transparent)]
    Template(#[from] Error),
    /// Some builds failed (or were cancelled); the others' artifacts are
    /// here.
    #[error("{} of {} builds failed: {}", failed.len(), failed.len() + artifacts.len(), failed_names(failed))]
    Builds {
        /// The artifacts of the builds that succeeded.
        artifacts: Vec<Box<dyn Artifact>>,
        /// The builds that failed, each with its cleanup report.
        failed: Vec<FailedBuild>,
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

/// Reads the template at `path`, replacing `{{env `NAME`}}` with
/// `options.env`'s values, else the environment's.
pub fn load(path: &Path, options: &BakeOptions) -> Result<Template, BakeError> {
    let text = std::fs::read_to_string(path).map_err(|source| BakeError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse(&text, options)
}

/// [`load`] from the template's text.
pub fn parse(text: &str, options: &BakeOptions) -> Result<Template, BakeError> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| Error::Config(format!("template: not valid JSON: {e}")))?;
    let lookup = |name: &str| {
        options
            .env
            .get(name)
            .cloned()
            .or_else(|| std::env::var(name).ok())
    };
    Ok(Template::from_json(&expand_env_with(&value, &lookup)?)?)
}

/// The names of the builds `options` selects, in template order. Duplicate
/// build names, a name in `-only`/`-except` that matches no build, and an
/// empty selection are errors.
pub fn select(template: &Template, options: &BakeOptions) -> Result<Vec<String>, Error> {
    let names = template.build_names();
    let mut seen = BTreeSet::new();
    for n in &names {
        if !seen.insert(n.as_str()) {
            return Err(Error::Config(format!(
                "template: two builds are named {n:?}; give each builder a distinct `name`"
            )));
        }
    }
    for (flag, list) in [("-only", &options.only), ("-except", &options.except)] {
        if let Some(n) = list.iter().find(|n| !seen.contains(n.as_str())) {
            return Err(Error::Config(format!(
                "{flag}: no build is named {n:?} (builds: {})",
                names.join(", ")
            )));
        }
    }
    let chosen: Vec<String> = names
        .into_iter()
        .filter(|n| options.only.is_empty() || options.only.contains(n))
        .filter(|n| !options.except.contains(n))
        .collect();
    if chosen.is_empty() {
        return Err(Error::Config(
            "-only/-except leave no build to run".to_owned(),
        ));
    }
    Ok(chosen)
}

/// Runs the selected builds of `template` in parallel until each is done,
/// failed or cancelled by `cancel` (every build's cleanup runs in every
/// case). All builders are checked first: an invalid one starts nothing.
/// Returns the artifacts in template order, or [`BakeError::Builds`] with
/// the artifacts made and the failures when any build failed.
pub async fn run(
    template: &Template,
    options: &BakeOptions,
    cancel: CancellationToken,
) -> Result<Vec<Box<dyn Artifact>>, BakeError> {
    let names = select(template, options)?;
    let builders = names
        .iter()
        .map(|n| Ok((n.clone(), template.builder_in(&options.registry, Some(n))?)))
        .collect::<Result<Vec<(String, AnyBuilder)>, Error>>()?;
    let width = names.iter().map(|n| n.chars().count()).max().unwrap_or(0);
    let started = Instant::now();
    let sink = options.progress.clone();
    let emit = move |name: &str, line: &str| {
        let at = started.elapsed().as_secs_f64();
        sink(&format!("[{at:>7.2}s] {name:<width$} | {line}"));
    };
    let emit = Arc::new(emit);
    for (name, builder) in &builders {
        emit(name, &format!("{} build", builder.builder_type()));
    }

    let limit = match options.parallel_builds {
        0 => builders.len().max(1),
        n => n,
    };
    let slots = Arc::new(tokio::sync::Semaphore::new(limit));
    let runs = builders.iter().map(|(name, builder)| {
        let (name, emit) = (name.clone(), emit.clone());
        let leftovers = options.leftovers.clone();
        let cloud = cloud_of(builder.builder_type());
        let observer = FnObserver(move |e: &Event| {
            leftovers.record(&name, cloud, e);
            if let Some(line) = describe(e) {
                emit(&name, &line);
            }
        });
        let runner = Runner::new()
            .observer(Arc::new(observer))
            .on_error(options.on_error);
        let token = cancel.child_token();
        let slots = slots.clone();
        async move {
            // The semaphore is never closed: a permit always comes.
            let _slot = slots.acquire().await.ok();
            builder.run(&runner, token).await
        }
    });
    let results = futures::future::join_all(runs).await;

    let mut artifacts = Vec::new();
    let mut failed = Vec::new();
    for ((name, _), result) in builders.iter().zip(results) {
        match result {
            Ok(a) => {
                for line in artifact_lines(a.as_ref()) {
                    emit(name, &line);
                }
                artifacts.push(a);
            }
            Err(error) => {
                emit(name, &format!("FAILED: {error}"));
                for line in format!("cleanup: {}", error.cleanup).lines() {
                    emit(name, line);
                }
                failed.push(FailedBuild {
                    name: name.clone(),
                    error,
                });
            }
        }
    }
    if failed.is_empty() {
        Ok(artifacts)
    } else {
        Err(BakeError::Builds { artifacts, failed })
    }
}

/// The lines that report an artifact: Packer's description, then its id,
/// name, version and cloud, then the cleanup report.
pub fn artifact_lines(a: &dyn Artifact) -> Vec<String> {
    let mut lines = vec![a.to_string()];
    lines.push(format!(
        "artifact: id {}, name {}, version {}, cloud {}, build {}",
        a.id().as_deref().unwrap_or("(none)"),
        a.name(),
        a.version().unwrap_or("-"),
        a.cloud(),
        a.build_id()
    ));
    let details = a.details();
    if details.as_object().is_some_and(|d| !d.is_empty()) {
        lines.push(format!("details: {details}"));
    }
    lines.extend(
        format!("cleanup: {}", a.cleanup())
            .lines()
            .map(str::to_owned),
    );
    lines
}

/// The `--cloud` of `imagebake sweep` for a builder type; `None` for a
/// builder that makes nothing in a cloud (`local-chroot`).
fn cloud_of(builder_type: &str) -> Option<&'static str> {
    match builder_type {
        "triton" => Some("triton"),
        t if t.starts_with("oxide") => Some("oxide"),
        t if t.starts_with("osc") || t.starts_with("outscale") => Some("osc"),
        _ => None,
    }
}

/// What one build may leave behind.
#[derive(Debug, Default)]
struct Ledger {
    cloud: Option<&'static str>,
    build_id: Option<BuildId>,
    resources: Vec<(Resource, UndoWhen)>,
}

/// What each build of a bake may leave behind if the process ended now:
/// every resource whose undo is registered (or whose create is in flight)
/// and has not yet run, from the builds' events. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Leftovers {
    builds: Arc<Mutex<BTreeMap<String, Ledger>>>,
}

impl Leftovers {
    /// Records `event` of build `name` (made by a builder of `cloud`).
    pub fn record(&self, name: &str, cloud: Option<&'static str>, event: &Event) {
        let mut builds = self.builds.lock().unwrap_or_else(|e| e.into_inner());
        let ledger = builds.entry(name.to_owned()).or_default();
        ledger.cloud = cloud;
        let mut forget = |r: &Resource| {
            if let Some(at) = ledger.resources.iter().position(|(x, _)| x == r) {
                ledger.resources.remove(at);
            }
        };
        match event {
            Event::BuildStarted { build_id, .. } => ledger.build_id = Some(build_id.clone()),
            Event::UndoRegistered { resource, when } => {
                ledger.resources.push((resource.clone(), *when));
            }
            Event::UndoDismissed { resource } => forget(resource),
            Event::UndoFinished {
                resource,
                outcome: UndoOutcome::Removed | UndoOutcome::NotMade,
            } => forget(resource),
            // A successful build keeps its result (undos run on failure only).
            Event::BuildFinished {
                outcome: StepOutcome::Ok,
                ..
            } => ledger.resources.retain(|(_, w)| *w != UndoWhen::OnFailure),
            _ => {}
        }
    }

    /// One line per build that may leave something: the resources and the
    /// command that removes them.
    pub fn lines(&self) -> Vec<String> {
        let builds = self.builds.lock().unwrap_or_else(|e| e.into_inner());
        builds
            .iter()
            .filter(|(_, l)| !l.resources.is_empty())
            .map(|(name, l)| {
                let what: Vec<String> = l.resources.iter().map(|(r, _)| r.to_string()).collect();
                let build = l
                    .build_id
                    .as_ref()
                    .map_or_else(String::new, |id| format!(" (build {id})"));
                let sweep = match l.cloud {
                    Some(cloud) => format!("; remove them with: imagebake sweep --cloud {cloud}"),
                    None => String::new(),
                };
                format!("{name}{build} may leave: {}{sweep}", what.join(", "))
            })
            .collect()
    }
}
