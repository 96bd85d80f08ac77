//! The thread that does a simulator's slow machine work (mounts, sshd
//! starts and stops, layer copies), one operation at a time in the order
//! asked, so that the API's request handlers never wait for it on an async
//! worker or while holding the simulator's state lock. The handlers read
//! [`Status`], which the worker keeps current.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use uuid::Uuid;

use super::fleet::Fleet;
use super::{Boot, MachineError, SshInfo};

/// What the guest of one machine is doing, as far as the API may know.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) enum Guest {
    /// Asked to boot; mounting its root and starting sshd.
    Booting,
    /// Its sshd accepts connections.
    Running,
    /// Asked to stop (or be destroyed); its processes are being stopped.
    Stopping,
    /// Stopped (its disk stays).
    #[default]
    Off,
    /// The last boot or reboot failed, for this reason.
    Failed(String),
}

/// One machine's guest as the API sees it.
#[derive(Debug, Clone, Default)]
pub(crate) struct GuestStatus {
    pub guest: Guest,
    /// Destroying: the record goes away once done.
    pub destroying: bool,
    /// The guest powered itself off (taken once by the API).
    pub powered_off: bool,
    /// A check for a guest-initiated poweroff or reboot is queued.
    pub polling: bool,
    /// How to reach it, once it booted once.
    pub ssh: Option<SshInfo>,
}

/// What the worker has done, readable at once by request handlers.
#[derive(Debug, Default)]
pub(crate) struct Status {
    pub next_ip: u32,
    pub guests: HashMap<Uuid, GuestStatus>,
    /// Boots wait while this is set (a test hook: a guest slow to boot).
    pub hold_boots: bool,
    /// How many boots wait for it now.
    pub held: usize,
}

/// The shared status and the condition a held boot waits on.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    status: Mutex<Status>,
    released: Condvar,
}

impl Shared {
    pub fn status(&self) -> MutexGuard<'_, Status> {
        self.status.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Lets held boots go on.
    pub fn release_boots(&self) {
        self.status().hold_boots = false;
        self.released.notify_all();
    }

    fn wait_while_held(&self) {
        let mut st = self.status();
        if !st.hold_boots {
            return;
        }
        st.held += 1;
        while st.hold_boots {
            st = self
                .released
                .wait(st)
                .unwrap_or_else(PoisonError::into_inner);
        }
        st.held -= 1;
    }
}

/// A boot, owned (it waits in the queue).
#[derive(Debug, Clone)]
pub(crate) struct BootOrder {
    pub vm: Uuid,
    pub disk: Uuid,
    pub source: Option<Uuid>,
    pub ip: Ipv4Addr,
    pub authorized_keys: Vec<String>,
}

/// One piece of slow work.
#[derive(Debug)]
pub(crate) enum Op {
    Boot(BootOrder),
    Halt(Uuid),
    Reboot(Uuid),
    /// Checks whether the guest powered itself off or rebooted.
    Poll(Uuid),
    Destroy {
        vm: Uuid,
        disk: Option<Uuid>,
    },
    #[cfg_attr(not(feature = "oxide"), allow(dead_code))]
    DestroyDisk(Uuid),
    Capture {
        disk: Uuid,
        source: Option<Uuid>,
        into: Uuid,
    },
    Alias {
        key: Uuid,
        from: Uuid,
    },
    Flavor {
        key: Uuid,
        flavor: super::GuestFlavor,
    },
    ReadFile {
        key: Uuid,
        path: PathBuf,
        reply: Sender<Result<Option<Vec<u8>>, MachineError>>,
    },
    Shutdown(Sender<()>),
}

/// Runs `ops` on `fleet` until shut down (or every sender is gone).
pub(crate) fn run(mut fleet: Fleet, ops: Receiver<Op>, shared: Arc<Shared>) {
    for op in ops {
        match op {
            Op::Boot(b) => {
                shared.wait_while_held();
                let boot = Boot {
                    vm: b.vm,
                    disk: b.disk,
                    source: b.source,
                    ip: b.ip,
                    authorized_keys: &b.authorized_keys,
                };
                let result = fleet.boot(&boot);
                let info = fleet.info(b.vm);
                set(&shared, b.vm, |g| {
                    g.ssh = info.or(g.ssh.take());
                    g.guest = match &result {
                        Ok(()) => Guest::Running,
                        Err(e) => Guest::Failed(e.to_string()),
                    };
                });
            }
            Op::Halt(vm) => {
                fleet.halt(vm);
                set(&shared, vm, |g| g.guest = Guest::Off);
            }
            Op::Reboot(vm) => {
                if let Err(e) = fleet.reboot(vm) {
                    tracing::warn!(machine = %vm, error = %e, "simulated machine failed to reboot");
                    set(&shared, vm, |g| g.guest = Guest::Failed(e.to_string()));
                }
            }
            Op::Poll(vm) => {
                let off = fleet.take_guest_poweroff(vm);
                set(&shared, vm, |g| {
                    g.polling = false;
                    if off {
                        g.guest = Guest::Off;
                        g.powered_off = true;
                    }
                });
            }
            Op::Destroy { vm, disk } => {
                fleet.destroy_vm(vm);
                if let Some(d) = disk {
                    fleet.destroy_disk(d);
                }
                shared.status().guests.remove(&vm);
                mark_stopped(&fleet, &shared);
            }
            Op::DestroyDisk(disk) => {
                fleet.destroy_disk(disk);
                mark_stopped(&fleet, &shared);
            }
            Op::Capture { disk, source, into } => {
                if let Err(e) = fleet.capture(disk, source, into) {
                    tracing::error!(%disk, image = %into, error = %e, "capturing a disk");
                    fleet.mark_broken(into, e.to_string());
                }
            }
            Op::Alias { key, from } => fleet.alias(key, from),
            Op::Flavor { key, flavor } => fleet.flavor(key, flavor),
            Op::ReadFile { key, path, reply } => {
                let _ = reply.send(fleet.read_file(key, &path));
            }
            Op::Shutdown(done) => {
                fleet.shutdown();
                let _ = done.send(());
                return;
            }
        }
    }
    fleet.shutdown();
}

/// Updates (or makes) the status of `vm`.
fn set(shared: &Shared, vm: Uuid, f: impl FnOnce(&mut GuestStatus)) {
    let mut st = shared.status();
    let g = st.guests.entry(vm).or_default();
    f(g);
    if let Some(ssh) = &mut g.ssh {
        ssh.sshd_running = g.guest == Guest::Running;
    }
}

/// Machines whose sshd the fleet stopped as a side effect (their disk was
/// destroyed) are off.
fn mark_stopped(fleet: &Fleet, shared: &Shared) {
    let mut st = shared.status();
    for (id, g) in &mut st.guests {
        if g.guest == Guest::Running && !fleet.is_running(*id) {
            g.guest = Guest::Off;
            if let Some(ssh) = &mut g.ssh {
                ssh.sshd_running = false;
            }
        }
    }
}
