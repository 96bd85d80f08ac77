//! Fault injection, shared by every simulator.
//!
//! A test queues faults for an operation name (the cloud's own name for it:
//! `CreateMachine`, `instance_create`, `LinkVolume`, ...). Each request of that
//! operation takes the next queued fault, if any, and the simulator applies it.
//! Each simulator knows the names of the operations it serves: a name outside
//! that list (a typo, or an operation the simulator does not serve) is refused
//! with the close names, instead of queueing a fault that would never fire.
//!
//! A [`Chaos`] policy adds seeded random faults (throttling, a server error,
//! a dropped connection) to every request (or to the operations it names)
//! that has no queued fault: a load test's unreliable cloud. [`FaultStats`]
//! counts what was served, what was injected and what was created, so a
//! test can prove no resource was made twice.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};

/// One injected misbehaviour.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Answer with this HTTP status and the cloud's error body for it
    /// (the simulator picks the cloud's usual code for the status, e.g. 503
    /// `ServiceUnavailable`), without doing the operation.
    Status(u16),
    /// Answer with the cloud's throttling response (429 and its codes).
    Throttle,
    /// Close the connection without a response, before doing the operation.
    DropBefore,
    /// Do the operation, then close the connection without a response: the
    /// caller cannot know whether it happened.
    DropAfter,
    /// Wait this long before handling the request normally.
    Slow(Duration),
    /// Do the operation, but the resource it starts ends in the cloud's failed
    /// state instead of the wanted one (machine `failed`, image `failed`,
    /// instance start failure, volume `error`, ...).
    FailResource,
    /// Do the operation at once (what it makes exists and is listed), then
    /// hold the answer this long before sending it: a slow or hung API
    /// whose create has in fact been done.
    LateAnswer(Duration),
}

/// An operation name the simulator does not serve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.describe())]
pub struct UnknownOperation {
    /// The name asked for.
    pub name: String,
    /// The simulator (`triton`, `oxide`, `osc`).
    pub cloud: &'static str,
    /// Known names close to it (case, a few letters), closest first.
    pub close: Vec<&'static str>,
    /// Every operation name the simulator serves.
    pub known: &'static [&'static str],
}

impl UnknownOperation {
    fn describe(&self) -> String {
        let head = format!(
            "{:?} is not an operation of the {} simulator, so a fault for it would never fire",
            self.name, self.cloud
        );
        if self.close.is_empty() {
            format!("{head}; its operations: {}", self.known.join(", "))
        } else {
            format!("{head}; close names: {}", self.close.join(", "))
        }
    }
}

impl Fault {
    /// A short name of the fault's kind, the key of [`FaultStats::injected`]:
    /// the status (`"503"`), `"429"` for throttling, `"drop-before"`,
    /// `"drop-after"`, `"slow"`, `"fail-resource"`, `"late-answer"`.
    pub fn kind(&self) -> String {
        match self {
            Fault::Status(s) => s.to_string(),
            Fault::Throttle => "429".to_owned(),
            Fault::DropBefore => "drop-before".to_owned(),
            Fault::DropAfter => "drop-after".to_owned(),
            Fault::Slow(_) => "slow".to_owned(),
            Fault::FailResource => "fail-resource".to_owned(),
            Fault::LateAnswer(_) => "late-answer".to_owned(),
        }
    }
}

/// A seeded random fault policy: each request (of [`Chaos::operations`],
/// or of every operation when that is empty) without a queued fault is
/// throttled with probability `throttle_ratio`, answered `error_status`
/// with probability `error_ratio`, and has its connection dropped with
/// probability `drop_ratio` (half before the operation is done, half after:
/// the caller cannot know whether it happened).
#[derive(Debug, Clone, PartialEq)]
pub struct Chaos {
    /// Share of requests answered with the cloud's throttling (429).
    pub throttle_ratio: f64,
    /// Share of requests answered with `error_status`.
    pub error_ratio: f64,
    /// The server error answered (503 unless set).
    pub error_status: u16,
    /// Share of requests whose connection is dropped.
    pub drop_ratio: f64,
    /// Seed of the random draws (the same seed gives the same sequence of
    /// draws; with concurrent requests their order may differ).
    pub seed: u64,
    /// The operations it applies to; empty: every operation.
    pub operations: Vec<String>,
}

impl Default for Chaos {
    /// No fault at all (ratios 0), seed 0, every operation.
    fn default() -> Self {
        Self {
            throttle_ratio: 0.0,
            error_ratio: 0.0,
            error_status: 503,
            drop_ratio: 0.0,
            seed: 0,
            operations: Vec::new(),
        }
    }
}

/// A chaos spec that does not parse or whose ratios make no sense.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("chaos spec {spec:?}: {problem} (want e.g. `429:0.1,503:0.1,drop:0.05`)")]
pub struct ChaosSpecError {
    /// The spec as given.
    pub spec: String,
    /// What is wrong with it.
    pub problem: String,
}

impl Chaos {
    /// Parses `KIND:RATIO,...` with KIND `429` (or `throttle`), a 5xx
    /// status (one status per spec), or `drop`; each RATIO in 0..=1 and
    /// their sum at most 1. The seed is `seed`; every operation.
    pub fn parse(spec: &str, seed: u64) -> Result<Self, ChaosSpecError> {
        let fail = |problem: String| ChaosSpecError {
            spec: spec.to_owned(),
            problem,
        };
        let mut chaos = Chaos {
            seed,
            ..Chaos::default()
        };
        let mut status = None;
        for item in spec.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let (kind, ratio) = item
                .split_once(':')
                .ok_or_else(|| fail(format!("{item:?} is not KIND:RATIO")))?;
            let ratio: f64 = ratio
                .trim()
                .parse()
                .ok()
                .filter(|r: &f64| (0.0..=1.0).contains(r))
                .ok_or_else(|| fail(format!("{item:?}: the ratio must be a number in 0..=1")))?;
            match kind.trim() {
                "429" | "throttle" => chaos.throttle_ratio += ratio,
                "drop" => chaos.drop_ratio += ratio,
                k => {
                    let s: u16 = k
                        .parse()
                        .ok()
                        .filter(|s| (500..600).contains(s))
                        .ok_or_else(|| {
                            fail(format!(
                                "{item:?}: the kind must be 429, throttle, drop or a 5xx status"
                            ))
                        })?;
                    if status.is_some_and(|old| old != s) {
                        return Err(fail("one server error status per spec".to_owned()));
                    }
                    status = Some(s);
                    chaos.error_ratio += ratio;
                }
            }
        }
        chaos.error_status = status.unwrap_or(503);
        chaos.check().map_err(fail)?;
        Ok(chaos)
    }

    /// Checks the ratios: each in 0..=1, their sum at most 1, the error a
    /// 5xx status.
    fn check(&self) -> Result<(), String> {
        let ratios = [self.throttle_ratio, self.error_ratio, self.drop_ratio];
        if ratios.iter().any(|r| !(0.0..=1.0).contains(r)) {
            return Err(format!("each ratio must be in 0..=1: {ratios:?}"));
        }
        if ratios.iter().sum::<f64>() > 1.0 + 1e-9 {
            return Err(format!("the ratios add up to more than 1: {ratios:?}"));
        }
        if !(500..600).contains(&self.error_status) {
            return Err(format!("error status {} is not a 5xx", self.error_status));
        }
        Ok(())
    }

    /// The fault for one request, from a draw `u` in 0..1.
    fn pick(&self, u: f64) -> Option<Fault> {
        let mut edge = self.throttle_ratio;
        if u < edge {
            return Some(Fault::Throttle);
        }
        edge += self.error_ratio;
        if u < edge {
            return Some(Fault::Status(self.error_status));
        }
        edge += self.drop_ratio / 2.0;
        if u < edge {
            return Some(Fault::DropBefore);
        }
        edge += self.drop_ratio / 2.0;
        (u < edge).then_some(Fault::DropAfter)
    }
}

/// What a simulator served, injected and created since it started (or
/// since [`Faults::reset_stats`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultStats {
    /// Requests that reached fault injection (authenticated and routed to
    /// an operation).
    pub requests: u64,
    /// Those requests, per operation name.
    pub by_operation: BTreeMap<String, u64>,
    /// Faults applied (queued or drawn by [`Chaos`]), per [`Fault::kind`].
    pub injected: BTreeMap<String, u64>,
    /// Resources created, per kind (`machine`, `image`, `volume`, ...),
    /// then per the name or token they were made under: how many times.
    pub created: BTreeMap<String, BTreeMap<String, u64>>,
}

impl FaultStats {
    /// Faults applied in all.
    pub fn faults(&self) -> u64 {
        self.injected.values().sum()
    }

    /// Resources created of `kind`.
    pub fn created_of(&self, kind: &str) -> u64 {
        self.created.get(kind).map_or(0, |m| m.values().sum())
    }

    /// `(kind, name, times)` of every name made more than once: what a
    /// lost answer followed by a blind re-send makes.
    pub fn made_twice(&self) -> Vec<(String, String, u64)> {
        self.created
            .iter()
            .flat_map(|(kind, names)| {
                names
                    .iter()
                    .filter(|(_, n)| **n > 1)
                    .map(move |(name, n)| (kind.clone(), name.clone(), *n))
            })
            .collect()
    }
}

/// Queues of faults per operation, for one simulator's operation names,
/// an optional [`Chaos`] policy and the [`FaultStats`].
#[derive(Debug)]
pub struct Faults {
    cloud: &'static str,
    operations: &'static [&'static str],
    queues: Mutex<HashMap<String, VecDeque<Fault>>>,
    chaos: Mutex<Option<(Chaos, StdRng)>>,
    stats: Mutex<FaultStats>,
}

impl Faults {
    /// Fault queues for simulator `cloud`, whose operations are `operations`.
    pub fn new(cloud: &'static str, operations: &'static [&'static str]) -> Self {
        Self {
            cloud,
            operations,
            queues: Mutex::default(),
            chaos: Mutex::default(),
            stats: Mutex::default(),
        }
    }

    /// Applies `chaos` to every later request without a queued fault
    /// (`None`: no more random faults). Fails when it names an operation
    /// the simulator does not serve, or its ratios make no sense.
    pub fn set_chaos(&self, chaos: Option<Chaos>) -> Result<(), ChaosError> {
        if let Some(c) = &chaos {
            c.check().map_err(ChaosError::Ratios)?;
            for op in &c.operations {
                self.check(op)?;
            }
        }
        *self.chaos.lock().expect("chaos lock") = chaos.map(|c| {
            let rng = StdRng::seed_from_u64(c.seed);
            (c, rng)
        });
        Ok(())
    }

    /// The chaos policy in force, if any.
    pub fn chaos(&self) -> Option<Chaos> {
        self.chaos
            .lock()
            .expect("chaos lock")
            .as_ref()
            .map(|(c, _)| c.clone())
    }

    /// What was served, injected and created so far.
    pub fn stats(&self) -> FaultStats {
        self.stats.lock().expect("stats lock").clone()
    }

    /// Starts the counts of [`Faults::stats`] again from zero.
    pub fn reset_stats(&self) {
        *self.stats.lock().expect("stats lock") = FaultStats::default();
    }

    /// Records that a request created a `kind` resource under `name` (its
    /// unique name, or the idempotency token it was sent with): called by
    /// the simulator once the resource exists.
    pub fn record_created(&self, kind: &str, name: &str) {
        let mut stats = self.stats.lock().expect("stats lock");
        *stats
            .created
            .entry(kind.to_owned())
            .or_default()
            .entry(name.to_owned())
            .or_default() += 1;
    }

    /// The operation names faults can be queued for.
    pub fn operations(&self) -> &'static [&'static str] {
        self.operations
    }

    /// Checks that `operation` is one of the simulator's operation names.
    pub fn check(&self, operation: &str) -> Result<(), UnknownOperation> {
        if self.operations.contains(&operation) {
            return Ok(());
        }
        Err(UnknownOperation {
            name: operation.to_owned(),
            cloud: self.cloud,
            close: close_names(operation, self.operations),
            known: self.operations,
        })
    }

    /// Queues `fault` for the next `times` requests of `operation`.
    ///
    /// # Panics
    /// If the simulator has no operation named `operation` (a test-setup
    /// mistake; the message lists the close names). Use
    /// [`Faults::try_inject`] to get an error instead.
    pub fn inject(&self, operation: &str, fault: Fault, times: usize) {
        if let Err(e) = self.try_inject(operation, fault, times) {
            panic!("Faults::inject: {e}");
        }
    }

    /// Queues `fault` for the next `times` requests of `operation`; fails
    /// when the simulator has no operation of that name.
    pub fn try_inject(
        &self,
        operation: &str,
        fault: Fault,
        times: usize,
    ) -> Result<(), UnknownOperation> {
        self.check(operation)?;
        let mut q = self.queues.lock().expect("faults lock");
        let queue = q.entry(operation.to_owned()).or_default();
        queue.extend(std::iter::repeat_n(fault, times));
        Ok(())
    }

    /// Takes the next fault queued for `operation`, else draws one from
    /// the [`Chaos`] policy, and counts the request (called by the
    /// simulator for each request, with one of its own operation names).
    pub fn take(&self, operation: &str) -> Option<Fault> {
        debug_assert!(
            self.operations.contains(&operation),
            "the {} simulator served {operation:?}, missing from its operation list",
            self.cloud
        );
        let queued = {
            let mut q = self.queues.lock().expect("faults lock");
            q.get_mut(operation).and_then(VecDeque::pop_front)
        };
        let fault = queued.or_else(|| {
            let mut chaos = self.chaos.lock().expect("chaos lock");
            let (c, rng) = chaos.as_mut()?;
            let applies = c.operations.is_empty() || c.operations.iter().any(|o| o == operation);
            applies.then(|| c.pick(rng.random())).flatten()
        });
        let mut stats = self.stats.lock().expect("stats lock");
        stats.requests += 1;
        *stats.by_operation.entry(operation.to_owned()).or_default() += 1;
        if let Some(f) = &fault {
            *stats.injected.entry(f.kind()).or_default() += 1;
        }
        fault
    }

    /// Drops every queued fault.
    pub fn clear(&self) {
        self.queues.lock().expect("faults lock").clear();
    }

    /// Number of faults still queued for `operation`.
    ///
    /// # Panics
    /// If the simulator has no operation named `operation` (a count of 0
    /// for a typo would let an assertion pass for the wrong reason).
    pub fn pending(&self, operation: &str) -> usize {
        if let Err(e) = self.check(operation) {
            panic!("Faults::pending: {e}");
        }
        let q = self.queues.lock().expect("faults lock");
        q.get(operation).map_or(0, VecDeque::len)
    }
}

/// A chaos policy refused by [`Faults::set_chaos`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ChaosError {
    /// It names an operation the simulator does not serve.
    #[error(transparent)]
    Operation(#[from] UnknownOperation),
    /// Its ratios are out of range.
    #[error("chaos: {0}")]
    Ratios(String),
}

/// Known names within a small edit distance of `name` (case ignored), or
/// containing it / contained in it, closest first, at most five.
fn close_names(name: &str, known: &[&'static str]) -> Vec<&'static str> {
    let lower = name.to_lowercase();
    let limit = (lower.chars().count() / 5).max(1);
    let mut scored: Vec<(usize, &'static str)> = known
        .iter()
        .filter_map(|k| {
            let kl = k.to_lowercase();
            let d = edit_distance(&lower, &kl);
            let related = lower.len() >= 4 && (kl.contains(&lower) || lower.contains(&kl));
            (d <= limit || related).then_some((d, *k))
        })
        .collect();
    scored.sort();
    scored.into_iter().take(5).map(|(_, k)| k).collect()
}

/// Levenshtein distance over chars.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let next = (row[j + 1] + 1)
                .min(row[j] + 1)
                .min(diag + usize::from(ca != *cb));
            diag = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPS: &[&str] = &["CreateMachine", "GetMachine", "StopMachine", "ListImages"];

    #[test]
    fn faults_are_taken_in_order_per_operation() {
        let f = Faults::new("triton", OPS);
        f.inject("CreateMachine", Fault::Status(503), 2);
        f.inject("CreateMachine", Fault::DropAfter, 1);
        assert_eq!(f.take("GetMachine"), None);
        assert_eq!(f.take("CreateMachine"), Some(Fault::Status(503)));
        assert_eq!(f.pending("CreateMachine"), 2);
        assert_eq!(f.take("CreateMachine"), Some(Fault::Status(503)));
        assert_eq!(f.take("CreateMachine"), Some(Fault::DropAfter));
        assert_eq!(f.take("CreateMachine"), None);
    }

    #[test]
    fn an_unknown_operation_is_refused_with_close_names() {
        let f = Faults::new("triton", OPS);
        let e = f
            .try_inject("CreateMachin", Fault::Status(503), 1)
            .expect_err("a typo is refused");
        assert_eq!(e.close, ["CreateMachine"]);
        assert_eq!(e.cloud, "triton");
        let msg = e.to_string();
        assert!(msg.contains("\"CreateMachin\""), "{msg}");
        assert!(msg.contains("close names: CreateMachine"), "{msg}");
        assert_eq!(
            f.try_inject("createmachine", Fault::Throttle, 1)
                .unwrap_err()
                .close,
            ["CreateMachine"]
        );
        let far = f
            .try_inject("instance_create", Fault::Throttle, 1)
            .unwrap_err();
        assert!(far.close.is_empty());
        assert!(
            far.to_string()
                .contains("its operations: CreateMachine, GetMachine"),
            "{far}"
        );
        // Nothing was queued by the refused calls.
        assert_eq!(f.pending("CreateMachine"), 0);
    }

    #[test]
    #[should_panic(expected = "\"GetMachin\" is not an operation of the triton simulator")]
    fn inject_panics_on_an_unknown_operation() {
        Faults::new("triton", OPS).inject("GetMachin", Fault::Throttle, 1);
    }

    #[test]
    #[should_panic(expected = "close names: StopMachine")]
    fn pending_panics_on_an_unknown_operation() {
        let _ = Faults::new("triton", OPS).pending("StopMachines");
    }

    #[test]
    fn chaos_specs_parse_or_name_the_bad_item() {
        let c = Chaos::parse("429:0.1, 503:0.1,drop:0.05", 7).unwrap();
        assert_eq!(
            (
                c.throttle_ratio,
                c.error_ratio,
                c.error_status,
                c.drop_ratio,
                c.seed
            ),
            (0.1, 0.1, 503, 0.05, 7)
        );
        assert_eq!(Chaos::parse("500:0.2", 0).unwrap().error_status, 500);
        for (bad, says) in [
            ("429", "is not KIND:RATIO"),
            ("429:2", "ratio must be a number in 0..=1"),
            ("404:0.1", "kind must be 429, throttle, drop or a 5xx"),
            ("500:0.1,503:0.1", "one server error status"),
            ("429:0.6,drop:0.6", "add up to more than 1"),
        ] {
            let e = Chaos::parse(bad, 0).unwrap_err().to_string();
            assert!(e.contains(says) && e.contains(bad), "{bad}: {e}");
        }
    }

    #[test]
    fn chaos_draws_faults_at_its_ratios_after_the_queued_ones() {
        let f = Faults::new("triton", OPS);
        let chaos = Chaos::parse("429:0.2,503:0.1,drop:0.1", 42).unwrap();
        f.set_chaos(Some(chaos.clone())).unwrap();
        f.inject("GetMachine", Fault::FailResource, 1);
        assert_eq!(f.take("GetMachine"), Some(Fault::FailResource));
        let n = 20_000;
        let drawn: Vec<Option<Fault>> = (0..n).map(|_| f.take("GetMachine")).collect();
        let stats = f.stats();
        assert_eq!(stats.requests, n + 1);
        assert_eq!(stats.by_operation["GetMachine"], n + 1);
        assert_eq!(stats.injected["fail-resource"], 1);
        let share = |kind: &str| stats.injected.get(kind).copied().unwrap_or(0) as f64 / n as f64;
        for (kind, want) in [
            ("429", 0.2),
            ("503", 0.1),
            ("drop-before", 0.05),
            ("drop-after", 0.05),
        ] {
            assert!(
                (share(kind) - want).abs() < 0.015,
                "{kind}: {}",
                share(kind)
            );
        }
        // The same seed draws the same sequence.
        let g = Faults::new("triton", OPS);
        g.set_chaos(Some(chaos)).unwrap();
        let again: Vec<Option<Fault>> = (0..n).map(|_| g.take("GetMachine")).collect();
        assert_eq!(drawn, again);
        // Off again: no more faults.
        f.set_chaos(None).unwrap();
        assert!((0..1000).all(|_| f.take("GetMachine").is_none()));
    }

    #[test]
    fn chaos_limited_to_operations_spares_the_others_and_checks_names() {
        let f = Faults::new("triton", OPS);
        let only = Chaos {
            drop_ratio: 1.0,
            operations: vec!["CreateMachine".to_owned()],
            ..Chaos::default()
        };
        f.set_chaos(Some(only.clone())).unwrap();
        assert!(f.take("CreateMachine").is_some());
        assert_eq!(f.take("GetMachine"), None);
        let typo = Chaos {
            operations: vec!["CreateMachin".to_owned()],
            ..only
        };
        let e = f.set_chaos(Some(typo)).unwrap_err();
        assert!(e.to_string().contains("close names: CreateMachine"), "{e}");
    }

    #[test]
    fn creations_are_counted_per_kind_and_name() {
        let f = Faults::new("triton", OPS);
        f.record_created("machine", "b1-m");
        f.record_created("machine", "b2-m");
        f.record_created("image", "b1@1");
        f.record_created("machine", "b1-m");
        let s = f.stats();
        assert_eq!(s.created_of("machine"), 3);
        assert_eq!(s.created_of("volume"), 0);
        assert_eq!(
            s.made_twice(),
            [("machine".to_owned(), "b1-m".to_owned(), 2)]
        );
        f.reset_stats();
        assert_eq!(f.stats(), FaultStats::default());
    }

    #[test]
    fn edit_distance_counts_single_edits() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }
}
