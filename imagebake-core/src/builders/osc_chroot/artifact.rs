use std::fmt;

use osc_client::types::Image;

use serde_json::{Value, json};

use super::BUILDER;
use crate::builders::{Artifact, ArtifactKind};
use crate::{BuildId, CleanupReport};

/// What a successful `osc-chroot` build made: the OMI, its region and
/// snapshots, and what the cleanup did.
#[derive(Debug)]
pub struct OscChrootArtifact {
    /// The OMI's id (`ami-…`).
    pub omi_id: String,
    /// Its name.
    pub omi_name: String,
    /// The region it lives in.
    pub region: String,
    /// Its snapshots.
    pub snapshot_ids: Vec<String>,
    /// The build that made it (the `imagebake-built-by` tag).
    pub build_id: BuildId,
    /// The OMI as the API last showed it.
    pub image: Image,
    /// What the cleanup removed (working volume, source copy, mounts), and anything left.
    pub cleanup: CleanupReport,
}

impl OscChrootArtifact {
    /// Packer's builder id for Outscale chroot OMIs.
    pub const BUILDER_ID: &'static str = "oapi.outscale.chroot";
}

impl fmt::Display for OscChrootArtifact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "OMIs were created:\n{}: {} ({}, snapshots {}, build {})",
            self.region,
            self.omi_id,
            self.omi_name,
            self.snapshot_ids.join(", "),
            self.build_id
        )
    }
}

impl Artifact for OscChrootArtifact {
    fn kind(&self) -> ArtifactKind {
        ArtifactKind::new(BUILDER, Self::BUILDER_ID, "outscale")
    }

    /// The OMI's id.
    fn id(&self) -> Option<String> {
        Some(self.omi_id.clone())
    }

    fn name(&self) -> &str {
        &self.omi_name
    }

    /// Packer's `region:ami-…` (one region per build).
    fn packer_id(&self) -> String {
        format!("{}:{}", self.region, self.omi_id)
    }

    fn build(&self) -> (&BuildId, &CleanupReport) {
        (&self.build_id, &self.cleanup)
    }

    /// The region and the snapshots.
    fn details(&self) -> Value {
        json!({"region": self.region, "snapshot_ids": self.snapshot_ids})
    }
}
