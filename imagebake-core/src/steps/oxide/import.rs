//! Importing a local raw (or qcow2) disk image into an Oxide image without
//! an instance: check the names, make the file raw, create a disk for bulk
//! import, upload its non-zero chunks, finalize it into a snapshot, make the
//! image (see the notes' "Importing a local disk image").
//!
//! The disk and the snapshot are the build's temporaries: their removal
//! (stop the import, finalize without a snapshot, delete) runs at the end
//! of the build whatever its outcome, so after a success only the image is
//! left, and after a failure or a Ctrl-C nothing is.

use std::path::PathBuf;

use oxide_client::{BlockSize, Disk, Image, Snapshot};

use super::{
    CheckImportNames, CreateImportDisk, CreateImportImage, FinalizeImport, ImageSpec, OxideApi,
    PrepareRawFile, ReplaceImage, UploadBlocks,
};
use crate::{Error, StepCx};

/// One GiB: disks are a whole number of them.
pub const GIB: u64 = 1 << 30;

/// Chunks of the file are uploaded this large (the rack's largest bulk
/// write; a multiple of every block size).
pub const CHUNK: u64 = oxide_client::BULK_WRITE_MAX_CHUNK as u64;

/// Bulk writes in flight by default (the CLI's: it divides every block size).
pub const DEFAULT_PARALLELISM: usize = 8;

/// What to import and how.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportSpec {
    /// The local disk image (raw, or qcow2, converted first).
    pub file: PathBuf,
    /// Name of the temporary disk.
    pub disk_name: String,
    /// Name of the temporary snapshot.
    pub snapshot_name: String,
    /// The image to make.
    pub image: ImageSpec,
    /// Block size of the disk and the image.
    pub block_size: BlockSize,
    /// Bulk writes in flight (at least 1).
    pub parallelism: usize,
    /// `-force`: an image of the same name may exist; it is deleted right
    /// before the new one is made ([`ReplaceImage`]), so a failure before
    /// that keeps it.
    pub replace_image: bool,
}

/// A raw file ready to upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawFile {
    /// Its path (a converted working copy for a qcow2 input).
    pub path: PathBuf,
    /// Its size in bytes, a multiple of the block size.
    pub size: u64,
}

impl RawFile {
    /// The disk size for it: its size rounded up to a whole GiB (at least
    /// one), as Nexus requires.
    pub fn disk_size(&self) -> u64 {
        self.size.div_ceil(GIB).max(1) * GIB
    }
}

/// The disk created for the import, `import_ready`, and the file to write
/// into it.
#[derive(Debug, Clone)]
pub struct ImportDisk {
    /// The file.
    pub file: RawFile,
    /// The disk (as created).
    pub disk: Disk,
}

/// A disk whose blocks are all written, `import_ready` again.
#[derive(Debug, Clone)]
pub struct UploadedDisk {
    /// The disk.
    pub disk: Disk,
    /// Bytes sent (zero chunks are skipped).
    pub bytes_sent: u64,
    /// Bulk writes sent.
    pub writes: u64,
}

/// The snapshot the finalized disk was turned into.
#[derive(Debug, Clone)]
pub struct ImportedSnapshot {
    /// The disk, now `detached`.
    pub disk: Disk,
    /// The snapshot.
    pub snapshot: Snapshot,
}

/// Runs the import steps in order in `cx` and returns the image. The disk
/// and the snapshot are removed when the build `cx` belongs to ends.
pub async fn import_image(cx: &StepCx, api: &OxideApi, spec: &ImportSpec) -> Result<Image, Error> {
    cx.step(&CheckImportNames::new(api.clone(), spec.clone()), ())
        .await?;
    let file = cx
        .step(&PrepareRawFile::new(spec.block_size), spec.file.clone())
        .await?;
    let disk = cx
        .step(&CreateImportDisk::new(api.clone(), spec.clone()), file)
        .await?;
    let uploaded = cx
        .step(&UploadBlocks::new(api.clone(), spec.parallelism), disk)
        .await?;
    let snap = cx
        .step(
            &FinalizeImport::new(api.clone(), spec.snapshot_name.clone()),
            uploaded,
        )
        .await?;
    let snap = if spec.replace_image {
        cx.step(&ReplaceImage::new(api.clone(), &spec.image.name), snap)
            .await?
    } else {
        snap
    };
    cx.step(
        &CreateImportImage::new(api.clone(), spec.image.clone()),
        snap,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disks_are_whole_gibs_at_least_one() {
        let f = |size| {
            RawFile {
                path: PathBuf::new(),
                size,
            }
            .disk_size()
        };
        assert_eq!(f(512), GIB);
        assert_eq!(f(GIB), GIB);
        assert_eq!(f(GIB + 512), 2 * GIB);
        assert_eq!(f(0), GIB);
    }
}
