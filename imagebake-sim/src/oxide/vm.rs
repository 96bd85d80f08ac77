//! Keeps each instance's simulated guest (see [`crate::machine`]) in step
//! with its run state: `running`, `stopping` and `rebooting` instances have
//! a running sshd, others none, and a guest that powered itself off makes
//! its instance `stopped`. The guest's disk is the instance's boot disk, so
//! a snapshot of it captures what the guest wrote.

use std::net::Ipv4Addr;

use uuid::Uuid;

use super::model::World;
use crate::machine::{Boot, Machines};

fn on(state: &str) -> bool {
    matches!(state, "running" | "stopping" | "rebooting")
}

/// The disk a guest runs on: its boot disk, else one of its own.
pub(crate) fn disk_of(boot_disk: Option<Uuid>, instance: Uuid) -> Uuid {
    boot_disk.unwrap_or(instance)
}

/// Brings every instance's guest in line with its state (after a settle).
pub(crate) fn sync_all(w: &mut World) {
    let Some(vms) = w.vms.clone() else {
        return;
    };
    for i in 0..w.instances.len() {
        sync(&vms, w, i);
    }
}

fn sync(vms: &Machines, w: &mut World, i: usize) {
    let World {
        instances,
        disks,
        ssh_keys,
        ..
    } = w;
    let Some(inst) = instances.get_mut(i) else {
        return;
    };
    if on(inst.state) && vms.take_guest_poweroff(inst.id) {
        // A guest-initiated shutdown stops the instance.
        inst.set_state("stopped", None);
    }
    let running = vms.is_running(inst.id);
    if on(inst.state) && !running {
        let disk = disk_of(inst.boot_disk_id, inst.id);
        let source = disks
            .iter()
            .find(|d| d.id == disk)
            .and_then(|d| d.image_id.or(d.snapshot_id));
        let keys: Vec<String> = inst
            .ssh_key_ids
            .iter()
            .filter_map(|k| ssh_keys.iter().find(|s| s.id == *k))
            .map(|k| k.public_key.trim().to_owned())
            .collect();
        let boot = Boot {
            vm: inst.id,
            disk,
            source,
            ip: inst.ip.parse().unwrap_or(Ipv4Addr::LOCALHOST),
            authorized_keys: &keys,
        };
        if let Err(e) = vms.boot(&boot) {
            tracing::error!(instance = %inst.id, error = %e, "simulated instance failed to boot");
            inst.set_state("failed", None);
        }
    } else if !on(inst.state) && running {
        vms.halt(inst.id);
    }
}
