//! The `imgapi-publish` post-processor: a Triton image published to an
//! IMGAPI repository (updates.tritondatacenter.com or one like it) in a
//! channel, as `updates-imgadm import` does, by the code of `imagebake
//! origin publish` ([`crate::origin::publish_exported`]): the origin must
//! already be in the repository; an image already there with the same
//! SHA-1 is done (added to the channel if needed); otherwise imported, its
//! file streamed from Manta, activated; a failure or Ctrl-C before the
//! activation deletes the half-imported image.
//!
//! Input: a `triton-export` artifact (its Manta copies are published), or
//! a `triton` build's artifact, which is then first exported to a temporary
//! Manta directory (`/LOGIN/stor/imagebake-<run id>-publish`, Manta reached
//! as `triton-export` reaches it) that is deleted afterwards, on success as
//! on failure.
//!
//! Keys: `url` (the repository; default `UPDATES_IMGADM_URL`, else
//! updates.tritondatacenter.com), `channel` (default
//! `UPDATES_IMGADM_CHANNEL`, else by the git branch of the working
//! directory as `origin publish`: `dev` on master, `experimental`
//! otherwise), `manta_url` (only for a `triton` artifact; default
//! `MANTA_URL`). The repository credentials are updates-imgadm's:
//! `UPDATES_IMGADM_USER`, `UPDATES_IMGADM_IDENTITY`,
//! `UPDATES_IMGADM_INSECURE`.
//!
//! Its artifact ([`ImgapiImageArtifact`]): builder id
//! `imagebake.imgapi-publish` (imagebake's own), id the image UUID.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::future::BoxFuture;
use serde::Deserialize;
use serde_json::{Value, json};
use triton_client::imgapi::{ImgapiClient, ImgapiConfig};
use triton_client::manta::MantaClient;

use super::triton_export::{MantaExportArtifact, TritonSource, manta_url};
use super::{PostCx, PostOutput, PostProcessor, key_error, run_error, runner};
use crate::builders::triton::TritonArtifact;
use crate::builders::{Artifact, ArtifactKind};
use crate::origin::{BuildStamp, PublishedImage, channel_for_branch, publish_exported};
use crate::packer_template::decode_block;
use crate::{BuildId, CleanupReport, Error, Resource};

/// The post-processor's type in templates.
pub const TYPE: &str = "imgapi-publish";

/// The builder id of its artifacts.
pub const BUILDER_ID: &str = "imagebake.imgapi-publish";

/// Its keys.
pub const KEYS: &[&str] = &["url", "channel", "manta_url"];

#[derive(Debug, Default, Deserialize)]
struct Block {
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    channel: Option<String>,
    #[serde(default)]
    manta_url: Option<String>,
}

/// The `imgapi-publish` post-processor, decoded and checked.
#[derive(Debug, Clone)]
pub struct ImgapiPublish {
    repo: ImgapiConfig,
    channel: Option<String>,
    manta_url: Option<String>,
}

impl ImgapiPublish {
    /// Decodes and checks a block's keys and the repository's
    /// configuration (`UPDATES_IMGADM_*`); no request is made.
    pub fn from_config(config: &Value) -> Result<Self, Error> {
        let b: Block = decode_block(&format!("post-processor {TYPE}"), config, KEYS)?;
        let url = b.url.filter(|u| !u.trim().is_empty());
        if let Some(u) = &url
            && !(u.starts_with("http://") || u.starts_with("https://"))
        {
            return Err(key_error(
                TYPE,
                "url",
                &format!("{u:?} is not an http(s) URL"),
            ));
        }
        let channel = b.channel.filter(|c| !c.trim().is_empty());
        if let Some(c) = &channel
            && !valid_channel(c)
        {
            return Err(key_error(
                TYPE,
                "channel",
                &format!("{c:?} is not a channel name (a-z, then a-z, 0-9, `_`, `-`)"),
            ));
        }
        let env = |k: &str| match (k, &url) {
            ("UPDATES_IMGADM_URL", Some(u)) => Some(u.clone()),
            _ => std::env::var(k).ok(),
        };
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let repo = ImgapiConfig::from_env_with(&env, home.as_deref()).map_err(|e| {
            let key = if url.is_some() { "url" } else { "type" };
            Error::config_at(
                key,
                format!("post-processor {TYPE}: the repository (UPDATES_IMGADM_*): {e}"),
            )
        })?;
        let manta_url = manta_url(TYPE, b.manta_url.filter(|u| !u.trim().is_empty()))?;
        Ok(Self {
            repo,
            channel,
            manta_url,
        })
    }

    /// The channel: `channel`, else `UPDATES_IMGADM_CHANNEL`, else by the
    /// git branch of `cwd`.
    async fn channel(&self, cwd: &Path) -> Result<String, Error> {
        if let Some(c) = self.channel.as_deref().or(self.repo.channel()) {
            return Ok(c.to_owned());
        }
        match BuildStamp::from_git(cwd, None).await {
            Ok(stamp) => Ok(channel_for_branch(&stamp.branch).to_owned()),
            Err(e) => Err(key_error(
                TYPE,
                "channel",
                &format!(
                    "is not set, nor UPDATES_IMGADM_CHANNEL, and the branch that chooses it \
                     (dev on master, experimental otherwise) is unknown ({e}): give the channel"
                ),
            )),
        }
    }

    /// Publishes `input` (a `triton-export` artifact, or a `triton` build's
    /// exported to a temporary Manta directory first); `cwd` is where the
    /// git branch is read when no channel is given.
    pub async fn publish(
        &self,
        input: &dyn Artifact,
        cwd: &Path,
        progress: Arc<dyn Fn(&str) + Send + Sync>,
        cancel: crate::CancellationToken,
    ) -> Result<ImgapiImageArtifact, Error> {
        let exported = input.downcast_ref::<MantaExportArtifact>();
        if exported.is_none() && input.downcast_ref::<TritonArtifact>().is_none() {
            return Err(Error::Config(format!(
                "post-processor {TYPE}: artifact {input} was made by builder {} ({}): \
                 {TYPE} takes a `triton-export` artifact ({}) or a `triton` build's ({})",
                input.kind().builder_id,
                input.builder_type(),
                super::triton_export::BUILDER_ID,
                TritonArtifact::BUILDER_ID,
            )));
        }
        let channel = self.channel(cwd).await?;
        let setup = |e| Error::provider(format!("post-processor {TYPE}: the IMGAPI client"), e);
        let repo = ImgapiClient::new(self.repo.clone())
            .and_then(|r| r.with_channel(&channel))
            .map_err(setup)?;
        progress(&format!(
            "{TYPE}: publishing {}@{} ({}) to {} in channel {channel}",
            input.name(),
            input.version().unwrap_or_default(),
            input.id().unwrap_or_default(),
            repo.url()
        ));
        let runner = runner(TYPE, progress.clone());
        let built = match exported {
            Some(e) => {
                let manta = MantaClient::new(e.manta.clone()).map_err(|e| {
                    Error::provider(format!("post-processor {TYPE}: the Manta client"), e)
                })?;
                let path = e.export.manifest_path.clone();
                runner
                    .run(TYPE, cancel, |cx| {
                        let (manta, repo) = (&manta, &repo);
                        async move { publish_exported(&cx, manta, repo, &path).await }
                    })
                    .await
            }
            None => {
                let url = self.manta_url.as_deref().ok_or_else(|| {
                    key_error(
                        TYPE,
                        "manta_url",
                        "is not set and neither is MANTA_URL: a `triton` artifact is exported \
                         to a temporary Manta directory first",
                    )
                })?;
                let source = TritonSource::of(TYPE, input, url)?;
                runner
                    .run(TYPE, cancel, |cx| {
                        let (source, repo) = (&source, &repo);
                        async move {
                            let manta = &source.manta;
                            let dir = format!(
                                "/{}/stor/imagebake-{}-publish",
                                manta.user(),
                                cx.build_id()
                            );
                            let (m, d) = (manta.clone(), dir.clone());
                            cx.defer(
                                Resource::new("manta directory", dir.clone()),
                                |_| async move { remove_dir(&m, &d).await },
                            );
                            cx.cancellable(manta.mkdir(&dir)).await?.map_err(|e| {
                                Error::provider(format!("creating the temporary {dir}"), e)
                            })?;
                            let export = source.export(&cx, &dir).await?;
                            publish_exported(&cx, manta, repo, &export.manifest_path).await
                        }
                    })
                    .await
            }
        }
        .map_err(run_error)?;
        if let Some(left) = built.cleanup.left().next() {
            return Err(Error::Config(format!(
                "post-processor {TYPE}: image {} is published, but {} could not be removed \
                 ({:?})",
                built.value.uuid, left.resource, left.outcome
            )));
        }
        let image = built.value;
        progress(&format!(
            "{TYPE}: image {} ({}@{}) {} in channel {}",
            image.uuid,
            image.name,
            image.version,
            image.outcome.describe(),
            image.channel
        ));
        Ok(ImgapiImageArtifact {
            image,
            repository: repo.url().to_string(),
            build_id: built.build_id,
            cleanup: built.cleanup,
        })
    }
}

/// IMGAPI's channel names: `^[a-z][a-z0-9_-]*$`.
fn valid_channel(c: &str) -> bool {
    let mut chars = c.chars();
    chars.next().is_some_and(|f| f.is_ascii_lowercase())
        && chars.all(|x| x.is_ascii_lowercase() || x.is_ascii_digit() || x == '_' || x == '-')
}

/// Deletes the Manta directory `dir` and the objects in it (gone is fine).
async fn remove_dir(manta: &MantaClient, dir: &str) -> Result<(), Error> {
    crate::origin::remove_objects(manta, dir, "").await?;
    match manta.delete(dir).await {
        Ok(()) => Ok(()),
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(Error::provider(format!("removing {dir}"), e)),
    }
}

impl PostProcessor for ImgapiPublish {
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
                .publish(
                    input.as_ref(),
                    &cx.cwd,
                    cx.progress.clone(),
                    cx.cancel.clone(),
                )
                .await?;
            Ok(PostOutput {
                artifact: Arc::new(artifact),
                force_keep_input: false,
            })
        })
    }
}

/// An image `imgapi-publish` put in (or found in) an IMGAPI repository.
#[derive(Debug)]
pub struct ImgapiImageArtifact {
    /// The image and what was done.
    pub image: PublishedImage,
    /// The repository URL.
    pub repository: String,
    /// The build id of the publish run.
    pub build_id: BuildId,
    /// What that run's cleanup did (the temporary export removed).
    pub cleanup: CleanupReport,
}

impl fmt::Display for ImgapiImageArtifact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Image {} ({}@{}) in {} channel {}",
            self.image.uuid,
            self.image.name,
            self.image.version,
            self.repository,
            self.image.channel
        )
    }
}

impl Artifact for ImgapiImageArtifact {
    fn kind(&self) -> ArtifactKind {
        ArtifactKind::new(TYPE, BUILDER_ID, "imgapi")
    }

    /// The image UUID.
    fn id(&self) -> Option<String> {
        Some(self.image.uuid.to_string())
    }

    fn name(&self) -> &str {
        &self.image.name
    }

    fn version(&self) -> Option<&str> {
        Some(&self.image.version)
    }

    fn build(&self) -> (&BuildId, &CleanupReport) {
        (&self.build_id, &self.cleanup)
    }

    fn details(&self) -> Value {
        json!({
            "repository": self.repository,
            "channel": self.image.channel,
            "sha1": self.image.sha1,
            "size": self.image.size,
            "outcome": self.image.outcome,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CancellationToken;
    use crate::postprocess::triton_export::tests::local;

    #[test]
    fn channel_names_are_imgapis() {
        for ok in ["dev", "experimental", "a", "release_2-x"] {
            assert!(valid_channel(ok), "{ok}");
        }
        for bad in ["", "Dev", "2dev", "-dev", "dev!", "dé"] {
            assert!(!valid_channel(bad), "{bad}");
        }
    }

    #[tokio::test]
    async fn only_an_export_or_a_triton_image_is_published() {
        let pp = ImgapiPublish::from_config(&json!({
            "url": "http://127.0.0.1:9",
            "channel": "dev",
        }))
        .unwrap();
        let input = local();
        let e = pp
            .publish(
                &input,
                Path::new("/"),
                Arc::new(|_: &str| {}),
                CancellationToken::new(),
            )
            .await
            .unwrap_err()
            .to_string();
        let id = Artifact::kind(&input).builder_id;
        assert!(
            e.contains("post-processor imgapi-publish: artifact Image file written: /tmp/disk.raw")
                && e.contains(&format!(
                    "was made by builder {id} (local-chroot): imgapi-publish takes a \
                     `triton-export` artifact (imagebake.triton-export) or a `triton` build's \
                     (joyent.triton)"
                )),
            "{e}"
        );
    }
}
