//! Lists the images of a Triton CloudAPI as a table.
//!
//! Configuration comes only from what node-triton users already have
//! (`Config::from_env`): `TRITON_PROFILE` or `~/.triton/config.json` with
//! `~/.triton/profiles.d/NAME.json`, else `TRITON_URL`, `TRITON_ACCOUNT`,
//! `TRITON_KEY_ID` (and `TRITON_KEY_MATERIAL`, the ssh-agent or `~/.ssh` for
//! the key), with `SDC_*` fallbacks. Against the simulator:
//!
//! ```text
//! cargo run -p imagebake-sim -- --cloud triton      # prints url, account, key paths
//! TRITON_URL=... TRITON_ACCOUNT=imagebake TRITON_KEY_ID=... \
//!   TRITON_KEY_MATERIAL=... cargo run -p imagebake-examples --example triton_list_images
//! ```

use std::process::ExitCode;

use triton_client::types::ListImages;
use triton_client::{Client, Config};

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("triton_list_images: {}", imagebake_core::chain(&e));
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), triton_client::Error> {
    let client = Client::new(Config::from_env()?)?;
    let mut images = client.list_images(&ListImages::new()).await?;
    images.sort_by(|a, b| (&a.name, &a.published_at).cmp(&(&b.name, &b.published_at)));
    println!(
        "{:<36}  {:<24}  {:<12}  {:<8}  {:<12}  {:<8}  PUBLISHED",
        "ID", "NAME", "VERSION", "OS", "TYPE", "STATE"
    );
    for i in &images {
        println!(
            "{:<36}  {:<24}  {:<12}  {:<8}  {:<12}  {:<8}  {}",
            i.id,
            i.name,
            i.version,
            i.os.as_deref().unwrap_or("-"),
            i.image_type.map_or("-", |t| t.as_str()),
            i.state,
            i.published_at.as_deref().unwrap_or("-"),
        );
    }
    println!("{} image(s)", images.len());
    Ok(())
}
