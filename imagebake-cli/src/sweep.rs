//! `imagebake sweep`: the builders' sweepers, with the clients' usual
//! credential sources.

use imagebake_core::builders::osc_chroot::OscSweeper;
use imagebake_core::builders::oxide::OxideSweeper;
use imagebake_core::builders::triton::TritonSweeper;
use imagebake_core::{
    CancellationToken, CleanupOutcome, SweepFilter, Sweeper, osc_client, oxide_client,
    triton_client,
};

use crate::args::{Cloud, SweepArgs};

/// Runs the verb; returns the exit code (1 when a listing or a removal
/// failed).
pub async fn run(args: &SweepArgs) -> u8 {
    let sweeper = match sweeper(args) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("Error: {e}");
            return 1;
        }
    };
    let mut filter = match &args.build {
        Some(id) => SweepFilter {
            prefix: id.clone(),
            older_than: args.older_than,
            dry_run: false,
        },
        None => SweepFilter::all_builds(args.older_than),
    };
    if args.dry_run {
        filter = filter.dry_run();
    }
    let cancel = cancel_on_ctrl_c();
    let report = sweeper.sweep(&filter, &cancel).await;
    let mut failed = !report.list_errors.is_empty();
    for e in &report.list_errors {
        eprintln!("Error: {e}");
    }
    for entry in &report.cleanup.entries {
        match &entry.outcome {
            CleanupOutcome::Removed => println!("removed {}", entry.resource),
            CleanupOutcome::Kept => println!("would remove {}", entry.resource),
            CleanupOutcome::Failed(e) => {
                failed = true;
                println!("failed to remove {}: {e}", entry.resource);
            }
            other => println!("{}: {other:?}", entry.resource),
        }
    }
    if report.cleanup.entries.is_empty() {
        println!(
            "nothing to remove (leftovers of {} older than {:?})",
            filter.prefix, filter.older_than
        );
    }
    u8::from(failed)
}

/// A token cancelled by Ctrl-C: the removal under way ends, no other
/// starts (`sweep`, `cleanup`).
pub fn cancel_on_ctrl_c() -> CancellationToken {
    let cancel = CancellationToken::new();
    let on_signal = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("Interrupted: stopping after the current removal");
            on_signal.cancel();
        }
    });
    cancel
}

/// The sweeper of `--cloud`, its client configured as the cloud's own
/// tools configure theirs.
fn sweeper(args: &SweepArgs) -> Result<Box<dyn Sweeper>, String> {
    Ok(match args.cloud {
        Cloud::Triton => {
            let config = triton_client::Config::from_env().map_err(|e| e.to_string())?;
            let client = triton_client::Client::new(config).map_err(|e| e.to_string())?;
            Box::new(TritonSweeper::new(client))
        }
        Cloud::Oxide => {
            let project = args
                .project
                .clone()
                .or_else(|| std::env::var("OXIDE_PROJECT").ok())
                .ok_or("--cloud oxide needs --project PROJECT (or OXIDE_PROJECT)")?;
            let client = oxide_client::Client::from_env().map_err(|e| e.to_string())?;
            Box::new(OxideSweeper::new(client, project))
        }
        Cloud::Osc => {
            let client = osc_client::Client::from_env().map_err(|e| e.to_string())?;
            Box::new(OscSweeper::new(client))
        }
    })
}
