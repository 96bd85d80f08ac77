//! A machine's sshd: host key, configuration, start, readiness, and stopping
//! every process that runs inside the machine.

use std::fs;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use ssh_key::private::{Ed25519Keypair, KeypairData};
use ssh_key::{HashAlg, LineEnding, PrivateKey};
use uuid::Uuid;

use super::MachineError;
use super::fsutil::write_inside;
use super::preflight::{SFTP_SERVER, SSHD, Tools};

/// How long sshd may take to accept connections.
const READY_TIMEOUT: Duration = Duration::from_secs(15);
/// How long processes get between SIGTERM and SIGKILL.
const TERM_GRACE: Duration = Duration::from_secs(2);
/// The host key inside the machine.
const HOST_KEY: &str = "/etc/ssh/ssh_host_ed25519_key";

/// A machine's host key, public parts.
#[derive(Debug, Clone)]
pub(crate) struct HostKey {
    pub public_line: String,
    pub fingerprint: String,
}

/// Makes a new Ed25519 host key and writes it (and its `.pub`) into `root`.
pub(crate) fn write_new_host_key(root: &Path) -> Result<HostKey, MachineError> {
    let mut seed = [0u8; 32];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut seed).map_err(|_| {
        MachineError::io("reading system randomness for a host key")(std::io::Error::other(
            "no system randomness",
        ))
    })?;
    let private = PrivateKey::new(
        KeypairData::Ed25519(Ed25519Keypair::from_seed(&seed)),
        "root@imagebake-sim",
    )
    .map_err(MachineError::HostKey)?;
    let pem = private
        .to_openssh(LineEnding::LF)
        .map_err(MachineError::HostKey)?;
    let public_line = private
        .public_key()
        .to_openssh()
        .map_err(MachineError::HostKey)?;
    write_inside(root, Path::new(HOST_KEY), pem.as_bytes(), 0o600, 0o755)?;
    write_inside(
        root,
        Path::new(&format!("{HOST_KEY}.pub")),
        format!("{public_line}\n").as_bytes(),
        0o644,
        0o755,
    )?;
    Ok(HostKey {
        fingerprint: private
            .public_key()
            .fingerprint(HashAlg::Sha256)
            .to_string(),
        public_line,
    })
}

/// Writes `/etc/ssh/sshd_config` for address `ip`, port `port`.
pub(crate) fn write_config(root: &Path, ip: Ipv4Addr, port: u16) -> Result<(), MachineError> {
    let config = format!(
        "# Written by imagebake-sim at each boot.\n\
         ListenAddress {ip}\n\
         Port {port}\n\
         HostKey {HOST_KEY}\n\
         PermitRootLogin prohibit-password\n\
         PubkeyAuthentication yes\n\
         PasswordAuthentication no\n\
         KbdInteractiveAuthentication no\n\
         AuthorizedKeysFile .ssh/authorized_keys\n\
         UsePAM no\n\
         UseDNS no\n\
         PrintMotd no\n\
         PrintLastLog no\n\
         AcceptEnv LANG LC_* IMAGEBAKE_*\n\
         PidFile /run/sshd.pid\n\
         Subsystem sftp {SFTP_SERVER}\n"
    );
    write_inside(
        root,
        Path::new("/etc/ssh/sshd_config"),
        config.as_bytes(),
        0o644,
        0o755,
    )
}

/// Starts `chroot ROOT /usr/sbin/sshd -D -e` with its output in `log`, in
/// its own PID, UTS and IPC namespaces: a guest's `kill -9 -1` or `hostname`
/// stays inside the machine, and when sshd (the namespace's PID 1) exits,
/// everything the guest left running dies with it. The network is shared so
/// sshd listens on the host's loopback.
pub(crate) fn spawn(tools: &Tools, root: &Path, log: &Path) -> Result<Child, MachineError> {
    let out =
        fs::File::create(log).map_err(MachineError::io(format!("creating {}", log.display())))?;
    let err = out
        .try_clone()
        .map_err(MachineError::io(format!("opening {}", log.display())))?;
    Command::new(&tools.unshare)
        .args([
            "--pid",
            "--fork",
            "--uts",
            "--ipc",
            "--kill-child=SIGKILL",
            "--",
        ])
        .arg(&tools.chroot)
        .arg(root)
        .args([SSHD, "-D", "-e", "-f", "/etc/ssh/sshd_config"])
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .spawn()
        .map_err(MachineError::io(format!(
            "starting sshd in {}",
            root.display()
        )))
}

/// The last lines of a log file.
pub(crate) fn log_tail(log: &Path) -> String {
    let text = fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().rev().take(8).collect();
    lines.into_iter().rev().collect::<Vec<_>>().join(" / ")
}

/// Waits until sshd accepts connections on `ip:port`; fails if it exits or
/// takes too long.
pub(crate) fn wait_ready(
    vm: Uuid,
    child: &mut Child,
    ip: Ipv4Addr,
    port: u16,
    log: &Path,
) -> Result<(), MachineError> {
    let addr = SocketAddr::from((ip, port));
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if matches!(child.try_wait(), Ok(Some(_))) {
            break;
        }
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Err(MachineError::Sshd {
        vm,
        log: log_tail(log),
    })
}

/// Processes whose root directory is `root` (everything running inside the
/// machine), from the host's `/proc`.
fn pids_in(root: &Path) -> Vec<i32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| fs::read_link(format!("/proc/{pid}/root")).is_ok_and(|r| r.starts_with(root)))
        .collect()
}

/// Stops every process inside the machine at `root` (SIGTERM, then SIGKILL
/// for those still there after a grace period) and reaps `child`, the
/// machine's sshd, if given.
pub(crate) fn stop_all(root: &Path, mut child: Option<Child>) {
    let child_pid = child.as_ref().and_then(|c| i32::try_from(c.id()).ok());
    let signal_all = |sig: Signal, child_alive: bool| {
        let mut pids = pids_in(root);
        if let (Some(pid), true) = (child_pid, child_alive) {
            pids.push(pid);
        }
        pids.sort_unstable();
        pids.dedup();
        for pid in pids {
            let _ = kill(Pid::from_raw(pid), sig);
        }
    };
    signal_all(Signal::SIGTERM, child.is_some());
    let deadline = Instant::now() + TERM_GRACE;
    loop {
        if child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(Some(_))))
        {
            child = None;
        }
        if child.is_none() && pids_in(root).is_empty() {
            return;
        }
        if Instant::now() >= deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    signal_all(Signal::SIGKILL, child.is_some());
    if let Some(mut c) = child {
        let _ = c.wait();
    }
    let deadline = Instant::now() + TERM_GRACE;
    while !pids_in(root).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The canonical form of a machine root, as `/proc/PID/root` shows it.
pub(crate) fn canonical(root: &Path) -> PathBuf {
    fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf())
}
