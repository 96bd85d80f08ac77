//! Request and response types, named after the API's schemas.
//!
//! Timestamps are kept as the RFC 3339 strings the rack sends. Enums the rack
//! may grow have an `Unknown` catch-all so a newer rack does not break decoding.

mod common;
mod disk;
mod external_ip;
mod image;
mod instance;
mod ip_pool;
mod project;
mod serial_console;
mod snapshot;
mod ssh_key;

pub use common::{IpVersion, ListOptions, NameOrId, ResultsPage, SortMode};
pub use disk::{
    BULK_WRITE_MAX_CHUNK, Disk, DiskCreate, DiskState, FinalizeDisk, ImportBlocksBulkWrite,
};
pub use external_ip::ExternalIp;
pub use image::{Digest, Image, ImageCreate, ImageSource};
pub use instance::{
    BlockSize, DiskBackend, DiskSource, ExternalIpCreate, Instance, InstanceAutoRestartPolicy,
    InstanceCreate, InstanceDiskAttachment, InstanceNetworkInterfaceAttachment,
    InstanceNetworkInterfaceCreate, InstanceState, Ipv4Assignment, Ipv6Assignment, PoolSelector,
    PrivateIpStackCreate, PrivateIpv4StackCreate, PrivateIpv6StackCreate, USER_DATA_MAX_BYTES,
};
pub use ip_pool::{IpPoolType, SiloIpPool};
pub use project::Project;
pub use serial_console::{InstanceSerialConsoleData, SerialConsoleRead};
pub use snapshot::{Snapshot, SnapshotCreate, SnapshotState};
pub use ssh_key::{SshKey, SshKeyCreate};
