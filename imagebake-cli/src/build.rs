//! `imagebake build`: evaluates the template, then runs the selected builds
//! with the library's bake runner (`imagebake_core::bake`).

use imagebake_core::bake::{self, BakeError, BakeOptions, UiMode};
use imagebake_core::builders::oxide::ImageDataSource;
use imagebake_core::journal::Journaling;
use imagebake_core::template::{self, Plan, TemplateError};
use imagebake_core::{CancellationToken, OnError};
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
    run_plan(&plan, options(args)).await
}

/// Runs the builds of `plan` (Ctrl-C cancels them, their cleanup first);
/// returns the exit code as [`run`] does. Under `OnError::Keep` the failed
/// builds' leftovers are listed with the command that removes them.
pub async fn run_plan(plan: &Plan, options: BakeOptions) -> u8 {
    let cancel = CancellationToken::new();
    watch_ctrl_c(cancel.clone(), options.leftovers.clone());
    match bake::run(plan, &options, cancel.clone()).await {
        Ok(_) => 0,
        Err(BakeError::Builds { .. }) => {
            if options.on_error == OnError::Keep {
                print_kept(&options);
            }
            if cancel.is_cancelled() {
                eprintln!("Cleanly cancelled builds after being interrupted.");
                130
            } else {
                1
            }
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

/// The runner's options from the command's flags.
fn options(args: &BuildArgs) -> BakeOptions {
    BakeOptions {
        on_error: match args.on_error {
            OnErrorArg::Cleanup => OnError::Cleanup,
            OnErrorArg::Abort => OnError::Keep,
        },
        parallel_builds: args.parallel_builds,
        force: args.force,
        ui: if args.machine_readable {
            UiMode::MachineReadable
        } else if args.timestamp_ui {
            UiMode::TimestampedText
        } else {
            UiMode::Text
        },
        journal: journaling(Some(&args.path)),
        ..BakeOptions::default()
    }
}

/// Where the builds' journals go (`imagebake builds`, `imagebake
/// cleanup`): the state directory; without one, a warning and no journal.
pub fn journaling(template: Option<&std::path::Path>) -> Option<Journaling> {
    match Journaling::default_dir() {
        Ok(j) => Some(match template.and_then(|t| std::fs::canonicalize(t).ok()) {
            Some(t) => j.template(t),
            None => j,
        }),
        Err(e) => {
            eprintln!(
                "Warning: {e}; the builds are not journaled (`imagebake cleanup` cannot help after a crash)"
            );
            None
        }
    }
}

/// Under `-on-error=abort`: what the failed builds kept and how to remove it.
fn print_kept(options: &BakeOptions) {
    let lines = options.leftovers.lines();
    if lines.is_empty() {
        return;
    }
    println!("\n==> -on-error=abort kept what the failed builds made:");
    for line in &lines {
        println!("    {line}");
    }
}

/// The template evaluated with the command's variables, its builds selected.
async fn plan(args: &BuildArgs) -> Result<Plan, TemplateError> {
    let opts = args.vars.options()?;
    let mut plan = template::plan(&args.path, &opts, &ImageDataSource).await?;
    plan.select(&args.only, &args.except)?;
    Ok(plan)
}

/// First Ctrl-C: cancel every build (their cleanup runs). Second: exit at
/// once with what each build may leave and the command that removes it
/// (`imagebake cleanup <build id>`: the process is gone, the journal stays).
/// The handler is installed before this returns, so no early Ctrl-C kills
/// the process without cleanup.
pub(crate) fn watch_ctrl_c(cancel: CancellationToken, leftovers: bake::Leftovers) {
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
        eprintln!("\nCancelling build after receiving interrupt (Ctrl-C again exits at once)…");
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn build_args(argv: &[&str]) -> BuildArgs {
        let argv = ["imagebake", "build"]
            .iter()
            .chain(argv)
            .map(|s| s.to_string());
        match crate::args::Cli::try_parse_from(crate::args::normalize(argv))
            .unwrap()
            .verb
        {
            crate::args::Verb::Build(a) => a,
            _ => panic!("not build"),
        }
    }

    #[test]
    fn flags_reach_the_runner() {
        let o = options(&build_args(&["-force", "-machine-readable", "t.json"]));
        assert!(o.force);
        assert_eq!(o.ui, UiMode::MachineReadable);
        let o = options(&build_args(&[
            "-timestamp-ui",
            "-parallel-builds=2",
            "t.json",
        ]));
        assert!(!o.force);
        assert_eq!((o.ui, o.parallel_builds), (UiMode::TimestampedText, 2));
    }
}
