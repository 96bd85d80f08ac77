//! Fault injection, shared by every simulator.
//!
//! A test queues faults for an operation name (the cloud's own name for it:
//! `CreateMachine`, `instance_create`, `LinkVolume`, ...). Each request of that
//! operation takes the next queued fault, if any, and the simulator applies it.

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

/// Queues of faults per operation.
#[derive(Debug, Default)]
pub struct Faults {
    queues: Mutex<HashMap<String, VecDeque<Fault>>>,
}

impl Faults {
    /// Queues `fault` for the next `times` requests of `operation`.
    pub fn inject(&self, operation: &str, fault: Fault, times: usize) {
        let mut q = self.queues.lock().expect("faults lock");
        let queue = q.entry(operation.to_owned()).or_default();
        queue.extend(std::iter::repeat_n(fault, times));
    }

    /// Takes the next fault queued for `operation`.
    pub fn take(&self, operation: &str) -> Option<Fault> {
        let mut q = self.queues.lock().expect("faults lock");
        q.get_mut(operation).and_then(VecDeque::pop_front)
    }

    /// Drops every queued fault.
    pub fn clear(&self) {
        self.queues.lock().expect("faults lock").clear();
    }

    /// Number of faults still queued for `operation`.
    pub fn pending(&self, operation: &str) -> usize {
        let q = self.queues.lock().expect("faults lock");
        q.get(operation).map_or(0, VecDeque::len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_are_taken_in_order_per_operation() {
        let f = Faults::default();
        f.inject("CreateMachine", Fault::Status(503), 2);
        f.inject("CreateMachine", Fault::DropAfter, 1);
        assert_eq!(f.take("GetMachine"), None);
        assert_eq!(f.take("CreateMachine"), Some(Fault::Status(503)));
        assert_eq!(f.pending("CreateMachine"), 2);
        assert_eq!(f.take("CreateMachine"), Some(Fault::Status(503)));
        assert_eq!(f.take("CreateMachine"), Some(Fault::DropAfter));
        assert_eq!(f.take("CreateMachine"), None);
    }
}
