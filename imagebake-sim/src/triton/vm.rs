//! Keeps each machine's simulated guest (see [`crate::machine`]) in step
//! with its CloudAPI state: a `running` (or `stopping`) machine has a
//! running sshd, any other has none, a deleted one is removed, and a guest
//! that powered itself off makes its machine `stopped`.
//!
//! The guest's work is queued, never waited for here (this runs under the
//! store's lock): a due transition is held back until the guest caught up,
//! so a machine turns `running` only once its sshd answers, `stopped` once
//! its processes are gone, and is deleted once its guest is.

use std::net::Ipv4Addr;
use std::time::{Instant, SystemTime};

use super::state::{Machine, MachineState};
use crate::machine::{Boot, Guest, Machines};

/// The address of every machine when machines have no SSH.
pub(crate) const API_ONLY_IP: &str = "127.0.0.1";

fn on(s: MachineState) -> bool {
    matches!(s, MachineState::Running | MachineState::Stopping)
}

/// Applies `m`'s due transition once its guest matches it, then brings the
/// guest in line with the state.
pub(crate) fn settle(vms: Option<&Machines>, m: &mut Machine, now: Instant) {
    let Some(vms) = vms else {
        m.settle(now);
        return;
    };
    if let Some(t) = m.pending.filter(|t| t.at <= now)
        && !guest_ready(vms, m, t.to)
    {
        return;
    }
    m.settle(now);
    sync(vms, m);
}

/// Whether the guest is where state `to` needs it; if not, asks for it.
fn guest_ready(vms: &Machines, m: &Machine, to: MachineState) -> bool {
    let guest = vms.guest(m.id);
    if to == MachineState::Deleted {
        if guest.is_some() {
            vms.destroy(m.id, Some(m.id));
        }
        return guest.is_none();
    }
    match (on(to), guest) {
        // A failed boot is applied by `sync`, which fails the machine.
        (true, Some(Guest::Running | Guest::Failed(_))) => true,
        (true, Some(Guest::Booting | Guest::Stopping)) => false,
        (true, Some(Guest::Off) | None) => {
            boot(vms, m);
            false
        }
        (false, Some(Guest::Running | Guest::Booting)) => {
            vms.halt(m.id);
            false
        }
        (false, Some(Guest::Stopping)) => false,
        (false, _) => true,
    }
}

fn boot(vms: &Machines, m: &Machine) {
    let keys: Vec<String> = m
        .metadata
        .get("root_authorized_keys")
        .map(|k| k.lines().map(str::to_owned).collect())
        .unwrap_or_default();
    vms.boot(&Boot {
        vm: m.id,
        disk: m.id,
        source: Some(m.image),
        ip: m.ip.parse().unwrap_or(Ipv4Addr::LOCALHOST),
        authorized_keys: &keys,
    });
}

/// Brings `m`'s guest in line with its (settled) state.
fn sync(vms: &Machines, m: &mut Machine) {
    if m.is_deleted() {
        if vms.guest(m.id).is_some() {
            vms.destroy(m.id, Some(m.id));
        }
        return;
    }
    if !on(m.state) {
        vms.halt(m.id);
        return;
    }
    let failed = vms.take_failure(m.id);
    if let Some(why) = &failed {
        tracing::error!(machine = %m.id, error = %why, "simulated machine failed to boot");
        m.state = MachineState::Failed;
    } else if vms.take_guest_poweroff(m.id) {
        // A guest-initiated shutdown: the machine is stopped, as on Triton.
        m.state = MachineState::Stopped;
    } else {
        if !matches!(vms.guest(m.id), Some(Guest::Stopping)) {
            boot(vms, m);
        }
        return;
    }
    m.updated = SystemTime::now();
    if !m.is_deleting() {
        m.pending = None;
    }
}
