//! `imagebake origin build|publish|release`: origin image sets as
//! triton-origin-image makes them (`imagebake_core::origin`).

mod build;
mod publish;
mod release;

use clap::{Args, Subcommand};
use imagebake_core::CancellationToken;
use imagebake_core::bake::Leftovers;

pub use build::OriginBuildArgs;
pub use publish::PublishArgs;
pub use release::ReleaseArgs;

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
    /// Imports an exported set (a Manta directory) into an IMGAPI
    /// repository (UPDATES_IMGADM_*), origins first; re-running skips what
    /// is there.
    Publish(PublishArgs),
    /// Adds the latest set of a version to the release channels.
    Release(ReleaseArgs),
}

/// Runs the verb; returns the exit code.
pub async fn run(args: &OriginArgs) -> u8 {
    match &args.action {
        OriginAction::Build(a) => build::run(a).await,
        OriginAction::Publish(a) => publish::run(a).await,
        OriginAction::Release(a) => release::run(a).await,
    }
}

/// A token the first Ctrl-C cancels (the run's cleanup then removes what
/// is half done).
fn cancel_on_ctrl_c() -> CancellationToken {
    let cancel = CancellationToken::new();
    crate::build::watch_ctrl_c(cancel.clone(), Leftovers::default());
    cancel
}
