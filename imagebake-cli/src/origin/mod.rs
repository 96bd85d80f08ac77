//! `imagebake origin publish|release`: origin image sets as
//! triton-origin-image distributes them (`imagebake_core::origin`).

mod publish;
mod release;

use clap::{Args, Subcommand};
use imagebake_core::CancellationToken;

pub use publish::PublishArgs;
pub use release::ReleaseArgs;

/// `imagebake origin`.
#[derive(Debug, Args)]
pub struct OriginArgs {
    /// What to do with an origin image set.
    #[command(subcommand)]
    pub action: OriginAction,
}

/// `imagebake origin` verbs.
#[derive(Debug, Subcommand)]
pub enum OriginAction {
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
        OriginAction::Publish(a) => publish::run(a).await,
        OriginAction::Release(a) => release::run(a).await,
    }
}

/// A token cancelled by the first Ctrl-C (the run's cleanup then removes
/// what is half done).
fn cancel_on_ctrl_c(what: &'static str) -> CancellationToken {
    let cancel = CancellationToken::new();
    let on_signal = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("Interrupted: stopping the {what} and removing what is half done");
            on_signal.cancel();
        }
    });
    cancel
}
