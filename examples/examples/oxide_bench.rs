//! Benchmarks the `oxide-instance` builder's waits against the in-process
//! Oxide simulator, communicator none: a cold bake (no wait history) and a
//! warm one (the history the cold one wrote), with scripted instance start
//! and stop delays (the simulator's snapshots are ready at once). The
//! Packer Oxide plugin polls `instance_view` every 3 s (and gives up after
//! 30 s, so it cannot run the long scenario at all).
//!
//! ```text
//! cargo run --release -p imagebake-examples --example oxide_bench [SCENARIO [POLL_CAP]]
//! ```
//!
//! `SCENARIO`: `short` (default; start 10 s, stop 5 s), `long` (start 45 s,
//! stop 12 s), `instant` (20 ms each), `all`, or seconds as `START/STOP`.
//! `POLL_CAP` (a Go duration, default `2s`) is the builder's `poll_cap`.

use std::process::ExitCode;

use imagebake_core::builders::oxide::OxideBuilder;
use imagebake_examples::bench::{self, Known, Scenario};
use imagebake_sim::oxide::{OxideDelays, OxideSim, OxideSimOptions};
use serde_json::json;

const LABELS: &[&str] = &["start", "stop"];

#[tokio::main]
async fn main() -> ExitCode {
    bench::main("oxide_bench", run).await
}

async fn run(word: String, cap: Option<String>) -> anyhow::Result<()> {
    let known: &[Known<'_>] = &[
        ("short", &[10.0, 5.0], None),
        ("long", &[45.0, 12.0], None),
        ("instant", &[0.02; 2], None),
    ];
    for scenario in Scenario::parse(&word, LABELS, known)? {
        let figures = one(&scenario, cap.as_deref()).await?;
        bench::print(&scenario, scenario.cloud(), figures);
    }
    Ok(())
}

/// A cold and a warm bake of `scenario` on a fresh simulator.
async fn one(scenario: &Scenario, cap: Option<&str>) -> anyhow::Result<[bench::Figures; 2]> {
    let sim = OxideSim::start(OxideSimOptions {
        delays: OxideDelays {
            instance_start: scenario.delay("start"),
            instance_stop: scenario.delay("stop"),
        },
        ..OxideSimOptions::default()
    })
    .await?;
    let figures = bench::cold_and_warm(
        || sim.request_count(),
        |_| {
            let block = json!({
                "type": "oxide-instance",
                "host": sim.url(),
                "token": sim.token(),
                "project": "imagebake",
                "boot_disk_image_name": "debian-12",
                "boot_disk_size": 2u64 << 30,
                "memory": 1u64 << 30,
                "communicator": "none",
            });
            bench::bake::<OxideBuilder>(block, cap)
        },
    )
    .await?;
    sim.shutdown().await;
    Ok(figures)
}
