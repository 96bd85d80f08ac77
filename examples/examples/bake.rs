//! Runs a Packer template's builds with the library's runner
//! (`imagebake_core::bake`), like `packer build` (and `imagebake build`):
//!
//! ```text
//! cargo run --example bake -- [-only=NAME,..] [-except=NAME,..] [-var NAME=VALUE].. TEMPLATE
//! ```
//!
//! The template (`.json`, `.pkr.hcl` or a directory) is evaluated with
//! `imagebake_core::template::plan`; the builds run in parallel, each event
//! printed as Packer prints it (`==> NAME: …`), then the artifacts. Exits 0
//! when every build succeeded, 1 when one failed or the template is
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
use imagebake_core::bake::{self, BakeError, BakeOptions};
use imagebake_core::template::{self, Options, Placeholders};

const USAGE: &str = "usage: bake [-only=NAME,..] [-except=NAME,..] [-var NAME=VALUE].. TEMPLATE";

#[tokio::main]
async fn main() -> ExitCode {
    let Ok(mut opts) = Options::from_process() else {
        eprintln!("bake: cannot read the working directory");
        return ExitCode::FAILURE;
    };
    let (mut only, mut except, mut path) = (Vec::new(), Vec::new(), None);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let list = |v: &str| -> Vec<String> {
            v.split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        };
        let arg = arg.strip_prefix('-').unwrap_or(&arg).to_owned();
        if let Some(v) = arg.strip_prefix("-only=").or(arg.strip_prefix("only=")) {
            only = list(v);
        } else if let Some(v) = arg.strip_prefix("-except=").or(arg.strip_prefix("except=")) {
            except = list(v);
        } else if arg == "var" || arg == "-var" {
            match args.next().map(|v| Options::parse_var(&v)) {
                Some(Ok(kv)) => opts.vars.push(kv),
                Some(Err(e)) => {
                    eprintln!("bake: {e}\n{USAGE}");
                    return ExitCode::from(2);
                }
                None => {
                    eprintln!("bake: -var needs NAME=VALUE\n{USAGE}");
                    return ExitCode::from(2);
                }
            }
        } else if arg.starts_with('-') || path.is_some() {
            eprintln!("bake: unexpected argument {arg:?}\n{USAGE}");
            return ExitCode::from(2);
        } else {
            path = Some(PathBuf::from(arg));
        }
    }
    let Some(path) = path else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };

    let plan = match template::plan(&path, &opts, &Placeholders).await {
        Ok(mut p) => match p.select(&only, &except) {
            Ok(()) => p,
            Err(e) => {
                eprintln!("bake: {e}");
                return ExitCode::FAILURE;
            }
        },
        Err(e) => {
            eprintln!("bake: {e}");
            return ExitCode::FAILURE;
        }
    };
    for w in &plan.warnings {
        eprintln!("Warning: {w}");
    }

    let options = BakeOptions::default();
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

    match bake::run(&plan, &options, cancel.clone()).await {
        Ok(_) => ExitCode::SUCCESS,
        Err(BakeError::Builds { .. }) if cancel.is_cancelled() => ExitCode::from(130),
        Err(BakeError::Builds { .. }) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("bake: {}", imagebake_core::chain(&e));
            ExitCode::FAILURE
        }
    }
}
