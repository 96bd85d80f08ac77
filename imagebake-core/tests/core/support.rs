//! A minimal busybox root filesystem for the chroot tests.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use imagebake_core::{
    CancellationToken, ChrootCommunicator, Comm, Communicator, Error, Event, ExitOutput,
    OutputStream, RemoteCommand,
};
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
/// Waits for a process that was just sent SIGKILL (up to 30 s: a bound
/// against a loaded machine, not a timing assertion).
pub fn process_is_dead(pid: i32) -> bool {
    for _ in 0..600 {
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

/// Asserts that the process whose pid a command wrote to `pid_file` is dead.
pub fn assert_dead(pid_file: &Path) {
    let pid: i32 = fs::read_to_string(pid_file)
        .expect("pid file")
        .trim()
        .parse()
        .expect("a pid");
    assert!(
        process_is_dead(pid),
        "process {pid} survived the cancellation"
    );
}

/// Runs `cmd` on `comm`, collecting its output lines.
pub async fn run(
    comm: &dyn Communicator,
    cmd: RemoteCommand,
) -> (Result<ExitOutput, Error>, Vec<(OutputStream, String)>) {
    let mut lines = Vec::new();
    let r = comm
        .exec(
            &cmd,
            &mut |s, l: &str| lines.push((s, l.to_owned())),
            &CancellationToken::new(),
        )
        .await;
    (r, lines)
}

/// A command writing to both streams, ending without a newline, exiting 3.
pub const TWO_STREAMS_EXIT_3: &str =
    "echo out1; echo err1 >&2; echo out2; printf 'no newline'; exit 3";

/// What every communicator must make of [`TWO_STREAMS_EXIT_3`]: each line on
/// its stream, in order, the tails, and status 3 as a failure.
pub fn assert_two_streams_exit_3(
    r: Result<ExitOutput, Error>,
    lines: &[(OutputStream, String)],
) -> ExitOutput {
    let out = r.expect("the command ran");
    assert_eq!(out.status, 3);
    assert_eq!(out.stdout_tail, ["out1", "out2", "no newline"]);
    assert_eq!(out.stderr_tail, ["err1"]);
    let stdout: Vec<&str> = lines
        .iter()
        .filter(|(s, _)| *s == OutputStream::Stdout)
        .map(|(_, l)| l.as_str())
        .collect();
    assert_eq!(stdout, ["out1", "out2", "no newline"]);
    assert!(lines.contains(&(OutputStream::Stderr, "err1".into())));
    assert!(matches!(
        out.clone().check("the command").unwrap_err(),
        Error::CommandFailed { status: 3, .. }
    ));
    out
}
