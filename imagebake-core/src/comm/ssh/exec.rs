//! Running one command on a session channel, streaming its output.

use std::time::Duration;

use std::borrow::Cow;

use nix::sys::signal::Signal;
use russh::client;
use russh::{Channel, ChannelMsg, Sig};
use tokio_util::sync::CancellationToken;

use super::connect::Session;
use crate::Error;
use crate::comm::{ExitOutput, OnLine, OutputCollector, OutputStream, RemoteCommand};

/// How long each step of killing a cancelled command may take.
const KILL_GRACE: Duration = Duration::from_secs(2);

/// Every command first prints this and its shell's pid as a line on
/// stderr (taken off before the output is passed on). sshd starts the
/// shell with `setsid`, so the pid is also the command's process group:
/// what cancellation kills.
const PID_MARKER: &str = "__imagebake_pid__";

/// How a command ended, before it becomes a result.
enum End {
    Status(u32),
    Signal(Sig),
}

/// Runs `cmd` with the login shell (`sh -c` on the server), stdin closed,
/// output split into lines for `on_line`. Keeps reading after the exit
/// status until the channel closes or `drain` passes.
pub(crate) async fn run(
    session: &Session,
    target: &str,
    cmd: &RemoteCommand,
    on_line: &mut OnLine<'_>,
    cancel: &CancellationToken,
    drain: Duration,
) -> Result<ExitOutput, Error> {
    let what = format!("command `{}` on {target}", cmd.command);
    if cancel.is_cancelled() {
        return Err(Error::cancelled(what));
    }
    let fail = |e: russh::Error| lost(session, &what, e);
    let mut channel = session.handle.channel_open_session().await.map_err(fail)?;
    let line = format!(
        "printf '{PID_MARKER} %s\\n' \"$$\" >&2; {}",
        cmd.shell_line()
    );
    channel.exec(true, line).await.map_err(fail)?;
    channel.eof().await.map_err(fail)?;

    let mut collector = OutputCollector::new();
    let mut pid = PidLine::default();
    let mut end: Option<End> = None;
    let draining = tokio::time::sleep(Duration::MAX);
    tokio::pin!(draining);
    loop {
        tokio::select! {
            () = cancel.cancelled() => {
                kill(session, &mut channel, pid.pid).await;
                return Err(Error::cancelled(what));
            }
            () = &mut draining, if end.is_some() => break,
            msg = channel.wait() => match msg {
                Some(ChannelMsg::Data { data }) => {
                    collector.push(OutputStream::Stdout, &data, on_line);
                }
                Some(ChannelMsg::ExtendedData { data, ext: 1 }) => {
                    let rest = pid.feed(&data);
                    collector.push(OutputStream::Stderr, &rest, on_line);
                }
                Some(ChannelMsg::ExitStatus { exit_status }) => {
                    end = Some(End::Status(exit_status));
                    draining.as_mut().reset(tokio::time::Instant::now() + drain);
                }
                Some(ChannelMsg::ExitSignal { signal_name, .. }) => {
                    end = Some(End::Signal(signal_name));
                    draining.as_mut().reset(tokio::time::Instant::now() + drain);
                }
                Some(ChannelMsg::Failure) => {
                    return Err(Error::communicator(
                        what,
                        std::io::Error::other("the server refused to run the command"),
                    ));
                }
                Some(ChannelMsg::Close) | None => break,
                Some(_) => {}
            },
        }
    }
    collector.push(OutputStream::Stderr, &pid.finish(), on_line);
    match end {
        Some(End::Status(status)) => {
            // SSH statuses are u32; shells use 0..=255.
            let status = i32::try_from(status).unwrap_or(i32::MAX);
            Ok(collector.finish(status, on_line))
        }
        Some(End::Signal(sig)) => {
            // Flush what was printed before the signal to the callback.
            let _ = collector.finish(-1, on_line);
            Err(Error::Signal {
                command: cmd.command.clone(),
                signal: signal_number(&sig),
            })
        }
        None => Err(Error::Disconnected { what, source: None }),
    }
}

/// Kills a cancelled command, best effort: the `signal` request (honoured
/// by OpenSSH for sessions under privilege separation, which root logins
/// are not: "session signalling requires privilege separation"), then
/// `kill` of its process group from a second channel, which works for
/// both; then waits a little for the channel to close and closes it.
async fn kill(session: &Session, channel: &mut Channel<client::Msg>, pid: Option<u32>) {
    let _ = channel.signal(Sig::KILL).await;
    if let Some(pid) = pid {
        let killer = async {
            let mut ch = session.handle.channel_open_session().await?;
            ch.exec(
                false,
                format!("kill -KILL -- -{pid} 2>/dev/null || kill -KILL {pid}"),
            )
            .await?;
            while let Some(msg) = ch.wait().await {
                if matches!(msg, ChannelMsg::Close) {
                    break;
                }
            }
            Ok::<_, russh::Error>(())
        };
        let _ = tokio::time::timeout(KILL_GRACE, killer).await;
    }
    let closed = async {
        while let Some(msg) = channel.wait().await {
            if matches!(msg, ChannelMsg::Close) {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(KILL_GRACE, closed).await;
    let _ = channel.close().await;
}

/// Takes the [`PID_MARKER`] line off the front of stderr.
#[derive(Debug, Default)]
struct PidLine {
    head: Vec<u8>,
    done: bool,
    pid: Option<u32>,
}

impl PidLine {
    /// The longest first line still taken for a marker.
    const MAX: usize = 64;

    /// The part of `chunk` that is the command's own stderr.
    fn feed<'a>(&mut self, chunk: &'a [u8]) -> Cow<'a, [u8]> {
        if self.done {
            return Cow::Borrowed(chunk);
        }
        let Some(i) = chunk.iter().position(|&b| b == b'\n') else {
            self.head.extend_from_slice(chunk);
            if self.head.len() > Self::MAX {
                return Cow::Owned(self.finish());
            }
            return Cow::Borrowed(&[]);
        };
        self.head.extend_from_slice(&chunk[..i]);
        self.done = true;
        let head = std::mem::take(&mut self.head);
        let pid = std::str::from_utf8(&head)
            .ok()
            .and_then(|l| l.strip_prefix(PID_MARKER))
            .and_then(|n| n.trim().parse().ok());
        match pid {
            Some(pid) => {
                self.pid = Some(pid);
                Cow::Borrowed(&chunk[i + 1..])
            }
            // Not the marker (a shell that printed something first): pass
            // everything on.
            None => {
                let mut all = head;
                all.extend_from_slice(&chunk[i..]);
                Cow::Owned(all)
            }
        }
    }

    /// What is held back when stderr ends (never a marker).
    fn finish(&mut self) -> Vec<u8> {
        self.done = true;
        std::mem::take(&mut self.head)
    }
}

/// A transport error: the session is gone ([`Error::Disconnected`]) or
/// something else went wrong ([`Error::Communicator`]).
pub(crate) fn lost(session: &Session, what: &str, e: russh::Error) -> Error {
    let gone = session.handle.is_closed()
        || matches!(
            e,
            russh::Error::SendError
                | russh::Error::Disconnect
                | russh::Error::HUP
                | russh::Error::IO(_)
                | russh::Error::KeepaliveTimeout
                | russh::Error::InactivityTimeout
        );
    if gone {
        Error::Disconnected {
            what: what.to_owned(),
            source: Some(Box::new(e)),
        }
    } else {
        Error::communicator(what, e)
    }
}

/// The number of a signal named in an SSH `exit-signal` (`KILL` → 9); 0
/// when unknown.
fn signal_number(sig: &Sig) -> i32 {
    let name = match sig {
        Sig::ABRT => "ABRT",
        Sig::ALRM => "ALRM",
        Sig::FPE => "FPE",
        Sig::HUP => "HUP",
        Sig::ILL => "ILL",
        Sig::INT => "INT",
        Sig::KILL => "KILL",
        Sig::PIPE => "PIPE",
        Sig::QUIT => "QUIT",
        Sig::SEGV => "SEGV",
        Sig::TERM => "TERM",
        Sig::USR1 => "USR1",
        Sig::Custom(name) => name.as_str(),
    };
    format!("SIG{name}")
        .parse::<Signal>()
        .map_or(0, |s| s as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pid_marker_is_taken_off_stderr() {
        let mut p = PidLine::default();
        assert!(p.feed(b"__imagebake_").is_empty());
        assert_eq!(&*p.feed(b"pid__ 4242\nerr1\n"), b"err1\n");
        assert_eq!(p.pid, Some(4242));
        assert_eq!(&*p.feed(b"more"), b"more");

        let mut p = PidLine::default();
        assert_eq!(&*p.feed(b"motd\nerr\n"), b"motd\nerr\n");
        assert_eq!(p.pid, None);
        let mut p = PidLine::default();
        assert!(p.feed(b"partial").is_empty());
        assert_eq!(p.finish(), b"partial");
    }

    #[test]
    fn signal_names_map_to_numbers() {
        assert_eq!(signal_number(&Sig::KILL), 9);
        assert_eq!(signal_number(&Sig::TERM), 15);
        assert_eq!(signal_number(&Sig::Custom("USR2".into())), 12);
        assert_eq!(signal_number(&Sig::Custom("NOPE".into())), 0);
    }
}
