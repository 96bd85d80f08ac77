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
use serde_json::{Map, Value, json};

use super::{PostCx, PostOutput, PostProcessor};
use crate::builders::oxide::credentials;
use crate::builders::{Artifact, ArtifactKind};
use crate::steps::oxide::{
    DEFAULT_PARALLELISM, ImageSpec, ImportSpec, OxideApi, description, import_image,
};
use crate::template::weak;
use crate::{BuildId, CleanupReport, Error, Event, FnObserver, Runner};

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

/// A post-processor block's keys, read as Packer reads them (weakly typed);
/// errors name the post-processor and the key.
pub(super) struct Keys<'a> {
    kind: &'static str,
    obj: &'a Map<String, Value>,
}

impl<'a> Keys<'a> {
    /// The keys of `config`, each one of `known`.
    pub(super) fn new(
        kind: &'static str,
        config: &'a Value,
        known: &[&str],
    ) -> Result<Self, Error> {
        let Value::Object(obj) = config else {
            return Err(Error::Config(format!(
                "post-processor {kind}: the configuration must be an object"
            )));
        };
        if let Some(k) = obj.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(Error::config_at(
                k.as_str(),
                format!("post-processor {kind}: unknown key `{k}`"),
            ));
        }
        Ok(Self { kind, obj })
    }

    /// An error about `key`.
    pub(super) fn err(&self, key: &str, message: &str) -> Error {
        Error::config_at(
            key,
            format!("post-processor {}: key `{key}`: {message}", self.kind),
        )
    }

    fn get(&self, key: &str) -> Option<&'a Value> {
        self.obj.get(key).filter(|v| !v.is_null())
    }

    /// A string key (empty counts as unset).
    pub(super) fn string(&self, key: &str) -> Result<Option<String>, Error> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => weak::to_string(v)
                .map(|s| Some(s).filter(|s| !s.trim().is_empty()))
                .ok_or_else(|| self.err(key, &format!("expected a string, got {v}"))),
        }
    }

    /// A required string key.
    pub(super) fn required(&self, key: &str) -> Result<String, Error> {
        self.string(key)?.ok_or_else(|| {
            Error::config_at(
                key,
                format!("post-processor {}: missing required key `{key}`", self.kind),
            )
        })
    }

    /// A `Name` key.
    pub(super) fn name(&self, key: &str) -> Result<Option<String>, Error> {
        let v = self.string(key)?;
        if let Some(n) = &v {
            validate_name("name", n).map_err(|e| self.err(key, &e.to_string()))?;
        }
        Ok(v)
    }

    /// A non-negative integer key.
    pub(super) fn uint(&self, key: &str) -> Result<Option<u64>, Error> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => weak::to_i64(v)
                .and_then(|n| u64::try_from(n).ok())
                .map(Some)
                .ok_or_else(|| self.err(key, &format!("expected a whole number, got {v}"))),
        }
    }

    /// A boolean key (default false).
    pub(super) fn flag(&self, key: &str) -> Result<bool, Error> {
        match self.get(key) {
            None => Ok(false),
            Some(v) => {
                weak::to_bool(v).ok_or_else(|| self.err(key, &format!("expected a bool, got {v}")))
            }
        }
    }

    /// The Oxide client configuration of `host`/`token`/`profile`/
    /// `insecure_skip_verify`.
    pub(super) fn client(&self) -> Result<oxide_client::Config, Error> {
        let token = self.string("token")?.map(Secret::new);
        Ok(credentials(
            &format!("post-processor {}", self.kind),
            self.string("host")?.as_deref(),
            token.as_ref(),
            self.string("profile")?.as_deref(),
        )?
        .insecure(self.flag("insecure_skip_verify")?))
    }
}

/// The `oxide-import` post-processor, decoded and checked.
#[derive(Clone)]
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

impl fmt::Debug for OxideImport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OxideImport")
            .field("client", &self.client)
            .field("project", &self.project)
            .field("image_name", &self.image_name)
            .field("block_size", &self.block_size)
            .field("parallelism", &self.parallelism)
            .finish_non_exhaustive()
    }
}

impl OxideImport {
    /// Decodes and checks a block's keys (no request is made).
    pub fn from_config(config: &Value) -> Result<Self, Error> {
        let k = Keys::new(TYPE, config, KEYS)?;
        let project = k.required("project")?;
        let project = NameOrId::from(project.as_str());
        project
            .validate("project")
            .map_err(|e| k.err("project", &e.to_string()))?;
        let image_name = k.name("image_name")?.ok_or_else(|| {
            Error::config_at(
                "image_name",
                format!("post-processor {TYPE}: missing required key `image_name`"),
            )
        })?;
        let block_size = match k.uint("block_size")? {
            None => BlockSize::B512,
            Some(b) => u32::try_from(b)
                .ok()
                .and_then(BlockSize::from_bytes)
                .ok_or_else(|| k.err("block_size", &format!("{b} is not 512, 2048 or 4096")))?,
        };
        let parallelism = match k.uint("parallelism")? {
            None => DEFAULT_PARALLELISM,
            Some(p) => usize::try_from(p)
                .ok()
                .filter(|p| (1..=MAX_PARALLELISM).contains(p))
                .ok_or_else(|| {
                    k.err(
                        "parallelism",
                        &format!("{p} is not between 1 and {MAX_PARALLELISM}"),
                    )
                })?,
        };
        Ok(Self {
            client: k.client()?,
            project,
            image_name,
            image_description: k.string("image_description")?,
            image_os: k.required("image_os")?,
            image_version: k.required("image_version")?,
            block_size,
            disk_name: k.name("disk_name")?,
            parallelism,
        })
    }

    /// What to import from `file` for build `build_id`.
    fn spec(&self, file: PathBuf, build_id: &BuildId) -> ImportSpec {
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
        }
    }

    /// Imports `file` (raw or qcow2) into the project as the image; the
    /// run's progress goes to `progress`, `cancel` stops it (removing
    /// what it made).
    pub async fn import(
        &self,
        file: &Path,
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
        let p = progress.clone();
        let runner = Runner::new().observer(Arc::new(FnObserver(move |e: &Event| {
            if let Event::StepStarted { step } = e {
                p(&format!("{TYPE}: {step}"));
            }
        })));
        let build_id = runner.id();
        let spec = self.spec(file.to_owned(), &build_id);
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
            .map_err(|e| {
                if e.is_cancelled() {
                    e.cause
                } else {
                    Error::Other(Box::new(e))
                }
            })?;
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
                .import(&file, cx.progress.clone(), cx.cancel.clone())
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
