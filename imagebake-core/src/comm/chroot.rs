use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use imagebake_host::process::{self, DEFAULT_PATH};
use tokio_util::sync::CancellationToken;

use super::{Communicator, ExitOutput, OnLine, RemoteCommand, local, root_fs};
use crate::template::render;
use crate::{Error, shell_quote};

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

    fn command(&self, cmd: &RemoteCommand) -> Result<process::Command, Error> {
        let line = cmd.shell_line();
        let c = match &self.wrapper {
            None => process::Command::new("chroot")
                .arg(&self.root)
                .arg(&self.shell)
                .arg("-c")
                .arg(&line),
            Some(template) => {
                let root = self.root.to_str().unwrap_or_default();
                let inner = format!(
                    "chroot {} {} -c {}",
                    shell_quote(root),
                    shell_quote(&self.shell),
                    shell_quote(&line)
                );
                let full = render("command_wrapper", template, &[("Command", &inner)])?;
                process::Command::new("/bin/sh").arg("-c").arg(full)
            }
        };
        // A clean environment: the host's is never passed on.
        Ok(c.env("PATH", DEFAULT_PATH)
            .env("HOME", "/root")
            .shown_as(cmd.command.clone())
            .drain_after_exit(DRAIN_AFTER_EXIT))
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
        let what = format!("command `{}` in {}", cmd.command, self.describe());
        local::run(self.command(cmd)?, &what, &cmd.command, on_line, cancel).await
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
