//! The SSH communicator against a real OpenSSH sshd on 127.0.0.1.
//!
//! sshd runs on this machine, so "remote" paths are local paths in the
//! sshd's temporary directory, and the tests can look at them directly.

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;
use std::time::Duration;

use imagebake_core::comm::ssh::{
    HostKeyPolicy, SshAuth, SshCommunicator, SshConfig, SshTimeouts, TemporaryKey, TrustedBy,
};
use imagebake_core::{
    CancellationToken, Communicator, Ended, Error, ExitOutput, OutputStream, RemoteCommand,
};
use imagebake_http::Secret;
use sha2::{Digest, Sha256};

use imagebake_testing::needs_root;

use crate::sshd::{Agent, Sshd, free_port};
use crate::support::{self, TWO_STREAMS_EXIT_3, assert_two_streams_exit_3, process_is_dead};

/// Short limits: a test that fails should fail fast.
fn fast() -> SshTimeouts {
    SshTimeouts {
        connect: Duration::from_secs(20),
        attempt: Duration::from_secs(5),
        retry_cap: Duration::from_millis(100),
        keepalive: Some(Duration::from_secs(5)),
        drain_after_exit: Duration::from_millis(500),
    }
}

fn config(sshd: &Sshd, auth: SshAuth, policy: HostKeyPolicy) -> SshConfig {
    SshConfig::new("127.0.0.1", "root", auth, policy)
        .port(sshd.port())
        .timeouts(fast())
}

fn pinned(sshd: &Sshd) -> HostKeyPolicy {
    HostKeyPolicy::pinned(&sshd.host_fingerprint()).unwrap()
}

async fn connect(config: SshConfig) -> Result<SshCommunicator, Error> {
    SshCommunicator::connect(config, &CancellationToken::new()).await
}

/// Connects with a fresh authorized ed25519 key and the pinned host key.
async fn connected(sshd: &Sshd) -> SshCommunicator {
    let key = sshd.client_key("id_ed25519", "ed25519", "");
    connect(config(sshd, SshAuth::key_file(key), pinned(sshd)))
        .await
        .unwrap()
}

async fn run(
    comm: &dyn Communicator,
    cmd: &str,
) -> (Result<ExitOutput, Error>, Vec<(OutputStream, String)>) {
    support::run(comm, RemoteCommand::new(cmd)).await
}

async fn stdout_of(comm: &dyn Communicator, cmd: &str) -> String {
    let (r, _) = run(comm, cmd).await;
    let out = r.unwrap().check(cmd).unwrap();
    out.stdout_tail.join("\n")
}

fn mode(p: &Path) -> u32 {
    fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
}

fn set_mode(p: &Path, m: u32) {
    fs::set_permissions(p, fs::Permissions::from_mode(m)).unwrap();
}

#[needs_root("sshd runs as root")]
#[tokio::test]
async fn ssh_key_auth_ed25519_rsa_passphrase_and_in_memory() {
    let sshd = Sshd::start("");
    // sshd accepts only ssh-ed25519 and rsa-sha2-512/256 signatures, so the
    // RSA login proves SHA-2 signatures.
    let ed = sshd.client_key("id_ed25519", "ed25519", "");
    let rsa = sshd.client_key("id_rsa", "rsa", "");
    let locked = sshd.client_key("id_locked", "ed25519", "s3cret phrase");
    let temp = TemporaryKey::generate("ib-test").unwrap();
    sshd.authorize(&temp.public_openssh());
    let auths = [
        SshAuth::key_file(&ed),
        SshAuth::key_file(&rsa),
        SshAuth::key_file_with_passphrase(&locked, Secret::new("s3cret phrase")),
        temp.auth(),
        SshAuth::key_openssh(&fs::read_to_string(&rsa).unwrap(), None).unwrap(),
    ];
    for auth in auths {
        let label = format!("{auth:?}");
        assert!(!label.contains("s3cret"), "{label}");
        let comm = connect(config(&sshd, auth, pinned(&sshd)))
            .await
            .unwrap_or_else(|e| panic!("{label}: {e}\n{}", sshd.log()));
        assert_eq!(stdout_of(&comm, "whoami").await, "root", "{label}");
    }
    let log = sshd.log();
    assert!(log.contains("Accepted publickey for root"), "{log}");
    assert!(
        log.contains(": RSA SHA256:"),
        "no RSA login in the log:\n{log}"
    );

    // A wrong passphrase fails at once, not after the connect deadline.
    let bad = SshAuth::key_file_with_passphrase(&locked, Secret::new("wrong"));
    let err = connect(config(&sshd, bad, pinned(&sshd)))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Communicator { ref what, .. } if what.contains("id_locked")),
        "{err:?}"
    );
    assert!(!format!("{err:?} {err}").contains("wrong"));
}

#[needs_root("sshd runs as root")]
#[tokio::test]
async fn ssh_agent_auth_tries_each_key() {
    let sshd = Sshd::start("");
    let agent = Agent::start();
    // The agent holds a key the server does not know, then an RSA key it does.
    let stranger = sshd.path("id_stranger");
    crate::sshd::keygen(&stranger, "ed25519", "");
    agent.add(&stranger);
    agent.add(&sshd.client_key("id_rsa", "rsa", ""));
    let comm = connect(config(
        &sshd,
        SshAuth::agent_at(agent.socket()),
        pinned(&sshd),
    ))
    .await
    .unwrap_or_else(|e| panic!("{e}\n{}", sshd.log()));
    assert_eq!(stdout_of(&comm, "echo agent").await, "agent");
}

#[needs_root("sshd runs as root")]
#[tokio::test]
async fn ssh_password_login() {
    // sshd (no PAM) checks /etc/shadow; it gets a private copy giving root
    // a password, so the host's accounts stay as they are.
    let sshd = Sshd::start_with_root_password("c0rrect horse");
    let auth = SshAuth::password("c0rrect horse");
    assert!(!format!("{auth:?}").contains("c0rrect"));
    let comm = connect(config(&sshd, auth, pinned(&sshd)))
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", sshd.log()));
    assert_eq!(stdout_of(&comm, "echo in").await, "in");
    assert!(
        sshd.log().contains("Accepted password for root"),
        "{}",
        sshd.log()
    );

    // A wrong password is refused; the login is retried (a machine may
    // still be setting its password up) until the deadline, whose error
    // names the refusal and never the password.
    let cfg = config(&sshd, SshAuth::password("hunter2"), pinned(&sshd)).timeouts(SshTimeouts {
        connect: Duration::from_secs(2),
        ..fast()
    });
    let err = connect(cfg).await.unwrap_err();
    match &err {
        Error::Timeout {
            last: Some(last), ..
        } => {
            assert!(last.contains("login as root rejected"), "{last}");
            assert!(last.contains("password"), "{last}");
        }
        other => panic!("{other:?}"),
    }
    assert!(!format!("{err:?} {err}").contains("hunter2"));
    assert!(
        sshd.log().contains("Failed password for root"),
        "{}",
        sshd.log()
    );
}

#[needs_root("sshd runs as root")]
#[tokio::test]
async fn ssh_host_key_pinned_and_known_hosts() {
    let sshd = Sshd::start("");
    let key = sshd.client_key("id_ed25519", "ed25519", "");
    let auth = || SshAuth::key_file(&key);
    let real = sshd.host_fingerprint();

    let comm = connect(config(&sshd, auth(), pinned(&sshd))).await.unwrap();
    let record = comm.host_key().unwrap();
    assert_eq!(record.fingerprint, real);
    assert_eq!(record.algorithm, "ssh-ed25519");
    assert_eq!(record.trusted_by, TrustedBy::Pinned);
    assert_eq!(record.host, format!("127.0.0.1:{}", sshd.port()));

    // A wrong pin fails at once with host, expected and got.
    let other = TemporaryKey::generate("x").unwrap().fingerprint();
    let wrong = HostKeyPolicy::pinned(&other).unwrap();
    match connect(config(&sshd, auth(), wrong)).await.unwrap_err() {
        Error::HostKey {
            host,
            expected,
            got,
        } => {
            assert_eq!(host, format!("127.0.0.1:{}", sshd.port()));
            assert!(expected.contains(&other), "{expected}");
            assert!(
                got.contains(&real) && got.starts_with("ssh-ed25519"),
                "{got}"
            );
        }
        e => panic!("{e:?}"),
    }

    // known_hosts with a `[host]:port` entry, plain then hashed by ssh-keygen.
    let kh = sshd.path("known_hosts");
    let entry = format!("[127.0.0.1]:{} {}\n", sshd.port(), sshd.host_key_line());
    fs::write(
        &kh,
        format!("# test\nother.example {}\n{entry}", sshd.host_key_line()),
    )
    .unwrap();
    let comm = connect(config(&sshd, auth(), HostKeyPolicy::known_hosts(&kh)))
        .await
        .unwrap();
    assert_eq!(comm.host_key().unwrap().trusted_by, TrustedBy::KnownHosts);
    let status = std::process::Command::new("ssh-keygen")
        .arg("-H")
        .arg("-f")
        .arg(&kh)
        .output()
        .unwrap();
    assert!(status.status.success());
    assert!(fs::read_to_string(&kh).unwrap().contains("|1|"));
    connect(config(&sshd, auth(), HostKeyPolicy::known_hosts(&kh)))
        .await
        .unwrap();

    // The host listed with another key: refused, naming the listed one.
    let stranger = TemporaryKey::generate("stranger").unwrap();
    fs::write(
        &kh,
        format!(
            "[127.0.0.1]:{} {}\n",
            sshd.port(),
            stranger.public_openssh()
        ),
    )
    .unwrap();
    match connect(config(&sshd, auth(), HostKeyPolicy::known_hosts(&kh)))
        .await
        .unwrap_err()
    {
        Error::HostKey { expected, got, .. } => {
            assert!(expected.contains(&stranger.fingerprint()), "{expected}");
            assert!(got.contains(&real), "{got}");
        }
        e => panic!("{e:?}"),
    }
    // The host not listed (only for port 22): refused.
    fs::write(&kh, format!("127.0.0.1 {}\n", sshd.host_key_line())).unwrap();
    match connect(config(&sshd, auth(), HostKeyPolicy::known_hosts(&kh)))
        .await
        .unwrap_err()
    {
        Error::HostKey { expected, .. } => {
            assert!(expected.contains("an entry for [127.0.0.1]:"), "{expected}")
        }
        e => panic!("{e:?}"),
    }
}

#[needs_root("sshd runs as root")]
#[tokio::test]
async fn ssh_trust_first_use_records_the_key_and_refuses_a_changed_one() {
    let mut sshd = Sshd::start("");
    let key = sshd.client_key("id_ed25519", "ed25519", "");
    let comm = connect(config(
        &sshd,
        SshAuth::key_file(&key),
        HostKeyPolicy::TrustFirstUse,
    ))
    .await
    .unwrap();
    let record = comm.host_key().unwrap();
    assert_eq!(record.trusted_by, TrustedBy::FirstUse);
    assert_eq!(record.fingerprint, sshd.host_fingerprint());
    let first = record.fingerprint;

    // Same key after a restart: the reconnect is accepted.
    sshd.stop();
    sshd.spawn();
    comm.reconnect(&CancellationToken::new()).await.unwrap();
    assert_eq!(comm.host_key().unwrap().fingerprint, first);

    // A new host key on the same machine: refused on reconnect.
    sshd.stop();
    sshd.new_host_key();
    sshd.spawn();
    match comm.reconnect(&CancellationToken::new()).await.unwrap_err() {
        Error::HostKey { expected, got, .. } => {
            assert!(
                expected.contains(&first) && expected.contains("first use"),
                "{expected}"
            );
            assert!(got.contains(&sshd.host_fingerprint()), "{got}");
        }
        e => panic!("{e:?}"),
    }
}

#[needs_root("sshd runs as root")]
#[tokio::test]
async fn ssh_exec_streams_lines_exit_codes_and_signals() {
    let sshd = Sshd::start("");
    let comm = connected(&sshd).await;
    let (r, lines) = run(&comm, TWO_STREAMS_EXIT_3).await;
    assert_two_streams_exit_3(r, &lines);

    // Every line of a long output arrives, in order; stdin is closed.
    let (r, lines) = run(&comm, "seq 1 5000; cat").await;
    let out = r.unwrap();
    assert!(out.success());
    let expected: Vec<String> = (1..=5000).map(|i| i.to_string()).collect();
    let got: Vec<String> = lines.into_iter().map(|(_, l)| l).collect();
    assert_eq!(got, expected);
    assert_eq!(out.stdout_tail.last().map(String::as_str), Some("5000"));

    // Environment variables, quoted.
    let cmd = RemoteCommand::new("echo \"$GREETING\"").env("GREETING", "it's me");
    let out = comm
        .exec(&cmd, &mut |_, _| {}, &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(out.stdout_tail, ["it's me"]);

    // Killed by a signal: an error naming it.
    let (r, lines) = run(&comm, "echo before; kill -TERM $$").await;
    match r {
        Err(Error::Signal { signal, command }) => {
            assert_eq!(signal, 15);
            assert!(command.contains("kill -TERM"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(lines, [(OutputStream::Stdout, "before".to_owned())]);
}

#[needs_root("sshd runs as root")]
#[tokio::test]
async fn ssh_uploads_file_bytes_and_tree_with_modes_then_downloads() {
    let sshd = Sshd::start("");
    let comm = connected(&sshd).await;
    let cancel = CancellationToken::new();
    let remote = sshd.path("remote");
    let r = |p: &str| format!("{}/{p}", remote.display());
    let local = tempfile::tempdir().unwrap();

    // Bytes, into missing parents, twice (the second replaces the first).
    comm.upload_bytes(b"one", &r("a/b/bytes.txt"), 0o640, &cancel)
        .await
        .unwrap();
    comm.upload_bytes(b"two\n", &r("a/b/bytes.txt"), 0o600, &cancel)
        .await
        .unwrap();
    assert_eq!(fs::read(remote.join("a/b/bytes.txt")).unwrap(), b"two\n");
    assert_eq!(mode(&remote.join("a/b/bytes.txt")), 0o600);
    // No temporary files left behind.
    let names: Vec<_> = fs::read_dir(remote.join("a/b")).unwrap().collect();
    assert_eq!(names.len(), 1);

    // A file with its own mode, and with a given one.
    let script = local.path().join("script.sh");
    fs::write(&script, "#!/bin/sh\necho hi\n").unwrap();
    set_mode(&script, 0o751);
    comm.upload_file(&script, &r("bin/script.sh"), None, &cancel)
        .await
        .unwrap();
    assert_eq!(mode(&remote.join("bin/script.sh")), 0o751);
    assert_eq!(stdout_of(&comm, &r("bin/script.sh")).await, "hi");
    comm.upload_file(&script, &r("bin/other.sh"), Some(0o600), &cancel)
        .await
        .unwrap();
    assert_eq!(mode(&remote.join("bin/other.sh")), 0o600);

    // A tree: nested directories, modes, a read-only directory with a file
    // in it, a symbolic link.
    let tree = local.path().join("tree");
    fs::create_dir_all(tree.join("etc/app")).unwrap();
    fs::create_dir_all(tree.join("ro")).unwrap();
    fs::write(tree.join("etc/app/conf"), "k=v\n").unwrap();
    fs::write(tree.join("etc/secret"), "s\n").unwrap();
    fs::write(tree.join("run.sh"), "echo run\n").unwrap();
    fs::write(tree.join("ro/inside"), "x").unwrap();
    symlink("etc/app/conf", tree.join("conf-link")).unwrap();
    set_mode(&tree.join("etc/app/conf"), 0o644);
    set_mode(&tree.join("etc/secret"), 0o600);
    set_mode(&tree.join("run.sh"), 0o755);
    set_mode(&tree.join("etc/app"), 0o750);
    set_mode(&tree.join("ro/inside"), 0o444);
    set_mode(&tree.join("ro"), 0o555);
    set_mode(&tree, 0o711);
    for _ in 0..2 {
        comm.upload_dir(&tree, &r("tree"), &cancel).await.unwrap();
    }
    let t = remote.join("tree");
    for (p, m) in [
        ("", 0o711),
        ("etc/app", 0o750),
        ("etc/app/conf", 0o644),
        ("etc/secret", 0o600),
        ("run.sh", 0o755),
        ("ro", 0o555),
        ("ro/inside", 0o444),
    ] {
        assert_eq!(mode(&t.join(p)), m, "mode of {p}");
    }
    assert_eq!(fs::read_to_string(t.join("etc/app/conf")).unwrap(), "k=v\n");
    assert_eq!(
        fs::read_link(t.join("conf-link")).unwrap(),
        Path::new("etc/app/conf")
    );
    assert_eq!(fs::read_to_string(t.join("conf-link")).unwrap(), "k=v\n");

    // Download, into a missing local directory.
    let back = local.path().join("down/conf");
    comm.download(&r("tree/etc/app/conf"), &back, &cancel)
        .await
        .unwrap();
    assert_eq!(fs::read_to_string(&back).unwrap(), "k=v\n");
    let err = comm
        .download(&r("tree/etc"), &local.path().join("x"), &cancel)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err:?}");
    let err = comm
        .download(&r("missing"), &local.path().join("y"), &cancel)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Communicator { ref what, .. } if what.contains("missing")),
        "{err:?}"
    );
    // Reset modes so the temporary directories can be removed.
    set_mode(&t.join("ro"), 0o755);
}

/// Writes `len` bytes of deterministic noise, returning their SHA-256.
fn noise_file(path: &Path, len: usize) -> String {
    use std::io::Write;
    let mut f = std::io::BufWriter::new(fs::File::create(path).unwrap());
    let mut hash = Sha256::new();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut block = vec![0u8; 1 << 16];
    for _ in 0..len / block.len() {
        for chunk in block.chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            chunk.copy_from_slice(&x.to_le_bytes());
        }
        hash.update(&block);
        f.write_all(&block).unwrap();
    }
    f.flush().unwrap();
    hex(&hash.finalize())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Sizes around the upload's 256 KiB read buffer and its 2 MiB of writes
/// in flight, the empty file included, arrive byte for byte.
#[needs_root("sshd runs as root")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssh_uploads_files_of_sizes_around_the_buffers_exactly() {
    let sshd = Sshd::start("");
    let comm = connected(&sshd).await;
    let cancel = CancellationToken::new();
    let local = tempfile::tempdir().unwrap();
    const K: usize = 1024;
    for len in [
        0,
        1,
        256 * K - 1,
        256 * K,
        256 * K + 1,
        2048 * K + 1,
        3 * 1024 * K + 12345,
    ] {
        let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
        let src = local.path().join(format!("{len}.bin"));
        fs::write(&src, &data).unwrap();
        let dst = sshd.path(&format!("remote/sizes/{len}.bin"));
        comm.upload_file(&src, &dst.display().to_string(), None, &cancel)
            .await
            .unwrap();
        let got = fs::read(&dst).unwrap();
        assert_eq!(got.len(), len, "{len} bytes sent");
        assert!(got == data, "the {len} bytes arrived changed");
    }
}

#[needs_root("sshd runs as root")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssh_uploads_and_downloads_64_mib_with_matching_checksums() {
    let sshd = Sshd::start("");
    let comm = connected(&sshd).await;
    let cancel = CancellationToken::new();
    let local = tempfile::tempdir().unwrap();
    let src = local.path().join("big.bin");
    let sum = noise_file(&src, 64 << 20);
    let dst = format!("{}/big/big.bin", sshd.path("remote").display());

    // Cancelled mid-transfer: nothing is left behind, not even the
    // temporary file. The source is a FIFO whose writer sends 1 MiB and
    // then holds it open, so the upload cannot end before the cancel: it is
    // cancelled once the remote temporary file holds that MiB.
    let fifo = local.path().join("endless");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success(), "mkfifo");
    let (release, held) = std::sync::mpsc::channel::<()>();
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            let mut w = fs::OpenOptions::new().write(true).open(&fifo).unwrap();
            std::io::Write::write_all(&mut w, &vec![7u8; 1 << 20]).unwrap();
            // Held open (no end of file) until the test is done.
            let _ = held.recv();
        })
    };
    let stop = CancellationToken::new();
    let remote_dir = sshd.path("remote/big");
    let received_a_mib = async {
        // A safety net against a hang, not a timing assertion.
        for _ in 0..6000 {
            let received = fs::read_dir(&remote_dir).ok().and_then(|entries| {
                entries
                    .filter_map(Result::ok)
                    .find(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
                    .and_then(|e| e.metadata().ok())
                    .map(|m| m.len())
            });
            if received == Some(1 << 20) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("the remote temporary file never held the MiB sent");
    };
    let mut upload = std::pin::pin!(comm.upload_file(&fifo, &dst, Some(0o600), &stop));
    let err = tokio::select! {
        r = &mut upload => panic!("the upload ended before the cancel: {r:?}"),
        () = received_a_mib => {
            stop.cancel();
            upload.await
        }
    };
    let err = err.unwrap_err();
    assert!(err.is_cancelled(), "{err:?}");
    let left: Vec<_> = fs::read_dir(&remote_dir).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
    release.send(()).unwrap();
    writer.join().unwrap();

    comm.upload_file(&src, &dst, Some(0o600), &cancel)
        .await
        .unwrap();
    let remote_sum = stdout_of(&comm, &format!("sha256sum {dst}")).await;
    assert_eq!(remote_sum.split_whitespace().next(), Some(sum.as_str()));

    let back = local.path().join("back.bin");
    comm.download(&dst, &back, &cancel).await.unwrap();
    let mut hash = Sha256::new();
    let mut f = fs::File::open(&back).unwrap();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = std::io::Read::read(&mut f, &mut buf).unwrap();
        if n == 0 {
            break;
        }
        hash.update(&buf[..n]);
    }
    assert_eq!(hex(&hash.finalize()), sum);
}

#[needs_root("sshd runs as root")]
#[tokio::test]
async fn ssh_expect_disconnect_then_reconnect() {
    let sshd = Sshd::start("");
    let comm = connected(&sshd).await;
    assert!(comm.can_power_off());
    let before = comm.host_key().unwrap();
    let cancel = CancellationToken::new();
    // "Reboot": kill the sshd process serving this session (the shell's
    // parent); the connection drops before an exit status.
    let mut lines = Vec::new();
    let ended = comm
        .exec_expect_disconnect(
            &RemoteCommand::new("echo going down; kill -9 $PPID; sleep 5"),
            &mut |_, l: &str| lines.push(l.to_owned()),
            &cancel,
        )
        .await
        .unwrap();
    assert_eq!(ended, Ended::Disconnected);
    assert!(comm.host_key().is_none());
    let (r, _) = run(&comm, "true").await;
    assert!(matches!(r, Err(Error::Disconnected { .. })), "{r:?}");

    comm.reconnect(&cancel).await.unwrap();
    assert_eq!(stdout_of(&comm, "echo back").await, "back");
    assert_eq!(comm.host_key().unwrap(), before);

    // A command that exits normally is Exited, not Disconnected.
    let ended = comm
        .exec_expect_disconnect(&RemoteCommand::new("exit 4"), &mut |_, _| {}, &cancel)
        .await
        .unwrap();
    assert!(
        matches!(ended, Ended::Exited(ref o) if o.status == 4),
        "{ended:?}"
    );
    // A plain exec reports the lost session as an error.
    let (r, _) = run(&comm, "kill -9 $PPID; sleep 5").await;
    assert!(matches!(r, Err(Error::Disconnected { .. })), "{r:?}");
}

#[needs_root("sshd runs as root")]
#[tokio::test]
async fn ssh_through_a_bastion() {
    // One sshd is both the bastion and the target; at DEBUG1 it logs the
    // direct-tcpip requests (and sends debug lines to sessions' stderr).
    let sshd = Sshd::start("LogLevel DEBUG1");
    let key = sshd.client_key("id_ed25519", "ed25519", "");
    let bastion = config(&sshd, SshAuth::key_file(&key), pinned(&sshd));
    let target = config(&sshd, SshAuth::key_file(&key), pinned(&sshd)).bastion(bastion);
    assert!(target.target().contains(" via root@127.0.0.1:"));
    let comm = connect(target).await.unwrap();
    assert_eq!(stdout_of(&comm, "echo through").await, "through");
    let log = sshd.log();
    assert!(
        log.contains(&format!("target 127.0.0.1 port {}", sshd.port())),
        "no direct-tcpip request in the sshd log:\n{log}"
    );

    // A bastion that may not forward there: the route is really used, and
    // the failure names it.
    let closed = Sshd::start("PermitOpen 127.0.0.1:1");
    let key = closed.client_key("id_ed25519", "ed25519", "");
    let bastion = config(&closed, SshAuth::key_file(&key), pinned(&closed));
    let target = config(&closed, SshAuth::key_file(&key), pinned(&closed))
        .bastion(bastion)
        .timeouts(SshTimeouts {
            connect: Duration::from_millis(500),
            ..fast()
        });
    match connect(target).await.unwrap_err() {
        Error::Timeout {
            last: Some(last), ..
        } => {
            assert!(last.contains("bastion cannot reach 127.0.0.1"), "{last}")
        }
        e => panic!("{e:?}"),
    }
}

#[needs_root("sshd runs as root")]
#[tokio::test]
async fn ssh_connect_retries_until_the_port_opens() {
    let mut sshd = Sshd::prepare("");
    let key = sshd.client_key("id_ed25519", "ed25519", "");
    let cfg = config(&sshd, SshAuth::key_file(&key), pinned(&sshd));
    let connecting = tokio::spawn(connect(cfg));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!connecting.is_finished(), "connected before sshd started");
    // Started from a blocking thread: spawn() waits for the port.
    let sshd = tokio::task::spawn_blocking(move || {
        sshd.spawn();
        sshd
    })
    .await
    .unwrap();
    let comm = connecting.await.unwrap().unwrap();
    assert_eq!(stdout_of(&comm, "echo up").await, "up");
    drop(sshd);
}

#[needs_root("sshd runs as root")]
#[tokio::test]
async fn ssh_connect_times_out_or_is_cancelled_on_a_closed_port() {
    let port = free_port();
    let key = TemporaryKey::generate("t").unwrap();
    let cfg = SshConfig::new(
        "127.0.0.1",
        "root",
        key.auth(),
        HostKeyPolicy::TrustFirstUse,
    )
    .port(port)
    .timeouts(SshTimeouts {
        connect: Duration::from_millis(300),
        ..fast()
    });
    match connect(cfg.clone()).await.unwrap_err() {
        Error::Timeout {
            last: Some(last), ..
        } => assert!(last.contains("refused"), "{last}"),
        e => panic!("{e:?}"),
    }
    let cancel = CancellationToken::new();
    let trigger = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        trigger.cancel();
    });
    let cfg = cfg.timeouts(fast());
    let err = SshCommunicator::connect(cfg, &cancel).await.unwrap_err();
    assert!(err.is_cancelled(), "{err:?}");
}

#[needs_root("sshd runs as root")]
#[tokio::test]
async fn ssh_cancellation_kills_a_running_command() {
    let sshd = Sshd::start("");
    let comm = connected(&sshd).await;
    let cancel = CancellationToken::new();
    let mut pid = None;
    let trigger = cancel.clone();
    let r = comm
        .exec(
            &RemoteCommand::new("sleep 30 & echo $!; wait"),
            &mut |_, l: &str| {
                if let Ok(p) = l.parse::<i32>() {
                    pid = Some(p);
                    trigger.cancel();
                }
            },
            &cancel,
        )
        .await;
    assert!(matches!(r, Err(Error::Cancelled { .. })), "{r:?}");
    let pid = pid.expect("the command printed its child's pid");
    let dead = tokio::task::spawn_blocking(move || process_is_dead(pid))
        .await
        .unwrap();
    assert!(dead, "sleep {pid} survived the cancellation");
    // The connection is still usable.
    assert_eq!(stdout_of(&comm, "echo still").await, "still");
}
