//! A minimal busybox root filesystem for the chroot tests.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use imagebake_core::{ChrootCommunicator, Comm, Event, OutputStream};
use tempfile::TempDir;

const APPLETS: &[&str] = &[
    "sh", "echo", "cat", "sleep", "sync", "ls", "rm", "chmod", "mkdir", "kill", "env", "touch",
    "printf", "id", "true", "false", "test", "wc",
];

/// A busybox root in a temporary directory, and a communicator for it.
pub struct Rootfs {
    pub dir: TempDir,
    pub comm: Arc<ChrootCommunicator>,
}

impl Rootfs {
    /// The host path of `p` inside the root.
    pub fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p.trim_start_matches('/'))
    }

    /// The communicator as the handle provisioners take.
    pub fn dyn_comm(&self) -> Comm {
        Comm::from(self.comm.clone())
    }
}

/// Builds the root (chroot needs root: mark the test `#[needs_root]`).
pub fn rootfs() -> Rootfs {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    imagebake_testing::busybox_tree(root, APPLETS, &["usr/lib"]);
    // An absolute link, as merged-/usr systems have: uploads must follow it
    // inside the root.
    symlink("/usr/lib", root.join("lib")).expect("lib link");
    fs::write(root.join("etc/marker"), "inside-chroot\n").expect("marker");
    let comm = Arc::new(ChrootCommunicator::new(root).expect("communicator"));
    Rootfs { dir, comm }
}

/// Whether process `pid` has exited (gone, or a zombie nobody reaped yet).
/// Waits a little for a process that was just sent SIGKILL.
pub fn process_is_dead(pid: i32) -> bool {
    for _ in 0..100 {
        match fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => return true,
            Ok(stat) => {
                let state = stat.rsplit_once(") ").map(|(_, rest)| rest.chars().next());
                if matches!(state, Some(Some('Z' | 'X'))) {
                    return true;
                }
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// The output lines among `events`, as (stream, line).
pub fn output_lines(events: &[Event]) -> Vec<(OutputStream, String)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::OutputLine { stream, line, .. } => Some((*stream, line.clone())),
            _ => None,
        })
        .collect()
}

/// Everything received so far.
pub fn drain(rx: &mut tokio::sync::mpsc::UnboundedReceiver<Event>) -> Vec<Event> {
    let mut v = Vec::new();
    while let Ok(e) = rx.try_recv() {
        v.push(e);
    }
    v
}
