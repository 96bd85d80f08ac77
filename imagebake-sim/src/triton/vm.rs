//! Keeps each machine's simulated guest (see [`crate::machine`]) in step
//! with its CloudAPI state: a `running` (or `stopping`) machine has a
//! running sshd, any other has none, a deleted one is removed, and a guest
//! that powered itself off makes its machine `stopped`.

use std::net::Ipv4Addr;
use std::time::SystemTime;

use super::state::{Machine, MachineState};
use crate::machine::{Boot, Machines};

/// The address of every machine when machines have no SSH.
pub(crate) const API_ONLY_IP: &str = "127.0.0.1";

/// Brings `m`'s guest in line with its state (called after each settle).
pub(crate) fn sync(vms: &Machines, m: &mut Machine) {
    if m.is_deleted() {
        vms.destroy_vm(m.id);
        vms.destroy_disk(m.id);
        return;
    }
    let on = |s: MachineState| matches!(s, MachineState::Running | MachineState::Stopping);
    if on(m.state) && vms.take_guest_poweroff(m.id) {
        // A guest-initiated shutdown: the machine is stopped, as on Triton.
        m.state = MachineState::Stopped;
        m.updated = SystemTime::now();
        if !m.is_deleting() {
            m.pending = None;
        }
    }
    if on(m.state) && !vms.is_running(m.id) {
        let keys: Vec<String> = m
            .metadata
            .get("root_authorized_keys")
            .map(|k| k.lines().map(str::to_owned).collect())
            .unwrap_or_default();
        let ip = m.ip.parse().unwrap_or(Ipv4Addr::LOCALHOST);
        let boot = Boot {
            vm: m.id,
            disk: m.id,
            source: Some(m.image),
            ip,
            authorized_keys: &keys,
        };
        if let Err(e) = vms.boot(&boot) {
            tracing::error!(machine = %m.id, error = %e, "simulated machine failed to boot");
            m.state = MachineState::Failed;
            m.updated = SystemTime::now();
            if !m.is_deleting() {
                m.pending = None;
            }
        }
    } else if !on(m.state) && vms.is_running(m.id) {
        vms.halt(m.id);
    }
}
