//! Keeps each instance's simulated guest (see [`crate::machine`]) in step
//! with its run state: `running`, `stopping` and `rebooting` instances have
//! a running sshd, others none, and a guest that powered itself off makes
//! its instance `stopped`. The guest's disk is the instance's boot disk, so
//! a snapshot of it captures what the guest wrote.
//!
//! The guest's work is queued, never waited for here (this runs under the
//! world's lock): a due transition is held back until the guest caught up,
//! so an instance turns `running` only once its sshd answers and `stopped`
//! once its processes are gone.

use std::net::Ipv4Addr;

use tokio::time::Instant;
use uuid::Uuid;

use super::model::World;
use crate::machine::{Boot, Guest, Machines};

fn on(state: &str) -> bool {
    matches!(state, "running" | "stopping" | "rebooting")
}

/// The disk a guest runs on: its boot disk, else one of its own.
pub(crate) fn disk_of(boot_disk: Option<Uuid>, instance: Uuid) -> Uuid {
    boot_disk.unwrap_or(instance)
}

/// Applies every instance's due transition once its guest matches it, then
/// brings the guests in line with the states.
pub(crate) fn settle_all(w: &mut World, now: Instant) {
    let vms = w.vms.clone();
    for i in 0..w.instances.len() {
        if let (Some(vms), Some((to, at))) = (&vms, w.instances[i].pending)
            && at <= now
            && !guest_ready(vms, w, i, to)
        {
            continue;
        }
        w.instances[i].settle(now);
        if let Some(vms) = &vms {
            sync(vms, w, i);
        }
    }
}

/// Whether instance `i`'s guest is where state `to` needs it; if not, asks
/// for it.
fn guest_ready(vms: &Machines, w: &World, i: usize, to: &str) -> bool {
    let id = w.instances[i].id;
    match (on(to), vms.guest(id)) {
        // A failed boot is applied by `sync`, which fails the instance.
        (true, Some(Guest::Running | Guest::Failed(_))) => true,
        (true, Some(Guest::Booting | Guest::Stopping)) => false,
        (true, Some(Guest::Off) | None) => {
            boot(vms, w, i);
            false
        }
        (false, Some(Guest::Running | Guest::Booting)) => {
            vms.halt(id);
            false
        }
        (false, Some(Guest::Stopping)) => false,
        (false, _) => true,
    }
}

fn boot(vms: &Machines, w: &World, i: usize) {
    let inst = &w.instances[i];
    let disk = disk_of(inst.boot_disk_id, inst.id);
    let source = w
        .disks
        .iter()
        .find(|d| d.id == disk)
        .and_then(|d| d.image_id.or(d.snapshot_id));
    let keys: Vec<String> = inst
        .ssh_key_ids
        .iter()
        .filter_map(|k| w.ssh_keys.iter().find(|s| s.id == *k))
        .map(|k| k.public_key.trim().to_owned())
        .collect();
    vms.boot(&Boot {
        vm: inst.id,
        disk,
        source,
        ip: inst.ip.parse().unwrap_or(Ipv4Addr::LOCALHOST),
        authorized_keys: &keys,
    });
}

/// Brings instance `i`'s guest in line with its (settled) state.
fn sync(vms: &Machines, w: &mut World, i: usize) {
    let id = w.instances[i].id;
    if !on(w.instances[i].state) {
        vms.halt(id);
        return;
    }
    if let Some(why) = vms.take_failure(id) {
        tracing::error!(instance = %id, error = %why, "simulated instance failed to boot");
        w.instances[i].set_state("failed", None);
    } else if vms.take_guest_poweroff(id) {
        // A guest-initiated shutdown stops the instance.
        w.instances[i].set_state("stopped", None);
    } else if !matches!(vms.guest(id), Some(Guest::Stopping)) {
        boot(vms, w, i);
    }
}
