//! Image specs: mibe's spec folders (`mi-*` repositories, SkyLime's
//! `mi-core-base`) read without running anything.
//!
//! A folder holds `manifest` (mibe's bash `key="value"` lines) or
//! `manifest.json` (SkyLime's form), and optionally `packages`, `customize`,
//! `copy/`, `motd` and `Changelog`. [`Spec::load`] reads and checks all of
//! it; every problem is a [`SpecError`] naming the file, the line and the
//! key. The `image-spec` provisioner
//! ([`crate::provision::ImageSpec`]) applies a spec to a machine.
//!
//! ```no_run
//! use imagebake_core::spec::Spec;
//!
//! # fn demo() -> Result<(), imagebake_core::spec::SpecError> {
//! let spec = Spec::load("mi-nginx")?;
//! println!("{} {} on {:?}", spec.metadata.name, spec.metadata.version, spec.metadata.base);
//! for note in &spec.notes {
//!     println!("note: {note}");
//! }
//! # Ok(())
//! # }
//! ```

mod builder_keys;
mod copy;
mod error;
mod imgapi;
mod manifest;
mod manifest_json;
mod metadata;
mod motd;
mod packages;

use std::path::{Path, PathBuf};

pub use builder_keys::{apply_to_builder_block, spec_builder_keys};
pub use copy::{CopyEntry, CopyKind, walk_copy};
pub use error::SpecError;
pub use imgapi::{ImageFile, ManifestError, ZvolInfo, zvol_manifest};
pub use manifest::{MANIFEST_KEYS, parse_manifest};
pub use manifest_json::parse_manifest_json;
pub use metadata::{BaseRef, SpecMetadata, SpecNetwork};
pub use motd::{product_text, render_motd};
pub use packages::parse_packages;

use error::read_text;

/// The largest spec text file read (manifest, packages, motd, customize).
const TEXT_LIMIT: u64 = 1024 * 1024;

/// A checked spec folder.
#[derive(Debug, Clone)]
pub struct Spec {
    /// The folder.
    pub dir: PathBuf,
    /// The image's metadata (from `manifest.json` when it exists, else
    /// `manifest`).
    pub metadata: SpecMetadata,
    /// The packages to install, in order.
    pub packages: Vec<String>,
    /// The `customize` script, when there is one.
    pub customize: Option<PathBuf>,
    /// The `copy/` entries (empty without `copy/`).
    pub copy: Vec<CopyEntry>,
    /// The `motd` template, when there is one.
    pub motd: Option<String>,
    /// What the reader noticed (the two manifests differ, and which wins).
    pub notes: Vec<String>,
}

impl Spec {
    /// Reads and checks the spec folder `dir`; nothing is run.
    pub fn load(dir: impl AsRef<Path>) -> Result<Self, SpecError> {
        let dir = dir.as_ref().to_owned();
        if !dir.is_dir() {
            return Err(SpecError::file(
                &dir,
                "is not a spec folder (no such directory)",
            ));
        }
        let file = |n: &str| dir.join(n);
        let exists = |n: &str| std::fs::symlink_metadata(file(n)).is_ok();
        let bash = if exists("manifest") {
            let p = file("manifest");
            Some(parse_manifest(&p, &read_text(&p, TEXT_LIMIT)?)?)
        } else {
            None
        };
        let json = if exists("manifest.json") {
            let p = file("manifest.json");
            Some(parse_manifest_json(&p, &read_text(&p, TEXT_LIMIT)?)?)
        } else {
            None
        };
        let mut notes = Vec::new();
        let metadata = match (bash, json) {
            (None, None) => {
                return Err(SpecError::file(
                    &dir,
                    "has neither `manifest` nor `manifest.json`",
                ));
            }
            (Some(b), None) => b,
            (None, Some(j)) => j,
            (Some(b), Some(j)) => {
                for (field, jv, bv) in j.differences(&b) {
                    notes.push(format!(
                        "manifest.json and manifest differ on `{field}`: {jv:?} (manifest.json, used) vs {bv:?} (manifest)"
                    ));
                }
                j
            }
        };
        let packages = if exists("packages") {
            let p = file("packages");
            parse_packages(&p, &read_text(&p, TEXT_LIMIT)?)?
        } else {
            Vec::new()
        };
        let customize = if exists("customize") {
            let p = file("customize");
            read_text(&p, TEXT_LIMIT)?;
            Some(p)
        } else {
            None
        };
        let motd = if exists("motd") {
            Some(read_text(&file("motd"), TEXT_LIMIT)?)
        } else {
            None
        };
        let copy = if exists("copy") {
            let p = file("copy");
            if !p.is_dir() {
                return Err(SpecError::file(&p, "must be a directory (copied onto `/`)"));
            }
            walk_copy(&p)?
        } else {
            Vec::new()
        };
        Ok(Self {
            dir,
            metadata,
            packages,
            customize,
            copy,
            motd,
            notes,
        })
    }

    /// The folder's `copy/` directory.
    pub fn copy_dir(&self) -> PathBuf {
        self.dir.join("copy")
    }

    /// `/etc/motd`'s content, when the spec has a `motd`.
    pub fn motd_text(&self) -> Option<String> {
        self.motd.as_deref().map(|t| render_motd(t, &self.metadata))
    }

    /// `/etc/product`'s content.
    pub fn product_text(&self) -> String {
        product_text(&self.metadata)
    }
}

#[cfg(test)]
mod tests;
