//! Provisioners: steps that change the machine through its
//! [`Communicator`](crate::Communicator). Each takes and returns the
//! communicator handle ([`Comm`]), so a list of them built at run time is a
//! `Vec<Box<dyn Step<Comm, Out = Comm>>>` run with
//! [`StepCx::steps`](crate::StepCx::steps). The [`Flush`] step ends the list
//! and yields the [`Flushed`] proof an image step asks for.

mod file;
mod flush;
mod shell;
mod shell_local;

pub use file::{Download, Upload};
pub use flush::{Flush, Flushed};
pub use shell::Shell;
pub(crate) use shell_local::LocalRun;
pub use shell_local::{LocalScript, ShellLocal};

pub use crate::comm::Comm;
use crate::{OutputStream, StepCx};

/// A line sink that reports each line as an output event of the step.
pub(crate) fn line_events(cx: &StepCx) -> impl FnMut(OutputStream, &str) + Send + '_ {
    move |stream, line| cx.output_line(stream, line)
}
