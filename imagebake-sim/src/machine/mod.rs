//! Simulated machines reachable over real SSH, shared by the Triton and Oxide
//! simulators.
//!
//! A machine's root filesystem is an overlayfs mount whose lower layers are
//! its image (a base root filesystem built once per simulator, plus every
//! layer captured in the image's ancestry) and whose upper directory is the
//! machine's own disk, so writes never touch the host. The base holds a
//! static busybox and a real OpenSSH server; booting a machine mounts the
//! overlay, writes `/root/.ssh/authorized_keys` (the keys the cloud injects)
//! and runs `chroot ROOT /usr/sbin/sshd -D -e` listening on the machine's own
//! loopback address `127.0.0.N` and the simulator's one SSH port.
//!
//! Isolation is a chroot run as root: the machine's files are its own, but it
//! shares the host's kernel, process table and network. `/proc`, `/sys` and
//! the host's `/dev` are never mounted inside, and the busybox applets that
//! act on the host (`reboot`, `poweroff`, `halt`, `init`, `ip`, `ifconfig`,
//! `swapoff`, `hwclock`, ...) are absent; `reboot`, `poweroff`, `halt`,
//! `shutdown` and `init 0|6` are scripts that stop or restart the *simulated*
//! machine (its sshd), which the simulator notices on its next read.
//!
//! Creating an image copies the machine's upper directory (whiteouts and
//! opaque directories included, as overlayfs wrote them) into a new layer;
//! the image is its source's layers plus that one.
//!
//! Everything lives in one data directory per simulator; shutting the
//! simulator down (or dropping it, also while a test panics) stops every
//! sshd and every process inside the machines, unmounts every overlay and
//! removes the directory.

mod error;
mod fleet;
mod fsutil;
mod overlay;
mod preflight;
mod rootfs;
mod sshd;

use std::net::Ipv4Addr;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use uuid::Uuid;

pub use error::MachineError;
pub use preflight::check_support;

/// Whether a simulator's machines are reachable over SSH.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SshMode {
    /// API only: machines have states but nothing runs (the default).
    #[default]
    Off,
    /// Every running machine runs a real sshd in its own root filesystem.
    /// Starting the simulator fails, saying what is missing, when this is
    /// impossible here (needs root, overlayfs, OpenSSH's sshd, busybox).
    On,
}

/// How to reach a simulated machine over SSH, as the inventory shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshInfo {
    /// The machine's own loopback address (`127.0.0.N`, N ≥ 2).
    pub ip: Ipv4Addr,
    /// The simulator's SSH port (the same for all its machines).
    pub port: u16,
    /// The machine's Ed25519 host key as an OpenSSH public key line.
    pub host_key: String,
    /// Its SHA-256 fingerprint as OpenSSH prints it (`SHA256:...`).
    pub host_key_fingerprint: String,
    /// Whether the machine's sshd is running now.
    pub sshd_running: bool,
}

/// What a simulator needs to boot one machine.
#[derive(Debug, Clone)]
pub(crate) struct Boot<'a> {
    /// The machine (Triton machine or Oxide instance id).
    pub vm: Uuid,
    /// Its disk: the upper directory that persists across boots.
    pub disk: Uuid,
    /// What the disk was made from (an image or snapshot id); unknown ids
    /// and `None` mean the base root filesystem alone.
    pub source: Option<Uuid>,
    /// Its address.
    pub ip: Ipv4Addr,
    /// OpenSSH public key lines for `/root/.ssh/authorized_keys`; when
    /// empty, an existing file is left as it is.
    pub authorized_keys: &'a [String],
}

/// The simulated machines of one simulator: a cheap-to-clone handle.
#[derive(Debug, Clone)]
pub(crate) struct Machines(Arc<Mutex<fleet::Fleet>>);

impl Machines {
    /// Checks that machines can run here, builds the base root filesystem in
    /// a new data directory and picks a free SSH port.
    pub fn start() -> Result<Self, MachineError> {
        Ok(Self(Arc::new(Mutex::new(fleet::Fleet::start()?))))
    }

    fn fleet(&self) -> MutexGuard<'_, fleet::Fleet> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The SSH port every machine listens on.
    pub fn ssh_port(&self) -> u16 {
        self.fleet().port()
    }

    /// A new address for a machine.
    pub fn allocate_ip(&self) -> Ipv4Addr {
        self.fleet().allocate_ip()
    }

    /// Boots a machine (mounts its root, starts sshd and waits until it
    /// accepts connections); does nothing if it runs already.
    pub fn boot(&self, boot: &Boot<'_>) -> Result<(), MachineError> {
        self.fleet().boot(boot)
    }

    /// True once after the guest powered itself off (`poweroff`, `halt`,
    /// `shutdown`): its processes are stopped and its root unmounted. A guest
    /// `reboot` restarts sshd here and answers false.
    pub fn take_guest_poweroff(&self, vm: Uuid) -> bool {
        self.fleet().take_guest_poweroff(vm)
    }

    /// Whether the machine's sshd runs.
    pub fn is_running(&self, vm: Uuid) -> bool {
        self.fleet().is_running(vm)
    }

    /// Stops every process of the machine and unmounts its root.
    pub fn halt(&self, vm: Uuid) {
        self.fleet().halt(vm);
    }

    /// Restarts a running machine (stops its processes, starts sshd again).
    #[cfg_attr(not(feature = "triton"), allow(dead_code))]
    pub fn reboot(&self, vm: Uuid) -> Result<(), MachineError> {
        self.fleet().reboot(vm)
    }

    /// Halts the machine and forgets it (its disk stays).
    pub fn destroy_vm(&self, vm: Uuid) {
        self.fleet().destroy_vm(vm);
    }

    /// Removes a disk's upper directory.
    pub fn destroy_disk(&self, disk: Uuid) {
        self.fleet().destroy_disk(disk);
    }

    /// Captures `disk` (made from `source`) as the layers of `into`.
    pub fn capture(
        &self,
        disk: Uuid,
        source: Option<Uuid>,
        into: Uuid,
    ) -> Result<(), MachineError> {
        self.fleet().capture(disk, source, into)
    }

    /// Gives `key` the same layers as `from` (an image made from a snapshot).
    #[cfg_attr(not(feature = "oxide"), allow(dead_code))]
    pub fn alias(&self, key: Uuid, from: Uuid) {
        self.fleet().alias(key, from);
    }

    /// A file as the image (or snapshot) `key` presents it.
    pub fn read_file(&self, key: Uuid, path: &Path) -> Result<Option<Vec<u8>>, MachineError> {
        self.fleet().read_file(key, path)
    }

    /// How to reach the machine, once it has booted.
    pub fn info(&self, vm: Uuid) -> Option<SshInfo> {
        self.fleet().info(vm)
    }

    /// Stops every machine, unmounts everything and removes the data
    /// directory. Idempotent.
    pub fn shutdown(&self) {
        self.fleet().shutdown();
    }
}

/// Shuts the machines down when dropped (held by a simulator, so that a
/// dropped or panicking test leaves no sshd and no mount behind).
#[derive(Debug)]
pub(crate) struct ShutdownOnDrop(pub Machines);

impl Drop for ShutdownOnDrop {
    fn drop(&mut self) {
        self.0.shutdown();
    }
}

/// The mode a simulator's `serve_cli` uses: [`SshMode::On`] when this host
/// supports it, else [`SshMode::Off`] with the reason on stderr.
pub(crate) fn cli_mode(cloud: &str) -> SshMode {
    match check_support() {
        Ok(()) => SshMode::On,
        Err(e) => {
            eprintln!("imagebake-sim --cloud {cloud}: machines are API-only: {e}");
            SshMode::Off
        }
    }
}
