//! Serde models of the OAPI resources the client reads.
//!
//! Dates stay strings (the API mixes date and date-time formats). States and
//! other server enums are typed, with an `Unknown(String)` catch-all that keeps
//! values this client does not know.

#[macro_use]
mod string_enum;

mod account;
mod image;
mod permissions;
mod snapshot;
mod tag;
mod vm;
mod volume;

pub use account::Account;
pub use image::{BlockDeviceMapping, BootMode, BsuToCreate, Image, ImageState, StateComment};
pub use permissions::{Permissions, PermissionsChange};
pub use snapshot::{Snapshot, SnapshotState};
pub use tag::Tag;
pub use vm::{Placement, Vm, VmBlockDevice, VmBsu};
pub use volume::{LinkState, LinkedVolume, Volume, VolumeState, VolumeType};
