//! Load against an unreliable cloud: many concurrent builds of one builder
//! against a simulator in [`Chaos`] mode (random throttling, server errors
//! and dropped connections), then the proof that every build succeeded or
//! failed cleanly, that no resource was made twice, and that nothing but
//! the successful builds' images is left (and nothing at all once those are
//! deleted). Used by `examples/load.rs` (full size) and by the
//! `imagebake-tests` `load` test (CI size).
//!
//! Retries are counted client-side from the shared retry loops' own debug
//! events (`imagebake_http`: "retrying", "sending the create again", and
//! the adoptions of a create whose answer was lost) by [`RetryCounter`], a
//! `tracing` layer: the clients carry no counter of their own.

use std::fmt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use imagebake_core::builders::Builder;
use imagebake_core::builders::osc_chroot::{OscChrootBuilder, OscChrootConfig};
use imagebake_core::builders::oxide::{OxideBuilder, OxideConfig};
use imagebake_core::builders::triton::{TritonBuilder, TritonConfig};
use imagebake_core::{BuildError, CancellationToken, Runner};
use imagebake_sim::{Chaos, FaultStats, Faults};
use serde_json::json;
use tracing_subscriber::Layer as _;

/// Device slots of the Outscale simulator's one host VM (`/dev/xvdf` to
/// `/dev/xvdp`): at most this many `osc-chroot` builds hold a volume at once.
pub const OSC_DEVICE_SLOTS: usize = 11;

/// How big a load run is.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Builds in all.
    pub builds: usize,
    /// Builds in flight at once (`osc-chroot` is further limited to
    /// [`OSC_DEVICE_SLOTS`]).
    pub concurrency: usize,
    /// The simulator's random faults.
    pub chaos: Chaos,
    /// The simulator's state delays (provisioning, stop, image, ...).
    pub delay: Duration,
    /// The clients' retry policy.
    pub retry: imagebake_http::RetryPolicy,
}

impl LoadOptions {
    /// The issue's load: `builds` concurrent builds, 10% throttled, 10%
    /// answered 503, 5% of connections dropped; 5 ms state delays; six
    /// attempts per request with a 5-100 ms backoff.
    pub fn issue(builds: usize, seed: u64) -> Self {
        Self {
            builds,
            concurrency: builds,
            chaos: Chaos {
                throttle_ratio: 0.10,
                error_ratio: 0.10,
                drop_ratio: 0.05,
                seed,
                ..Chaos::default()
            },
            delay: Duration::from_millis(5),
            retry: imagebake_http::RetryPolicy {
                max_attempts: 6,
                backoff: imagebake_http::Backoff::new(
                    Duration::from_millis(5),
                    Duration::from_millis(100),
                ),
            },
        }
    }
}

/// What one load run did and left.
#[derive(Debug, Clone)]
pub struct LoadReport {
    /// The builder type.
    pub builder: &'static str,
    /// Builds run.
    pub builds: usize,
    /// Builds that made their image.
    pub succeeded: usize,
    /// Successful builds whose cleanup (of the temporary resources: a
    /// working volume, a source copy) left something: the cleanup's text.
    pub succeeded_unclean: Vec<String>,
    /// Failed builds whose cleanup removed everything: `step: error`.
    pub failed_clean: Vec<String>,
    /// Failed builds whose cleanup left something (the report's text).
    pub failed_unclean: Vec<String>,
    /// From the first build started to the last one ended.
    pub wall: Duration,
    /// The simulator's counts (requests, faults, creations).
    pub stats: FaultStats,
    /// Retries by the clients (re-sent requests, re-sent creates).
    pub retries: u64,
    /// Creates whose answer was lost, found and adopted.
    pub adopted: u64,
    /// What the simulator held after the builds besides the successful
    /// builds' images.
    pub leftovers: Vec<String>,
    /// What it still held after those images were deleted.
    pub left_at_end: Vec<String>,
}

impl LoadReport {
    /// Builds per second of wall time.
    pub fn builds_per_s(&self) -> f64 {
        self.builds as f64 / self.wall.as_secs_f64().max(f64::EPSILON)
    }

    /// Every build succeeded or failed cleanly, nothing was made twice and
    /// nothing is left.
    pub fn is_clean(&self) -> bool {
        self.failed_unclean.is_empty()
            && self.succeeded_unclean.is_empty()
            && self.stats.made_twice().is_empty()
            && self.leftovers.is_empty()
            && self.left_at_end.is_empty()
    }
}

impl fmt::Display for LoadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.stats;
        writeln!(
            f,
            "{}: {} builds in {:.2} s = {:.2} builds/s; {} succeeded ({} leaving something), {} failed cleanly, {} failed leaving something",
            self.builder,
            self.builds,
            self.wall.as_secs_f64(),
            self.builds_per_s(),
            self.succeeded,
            self.succeeded_unclean.len(),
            self.failed_clean.len(),
            self.failed_unclean.len()
        )?;
        let faults: Vec<String> = s.injected.iter().map(|(k, n)| format!("{k} {n}")).collect();
        writeln!(
            f,
            "  requests {} ({:.1}/build), faults {} ({}), client retries {}, lost creates adopted {}",
            s.requests,
            s.requests as f64 / self.builds.max(1) as f64,
            s.faults(),
            faults.join(", "),
            self.retries,
            self.adopted
        )?;
        let created: Vec<String> = s
            .created
            .keys()
            .map(|k| format!("{k} {}", s.created_of(k)))
            .collect();
        writeln!(
            f,
            "  created: {}; made twice: {:?}",
            created.join(", "),
            s.made_twice()
        )?;
        let mut causes: std::collections::BTreeMap<&str, usize> = Default::default();
        for e in self.failed_clean.iter().chain(&self.failed_unclean) {
            *causes.entry(first_line(e)).or_default() += 1;
        }
        for (cause, n) in causes {
            writeln!(f, "  failed {n}x: {cause}")?;
        }
        write!(
            f,
            "  left after the builds (besides their images): {:?}; left at the end: {:?}",
            self.leftovers, self.left_at_end
        )
    }
}

/// The first line of an error text, with ids cut short enough to group.
fn first_line(e: &str) -> &str {
    e.lines().next().unwrap_or_default()
}

static RETRIES: AtomicU64 = AtomicU64::new(0);
static ADOPTED: AtomicU64 = AtomicU64::new(0);

/// A `tracing` layer counting the shared retry loops' events (install it
/// with `tracing_subscriber::registry().with(RetryCounter)`, at debug level
/// for `imagebake_http`).
#[derive(Debug, Clone, Copy, Default)]
pub struct RetryCounter;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for RetryCounter {
    fn on_event(&self, event: &tracing::Event<'_>, _cx: tracing_subscriber::layer::Context<'_, S>) {
        if !event.metadata().target().starts_with("imagebake_http") {
            return;
        }
        let mut message = Message(String::new());
        event.record(&mut message);
        match message.0.as_str() {
            "retrying" | "sending the create again" => RETRIES.fetch_add(1, Ordering::Relaxed),
            m if m.ends_with(": adopted") => ADOPTED.fetch_add(1, Ordering::Relaxed),
            _ => 0,
        };
    }
}

/// An event's `message` field.
struct Message(String);

impl tracing::field::Visit for Message {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "message" {
            value.clone_into(&mut self.0);
        }
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
}

/// Installs [`RetryCounter`] as the process's global subscriber (once; a
/// second call, or another global subscriber, is left as it is: the
/// retries then count 0).
pub fn count_retries() {
    use tracing_subscriber::layer::SubscriberExt as _;
    let filter = tracing_subscriber::filter::Targets::new()
        .with_target("imagebake_http", tracing::Level::DEBUG);
    let subscriber = tracing_subscriber::registry().with(RetryCounter.with_filter(filter));
    let _ = tracing::subscriber::set_global_default(subscriber);
}

/// Runs `builders`, at most `limit` at once; returns each outcome and the
/// wall time.
async fn run_builds<B: Builder>(
    builders: &[B],
    limit: usize,
) -> (Vec<Result<B::Artifact, BuildError>>, Duration) {
    let started = Instant::now();
    let outcomes = futures::stream::iter(builders)
        .map(|b| async move { b.run(&Runner::new(), CancellationToken::new()).await })
        .buffer_unordered(limit.max(1))
        .collect()
        .await;
    (outcomes, started.elapsed())
}

/// Turns the outcomes into a report (leftovers filled in later), keeping
/// the artifacts.
fn tally<A: imagebake_core::builders::Artifact>(
    builder: &'static str,
    outcomes: Vec<Result<A, BuildError>>,
    wall: Duration,
    faults: &Faults,
    counted: (u64, u64),
) -> (LoadReport, Vec<A>) {
    let mut report = LoadReport {
        builder,
        builds: outcomes.len(),
        succeeded: 0,
        succeeded_unclean: Vec::new(),
        failed_clean: Vec::new(),
        failed_unclean: Vec::new(),
        wall,
        stats: faults.stats(),
        retries: RETRIES.load(Ordering::Relaxed) - counted.0,
        adopted: ADOPTED.load(Ordering::Relaxed) - counted.1,
        leftovers: Vec::new(),
        left_at_end: Vec::new(),
    };
    let mut artifacts = Vec::new();
    for o in outcomes {
        match o {
            Ok(a) => {
                let cleanup = a.build().1;
                if !cleanup.is_clean() {
                    report
                        .succeeded_unclean
                        .push(format!("{a}\ncleanup: {cleanup}"));
                }
                artifacts.push(a);
            }
            Err(e) if e.cleanup.is_clean() => report.failed_clean.push(e.to_string()),
            Err(e) => report
                .failed_unclean
                .push(format!("{e}\ncleanup: {}", e.cleanup)),
        }
    }
    report.succeeded = artifacts.len();
    (report, artifacts)
}

fn counted() -> (u64, u64) {
    (
        RETRIES.load(Ordering::Relaxed),
        ADOPTED.load(Ordering::Relaxed),
    )
}

/// Runs `builders` (at most `limit` at once) with `chaos` on `faults`,
/// counted from zero, then turns the chaos off: the report and the
/// successful builds' artifacts.
async fn under_chaos<B: Builder>(
    builder: &'static str,
    builders: &[B],
    limit: usize,
    faults: &Faults,
    chaos: &Chaos,
) -> anyhow::Result<(LoadReport, Vec<B::Artifact>)> {
    faults.reset_stats();
    faults.set_chaos(Some(chaos.clone()))?;
    let before = counted();
    let (outcomes, wall) = run_builds(builders, limit).await;
    faults.set_chaos(None)?;
    Ok(tally(builder, outcomes, wall, faults, before))
}

/// `opts.builds` `triton` builds (communicator none) against a Triton
/// simulator in chaos mode.
pub async fn triton(opts: &LoadOptions) -> anyhow::Result<LoadReport> {
    use imagebake_sim::triton::{TritonDelays, TritonSim, TritonSimOptions};
    let sim = TritonSim::start(TritonSimOptions {
        delays: TritonDelays::all(opts.delay),
        ..TritonSimOptions::default()
    })
    .await?;
    let block = |i: usize| {
        json!({
            "type": "triton",
            "triton_url": sim.url(),
            "triton_account": sim.account(),
            "triton_key_id": sim.key_id(),
            "triton_key_material": sim.private_key_path(),
            "source_machine_package": "g1.small",
            "source_machine_image_filter": {"name": "base-64-lts", "most_recent": true},
            "image_name": format!("load-{i}"),
            "image_version": "1.0.0",
            "communicator": "none",
            "state_timeout": "60s",
            "image_timeout": "60s",
            "poll_cap": "20ms",
        })
    };
    let make = |i| -> anyhow::Result<TritonBuilder> {
        Ok(TritonBuilder::new(TritonConfig::from_json(&block(i))?)?.retry_policy(opts.retry)?)
    };
    let builders = (0..opts.builds)
        .map(make)
        .collect::<anyhow::Result<Vec<_>>>()?;
    let client = builders.first().map(|b| b.client().clone());
    let (mut report, artifacts) = under_chaos(
        "triton",
        &builders,
        opts.concurrency,
        sim.faults(),
        &opts.chaos,
    )
    .await?;

    let inventory = |sim: &TritonSim| {
        let inv = sim.inventory();
        let mut left: Vec<String> = inv
            .machines
            .iter()
            .map(|m| format!("machine {} {} ({})", m.id, m.name, m.state))
            .collect();
        left.extend(
            inv.custom_images()
                .iter()
                .map(|i| format!("image {} {}@{} ({})", i.id, i.name, i.version, i.state)),
        );
        left
    };
    let ours: Vec<String> = artifacts.iter().map(|a| a.image_id.to_string()).collect();
    report.leftovers = inventory(&sim)
        .into_iter()
        .filter(|l| !ours.iter().any(|id| l.starts_with(&format!("image {id} "))))
        .collect();
    if let Some(client) = client {
        for a in &artifacts {
            client.delete_image(&a.image_id).await?;
        }
    }
    report.left_at_end = inventory(&sim);
    sim.shutdown().await;
    Ok(report)
}

/// `opts.builds` `oxide-instance` builds (communicator none) against an
/// Oxide simulator in chaos mode.
pub async fn oxide(opts: &LoadOptions) -> anyhow::Result<LoadReport> {
    use imagebake_sim::oxide::{OxideDelays, OxideSim, OxideSimOptions};
    const SEED_IMAGES: [&str; 3] = ["debian-12", "ubuntu-24-04", "alpine-3-20"];
    let sim = OxideSim::start(OxideSimOptions {
        delays: OxideDelays {
            instance_start: opts.delay,
            instance_stop: opts.delay,
        },
        ..OxideSimOptions::default()
    })
    .await?;
    let block = |i: usize| {
        json!({
            "type": "oxide-instance",
            "host": sim.url(),
            "token": sim.token(),
            "project": "imagebake",
            "boot_disk_image_name": "debian-12",
            "boot_disk_size": 2u64 << 30,
            "memory": 1u64 << 30,
            "artifact_name": format!("load-{i}"),
            "communicator": "none",
            "state_timeout": "60s",
            "poll_cap": "20ms",
        })
    };
    let make = |i| -> anyhow::Result<OxideBuilder> {
        Ok(OxideBuilder::new(OxideConfig::from_json(&block(i))?)?.retry_policy(opts.retry)?)
    };
    let builders = (0..opts.builds)
        .map(make)
        .collect::<anyhow::Result<Vec<_>>>()?;
    let client = builders.first().map(|b| b.client().clone());
    let (mut report, artifacts) = under_chaos(
        "oxide-instance",
        &builders,
        opts.concurrency,
        sim.faults(),
        &opts.chaos,
    )
    .await?;

    let inventory = |sim: &OxideSim| {
        let inv = sim.inventory();
        let mut left: Vec<String> = inv
            .instances
            .iter()
            .map(|i| format!("instance {} {} ({})", i.id, i.name, i.run_state))
            .collect();
        for (kind, list) in [
            ("disk", &inv.disks),
            ("snapshot", &inv.snapshots),
            ("ssh-key", &inv.ssh_keys),
            ("image", &inv.images),
        ] {
            left.extend(
                list.iter()
                    .filter(|r| kind != "image" || !SEED_IMAGES.contains(&r.name.as_str()))
                    .map(|r| format!("{kind} {} {} ({})", r.id, r.name, r.state)),
            );
        }
        left
    };
    let ours: Vec<String> = artifacts
        .iter()
        .filter_map(|a| a.image_id)
        .map(|id| id.to_string())
        .collect();
    report.leftovers = inventory(&sim)
        .into_iter()
        .filter(|l| !ours.iter().any(|id| l.starts_with(&format!("image {id} "))))
        .collect();
    if let Some(client) = client {
        for id in artifacts.iter().filter_map(|a| a.image_id) {
            client.image_delete(id, None).await?;
        }
    }
    report.left_at_end = inventory(&sim);
    sim.shutdown().await;
    Ok(report)
}

/// `opts.builds` `osc-chroot` builds (no provisioner) against an Outscale
/// simulator in chaos mode, at most [`OSC_DEVICE_SLOTS`] at once (the one
/// host VM's device names), work files under `dir`. Needs root (loop
/// devices, mount).
pub async fn osc(opts: &LoadOptions, dir: &Path) -> anyhow::Result<LoadReport> {
    use imagebake_core::osc_client::{Client, Config};
    use imagebake_sim::osc::{OscDelays, OscSim, OscSimOptions};
    let sim = OscSim::start(OscSimOptions {
        delays: OscDelays::uniform(opts.delay),
        ..OscSimOptions::default()
    })
    .await?;
    let client = Client::new(Config::explicit(
        sim.access_key(),
        sim.secret_key().to_owned(),
        sim.region(),
        sim.endpoint(),
    )?)?
    .with_retry(opts.retry);
    let block = |i: usize| {
        let mut v = json!({
            "type": "osc-chroot",
            "access_key": sim.access_key(),
            "secret_key": sim.secret_key(),
            "region": sim.region(),
            "custom_endpoint_oapi": sim.endpoint(),
            "metadata_url": sim.metadata_url(),
            "device_dir": sim.dev_dir(),
            "device_lock_path": dir.join("device.lock"),
            "mount_path": format!("{}/mnt/{{{{.Device}}}}", dir.display()),
            "mount_partition": "0",
            "source_omi_filter": {
                "filters": {"image-name": "Debian-12-*"},
                "owners": ["Outscale"],
                "most_recent": true
            },
            "omi_name": format!("load-{i}"),
            "poll_cap": "20ms",
        });
        if !Path::new("/etc/resolv.conf").exists() {
            v["copy_files"] = json!([]);
        }
        v
    };
    let make = |i| -> anyhow::Result<OscChrootBuilder> {
        Ok(OscChrootBuilder::new(OscChrootConfig::from_json(&block(i))?)?.client(client.clone()))
    };
    let builders = (0..opts.builds)
        .map(make)
        .collect::<anyhow::Result<Vec<_>>>()?;
    let limit = opts.concurrency.min(OSC_DEVICE_SLOTS);
    let (mut report, artifacts) =
        under_chaos("osc-chroot", &builders, limit, sim.faults(), &opts.chaos).await?;

    let left = |inv: imagebake_sim::osc::OscInventory| {
        let mut left: Vec<String> = Vec::new();
        left.extend(inv.volumes.iter().map(|v| format!("volume {v}")));
        left.extend(inv.links.iter().map(|l| format!("link {}", l.volume_id)));
        left.extend(inv.snapshots.iter().map(|s| format!("snapshot {s}")));
        left.extend(inv.images.iter().map(|i| format!("image {i}")));
        left.extend(inv.loop_devices.iter().map(|d| format!("loop {d}")));
        left
    };
    let mut ours: Vec<String> = Vec::new();
    for a in &artifacts {
        ours.push(format!("image {}", a.omi_id));
        ours.extend(a.snapshot_ids.iter().map(|s| format!("snapshot {s}")));
    }
    report.leftovers = left(sim.inventory().await)
        .into_iter()
        .filter(|l| !ours.contains(l))
        .collect();
    for a in &artifacts {
        client.images().delete(&a.omi_id).await?;
        for s in &a.snapshot_ids {
            client.snapshots().delete(s).await?;
        }
    }
    report.left_at_end = left(sim.inventory().await);
    sim.shutdown().await;
    Ok(report)
}
