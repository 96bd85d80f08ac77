//! Benchmarks the `osc-chroot` builder's waits against the in-process
//! Outscale simulator (real loop devices: needs root): a cold bake (no wait
//! history) and a warm one (the history the cold one wrote), with scripted
//! volume, link, unlink, snapshot and image delays, no provisioner. The
//! cloud time counts the image delay twice: the build copies the source
//! OMI, then registers its own. The Packer Outscale plugin polls every 2 s,
//! without limit.
//!
//! ```text
//! cargo run --release -p imagebake-examples --example osc_bench [SCENARIO [POLL_CAP]]
//! ```
//!
//! `SCENARIO`: `short` (default; volume 5 s, link 2 s, unlink 2 s,
//! snapshot 20 s, image 10 s), `long` (20/5/5/90/40 s), `instant` (20 ms
//! each), `all`, or seconds as `VOLUME/LINK/UNLINK/SNAPSHOT/IMAGE`.
//! `POLL_CAP` (a Go duration, default `2s`) is the builder's `poll_cap`.

use std::process::ExitCode;

use imagebake_core::builders::osc_chroot::OscChrootBuilder;
use imagebake_examples::bench::{self, Known, Scenario};
use imagebake_sim::osc::{OscDelays, OscSim, OscSimOptions};
use serde_json::json;

const LABELS: &[&str] = &["volume", "link", "unlink", "snapshot", "image"];

#[tokio::main]
async fn main() -> ExitCode {
    bench::main("osc_bench", run).await
}

async fn run(word: String, cap: Option<String>) -> anyhow::Result<()> {
    anyhow::ensure!(
        imagebake_sim::is_root(),
        "osc-chroot needs root (loop devices, mount, chroot)"
    );
    let known: &[Known<'_>] = &[
        ("short", &[5.0, 2.0, 2.0, 20.0, 10.0], None),
        ("long", &[20.0, 5.0, 5.0, 90.0, 40.0], None),
        ("instant", &[0.02; 5], None),
    ];
    for scenario in Scenario::parse(&word, LABELS, known)? {
        let figures = one(&scenario, cap.as_deref()).await?;
        // The source OMI is copied first: the image delay counts twice.
        let cloud = scenario.cloud() + scenario.delay("image");
        bench::print(&scenario, cloud, figures);
    }
    Ok(())
}

/// A cold and a warm bake of `scenario` on a fresh simulator.
async fn one(scenario: &Scenario, cap: Option<&str>) -> anyhow::Result<[bench::Figures; 2]> {
    let sim = OscSim::start(OscSimOptions {
        delays: OscDelays {
            volume_create: scenario.delay("volume"),
            volume_link: scenario.delay("link"),
            volume_unlink: scenario.delay("unlink"),
            snapshot_create: scenario.delay("snapshot"),
            image_create: scenario.delay("image"),
        },
        ..OscSimOptions::default()
    })
    .await?;
    let work = tempfile::tempdir()?;
    let figures = bench::cold_and_warm(
        || sim.request_count(),
        |run| {
            let block = json!({
                "type": "osc-chroot",
                "access_key": sim.access_key(),
                "secret_key": sim.secret_key(),
                "region": sim.region(),
                "custom_endpoint_oapi": sim.endpoint(),
                "metadata_url": sim.metadata_url(),
                "device_dir": sim.dev_dir(),
                "device_lock_path": work.path().join("device.lock"),
                "mount_path": format!("{}/mnt/{{{{.Device}}}}", work.path().display()),
                "mount_partition": "0",
                "source_omi_filter": {
                    "filters": {"image-name": "Debian-12-*"},
                    "owners": ["Outscale"],
                    "most_recent": true
                },
                "omi_name": format!("bench-{run}"),
                "copy_files": [],
            });
            bench::bake::<OscChrootBuilder>(block, cap)
        },
    )
    .await?;
    sim.shutdown().await;
    Ok(figures)
}
