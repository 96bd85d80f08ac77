//! Benchmarks many bakes at once in one process: `N` (default 128)
//! parallel bakes against one in-process simulator, next to one bake
//! alone on the same simulator, every state transition taking 20 ms (the
//! Triton simulator's default) and `communicator: none`. Prints, per cloud, the wall
//! time of one bake, the wall time of the `N` bakes, their ratio (goal
//! ≤ 1.5×) and the peak memory of the process, simulators included
//! (`VmHWM`, goal ≤ 100 MiB), and checks that every bake made its image
//! and left nothing else behind.
//!
//! ```text
//! cargo run --release -p imagebake-examples --example parallel_bench [N] [CLOUD..]
//! ```
//!
//! `CLOUD` is `triton` or `oxide` (default both, one after the other).

use std::process::ExitCode;
use std::time::{Duration, Instant};

use futures::future::join_all;
use imagebake_core::builders::Builder;
use imagebake_core::builders::oxide::{OxideBuilder, OxideConfig};
use imagebake_core::builders::triton::{TritonBuilder, TritonConfig};
use imagebake_core::{CancellationToken, Runner};
use imagebake_examples::measure::{exit_code, vm_hwm_kib};
use imagebake_sim::oxide::{OxideDelays, OxideSim, OxideSimOptions};
use imagebake_sim::triton::{TritonDelays, TritonSim, TritonSimOptions};
use serde_json::json;

/// How long every simulated state transition takes (Triton's default).
const TRANSITION: Duration = Duration::from_millis(20);
const GOAL_RATIO: f64 = 1.5;
const GOAL_MIB: f64 = 100.0;

#[tokio::main]
async fn main() -> ExitCode {
    exit_code("parallel_bench", run().await)
}

async fn run() -> anyhow::Result<bool> {
    let mut args = std::env::args().skip(1).peekable();
    let n: usize = match args.peek().map(|a| a.parse()) {
        Some(Ok(n)) => {
            args.next();
            n
        }
        _ => 128,
    };
    let mut clouds: Vec<String> = args.collect();
    if clouds.is_empty() {
        clouds = vec!["triton".into(), "oxide".into()];
    }
    let mut rows = Vec::new();
    for cloud in &clouds {
        let row = match cloud.as_str() {
            "triton" => triton(n).await?,
            "oxide" => oxide(n).await?,
            other => anyhow::bail!("unknown cloud {other:?} (triton or oxide)"),
        };
        rows.push((cloud, row));
    }
    let hwm = vm_hwm_kib()? as f64 / 1024.0;
    println!();
    println!("cloud      one bake   {n:>4} bakes   ratio (goal ≤ {GOAL_RATIO}×)");
    let mut ok = true;
    for (cloud, (one, all)) in rows {
        let ratio = all.as_secs_f64() / one.as_secs_f64();
        ok &= ratio <= GOAL_RATIO;
        println!(
            "{cloud:<8} {:>8.2} s   {:>8.2} s   {ratio:>5.2}×",
            one.as_secs_f64(),
            all.as_secs_f64()
        );
    }
    println!(
        "peak memory of the process (VmHWM, simulators included): {hwm:.1} MiB (goal ≤ {GOAL_MIB} MiB)"
    );
    Ok(ok && hwm <= GOAL_MIB)
}

/// One bake of `builder(0)` alone, then the bakes of `builder(1..=n)` at
/// once: their wall times, or the first error.
async fn one_then_many<B: Builder>(
    n: usize,
    builder: impl Fn(usize) -> anyhow::Result<B>,
) -> anyhow::Result<(Duration, Duration)> {
    let runner = Runner::new();
    let mut walls = Vec::new();
    for builders in [
        vec![builder(0)?],
        (1..=n).map(&builder).collect::<anyhow::Result<_>>()?,
    ] {
        let started = Instant::now();
        let results = join_all(
            builders
                .iter()
                .map(|b| b.run(&runner, CancellationToken::new())),
        )
        .await;
        walls.push(started.elapsed());
        for r in results {
            r.map_err(|e| anyhow::anyhow!("a bake failed: {e}"))?;
        }
    }
    Ok((walls[0], walls[1]))
}

/// One Triton bake, then `n` at once: their wall times.
async fn triton(n: usize) -> anyhow::Result<(Duration, Duration)> {
    let sim = TritonSim::start(TritonSimOptions {
        delays: TritonDelays::all(TRANSITION),
        ..TritonSimOptions::default()
    })
    .await?;
    let builder = |i: usize| -> anyhow::Result<TritonBuilder> {
        let block = json!({
            "type": "triton",
            "triton_url": sim.url(),
            "triton_account": sim.account(),
            "triton_key_id": sim.key_id(),
            "triton_key_material": sim.private_key_path(),
            "source_machine_package": "g1.small",
            "source_machine_image_filter": {"name": "base-64-lts", "most_recent": true},
            "image_name": format!("bench-{i}"),
            "image_version": "1.0.0",
            "communicator": "none",
        });
        Ok(TritonBuilder::new(TritonConfig::from_json(&block)?)?)
    };
    let (one, all) = one_then_many(n, builder).await?;
    let inv = sim.inventory();
    anyhow::ensure!(
        inv.machines.is_empty() && inv.custom_images().len() == n + 1,
        "triton: {} machine(s) left, {} image(s) made (expected {})",
        inv.machines.len(),
        inv.custom_images().len(),
        n + 1
    );
    println!(
        "triton: {} bakes, {} requests served",
        n + 1,
        sim.request_count()
    );
    sim.shutdown().await;
    Ok((one, all))
}

/// One Oxide (`oxide-instance`) bake, then `n` at once: their wall times.
async fn oxide(n: usize) -> anyhow::Result<(Duration, Duration)> {
    let sim = OxideSim::start(OxideSimOptions {
        delays: OxideDelays {
            instance_start: TRANSITION,
            instance_stop: TRANSITION,
        },
        ..OxideSimOptions::default()
    })
    .await?;
    let seeded = sim.inventory().images.len();
    let builder = |i: usize| -> anyhow::Result<OxideBuilder> {
        let block = json!({
            "type": "oxide-instance",
            "host": sim.url(),
            "token": sim.token(),
            "project": "imagebake",
            "boot_disk_image_name": "debian-12",
            "boot_disk_size": 2u64 << 30,
            "memory": 1u64 << 30,
            "artifact_name": format!("bench-{i}"),
            "communicator": "none",
        });
        Ok(OxideBuilder::new(OxideConfig::from_json(&block)?)?)
    };
    let (one, all) = one_then_many(n, builder).await?;
    let inv = sim.inventory();
    let made = inv.images.len() - seeded;
    anyhow::ensure!(
        inv.instances.is_empty() && inv.disks.is_empty() && made == n + 1,
        "oxide: {} instance(s), {} disk(s) left, {made} image(s) made (expected {})",
        inv.instances.len(),
        inv.disks.len(),
        n + 1
    );
    println!(
        "oxide: {} bakes, {} requests served",
        n + 1,
        sim.request_count()
    );
    sim.shutdown().await;
    Ok((one, all))
}
