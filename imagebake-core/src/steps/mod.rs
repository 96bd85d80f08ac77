//! The built-in cloud steps builders are composed of, one file per step.
//! Each is an ordinary [`Step`](crate::Step): a Rust user can run them in
//! another order, leave some out or add their own between them.

pub mod chroot;
pub mod common;
#[cfg(feature = "osc")]
pub mod osc;
#[cfg(feature = "oxide")]
pub mod oxide;
#[cfg(feature = "triton")]
pub mod triton;
