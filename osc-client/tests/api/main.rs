//! osc-client against the Outscale simulator over real HTTP on 127.0.0.1.

mod blockdev;
mod common;
mod conformance;
mod errors;
mod images;
mod pagination;
mod retry;
mod signing;
mod snapshots;
mod tags;
mod transport;
mod vms;
mod volumes;
