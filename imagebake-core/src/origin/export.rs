//! One image exported to Manta as triton-origin-image leaves it: the
//! directory made first (ExportImage names the copies after an existing
//! directory), then the manifest rewritten and put back.

use serde_json::Value;
use triton_client::Client;
use triton_client::manta::{MantaClient, PutOptions, PutSource};
use triton_client::types::ImageId;

use super::{BuildStamp, OriginError, rewrite_manifest};

/// Where an exported image's copies are.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportedImage {
    /// `<dir>/<name>-<version>.imgmanifest`.
    pub manifest_path: String,
    /// `<dir>/<name>-<version>.zfs.gz`.
    pub image_path: String,
    /// The manifest as written back (rewritten).
    pub manifest: Value,
}

/// Exports `image` into the Manta directory `dir` (created with its parents
/// first), then rewrites its `.imgmanifest` with [`rewrite_manifest`]
/// against `origin_manifest` and puts it back.
pub async fn export_portable(
    cloud: &Client,
    manta: &MantaClient,
    image: &ImageId,
    dir: &str,
    origin_manifest: &Value,
) -> Result<ExportedImage, OriginError> {
    let dir = manta.resolve(dir).map_err(OriginError::cloud)?;
    manta.mkdirp(&dir).await.map_err(OriginError::cloud)?;
    let out = cloud
        .export_image(image, &dir)
        .await
        .map_err(OriginError::cloud)?;
    let (Some(manifest_path), Some(image_path)) = (out.manifest_path, out.image_path) else {
        return Err(OriginError::invalid(
            format!("ExportImage of {image}"),
            "the answer names no manifest_path or image_path",
        ));
    };
    let bytes = manta
        .get_bytes(&manifest_path)
        .await
        .map_err(OriginError::cloud)?;
    let mut manifest: Value = serde_json::from_slice(&bytes)
        .map_err(|e| OriginError::invalid(manifest_path.clone(), format!("not JSON: {e}")))?;
    rewrite_manifest(&mut manifest, origin_manifest)?;
    let text = serde_json::to_vec_pretty(&manifest)
        .map_err(|e| OriginError::invalid(manifest_path.clone(), e.to_string()))?;
    manta
        .put(
            &manifest_path,
            PutSource::bytes(text),
            PutOptions {
                content_type: Some("application/json".into()),
                ..PutOptions::default()
            },
        )
        .await
        .map_err(OriginError::cloud)?;
    Ok(ExportedImage {
        manifest_path,
        image_path,
        manifest,
    })
}

/// Marks a finished set: `<dir>/buildinfo.json` (`{branch, timestamp,
/// git}`), then the object `<parent of dir>/<branch>-latest` holding the
/// directory's path (written last: readers follow it to a complete set).
pub async fn write_set_markers(
    manta: &MantaClient,
    dir: &str,
    stamp: &BuildStamp,
) -> Result<String, OriginError> {
    let dir = manta.resolve(dir).map_err(OriginError::cloud)?;
    let json_opts = PutOptions {
        content_type: Some("application/json".into()),
        ..PutOptions::default()
    };
    let info = serde_json::to_vec_pretty(stamp)
        .map_err(|e| OriginError::invalid("buildinfo.json", e.to_string()))?;
    manta
        .put(
            &format!("{dir}/buildinfo.json"),
            PutSource::bytes(info),
            json_opts,
        )
        .await
        .map_err(OriginError::cloud)?;
    let latest = latest_path(&dir, &stamp.branch);
    manta
        .put(
            &latest,
            PutSource::bytes(format!("{dir}\n")),
            PutOptions {
                content_type: Some("text/plain".into()),
                ..PutOptions::default()
            },
        )
        .await
        .map_err(OriginError::cloud)?;
    Ok(latest)
}

/// The `<branch>-latest` object of the set directory `dir` (resolved):
/// beside the directory, in its parent.
pub(crate) fn latest_path(dir: &str, branch: &str) -> String {
    let parent = dir.rsplit_once('/').map_or("", |(p, _)| p);
    format!("{parent}/{branch}-latest")
}
