//! Lists the silo's images and, with `OXIDE_PROJECT` set, the project's
//! images, using only the standard Oxide configuration (`OXIDE_HOST` +
//! `OXIDE_TOKEN`, or a profile from `~/.config/oxide`).
//!
//! ```text
//! cargo run -p imagebake-sim -- --cloud oxide      # prints host and token
//! OXIDE_HOST=http://127.0.0.1:PORT OXIDE_TOKEN=... OXIDE_PROJECT=imagebake \
//!     cargo run --example oxide_list_images
//! ```

use futures::TryStreamExt;
use oxide_client::{Client, Image, ListOptions, NameOrId};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let client = Client::from_env()?;
    let silo: Vec<Image> = client
        .image_list(None, ListOptions::default())
        .try_collect()
        .await?;
    print_images("silo", &silo);
    if let Ok(project) = std::env::var("OXIDE_PROJECT") {
        let project = NameOrId::from(project);
        let images: Vec<Image> = client
            .image_list(Some(&project), ListOptions::default())
            .try_collect()
            .await?;
        print_images(&format!("project {project}"), &images);
    }
    Ok(())
}

fn print_images(scope: &str, images: &[Image]) {
    println!("{} image(s) in {scope}:", images.len());
    for i in images {
        println!(
            "  {}  {:<24} {} {}  {} bytes",
            i.id, i.name, i.os, i.version, i.size
        );
    }
}
