//! The steps an origin set adds around the Triton builder's: the origin
//! checked and the package chosen before any machine exists, the export
//! directory made, each image exported (its Manta objects undone on
//! failure), the cloud image deleted, the set's markers written.

mod check_origin;
mod choose_package;
mod delete_image;
mod export_dir;
mod export_image;
mod set_markers;

pub(crate) use check_origin::CheckOrigin;
pub(crate) use choose_package::ChoosePackage;
pub(crate) use delete_image::DeleteCloudImage;
pub(crate) use export_dir::ExportDir;
pub(crate) use export_image::{ExportImage, remove_objects};
pub(crate) use set_markers::SetMarkers;

use crate::Error;

/// A Manta error as a step's error.
pub(crate) fn manta(what: impl Into<String>, e: triton_client::Error) -> Error {
    Error::provider(what, e)
}

/// An [`super::OriginError`] as a step's error.
pub(crate) fn origin(e: super::OriginError) -> Error {
    Error::Other(Box::new(e))
}
