//! Lists the Outscale images visible to the account (optionally those whose
//! name matches `OSC_IMAGE_NAME`, `*` wildcards allowed), using only the
//! standard Outscale configuration: `OSC_ACCESS_KEY`, `OSC_SECRET_KEY`,
//! `OSC_REGION`, `OSC_ENDPOINT_API`, ... or a profile in `~/.osc/config.json`.
//!
//! ```text
//! cargo run -p imagebake-sim -- --cloud osc      # prints endpoint and keys
//! OSC_ENDPOINT_API=http://127.0.0.1:PORT OSC_ACCESS_KEY=... OSC_SECRET_KEY=... \
//!     cargo run --example osc_list_images
//! ```

use futures::TryStreamExt;
use osc_client::Client;
use osc_client::api::FiltersImage;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let client = Client::from_env()?;
    let filters = match std::env::var("OSC_IMAGE_NAME") {
        Ok(name) => FiltersImage::names([name]),
        Err(_) => FiltersImage::default(),
    };
    let mut images: Vec<_> = client.images().list(filters).try_collect().await?;
    images.sort_by(|a, b| a.creation_date.cmp(&b.creation_date));
    println!("{} image(s) in {}", images.len(), client.config().region);
    for i in &images {
        let state = i.state.as_ref().map_or("?".to_owned(), ToString::to_string);
        let owner = i.account_alias.as_deref().unwrap_or(&i.account_id);
        println!(
            "{:<14} {:<10} {:<14} {:<26} {}",
            i.image_id, state, owner, i.creation_date, i.image_name
        );
    }
    Ok(())
}
