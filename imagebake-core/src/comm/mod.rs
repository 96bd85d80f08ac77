//! How steps reach the machine being baked: the [`Communicator`] trait, which
//! the SSH communicator and the [`ChrootCommunicator`] implement, and the
//! helpers implementations share.

mod chroot;
mod lines;
pub(crate) mod local;
mod root_fs;
pub mod ssh;

use std::fmt;
use std::ops::Deref;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

pub use chroot::ChrootCommunicator;
pub use lines::{LineSplitter, OutputCollector, TAIL_LINES, Tail};

use crate::{Error, shell_quote};

/// Which output stream a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputStream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// Receives each line of a command's output as it arrives.
pub type OnLine<'a> = dyn FnMut(OutputStream, &str) + Send + 'a;

/// A shell command to run on the machine, with environment variables.
#[derive(Clone, Default)]
pub struct RemoteCommand {
    /// The command line, run by `/bin/sh -c`.
    pub command: String,
    /// Variables set for the command.
    pub env: Vec<(String, String)>,
}

impl RemoteCommand {
    /// A command with no extra environment.
    pub fn new(command: impl Into<String>) -> Self {
        Self {
            command: command.into(),
            env: Vec::new(),
        }
    }

    /// Adds an environment variable.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// The command with its environment as leading `export` statements, for
    /// transports that cannot pass variables out of band (sshd refuses most
    /// `env` requests): `export A='1' B='2'; command`.
    pub fn shell_line(&self) -> String {
        if self.env.is_empty() {
            return self.command.clone();
        }
        let vars: Vec<String> = self
            .env
            .iter()
            .map(|(k, v)| format!("{k}={}", shell_quote(v)))
            .collect();
        format!("export {}; {}", vars.join(" "), self.command)
    }
}

impl fmt::Debug for RemoteCommand {
    /// Shows the names of the variables, never their values (they may be secrets).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.env.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("RemoteCommand")
            .field("command", &self.command)
            .field("env", &names)
            .finish()
    }
}

impl fmt::Display for RemoteCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.command)
    }
}

/// How a command ended: its exit status and the last lines of its output.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExitOutput {
    /// The exit status.
    pub status: i32,
    /// The last [`TAIL_LINES`] lines of stdout.
    pub stdout_tail: Vec<String>,
    /// The last [`TAIL_LINES`] lines of stderr.
    pub stderr_tail: Vec<String>,
}

impl ExitOutput {
    /// Whether the status is 0.
    pub fn success(&self) -> bool {
        self.status == 0
    }

    /// `Ok(self)` if the status is 0, else [`Error::CommandFailed`] naming
    /// `command`.
    pub fn check(self, command: &str) -> Result<Self, Error> {
        if self.success() {
            Ok(self)
        } else {
            Err(Error::CommandFailed {
                command: command.to_owned(),
                status: self.status,
                stderr_tail: self.stderr_tail,
            })
        }
    }
}

/// How a command that may end the session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// The command exited and the session is still up.
    Exited(ExitOutput),
    /// The session went away before the command reported an exit status (the
    /// machine rebooted or powered off).
    Disconnected,
}

/// Runs commands on, and copies files to and from, the machine being baked.
/// Object safe: steps hold an `Arc<dyn Communicator>`.
///
/// Remote paths are `/`-separated strings; an implementation may interpret a
/// relative one from the login directory (SSH) or from `/` (chroot).
/// Every method stops when `cancel` fires (killing the command, closing the
/// channel) and then returns [`Error::Cancelled`].
#[async_trait]
pub trait Communicator: Send + Sync + fmt::Debug {
    /// Names the target for messages ("ssh root@10.0.0.5:22", "chroot /mnt/root").
    fn describe(&self) -> String;

    /// Runs `cmd` with `/bin/sh -c`, calling `on_line` for each line of
    /// stdout and stderr as it arrives. A non-zero status is returned, not an
    /// error (see [`ExitOutput::check`]); death by a signal is
    /// [`Error::Signal`]; a lost session is [`Error::Disconnected`].
    async fn exec(
        &self,
        cmd: &RemoteCommand,
        on_line: &mut OnLine<'_>,
        cancel: &CancellationToken,
    ) -> Result<ExitOutput, Error>;

    /// Copies a local file to `dst`, with `mode` (or the source's mode when
    /// `None`). Missing parent directories are created.
    async fn upload_file(
        &self,
        src: &Path,
        dst: &str,
        mode: Option<u32>,
        cancel: &CancellationToken,
    ) -> Result<(), Error>;

    /// Writes `bytes` to `dst` with `mode`. Missing parent directories are
    /// created.
    async fn upload_bytes(
        &self,
        bytes: &[u8],
        dst: &str,
        mode: u32,
        cancel: &CancellationToken,
    ) -> Result<(), Error>;

    /// Copies the contents of the local directory `src` into `dst` (created
    /// if missing), recursively, preserving the modes of files and
    /// directories and recreating symbolic links.
    async fn upload_dir(
        &self,
        src: &Path,
        dst: &str,
        cancel: &CancellationToken,
    ) -> Result<(), Error>;

    /// Copies the remote file `src` to the local path `dst`.
    async fn download(
        &self,
        src: &str,
        dst: &Path,
        cancel: &CancellationToken,
    ) -> Result<(), Error>;

    /// Whether [`Communicator::exec_expect_disconnect`] can power the target
    /// off (a machine over SSH can; a chroot cannot).
    fn can_power_off(&self) -> bool {
        false
    }

    /// Runs a command that may end the session (`reboot`, `shutdown`): a
    /// lost session counts as [`Ended::Disconnected`], not an error. The
    /// default maps [`Error::Disconnected`] from [`Communicator::exec`]; an
    /// implementation that can tell a deliberate disconnect apart overrides it.
    async fn exec_expect_disconnect(
        &self,
        cmd: &RemoteCommand,
        on_line: &mut OnLine<'_>,
        cancel: &CancellationToken,
    ) -> Result<Ended, Error> {
        match self.exec(cmd, on_line, cancel).await {
            Ok(out) => Ok(Ended::Exited(out)),
            Err(Error::Disconnected { .. }) => Ok(Ended::Disconnected),
            Err(e) => Err(e),
        }
    }

    /// Opens a new session after a reboot, retrying until the machine is back
    /// or `cancel` fires. The default does nothing (nothing to reconnect).
    async fn reconnect(&self, cancel: &CancellationToken) -> Result<(), Error> {
        let _ = cancel;
        Ok(())
    }
}

/// A shared handle on a communicator: what provisioners take and return.
///
/// A named type rather than a bare `Arc<dyn Communicator>`, whose implied
/// `'static` bound the compiler loses when it checks that a build future is
/// `Send` ("implementation of `Step` is not general enough").
#[derive(Clone, Debug)]
pub struct Comm(Arc<dyn Communicator>);

impl Comm {
    /// Wraps a communicator.
    pub fn new(communicator: impl Communicator + 'static) -> Self {
        Self(Arc::new(communicator))
    }

    /// Wraps a shared communicator.
    pub fn from_arc(communicator: Arc<dyn Communicator>) -> Self {
        Self(communicator)
    }

    /// The shared communicator.
    pub fn as_arc(&self) -> &Arc<dyn Communicator> {
        &self.0
    }
}

impl<C: Communicator + 'static> From<Arc<C>> for Comm {
    fn from(c: Arc<C>) -> Self {
        Self(c)
    }
}

impl Deref for Comm {
    type Target = dyn Communicator;

    fn deref(&self) -> &Self::Target {
        self.0.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_line_exports_quoted_env_and_debug_hides_values() {
        let c = RemoteCommand::new("echo $A").env("A", "it's").env("B", "2");
        assert_eq!(c.shell_line(), "export A='it'\"'\"'s' B='2'; echo $A");
        let dbg = format!("{c:?}");
        assert!(dbg.contains("\"A\"") && !dbg.contains("it's"), "{dbg}");
    }
}
