use std::fmt;

use oxide_client::{Image, NameOrId};
use uuid::Uuid;

use serde_json::{Value, json};

use super::BUILDER;
use crate::builders::{Artifact, ArtifactKind};
use crate::comm::ssh::HostKeyRecord;
use crate::{BuildId, CleanupReport};

/// What a successful `oxide-instance` build made: the project image (its
/// UUID is Packer's artifact id; none with `skip_create_image`), the host
/// key trusted on first use, and what the cleanup did.
#[derive(Debug)]
pub struct OxideArtifact {
    /// The image's UUID (`None` with `skip_create_image`).
    pub image_id: Option<Uuid>,
    /// Its name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// Its operating system.
    pub os: String,
    /// The project it is in.
    pub project: NameOrId,
    /// The build that made it (in the descriptions of its resources).
    pub build_id: BuildId,
    /// The image as the rack answered its creation.
    pub image: Option<Image>,
    /// The instance's SSH host key, trusted on first use (the rack shows
    /// none), when the build connected.
    pub host_key: Option<HostKeyRecord>,
    /// What the cleanup removed (instance, boot disk, temporary key), and
    /// anything left.
    pub cleanup: CleanupReport,
}

impl OxideArtifact {
    /// The plugin's builder id.
    pub const BUILDER_ID: &'static str = "oxide.instance";
}

impl fmt::Display for OxideArtifact {
    /// The plugin's `name (id)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.image_id {
            Some(id) => write!(f, "{} ({id})", self.name),
            None => write!(f, "no image (skip_create_image), build {}", self.build_id),
        }
    }
}

impl Artifact for OxideArtifact {
    fn kind(&self) -> ArtifactKind {
        ArtifactKind::new(BUILDER, Self::BUILDER_ID, "oxide")
    }

    /// The image's UUID (also Packer's `Id()`); `None` with
    /// `skip_create_image`.
    fn id(&self) -> Option<String> {
        self.image_id.map(|i| i.to_string())
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn version(&self) -> Option<&str> {
        Some(&self.version)
    }

    fn build(&self) -> (&BuildId, &CleanupReport) {
        (&self.build_id, &self.cleanup)
    }

    /// The project, the OS and the host key trusted on first use.
    fn details(&self) -> Value {
        json!({
            "project": self.project.to_string(),
            "os": self.os,
            "host_key": self.host_key.as_ref().map(|h| format!("{h:?}")),
        })
    }
}
