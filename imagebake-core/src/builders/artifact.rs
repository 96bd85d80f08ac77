//! The [`Artifact`] trait: what any build made, seen the same way by the
//! template engine, the command, the Python package and post-processors
//! (Packer's `packer.Artifact`), with a way back to the concrete type.

use std::any::Any;
use std::fmt;
use std::path::PathBuf;

use serde::{Serialize, Serializer};
use serde_json::{Map, Value, json};

use crate::{BuildId, CleanupReport};

/// Gives the [`Any`] of a value, so a `dyn Artifact` can be turned back
/// into its concrete type. Implemented for every `'static` type: an
/// [`Artifact`] implementation never writes it.
pub trait AsAny: Any {
    /// `self` as [`Any`].
    fn as_any(&self) -> &dyn Any;
    /// `self` as a boxed [`Any`].
    fn into_any(self: Box<Self>) -> Box<dyn Any>;
}

impl<T: Any> AsAny for T {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
}

/// Which builder made an artifact, and where it lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArtifactKind {
    /// The builder's type (`triton`, `oxide-instance`, `osc-chroot`,
    /// `local-chroot`, or a registered builder's).
    pub builder_type: &'static str,
    /// Packer's builder id (`joyent.triton`, `oxide.instance`,
    /// `oapi.outscale.chroot`).
    pub builder_id: &'static str,
    /// The cloud: `triton`, `oxide`, `outscale`, `local`, or a registered
    /// builder's own word.
    pub cloud: &'static str,
}

impl ArtifactKind {
    /// The kind of `builder_type`'s artifacts.
    pub const fn new(
        builder_type: &'static str,
        builder_id: &'static str,
        cloud: &'static str,
    ) -> Self {
        Self {
            builder_type,
            builder_id,
            cloud,
        }
    }
}

/// What a successful build made: an image in a cloud, or a local file.
///
/// [`Display`](fmt::Display) is Packer's one-line description of it
/// (Packer's `String()`); [`Artifact::packer_id`] is the form Packer's
/// `manifest` post-processor writes as `artifact_id`. A `Box<dyn Artifact>`
/// is serialized as [`to_json`](trait.Artifact.html#method.to_json) gives
/// it, and turned back into its concrete type with
/// [`downcast_ref`](trait.Artifact.html#method.downcast_ref) or
/// [`downcast`](trait.Artifact.html#method.downcast).
pub trait Artifact: AsAny + fmt::Debug + fmt::Display + Send + Sync {
    /// Which builder made it, and where it lives.
    fn kind(&self) -> ArtifactKind;

    /// The cloud's id for it (image UUID, OMI id) or the output file;
    /// `None` when the build made no image (Oxide's `skip_create_image`).
    fn id(&self) -> Option<String>;

    /// Its name.
    fn name(&self) -> &str;

    /// Its version, when the cloud has versions.
    fn version(&self) -> Option<&str> {
        None
    }

    /// Packer's `Id()`, the manifest's `artifact_id`: by default
    /// [`Artifact::id`], or `""` without one. (Outscale's is
    /// `region:ami-…`.)
    fn packer_id(&self) -> String {
        self.id().unwrap_or_default()
    }

    /// The local files it is made of (Packer's `Files()`: the manifest's
    /// `files`, what `checksum` reads); none for a cloud image.
    fn files(&self) -> Vec<PathBuf> {
        Vec::new()
    }

    /// The build that made it, and what the build's cleanup did.
    fn build(&self) -> (&BuildId, &CleanupReport);

    /// Cloud-specific details as JSON (region and snapshots, project and
    /// OS, file format); an empty object by default.
    fn details(&self) -> Value {
        Value::Object(Map::new())
    }
}

impl dyn Artifact {
    /// The type of the builder that made it.
    pub fn builder_type(&self) -> &'static str {
        self.kind().builder_type
    }

    /// Where it lives (`triton`, `oxide`, `outscale`, `local`, ...).
    pub fn cloud(&self) -> &'static str {
        self.kind().cloud
    }

    /// The build that made it.
    pub fn build_id(&self) -> &BuildId {
        self.build().0
    }

    /// What the build's cleanup did.
    pub fn cleanup(&self) -> &CleanupReport {
        self.build().1
    }

    /// The concrete artifact, if it is a `T`.
    pub fn downcast_ref<T: Artifact>(&self) -> Option<&T> {
        self.as_any().downcast_ref()
    }

    /// The concrete artifact, if it is a `T`; else the artifact back.
    pub fn downcast<T: Artifact>(self: Box<Self>) -> Result<Box<T>, Box<Self>> {
        if self.as_any().is::<T>() {
            Ok(self
                .into_any()
                .downcast()
                .expect("the type was checked just before"))
        } else {
            Err(self)
        }
    }

    /// Everything the trait tells, as one JSON object: `builder_type`,
    /// `builder_id`, `cloud`, `id`, `name`, `version`, `artifact_id`,
    /// `files`, `build_id`, `description`, `details`, and `cleanup` (its
    /// report as text).
    pub fn to_json(&self) -> Value {
        let kind = self.kind();
        json!({
            "builder_type": kind.builder_type,
            "builder_id": kind.builder_id,
            "cloud": kind.cloud,
            "id": self.id(),
            "name": self.name(),
            "version": self.version(),
            "artifact_id": self.packer_id(),
            "files": self.files(),
            "build_id": self.build_id().to_string(),
            "description": self.to_string(),
            "details": self.details(),
            "cleanup": self.cleanup().to_string(),
        })
    }
}

impl Serialize for dyn Artifact {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(serializer)
    }
}
