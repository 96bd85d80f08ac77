//! Local simulators of the Triton, Oxide and Outscale APIs.
//!
//! Each simulator serves the cloud's real paths, status codes, error bodies and
//! state names on 127.0.0.1, checks authentication, moves resources through
//! their state machines with configurable delays, accepts injected faults per
//! operation, and keeps an inventory so a test can prove nothing leaked.
//!
//! Each cloud is a cargo feature (`triton`, `oxide`, `osc`; all on by default).
//! The `imagebake-sim` binary serves one of them: `imagebake-sim --cloud triton`.

mod clock;
pub mod drop;
pub mod faults;
#[cfg(any(feature = "triton", feature = "oxide", feature = "osc"))]
// The Outscale simulator alone uses only the seed tree (no machines).
#[cfg_attr(not(any(feature = "triton", feature = "oxide")), allow(dead_code))]
pub mod machine;
pub mod server;
mod user;

#[cfg(feature = "triton")]
pub mod imgapi;
#[cfg(feature = "triton")]
pub mod manta;
#[cfg(feature = "osc")]
pub mod osc;
#[cfg(feature = "oxide")]
pub mod oxide;
#[cfg(feature = "triton")]
pub mod triton;

pub use faults::{Chaos, ChaosError, ChaosSpecError, Fault, FaultStats, Faults};
pub use server::SimServer;
pub use user::{euid, is_root};
