//! Serde models of CloudAPI resources and the requests that create or
//! filter them. Unknown server enum values decode to an `Unknown` variant;
//! unknown fields are ignored.

mod account;
mod ids;
mod image;
mod machine;
mod network;
mod package;
mod string_map;
pub(crate) use string_map::deserialize as string_map_deserialize;

pub use account::{Account, SshKey};
pub use ids::{ImageId, MachineId, NameOrId, NetworkId, PackageId};
pub use image::{
    CreateImageFromMachine, ExportedImage, Image, ImageError, ImageState, ImageType, ListImages,
    UpdateImage, pick_most_recent,
};
pub use machine::{AuditEntry, CreateMachine, ListMachines, Machine, MachineLookup, MachineState};
pub use network::Network;
pub use package::Package;
