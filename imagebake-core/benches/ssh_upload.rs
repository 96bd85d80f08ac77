//! Upload throughput of the SSH communicator next to OpenSSH's `sftp` and
//! `scp`, on the same local sshd (not a test: it prints figures).
//!
//! ```text
//! cargo bench -p imagebake-core --bench ssh_upload            # 512 MiB, 3 runs each
//! IMAGEBAKE_BENCH_MIB=64 IMAGEBAKE_BENCH_RUNS=1 cargo bench -p imagebake-core --bench ssh_upload
//! ```
//!
//! The source is a file of noise in `/dev/shm` (tmpfs, so no disk read is
//! measured); every upload's sha256 is checked against the source's. Each
//! line shows the median and best MiB/s and the client's CPU seconds per
//! run (the client shares the machine's cores with sshd, so a hungrier
//! client slows the server down); the last line is our median over the
//! faster OpenSSH tool's median (goal ≥ 1.0).
//!
//! Needs root (it starts sshd, like the tests) and the OpenSSH client tools.

#[path = "../tests/core/sshd.rs"]
mod sshd;

use std::fs;
use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use imagebake_core::comm::ssh::{HostKeyPolicy, SshAuth, SshCommunicator, SshConfig};
use imagebake_core::{CancellationToken, Communicator};

use sha2::{Digest, Sha256};
use sshd::Sshd;

fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Writes `mib` MiB of incompressible noise.
fn noise_file(path: &Path, mib: usize) {
    let mut f = std::io::BufWriter::new(fs::File::create(path).expect("create source"));
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut block = vec![0u8; 1 << 20];
    for _ in 0..mib {
        for chunk in block.chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            chunk.copy_from_slice(&x.to_le_bytes());
        }
        f.write_all(&block).expect("write source");
    }
    f.flush().expect("flush source");
}

/// OpenSSH client options: our key, the sshd's host key only.
fn ssh_opts(sshd: &Sshd, key: &Path, known_hosts: &Path) -> Vec<String> {
    vec![
        "-i".into(),
        key.display().to_string(),
        "-o".into(),
        "BatchMode=yes".into(),
        "-o".into(),
        "StrictHostKeyChecking=yes".into(),
        "-o".into(),
        format!("UserKnownHostsFile={}", known_hosts.display()),
        "-P".into(),
        sshd.port().to_string(),
    ]
}

/// CPU seconds (user + system) used so far by this process (`children`
/// false) or by its waited-for children (true), from `/proc/self/stat`.
fn cpu_seconds(children: bool) -> f64 {
    let stat = fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    // The fields after the command name (which is in parentheses): state
    // is field 3, utime 14, stime 15, cutime 16, cstime 17.
    let rest = &stat[stat.rfind(')').expect("stat format") + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let at = if children { 13 } else { 11 };
    let ticks: u64 = fields[at..at + 2]
        .iter()
        .map(|f| f.parse::<u64>().expect("stat tick count"))
        .sum();
    // Linux reports these in USER_HZ, 100 on every supported architecture.
    ticks as f64 / 100.0
}

/// One timed run: its wall time and the client's CPU seconds.
struct Run {
    wall: Duration,
    cpu: f64,
}

fn run_tool(cmd: &mut Command) -> Run {
    let (start, cpu) = (Instant::now(), cpu_seconds(true));
    let out = cmd.output().expect("run OpenSSH client");
    let wall = start.elapsed();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Run {
        wall,
        cpu: cpu_seconds(true) - cpu,
    }
}

/// The file's sha256, in hex.
fn sha256(path: &Path) -> String {
    let mut f = fs::File::open(path).expect("open for sha256");
    let (mut h, mut buf) = (Sha256::new(), vec![0u8; 1 << 20]);
    loop {
        match f.read(&mut buf).expect("read for sha256") {
            0 => break,
            n => h.update(&buf[..n]),
        }
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Prints a line of figures; the median MiB/s.
fn report(name: &str, mib: usize, runs: &[Run]) -> f64 {
    let mut rates: Vec<f64> = runs
        .iter()
        .map(|r| mib as f64 / r.wall.as_secs_f64())
        .collect();
    rates.sort_by(f64::total_cmp);
    let median = rates[rates.len() / 2];
    let best = rates[rates.len() - 1];
    let cpu = runs.iter().map(|r| r.cpu).sum::<f64>() / runs.len() as f64;
    println!(
        "{name:<46} median {median:>6.1} MiB/s  best {best:>6.1} MiB/s  client CPU {cpu:>5.2} s"
    );
    median
}

#[tokio::main]
async fn main() {
    if !imagebake_testing::is_root() {
        println!("ssh_upload bench not run: it starts sshd, which needs root");
        return;
    }
    let mib = env_num("IMAGEBAKE_BENCH_MIB", 512);
    let runs = env_num("IMAGEBAKE_BENCH_RUNS", 3).max(1);
    let sshd = Sshd::start("");
    let key = sshd.client_key("id_ed25519", "ed25519", "");
    let known_hosts = sshd.path("known_hosts");
    fs::write(
        &known_hosts,
        format!("[127.0.0.1]:{} {}\n", sshd.port(), sshd.host_key_line()),
    )
    .expect("known_hosts");
    let local = tempfile::tempdir_in("/dev/shm")
        .or_else(|_| tempfile::tempdir())
        .expect("tempdir");
    let src = local.path().join("upload.bin");
    noise_file(&src, mib);
    let want = sha256(&src);
    let remote = sshd.path("remote");
    fs::create_dir_all(&remote).expect("remote dir");
    let dst = |name: &str| remote.join(name).display().to_string();
    let check = |name: &str| {
        let got = sha256(&remote.join(name));
        assert_eq!(got, want, "{name}: the uploaded file's sha256 differs");
        fs::remove_file(remote.join(name)).expect("remove the upload");
    };
    println!(
        "uploading {mib} MiB from {} to sshd on 127.0.0.1:{} ({runs} rounds of one run each)",
        src.display(),
        sshd.port()
    );

    let config = SshConfig::new(
        "127.0.0.1",
        "root",
        SshAuth::key_file(&key),
        HostKeyPolicy::pinned(&sshd.host_fingerprint()).expect("fingerprint"),
    )
    .port(sshd.port());
    let cancel = CancellationToken::new();
    let opts = ssh_opts(&sshd, &key, &known_hosts);
    let batch = local.path().join("batch");
    fs::write(
        &batch,
        format!("put {} {}\n", src.display(), dst("sftp.bin")),
    )
    .expect("batch");
    let (batch, src_arg) = (batch.display().to_string(), src.display().to_string());
    let scp_to = format!("root@127.0.0.1:{}", dst("scp.bin"));
    let tools: [(&[&str], &str); 4] = [
        (&["sftp", "-q", "-b", &batch, "root@127.0.0.1"], "sftp.bin"),
        // The same with the cipher we prefer (OpenSSH prefers chacha20-poly1305).
        (
            &[
                "sftp",
                "-q",
                "-c",
                "aes256-gcm@openssh.com",
                "-b",
                &batch,
                "root@127.0.0.1",
            ],
            "sftp.bin",
        ),
        (&["scp", "-q", &src_arg, &scp_to], "scp.bin"),
        (&["scp", "-q", "-O", &src_arg, &scp_to], "scp.bin"),
    ];
    // Rounds of one run of each, so a change in the machine's load meets
    // every line alike.
    let (mut ours, mut connects) = (Vec::new(), Vec::new());
    let mut theirs: [Vec<Run>; 4] = Default::default();
    for _ in 0..runs {
        // Connect included, as the OpenSSH tools' times include theirs.
        let (start, cpu) = (Instant::now(), cpu_seconds(false));
        let comm = SshCommunicator::connect(config.clone(), &cancel)
            .await
            .expect("connect");
        connects.push(start.elapsed().as_secs_f64());
        comm.upload_file(&src, &dst("ours.bin"), Some(0o600), &cancel)
            .await
            .expect("upload");
        comm.disconnect().await;
        ours.push(Run {
            wall: start.elapsed(),
            cpu: cpu_seconds(false) - cpu,
        });
        check("ours.bin");
        for ((args, out), runs) in tools.iter().zip(&mut theirs) {
            runs.push(run_tool(Command::new(args[0]).args(&opts).args(&args[1..])));
            check(out);
        }
    }

    let ours = report("imagebake SshCommunicator (SFTP, aes256-gcm)", mib, &ours);
    let names = [
        "OpenSSH sftp -b",
        "OpenSSH sftp -b -c aes256-gcm",
        "OpenSSH scp (SFTP protocol)",
        "OpenSSH scp -O (legacy protocol)",
    ];
    let faster = names
        .iter()
        .zip(&theirs)
        .map(|(name, runs)| report(name, mib, runs))
        .fold(0.0, f64::max);
    println!(
        "(imagebake's connect and login: {:.3} s on average)",
        connects.iter().sum::<f64>() / connects.len() as f64
    );
    println!(
        "imagebake / the fastest OpenSSH tool (medians): {:.2}× (goal ≥ 1.0×); \
         every upload's sha256 checked; every time includes connecting and logging in",
        ours / faster
    );
}
