//! A real OpenSSH `sshd` on 127.0.0.1 for the SSH tests, and a real
//! `ssh-agent`. Also compiled into the `ssh_upload_bench` example (by path),
//! so it uses only std and tempfile.
//!
//! Each [`Sshd`] has its own directory with its config, host key,
//! `authorized_keys`, pid file and log (`sshd.log`), listens on a free port
//! and is killed on drop. sshd runs as root (`PermitRootLogin yes`, no PAM).

#![allow(dead_code)] // the benchmark uses a subset

use std::fs;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The server binary (installed by `scripts/test-deps.sh`).
pub const SSHD: &str = "/usr/sbin/sshd";

/// Fails naming the package when the server binary is missing.
fn check_installed() {
    assert!(
        Path::new(SSHD).exists(),
        "{SSHD} is missing: run scripts/test-deps.sh (installs openssh-server)"
    );
}

/// A free TCP port on 127.0.0.1 (free when asked; good enough for tests).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Generates a key pair with `ssh-keygen` at `path` (and `path.pub`).
pub fn keygen(path: &Path, kind: &str, passphrase: &str) {
    let mut cmd = Command::new("ssh-keygen");
    cmd.args([
        "-q",
        "-t",
        kind,
        "-N",
        passphrase,
        "-C",
        "imagebake-test",
        "-f",
    ])
    .arg(path);
    if kind == "rsa" {
        cmd.args(["-b", "2048"]);
    }
    run(&mut cmd);
}

/// The public key line (`ssh-ed25519 AAAA… comment`) of the key at `path`.
pub fn public_line(path: &Path) -> String {
    let mut p = path.as_os_str().to_owned();
    p.push(".pub");
    fs::read_to_string(p).expect("public key").trim().to_owned()
}

/// An sshd process and its directory.
pub struct Sshd {
    dir: tempfile::TempDir,
    port: u16,
    extra: String,
    /// A copy of /etc/shadow bind-mounted over it for sshd only.
    shadow: Option<PathBuf>,
    child: Option<Child>,
}

impl Sshd {
    /// Writes the config and a host key for a free port; does not start.
    /// `extra` lines come first in sshd_config, so they override the
    /// defaults (sshd keeps the first value of an option).
    pub fn prepare(extra: &str) -> Self {
        check_installed();
        fs::create_dir_all("/run/sshd").expect("create /run/sshd");
        let dir = tempfile::Builder::new()
            .prefix("imagebake-sshd-")
            .tempdir()
            .expect("tempdir");
        let s = Self {
            dir,
            port: free_port(),
            extra: extra.to_owned(),
            shadow: None,
            child: None,
        };
        keygen(&s.path("host_ed25519"), "ed25519", "");
        fs::write(s.path("authorized_keys"), "").expect("authorized_keys");
        s.write_config();
        s
    }

    /// Prepares and starts.
    pub fn start(extra: &str) -> Self {
        let mut s = Self::prepare(extra);
        s.spawn();
        s
    }

    /// Prepares and starts an sshd that sees root's password as
    /// `password`: it runs in its own mount namespace (`unshare --mount`)
    /// where a copy of /etc/shadow with that password is bind-mounted over
    /// the real one, so the host's accounts are never touched.
    pub fn start_with_root_password(password: &str) -> Self {
        let mut s = Self::prepare("");
        let out = Command::new("openssl")
            .args(["passwd", "-6", password])
            .output()
            .expect("openssl passwd (scripts/test-deps.sh installs openssl)");
        assert!(out.status.success(), "openssl passwd failed");
        let hash = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        let shadow: Vec<String> = fs::read_to_string("/etc/shadow")
            .expect("read /etc/shadow")
            .lines()
            .map(|l| match l.split_once(':') {
                Some(("root", rest)) => {
                    let rest = rest.split_once(':').map_or("", |(_, r)| r);
                    format!("root:{hash}:{rest}")
                }
                _ => l.to_owned(),
            })
            .collect();
        let path = s.path("shadow");
        fs::write(&path, shadow.join("\n") + "\n").expect("write shadow copy");
        s.shadow = Some(path);
        s.spawn();
        s
    }

    fn write_config(&self) {
        let d = self.dir.path().display();
        let config = format!(
            "{extra}\n\
             Port {port}\n\
             ListenAddress 127.0.0.1\n\
             HostKey {d}/host_ed25519\n\
             PidFile {d}/sshd.pid\n\
             AuthorizedKeysFile {d}/authorized_keys\n\
             StrictModes no\n\
             UsePAM no\n\
             PermitRootLogin yes\n\
             PasswordAuthentication yes\n\
             KbdInteractiveAuthentication no\n\
             PubkeyAcceptedAlgorithms ssh-ed25519,rsa-sha2-512,rsa-sha2-256\n\
             AllowTcpForwarding yes\n\
             MaxStartups 100\n\
             MaxSessions 100\n\
             LogLevel VERBOSE\n\
             Subsystem sftp internal-sftp\n",
            port = self.port,
            extra = self.extra,
        );
        fs::write(self.path("sshd_config"), config).expect("sshd_config");
    }

    /// Starts sshd (`-D -e`, log in `sshd.log`) and waits for its port.
    pub fn spawn(&mut self) {
        assert!(self.child.is_none(), "sshd already running");
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.path("sshd.log"))
            .expect("sshd.log");
        let mut cmd = match &self.shadow {
            None => Command::new(SSHD),
            Some(shadow) => {
                let mut c = Command::new("unshare");
                c.args(["--mount", "--propagation", "private", "--", "sh", "-c"])
                    .arg(r#"mount --bind "$0" /etc/shadow && exec "$@""#)
                    .arg(shadow)
                    .arg(SSHD);
                c
            }
        };
        let mut child = cmd
            .arg("-D")
            .arg("-e")
            .arg("-f")
            .arg(self.path("sshd_config"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start sshd");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                break;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("sshd exited with {status}: {}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "sshd did not listen: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        self.child = Some(child);
    }

    /// Kills sshd (and so every session it serves).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Replaces the host key (sshd must be restarted to use it).
    pub fn new_host_key(&self) {
        let key = self.path("host_ed25519");
        fs::remove_file(&key).expect("remove host key");
        fs::remove_file(self.path("host_ed25519.pub")).expect("remove host key");
        keygen(&key, "ed25519", "");
    }

    /// A path in the sshd's directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The port sshd listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The host public key line.
    pub fn host_key_line(&self) -> String {
        public_line(&self.path("host_ed25519"))
    }

    /// The host key's fingerprint as `ssh-keygen -l` prints it (`SHA256:…`).
    pub fn host_fingerprint(&self) -> String {
        let out = Command::new("ssh-keygen")
            .args(["-l", "-E", "sha256", "-f"])
            .arg(self.path("host_ed25519.pub"))
            .output()
            .expect("ssh-keygen -l");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.split_whitespace()
            .nth(1)
            .unwrap_or_else(|| panic!("fingerprint in {text:?}"))
            .to_owned()
    }

    /// Generates a client key `name` in the directory, authorizes it, and
    /// returns its private key path.
    pub fn client_key(&self, name: &str, kind: &str, passphrase: &str) -> PathBuf {
        let path = self.path(name);
        keygen(&path, kind, passphrase);
        self.authorize(&public_line(&path));
        path
    }

    /// Appends a public key line to `authorized_keys`.
    pub fn authorize(&self, line: &str) {
        let mut f = fs::OpenOptions::new()
            .append(true)
            .open(self.path("authorized_keys"))
            .expect("authorized_keys");
        writeln!(f, "{line}").expect("write authorized_keys");
    }

    /// What sshd logged so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.path("sshd.log")).unwrap_or_default()
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// An `ssh-agent` in the foreground on its own socket, killed on drop.
pub struct Agent {
    _dir: tempfile::TempDir,
    socket: PathBuf,
    child: Child,
}

impl Agent {
    /// Starts the agent and waits for its socket.
    pub fn start() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("imagebake-agent-")
            .tempdir()
            .expect("tempdir");
        let socket = dir.path().join("agent.sock");
        let mut child = Command::new("ssh-agent")
            .arg("-D")
            .arg("-a")
            .arg(&socket)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start ssh-agent");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !socket.exists() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("ssh-agent exited with {status}");
            }
            assert!(Instant::now() < deadline, "ssh-agent did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self {
            _dir: dir,
            socket,
            child,
        }
    }

    /// The agent's socket.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Adds a private key with `ssh-add`.
    pub fn add(&self, key: &Path) {
        run(Command::new("ssh-add")
            .arg(key)
            .env("SSH_AUTH_SOCK", &self.socket)
            .stdin(Stdio::null()));
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
