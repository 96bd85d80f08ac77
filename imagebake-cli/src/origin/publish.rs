//! `imagebake origin publish --from MANTA_DIR [--channel C]`.

use clap::Args;
use imagebake_core::chain;
use imagebake_core::origin::{PublishOptions, publish};
use imagebake_core::triton_client::imgapi::{ImgapiClient, ImgapiConfig};
use imagebake_core::triton_client::manta::{MantaClient, MantaConfig};

/// `imagebake origin publish`.
#[derive(Debug, Args)]
pub struct PublishArgs {
    /// The Manta directory `origin build` exported the set to (or its
    /// `<branch>-latest` object); `~~` is `/$MANTA_USER`.
    #[arg(long, value_name = "MANTA_DIR")]
    pub from: String,
    /// The channel to publish to (default: UPDATES_IMGADM_CHANNEL, else
    /// dev when the set's branch is master, experimental otherwise).
    #[arg(long)]
    pub channel: Option<String>,
    /// Images published at the same time.
    #[arg(long, default_value_t = 4)]
    pub parallel: usize,
}

/// Runs `origin publish`; returns the exit code.
pub async fn run(args: &PublishArgs) -> u8 {
    let clients = MantaConfig::from_env()
        .and_then(MantaClient::new)
        .and_then(|m| Ok((m, ImgapiClient::new(ImgapiConfig::from_env()?)?)));
    let (manta, repo) = match clients {
        Ok(c) => c,
        Err(e) => {
            eprintln!("Error: {}", chain(&e));
            return 1;
        }
    };
    let options = PublishOptions {
        channel: args.channel.clone(),
        parallel: args.parallel,
    };
    let cancel = super::cancel_on_ctrl_c();
    match publish(&manta, &repo, &args.from, &options, cancel).await {
        Ok(report) => {
            println!(
                "{}: {} image(s) to {} channel {}",
                report.dir,
                report.images.len(),
                repo.url(),
                report.channel
            );
            for i in &report.images {
                println!(
                    "{} {}@{} {}: {} ({} bytes, sha1 {})",
                    i.uuid,
                    i.name,
                    i.version,
                    i.channel,
                    i.outcome.describe(),
                    i.size,
                    i.sha1
                );
            }
            0
        }
        Err(e) => {
            eprintln!("Error: {}", chain(&e));
            1
        }
    }
}
