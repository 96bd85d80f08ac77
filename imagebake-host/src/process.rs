//! Running a local command to completion.
//!
//! A [`Command`] runs in its own process group. On timeout or cancellation
//! the group gets `SIGTERM`, then `SIGKILL` after a grace period; when the
//! future running it is dropped the group gets `SIGKILL` at once. Either way
//! the command's children and grandchildren go with it (unless one of them
//! made its own session or group). Once the command has exited by itself,
//! what it left running in the background is its own business.
//!
//! The environment is explicit: cleared unless [`Command::inherit_env`],
//! with `PATH` set to [`DEFAULT_PATH`] unless given, and single variables
//! passed on with [`Command::keep_env`].
//!
//! ```no_run
//! # async fn f() -> Result<(), imagebake_host::process::Error> {
//! use std::time::Duration;
//! use imagebake_host::process::Command;
//!
//! let out = Command::new("losetup")
//!     .args(["--find", "--show", "/tmp/disk.img"])
//!     .timeout(Duration::from_secs(30))
//!     .checked()
//!     .await?;
//! println!("attached as {}", out.stdout_text());
//! # Ok(()) }
//! ```

use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io;
use std::os::unix::process::ExitStatusExt as _;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWriteExt as _};
use tokio_util::sync::CancellationToken;

/// `PATH` for commands that are not given one (the host's is not relied on).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// How many lines of standard error an [`Error`] keeps.
pub const STDERR_TAIL_LINES: usize = 8;

/// How long output is still read after the command exited, by default (a
/// background process it started may hold the pipes open).
pub const DEFAULT_DRAIN_AFTER_EXIT: Duration = Duration::from_secs(2);

/// How long the group has between `SIGTERM` and `SIGKILL`, by default.
pub const DEFAULT_KILL_GRACE: Duration = Duration::from_secs(1);

/// One of a command's output streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// Called with each line of output (without its line ending).
pub type OnLine<'a> = dyn FnMut(Stream, &str) + Send + 'a;

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// It exited with this status.
    Code(i32),
    /// A signal (this number) ended it.
    Signal(i32),
}

impl Exit {
    /// Whether it exited with status 0.
    pub fn success(self) -> bool {
        self == Self::Code(0)
    }

    /// The exit status, if it exited.
    pub fn code(self) -> Option<i32> {
        match self {
            Self::Code(c) => Some(c),
            Self::Signal(_) => None,
        }
    }

    fn of(status: ExitStatus) -> Self {
        match (status.code(), status.signal()) {
            (Some(c), _) => Self::Code(c),
            (None, Some(s)) => Self::Signal(s),
            (None, None) => Self::Code(-1),
        }
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Code(c) => write!(f, "exit status {c}"),
            Self::Signal(s) => match Signal::try_from(*s) {
                Ok(sig) => write!(f, "killed by signal {s} ({})", sig.as_str()),
                Err(_) => write!(f, "killed by signal {s}"),
            },
        }
    }
}

/// A finished command's status and captured output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// How it ended.
    pub exit: Exit,
    /// Everything it wrote to standard output (empty when streamed).
    pub stdout: Vec<u8>,
    /// Everything it wrote to standard error (empty when streamed).
    pub stderr: Vec<u8>,
}

impl Output {
    /// Standard output as text (invalid UTF-8 replaced), trimmed.
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).trim().to_owned()
    }
}

/// Why a command did not run to an exit, or (from [`Command::checked`])
/// did not succeed. Each names the command line; none shows its environment
/// or standard input.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The program could not be started (not found, not executable, ...).
    #[error("starting `{command}`: {source}")]
    Start {
        /// The command line.
        command: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// Reading its output, writing its input or waiting for it failed.
    #[error("running `{command}`: {source}")]
    Io {
        /// The command line.
        command: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// It ran longer than its timeout; its process group was killed.
    #[error("`{command}` timed out after {after:?} and was killed{}", tail_suffix(.stderr_tail))]
    TimedOut {
        /// The command line.
        command: String,
        /// The timeout.
        after: Duration,
        /// The last lines of its standard error.
        stderr_tail: Vec<String>,
    },
    /// The cancellation token fired; its process group was killed.
    #[error("`{command}` was cancelled")]
    Cancelled {
        /// The command line.
        command: String,
    },
    /// It exited with a non-zero status or was killed by a signal.
    #[error("`{command}` failed ({exit}){}", tail_suffix(.stderr_tail))]
    Failed {
        /// The command line.
        command: String,
        /// How it ended.
        exit: Exit,
        /// The last lines of its standard error.
        stderr_tail: Vec<String>,
    },
}

fn tail_suffix(tail: &[String]) -> String {
    if tail.is_empty() {
        String::new()
    } else {
        format!(": {}", tail.join(" / "))
    }
}

impl Error {
    /// Whether the command was cancelled.
    pub fn is_cancelled(&self) -> bool {
        matches!(self, Self::Cancelled { .. })
    }
}

/// Splits a byte stream into lines. Handles lines split across chunks,
/// `\r\n` endings and invalid UTF-8 (replaced).
#[derive(Debug, Default)]
pub struct LineSplitter {
    partial: Vec<u8>,
}

impl LineSplitter {
    /// Feeds a chunk; calls `emit` for each complete line (without its ending).
    pub fn push(&mut self, chunk: &[u8], mut emit: impl FnMut(&str)) {
        let mut rest = chunk;
        while let Some(i) = rest.iter().position(|&b| b == b'\n') {
            self.partial.extend_from_slice(&rest[..i]);
            emit_line(&self.partial, &mut emit);
            self.partial.clear();
            rest = &rest[i + 1..];
        }
        self.partial.extend_from_slice(rest);
    }

    /// Emits what is left after the stream ended (a last line without `\n`).
    pub fn finish(&mut self, mut emit: impl FnMut(&str)) {
        if !self.partial.is_empty() {
            emit_line(&self.partial, &mut emit);
            self.partial.clear();
        }
    }
}

fn emit_line(bytes: &[u8], emit: &mut impl FnMut(&str)) {
    let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
    emit(&String::from_utf8_lossy(bytes));
}

#[derive(Debug, Clone)]
enum EnvMode {
    Cleared,
    Inherited,
}

/// A local command to run to completion. See the module documentation.
#[derive(Debug, Clone)]
pub struct Command {
    program: OsString,
    args: Vec<OsString>,
    env_mode: EnvMode,
    env: Vec<(OsString, OsString)>,
    cwd: Option<PathBuf>,
    stdin: Option<Vec<u8>>,
    timeout: Option<Duration>,
    cancel: Option<CancellationToken>,
    kill_grace: Duration,
    drain_after_exit: Duration,
    shown: Option<String>,
}

impl Command {
    /// Runs `program` (looked up in the command's `PATH` when it has no `/`).
    pub fn new(program: impl AsRef<OsStr>) -> Self {
        Self {
            program: program.as_ref().to_owned(),
            args: Vec::new(),
            env_mode: EnvMode::Cleared,
            env: Vec::new(),
            cwd: None,
            stdin: None,
            timeout: None,
            cancel: None,
            kill_grace: DEFAULT_KILL_GRACE,
            drain_after_exit: DEFAULT_DRAIN_AFTER_EXIT,
            shown: None,
        }
    }

    /// Adds an argument.
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// Adds arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Sets an environment variable (its value never appears in errors).
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.env
            .push((key.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    /// Passes on this process's value of `key`, if it has one.
    pub fn keep_env(self, key: impl AsRef<OsStr>) -> Self {
        match std::env::var_os(key.as_ref()) {
            Some(v) => self.env(key, v),
            None => self,
        }
    }

    /// Passes on this process's whole environment (the default clears it).
    pub fn inherit_env(mut self) -> Self {
        self.env_mode = EnvMode::Inherited;
        self
    }

    /// Runs in `dir`.
    pub fn current_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cwd = Some(dir.into());
        self
    }

    /// Feeds `bytes` to standard input (which is otherwise `/dev/null`).
    pub fn stdin_bytes(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(bytes.into());
        self
    }

    /// Kills the command (its whole group) when it runs longer than `after`.
    pub fn timeout(mut self, after: Duration) -> Self {
        self.timeout = Some(after);
        self
    }

    /// Kills the command (its whole group) when `token` is cancelled.
    pub fn cancel_on(mut self, token: &CancellationToken) -> Self {
        self.cancel = Some(token.clone());
        self
    }

    /// The time between `SIGTERM` and `SIGKILL` on timeout or cancellation
    /// (default [`DEFAULT_KILL_GRACE`]).
    pub fn kill_grace(mut self, grace: Duration) -> Self {
        self.kill_grace = grace;
        self
    }

    /// How long output is still read after the command exited (default
    /// [`DEFAULT_DRAIN_AFTER_EXIT`]).
    pub fn drain_after_exit(mut self, drain: Duration) -> Self {
        self.drain_after_exit = drain;
        self
    }

    /// Shows the command as `shown` in errors instead of its arguments (for
    /// a wrapper line, or arguments that must not be shown).
    pub fn shown_as(mut self, shown: impl Into<String>) -> Self {
        self.shown = Some(shown.into());
        self
    }

    /// The command line as errors show it.
    pub fn display(&self) -> String {
        if let Some(s) = &self.shown {
            return s.clone();
        }
        std::iter::once(&self.program)
            .chain(&self.args)
            .map(|s| s.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Runs the command, capturing its output; any exit (also non-zero, or
    /// by a signal) is `Ok`.
    pub async fn output(&self) -> Result<Output, Error> {
        let mut stdout = Vec::new();
        let mut stderr = Vec::new();
        let exit = self
            .run(Sink::Capture {
                stdout: &mut stdout,
                stderr: &mut stderr,
            })
            .await?;
        Ok(Output {
            exit,
            stdout,
            stderr,
        })
    }

    /// [`Command::output`], with anything but exit status 0 an
    /// [`Error::Failed`] carrying the end of standard error.
    pub async fn checked(&self) -> Result<Output, Error> {
        let out = self.output().await?;
        if out.exit.success() {
            return Ok(out);
        }
        Err(Error::Failed {
            command: self.display(),
            exit: out.exit,
            stderr_tail: tail_of(&out.stderr),
        })
    }

    /// [`Command::checked`] for synchronous code (a `Drop`, a dedicated
    /// thread): blocks the calling thread until the command ends, so never
    /// call it on an async worker. It runs the command on a small runtime of
    /// its own (on a thread of its own when called inside a runtime's
    /// context, where a runtime cannot be started).
    pub fn checked_blocking(&self) -> Result<Output, Error> {
        let run = || -> Result<Output, Error> {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|source| Error::Start {
                    command: self.display(),
                    source,
                })?
                .block_on(self.checked())
        };
        if tokio::runtime::Handle::try_current().is_err() {
            return run();
        }
        std::thread::scope(|s| s.spawn(run).join()).unwrap_or_else(|_| {
            Err(Error::Io {
                command: self.display(),
                source: io::Error::other("the thread running the command panicked"),
            })
        })
    }

    /// Runs the command, giving each line of its output to `on_line` as it
    /// comes; any exit is `Ok`.
    pub async fn stream(&self, on_line: &mut OnLine<'_>) -> Result<Exit, Error> {
        self.run(Sink::Lines {
            on_line,
            out: LineSplitter::default(),
            err: LineSplitter::default(),
            err_tail: Tail::default(),
        })
        .await
    }

    fn to_tokio(&self) -> tokio::process::Command {
        let mut c = tokio::process::Command::new(&self.program);
        c.args(&self.args);
        if matches!(self.env_mode, EnvMode::Cleared) {
            c.env_clear();
        }
        if matches!(self.env_mode, EnvMode::Cleared) && !self.env.iter().any(|(k, _)| k == "PATH") {
            c.env("PATH", DEFAULT_PATH);
        }
        c.envs(self.env.iter().map(|(k, v)| (k, v)));
        if let Some(d) = &self.cwd {
            c.current_dir(d);
        }
        c.stdin(if self.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
        c
    }

    async fn run(&self, mut sink: Sink<'_, '_>) -> Result<Exit, Error> {
        let command = self.display();
        let cancel = self.cancel.clone().unwrap_or_default();
        if cancel.is_cancelled() {
            return Err(Error::Cancelled { command });
        }
        let mut child = self.to_tokio().spawn().map_err(|source| Error::Start {
            command: command.clone(),
            source,
        })?;
        let mut group = Group(
            child
                .id()
                .and_then(|id| i32::try_from(id).ok())
                .map(Pid::from_raw),
        );
        let io_err = |source| Error::Io {
            command: command.clone(),
            source,
        };
        // Standard input is written alongside, so a command that writes
        // before it reads cannot deadlock against us.
        let feed = {
            let stdin = child.stdin.take();
            let bytes = self.stdin.clone();
            async move {
                if let (Some(mut w), Some(b)) = (stdin, bytes) {
                    // A command that exits without reading all of it is fine.
                    match w.write_all(&b).await {
                        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => return Err(e),
                        _ => {}
                    }
                }
                Ok(())
            }
        };
        tokio::pin!(feed);
        let mut fed = false;
        let mut stdout = child.stdout.take();
        let mut stderr = child.stderr.take();
        let (mut obuf, mut ebuf) = (vec![0u8; 8192], vec![0u8; 8192]);
        let mut status = None;
        let deadline = tokio::time::sleep(self.timeout.unwrap_or(Duration::MAX));
        tokio::pin!(deadline);
        let drain = tokio::time::sleep(Duration::MAX);
        tokio::pin!(drain);
        let stopped = loop {
            if stdout.is_none() && stderr.is_none() && status.is_some() {
                break None;
            }
            tokio::select! {
                () = cancel.cancelled() => break Some(Stop::Cancelled),
                () = &mut deadline, if self.timeout.is_some() && status.is_none() => {
                    break Some(Stop::TimedOut);
                }
                r = &mut feed, if !fed => {
                    fed = true;
                    r.map_err(io_err)?;
                }
                r = read_some(&mut stdout, &mut obuf) => match r.map_err(io_err)? {
                    0 => stdout = None,
                    n => sink.push(Stream::Stdout, &obuf[..n]),
                },
                r = read_some(&mut stderr, &mut ebuf) => match r.map_err(io_err)? {
                    0 => stderr = None,
                    n => sink.push(Stream::Stderr, &ebuf[..n]),
                },
                s = child.wait(), if status.is_none() => {
                    status = Some(s.map_err(io_err)?);
                    drain.as_mut().reset(tokio::time::Instant::now() + self.drain_after_exit);
                }
                () = &mut drain, if status.is_some() => break None,
            }
        };
        if let Some(stop) = stopped {
            group.terminate(&mut child, self.kill_grace).await;
            let stderr_tail = sink.finish_tail();
            return Err(match stop {
                Stop::Cancelled => Error::Cancelled { command },
                Stop::TimedOut => Error::TimedOut {
                    command,
                    after: self.timeout.unwrap_or_default(),
                    stderr_tail,
                },
            });
        }
        // Exited by itself: what it left running is its own business.
        group.0 = None;
        let Some(status) = status else {
            return Err(io_err(io::Error::other("no exit status")));
        };
        sink.finish();
        Ok(Exit::of(status))
    }
}

enum Stop {
    Cancelled,
    TimedOut,
}

/// Where output goes.
enum Sink<'s, 'l> {
    Capture {
        stdout: &'s mut Vec<u8>,
        stderr: &'s mut Vec<u8>,
    },
    Lines {
        on_line: &'s mut OnLine<'l>,
        out: LineSplitter,
        err: LineSplitter,
        err_tail: Tail,
    },
}

impl Sink<'_, '_> {
    fn push(&mut self, stream: Stream, chunk: &[u8]) {
        match self {
            Self::Capture { stdout, stderr } => match stream {
                Stream::Stdout => stdout.extend_from_slice(chunk),
                Stream::Stderr => stderr.extend_from_slice(chunk),
            },
            Self::Lines {
                on_line,
                out,
                err,
                err_tail,
            } => match stream {
                Stream::Stdout => out.push(chunk, |l| on_line(stream, l)),
                Stream::Stderr => err.push(chunk, |l| {
                    err_tail.push(l);
                    on_line(stream, l);
                }),
            },
        }
    }

    fn finish(&mut self) {
        if let Self::Lines {
            on_line,
            out,
            err,
            err_tail,
        } = self
        {
            out.finish(|l| on_line(Stream::Stdout, l));
            err.finish(|l| {
                err_tail.push(l);
                on_line(Stream::Stderr, l);
            });
        }
    }

    /// Flushes and returns the last lines of standard error.
    fn finish_tail(&mut self) -> Vec<String> {
        self.finish();
        match self {
            Self::Capture { stderr, .. } => tail_of(stderr),
            Self::Lines { err_tail, .. } => err_tail.lines.iter().cloned().collect(),
        }
    }
}

/// The last [`STDERR_TAIL_LINES`] lines.
#[derive(Debug, Default)]
struct Tail {
    lines: VecDeque<String>,
}

impl Tail {
    fn push(&mut self, line: &str) {
        if self.lines.len() == STDERR_TAIL_LINES {
            self.lines.pop_front();
        }
        self.lines.push_back(line.to_owned());
    }
}

fn tail_of(bytes: &[u8]) -> Vec<String> {
    let mut tail = Tail::default();
    let mut split = LineSplitter::default();
    split.push(bytes, |l| tail.push(l));
    split.finish(|l| tail.push(l));
    tail.lines
        .into_iter()
        .filter(|l| !l.trim().is_empty())
        .collect()
}

/// The command's process group, killed with `SIGKILL` when dropped armed.
struct Group(Option<Pid>);

impl Group {
    fn signal(&self, sig: Signal) {
        if let Some(pgid) = self.0 {
            // ESRCH (all gone already) is fine.
            let _ = killpg(pgid, sig);
        }
    }

    /// `SIGTERM`, up to `grace` for the leader to exit, then `SIGKILL` for
    /// whatever is left of the group; reaps the leader.
    async fn terminate(&mut self, child: &mut tokio::process::Child, grace: Duration) {
        self.signal(Signal::SIGTERM);
        let _ = tokio::time::timeout(grace, child.wait()).await;
        self.signal(Signal::SIGKILL);
        self.0 = None;
        let _ = child.wait().await;
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.signal(Signal::SIGKILL);
    }
}

/// Reads from a stream that may already be closed (then never ready).
async fn read_some<R: AsyncRead + Unpin>(r: &mut Option<R>, buf: &mut [u8]) -> io::Result<usize> {
    match r {
        Some(r) => r.read(buf).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_lines_across_chunks() {
        let mut s = LineSplitter::default();
        let mut seen = Vec::new();
        s.push(b"he", |l| seen.push(l.to_owned()));
        s.push(b"llo\r\nwor", |l| seen.push(l.to_owned()));
        s.push(b"ld \xff", |l| seen.push(l.to_owned()));
        s.finish(|l| seen.push(l.to_owned()));
        assert_eq!(seen, vec!["hello", "world \u{fffd}"]);
    }

    #[test]
    fn exits_display_the_signal_name() {
        assert_eq!(Exit::Signal(9).to_string(), "killed by signal 9 (SIGKILL)");
        assert_eq!(Exit::Code(3).to_string(), "exit status 3");
        assert!(!Exit::Signal(15).success() && Exit::Code(0).success());
    }
}
