use std::fmt;

use triton_client::types::{Image, ImageId};

use super::BUILDER;
use crate::builders::{Artifact, ArtifactKind};
use crate::comm::ssh::HostKeyRecord;
use crate::{BuildId, CleanupReport};

/// What a successful `triton` build made: the image (its UUID is Packer's
/// artifact id) and what the cleanup did.
#[derive(Debug)]
pub struct TritonArtifact {
    /// The image's UUID.
    pub image_id: ImageId,
    /// Its name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// The build that made it (the image's `imagebake-built-by` tag).
    pub build_id: BuildId,
    /// The image as CloudAPI last showed it.
    pub image: Image,
    /// The machine's SSH host key, trusted on first use (CloudAPI shows
    /// none), when the build connected.
    pub host_key: Option<HostKeyRecord>,
    /// What the cleanup removed (the temporary machine), and anything left.
    pub cleanup: CleanupReport,
    /// The CloudAPI access the build used (endpoint, account, sub-user,
    /// key), so that post-processors (`triton-export`, `imgapi-publish`)
    /// reach the image as the build did; `None` when not known. `Debug`
    /// never shows key material.
    pub access: Option<triton_client::Config>,
}

impl TritonArtifact {
    /// Packer's builder id for Triton images.
    pub const BUILDER_ID: &'static str = "joyent.triton";
}

impl fmt::Display for TritonArtifact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Image was created: {} ({}@{}, build {})",
            self.image_id, self.name, self.version, self.build_id
        )
    }
}

impl Artifact for TritonArtifact {
    fn kind(&self) -> ArtifactKind {
        ArtifactKind::new(BUILDER, Self::BUILDER_ID, "triton")
    }

    /// The image's UUID (also Packer's `Id()`).
    fn id(&self) -> Option<String> {
        Some(self.image_id.to_string())
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
}
