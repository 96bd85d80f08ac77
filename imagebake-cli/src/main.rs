//! `imagebake`: Packer's verbs over imagebake's template engine and builders.
//!
//! Flags are written as Packer writes them (`-var K=V`, `-only=a,b`); the
//! GNU forms (`--var`, `--only a,b`) work too. This crate only parses flags,
//! calls `imagebake_core` and prints.

mod args;
mod build;
mod builds;
mod cleanup;
mod inspect;
mod origin;
mod spec;
mod sweep;
mod validate;

use std::process::ExitCode;

use clap::Parser;

use crate::args::{Cli, Verb};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = match Cli::try_parse_from(args::normalize(std::env::args())) {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version print to stdout and succeed.
            let code = if e.use_stderr() { 1 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let code = match cli.verb {
        Verb::Validate(a) => validate::run(&a).await,
        Verb::Inspect(a) => inspect::run(&a).await,
        Verb::Sweep(a) => sweep::run(&a).await,
        Verb::Build(a) => build::run(&a).await,
        Verb::Spec(a) => spec::run(&a).await,
        Verb::Origin(a) => origin::run(&a).await,
        Verb::Cleanup(a) => cleanup::run(&a).await,
        Verb::Builds(a) => builds::run(&a),
    };
    ExitCode::from(code)
}
