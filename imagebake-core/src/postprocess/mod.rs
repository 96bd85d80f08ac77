//! Post-processors: what runs on a build's artifact after the build, as
//! Packer runs them. A build's `post_processors` is a list of chains; each
//! chain starts from the build's artifact and hands each post-processor's
//! artifact to the next. [`check`] decodes every post-processor before any
//! build starts; [`run`] runs the chains of one successful build.
//!
//! A post-processor type is a [`PostProcessor`] made from its block by
//! [`decode`]: [`manifest`] (Packer's `packer-manifest.json`),
//! [`checksum`] (digest files of local artifacts), `shell-local`
//! (scripts on this host, the code shared with the provisioner:
//! [`crate::provision::LocalScript`]), the Oxide ones (`oxide-import`,
//! `oxide-image-promote`) and the Triton distribution ones
//! (`triton-export`: a Triton image exported to Manta; `imgapi-publish`:
//! an exported image published to an IMGAPI repository).

pub mod checksum;
pub mod manifest;
mod shell_local;

#[cfg(feature = "triton")]
pub mod imgapi_publish;
#[cfg(feature = "oxide")]
pub mod oxide_image_promote;
#[cfg(feature = "oxide")]
pub mod oxide_import;
#[cfg(feature = "triton")]
pub mod triton_export;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use futures::future::BoxFuture;
use serde_json::Value;

use crate::builders::Artifact;
use crate::template::{PlannedBuild, PlannedPostProcessor, Sensitive, TemplateError};
use crate::{BuildError, CancellationToken, Error, Event, FnObserver, Runner};

/// What a post-processor knows about the run and the build it follows.
#[derive(Clone)]
pub struct PostCx {
    /// Packer's `packer_build_name` (the manifest's `name`,
    /// `PACKER_BUILD_NAME`, `{{.BuildName}}`); [`run`] sets it from the
    /// build.
    pub build_name: String,
    /// The build's builder type (Packer's `builder_type`); [`run`] sets it
    /// from the build.
    pub builder_type: String,
    /// One UUID per `imagebake build` run (Packer's `packer_run_uuid`).
    pub run_uuid: String,
    /// Relative output paths are relative to this directory (the working
    /// directory, as in Packer).
    pub cwd: PathBuf,
    /// Values never shown in progress or errors.
    pub sensitive: Sensitive,
    /// Receives each progress line of the post-processors ([`run`] masks
    /// the build's sensitive values first).
    pub progress: Arc<dyn Fn(&str) + Send + Sync>,
    /// Cancelled on Ctrl-C.
    pub cancel: CancellationToken,
    /// `-force`: the manifest starts over when the file is from another run.
    pub force: bool,
}

impl fmt::Debug for PostCx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostCx")
            .field("build_name", &self.build_name)
            .field("builder_type", &self.builder_type)
            .field("run_uuid", &self.run_uuid)
            .field("cwd", &self.cwd)
            .field("force", &self.force)
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

    /// Whether the input artifact is kept when `keep_input_artifact` is not
    /// set (Packer's default `keep`); manifest, checksum and shell-local
    /// keep it.
    fn keeps_input(&self) -> bool {
        true
    }

    /// Processes `input`, the build's artifact or the previous
    /// post-processor's.
    fn process<'a>(
        &'a self,
        cx: &'a PostCx,
        input: Arc<dyn Artifact>,
    ) -> BoxFuture<'a, Result<PostOutput, Error>>;
}

/// The post-processor types [`decode`] knows, for the template engines'
/// checks and error hints.
pub const TYPES: &[&str] = &[
    "manifest",
    "checksum",
    "shell-local",
    #[cfg(feature = "oxide")]
    oxide_import::TYPE,
    #[cfg(feature = "oxide")]
    oxide_image_promote::TYPE,
    #[cfg(feature = "triton")]
    triton_export::TYPE,
    #[cfg(feature = "triton")]
    imgapi_publish::TYPE,
];

/// Decodes one post-processor block (its own keys, meta keys removed).
/// An unknown type or key is an error naming the key.
pub fn decode(kind: &str, config: &Value) -> Result<Box<dyn PostProcessor>, Error> {
    match kind {
        "manifest" => Ok(Box::new(manifest::Manifest::decode(config)?)),
        "checksum" => Ok(Box::new(checksum::Checksum::decode(config)?)),
        "shell-local" => Ok(Box::new(shell_local::ShellLocalPost::decode(config)?)),
        #[cfg(feature = "oxide")]
        oxide_import::TYPE => Ok(Box::new(oxide_import::OxideImport::from_config(config)?)),
        #[cfg(feature = "oxide")]
        oxide_image_promote::TYPE => Ok(Box::new(
            oxide_image_promote::OxideImagePromote::from_config(config)?,
        )),
        #[cfg(feature = "triton")]
        triton_export::TYPE => Ok(Box::new(triton_export::TritonExport::from_config(config)?)),
        #[cfg(feature = "triton")]
        imgapi_publish::TYPE => Ok(Box::new(imgapi_publish::ImgapiPublish::from_config(
            config,
        )?)),
        _ => Err(Error::config_at(
            "type",
            format!(
                "post-processor: type {kind:?} is not supported ({})",
                TYPES.join(", ")
            ),
        )),
    }
}

/// An error about `key` of post-processor `kind`.
#[cfg_attr(not(any(feature = "oxide", feature = "triton")), allow(dead_code))]
pub(crate) fn key_error(kind: &str, key: &str, message: &str) -> Error {
    Error::config_at(
        key,
        format!("post-processor {kind}: key `{key}`: {message}"),
    )
}

/// `value` of key `key`, which must be set (and not empty).
#[cfg_attr(not(any(feature = "oxide", feature = "triton")), allow(dead_code))]
pub(crate) fn required(kind: &str, key: &str, value: Option<String>) -> Result<String, Error> {
    value.filter(|v| !v.trim().is_empty()).ok_or_else(|| {
        Error::config_at(
            key,
            format!("post-processor {kind}: missing required key `{key}`"),
        )
    })
}

/// The engine runner of a post-processor that makes cloud resources: each
/// step it starts is a progress line `KIND: STEP`.
#[cfg_attr(not(any(feature = "oxide", feature = "triton")), allow(dead_code))]
pub(crate) fn runner(kind: &'static str, progress: Arc<dyn Fn(&str) + Send + Sync>) -> Runner {
    Runner::new().observer(Arc::new(FnObserver(move |e: &Event| {
        if let Event::StepStarted { step } = e {
            progress(&format!("{kind}: {step}"));
        }
    })))
}

/// A failed run of [`runner`] as the post-processor's error: a
/// cancellation as itself, a failure with its cleanup report.
#[cfg_attr(not(any(feature = "oxide", feature = "triton")), allow(dead_code))]
pub(crate) fn run_error(e: BuildError) -> Error {
    if e.is_cancelled() {
        e.cause
    } else {
        Error::Other(Box::new(e))
    }
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
    if let Some(key) = e.config_key() {
        t = t.key(key);
    }
    t
}

/// Runs the chains of `build` on `artifact`, the artifact of its
/// successful build, as Packer does (`packer/build.go`): each chain starts
/// from the build's artifact and hands each post-processor's artifact to
/// the next. A post-processor that fails stops its chain; the other chains
/// still run, and the build then fails with every error, each naming its
/// post-processor. The build's artifact is kept when there are no chains or
/// the first post-processor of any chain keeps its input
/// (`keep_input_artifact`, else the post-processor's default, whatever
/// `keep_input_artifact` says when the post-processor forces it); an
/// intermediate artifact is kept when the next post-processor keeps it.
/// What is not kept is discarded: local files are deleted (Packer's
/// `Destroy`); a cloud image is kept, with a progress line saying so.
///
/// The chains are those of the plan, `only`/`except` already applied
/// (exact matches on `TYPE.NAME` in HCL2, on the builder name in JSON).
/// `cx.build_name` and `cx.builder_type` are taken from `build`
/// (`packer_build_name`, the builder type); the build's sensitive values
/// are masked in every progress line and error. Returns the artifacts to
/// report: the build's own if kept, then each kept intermediate and each
/// chain's last. A cancelled run stops before the next post-processor.
pub async fn run(
    build: &PlannedBuild,
    artifact: Arc<dyn Artifact>,
    cx: &PostCx,
) -> Result<Vec<Arc<dyn Artifact>>, Error> {
    let (progress, sensitive) = (cx.progress.clone(), build.sensitive.clone());
    let cx = &PostCx {
        build_name: build.packer_build_name.clone(),
        builder_type: build.builder_type.clone(),
        progress: Arc::new(move |line: &str| progress(&sensitive.mask(line))),
        ..cx.clone()
    };
    let mut keep_original = build.post_processors.is_empty();
    let mut artifacts: Vec<Arc<dyn Artifact>> = Vec::new();
    let mut errors: Vec<String> = Vec::new();
    'chains: for chain in &build.post_processors {
        let mut prior = artifact.clone();
        for (i, pp) in chain.iter().enumerate() {
            if cx.cancel.is_cancelled() {
                return Err(Error::cancelled("post-processors"));
            }
            let label = if pp.name == pp.kind {
                pp.name.clone()
            } else {
                format!("{} (type {})", pp.name, pp.kind)
            };
            let failed = |e: &Error| {
                build
                    .sensitive
                    .mask(&format!("post-processor {label} failed: {e}"))
            };
            let processor = match decode(&pp.kind, &pp.config) {
                Ok(p) => p,
                Err(e) => {
                    errors.push(failed(&e));
                    continue 'chains;
                }
            };
            (cx.progress)(&format!("Running post-processor: {label}"));
            let out = match processor.process(cx, prior.clone()).await {
                Ok(out) => out,
                Err(e) if e.is_cancelled() => return Err(e),
                Err(e) => {
                    errors.push(failed(&e));
                    continue 'chains;
                }
            };
            let (keep, forced) = keeps_input(
                pp.keep_input_artifact,
                processor.keeps_input(),
                out.force_keep_input,
            );
            if forced {
                (cx.progress)(&format!(
                    "The {} post-processor keeps its input artifact whatever keep_input_artifact says",
                    pp.kind
                ));
            }
            if i == 0 {
                keep_original |= keep;
            } else if keep {
                artifacts.push(prior.clone());
            } else if let Err(e) = discard(&*prior, cx) {
                errors.push(format!("discarding the artifact before {label}: {e}"));
            }
            prior = out.artifact;
        }
        artifacts.push(prior);
    }
    if keep_original {
        artifacts.insert(0, artifact);
    } else if let Err(e) = discard(&*artifact, cx) {
        errors.push(format!("discarding the build's artifact: {e}"));
    }
    if errors.is_empty() {
        Ok(artifacts)
    } else {
        Err(Error::Other(errors.join("; ").into()))
    }
}

/// Whether a post-processor's input is kept, as Packer decides it: the
/// user's `keep_input_artifact` over the post-processor's default, unless
/// the post-processor keeps it by default and forces that (then `true`,
/// with the second value saying a `false` was overridden).
fn keeps_input(user: Option<bool>, default: bool, forced: bool) -> (bool, bool) {
    match user {
        Some(false) if default && forced => (true, true),
        Some(k) => (k, false),
        None => (default, false),
    }
}

/// Lets go of an artifact no one keeps: its local files are deleted (as
/// Packer's `Destroy` of file artifacts); a cloud image stays, said so.
fn discard(artifact: &dyn Artifact, cx: &PostCx) -> std::io::Result<()> {
    if artifact.cloud() != "local" {
        (cx.progress)(&format!(
            "Keeping {artifact}: imagebake does not delete {} images after post-processing (Packer would); remove it yourself if it is not wanted",
            artifact.cloud()
        ));
        return Ok(());
    }
    for f in artifact.files() {
        (cx.progress)(&format!("Deleting {}", f.display()));
        match std::fs::remove_file(&f) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::builders::local_chroot::LocalChrootArtifact;
    use crate::steps::chroot::DiskFormat;
    use crate::{BuildId, CleanupReport};

    #[test]
    fn keep_input_artifact_wins_unless_the_post_processor_forces_keeping() {
        assert_eq!(keeps_input(None, true, false), (true, false));
        assert_eq!(keeps_input(None, false, false), (false, false));
        assert_eq!(keeps_input(Some(false), true, false), (false, false));
        assert_eq!(keeps_input(Some(true), false, false), (true, false));
        assert_eq!(keeps_input(Some(false), true, true), (true, true));
        assert_eq!(keeps_input(Some(false), false, true), (false, false));
    }

    fn cx(lines: Arc<Mutex<Vec<String>>>) -> PostCx {
        PostCx {
            build_name: "web".into(),
            builder_type: "local-chroot".into(),
            run_uuid: "r".into(),
            cwd: std::env::temp_dir(),
            sensitive: Sensitive::default(),
            progress: Arc::new(move |l: &str| lines.lock().unwrap().push(l.to_owned())),
            cancel: CancellationToken::new(),
            force: false,
        }
    }

    #[test]
    fn a_discarded_local_artifact_loses_its_files() {
        let dir = std::env::temp_dir().join(format!("discard-{}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("disk.raw");
        std::fs::write(&path, "x").unwrap();
        let a = LocalChrootArtifact {
            path: path.clone(),
            format: DiskFormat::Raw,
            build_id: BuildId::generate(),
            cleanup: CleanupReport::default(),
        };
        let lines = Arc::new(Mutex::new(Vec::new()));
        discard(&a, &cx(lines.clone())).unwrap();
        assert!(!path.exists());
        assert_eq!(
            *lines.lock().unwrap(),
            [format!("Deleting {}", path.display())]
        );
        // Already gone is fine.
        discard(&a, &cx(lines)).unwrap();
        std::fs::remove_dir(&dir).unwrap();
    }
}
