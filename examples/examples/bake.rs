//! Runs a Packer JSON template's builds, like `packer build`:
//!
//! ```text
//! cargo run --example bake -- [-only=NAME,..] [-except=NAME,..] TEMPLATE.json
//! ```
//!
//! The builds run in parallel, each event printed on one line prefixed with
//! the build's name; each artifact is printed with its cleanup report. Exits
//! 0 when every build succeeded, 1 when one failed or the template is
//! invalid, 2 on a usage error, and 130 after Ctrl-C (which cancels every
//! build and waits for their cleanup, creates still in flight included; a
//! second Ctrl-C exits at once, printing what each build may leave and the
//! `imagebake sweep` command that removes it).
//!
//! Ready-to-run templates for the simulators are in `examples/templates/`
//! (their `description` and `README.md` say which variables to export).

use std::path::PathBuf;
use std::process::ExitCode;

use imagebake_core::CancellationToken;
use imagebake_examples::bake::{self, BakeError, BakeOptions};

const USAGE: &str = "usage: bake [-only=NAME,..] [-except=NAME,..] TEMPLATE.json";

#[tokio::main]
async fn main() -> ExitCode {
    let mut options = BakeOptions::default();
    let mut template = None;
    for arg in std::env::args().skip(1) {
        let list = |v: &str| {
            v.split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        };
        if let Some(v) = arg
            .strip_prefix("-only=")
            .or_else(|| arg.strip_prefix("--only="))
        {
            options.only = list(v);
        } else if let Some(v) = arg
            .strip_prefix("-except=")
            .or_else(|| arg.strip_prefix("--except="))
        {
            options.except = list(v);
        } else if arg.starts_with('-') || template.is_some() {
            eprintln!("bake: unexpected argument {arg:?}\n{USAGE}");
            return ExitCode::from(2);
        } else {
            template = Some(PathBuf::from(arg));
        }
    }
    let Some(path) = template else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };

    let cancel = CancellationToken::new();
    let on_ctrl_c = cancel.clone();
    let leftovers = options.leftovers.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_err() {
            return;
        }
        eprintln!(
            "\nCtrl-C: cancelling every build, then cleaning up (Ctrl-C again exits at once)…"
        );
        on_ctrl_c.cancel();
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("\nCtrl-C again: exiting before the cleanup ended.");
            let lines = leftovers.lines();
            if lines.is_empty() {
                eprintln!("No build had anything left to remove.");
            }
            for line in lines {
                eprintln!("  {line}");
            }
            std::process::exit(130);
        }
    });

    let result = match bake::load(&path, &options) {
        Ok(t) => bake::run(&t, &options, cancel.clone()).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(artifacts) => {
            println!("\n==> Builds finished. The artifacts of successful builds are:");
            for a in &artifacts {
                println!("--> {}: {a}", a.builder_type());
            }
            ExitCode::SUCCESS
        }
        Err(BakeError::Builds { artifacts, failed }) => {
            println!("\n==> Some builds didn't complete successfully:");
            for f in &failed {
                println!("--> {}: {}", f.name, f.error);
            }
            if !artifacts.is_empty() {
                println!("==> The artifacts of successful builds are:");
                for a in &artifacts {
                    println!("--> {}: {a}", a.builder_type());
                }
            }
            if cancel.is_cancelled() {
                ExitCode::from(130)
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("bake: {}", imagebake_core::chain(&e));
            ExitCode::FAILURE
        }
    }
}
