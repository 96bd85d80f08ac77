//! Benchmarks the Oxide import (`imagebake_core::steps::oxide::import_image`,
//! what the `oxide-import` post-processor runs) against the in-process
//! Oxide simulator: a 2 GiB sparse raw image holding 200 MiB of data
//! (400 extents of 512 KiB, spread evenly). Prints, side by side in one
//! run, the MiB/s of data sent, the import's wall time next to
//! `cat FILE > /dev/null` on the same file, and the peak memory (VmHWM) of
//! the process (which also runs the simulator, decoding every write).
//!
//! ```text
//! cargo run --release --example oxide_import_bench [PARALLELISM] [DIR]
//! ```
//!
//! `PARALLELISM` (default 8) is the number of bulk writes in flight; `DIR`
//! (default the system's temporary directory) holds the image file.

use std::os::unix::fs::FileExt;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use imagebake_core::oxide_client::{BlockSize, Client, Config, NameOrId};
use imagebake_core::steps::oxide::{CHUNK, ImageSpec, ImportSpec, OxideApi, import_image};
use imagebake_core::{CancellationToken, Runner};
use imagebake_examples::measure::{time_sh, vm_hwm_kib};
use imagebake_sim::oxide::{OxideSim, OxideSimOptions};

const MIB: u64 = 1 << 20;
const FILE_SIZE: u64 = 2048 * MIB;
const DATA: u64 = 200 * MIB;

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("oxide_import_bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let parallelism: usize = match args.next() {
        Some(p) => p.parse()?,
        None => 8,
    };
    let dir = match args.next() {
        Some(d) => tempfile::tempdir_in(d)?,
        None => tempfile::tempdir()?,
    };
    let file = dir.path().join("bench.raw");
    write_image(&file)?;
    let hwm_before = vm_hwm_kib()?;

    // The same file read in full by `cat` (warm page cache, as the import).
    let cat = time_cat(&file)?;
    let cat = time_cat(&file)?.min(cat);

    let sim = OxideSim::start(OxideSimOptions::default()).await?;
    let client = Client::new(Config::new(sim.url(), sim.token()))?;
    let api = OxideApi::new(client, NameOrId::from("imagebake"));
    let spec = ImportSpec {
        file: file.clone(),
        disk_name: "bench-disk".into(),
        snapshot_name: "bench-snap".into(),
        image: ImageSpec {
            name: "bench-image".into(),
            os: "linux".into(),
            version: "1".into(),
            description: "oxide_import_bench".into(),
        },
        block_size: BlockSize::B512,
        parallelism,
        replace_image: false,
    };
    let started = Instant::now();
    let built = Runner::new()
        .run(
            "oxide_import_bench",
            CancellationToken::new(),
            |cx| async move { import_image(&cx, &api, &spec).await },
        )
        .await?;
    let wall = started.elapsed().as_secs_f64();
    let hwm_after = vm_hwm_kib()?;
    let writes = sim
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/bulk-write"))
        .count() as u64;
    let sent = writes * CHUNK;
    // The image holds the data: a spot check of the last extent.
    let last = (DATA / CHUNK - 1) * stride();
    let bytes = sim
        .image_bytes(built.value.id, last, CHUNK)?
        .ok_or_else(|| anyhow::anyhow!("the image keeps no bytes"))?;
    anyhow::ensure!(bytes == pattern(last), "the image's last extent differs");
    let mib = |b: u64| b as f64 / MIB as f64;
    println!(
        "file: {} MiB sparse, {} MiB of data; parallelism {parallelism}",
        mib(FILE_SIZE),
        mib(DATA)
    );
    println!(
        "import: {writes} bulk writes, {:.0} MiB sent in {wall:.2} s = {:.1} MiB/s of data sent",
        mib(sent),
        mib(sent) / wall
    );
    println!(
        "cat FILE > /dev/null: {cat:.2} s (import wall time {wall:.2} s, {:.1}x)",
        wall / cat
    );
    println!(
        "peak memory (VmHWM, simulator included): {:.1} MiB before the import, {:.1} MiB after",
        hwm_before as f64 / 1024.0,
        hwm_after as f64 / 1024.0
    );
    sim.shutdown().await;
    Ok(())
}

/// Distance between two data extents (whole chunks).
fn stride() -> u64 {
    FILE_SIZE / (DATA / CHUNK) / CHUNK * CHUNK
}

/// The (not all-zero) bytes of the extent at `offset`.
fn pattern(offset: u64) -> Vec<u8> {
    let mut x = offset | 1;
    (0..CHUNK)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// A sparse file of [`FILE_SIZE`] with [`DATA`] bytes of data in extents
/// of one chunk, evenly spread.
fn write_image(path: &Path) -> anyhow::Result<()> {
    let f = std::fs::File::create(path)?;
    f.set_len(FILE_SIZE)?;
    for i in 0..DATA / CHUNK {
        let offset = i * stride();
        f.write_all_at(&pattern(offset), offset)?;
    }
    f.sync_all()?;
    Ok(())
}

/// Seconds `cat FILE > /dev/null` takes.
fn time_cat(path: &Path) -> anyhow::Result<f64> {
    time_sh("cat \"$1\" > /dev/null", &[path.as_os_str()])
}
