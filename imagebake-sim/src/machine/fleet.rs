//! The machines, disks and image layers of one simulator, in one data
//! directory: `base/` (the base root filesystem), `disks/ID/{upper,work}`,
//! `vms/ID/{root,sshd.log}`, `layers/ID` (captured layers), `flavors/NAME`
//! (the stand-ins of SmartOS and Linux seed images, see [`super::guest`])
//! and `scratch/` (read-only views of images).

use std::collections::HashMap;
use std::fs;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Child;

use uuid::Uuid;

use super::fsutil::{read_inside, remove_if_present, resolve_inside, write_inside};
use super::guest::{self, GuestFlavor};
use super::preflight::{self, Tools};
use super::rootfs::{self, POWER_MARKER, SSHD_PID};
use super::sshd::{self, HostKey};
use super::{Boot, MachineError, SshInfo, overlay};

/// A disk: lower layers (top first, the base last) and its own upper dir.
#[derive(Debug)]
struct Disk {
    lowers: Vec<PathBuf>,
    dir: PathBuf,
}

impl Disk {
    fn upper(&self) -> PathBuf {
        self.dir.join("upper")
    }
    fn work(&self) -> PathBuf {
        self.dir.join("work")
    }
}

/// A machine: its root mount point and, while it runs, its sshd.
#[derive(Debug)]
struct Vm {
    ip: Ipv4Addr,
    disk: Uuid,
    dir: PathBuf,
    /// Canonical mount point of the machine's root.
    root: PathBuf,
    log: PathBuf,
    host_key: Option<HostKey>,
    sshd: Option<Child>,
}

/// See the module documentation.
#[derive(Debug)]
pub(crate) struct Fleet {
    tools: Tools,
    data: Option<tempfile::TempDir>,
    dir: PathBuf,
    base: PathBuf,
    port: u16,
    next_scratch: u64,
    /// Layers whose capture failed, with why: boots from them fail.
    broken: HashMap<Uuid, String>,
    layers: HashMap<Uuid, Vec<PathBuf>>,
    disks: HashMap<Uuid, Disk>,
    vms: HashMap<Uuid, Vm>,
}

fn mkdirs(p: &Path) -> Result<(), MachineError> {
    fs::create_dir_all(p).map_err(MachineError::io(format!("creating {}", p.display())))
}

impl Fleet {
    /// Checks the host, builds the base root filesystem, proves an overlay
    /// mounts, and picks the SSH port.
    pub fn start() -> Result<Self, MachineError> {
        let tools = preflight::tools()?;
        let data = tempfile::Builder::new()
            .prefix("imagebake-sim-machines-")
            .tempdir()
            .map_err(MachineError::io("creating the machines' data directory"))?;
        let dir = sshd::canonical(data.path());
        let base = dir.join("base");
        let port = TcpListener::bind((Ipv4Addr::UNSPECIFIED, 0))
            .and_then(|l| l.local_addr())
            .map_err(MachineError::io("picking a free SSH port"))?
            .port();
        let mut fleet = Self {
            tools,
            data: Some(data),
            dir,
            base,
            port,
            next_scratch: 0,
            broken: HashMap::new(),
            layers: HashMap::new(),
            disks: HashMap::new(),
            vms: HashMap::new(),
        };
        mkdirs(&fleet.base)?;
        rootfs::build(&fleet.tools, &fleet.base)?;
        for flavor in [GuestFlavor::SmartOs, GuestFlavor::Linux] {
            let dir = fleet.flavor_dir(flavor);
            mkdirs(&dir)?;
            guest::build(flavor, &dir)?;
        }
        fleet.probe_overlay()?;
        Ok(fleet)
    }

    /// Mounts and unmounts one overlay, so that a host where overlayfs
    /// cannot work here fails at start, saying so.
    fn probe_overlay(&mut self) -> Result<(), MachineError> {
        let probe = self.dir.join("probe");
        let (upper, work, root) = (probe.join("upper"), probe.join("work"), probe.join("root"));
        for d in [&upper, &work, &root] {
            mkdirs(d)?;
        }
        let lowers = vec![self.base.clone()];
        overlay::mount(&self.tools, &lowers, Some((&upper, &work)), &root).map_err(|e| {
            MachineError::Unavailable {
                missing: vec![format!(
                    "an overlay mount failed in {}: {e}",
                    self.dir.display()
                )],
            }
        })?;
        overlay::umount(&self.tools, &root)?;
        remove_if_present(&probe)
    }

    /// The SSH port of every machine.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Records that the capture of `key` failed.
    pub fn mark_broken(&mut self, key: Uuid, why: String) {
        self.broken.insert(key, why);
    }

    fn lowers_of(&self, key: Option<Uuid>) -> Vec<PathBuf> {
        key.and_then(|k| self.layers.get(&k))
            .cloned()
            .unwrap_or_else(|| vec![self.base.clone()])
    }

    fn live(&self) -> Result<(), MachineError> {
        if self.data.is_none() {
            return Err(MachineError::ShutDown);
        }
        Ok(())
    }

    /// See [`super::Machines::boot`].
    pub fn boot(&mut self, b: &Boot<'_>) -> Result<(), MachineError> {
        self.live()?;
        if let Some(why) = b.source.and_then(|s| self.broken.get(&s)) {
            return Err(MachineError::Capture {
                image: b.source.unwrap_or_default(),
                why: why.clone(),
            });
        }
        if !self.disks.contains_key(&b.disk) {
            let disk = Disk {
                lowers: self.lowers_of(b.source),
                dir: self.dir.join("disks").join(b.disk.to_string()),
            };
            mkdirs(&disk.upper())?;
            mkdirs(&disk.work())?;
            self.disks.insert(b.disk, disk);
        }
        if !self.vms.contains_key(&b.vm) {
            let dir = self.dir.join("vms").join(b.vm.to_string());
            mkdirs(&dir.join("root"))?;
            let vm = Vm {
                ip: b.ip,
                disk: b.disk,
                root: sshd::canonical(&dir.join("root")),
                log: dir.join("sshd.log"),
                dir,
                host_key: None,
                sshd: None,
            };
            self.vms.insert(b.vm, vm);
        }
        let Some(vm) = self.vms.get_mut(&b.vm) else {
            return Err(MachineError::UnknownMachine(b.vm));
        };
        if vm.sshd.is_some() {
            return Ok(());
        }
        vm.disk = b.disk;
        let Some(disk) = self.disks.get(&b.disk) else {
            return Err(MachineError::UnknownMachine(b.vm));
        };
        if !overlay::is_mounted(&vm.root) {
            overlay::mount(
                &self.tools,
                &disk.lowers,
                Some((&disk.upper(), &disk.work())),
                &vm.root,
            )?;
        }
        let prepared =
            prepare(vm, b.authorized_keys).and_then(|()| launch(&self.tools, b.vm, vm, self.port));
        if prepared.is_err() {
            sshd::stop_all(&vm.root, vm.sshd.take());
            overlay::umount(&self.tools, &vm.root)?;
        }
        prepared
    }

    /// See [`super::Machines::take_guest_poweroff`].
    pub fn take_guest_poweroff(&mut self, id: Uuid) -> bool {
        let Some(vm) = self.vms.get_mut(&id) else {
            return false;
        };
        let exited = vm
            .sshd
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(Some(_))));
        if !exited {
            return false;
        }
        let marker = inside(&vm.root, POWER_MARKER);
        let action = fs::read_to_string(&marker).unwrap_or_default();
        sshd::stop_all(&vm.root, vm.sshd.take());
        let _ = fs::remove_file(&marker);
        if action.trim() == "reboot" {
            match launch(&self.tools, id, vm, self.port) {
                Ok(()) => return false,
                Err(e) => {
                    tracing::warn!(machine = %id, error = %e, "reboot failed; the machine is off")
                }
            }
        } else if action.trim() != "poweroff" {
            tracing::warn!(machine = %id, log = %sshd::log_tail(&vm.log), "sshd ended on its own; the machine is off");
        }
        if let Err(e) = overlay::umount(&self.tools, &vm.root) {
            tracing::error!(machine = %id, error = %e, "unmounting a powered-off machine");
        }
        true
    }

    /// Whether the machine's sshd is running (not checking for an exit).
    pub fn is_running(&self, id: Uuid) -> bool {
        self.vms.get(&id).is_some_and(|v| v.sshd.is_some())
    }

    /// See [`super::Machines::halt`].
    pub fn halt(&mut self, id: Uuid) {
        let Some(vm) = self.vms.get_mut(&id) else {
            return;
        };
        sshd::stop_all(&vm.root, vm.sshd.take());
        if let Err(e) = overlay::umount(&self.tools, &vm.root) {
            tracing::error!(machine = %id, error = %e, "unmounting a stopped machine");
        }
    }

    /// See [`super::Machines::reboot`].
    pub fn reboot(&mut self, id: Uuid) -> Result<(), MachineError> {
        let Some(vm) = self.vms.get_mut(&id) else {
            return Ok(());
        };
        if vm.sshd.is_none() {
            return Ok(());
        }
        sshd::stop_all(&vm.root, vm.sshd.take());
        launch(&self.tools, id, vm, self.port)
    }

    /// See [`super::Machines::destroy_vm`].
    pub fn destroy_vm(&mut self, id: Uuid) {
        if !self.vms.contains_key(&id) {
            return;
        }
        self.halt(id);
        if let Some(vm) = self.vms.remove(&id) {
            if overlay::is_mounted(&vm.root) {
                tracing::error!(machine = %id, "root still mounted; its directory is kept");
                return;
            }
            if let Err(e) = remove_if_present(&vm.dir) {
                tracing::warn!(machine = %id, error = %e, "removing a machine's directory");
            }
        }
    }

    /// See [`super::Machines::destroy_disk`].
    pub fn destroy_disk(&mut self, disk: Uuid) {
        let users: Vec<Uuid> = self
            .vms
            .iter()
            .filter(|(_, v)| v.disk == disk)
            .map(|(id, _)| *id)
            .collect();
        for id in users {
            self.halt(id);
        }
        if let Some(d) = self.disks.remove(&disk)
            && let Err(e) = remove_if_present(&d.dir)
        {
            tracing::warn!(%disk, error = %e, "removing a disk's directory");
        }
    }

    /// See [`super::Machines::capture`].
    pub fn capture(
        &mut self,
        disk: Uuid,
        source: Option<Uuid>,
        into: Uuid,
    ) -> Result<(), MachineError> {
        self.live()?;
        let lowers = match self.disks.get(&disk) {
            Some(d) => {
                let layer = self.dir.join("layers").join(into.to_string());
                mkdirs(&self.dir.join("layers"))?;
                remove_if_present(&layer)?;
                overlay::copy_layer(&self.tools, &d.upper(), &layer)?;
                std::iter::once(layer)
                    .chain(d.lowers.iter().cloned())
                    .collect()
            }
            None => self.lowers_of(source),
        };
        self.layers.insert(into, lowers);
        Ok(())
    }

    fn flavor_dir(&self, flavor: GuestFlavor) -> PathBuf {
        self.dir.join("flavors").join(flavor.dir_name())
    }

    /// See [`super::Machines::flavor`].
    pub fn flavor(&mut self, key: Uuid, flavor: GuestFlavor) {
        let lowers = vec![self.flavor_dir(flavor), self.base.clone()];
        self.layers.insert(key, lowers);
    }

    /// See [`super::Machines::alias`].
    #[cfg_attr(not(feature = "oxide"), allow(dead_code))]
    pub fn alias(&mut self, key: Uuid, from: Uuid) {
        let lowers = self.lowers_of(Some(from));
        self.layers.insert(key, lowers);
    }

    /// See [`super::Machines::read_file`].
    pub fn read_file(&mut self, key: Uuid, path: &Path) -> Result<Option<Vec<u8>>, MachineError> {
        self.live()?;
        let lowers = self.lowers_of(Some(key));
        if let [only] = lowers.as_slice() {
            return read_inside(only, path);
        }
        self.next_scratch += 1;
        let view = self.dir.join("scratch").join(self.next_scratch.to_string());
        mkdirs(&view)?;
        overlay::mount(&self.tools, &lowers, None, &view)?;
        let read = read_inside(&view, path);
        overlay::umount(&self.tools, &view)?;
        let _ = fs::remove_dir(&view);
        read
    }

    /// See [`super::Machines::info`].
    pub fn info(&self, id: Uuid) -> Option<SshInfo> {
        let vm = self.vms.get(&id)?;
        let key = vm.host_key.as_ref()?;
        Some(SshInfo {
            ip: vm.ip,
            port: self.port,
            host_key: key.public_line.clone(),
            host_key_fingerprint: key.fingerprint.clone(),
            sshd_running: vm.sshd.is_some(),
        })
    }

    /// See [`super::Machines::shutdown`].
    pub fn shutdown(&mut self) {
        let Some(data) = self.data.take() else {
            return;
        };
        let ids: Vec<Uuid> = self.vms.keys().copied().collect();
        for id in ids {
            self.halt(id);
        }
        // Anything still mounted under the data directory (a failed unmount).
        let left: Vec<PathBuf> = fs::read_to_string("/proc/self/mounts")
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_whitespace().nth(1))
            .map(PathBuf::from)
            .filter(|p| p.starts_with(&self.dir))
            .collect();
        for p in &left {
            sshd::stop_all(p, None);
            if let Err(e) = overlay::umount(&self.tools, p) {
                tracing::error!(mount = %p.display(), error = %e, "unmounting at shutdown");
            }
        }
        if left.iter().any(|p| overlay::is_mounted(p)) {
            tracing::error!(dir = %self.dir.display(), "mounts remain; the data directory is kept");
            // Keep the files: removing them through a live mount would be wrong.
            let _ = data.keep();
            return;
        }
        self.vms.clear();
        self.disks.clear();
        self.layers.clear();
        if let Err(e) = data.close() {
            tracing::warn!(error = %e, "removing the machines' data directory");
        }
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The host path of `rel` inside a machine's root, its symbolic links
/// resolved inside the root.
fn inside(root: &Path, rel: &str) -> PathBuf {
    resolve_inside(root, Path::new(rel)).unwrap_or_else(|_| root.join("nonexistent"))
}

/// Writes what a boot needs into the mounted root: a host key at the first
/// boot, sshd's configuration, the authorized keys; clears stale run files.
fn prepare(vm: &mut Vm, authorized_keys: &[String]) -> Result<(), MachineError> {
    if vm.host_key.is_none() {
        vm.host_key = Some(sshd::write_new_host_key(&vm.root)?);
    }
    if !authorized_keys.is_empty() {
        let mut text = authorized_keys.join("\n");
        text.push('\n');
        write_inside(
            &vm.root,
            Path::new("/root/.ssh/authorized_keys"),
            text.as_bytes(),
            0o600,
            0o700,
        )?;
    }
    Ok(())
}

/// Writes sshd's configuration, starts it and waits until it accepts
/// connections.
fn launch(tools: &Tools, id: Uuid, vm: &mut Vm, port: u16) -> Result<(), MachineError> {
    remove_if_present(&inside(&vm.root, SSHD_PID))?;
    remove_if_present(&inside(&vm.root, POWER_MARKER))?;
    mkdirs(&inside(&vm.root, "run/sshd"))?;
    sshd::write_config(&vm.root, vm.ip, port)?;
    let mut child = sshd::spawn(tools, &vm.root, &vm.log)?;
    match sshd::wait_ready(id, &mut child, vm.ip, port, &vm.log) {
        Ok(()) => {
            vm.sshd = Some(child);
            Ok(())
        }
        Err(e) => {
            sshd::stop_all(&vm.root, Some(child));
            Err(e)
        }
    }
}
