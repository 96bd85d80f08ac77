//! `imagebake origin build|publish|release`: origin image sets as
//! triton-origin-image makes them (`imagebake_core::origin`).

mod build;

use clap::{Args, Subcommand};

pub use build::OriginBuildArgs;

/// `imagebake origin`.
#[derive(Debug, Args)]
pub struct OriginArgs {
    /// What to do with the set.
    #[command(subcommand)]
    pub action: OriginAction,
}

/// `imagebake origin` verbs.
#[derive(Debug, Subcommand)]
pub enum OriginAction {
    /// Builds the images of images.json on Triton and exports them to Manta.
    Build(OriginBuildArgs),
    /// Publishes an exported set to an IMGAPI repository (not yet
    /// implemented).
    Publish(PlaceholderArgs),
    /// Adds a published set to more channels (not yet implemented).
    Release(PlaceholderArgs),
}

/// Placeholder of `publish` and `release` until they land.
#[derive(Debug, Args)]
pub struct PlaceholderArgs {
    /// Ignored.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    pub rest: Vec<String>,
}

/// Runs the verb; returns the exit code.
pub async fn run(args: &OriginArgs) -> u8 {
    match &args.action {
        OriginAction::Build(a) => build::run(a).await,
        OriginAction::Publish(_) | OriginAction::Release(_) => {
            eprintln!("Error: imagebake origin publish|release: not yet implemented");
            1
        }
    }
}
