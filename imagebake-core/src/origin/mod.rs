//! Origin image sets as triton-origin-image builds them
//! (`shared/notes/triton-builders.md` §3, `triton-distribution.md` §2.4, §5):
//! the inputs and the pure rules, before any cloud call.
//!
//! - [`ImagesFile`]: `images.json` (namePrefix, desc, origin {uuid, name,
//!   version}, pkgsrc, protoMinMemoryMb), read strictly; errors name the
//!   file, the entry and the key.
//! - [`BuildStamp`]: branch, timestamp and git sha, and the version string
//!   `<branch>-<timestamp>-g<sha>` eng's `STAMP` makes.
//! - [`rewrite_manifest`]: the exported manifest made portable
//!   (`min_platform` from the origin image, owner all zeros).
//! - [`choose_package`]: the first package with memory in `[m, 2m]`.
//! - `export_portable` (feature `triton`): one image exported into a Manta
//!   directory and its manifest rewritten there.
//! - [`build`] (feature `triton`): the whole set built, exported and
//!   marked (`imagebake origin build`).
//! - `publish` (feature `triton`): an exported set imported into an IMGAPI
//!   repository (`imagebake origin publish`); `publish_exported`, one
//!   exported image the same way (the `imgapi-publish` post-processor).
//! - `release` (feature `triton`): the latest set of a version added to the
//!   release channels (`imagebake origin release`).

#[cfg(feature = "triton")]
mod build;
#[cfg(feature = "triton")]
mod export;
mod images;
mod manifest;
#[cfg(feature = "triton")]
mod publish;
#[cfg(feature = "triton")]
mod release;
mod stamp;
#[cfg(feature = "triton")]
mod steps;

#[cfg(feature = "triton")]
pub use build::{
    BuildOptions, BuildReport, BuiltImage, FailedImage, OriginBuildError, VersionSource, build,
};
#[cfg(feature = "triton")]
pub use export::{ExportedImage, export_portable, write_set_markers};
pub use images::{ImagesFile, OriginEntry, OriginRef};
pub use manifest::{ZERO_OWNER, choose_package, rewrite_manifest};
#[cfg(feature = "triton")]
pub use publish::{
    PublishOptions, PublishOutcome, PublishReport, PublishedImage, channel_for_branch, publish,
    publish_exported,
};
#[cfg(feature = "triton")]
pub use release::{RELEASE_CHANNELS, ReleaseOptions, ReleasedImage, release};
pub use stamp::{BuildStamp, PackageJson};
#[cfg(feature = "triton")]
pub(crate) use steps::remove_objects;

/// What is wrong with an origin set's inputs.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OriginError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A cloud service (CloudAPI, Manta, IMGAPI) refused or failed.
    #[cfg(feature = "triton")]
    #[error(transparent)]
    Cloud(Box<triton_client::Error>),
    /// A run of the step engine (publishing) failed; its cleanup report
    /// names anything left behind.
    #[error(transparent)]
    Run(Box<crate::engine::BuildError>),
    /// A file or value is not what it must be.
    #[error("{at}: {reason}")]
    Invalid {
        /// Where: file, entry and key (`images.json: [1].origin.uuid`).
        at: String,
        /// What is wrong.
        reason: String,
    },
}

impl OriginError {
    #[cfg(feature = "triton")]
    pub(crate) fn cloud(e: triton_client::Error) -> Self {
        OriginError::Cloud(Box::new(e))
    }

    pub(crate) fn invalid(at: impl Into<String>, reason: impl Into<String>) -> Self {
        OriginError::Invalid {
            at: at.into(),
            reason: reason.into(),
        }
    }
}
