//! The `triton-export` post-processor: the Triton image a `triton` build
//! made is copied to Manta with CloudAPI ExportImage (its `.imgmanifest`
//! and its image file), named by the real rule
//! (`shared/notes/triton-distribution.md` §4): `manta_path` an existing
//! directory ⇒ `<manta_path>/<name>-<version>.imgmanifest` and
//! `.zfs<ext>` inside it; a path that does not exist ⇒ a prefix
//! (`<manta_path>.imgmanifest`, `<manta_path>.zfs<ext>`; its parent must
//! exist); an existing object is refused. The export runs as a step of
//! the engine whose undo deletes what it may have written, so a failure or
//! Ctrl-C leaves no half-written export.
//!
//! Keys: `manta_path` (required; `/LOGIN/stor/…`, `/LOGIN/public/…` or
//! `~~/…`, no trailing `/`: ExportImage names by what exists, not by the
//! slash), `manta_url` (default `MANTA_URL`, as node-manta).
//!
//! Credentials: none of its own. Packer post-processors that act in their
//! builder's cloud reuse that cloud's access; here the build's own CloudAPI
//! access (the `triton` builder's `triton_url`, `triton_account`,
//! `triton_user`, `triton_key_id`, `triton_key_material`,
//! `insecure_skip_tls_verify`, carried on its artifact) asks for the
//! export, and Manta is signed as the same account, sub-user and key, as
//! ExportImage writes only below the caller's own login (triton-origin-image
//! takes `MANTA_USER` and `MANTA_KEY_ID` from the triton profile the same
//! way). Only the Manta URL is asked for.
//!
//! Its artifact ([`MantaExportArtifact`]): builder id
//! `imagebake.triton-export` (imagebake's own; Packer has no such
//! post-processor), id the manifest's Manta path, files the manifest and the
//! image file (Manta paths, not local files).

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use futures::future::BoxFuture;
use serde::Deserialize;
use serde_json::{Value, json};
use triton_client::Client;
use triton_client::manta::{MantaClient, MantaConfig};
use triton_client::types::Image;

use super::{PostCx, PostOutput, PostProcessor, key_error, required, run_error, runner};
use crate::builders::triton::TritonArtifact;
use crate::builders::{Artifact, ArtifactKind};
use crate::packer_template::decode_block;
use crate::steps::triton::{ExportImage, MantaExport};
use crate::{BuildId, CleanupReport, Error, StepCx};

/// The post-processor's type in templates.
pub const TYPE: &str = "triton-export";

/// The builder id of its artifacts.
pub const BUILDER_ID: &str = "imagebake.triton-export";

/// Its keys.
pub const KEYS: &[&str] = &["manta_path", "manta_url"];

#[derive(Debug, Default, Deserialize)]
struct Block {
    #[serde(default)]
    manta_path: Option<String>,
    #[serde(default)]
    manta_url: Option<String>,
}

/// The `triton-export` post-processor, decoded and checked.
#[derive(Debug, Clone)]
pub struct TritonExport {
    manta_path: String,
    manta_url: String,
}

impl TritonExport {
    /// Decodes and checks a block's keys (no request is made); the Manta
    /// URL is `manta_url`, else `MANTA_URL`. Unknown keys, wrong types and
    /// bad values are errors naming the key.
    pub fn from_config(config: &Value) -> Result<Self, Error> {
        let b: Block = decode_block(&format!("post-processor {TYPE}"), config, KEYS)?;
        let manta_path = required(TYPE, "manta_path", b.manta_path)?;
        check_manta_path(&manta_path)?;
        let manta_url = manta_url(TYPE, b.manta_url)?.ok_or_else(|| {
            key_error(
                TYPE,
                "manta_url",
                "is not set and neither is MANTA_URL: give the Manta URL",
            )
        })?;
        Ok(Self {
            manta_path,
            manta_url,
        })
    }

    /// Exports the Triton image `input` to `manta_path`; the run's progress
    /// goes to `progress`, `cancel` stops it (removing what it wrote).
    pub async fn export(
        &self,
        input: &dyn Artifact,
        progress: Arc<dyn Fn(&str) + Send + Sync>,
        cancel: crate::CancellationToken,
    ) -> Result<MantaExportArtifact, Error> {
        let source = TritonSource::of(TYPE, input, &self.manta_url)?;
        progress(&format!(
            "{TYPE}: exporting image {} ({}@{}) to {}",
            source.image.id, source.image.name, source.image.version, self.manta_path
        ));
        let path = self.manta_path.clone();
        let built = runner(TYPE, progress.clone())
            .run(TYPE, cancel, |cx| {
                let source = &source;
                async move { source.export(&cx, &path).await }
            })
            .await
            .map_err(run_error)?;
        let export = built.value;
        progress(&format!(
            "{TYPE}: wrote {} and {}",
            export.manifest_path, export.image_path
        ));
        Ok(MantaExportArtifact {
            image: source.image,
            manta: source.manta_config,
            export,
            build_id: built.build_id,
            cleanup: built.cleanup,
        })
    }
}

/// A `manta_path` ExportImage can name: absolute (or `~~/…`) and without a
/// trailing `/`.
fn check_manta_path(path: &str) -> Result<(), Error> {
    let bad = |why: &str| Err(key_error(TYPE, "manta_path", &format!("{path:?} {why}")));
    if !(path.starts_with('/') || path.starts_with("~~/")) {
        return bad("is not an absolute Manta path (/LOGIN/stor/…, /LOGIN/public/… or ~~/…)");
    }
    if path.ends_with('/') {
        return bad(
            "ends with `/`: ExportImage does not look at the slash; an existing directory \
             gets NAME-VERSION.* inside it, any other path is a prefix; drop the slash",
        );
    }
    if path.split('/').any(|s| s == "." || s == "..") {
        return bad("has `.` or `..` parts");
    }
    // `/LOGIN/stor/X` or `~~/stor/X` at least.
    if path.split('/').filter(|s| !s.is_empty()).count() < 3 {
        return bad("is not below /LOGIN/stor or /LOGIN/public");
    }
    Ok(())
}

/// The Manta URL: the `manta_url` key of post-processor `kind`, else
/// `MANTA_URL`; `None` when neither is set.
pub(super) fn manta_url(kind: &str, key: Option<String>) -> Result<Option<String>, Error> {
    let Some(url) = key
        .filter(|u| !u.trim().is_empty())
        .or_else(|| std::env::var("MANTA_URL").ok().filter(|u| !u.is_empty()))
    else {
        return Ok(None);
    };
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(key_error(
            kind,
            "manta_url",
            &format!("{url:?} is not an http(s) URL"),
        ));
    }
    Ok(Some(url))
}

/// A Triton image as a post-processor's input, with the clients to export
/// it: CloudAPI as the build reached it, Manta as the same account.
#[derive(Debug)]
pub(super) struct TritonSource {
    /// The image.
    pub(super) image: Image,
    /// CloudAPI, as the build.
    pub(super) cloud: Client,
    /// Manta, as the same account.
    pub(super) manta: MantaClient,
    /// Its configuration (for the next post-processor).
    pub(super) manta_config: MantaConfig,
}

impl TritonSource {
    /// The Triton image of `input`, for post-processor `kind`; anything
    /// but a `triton` build's artifact is an error naming both.
    pub(super) fn of(kind: &str, input: &dyn Artifact, manta_url: &str) -> Result<Self, Error> {
        let Some(triton) = input.downcast_ref::<TritonArtifact>() else {
            return Err(Error::Config(format!(
                "post-processor {kind}: artifact {input} was made by builder {} ({}), not a \
                 Triton image: {kind} takes the artifact of a `triton` build ({})",
                input.kind().builder_id,
                input.builder_type(),
                TritonArtifact::BUILDER_ID,
            )));
        };
        let Some(access) = triton.access.clone() else {
            return Err(Error::Config(format!(
                "post-processor {kind}: artifact {input} does not carry the CloudAPI access \
                 of its build"
            )));
        };
        let setup = |what: &str, e| Error::provider(format!("post-processor {kind}: {what}"), e);
        let mut m = MantaConfig::builder()
            .url(manta_url)
            .user(access.account())
            .key_source(access.key_source().clone())
            .insecure(access.insecure());
        if let Some(u) = access.user() {
            m = m.subuser(u);
        }
        let manta_config = m
            .build()
            .map_err(|e| setup("the Manta client configuration", e))?;
        let manta =
            MantaClient::new(manta_config.clone()).map_err(|e| setup("the Manta client", e))?;
        let cloud = Client::new(access).map_err(|e| setup("the CloudAPI client", e))?;
        Ok(Self {
            image: triton.image.clone(),
            cloud,
            manta,
            manta_config,
        })
    }

    /// Exports the image to `manta_path`, as a step of `cx`'s run.
    pub(super) async fn export(&self, cx: &StepCx, manta_path: &str) -> Result<MantaExport, Error> {
        let step = ExportImage::new(self.cloud.clone(), self.manta.clone(), manta_path);
        let (_, export) = cx.step(&step, self.image.clone()).await?;
        Ok(export)
    }
}

impl PostProcessor for TritonExport {
    fn kind(&self) -> &'static str {
        TYPE
    }

    fn process<'a>(
        &'a self,
        cx: &'a PostCx,
        input: Arc<dyn Artifact>,
    ) -> BoxFuture<'a, Result<PostOutput, Error>> {
        Box::pin(async move {
            let artifact = self
                .export(input.as_ref(), cx.progress.clone(), cx.cancel.clone())
                .await?;
            Ok(PostOutput {
                artifact: Arc::new(artifact),
                force_keep_input: false,
            })
        })
    }
}

/// A Triton image exported to Manta by `triton-export`.
#[derive(Debug)]
pub struct MantaExportArtifact {
    /// The exported image, as CloudAPI showed it.
    pub image: Image,
    /// The Manta it is in, and how to reach it (the build's account and
    /// key; `Debug` never shows key material).
    pub manta: MantaConfig,
    /// Where its copies are.
    pub export: MantaExport,
    /// The build id of the export's run.
    pub build_id: BuildId,
    /// What that run's cleanup did.
    pub cleanup: CleanupReport,
}

impl fmt::Display for MantaExportArtifact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Image {} ({}@{}) exported to {} and {}",
            self.image.id,
            self.image.name,
            self.image.version,
            self.export.manifest_path,
            self.export.image_path
        )
    }
}

impl Artifact for MantaExportArtifact {
    fn kind(&self) -> ArtifactKind {
        ArtifactKind::new(TYPE, BUILDER_ID, "manta")
    }

    /// The manifest's Manta path.
    fn id(&self) -> Option<String> {
        Some(self.export.manifest_path.clone())
    }

    fn name(&self) -> &str {
        &self.image.name
    }

    fn version(&self) -> Option<&str> {
        Some(&self.image.version)
    }

    /// The manifest and the image file, as Manta paths.
    fn files(&self) -> Vec<PathBuf> {
        vec![
            PathBuf::from(&self.export.manifest_path),
            PathBuf::from(&self.export.image_path),
        ]
    }

    fn build(&self) -> (&BuildId, &CleanupReport) {
        (&self.build_id, &self.cleanup)
    }

    fn details(&self) -> Value {
        json!({
            "image_id": self.image.id.to_string(),
            "manta_url": self.manta.url().as_str(),
            "export_manta_url": self.export.manta_url,
            "manifest_path": self.export.manifest_path,
            "image_path": self.export.image_path,
        })
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::CancellationToken;
    use crate::builders::local_chroot::LocalChrootArtifact;
    use crate::steps::chroot::DiskFormat;

    /// An artifact that is not a Triton image.
    pub(crate) fn local() -> LocalChrootArtifact {
        LocalChrootArtifact {
            path: PathBuf::from("/tmp/disk.raw"),
            format: DiskFormat::Raw,
            build_id: BuildId::generate(),
            cleanup: CleanupReport::default(),
        }
    }

    #[test]
    fn manta_paths_are_checked() {
        for ok in ["/alice/stor/x", "~~/stor/x", "~~/public/builds/x-1"] {
            check_manta_path(ok).unwrap();
        }
        for (bad, why) in [
            ("stor/x", "is not an absolute Manta path"),
            ("~/stor/x", "is not an absolute Manta path"),
            ("~~/stor/x/", "ends with `/`"),
            ("/alice/stor", "is not below /LOGIN/stor"),
            ("~~/stor", "is not below /LOGIN/stor"),
            ("~~/stor/../x", "has `.` or `..` parts"),
        ] {
            let e = check_manta_path(bad).unwrap_err();
            assert_eq!(e.config_key(), Some("manta_path"), "{bad}");
            let e = e.to_string();
            assert!(
                e.contains("post-processor triton-export: key `manta_path`") && e.contains(why),
                "{bad}: {e}"
            );
        }
    }

    #[tokio::test]
    async fn only_a_triton_image_is_exported() {
        let pp = TritonExport::from_config(&json!({
            "manta_path": "~~/stor/x",
            "manta_url": "http://127.0.0.1:9",
        }))
        .unwrap();
        let input = local();
        let e = pp
            .export(&input, Arc::new(|_: &str| {}), CancellationToken::new())
            .await
            .unwrap_err()
            .to_string();
        let id = Artifact::kind(&input).builder_id;
        assert!(
            e.starts_with("invalid configuration: post-processor triton-export: artifact")
                && e.contains(&format!(
                    "made by builder {id} (local-chroot), not a Triton image"
                ))
                && e.contains("joyent.triton"),
            "{e}"
        );
    }
}
