//! Waits that learn, end to end against the Triton simulator: a build
//! records how long its transitions took, the next build with the same
//! delays reads it and polls less (counted in simulator requests, not
//! time), and a corrupt history file neither breaks a build nor stays
//! corrupt.

use std::time::Duration;

use imagebake_core::builders::Builder;
use imagebake_core::builders::triton::{TritonBuilder, TritonConfig};
use imagebake_core::{CancellationToken, Runner, WaitHistory};
use imagebake_sim::triton::{TritonDelays, TritonSim, TritonSimOptions};
use serde_json::{Value, json};

mod support;
use support::{merged, triton_credentials};

/// Transitions of a second or two: a cold wait looks 4 or 5 times at each.
fn delays() -> TritonDelays {
    TritonDelays {
        provision: Duration::from_millis(2000),
        stop: Duration::from_millis(1500),
        start: Duration::from_millis(1500),
        delete: Duration::from_millis(1000),
        image_create: Duration::from_millis(2000),
    }
}

/// Bakes `bench@1.0.{n}` inside `history`'s scope; the requests it made.
async fn bake(sim: &TritonSim, history: &WaitHistory, n: u32) -> u64 {
    let block = merged(
        triton_credentials(sim),
        json!({
            "source_machine_package": "g1.small",
            "source_machine_image": "e44ed3e0-910b-11ee-b2d6-0b4f7a3c2301",
            "image_name": "bench",
            "image_version": format!("1.0.{n}"),
            "communicator": "none",
        }),
    );
    let builder = TritonBuilder::new(TritonConfig::from_json(&block).unwrap()).unwrap();
    let before = sim.request_count();
    let runner = Runner::new();
    let run = builder.run(&runner, CancellationToken::new());
    WaitHistory::scope(Some(history.clone()), run)
        .await
        .unwrap_or_else(|e| panic!("bake {n}: {e}"));
    sim.request_count() - before
}

/// The operations the history file holds.
fn operations(history: &WaitHistory) -> Vec<String> {
    let file: Value = serde_json::from_slice(&std::fs::read(history.path()).unwrap()).unwrap();
    let mut ops: Vec<String> = file["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["operation"].as_str().unwrap().to_owned())
        .collect();
    ops.sort();
    ops
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_second_build_polls_less_and_a_corrupt_history_breaks_nothing() {
    let sim = TritonSim::start(TritonSimOptions {
        delays: delays(),
        ..TritonSimOptions::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let history = WaitHistory::at(dir.path().join("state").join(WaitHistory::FILE));

    let cold = bake(&sim, &history, 0).await;
    assert_eq!(
        operations(&history),
        [
            "triton image create",
            "triton machine delete",
            "triton machine provision",
            "triton machine stop"
        ]
    );
    let warm = bake(&sim, &history, 1).await;
    assert!(warm < cold, "warm build made {warm} requests, cold {cold}");

    std::fs::write(history.path(), b"{\"version\": 1, \"entries\": [tru").unwrap();
    bake(&sim, &history, 2).await;
    // Rewritten whole by the build that found it corrupt.
    assert_eq!(operations(&history).len(), 4);

    let inv = sim.inventory();
    assert!(inv.machines.is_empty(), "{:?}", inv.machines);
    assert_eq!(inv.custom_images().len(), 3);
    sim.shutdown().await;
}
