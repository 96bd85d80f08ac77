//! The `oxide-import` post-processor: the input artifact's local raw (or
//! qcow2) disk image becomes an Oxide image in a project, without an
//! instance (a disk created for bulk import, the non-zero chunks written,
//! finalized into a snapshot, an image made; the disk and the snapshot then
//! deleted). Nothing is left on failure or Ctrl-C. With `local-chroot`, it
//! bakes for Oxide without booting anything on the rack.
//!
//! Keys: `host`/`token`/`profile` (as the `oxide-instance` builder;
//! neither: `OXIDE_*` and `~/.config/oxide`), `insecure_skip_verify`,
//! `project` (required), `image_name`, `image_os`, `image_version`
//! (required), `image_description` (default: the build id, as every
//! resource imagebake makes), `block_size` (512, 2048 or 4096; default
//! 512), `disk_name` (default `<build id>-import`), `parallelism` (bulk
//! writes in flight, 1 to 64; default 8).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::future::BoxFuture;
use imagebake_http::Secret;
use oxide_client::names::validate_name;
use oxide_client::{BlockSize, Client, Image, NameOrId};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{PostCx, PostOutput, PostProcessor, key_error, required, run_error, runner};
use crate::builders::oxide::credentials;
use crate::builders::packer::secret_opt;
use crate::builders::{Artifact, ArtifactKind};
use crate::packer_template::decode_block;
use crate::steps::oxide::{
    DEFAULT_PARALLELISM, ImageSpec, ImportSpec, OxideApi, description, import_image,
};
use crate::{BuildId, CleanupReport, Error};

/// The post-processor's type in templates.
pub const TYPE: &str = "oxide-import";

/// Its keys.
pub const KEYS: &[&str] = &[
    "host",
    "token",
    "profile",
    "insecure_skip_verify",
    "project",
    "image_name",
    "image_description",
    "image_os",
    "image_version",
    "block_size",
    "disk_name",
    "parallelism",
];

/// Most bulk writes in flight.
const MAX_PARALLELISM: usize = 64;

/// An `oxide-import` or `oxide-image-promote` block as written (each
/// type's own key list says which keys it takes).
#[derive(Debug, Default, Deserialize)]
pub(super) struct Block {
    #[serde(default)]
    host: Option<String>,
    #[serde(default, deserialize_with = "secret_opt")]
    token: Option<Secret>,
    #[serde(default)]
    profile: Option<String>,
    #[serde(default)]
    insecure_skip_verify: bool,
    #[serde(default)]
    pub(super) project: Option<String>,
    #[serde(default)]
    pub(super) image_name: Option<String>,
    #[serde(default)]
    image_description: Option<String>,
    #[serde(default)]
    image_os: Option<String>,
    #[serde(default)]
    image_version: Option<String>,
    #[serde(default)]
    block_size: Option<u64>,
    #[serde(default)]
    disk_name: Option<String>,
    #[serde(default)]
    parallelism: Option<u64>,
}

impl Block {
    /// Decodes a `kind` block, whose keys are `keys`.
    pub(super) fn decode(kind: &str, config: &Value, keys: &[&str]) -> Result<Self, Error> {
        decode_block(&format!("post-processor {kind}"), config, keys)
    }

    /// The client configuration of post-processor `kind`
    /// (`host`/`token`/`profile` as the `oxide-instance` builder).
    pub(super) fn client(&self, kind: &str) -> Result<oxide_client::Config, Error> {
        Ok(credentials(
            &format!("post-processor {kind}"),
            self.host.as_deref(),
            self.token.as_ref(),
            self.profile.as_deref(),
            &|k| std::env::var(k).ok(),
        )?
        .insecure(self.insecure_skip_verify))
    }
}

/// Checks a `Name` key.
pub(super) fn check_name(kind: &str, key: &str, value: Option<&str>) -> Result<(), Error> {
    match value {
        Some(n) => validate_name("name", n).map_err(|e| key_error(kind, key, &e.to_string())),
        None => Ok(()),
    }
}

/// A project key, checked.
pub(super) fn project(kind: &str, value: String) -> Result<NameOrId, Error> {
    let p = NameOrId::from(value.as_str());
    p.validate("project")
        .map_err(|e| key_error(kind, "project", &e.to_string()))?;
    Ok(p)
}

/// The `oxide-import` post-processor, decoded and checked.
#[derive(Debug, Clone)]
pub struct OxideImport {
    client: oxide_client::Config,
    project: NameOrId,
    image_name: String,
    image_description: Option<String>,
    image_os: String,
    image_version: String,
    block_size: BlockSize,
    disk_name: Option<String>,
    parallelism: usize,
}

impl OxideImport {
    /// Decodes and checks a block's keys (no request is made). Unknown
    /// keys and wrong types are errors naming the key.
    pub fn from_config(config: &Value) -> Result<Self, Error> {
        let b = Block::decode(TYPE, config, KEYS)?;
        let client = b.client(TYPE)?;
        let project = project(TYPE, required(TYPE, "project", b.project)?)?;
        let image_name = required(TYPE, "image_name", b.image_name)?;
        check_name(TYPE, "image_name", Some(&image_name))?;
        let disk_name = b.disk_name.filter(|d| !d.trim().is_empty());
        check_name(TYPE, "disk_name", disk_name.as_deref())?;
        let block_size = match b.block_size {
            None => BlockSize::B512,
            Some(n) => u32::try_from(n)
                .ok()
                .and_then(BlockSize::from_bytes)
                .ok_or_else(|| {
                    key_error(TYPE, "block_size", &format!("{n} is not 512, 2048 or 4096"))
                })?,
        };
        let parallelism = match b.parallelism {
            None => DEFAULT_PARALLELISM,
            Some(n) => usize::try_from(n)
                .ok()
                .filter(|p| (1..=MAX_PARALLELISM).contains(p))
                .ok_or_else(|| {
                    key_error(
                        TYPE,
                        "parallelism",
                        &format!("{n} is not between 1 and {MAX_PARALLELISM}"),
                    )
                })?,
        };
        Ok(Self {
            client,
            project,
            image_name,
            image_description: b.image_description.filter(|d| !d.is_empty()),
            image_os: required(TYPE, "image_os", b.image_os)?,
            image_version: required(TYPE, "image_version", b.image_version)?,
            block_size,
            disk_name,
            parallelism,
        })
    }

    /// What to import from `file` for build `build_id`.
    fn spec(&self, file: PathBuf, build_id: &BuildId, force: bool) -> ImportSpec {
        let disk_name = self
            .disk_name
            .clone()
            .unwrap_or_else(|| format!("{build_id}-import"));
        ImportSpec {
            file,
            snapshot_name: format!("{build_id}-snapshot"),
            disk_name,
            image: ImageSpec {
                name: self.image_name.clone(),
                os: self.image_os.clone(),
                version: self.image_version.clone(),
                description: self
                    .image_description
                    .clone()
                    .unwrap_or_else(|| description(build_id)),
            },
            block_size: self.block_size,
            parallelism: self.parallelism,
            replace_image: force,
        }
    }

    /// Imports `file` (raw or qcow2) into the project as the image; the
    /// run's progress goes to `progress`, `cancel` stops it (removing
    /// what it made). With `force` (`-force`), an image of the same name is
    /// replaced.
    pub async fn import(
        &self,
        file: &Path,
        force: bool,
        progress: Arc<dyn Fn(&str) + Send + Sync>,
        cancel: crate::CancellationToken,
    ) -> Result<OxideImageArtifact, Error> {
        let client = Client::new(self.client.clone()).map_err(|e| {
            Error::provider(
                format!("post-processor {TYPE}: setting up the Oxide client"),
                e,
            )
        })?;
        let api = OxideApi::new(client, self.project.clone());
        let runner = runner(TYPE, progress.clone());
        let build_id = runner.id();
        let spec = self.spec(file.to_owned(), &build_id, force);
        progress(&format!(
            "{TYPE}: importing {} into project {} as image {}",
            file.display(),
            self.project,
            spec.image.name
        ));
        let built = runner
            .run(TYPE, cancel, move |cx| async move {
                import_image(&cx, &api, &spec).await
            })
            .await
            .map_err(run_error)?;
        progress(&format!(
            "{TYPE}: image {} ({}) created",
            built.value.name, built.value.id
        ));
        Ok(OxideImageArtifact {
            made_by: TYPE,
            image: built.value,
            project: Some(self.project.clone()),
            file: Some(file.to_owned()),
            build_id: built.build_id,
            cleanup: built.cleanup,
        })
    }
}

/// The file of `input` to import: its only file, or among several the
/// first raw-looking one (`.raw`, `.img`), else the first qcow2.
fn file_of(input: &dyn Artifact) -> Result<PathBuf, Error> {
    let files = input.files();
    let ext = |p: &PathBuf, want: &[&str]| {
        p.extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| want.iter().any(|w| e.eq_ignore_ascii_case(w)))
    };
    match files.as_slice() {
        [] => Err(Error::Config(format!(
            "post-processor {TYPE}: artifact {input} (builder {}) has no local file to import; \
             it needs a disk image file such as local-chroot's",
            input.builder_type()
        ))),
        [one] => Ok(one.clone()),
        many => many
            .iter()
            .find(|p| ext(p, &["raw", "img"]))
            .or_else(|| many.iter().find(|p| ext(p, &["qcow2"])))
            .cloned()
            .ok_or_else(|| {
                Error::Config(format!(
                    "post-processor {TYPE}: artifact {input} has several files and none is a \
                     .raw, .img or .qcow2 disk image"
                ))
            }),
    }
}

impl PostProcessor for OxideImport {
    fn kind(&self) -> &'static str {
        TYPE
    }

    fn process<'a>(
        &'a self,
        cx: &'a PostCx,
        input: Arc<dyn Artifact>,
    ) -> BoxFuture<'a, Result<PostOutput, Error>> {
        Box::pin(async move {
            let file = file_of(input.as_ref())?;
            let file = if file.is_relative() {
                cx.cwd.join(file)
            } else {
                file
            };
            let artifact = self
                .import(&file, cx.force, cx.progress.clone(), cx.cancel.clone())
                .await?;
            Ok(PostOutput {
                artifact: Arc::new(artifact),
                force_keep_input: false,
            })
        })
    }
}

/// An Oxide image a post-processor made or changed (`oxide-import`,
/// `oxide-image-promote`).
#[derive(Debug)]
pub struct OxideImageArtifact {
    /// The post-processor's type.
    pub made_by: &'static str,
    /// The image.
    pub image: Image,
    /// The project it is in (`None`: a silo image).
    pub project: Option<NameOrId>,
    /// The file it was imported from (`oxide-import`).
    pub file: Option<PathBuf>,
    /// The build id of the run that made it (in its temporaries' names and
    /// descriptions).
    pub build_id: BuildId,
    /// What that run's cleanup did (the import's disk and snapshot removed).
    pub cleanup: CleanupReport,
}

impl fmt::Display for OxideImageArtifact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.image.name, self.image.id)
    }
}

impl Artifact for OxideImageArtifact {
    fn kind(&self) -> ArtifactKind {
        let id = match self.made_by {
            TYPE => "imagebake.oxide-import",
            _ => "imagebake.oxide-image-promote",
        };
        ArtifactKind::new(self.made_by, id, "oxide")
    }

    fn id(&self) -> Option<String> {
        Some(self.image.id.to_string())
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
            "project": self.project.as_ref().map(ToString::to_string),
            "os": self.image.os,
            "size": self.image.size,
            "block_size": self.image.block_size,
            "file": self.file,
        })
    }
}
