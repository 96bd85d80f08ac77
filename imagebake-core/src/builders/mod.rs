//! Builders: the step compositions that bake an image on one cloud, with
//! the configuration vocabulary Packer users know.
//!
//! - [`triton`] (feature `triton`): Packer's `triton` builder.
//! - [`oxide`] (feature `oxide`): the Oxide plugin's `oxide-instance` builder.
//! - [`osc_chroot`] (feature `osc`): Packer's `outscale-chroot` builder.
//! - [`local_chroot`]: the chroot steps on a local disk image file.
//!
//! Every builder implements [`Builder`] (configuration → steps →
//! [`Artifact`]); a [`BuilderRegistry`] maps template type names to
//! builders, so the template engine, the command and the Python package
//! treat them alike and a Rust user can add their own.
//!
//! [`packer`] holds what every builder shares with Packer: decoding a
//! builder block with errors naming the key, Go durations, and the
//! `{{timestamp}}`/`{{uuid}}` template functions.

mod artifact;
mod builder;
pub mod common;
pub mod local_chroot;
#[cfg(feature = "osc")]
pub mod osc_chroot;
#[cfg(feature = "oxide")]
pub mod oxide;
pub mod packer;
mod registry;
#[cfg(feature = "triton")]
pub mod triton;

pub use artifact::{Artifact, ArtifactKind, AsAny};
pub use builder::{Builder, BuilderConfig, Provisioner, Provisioners};
pub use packer::TemplateVars;
pub use registry::{AnyBuilder, BuilderRegistry};
