//! Benchmarks the `local-chroot` builder from scratch: a 2 GiB raw image
//! (MBR, one ext4 partition) filled from a directory holding a busybox
//! root and `DATA_MIB` MiB (default 512) of incompressible files (256 KiB
//! each), on a real loop device, next to `cp --sparse=always` of the
//! resulting image file. Needs root.
//!
//! Both are expressed as throughput over the image's size (2 GiB divided
//! by the wall time); the ratio is ours over cp's, that is cp's wall time
//! over the build's (goal ≥ 0.7: the whole build, from the blank file to
//! the finished image, takes at most 1/0.7 of copying its result).
//!
//! ```text
//! cargo run --release -p imagebake-examples --example chroot_bench [DATA_MIB] [DIR]
//! ```
//!
//! `DIR` (default the system's temporary directory) holds the tree, the
//! image and its copy.

use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use imagebake_core::builders::Builder;
use imagebake_core::builders::local_chroot::{LocalChrootBuilder, LocalChrootConfig};
use imagebake_core::{CancellationToken, Event, FnObserver, Runner};
use imagebake_examples::measure::{exit_code, time_sh};
use serde_json::json;

const MIB: u64 = 1 << 20;
const IMAGE_SIZE: u64 = 2048 * MIB;
const FILE_SIZE: u64 = 256 * 1024;
const GOAL: f64 = 0.7;

#[tokio::main]
async fn main() -> ExitCode {
    exit_code("chroot_bench", run().await)
}

async fn run() -> anyhow::Result<bool> {
    if !imagebake_sim::is_root() {
        println!("chroot_bench not run: loop devices and mount need root");
        return Ok(true);
    }
    let mut args = std::env::args().skip(1);
    let data_mib: u64 = match args.next() {
        Some(m) => m.parse()?,
        None => 512,
    };
    let dir = match args.next() {
        Some(d) => tempfile::tempdir_in(d)?,
        None => tempfile::tempdir()?,
    };
    let tree = dir.path().join("tree");
    imagebake_testing::busybox_tree(&tree, &["sh", "cat", "ls"], &["proc", "sys", "dev"]);
    write_data(&tree.join("data"), data_mib * MIB)?;
    let out = dir.path().join("out.raw");
    let block = json!({
        "type": "local-chroot",
        "from_scratch": true,
        "image_size": "2G",
        "rootfs_dir": tree,
        "filesystem_label": "benchroot",
        "mount_path": format!("{}/mnt/{{{{.Device}}}}", dir.path().display()),
        "output_path": out,
    });
    let builder = LocalChrootBuilder::new(LocalChrootConfig::from_json(&block)?)?;
    // Where the time goes: each step's duration, as the engine reports it.
    let steps = Arc::new(Mutex::new(Vec::new()));
    let log = steps.clone();
    let runner = Runner::new().observer(Arc::new(FnObserver(move |e: &Event| {
        if let Event::StepFinished { step, duration, .. } = e {
            log.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push((step.clone(), duration.as_secs_f64()));
        }
    })));
    let started = Instant::now();
    let artifact = builder
        .run(&runner, CancellationToken::new())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let ours = started.elapsed().as_secs_f64();
    let meta = std::fs::metadata(&artifact.path)?;
    anyhow::ensure!(
        meta.len() == IMAGE_SIZE,
        "the image is {} bytes",
        meta.len()
    );
    let allocated = meta.blocks() * 512;
    anyhow::ensure!(
        allocated >= data_mib * MIB,
        "the image holds {allocated} bytes, less than the {data_mib} MiB of data"
    );

    // The result copied, page cache warm as the build left it.
    let copy = dir.path().join("copy.raw");
    let script = "cp --sparse=always \"$1\" \"$2\"";
    let args = [out.as_os_str(), copy.as_os_str()];
    let cp = time_sh(script, &args)?;
    std::fs::remove_file(&copy)?;
    let cp = time_sh(script, &args)?.min(cp);
    // Neither the build nor cp makes its result durable; what that would
    // add, measured apart (the dirty pages of the image reach the disk).
    let fdatasync = time_sh("sync -d \"$1\"", &[out.as_os_str()])?;

    let gib_s = |s: f64| IMAGE_SIZE as f64 / (1 << 30) as f64 / s;
    let ratio = cp / ours;
    println!(
        "image: 2 GiB raw, {:.0} MiB allocated ({data_mib} MiB of data in {} files + a busybox root)",
        allocated as f64 / MIB as f64,
        data_mib * MIB / FILE_SIZE
    );
    println!(
        "local-chroot from scratch     {ours:>6.2} s  {:>6.2} GiB/s of image",
        gib_s(ours)
    );
    println!(
        "cp --sparse=always (result)   {cp:>6.2} s  {:>6.2} GiB/s of image",
        gib_s(cp)
    );
    println!("fdatasync of the result       {fdatasync:>6.2} s  (done by neither)");
    let steps = steps.lock().unwrap_or_else(PoisonError::into_inner);
    let shown: Vec<String> = steps
        .iter()
        .filter(|(_, d)| *d >= 0.01)
        .map(|(step, d)| format!("{step} {d:.2} s"))
        .collect();
    println!("  steps of 10 ms or more: {}", shown.join(", "));
    println!("ratio (ours / cp's throughput = cp's time / ours): {ratio:.2}× (goal ≥ {GOAL}×)");
    Ok(ratio >= GOAL)
}

/// `bytes` of noise in files of [`FILE_SIZE`], 64 to a directory, under
/// `dir`.
fn write_data(dir: &Path, bytes: u64) -> anyhow::Result<()> {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut buf = vec![0u8; FILE_SIZE as usize];
    for i in 0..bytes / FILE_SIZE {
        let sub = dir.join(format!("{:03}", i / 64));
        std::fs::create_dir_all(&sub)?;
        for chunk in buf.chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            chunk.copy_from_slice(&x.to_le_bytes());
        }
        std::fs::File::create(sub.join(format!("{i}.bin")))?.write_all(&buf)?;
    }
    Ok(())
}
