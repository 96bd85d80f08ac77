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
//! The slow work (mounts, sshd starts and stops, layer copies) runs on one
//! worker thread per simulator, never on an async worker or under the
//! simulator's state lock; the simulators hold a machine's API state back
//! until its guest is up (or down), so `running` still means sshd answers.
//!
//! Everything lives in one data directory per simulator; shutting the
//! simulator down (or dropping it, also while a test panics) stops every
//! sshd and every process inside the machines, unmounts every overlay and
//! removes the directory.

mod error;
mod fleet;
mod fsutil;
mod guest;
mod overlay;
mod preflight;
mod rootfs;
mod sshd;
mod worker;

use std::net::Ipv4Addr;
use std::path::Path;
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use uuid::Uuid;

pub(crate) use worker::Guest;
use worker::{BootOrder, GuestStatus, Op};

pub use error::MachineError;
pub use guest::GuestFlavor;
pub use preflight::check_support;

/// Writes a Linux root filesystem without a running system into `dir` (an
/// empty directory): the Linux guest layer (bash, `apt-get`, `sudo`, the
/// cloud users) over a static busybox with its applets, and `/tmp`. What a
/// simulator without machines (the Outscale seed disk) gives chroot
/// builders to run provisioners in.
#[cfg(feature = "osc")]
pub(crate) fn linux_seed_tree(dir: &Path) -> Result<(), MachineError> {
    // The layer first: busybox's applets never replace one of its files.
    guest::build(GuestFlavor::Linux, dir)?;
    rootfs::busybox(dir)?;
    let tmp = dir.join("tmp");
    std::fs::create_dir_all(&tmp)
        .and_then(|()| {
            std::fs::set_permissions(
                &tmp,
                <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o1777),
            )
        })
        .map_err(MachineError::io(format!("creating {}", tmp.display())))
}

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

/// What the fleet needs to boot one machine.
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

/// The simulated machines of one simulator: a cheap-to-clone handle whose
/// methods never wait for slow work (except [`Machines::read_file`] and
/// [`Machines::shutdown`]), so request handlers may call them while holding
/// their state lock. Booting, stopping, destroying and capturing are queued
/// to one worker thread and done in the order asked; [`Machines::guest`]
/// tells how far they got.
#[derive(Debug, Clone)]
pub(crate) struct Machines(Arc<Handle>);

#[derive(Debug)]
struct Handle {
    port: u16,
    shared: Arc<worker::Shared>,
    ops: Mutex<Option<Sender<Op>>>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

fn locked<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Machines {
    /// Checks that machines can run here, builds the base root filesystem in
    /// a new data directory and picks a free SSH port (blocking: call it on
    /// a blocking thread), then starts the worker thread.
    /// Starts the machines on a blocking thread when `ssh` asks for them;
    /// `None` when the simulator runs without SSH.
    pub async fn start_for(ssh: SshMode) -> std::io::Result<Option<Self>> {
        match ssh {
            SshMode::Off => Ok(None),
            _ => Ok(Some(
                tokio::task::spawn_blocking(Self::start)
                    .await
                    .map_err(std::io::Error::other)??,
            )),
        }
    }

    pub fn start() -> Result<Self, MachineError> {
        let fleet = fleet::Fleet::start()?;
        let port = fleet.port();
        let shared = Arc::new(worker::Shared::default());
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("imagebake-sim-machines".to_owned())
            .spawn({
                let shared = Arc::clone(&shared);
                move || worker::run(fleet, rx, shared)
            })
            .map_err(MachineError::io("starting the machines' worker thread"))?;
        Ok(Self(Arc::new(Handle {
            port,
            shared,
            ops: Mutex::new(Some(tx)),
            thread: Mutex::new(Some(thread)),
        })))
    }

    fn send(&self, op: Op) -> Result<(), MachineError> {
        match &*locked(&self.0.ops) {
            Some(tx) => tx.send(op).map_err(|_| MachineError::ShutDown),
            None => Err(MachineError::ShutDown),
        }
    }

    /// Queues `op` for a guest, first updating its status with `mark`.
    fn order(&self, vm: Uuid, mark: impl FnOnce(&mut GuestStatus), op: Op) {
        {
            let mut st = self.0.shared.status();
            mark(st.guests.entry(vm).or_default());
        }
        if let Err(e) = self.send(op) {
            tracing::warn!(machine = %vm, error = %e, "simulated machine work not queued");
        }
    }

    /// The SSH port every machine listens on.
    pub fn ssh_port(&self) -> u16 {
        self.0.port
    }

    /// The next free `127.x.y.z` address (never `.0`, `.1` or `.255`).
    pub fn allocate_ip(&self) -> Ipv4Addr {
        let mut st = self.0.shared.status();
        loop {
            st.next_ip = st.next_ip.wrapping_add(1) & 0x00ff_ffff;
            let [_, a, b, c] = st.next_ip.to_be_bytes();
            if c > 1 && c < 255 {
                return Ipv4Addr::new(127, a, b, c);
            }
        }
    }

    /// What the machine's guest is doing; `None` when it has none (never
    /// booted, or destroyed).
    pub fn guest(&self, vm: Uuid) -> Option<Guest> {
        self.0
            .shared
            .status()
            .guests
            .get(&vm)
            .map(|g| g.guest.clone())
    }

    /// Whether the guest runs or is booting.
    pub fn is_up(&self, vm: Uuid) -> bool {
        matches!(self.guest(vm), Some(Guest::Booting | Guest::Running))
    }

    /// Queues a boot (mount its root, start sshd, wait until it accepts
    /// connections) unless it is up or booting already.
    pub fn boot(&self, boot: &Boot<'_>) {
        if self.is_up(boot.vm) {
            return;
        }
        let order = BootOrder {
            vm: boot.vm,
            disk: boot.disk,
            source: boot.source,
            ip: boot.ip,
            authorized_keys: boot.authorized_keys.to_vec(),
        };
        self.order(boot.vm, |g| g.guest = Guest::Booting, Op::Boot(order));
    }

    /// The reason the last boot failed, once (the guest is off afterwards).
    pub fn take_failure(&self, vm: Uuid) -> Option<String> {
        let mut st = self.0.shared.status();
        let g = st.guests.get_mut(&vm)?;
        match std::mem::replace(&mut g.guest, Guest::Off) {
            Guest::Failed(why) => Some(why),
            other => {
                g.guest = other;
                None
            }
        }
    }

    /// True once after the guest powered itself off (`poweroff`, `halt`,
    /// `shutdown`, or sshd ended): its processes are stopped and its root
    /// unmounted. Also queues the next check of a running guest; a guest
    /// `reboot` restarts sshd there and is never reported.
    pub fn take_guest_poweroff(&self, vm: Uuid) -> bool {
        let poll = {
            let mut st = self.0.shared.status();
            let Some(g) = st.guests.get_mut(&vm) else {
                return false;
            };
            if std::mem::take(&mut g.powered_off) {
                return true;
            }
            let poll = g.guest == Guest::Running && !g.polling;
            g.polling |= poll;
            poll
        };
        if poll && self.send(Op::Poll(vm)).is_err() {
            self.0
                .shared
                .status()
                .guests
                .entry(vm)
                .and_modify(|g| g.polling = false);
        }
        false
    }

    /// Queues stopping every process of the machine and unmounting its root.
    pub fn halt(&self, vm: Uuid) {
        if self.is_up(vm) {
            self.order(vm, |g| g.guest = Guest::Stopping, Op::Halt(vm));
        }
    }

    /// Queues a restart of a running machine (stop its processes, start
    /// sshd again).
    #[cfg_attr(not(feature = "triton"), allow(dead_code))]
    pub fn reboot(&self, vm: Uuid) -> Result<(), MachineError> {
        if self.guest(vm) == Some(Guest::Running) {
            self.send(Op::Reboot(vm))?;
        }
        Ok(())
    }

    /// Queues halting the machine and forgetting it, and removing `disk` if
    /// given; its status goes once done ([`Machines::guest`] is `None`).
    pub fn destroy(&self, vm: Uuid, disk: Option<Uuid>) {
        let queued = self
            .0
            .shared
            .status()
            .guests
            .get(&vm)
            .is_some_and(|g| g.destroying);
        if !queued {
            self.order(
                vm,
                |g| {
                    g.destroying = true;
                    if matches!(g.guest, Guest::Booting | Guest::Running) {
                        g.guest = Guest::Stopping;
                    }
                },
                Op::Destroy { vm, disk },
            );
        }
    }

    /// Queues halting the machine and forgetting it (its disk stays).
    #[cfg_attr(not(feature = "oxide"), allow(dead_code))]
    pub fn destroy_vm(&self, vm: Uuid) {
        self.destroy(vm, None);
    }

    /// Queues removing a disk's upper directory (halting its machines).
    #[cfg_attr(not(feature = "oxide"), allow(dead_code))]
    pub fn destroy_disk(&self, disk: Uuid) {
        if let Err(e) = self.send(Op::DestroyDisk(disk)) {
            tracing::warn!(%disk, error = %e, "removing a disk not queued");
        }
    }

    /// Queues capturing `disk` (made from `source`) as the layers of `into`;
    /// boots and reads from `into` queued later see the capture. A capture
    /// that fails makes those boots fail.
    pub fn capture(
        &self,
        disk: Uuid,
        source: Option<Uuid>,
        into: Uuid,
    ) -> Result<(), MachineError> {
        self.send(Op::Capture { disk, source, into })
    }

    /// Gives `key` the same layers as `from` (an image made from a snapshot).
    #[cfg_attr(not(feature = "oxide"), allow(dead_code))]
    pub fn alias(&self, key: Uuid, from: Uuid) {
        if let Err(e) = self.send(Op::Alias { key, from }) {
            tracing::warn!(image = %key, error = %e, "image layers not queued");
        }
    }

    /// Makes image `key` present `flavor`'s system (a seed image: the base
    /// root filesystem with the flavor's stand-ins on top).
    pub fn flavor(&self, key: Uuid, flavor: GuestFlavor) {
        if let Err(e) = self.send(Op::Flavor { key, flavor }) {
            tracing::warn!(image = %key, error = %e, "image flavor not queued");
        }
    }

    /// A file as the image (or snapshot) `key` presents it, after the work
    /// queued before. Waits for the worker: never call it from a request
    /// handler.
    pub fn read_file(&self, key: Uuid, path: &Path) -> Result<Option<Vec<u8>>, MachineError> {
        let (reply, answer) = std::sync::mpsc::channel();
        self.send(Op::ReadFile {
            key,
            path: path.to_owned(),
            reply,
        })?;
        answer.recv().map_err(|_| MachineError::ShutDown)?
    }

    /// How to reach the machine, once it has booted.
    pub fn info(&self, vm: Uuid) -> Option<SshInfo> {
        self.0.shared.status().guests.get(&vm)?.ssh.clone()
    }

    /// Makes boots wait until the guard is dropped: a guest slow to boot,
    /// for tests.
    #[cfg_attr(not(feature = "triton"), allow(dead_code))]
    pub fn hold_boots(&self) -> BootHold {
        self.0.shared.status().hold_boots = true;
        BootHold(self.clone())
    }

    fn release_boots(&self) {
        self.0.shared.release_boots();
    }

    /// Stops every machine, unmounts everything and removes the data
    /// directory, after the work queued before; waits for it (call it on a
    /// blocking thread). Idempotent.
    pub fn shutdown(&self) {
        self.release_boots();
        let Some(tx) = locked(&self.0.ops).take() else {
            return;
        };
        let (done, finished) = std::sync::mpsc::channel();
        if tx.send(Op::Shutdown(done)).is_ok() {
            let _ = finished.recv();
        }
        if let Some(t) = locked(&self.0.thread).take() {
            let _ = t.join();
        }
    }
}

/// Holds every boot of one simulator's machines, before anything is done
/// for them, until dropped: a guest slow to boot, so tests can check what
/// the simulator does meanwhile.
#[derive(Debug)]
pub struct BootHold(Machines);

impl BootHold {
    /// How many boots wait for this hold now.
    pub fn boots_waiting(&self) -> usize {
        self.0.0.shared.status().held
    }
}

impl Drop for BootHold {
    fn drop(&mut self) {
        self.0.release_boots();
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
