//! `imagebake builds`: the journaled builds and their state.

use imagebake_core::journal::{self, RETENTION};

use crate::args::BuildsArgs;

/// Runs the verb; returns the exit code (1 when the state directory is
/// unknown or a prune failed).
pub fn run(args: &BuildsArgs) -> u8 {
    let dir = match journal::builds_dir() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("Error: {e}");
            return 1;
        }
    };
    if args.prune {
        match journal::prune(&dir, RETENTION) {
            Ok(removed) => {
                for p in &removed {
                    println!("removed {}", p.display());
                }
                println!("pruned {} journal(s)", removed.len());
            }
            Err(e) => {
                eprintln!("Error: {e}");
                return 1;
            }
        }
        return 0;
    }
    let builds = journal::list_builds(&dir);
    if builds.is_empty() {
        println!("no builds journaled in {}", dir.display());
        return 0;
    }
    println!(
        "{:<14} {:<20} {:<9} {:>7}  {:<14} NAME",
        "BUILD", "STARTED (UTC)", "STATE", "PENDING", "BUILDERS"
    );
    for b in &builds {
        let started = chrono::DateTime::from_timestamp(i64::try_from(b.started).unwrap_or(0), 0)
            .map_or_else(
                || b.started.to_string(),
                |t| t.format("%Y-%m-%d %H:%M:%S").to_string(),
            );
        println!(
            "{:<14} {:<20} {:<9} {:>7}  {:<14} {}",
            b.build_id,
            started,
            b.state.to_string(),
            b.pending,
            b.builders.join(","),
            b.name
        );
    }
    0
}
