//! Upload throughput of the SSH communicator next to OpenSSH's `sftp` and
//! `scp`, on the same local sshd (not a test: it prints figures).
//!
//! ```text
//! cargo bench -p imagebake-core --bench ssh_upload            # 256 MiB, 3 runs each
//! IMAGEBAKE_BENCH_MIB=64 IMAGEBAKE_BENCH_RUNS=1 cargo bench -p imagebake-core --bench ssh_upload
//! ```
//!
//! Needs root (it starts sshd, like the tests) and the OpenSSH client tools.

#[path = "../tests/core/sshd.rs"]
mod sshd;

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use imagebake_core::comm::ssh::{HostKeyPolicy, SshAuth, SshCommunicator, SshConfig};
use imagebake_core::{CancellationToken, Communicator};

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

fn run_tool(cmd: &mut Command) -> Duration {
    let start = Instant::now();
    let out = cmd.output().expect("run OpenSSH client");
    let took = start.elapsed();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    took
}

fn mib_per_s(mib: usize, took: Duration) -> f64 {
    mib as f64 / took.as_secs_f64()
}

fn report(name: &str, mib: usize, runs: &[Duration]) {
    let mut rates: Vec<f64> = runs.iter().map(|d| mib_per_s(mib, *d)).collect();
    rates.sort_by(f64::total_cmp);
    let median = rates[rates.len() / 2];
    let best = rates[rates.len() - 1];
    println!("{name:<44} median {median:>7.1} MiB/s   best {best:>7.1} MiB/s");
}

#[tokio::main]
async fn main() {
    if !imagebake_testing::is_root() {
        println!("ssh_upload bench not run: it starts sshd, which needs root");
        return;
    }
    let mib = env_num("IMAGEBAKE_BENCH_MIB", 256);
    let runs = env_num("IMAGEBAKE_BENCH_RUNS", 3).max(1);
    let sshd = Sshd::start("");
    let key = sshd.client_key("id_ed25519", "ed25519", "");
    let known_hosts = sshd.path("known_hosts");
    fs::write(
        &known_hosts,
        format!("[127.0.0.1]:{} {}\n", sshd.port(), sshd.host_key_line()),
    )
    .expect("known_hosts");
    let local = tempfile::tempdir().expect("tempdir");
    let src = local.path().join("upload.bin");
    noise_file(&src, mib);
    let remote = sshd.path("remote");
    fs::create_dir_all(&remote).expect("remote dir");
    let dst = |name: &str| remote.join(name).display().to_string();
    println!(
        "uploading {mib} MiB to sshd on 127.0.0.1:{} ({runs} runs each)",
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
    let mut ours = Vec::new();
    for _ in 0..runs {
        // Connect included, as the OpenSSH tools' times include theirs.
        let start = Instant::now();
        let comm = SshCommunicator::connect(config.clone(), &cancel)
            .await
            .expect("connect");
        comm.upload_file(&src, &dst("ours.bin"), Some(0o600), &cancel)
            .await
            .expect("upload");
        comm.disconnect().await;
        ours.push(start.elapsed());
    }
    assert_eq!(
        fs::metadata(remote.join("ours.bin"))
            .expect("uploaded")
            .len(),
        (mib as u64) << 20
    );

    let opts = ssh_opts(&sshd, &key, &known_hosts);
    let batch = local.path().join("batch");
    fs::write(
        &batch,
        format!("put {} {}\n", src.display(), dst("sftp.bin")),
    )
    .expect("batch");
    let sftp: Vec<Duration> = (0..runs)
        .map(|_| {
            run_tool(
                Command::new("sftp")
                    .args(&opts)
                    .arg("-q")
                    .arg("-b")
                    .arg(&batch)
                    .arg("root@127.0.0.1"),
            )
        })
        .collect();
    // The same with the cipher we prefer (OpenSSH prefers chacha20-poly1305).
    let sftp_gcm: Vec<Duration> = (0..runs)
        .map(|_| {
            run_tool(
                Command::new("sftp")
                    .args(&opts)
                    .args(["-q", "-c", "aes256-gcm@openssh.com", "-b"])
                    .arg(&batch)
                    .arg("root@127.0.0.1"),
            )
        })
        .collect();
    let scp_to = format!("root@127.0.0.1:{}", dst("scp.bin"));
    let scp: Vec<Duration> = (0..runs)
        .map(|_| {
            run_tool(
                Command::new("scp")
                    .args(&opts)
                    .arg("-q")
                    .arg(&src)
                    .arg(&scp_to),
            )
        })
        .collect();
    let scp_legacy: Vec<Duration> = (0..runs)
        .map(|_| {
            run_tool(
                Command::new("scp")
                    .args(&opts)
                    .args(["-q", "-O"])
                    .arg(&src)
                    .arg(&scp_to),
            )
        })
        .collect();

    report("imagebake SshCommunicator (SFTP, aes256-gcm)", mib, &ours);
    report("OpenSSH sftp -b", mib, &sftp);
    report("OpenSSH sftp -b -c aes256-gcm", mib, &sftp_gcm);
    report("OpenSSH scp (SFTP protocol)", mib, &scp);
    report("OpenSSH scp -O (legacy protocol)", mib, &scp_legacy);
    println!("(every time includes connecting and logging in)");
}
