use std::net::{Ipv4Addr, Ipv6Addr};

use base64::Engine as _;
use serde::{Deserialize, Serialize, Serializer};
use uuid::Uuid;

use super::{IpVersion, NameOrId};

/// Largest `user_data` the API accepts, before base64 encoding.
pub const USER_DATA_MAX_BYTES: usize = 32 * 1024;

/// An instance (`Instance`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct Instance {
    /// Unique ID.
    pub id: Uuid,
    /// Name, unique in the project.
    pub name: String,
    /// Description.
    pub description: String,
    /// The owning project.
    pub project_id: Uuid,
    /// Guest hostname.
    pub hostname: String,
    /// Number of vCPUs.
    pub ncpus: u16,
    /// Memory in bytes.
    pub memory: u64,
    /// Run state.
    pub run_state: InstanceState,
    /// When `run_state` last changed (RFC 3339).
    pub time_run_state_updated: String,
    /// The boot disk, if one is set.
    #[serde(default)]
    pub boot_disk_id: Option<Uuid>,
    /// Whether the rack would restart it after a failure.
    pub auto_restart_enabled: bool,
    /// The configured auto-restart policy, if any.
    #[serde(default)]
    pub auto_restart_policy: Option<InstanceAutoRestartPolicy>,
    /// Whether jumbo frames are on.
    pub enable_jumbo_frames: bool,
    /// Creation time (RFC 3339).
    pub time_created: String,
    /// Last modification time (RFC 3339).
    pub time_modified: String,
}

/// Instance run state (`InstanceState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum InstanceState {
    /// Being created.
    Creating,
    /// Booting.
    Starting,
    /// Running.
    Running,
    /// Stopping.
    Stopping,
    /// Stopped.
    Stopped,
    /// Rebooting.
    Rebooting,
    /// Migrating to another sled.
    Migrating,
    /// Recovering from a failure.
    Repairing,
    /// Failed.
    Failed,
    /// Deleted.
    Destroyed,
    /// A state this client does not know.
    #[serde(other)]
    Unknown,
}

impl InstanceState {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            InstanceState::Creating => "creating",
            InstanceState::Starting => "starting",
            InstanceState::Running => "running",
            InstanceState::Stopping => "stopping",
            InstanceState::Stopped => "stopped",
            InstanceState::Rebooting => "rebooting",
            InstanceState::Migrating => "migrating",
            InstanceState::Repairing => "repairing",
            InstanceState::Failed => "failed",
            InstanceState::Destroyed => "destroyed",
            InstanceState::Unknown => "unknown",
        }
    }
}

/// Auto-restart policy (`InstanceAutoRestartPolicy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum InstanceAutoRestartPolicy {
    /// Never restart after a failure (what a temporary build VM wants).
    Never,
    /// Restart after a failure when the rack can.
    BestEffort,
    /// A policy this client does not know (never sent).
    #[serde(other, skip_serializing)]
    Unknown,
}

/// Body of `instance_create` (`InstanceCreate`). Build it with
/// [`InstanceCreate::new`] and the builder methods.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct InstanceCreate {
    /// Instance name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Guest hostname.
    pub hostname: String,
    /// Number of vCPUs.
    pub ncpus: u16,
    /// Memory in bytes.
    pub memory: u64,
    /// The boot disk.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub boot_disk: Option<InstanceDiskAttachment>,
    /// More disks to create or attach.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub disks: Vec<InstanceDiskAttachment>,
    /// External addresses.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub external_ips: Vec<ExternalIpCreate>,
    /// Network interfaces; `None` leaves the API default (one dual-stack NIC
    /// in the project's default VPC).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_interfaces: Option<InstanceNetworkInterfaceAttachment>,
    /// SSH keys (of the current user, by name or ID) to inject; `None` sends
    /// `null`, which injects all of the user's keys; an empty list injects none.
    pub ssh_public_keys: Option<Vec<NameOrId>>,
    /// Raw user data (sent base64-encoded), at most [`USER_DATA_MAX_BYTES`].
    #[serde(skip_serializing_if = "Vec::is_empty", serialize_with = "base64_bytes")]
    pub user_data: Vec<u8>,
    /// Start the instance as part of the create call (default true).
    pub start: bool,
    /// Auto-restart policy; `None` leaves the rack's default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_restart_policy: Option<InstanceAutoRestartPolicy>,
    /// Anti-affinity groups to join.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub anti_affinity_groups: Vec<NameOrId>,
}

fn base64_bytes<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
}

impl InstanceCreate {
    /// An instance with these basics, no disks, no external IP, the default
    /// network interface, no SSH keys injected (an explicit empty list) and
    /// `start: true`.
    pub fn new(
        name: impl Into<String>,
        hostname: impl Into<String>,
        ncpus: u16,
        memory: u64,
    ) -> Self {
        Self {
            name: name.into(),
            description: String::new(),
            hostname: hostname.into(),
            ncpus,
            memory,
            boot_disk: None,
            disks: Vec::new(),
            external_ips: Vec::new(),
            network_interfaces: None,
            ssh_public_keys: Some(Vec::new()),
            user_data: Vec::new(),
            start: true,
            auto_restart_policy: None,
            anti_affinity_groups: Vec::new(),
        }
    }

    /// With this description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    /// Boots from a new distributed disk named `disk_name` of `size` bytes,
    /// created from image `image_id`.
    pub fn boot_disk_from_image(
        mut self,
        disk_name: impl Into<String>,
        image_id: Uuid,
        size: u64,
    ) -> Self {
        self.boot_disk = Some(InstanceDiskAttachment::Create {
            name: disk_name.into(),
            description: String::new(),
            size,
            disk_backend: DiskBackend::Distributed {
                disk_source: DiskSource::Image {
                    image_id,
                    read_only: false,
                },
            },
        });
        self
    }

    /// With this boot disk attachment.
    pub fn boot_disk(mut self, disk: InstanceDiskAttachment) -> Self {
        self.boot_disk = Some(disk);
        self
    }

    /// Adds an ephemeral external IP from the pool `selector` picks.
    pub fn ephemeral_ip(mut self, selector: PoolSelector) -> Self {
        self.external_ips.push(ExternalIpCreate::Ephemeral {
            pool_selector: selector,
        });
        self
    }

    /// Adds one network interface named `name` in `vpc_name`/`subnet_name`
    /// with this address stack (`None`: the API default, dual stack).
    pub fn network_interface(
        mut self,
        name: impl Into<String>,
        vpc_name: impl Into<String>,
        subnet_name: impl Into<String>,
        ip_config: Option<PrivateIpStackCreate>,
    ) -> Self {
        let nic = InstanceNetworkInterfaceCreate {
            name: name.into(),
            description: String::new(),
            vpc_name: vpc_name.into(),
            subnet_name: subnet_name.into(),
            ip_config,
        };
        match &mut self.network_interfaces {
            Some(InstanceNetworkInterfaceAttachment::Create { params }) => params.push(nic),
            _ => {
                self.network_interfaces =
                    Some(InstanceNetworkInterfaceAttachment::Create { params: vec![nic] });
            }
        }
        self
    }

    /// With this network interface attachment.
    pub fn network_interfaces(mut self, nics: InstanceNetworkInterfaceAttachment) -> Self {
        self.network_interfaces = Some(nics);
        self
    }

    /// Injects exactly these SSH keys of the current user.
    pub fn ssh_public_keys<I, K>(mut self, keys: I) -> Self
    where
        I: IntoIterator<Item = K>,
        K: Into<NameOrId>,
    {
        self.ssh_public_keys = Some(keys.into_iter().map(Into::into).collect());
        self
    }

    /// Injects all of the current user's SSH keys (sends `null`).
    pub fn all_ssh_public_keys(mut self) -> Self {
        self.ssh_public_keys = None;
        self
    }

    /// With this user data (raw bytes; encoded for sending).
    pub fn user_data(mut self, data: impl Into<Vec<u8>>) -> Self {
        self.user_data = data.into();
        self
    }

    /// Whether to start the instance as part of the create call.
    pub fn start(mut self, start: bool) -> Self {
        self.start = start;
        self
    }

    /// With this auto-restart policy.
    pub fn auto_restart_policy(mut self, policy: InstanceAutoRestartPolicy) -> Self {
        self.auto_restart_policy = Some(policy);
        self
    }
}

/// A disk to create or attach with an instance (`InstanceDiskAttachment`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum InstanceDiskAttachment {
    /// Create a new disk.
    Create {
        /// Disk name.
        name: String,
        /// Description.
        description: String,
        /// Size in bytes.
        size: u64,
        /// Storage backend and contents.
        disk_backend: DiskBackend,
    },
    /// Attach an existing disk of the project.
    Attach {
        /// Disk name.
        name: String,
    },
}

/// Storage of a new disk (`DiskBackend`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum DiskBackend {
    /// Sled-local storage (blank).
    Local,
    /// Replicated storage with initial contents.
    Distributed {
        /// Initial contents.
        disk_source: DiskSource,
    },
}

/// Initial contents of a distributed disk (`DiskSource`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum DiskSource {
    /// Blank.
    Blank {
        /// Block size.
        block_size: BlockSize,
    },
    /// A copy of a snapshot.
    Snapshot {
        /// The snapshot.
        snapshot_id: Uuid,
        /// Read-only disk.
        read_only: bool,
    },
    /// A copy of an image.
    Image {
        /// The image.
        image_id: Uuid,
        /// Read-only disk.
        read_only: bool,
    },
    /// Blank, ready for a bulk import.
    ImportingBlocks {
        /// Block size.
        block_size: BlockSize,
    },
}

/// Disk block size (`BlockSize`): 512, 2048 or 4096 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BlockSize {
    /// 512 bytes.
    B512,
    /// 2048 bytes.
    B2048,
    /// 4096 bytes.
    B4096,
}

impl BlockSize {
    /// The block size of `bytes` bytes per block, if it is one of 512,
    /// 2048 and 4096.
    pub fn from_bytes(bytes: u32) -> Option<Self> {
        match bytes {
            512 => Some(BlockSize::B512),
            2048 => Some(BlockSize::B2048),
            4096 => Some(BlockSize::B4096),
            _ => None,
        }
    }

    /// Bytes per block.
    pub fn bytes(self) -> u32 {
        match self {
            BlockSize::B512 => 512,
            BlockSize::B2048 => 2048,
            BlockSize::B4096 => 4096,
        }
    }
}

impl Serialize for BlockSize {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u32(self.bytes())
    }
}

/// An external address to give a new instance (`ExternalIpCreate`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ExternalIpCreate {
    /// An ephemeral address from a pool.
    Ephemeral {
        /// Which pool.
        pool_selector: PoolSelector,
    },
    /// An existing floating IP.
    Floating {
        /// The floating IP.
        floating_ip: NameOrId,
    },
}

/// How to choose the pool of an ephemeral address (`PoolSelector`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum PoolSelector {
    /// The silo's default pool; `ip_version` is needed only when the silo
    /// has default pools of both versions.
    Auto {
        /// Address family wanted.
        ip_version: Option<IpVersion>,
    },
    /// This pool.
    Explicit {
        /// The pool.
        pool: NameOrId,
    },
}

/// Network interfaces of a new instance (`InstanceNetworkInterfaceAttachment`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum InstanceNetworkInterfaceAttachment {
    /// Create these interfaces.
    Create {
        /// The interfaces.
        params: Vec<InstanceNetworkInterfaceCreate>,
    },
    /// One IPv4 interface in the default VPC.
    DefaultIpv4,
    /// One IPv6 interface in the default VPC.
    DefaultIpv6,
    /// One dual-stack interface in the default VPC (the API default).
    DefaultDualStack,
    /// No interface.
    None,
}

/// One network interface to create (`InstanceNetworkInterfaceCreate`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct InstanceNetworkInterfaceCreate {
    /// Interface name.
    pub name: String,
    /// Description.
    pub description: String,
    /// VPC name.
    pub vpc_name: String,
    /// Subnet name.
    pub subnet_name: String,
    /// Address stack; `None` leaves the API default (dual stack).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_config: Option<PrivateIpStackCreate>,
}

/// Private address stack of an interface (`PrivateIpStackCreate`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
#[non_exhaustive]
pub enum PrivateIpStackCreate {
    /// IPv4 only.
    V4(PrivateIpv4StackCreate),
    /// IPv6 only.
    V6(PrivateIpv6StackCreate),
    /// Both.
    DualStack {
        /// IPv4 side.
        v4: PrivateIpv4StackCreate,
        /// IPv6 side.
        v6: PrivateIpv6StackCreate,
    },
}

impl PrivateIpStackCreate {
    /// IPv4 only, address picked by the rack.
    pub fn v4_auto() -> Self {
        PrivateIpStackCreate::V4(PrivateIpv4StackCreate {
            ip: Ipv4Assignment::Auto,
            transit_ips: Vec::new(),
        })
    }

    /// IPv6 only, address picked by the rack.
    pub fn v6_auto() -> Self {
        PrivateIpStackCreate::V6(PrivateIpv6StackCreate {
            ip: Ipv6Assignment::Auto,
            transit_ips: Vec::new(),
        })
    }
}

/// IPv4 side of an interface (`PrivateIpv4StackCreate`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PrivateIpv4StackCreate {
    /// The address.
    pub ip: Ipv4Assignment,
    /// Extra subnets routed through the interface (`192.168.1.0/24`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub transit_ips: Vec<String>,
}

/// IPv6 side of an interface (`PrivateIpv6StackCreate`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PrivateIpv6StackCreate {
    /// The address.
    pub ip: Ipv6Assignment,
    /// Extra subnets routed through the interface (`fd12:3456::/64`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub transit_ips: Vec<String>,
}

/// How an IPv4 address is chosen (`Ipv4Assignment`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum Ipv4Assignment {
    /// By the rack.
    Auto,
    /// This address.
    Explicit(Ipv4Addr),
}

/// How an IPv6 address is chosen (`Ipv6Assignment`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum Ipv6Assignment {
    /// By the rack.
    Auto,
    /// This address.
    Explicit(Ipv6Addr),
}
