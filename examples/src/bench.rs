//! The harness of the wait benchmarks (`triton_bench`, `oxide_bench`,
//! `osc_bench`): a scenario of scripted simulator delays, a cold bake (no
//! wait history) then a warm one (the history the cold one wrote), each
//! measured in wall time and requests served by the simulator, printed
//! side by side with a reference when there is one.
//!
//! The history is a temporary file ([`WaitHistory::scope`]), never the
//! user's state directory, so every run starts cold.

use std::future::Future;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use std::sync::Arc;

use imagebake_core::builders::{Builder, BuilderConfig};
use imagebake_core::{CancellationToken, Event, FnObserver, Runner, WaitHistory};
use serde_json::{Value, json};

/// What a reference tool measured on a scenario: (label, wall s, requests).
pub type Reference = (&'static str, f64, u64);

/// A named scenario: (name, seconds per delay, reference).
pub type Known<'a> = (&'a str, &'a [f64], Option<Reference>);

/// Scripted transition delays: a name and the delays, each with what it is.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// `short`, `long`, `instant`, or the delays given.
    pub name: String,
    /// Each transition's delay, with its label (`provision`, `stop`, ...).
    pub delays: Vec<(&'static str, Duration)>,
    /// What a reference tool measured on it.
    pub reference: Option<Reference>,
}

impl Scenario {
    /// The cloud time: the sum of the delays.
    pub fn cloud(&self) -> Duration {
        self.delays.iter().map(|(_, d)| *d).sum()
    }

    /// The delay labelled `label` (zero if none).
    pub fn delay(&self, label: &str) -> Duration {
        self.delays
            .iter()
            .find(|(l, _)| *l == label)
            .map_or(Duration::ZERO, |(_, d)| *d)
    }

    /// Scenarios from a command-line word: `short`, `long`, `instant`, `all`
    /// (the three), or seconds separated by `/` in the order of `labels`.
    /// `known` gives the named ones: (name, seconds, reference).
    pub fn parse(
        word: &str,
        labels: &[&'static str],
        known: &[Known<'_>],
    ) -> anyhow::Result<Vec<Scenario>> {
        let make = |name: &str, secs: &[f64], reference| Scenario {
            name: name.to_owned(),
            delays: labels
                .iter()
                .zip(secs)
                .map(|(l, s)| (*l, Duration::from_secs_f64(*s)))
                .collect(),
            reference,
        };
        if word == "all" {
            return Ok(known.iter().map(|(n, s, r)| make(n, s, *r)).collect());
        }
        if let Some((n, s, r)) = known.iter().find(|(n, _, _)| *n == word) {
            return Ok(vec![make(n, s, *r)]);
        }
        let secs: Vec<f64> = word
            .split('/')
            .map(|s| s.trim().parse::<f64>())
            .collect::<Result<_, _>>()
            .ok()
            .filter(|v: &Vec<f64>| v.len() == labels.len() && v.iter().all(|s| *s >= 0.0))
            .ok_or_else(|| {
                let names: Vec<&str> = known.iter().map(|(n, _, _)| *n).collect();
                anyhow::anyhow!(
                    "scenario {word:?}: expected {} or all, or {} seconds as {}",
                    names.join(", "),
                    labels.len(),
                    labels.join("/")
                )
            })?;
        Ok(vec![make(word, &secs, None)])
    }
}

/// A benchmark's `main`: runs `bench` with the command line's `SCENARIO`
/// (default `short`) and `POLL_CAP`, and prints a failure as `name: error`.
pub async fn main<F, Fut>(name: &str, bench: F) -> ExitCode
where
    F: FnOnce(String, Option<String>) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let mut args = std::env::args().skip(1);
    let word = args.next().unwrap_or_else(|| "short".to_owned());
    match bench(word, args.next()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{name}: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// One bake with builder `B` of `block` (with `poll_cap` set to `cap`, if
/// given), run by [`runner`].
pub async fn bake<B: Builder>(mut block: Value, cap: Option<&str>) -> anyhow::Result<()> {
    if let Some(cap) = cap {
        block["poll_cap"] = json!(cap);
    }
    let builder = B::new(B::Config::from_block(&block)?)?;
    builder
        .run(&runner(), CancellationToken::new())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(())
}

/// The runner of a bake: with `BENCH_STEPS` set in the environment, it
/// prints each step's duration (where the time goes).
pub fn runner() -> Runner {
    let runner = Runner::new();
    if std::env::var_os("BENCH_STEPS").is_none() {
        return runner;
    }
    runner.observer(Arc::new(FnObserver(|e: &Event| {
        if let Event::StepFinished { step, duration, .. } = e {
            eprintln!("  {step:<24} {:>8.3} s", duration.as_secs_f64());
        }
    })))
}

/// One bake's figures.
#[derive(Debug, Clone, Copy)]
pub struct Figures {
    /// Wall time of the bake.
    pub wall: Duration,
    /// Requests the simulator served during it.
    pub requests: u64,
}

/// Bakes twice with a fresh wait history, `bake(0)` cold then `bake(1)`
/// warm, each measured: `requests` reads the simulator's request counter.
pub async fn cold_and_warm<F, Fut>(
    requests: impl Fn() -> u64,
    mut bake: F,
) -> anyhow::Result<[Figures; 2]>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let dir = tempfile::tempdir()?;
    let history = WaitHistory::at(dir.path().join(WaitHistory::FILE));
    let mut out = Vec::new();
    for run in 0..2 {
        let before = requests();
        let started = Instant::now();
        WaitHistory::scope(Some(history.clone()), bake(run)).await?;
        out.push(Figures {
            wall: started.elapsed(),
            requests: requests() - before,
        });
    }
    Ok([out[0], out[1]])
}

/// Prints a scenario's figures: cold, warm, and the reference; `cloud` is
/// the time the bake spends in transitions (the overhead is the rest).
pub fn print(scenario: &Scenario, cloud: Duration, [cold, warm]: [Figures; 2]) {
    let cloud = cloud.as_secs_f64();
    let delays: Vec<String> = scenario
        .delays
        .iter()
        .map(|(l, d)| format!("{l} {:.2} s", d.as_secs_f64()))
        .collect();
    println!("scenario {}: {}", scenario.name, delays.join(", "));
    println!("                       wall      cloud   overhead  requests");
    let row = |label: &str, wall: f64, requests: u64| {
        println!(
            "{label:<20} {wall:>7.2} s  {cloud:>6.2} s  {:>6.2} s  {requests:>8}",
            wall - cloud
        );
    };
    row("imagebake cold", cold.wall.as_secs_f64(), cold.requests);
    row("imagebake warm", warm.wall.as_secs_f64(), warm.requests);
    if let Some((label, wall, requests)) = scenario.reference {
        row(label, wall, requests);
    }
    println!();
}
