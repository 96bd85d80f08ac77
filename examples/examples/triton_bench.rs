//! Benchmarks the `triton` builder's waits against the in-process Triton
//! simulator on the scenarios recorded with Packer's triton builder
//! (`shared/notes/triton-builders.md` §1.8), communicator none: a cold bake
//! (no wait history) and a warm one (the history the cold one wrote), side
//! by side with Packer 1.6.6 (3 s polling grid).
//!
//! ```text
//! cargo run --release -p imagebake-examples --example triton_bench [SCENARIO [POLL_CAP]]
//! ```
//!
//! `SCENARIO`: `short` (default; provision 10 s, stop 5 s, image 20 s,
//! delete 4 s: Packer 45.2 s, 24 requests), `long` (45/12/95/8 s: Packer
//! 162.3 s, 63 requests), `instant` (20 ms each: Packer 0.11 s, 9
//! requests), `all`, or seconds as `PROVISION/STOP/IMAGE/DELETE`.
//! `POLL_CAP` (a Go duration, default `1s`) is the builder's `poll_cap`.

use std::process::ExitCode;

use imagebake_core::builders::triton::TritonBuilder;
use imagebake_examples::bench::{self, Known, Scenario};
use imagebake_sim::triton::{TritonDelays, TritonSim, TritonSimOptions};
use serde_json::json;

const LABELS: &[&str] = &["provision", "stop", "image", "delete"];

#[tokio::main]
async fn main() -> ExitCode {
    bench::main("triton_bench", run).await
}

async fn run(word: String, cap: Option<String>) -> anyhow::Result<()> {
    let known: &[Known<'_>] = &[
        (
            "short",
            &[10.0, 5.0, 20.0, 4.0],
            Some(("packer 1.6.6", 45.2, 24)),
        ),
        (
            "long",
            &[45.0, 12.0, 95.0, 8.0],
            Some(("packer 1.6.6", 162.3, 63)),
        ),
        ("instant", &[0.02; 4], Some(("packer 1.6.6", 0.11, 9))),
    ];
    for scenario in Scenario::parse(&word, LABELS, known)? {
        let figures = one(&scenario, cap.as_deref()).await?;
        bench::print(&scenario, scenario.cloud(), figures);
    }
    Ok(())
}

/// A cold and a warm bake of `scenario` on a fresh simulator.
async fn one(scenario: &Scenario, cap: Option<&str>) -> anyhow::Result<[bench::Figures; 2]> {
    let delays = TritonDelays {
        provision: scenario.delay("provision"),
        stop: scenario.delay("stop"),
        start: scenario.delay("provision"),
        delete: scenario.delay("delete"),
        image_create: scenario.delay("image"),
    };
    let sim = TritonSim::start(TritonSimOptions {
        delays,
        ..TritonSimOptions::default()
    })
    .await?;
    let figures = bench::cold_and_warm(
        || sim.request_count(),
        |run| {
            // As in the recorded Packer run: a filter on the source image.
            let block = json!({
                "type": "triton",
                "triton_url": sim.url(),
                "triton_account": sim.account(),
                "triton_key_id": sim.key_id(),
                "triton_key_material": sim.private_key_path(),
                "source_machine_package": "g1.small",
                "source_machine_image_filter": {"name": "base-64-lts", "type": "zone-dataset", "most_recent": true},
                "image_name": "bench",
                "image_version": format!("1.0.{run}"),
                "communicator": "none",
            });
            bench::bake::<TritonBuilder>(block, cap)
        },
    )
    .await?;
    let inv = sim.inventory();
    anyhow::ensure!(
        inv.machines.is_empty() && inv.custom_images().len() == 2,
        "left behind: {} machine(s), {} custom image(s) (2 expected: the artifacts)",
        inv.machines.len(),
        inv.custom_images().len()
    );
    sim.shutdown().await;
    Ok(figures)
}
