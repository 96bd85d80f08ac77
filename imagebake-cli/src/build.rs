//! `imagebake build`: evaluates the template, then runs the selected builds
//! in parallel with the bake runner (`imagebake_examples::bake`).

use std::sync::Arc;

use imagebake_core::builders::Artifact;
use imagebake_core::builders::oxide::ImageDataSource;
use imagebake_core::packer_template::Template;
use imagebake_core::template::{self, Plan, TemplateError};
use imagebake_core::{CancellationToken, OnError};
use imagebake_examples::bake::{self, BakeError, BakeOptions};
use serde_json::{Value, json};
use tokio::signal::unix::{SignalKind, signal};

use crate::args::{BuildArgs, OnErrorArg};

/// Runs the verb; returns the exit code: 0 when every build succeeded, 1
/// otherwise, 130 after Ctrl-C (once every cleanup ended).
pub async fn run(args: &BuildArgs) -> u8 {
    let plan = match plan(args).await {
        Ok(p) => p,
        Err(e) => {
            eprintln!("Error: {e}");
            return 1;
        }
    };
    for w in &plan.warnings {
        eprintln!("Warning: {w}");
    }
    if args.force {
        eprintln!("Warning: -force is not supported yet: an existing artifact is not replaced");
    }
    if args.machine_readable {
        eprintln!("Warning: -machine-readable is not supported yet: progress is shown as text");
    }
    for b in plan.builds.iter().filter(|b| !b.post_processors.is_empty()) {
        eprintln!(
            "Warning: {}: post-processors are not run yet ({})",
            b.name,
            b.post_processors
                .iter()
                .flatten()
                .map(|p| p.kind.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let template = match to_template(&plan) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("Error: {}", imagebake_core::chain(&e));
            return 1;
        }
    };

    let mut options = BakeOptions {
        on_error: match args.on_error {
            OnErrorArg::Cleanup => OnError::Cleanup,
            OnErrorArg::Abort => OnError::Keep,
        },
        parallel_builds: args.parallel_builds,
        ..BakeOptions::default()
    };
    let sensitive = plan.sensitive.clone();
    let stamp = args.timestamp_ui;
    options.progress = Arc::new(move |line: &str| {
        let line = sensitive.mask(line);
        if stamp {
            println!(
                "{}: {line}",
                chrono::Local::now().format("%Y-%m-%dT%H:%M:%S%:z")
            );
        } else {
            println!("{line}");
        }
    });

    let cancel = CancellationToken::new();
    watch_ctrl_c(cancel.clone(), options.leftovers.clone());
    let result = bake::run(&template, &options, cancel.clone()).await;
    match result {
        Ok(artifacts) => {
            print_artifacts(&plan, &artifacts);
            0
        }
        Err(BakeError::Builds { artifacts, failed }) => {
            println!("\n==> Some builds didn't complete successfully and had errors:");
            for f in &failed {
                println!(
                    "--> {}: {}",
                    f.name,
                    plan.sensitive.mask(&f.error.to_string())
                );
            }
            print_artifacts(&plan, &artifacts);
            if args.on_error == OnErrorArg::Abort {
                let lines = options.leftovers.lines();
                if !lines.is_empty() {
                    println!("\n==> -on-error=abort kept what the failed builds made:");
                }
                for line in &lines {
                    println!("    {line}");
                }
                if !lines.is_empty() {
                    println!(
                        "    (add --build <its build id> --older-than 0s to remove only that \
                         build's, right away)"
                    );
                }
            }
            if cancel.is_cancelled() { 130 } else { 1 }
        }
        Err(e) => {
            eprintln!(
                "Error: {}",
                plan.sensitive.mask(&imagebake_core::chain(&e).to_string())
            );
            1
        }
    }
}

/// Packer's closing lines for the artifacts made (nothing when none was).
fn print_artifacts(plan: &Plan, artifacts: &[Box<dyn Artifact>]) {
    if artifacts.is_empty() {
        return;
    }
    println!("\n==> Builds finished. The artifacts of successful builds are:");
    for a in artifacts {
        let text = plan.sensitive.mask(&a.to_string());
        println!("--> {}: {text}", a.builder_type());
    }
}

/// The template evaluated with the command's variables, its builds selected.
async fn plan(args: &BuildArgs) -> Result<Plan, TemplateError> {
    let opts = args.vars.options()?;
    // The only data source (oxide-image) is not read yet: see the report.
    let mut plan = template::plan(&args.path, &opts, &ImageDataSource).await?;
    plan.select(&args.only, &args.except)?;
    Ok(plan)
}

/// The selected builds as the bake runner's template: one builder block per
/// build (named as the build) and each build's provisioners limited to it.
fn to_template(plan: &Plan) -> Result<Template, imagebake_core::Error> {
    let mut builders = Vec::new();
    let mut provisioners = Vec::new();
    for b in &plan.builds {
        let mut block = b.config.clone();
        if let Value::Object(m) = &mut block {
            m.insert("type".into(), json!(b.builder_type));
            m.insert("name".into(), json!(b.name));
        }
        builders.push(block);
        for p in &b.provisioners {
            let mut block = p.config.clone();
            if let Value::Object(m) = &mut block {
                m.insert("type".into(), json!(p.kind));
                m.insert("only".into(), json!([b.name]));
            }
            provisioners.push(block);
        }
    }
    Template::from_json(&json!({"builders": builders, "provisioners": provisioners}))
}

/// First Ctrl-C: cancel every build (their cleanup runs). Second: exit at
/// once with what each build may leave and the command that removes it.
/// The handler is installed before this returns, so no early Ctrl-C kills
/// the process without cleanup.
fn watch_ctrl_c(cancel: CancellationToken, leftovers: bake::Leftovers) {
    let mut interrupts = match signal(SignalKind::interrupt()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("Warning: cannot catch Ctrl-C ({e}): an interrupt will skip the cleanup");
            return;
        }
    };
    tokio::spawn(async move {
        if interrupts.recv().await.is_none() {
            return;
        }
        eprintln!("\nCancelling builds after receiving interrupt (Ctrl-C again exits at once)…");
        cancel.cancel();
        if interrupts.recv().await.is_some() {
            eprintln!("\nCtrl-C again: exiting before the cleanup ended.");
            for line in leftovers.lines() {
                eprintln!("  {line}");
            }
            std::process::exit(130);
        }
    });
}
