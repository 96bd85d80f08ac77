//! The step engine: typed steps, their undo journal, the runner and its
//! cleanup report.

mod context;
mod create;
mod journal;
mod report;
mod runner;
mod step;
mod sweep;
mod wait;
mod wait_history;

pub use context::StepCx;
pub use create::{Create, Created};
pub use journal::{Cleanup, UndoCx, UndoHandle, UndoWhen};
pub use report::{CleanupEntry, CleanupOutcome, CleanupReport, Resource};
pub use runner::{BuildError, Built, OnError, Runner};
pub use step::{FnStep, Step, from_fn};
pub use sweep::{Removal, SweepFilter, SweepReport, Sweeper, unknown_kind};
pub(crate) use wait::wait;
pub use wait_history::WaitHistory;
