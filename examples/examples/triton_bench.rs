//! Benchmarks the `triton` builder against the in-process Triton simulator
//! on the scenario recorded with Packer's triton builder
//! (`shared/notes/triton-builders.md` §1.8): provisioning 10 s, stop 5 s,
//! image creation 20 s, delete 4 s (39 s of cloud time), communicator none.
//! Packer 1.6.6 needs 45.2 s and 24 requests there (3 s polling grid).
//!
//! ```text
//! cargo run --release --example triton_bench [POLL_CAP]
//! ```
//!
//! `POLL_CAP` (a Go duration, default `1s`) is the builder's `poll_cap`:
//! the longest pause between two polls. A larger cap makes fewer requests
//! and overshoots each transition by more.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use imagebake_core::builders::Builder;
use imagebake_core::builders::triton::{TritonBuilder, TritonConfig};
use imagebake_core::{CancellationToken, Runner};
use imagebake_sim::triton::{TritonDelays, TritonSim, TritonSimOptions};
use serde_json::json;

const PACKER_WALL_S: f64 = 45.2;
const PACKER_REQUESTS: u64 = 24;

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("triton_bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    let delays = TritonDelays {
        provision: Duration::from_secs(10),
        stop: Duration::from_secs(5),
        start: Duration::from_secs(5),
        delete: Duration::from_secs(4),
        image_create: Duration::from_secs(20),
    };
    let cloud = delays.provision + delays.stop + delays.image_create + delays.delete;
    let sim = TritonSim::start(TritonSimOptions {
        delays,
        ..TritonSimOptions::default()
    })
    .await?;
    // As in the recorded Packer run: a filter on the source image.
    let mut block = json!({
        "type": "triton",
        "triton_url": sim.url(),
        "triton_account": sim.account(),
        "triton_key_id": sim.key_id(),
        "triton_key_material": sim.private_key_path(),
        "source_machine_package": "g1.small",
        "source_machine_image_filter": {"name": "base-64-lts", "type": "zone-dataset", "most_recent": true},
        "image_name": "bench",
        "image_version": "1.0.0",
        "communicator": "none",
    });
    if let Some(cap) = std::env::args().nth(1) {
        block["poll_cap"] = json!(cap);
    }
    let builder = TritonBuilder::new(TritonConfig::from_json(&block)?)?;
    println!(
        "triton builder, simulator delays provision {:?} / stop {:?} / image {:?} / delete {:?}, poll cap {:?}",
        delays.provision,
        delays.stop,
        delays.image_create,
        delays.delete,
        builder.waits().poll_cap
    );
    let before = sim.request_count();
    let started = Instant::now();
    let artifact = builder
        .run(&Runner::new(), CancellationToken::new())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let wall = started.elapsed();
    let requests = sim.request_count() - before;
    let inv = sim.inventory();

    let wall_s = wall.as_secs_f64();
    let cloud_s = cloud.as_secs_f64();
    println!("{artifact}");
    println!();
    println!("                 wall      cloud   overhead  requests");
    println!(
        "imagebake     {:>7.2} s  {:>6.1} s  {:>6.2} s  {:>8}",
        wall_s,
        cloud_s,
        wall_s - cloud_s,
        requests
    );
    println!(
        "packer 1.6.6  {:>7.2} s  {:>6.1} s  {:>6.2} s  {:>8}",
        PACKER_WALL_S,
        cloud_s,
        PACKER_WALL_S - cloud_s,
        PACKER_REQUESTS
    );
    println!(
        "left behind: {} machine(s), {} custom image(s) (the artifact)",
        inv.machines.len(),
        inv.custom_images().len()
    );
    sim.shutdown().await;
    Ok(())
}
