//! `imagebake origin release --version V [--from dev] [--to staging,release,support]`.

use clap::Args;
use imagebake_core::chain;
use imagebake_core::origin::{RELEASE_CHANNELS, ReleaseOptions, release};
use imagebake_core::triton_client::imgapi::{ImgapiClient, ImgapiConfig};

/// `imagebake origin release`.
#[derive(Debug, Args)]
pub struct ReleaseArgs {
    /// The set's version.
    #[arg(long)]
    pub version: String,
    /// The channel the set is in.
    #[arg(long, default_value = "dev")]
    pub from: String,
    /// The channels to add it to (comma list).
    #[arg(long, value_delimiter = ',', default_values_t = RELEASE_CHANNELS.iter().map(|c| (*c).to_owned()))]
    pub to: Vec<String>,
}

/// Runs `origin release`; returns the exit code.
pub async fn run(args: &ReleaseArgs) -> u8 {
    let repo = match ImgapiConfig::from_env().and_then(ImgapiClient::new) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("Error: {}", chain(&e));
            return 1;
        }
    };
    let options = ReleaseOptions {
        version: args.version.clone(),
        from: args.from.clone(),
        to: args.to.clone(),
    };
    match release(&repo, &options).await {
        Ok(done) => {
            for r in &done {
                let what = if r.added { "added" } else { "already there" };
                println!("{} {}@{} {}: {what}", r.uuid, r.name, r.version, r.channel);
            }
            0
        }
        Err(e) => {
            eprintln!("Error: {}", chain(&e));
            1
        }
    }
}
