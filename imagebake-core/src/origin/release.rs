//! `imagebake origin release`: the latest set of a version, found in one
//! channel, added to the release channels with ChannelAddImage, as the
//! manual release of triton-origin-image does with `updates-imgadm -C dev
//! channel-add` (`shared/notes/triton-builders.md` §3.4,
//! `triton-distribution.md` §1.2, §1.5).

use std::collections::BTreeSet;

use futures::FutureExt as _;
use futures::future::BoxFuture;
use serde::Serialize;
use triton_client::imgapi::{Image, ImgapiClient, ListImagesQuery};
use uuid::Uuid;

use super::OriginError;

/// The channels a release adds to by default.
pub const RELEASE_CHANNELS: &[&str] = &["staging", "release", "support"];

/// What to release.
#[derive(Debug, Clone)]
pub struct ReleaseOptions {
    /// The set's version (every image of the set has it).
    pub version: String,
    /// The channel the set is in (default `dev`).
    pub from: String,
    /// The channels to add it to (default staging, release, support).
    pub to: Vec<String>,
}

impl ReleaseOptions {
    /// Version `version` from `dev` to staging, release and support.
    pub fn new(version: impl Into<String>) -> Self {
        Self {
            version: version.into(),
            from: "dev".into(),
            to: RELEASE_CHANNELS.iter().map(|c| (*c).to_owned()).collect(),
        }
    }
}

/// One image added (or found) in one channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReleasedImage {
    /// The image UUID.
    pub uuid: Uuid,
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
    /// The target channel.
    pub channel: String,
    /// `true`: added now; `false`: it was already there.
    pub added: bool,
}

/// Adds the latest images of `options.version` in `options.from` (the
/// newest per name, as `updates-imgadm list --latest`) to each channel of
/// `options.to`, origins of the set before the images built on them;
/// an image already in a channel is reported, not added again. No image
/// of that version in `from` is an error naming both.
pub async fn release(
    repo: &ImgapiClient,
    options: &ReleaseOptions,
) -> Result<Vec<ReleasedImage>, OriginError> {
    if options.to.is_empty() {
        return Err(OriginError::invalid("--to", "names no channel"));
    }
    let from = repo
        .with_channel(&options.from)
        .map_err(OriginError::cloud)?;
    for c in &options.to {
        repo.with_channel(c).map_err(OriginError::cloud)?;
    }
    let known: Vec<String> = repo
        .list_channels()
        .await
        .map_err(OriginError::cloud)?
        .into_iter()
        .map(|c| c.name)
        .collect();
    for c in std::iter::once(&options.from).chain(&options.to) {
        if !known.contains(c) {
            return Err(OriginError::invalid(
                format!("channel {c}"),
                format!("is not a channel of {} ({})", repo.url(), known.join(", ")),
            ));
        }
    }
    let set = from
        .list_latest(&ListImagesQuery::new().version(options.version.clone()))
        .await
        .map_err(OriginError::cloud)?;
    if set.is_empty() {
        return Err(OriginError::invalid(
            format!("version {}", options.version),
            format!(
                "no active image of that version in channel {}",
                options.from
            ),
        ));
    }
    let mut out = Vec::new();
    for level in levels(&set) {
        for channel in &options.to {
            // Boxed so the futures are `Send` for every lifetime (callers
            // spawn this).
            let adds: Vec<BoxFuture<'_, Result<ReleasedImage, OriginError>>> = level
                .iter()
                .map(|image| add_to(&from, image, channel).boxed())
                .collect();
            let added = futures::future::try_join_all(adds).await?;
            out.extend(added);
        }
    }
    Ok(out)
}

async fn add_to(
    from: &ImgapiClient,
    image: &Image,
    channel: &str,
) -> Result<ReleasedImage, OriginError> {
    let added = !image.channels.iter().any(|c| c == channel);
    if added {
        from.channel_add_image(image.uuid, channel)
            .await
            .map_err(OriginError::cloud)?;
    }
    Ok(ReleasedImage {
        uuid: image.uuid,
        name: image.name.clone(),
        version: image.version.clone(),
        channel: channel.to_owned(),
        added,
    })
}

/// The set in levels: an image whose origin is in the set comes after it.
fn levels(set: &[Image]) -> Vec<Vec<&Image>> {
    let uuids: BTreeSet<Uuid> = set.iter().map(|i| i.uuid).collect();
    let mut placed: BTreeSet<Uuid> = BTreeSet::new();
    let mut levels = Vec::new();
    while placed.len() < set.len() {
        let level: Vec<&Image> = set
            .iter()
            .filter(|i| !placed.contains(&i.uuid))
            .filter(|i| {
                i.origin
                    .is_none_or(|o| !uuids.contains(&o) || placed.contains(&o))
            })
            .collect();
        // The repository refuses origin cycles; should one appear, the rest
        // goes in one level rather than never.
        let level = if level.is_empty() {
            set.iter().filter(|i| !placed.contains(&i.uuid)).collect()
        } else {
            level
        };
        placed.extend(level.iter().map(|i| i.uuid));
        levels.push(level);
    }
    levels
}
