//! `imagebake cleanup`: replays the journals of builds whose process died.

use imagebake_core::CleanupOutcome;
use imagebake_core::bake;
use imagebake_core::builders::BuilderRegistry;
use imagebake_core::builders::oxide::ImageDataSource;
use imagebake_core::journal::{self, CleanupOptions, FromBuilders, FromEnv, Sweepers};
use imagebake_core::template::{self, Options};

use crate::args::CleanupArgs;

/// Runs the verb; returns the exit code: 1 when a build was refused (still
/// running), something could not be removed, or a listing failed.
pub async fn run(args: &CleanupArgs) -> u8 {
    match cleanup(args).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("Error: {e}");
            1
        }
    }
}

async fn cleanup(args: &CleanupArgs) -> Result<u8, String> {
    let dir = journal::builds_dir().map_err(|e| e.to_string())?;
    let sweepers: Box<dyn Sweepers> = match &args.template {
        None => Box::new(FromEnv),
        Some(path) => Box::new(template_builders(path).await?),
    };
    let options = CleanupOptions {
        build_ids: args.build_ids.clone(),
        crashed: args.crashed,
        dry_run: args.dry_run,
    };
    let cancel = crate::sweep::cancel_on_ctrl_c();
    let done = journal::cleanup(&dir, &options, sweepers.as_ref(), &cancel)
        .await
        .map_err(|e| imagebake_core::chain(&e).to_string())?;
    if done.is_empty() {
        println!("no crashed builds in {}", dir.display());
        return Ok(0);
    }
    let mut failed = false;
    for b in &done {
        println!("==> {} ({}), {}:", b.build_id, b.name, b.state);
        if let Some(why) = &b.refused {
            println!("    refused: {why}");
        }
        for e in &b.report.entries {
            match &e.outcome {
                CleanupOutcome::Removed => println!("    removed {}", e.resource),
                CleanupOutcome::AlreadyGone => println!("    already gone {}", e.resource),
                CleanupOutcome::Adopted => println!("    adopted and removed {}", e.resource),
                CleanupOutcome::Kept => println!("    would remove {}", e.resource),
                CleanupOutcome::Failed(err) => println!(
                    "    NOT removed {}: failed: {}",
                    e.resource,
                    imagebake_core::chain(err)
                ),
                other => println!("    {}: {other:?}", e.resource),
            }
        }
        for n in &b.notes {
            println!("    {n}");
        }
        for e in &b.errors {
            println!("    error: {}", imagebake_core::chain(e));
        }
        if b.refused.is_none() && b.report.entries.is_empty() && b.notes.is_empty() {
            println!("    nothing left");
        }
        failed |= !b.is_clean();
    }
    if args.dry_run {
        println!("(dry run: nothing was removed, the journals are unchanged)");
    }
    Ok(u8::from(failed))
}

/// The builders of the template at `path` (variables from `PKR_VAR_*`),
/// for their credentials.
async fn template_builders(path: &std::path::Path) -> Result<FromBuilders, String> {
    let opts = Options::from_process().map_err(|e| e.to_string())?;
    let plan = template::plan(path, &opts, &ImageDataSource)
        .await
        .map_err(|e| e.to_string())?;
    let registry = BuilderRegistry::default();
    let builders = plan
        .builds
        .iter()
        .map(|b| bake::prepare(b, &registry, false).map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(FromBuilders(builders))
}
