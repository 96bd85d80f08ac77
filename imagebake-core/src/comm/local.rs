//! Local commands (the chroot communicator's and the build host's) run with
//! the shared runner of `imagebake-host`: their own process group, killed
//! with everything it started when the build is cancelled or the step is
//! dropped.

use imagebake_host::process::{self, Exit, Stream};
use tokio_util::sync::CancellationToken;

use super::{ExitOutput, OnLine, OutputStream, TAIL_LINES, Tail};
use crate::Error;

/// Runs `cmd` until it exits, giving each output line to `on_line`; `what`
/// names it in errors (`command `x` in chroot /r`) and `shown` is the command
/// reported when a signal ends it. A non-zero status is returned, not an
/// error.
pub(crate) async fn run(
    cmd: process::Command,
    what: &str,
    shown: &str,
    on_line: &mut OnLine<'_>,
    cancel: &CancellationToken,
) -> Result<ExitOutput, Error> {
    let (mut out_tail, mut err_tail) = (Tail::new(TAIL_LINES), Tail::new(TAIL_LINES));
    let mut sink = |s: Stream, line: &str| {
        let s = match s {
            Stream::Stdout => {
                out_tail.push(line);
                OutputStream::Stdout
            }
            Stream::Stderr => {
                err_tail.push(line);
                OutputStream::Stderr
            }
        };
        on_line(s, line);
    };
    let exit = cmd
        .cancel_on(cancel)
        .stream(&mut sink)
        .await
        .map_err(|e| match e {
            process::Error::Cancelled { .. } => Error::cancelled(what),
            process::Error::Start { source, .. } => Error::io(format!("starting {what}"), source),
            process::Error::Io { source, .. } => Error::io(format!("running {what}"), source),
            other => Error::io(what, std::io::Error::other(other)),
        })?;
    match exit {
        Exit::Code(status) => Ok(ExitOutput {
            status,
            stdout_tail: out_tail.into_vec(),
            stderr_tail: err_tail.into_vec(),
        }),
        Exit::Signal(signal) => Err(Error::Signal {
            command: shown.to_owned(),
            signal,
        }),
    }
}
