use std::borrow::Cow;

use async_trait::async_trait;
use triton_client::Client;
use triton_client::manta::{EntryKind, MantaClient};
use triton_client::types::Image;

use super::api;
use crate::{Error, Resource, Step, StepCx};

/// The image file extensions ExportImage may write, by
/// `files[0].compression` (`none`, `gzip`, `bzip2`, `xz`).
const FILE_EXTENSIONS: &[&str] = &[".zfs", ".zfs.gz", ".zfs.bz2", ".zfs.xz"];

/// Where ExportImage put an image's copies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MantaExport {
    /// The Manta the DC's IMGAPI wrote to (the answer's `manta_url`).
    pub manta_url: Option<String>,
    /// The `.imgmanifest` object.
    pub manifest_path: String,
    /// The image file object (`.zfs<ext>`).
    pub image_path: String,
}

/// CloudAPI ExportImage of the image to `manta_path`, named by the real
/// rule (`shared/notes/triton-distribution.md` §4): an existing directory
/// gets `<name>-<version>.imgmanifest` and `<name>-<version>.zfs<ext>`
/// inside it, a path that does not exist is a prefix (`<path>.imgmanifest`,
/// `<path>.zfs<ext>`; its parent must exist), an existing object is
/// refused. A leading `~~` is the Manta login. Before the export is asked
/// for, an undo is registered that deletes every object the export may
/// write (an overwritten earlier export too), so a failure or Ctrl-C at any
/// point of the run leaves no half-written export.
#[derive(Debug, Clone)]
pub struct ExportImage {
    client: Client,
    manta: MantaClient,
    manta_path: String,
}

impl ExportImage {
    /// Exports with `client` (CloudAPI) to `manta_path`, looked at and
    /// cleaned up with `manta` (the same account's Manta).
    pub fn new(client: Client, manta: MantaClient, manta_path: impl Into<String>) -> Self {
        Self {
            client,
            manta,
            manta_path: manta_path.into(),
        }
    }

    /// Where the copies of `image` go: `<dir>/<name>-<version>` for an
    /// existing directory, else the path itself (without the extensions).
    async fn base(&self, cx: &StepCx, path: &str, image: &Image) -> Result<String, Error> {
        match cx.cancellable(self.manta.head(path)).await? {
            Ok(info) if info.kind == EntryKind::Directory => {
                Ok(format!("{path}/{}-{}", image.name, image.version))
            }
            Ok(_) => Err(Error::Config(format!(
                "manta_path {path} is an existing object: ExportImage takes an existing \
                 directory or a path that does not exist yet (a prefix)"
            ))),
            Err(e) if e.is_not_found() => Ok(path.to_owned()),
            Err(e) => Err(api(format!("looking at {path} in Manta"), e)),
        }
    }

    /// Registers the undo deleting `paths` (missing ones are fine).
    fn undo(&self, cx: &StepCx, what: String, paths: Vec<String>) {
        let manta = self.manta.clone();
        cx.on_failure(Resource::new("manta objects", what), move |_| async move {
            for path in paths {
                match manta.delete(&path).await {
                    Ok(()) => {}
                    Err(e) if e.is_not_found() => {}
                    Err(e) => return Err(api(format!("removing {path}"), e)),
                }
            }
            Ok(())
        });
    }
}

#[async_trait]
impl Step<Image> for ExportImage {
    type Out = (Image, MantaExport);

    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed("export image to Manta")
    }

    async fn run(&self, cx: &StepCx, image: Image) -> Result<(Image, MantaExport), Error> {
        let path = self
            .manta
            .resolve(&self.manta_path)
            .map_err(|e| api(format!("manta_path {}", self.manta_path), e))?;
        let base = self.base(cx, &path, &image).await?;
        let expected: Vec<String> = std::iter::once(".imgmanifest")
            .chain(FILE_EXTENSIONS.iter().copied())
            .map(|ext| format!("{base}{ext}"))
            .collect();
        self.undo(cx, format!("{base}.*"), expected.clone());
        let out = cx
            .cancellable(self.client.export_image(&image.id, &path))
            .await?
            .map_err(|e| api(format!("exporting image {} to {path}", image.id), e))?;
        let (Some(manifest_path), Some(image_path)) = (out.manifest_path, out.image_path) else {
            return Err(Error::Config(format!(
                "ExportImage of {} to {path}: the answer names no manifest_path or image_path",
                image.id
            )));
        };
        let named = [manifest_path.clone(), image_path.clone()];
        let unexpected: Vec<String> = named
            .iter()
            .filter(|p| !expected.contains(p))
            .cloned()
            .collect();
        if !unexpected.is_empty() {
            // Not where the rule puts them: removed too on failure.
            self.undo(cx, unexpected.join(", "), unexpected);
        }
        Ok((
            image,
            MantaExport {
                manta_url: out.manta_url,
                manifest_path,
                image_path,
            },
        ))
    }
}
