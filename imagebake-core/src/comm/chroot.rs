use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use async_trait::async_trait;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;
use tokio_util::sync::CancellationToken;

use super::{
    Communicator, ExitOutput, OnLine, OutputCollector, OutputStream, RemoteCommand, root_fs,
};
use crate::template::render;
use crate::{Error, shell_quote};

/// `PATH` for commands in the chroot (the host's environment is not passed on).
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// How long to keep reading output after the command exited (a background
/// process it started may hold the pipes open).
const DRAIN_AFTER_EXIT: Duration = Duration::from_secs(2);

/// Runs commands in a directory tree with `chroot ROOT /bin/sh -c CMD` and
/// copies files into and out of it. Needs root (or a wrapper such as
/// `sudo {{.Command}}`).
///
/// Commands get a clean environment (`PATH`, `HOME=/root` and the command's
/// own variables), never the host's. Paths are resolved as the chroot sees
/// them: absolute symbolic links stay inside the root.
#[derive(Debug, Clone)]
pub struct ChrootCommunicator {
    root: PathBuf,
    wrapper: Option<String>,
    shell: String,
}

impl ChrootCommunicator {
    /// A communicator for the tree at `root`, which must be a directory.
    pub fn new(root: impl Into<PathBuf>) -> Result<Self, Error> {
        let given = root.into();
        let root = std::fs::canonicalize(&given)
            .map_err(|e| Error::io(format!("chroot root {}", given.display()), e))?;
        if !root.is_dir() {
            return Err(Error::Config(format!(
                "chroot root {} is not a directory",
                root.display()
            )));
        }
        Ok(Self {
            root,
            wrapper: None,
            shell: "/bin/sh".to_owned(),
        })
    }

    /// Wraps every command run on the host, Packer's `command_wrapper`:
    /// `{{.Command}}` is replaced by the quoted `chroot …` command line and the
    /// result run with the host's `/bin/sh -c` (`sudo {{.Command}}`).
    pub fn command_wrapper(mut self, template: impl Into<String>) -> Result<Self, Error> {
        let template = template.into();
        render("command_wrapper", &template, &[("Command", "")])?;
        if self.root.to_str().is_none() {
            return Err(Error::Config(format!(
                "command_wrapper needs a UTF-8 chroot path, not {}",
                self.root.display()
            )));
        }
        self.wrapper = Some(template);
        Ok(self)
    }

    /// The shell run inside the root (default `/bin/sh`).
    pub fn shell(mut self, shell: impl Into<String>) -> Self {
        self.shell = shell.into();
        self
    }

    /// The root directory (canonical).
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn command(&self, cmd: &RemoteCommand) -> Result<Command, Error> {
        let line = cmd.shell_line();
        let mut c = match &self.wrapper {
            None => {
                let mut c = Command::new("chroot");
                c.arg(&self.root).arg(&self.shell).arg("-c").arg(&line);
                c
            }
            Some(template) => {
                let root = self.root.to_str().unwrap_or_default();
                let inner = format!(
                    "chroot {} {} -c {}",
                    shell_quote(root),
                    shell_quote(&self.shell),
                    shell_quote(&line)
                );
                let full = render("command_wrapper", template, &[("Command", &inner)])?;
                let mut c = Command::new("/bin/sh");
                c.arg("-c").arg(full);
                c
            }
        };
        c.env_clear()
            .env("PATH", DEFAULT_PATH)
            .env("HOME", "/root")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        Ok(c)
    }

    fn cancelled(&self, what: &str) -> Error {
        Error::cancelled(format!("{what} in {}", self.describe()))
    }

    async fn blocking<T: Send + 'static>(
        &self,
        what: String,
        f: impl FnOnce(&Path) -> Result<T, Error> + Send + 'static,
    ) -> Result<T, Error> {
        let root = self.root.clone();
        tokio::task::spawn_blocking(move || f(&root))
            .await
            .map_err(|e| Error::Io {
                what,
                source: std::io::Error::other(e),
            })?
    }
}

/// Kills the command's whole process group (the shell and anything it
/// started) unless disarmed: on cancellation, and if the exec future is
/// dropped.
struct GroupKiller(Option<Pid>);

impl GroupKiller {
    fn kill(&mut self) {
        if let Some(pid) = self.0.take() {
            // ESRCH (already gone) is fine.
            let _ = killpg(pid, Signal::SIGKILL);
        }
    }
}

impl Drop for GroupKiller {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Reads from a stream that may already be closed (then never ready).
async fn read_some<R: AsyncRead + Unpin>(
    r: &mut Option<R>,
    buf: &mut [u8],
) -> std::io::Result<usize> {
    match r {
        Some(r) => r.read(buf).await,
        None => std::future::pending().await,
    }
}

#[async_trait]
impl Communicator for ChrootCommunicator {
    fn describe(&self) -> String {
        format!("chroot {}", self.root.display())
    }

    async fn exec(
        &self,
        cmd: &RemoteCommand,
        on_line: &mut OnLine<'_>,
        cancel: &CancellationToken,
    ) -> Result<ExitOutput, Error> {
        let what = format!("command `{}`", cmd.command);
        if cancel.is_cancelled() {
            return Err(self.cancelled(&what));
        }
        let mut child = self
            .command(cmd)?
            .spawn()
            .map_err(|e| Error::io(format!("starting {what} in {}", self.describe()), e))?;
        let mut killer = GroupKiller(
            child
                .id()
                .and_then(|id| i32::try_from(id).ok())
                .map(Pid::from_raw),
        );
        let mut stdout = child.stdout.take();
        let mut stderr = child.stderr.take();
        let mut collector = OutputCollector::new();
        let (mut obuf, mut ebuf) = (vec![0u8; 8192], vec![0u8; 8192]);
        let mut status = None;
        let drain = tokio::time::sleep(Duration::MAX);
        tokio::pin!(drain);
        let read_err = |e| Error::io(format!("reading the output of {what}"), e);
        while stdout.is_some() || stderr.is_some() || status.is_none() {
            tokio::select! {
                () = cancel.cancelled() => {
                    killer.kill();
                    let _ = child.wait().await;
                    return Err(self.cancelled(&what));
                }
                r = read_some(&mut stdout, &mut obuf) => match r.map_err(read_err)? {
                    0 => stdout = None,
                    n => collector.push(OutputStream::Stdout, &obuf[..n], on_line),
                },
                r = read_some(&mut stderr, &mut ebuf) => match r.map_err(read_err)? {
                    0 => stderr = None,
                    n => collector.push(OutputStream::Stderr, &ebuf[..n], on_line),
                },
                s = child.wait(), if status.is_none() => {
                    status = Some(s.map_err(|e| Error::io(format!("waiting for {what}"), e))?);
                    drain.as_mut().reset(tokio::time::Instant::now() + DRAIN_AFTER_EXIT);
                }
                () = &mut drain, if status.is_some() => break,
            }
        }
        // The command has exited: its process group may live on (a daemon it
        // started), which is the command's business.
        killer.0 = None;
        let Some(status) = status else {
            return Err(Error::io(what, std::io::Error::other("no exit status")));
        };
        match status.code() {
            Some(code) => Ok(collector.finish(code, on_line)),
            None => {
                use std::os::unix::process::ExitStatusExt;
                Err(Error::Signal {
                    command: cmd.command.clone(),
                    signal: status.signal().unwrap_or(0),
                })
            }
        }
    }

    async fn upload_file(
        &self,
        src: &Path,
        dst: &str,
        mode: Option<u32>,
        cancel: &CancellationToken,
    ) -> Result<(), Error> {
        let what = format!("uploading {} to {dst}", src.display());
        if cancel.is_cancelled() {
            return Err(self.cancelled(&what));
        }
        let (src, dst) = (src.to_owned(), PathBuf::from(dst));
        self.blocking(what, move |root| root_fs::copy_file(root, &src, &dst, mode))
            .await
    }

    async fn upload_bytes(
        &self,
        bytes: &[u8],
        dst: &str,
        mode: u32,
        cancel: &CancellationToken,
    ) -> Result<(), Error> {
        let what = format!("writing {dst}");
        if cancel.is_cancelled() {
            return Err(self.cancelled(&what));
        }
        let (bytes, dst) = (bytes.to_vec(), PathBuf::from(dst));
        self.blocking(what, move |root| {
            root_fs::write_bytes(root, &dst, &bytes, mode)
        })
        .await
    }

    async fn upload_dir(
        &self,
        src: &Path,
        dst: &str,
        cancel: &CancellationToken,
    ) -> Result<(), Error> {
        let what = format!("uploading {} to {dst}", src.display());
        if cancel.is_cancelled() {
            return Err(self.cancelled(&what));
        }
        let (src, dst, cancel) = (src.to_owned(), PathBuf::from(dst), cancel.clone());
        self.blocking(what, move |root| {
            root_fs::copy_tree(root, &src, &dst, &cancel)
        })
        .await
    }

    async fn download(
        &self,
        src: &str,
        dst: &Path,
        cancel: &CancellationToken,
    ) -> Result<(), Error> {
        let what = format!("downloading {src} to {}", dst.display());
        if cancel.is_cancelled() {
            return Err(self.cancelled(&what));
        }
        let (src, dst) = (PathBuf::from(src), dst.to_owned());
        self.blocking(what, move |root| root_fs::download(root, &src, &dst))
            .await
    }
}
