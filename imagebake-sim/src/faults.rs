//! Fault injection, shared by every simulator.
//!
//! A test queues faults for an operation name (the cloud's own name for it:
//! `CreateMachine`, `instance_create`, `LinkVolume`, ...). Each request of that
//! operation takes the next queued fault, if any, and the simulator applies it.
//! Each simulator knows the names of the operations it serves: a name outside
//! that list (a typo, or an operation the simulator does not serve) is refused
//! with the close names, instead of queueing a fault that would never fire.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

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

/// Queues of faults per operation, for one simulator's operation names.
#[derive(Debug)]
pub struct Faults {
    cloud: &'static str,
    operations: &'static [&'static str],
    queues: Mutex<HashMap<String, VecDeque<Fault>>>,
}

impl Faults {
    /// Fault queues for simulator `cloud`, whose operations are `operations`.
    pub fn new(cloud: &'static str, operations: &'static [&'static str]) -> Self {
        Self {
            cloud,
            operations,
            queues: Mutex::default(),
        }
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

    /// Takes the next fault queued for `operation` (called by the simulator,
    /// with one of its own operation names).
    pub fn take(&self, operation: &str) -> Option<Fault> {
        debug_assert!(
            self.operations.contains(&operation),
            "the {} simulator served {operation:?}, missing from its operation list",
            self.cloud
        );
        let mut q = self.queues.lock().expect("faults lock");
        q.get_mut(operation).and_then(VecDeque::pop_front)
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
    fn edit_distance_counts_single_edits() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }
}
