//! What imagebake does on the local host, in one place for the core and the
//! simulators:
//!
//! - [`process`]: running a local command to completion, with a timeout and
//!   cancellation, in its own process group that is killed (grandchildren
//!   too) on timeout, on cancellation and when the run is dropped; the exit
//!   code or the signal is reported, output captured or streamed by lines.
//! - [`root_path`]: resolving a path as seen from inside a root directory (a
//!   chroot or a machine's root), following symbolic links relative to the
//!   root and never escaping it.
//! - [`state_dir`]: where state that outlives a process is kept (build
//!   journals, wait history).

pub mod process;
pub mod root_path;
pub mod state_dir;
