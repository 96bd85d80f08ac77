//! [`run`]: every build of a plan checked, then run in parallel, each
//! successful one's post-processors after it, then Packer's closing lines.

use std::sync::Arc;
use std::time::Instant;

use super::leftovers::cloud_of;
use super::prepare::prepare_with_notes;
use super::progress::describe;
use super::ui::{Level, Ui, packer_duration};
use super::{BakeError, BakeOptions, FailedBuild, Failure};
use crate::builders::{AnyBuilder, Artifact};
use crate::postprocess::{self, PostCx};
use crate::template::{Plan, PlannedBuild};
use crate::{CancellationToken, Event, FnObserver, Runner};

/// What one build ended with: its artifacts (post-processed) and its
/// failure, if any.
type Outcome = (Vec<Arc<dyn Artifact>>, Option<Failure>);

/// Runs every build of `plan` until each is done, failed or cancelled by
/// `cancel` (every build's cleanup runs in every case), then each
/// successful build's post-processor chains (skipped once cancelled).
///
/// Every builder, provisioner and post-processor is checked first: an
/// invalid one is [`BakeError::Template`] and nothing is started. Returns
/// the artifacts in plan order, or [`BakeError::Builds`] with the artifacts
/// made and the failures when any build (or post-processor) failed.
pub async fn run(
    plan: &Plan,
    options: &BakeOptions,
    cancel: CancellationToken,
) -> Result<Vec<Arc<dyn Artifact>>, BakeError> {
    let (builders, notes): (Vec<AnyBuilder>, Vec<Vec<String>>) = plan
        .builds
        .iter()
        .map(|b| prepare_with_notes(b, &options.registry, options.force))
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .unzip();
    let ui = Ui {
        mode: options.ui,
        sink: options.progress.clone(),
        sensitive: plan.sensitive.clone(),
    };
    let run_uuid = uuid::Uuid::new_v4().to_string();
    for (b, notes) in plan.builds.iter().zip(&notes) {
        ui.show(
            Level::Say,
            &format!("{}: output will be in this color.", b.name),
        );
        for note in notes {
            ui.build(&b.name, Level::Say, &format!("Note: {note}"));
        }
        if b.error_cleanup_provisioner.is_some() {
            ui.build(
                &b.name,
                Level::Error,
                "Warning: the error-cleanup-provisioner is not run yet",
            );
        }
    }

    let limit = match options.parallel_builds {
        0 => builders.len().max(1),
        n => n,
    };
    let slots = Arc::new(tokio::sync::Semaphore::new(limit));
    let runs = plan.builds.iter().zip(&builders).map(|(b, builder)| {
        let (ui, slots, cancel) = (ui.clone(), slots.clone(), cancel.clone());
        let run_uuid = run_uuid.clone();
        async move {
            // The semaphore is never closed: a permit always comes.
            let _slot = slots.acquire().await.ok();
            let started = Instant::now();
            let outcome = one(b, builder, options, &ui, &cancel, run_uuid).await;
            let took = packer_duration(started.elapsed());
            match &outcome.1 {
                None => ui.show(
                    Level::Say,
                    &format!("Build '{}' finished after {took}.", b.name),
                ),
                Some(f) => ui.show(
                    Level::Error,
                    &format!("Build '{}' errored after {took}: {f}", b.name),
                ),
            }
            outcome
        }
    });
    let outcomes = futures::future::join_all(runs).await;
    report(plan, &ui, outcomes)
}

/// Runs build `b` and, when it succeeded and nothing was cancelled, its
/// post-processors.
async fn one(
    b: &PlannedBuild,
    builder: &AnyBuilder,
    options: &BakeOptions,
    ui: &Ui,
    cancel: &CancellationToken,
    run_uuid: String,
) -> Outcome {
    let (name, leftovers, events_ui) = (b.name.clone(), options.leftovers.clone(), ui.clone());
    let cloud = cloud_of(builder.builder_type());
    let journal = options.journal.clone();
    let observer = FnObserver(move |e: &Event| {
        leftovers.record(&name, cloud, journal.as_ref(), e);
        if let Some((level, line)) = describe(e) {
            events_ui.build(&name, level, &line);
        }
    });
    let mut runner = Runner::new()
        .observer(Arc::new(observer))
        .on_error(options.on_error);
    if let Some(j) = &options.journal {
        runner = runner.journal(j.clone());
    }
    let artifact: Arc<dyn Artifact> = match builder.run(&runner, cancel.child_token()).await {
        Ok(a) => Arc::from(a),
        Err(e) => return (Vec::new(), Some(Failure::Build(e))),
    };
    if b.post_processors.is_empty() || cancel.is_cancelled() {
        return (vec![artifact], None);
    }
    let (pp_ui, name) = (ui.clone(), b.name.clone());
    let cx = PostCx {
        build_name: b.packer_build_name.clone(),
        builder_type: b.builder_type.clone(),
        run_uuid,
        cwd: options.cwd.clone(),
        sensitive: b.sensitive.clone(),
        progress: Arc::new(move |line: &str| pp_ui.build(&name, Level::Say, line)),
        cancel: cancel.child_token(),
        force: options.force,
    };
    match postprocess::run(b, artifact.clone(), &cx).await {
        Ok(artifacts) => (artifacts, None),
        Err(e) => (vec![artifact], Some(Failure::PostProcess(e))),
    }
}

/// Packer's closing lines (and machine-readable records), then the result.
fn report(
    plan: &Plan,
    ui: &Ui,
    outcomes: Vec<Outcome>,
) -> Result<Vec<Arc<dyn Artifact>>, BakeError> {
    let builds = outcomes.len();
    let mut artifacts = Vec::new();
    let mut failed = Vec::new();
    let mut made = Vec::new();
    for (b, (arts, failure)) in plan.builds.iter().zip(outcomes) {
        if !arts.is_empty() {
            made.push((b.name.as_str(), arts.clone()));
        }
        artifacts.extend(arts);
        if let Some(error) = failure {
            failed.push(FailedBuild {
                name: b.name.clone(),
                error,
            });
        }
    }
    if !failed.is_empty() {
        ui.machine("", "error-count", &[&failed.len().to_string()]);
        ui.show(
            Level::Error,
            "\n==> Some builds didn't complete successfully and had errors:",
        );
        for f in &failed {
            let message = f.error.to_string();
            ui.machine(&f.name, "error", &[&message]);
            ui.show(Level::Error, &format!("--> {}: {message}", f.name));
        }
    }
    if made.is_empty() {
        ui.show(
            Level::Say,
            "\n==> Builds finished but no artifacts were created.",
        );
    } else {
        ui.show(
            Level::Say,
            "\n==> Builds finished. The artifacts of successful builds are:",
        );
    }
    for (name, arts) in &made {
        ui.machine(name, "artifact-count", &[&arts.len().to_string()]);
        for (i, a) in arts.iter().enumerate() {
            let i = i.to_string();
            let files = a.files();
            ui.machine(name, "artifact", &[&i, "builder-id", a.kind().builder_id]);
            ui.machine(name, "artifact", &[&i, "id", &a.packer_id()]);
            ui.machine(name, "artifact", &[&i, "string", &a.to_string()]);
            ui.machine(
                name,
                "artifact",
                &[&i, "files-count", &files.len().to_string()],
            );
            for (j, f) in files.iter().enumerate() {
                let (j, f) = (j.to_string(), f.to_string_lossy());
                ui.machine(name, "artifact", &[&i, "file", &j, &f]);
            }
            ui.machine(name, "artifact", &[&i, "end"]);
            ui.show(Level::Say, &format!("--> {name}: {a}"));
        }
    }
    if failed.is_empty() {
        Ok(artifacts)
    } else {
        Err(BakeError::Builds {
            artifacts,
            failed,
            builds,
        })
    }
}
