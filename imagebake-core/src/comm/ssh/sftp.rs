//! File transfer over SFTP. Uploads write a temporary name next to the
//! destination, stream into it, set the mode and rename it over the
//! destination, so a reader never sees half a file. Everything streams:
//! no file is read whole into memory.

use std::io::{self, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

use russh_sftp::client::SftpSession;
use russh_sftp::client::error::Error as SftpError;
use russh_sftp::client::fs::File as RemoteFile;
use russh_sftp::protocol::{FileAttributes, OpenFlags, StatusCode};
use tokio::io::{AsyncWriteExt, BufReader};
use tokio_util::sync::CancellationToken;

use super::connect::Session;
use super::exec::lost;
use crate::Error;

/// Read and write buffer of a transfer, and the size of one SFTP write
/// (OpenSSH's sftp-server takes up to 255 KiB a write; russh-sftp trims
/// the packet to the server's limit).
const BUFFER: usize = 256 * 1024;

/// SFTP writes sent before the first is answered: 2 MiB, as OpenSSH's
/// `sftp` (64 × 32 KiB), which is also the SSH channel window OpenSSH's
/// sshd opens, so more would only wait in memory on our side. Measured on
/// loopback (benches/ssh_upload.rs): 64 in flight 654 MiB/s, 8 825 MiB/s
/// (likely the data queued beyond the window evicting the caches); 4
/// measured faster still there (894) but would use only half the window,
/// which a distant machine (bytes in flight = rate × round trip) needs.
const WRITES_IN_FLIGHT: usize = 8;

/// One SFTP channel on a session, for one operation.
pub(crate) struct Transfer<'a> {
    session: &'a Session,
    sftp: SftpSession,
    target: &'a str,
    cancel: &'a CancellationToken,
}

impl<'a> Transfer<'a> {
    /// Opens the `sftp` subsystem on a new channel.
    pub(crate) async fn open(
        session: &'a Session,
        target: &'a str,
        cancel: &'a CancellationToken,
    ) -> Result<Self, Error> {
        let what = format!("starting SFTP on {target}");
        let channel = session
            .handle
            .channel_open_session()
            .await
            .map_err(|e| lost(session, &what, e))?;
        channel
            .request_subsystem(true, "sftp")
            .await
            .map_err(|e| lost(session, &what, e))?;
        let config = russh_sftp::client::Config {
            request_timeout_secs: 60,
            max_concurrent_writes: WRITES_IN_FLIGHT,
            max_write_packet_len: BUFFER as u32,
            ..russh_sftp::client::Config::default()
        };
        let sftp = SftpSession::new_with_config(channel.into_stream(), config)
            .await
            .map_err(|e| sftp_error(session, what, e))?;
        Ok(Self {
            session,
            sftp,
            target,
            cancel,
        })
    }

    /// Closes the SFTP channel (best effort).
    pub(crate) async fn close(self) {
        let _ = self.sftp.close().await;
    }

    fn err(&self, what: impl Into<String>, e: SftpError) -> Error {
        sftp_error(
            self.session,
            format!("{} on {}", what.into(), self.target),
            e,
        )
    }

    fn io_err(&self, what: impl Into<String>, e: io::Error) -> Error {
        let what = format!("{} on {}", what.into(), self.target);
        if self.session.handle.is_closed() {
            Error::Disconnected {
                what,
                source: Some(Box::new(e)),
            }
        } else {
            Error::io(what, e)
        }
    }

    fn cancelled(&self, what: &str) -> Error {
        Error::cancelled(format!("{what} on {}", self.target))
    }

    /// Uploads a local file; `mode` `None` keeps the file's own.
    pub(crate) async fn put_file(
        &self,
        src: &Path,
        dst: &str,
        mode: Option<u32>,
    ) -> Result<(), Error> {
        let what = format!("uploading {} to {dst}", src.display());
        let file = tokio::fs::File::open(src)
            .await
            .map_err(|e| Error::io(format!("opening {}", src.display()), e))?;
        let mode = match mode {
            Some(m) => m,
            None => file
                .metadata()
                .await
                .map_err(|e| Error::io(format!("reading {}", src.display()), e))?
                .permissions()
                .mode(),
        };
        self.mkdir_parent(dst).await?;
        let file = file.into_std().await;
        self.put(Source::File(file), dst, mode, &what).await
    }

    /// Uploads bytes.
    pub(crate) async fn put_bytes(&self, bytes: &[u8], dst: &str, mode: u32) -> Result<(), Error> {
        self.mkdir_parent(dst).await?;
        self.put(Source::Bytes(bytes), dst, mode, &format!("writing {dst}"))
            .await
    }

    /// Streams `src` into a temporary file beside `dst` (whose directory
    /// exists), sets `mode`, and renames it over `dst`.
    async fn put(&self, src: Source<'_>, dst: &str, mode: u32, what: &str) -> Result<(), Error> {
        if self.cancel.is_cancelled() {
            return Err(self.cancelled(what));
        }
        let tmp = temp_name(dst);
        let private = FileAttributes {
            permissions: Some(0o600),
            ..FileAttributes::empty()
        };
        let flags = OpenFlags::CREATE | OpenFlags::TRUNCATE | OpenFlags::WRITE | OpenFlags::EXCLUDE;
        let mut file = self
            .sftp
            .open_with_flags_and_attributes(tmp.as_str(), flags, private)
            .await
            .map_err(|e| self.err(format!("creating {tmp}"), e))?;
        let copied = async {
            src.copy_into(&mut file).await?;
            file.shutdown().await
        };
        let r = tokio::select! {
            r = copied => r.map_err(|e| self.io_err(what, e)),
            () = self.cancel.cancelled() => Err(self.cancelled(what)),
        };
        drop(file);
        let r = match r {
            Ok(()) => self.finish(&tmp, dst, mode).await,
            Err(e) => Err(e),
        };
        if r.is_err() {
            let _ = self.sftp.remove_file(tmp.as_str()).await;
        }
        r
    }

    async fn finish(&self, tmp: &str, dst: &str, mode: u32) -> Result<(), Error> {
        self.set_mode(tmp, mode).await?;
        if let Err(first) = self.sftp.rename(tmp, dst).await {
            // OpenSSH's SFTP rename refuses to replace a file: remove it first.
            match self.sftp.symlink_metadata(dst).await {
                Ok(m) if m.is_dir() => {
                    return Err(Error::Config(format!(
                        "cannot replace directory {dst} on {} with a file",
                        self.target
                    )));
                }
                Ok(_) => {
                    self.sftp
                        .remove_file(dst)
                        .await
                        .map_err(|e| self.err(format!("replacing {dst}"), e))?;
                    self.sftp
                        .rename(tmp, dst)
                        .await
                        .map_err(|e| self.err(format!("renaming {tmp} to {dst}"), e))?;
                }
                Err(_) => return Err(self.err(format!("renaming {tmp} to {dst}"), first)),
            }
        }
        Ok(())
    }

    async fn set_mode(&self, path: &str, mode: u32) -> Result<(), Error> {
        let attrs = FileAttributes {
            permissions: Some(mode & 0o7777),
            ..FileAttributes::empty()
        };
        self.sftp
            .set_metadata(path, attrs)
            .await
            .map_err(|e| self.err(format!("setting the mode of {path}"), e))
    }

    async fn mkdir_parent(&self, path: &str) -> Result<(), Error> {
        match parent(path) {
            Some(dir) => self.mkdir_p(dir).await,
            None => Ok(()),
        }
    }

    /// Creates `dir` and its missing parents.
    async fn mkdir_p(&self, dir: &str) -> Result<(), Error> {
        if dir.is_empty() || dir == "/" || dir == "." {
            return Ok(());
        }
        match self.sftp.metadata(dir).await {
            Ok(m) if m.is_dir() => return Ok(()),
            Ok(_) => {
                return Err(Error::Config(format!(
                    "{dir} on {} exists and is not a directory",
                    self.target
                )));
            }
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(self.err(format!("looking at {dir}"), e)),
        }
        if let Some(up) = parent(dir) {
            Box::pin(self.mkdir_p(up)).await?;
        }
        if let Err(e) = self.sftp.create_dir(dir).await {
            // Someone else may have made it meanwhile.
            if !matches!(self.sftp.metadata(dir).await, Ok(m) if m.is_dir()) {
                return Err(self.err(format!("creating directory {dir}"), e));
            }
        }
        Ok(())
    }

    /// Uploads the contents of the local directory `src` into `dst`.
    pub(crate) async fn put_tree(&self, src: &Path, dst: &str) -> Result<(), Error> {
        let meta = tokio::fs::metadata(src)
            .await
            .map_err(|e| Error::io(format!("reading {}", src.display()), e))?;
        if !meta.is_dir() {
            return Err(Error::Config(format!(
                "upload source {} is not a directory",
                src.display()
            )));
        }
        let dst = trim_dir(dst);
        self.mkdir_p(dst).await?;
        self.put_dir(src, dst, meta.permissions().mode()).await
    }

    /// `dst` exists; fills it, then gives it `mode`. While being filled it
    /// has `mode` plus owner rwx (so a read-only directory can be filled,
    /// and an existing `0755` one never changes on the way).
    async fn put_dir(&self, src: &Path, dst: &str, mode: u32) -> Result<(), Error> {
        self.set_mode(dst, mode | 0o700).await?;
        let list_err = |e| Error::io(format!("listing {}", src.display()), e);
        let mut entries = tokio::fs::read_dir(src).await.map_err(list_err)?;
        while let Some(entry) = entries.next_entry().await.map_err(list_err)? {
            let from = entry.path();
            let what = format!("uploading {}", from.display());
            if self.cancel.is_cancelled() {
                return Err(self.cancelled(&what));
            }
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                return Err(Error::Config(format!(
                    "cannot upload {}: its name is not UTF-8",
                    from.display()
                )));
            };
            let to = join(dst, &name);
            let meta = tokio::fs::symlink_metadata(&from)
                .await
                .map_err(|e| Error::io(format!("reading {}", from.display()), e))?;
            let ft = meta.file_type();
            let mode = meta.permissions().mode();
            if ft.is_dir() {
                self.mkdir_p(&to).await?;
                Box::pin(self.put_dir(&from, &to, mode)).await?;
            } else if ft.is_file() {
                let file = tokio::fs::File::open(&from)
                    .await
                    .map_err(|e| Error::io(format!("opening {}", from.display()), e))?
                    .into_std()
                    .await;
                self.put(Source::File(file), &to, mode, &what).await?;
            } else if ft.is_symlink() {
                let link = tokio::fs::read_link(&from)
                    .await
                    .map_err(|e| Error::io(format!("reading link {}", from.display()), e))?;
                self.put_symlink(&link.to_string_lossy(), &to).await?;
            } else {
                return Err(Error::Config(format!(
                    "cannot upload {}: not a file, directory or symbolic link",
                    from.display()
                )));
            }
        }
        self.set_mode(dst, mode).await
    }

    /// Makes `at` a symbolic link to `points_to`, replacing a file there.
    async fn put_symlink(&self, points_to: &str, at: &str) -> Result<(), Error> {
        match self.sftp.symlink_metadata(at).await {
            Ok(m) if m.is_dir() => {
                return Err(Error::Config(format!(
                    "cannot replace directory {at} on {} with a symbolic link",
                    self.target
                )));
            }
            Ok(_) => self
                .sftp
                .remove_file(at)
                .await
                .map_err(|e| self.err(format!("replacing {at}"), e))?,
            Err(_) => {}
        }
        // OpenSSH's sftp-server takes SSH_FXP_SYMLINK's two paths in the
        // opposite order from the draft (target first, then the link), and
        // russh-sftp sends them in the draft's order: swap them.
        self.sftp
            .symlink(points_to, at)
            .await
            .map_err(|e| self.err(format!("creating link {at}"), e))
    }

    /// Downloads the remote file `src` to `dst` (parents created); a
    /// partial file is removed on failure.
    pub(crate) async fn get(&self, src: &str, dst: &Path) -> Result<(), Error> {
        let what = format!("downloading {src} to {}", dst.display());
        let meta = self
            .sftp
            .metadata(src)
            .await
            .map_err(|e| self.err(format!("looking at {src}"), e))?;
        if meta.is_dir() {
            return Err(Error::Config(format!(
                "download source {src} on {} is not a file",
                self.target
            )));
        }
        if let Some(dir) = dst.parent().filter(|d| !d.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        }
        let remote = self
            .sftp
            .open(src)
            .await
            .map_err(|e| self.err(format!("opening {src}"), e))?;
        let mut local = tokio::fs::File::create(dst)
            .await
            .map_err(|e| Error::io(format!("creating {}", dst.display()), e))?;
        let mut remote = BufReader::with_capacity(BUFFER, remote);
        let copied = async {
            tokio::io::copy_buf(&mut remote, &mut local).await?;
            local.flush().await
        };
        let r = tokio::select! {
            r = copied => r.map_err(|e| self.io_err(&what, e)),
            () = self.cancel.cancelled() => Err(self.cancelled(&what)),
        };
        if r.is_err() {
            let _ = tokio::fs::remove_file(dst).await;
        }
        r
    }
}

/// What an upload sends.
enum Source<'a> {
    Bytes(&'a [u8]),
    File(std::fs::File),
}

impl Source<'_> {
    async fn copy_into(self, to: &mut RemoteFile) -> io::Result<()> {
        match self {
            Self::Bytes(b) => to.write_all(b).await,
            Self::File(f) => send_file(f, to).await,
        }
    }
}

/// Streams a local file: read on a blocking thread one buffer ahead of
/// the writes (so reading overlaps sending), straight into one of two
/// buffers that take turns (no copy through a `BufReader` or tokio's
/// file buffer, no allocation per read).
async fn send_file(file: std::fs::File, to: &mut RemoteFile) -> io::Result<()> {
    let file = Arc::new(file);
    let read_into = |mut buf: Vec<u8>| {
        let file = file.clone();
        tokio::task::spawn_blocking(move || {
            buf.resize(BUFFER, 0);
            let n = read_some(&file, &mut buf)?;
            buf.truncate(n);
            Ok::<_, io::Error>(buf)
        })
    };
    let mut next = read_into(Vec::with_capacity(BUFFER));
    let mut spare = Vec::with_capacity(BUFFER);
    loop {
        let buf = next.await.map_err(io::Error::other)??;
        if buf.is_empty() {
            return Ok(());
        }
        next = read_into(spare);
        to.write_all(&buf).await?;
        spare = buf;
    }
}

/// One read (what a pipe holds now is sent at once, not held back until
/// the buffer fills), repeated when a signal interrupts it.
fn read_some(mut file: &std::fs::File, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match file.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            r => return r,
        }
    }
}

fn sftp_error(session: &Session, what: String, e: SftpError) -> Error {
    if session.handle.is_closed() {
        Error::Disconnected {
            what,
            source: Some(Box::new(e)),
        }
    } else {
        Error::communicator(what, e)
    }
}

fn is_not_found(e: &SftpError) -> bool {
    matches!(e, SftpError::Status(s) if s.status_code == StatusCode::NoSuchFile)
}

/// `a/b/c` → `a/b`, `/a` → `/`, `a` → `None`.
fn parent(path: &str) -> Option<&str> {
    let path = trim_dir(path);
    match path.rsplit_once('/') {
        Some(("", _)) => Some("/"),
        Some((dir, _)) => Some(dir),
        None => None,
    }
}

/// Drops trailing slashes (but keeps `/`).
fn trim_dir(path: &str) -> &str {
    let t = path.trim_end_matches('/');
    if t.is_empty() && path.starts_with('/') {
        "/"
    } else {
        t
    }
}

fn join(dir: &str, name: &str) -> String {
    if dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// `.name.ib-1a2b3c4d.tmp` beside `path`.
fn temp_name(path: &str) -> String {
    let tag: u32 = rand::random();
    match trim_dir(path).rsplit_once('/') {
        Some((dir, name)) => format!("{dir}/.{name}.ib-{tag:08x}.tmp"),
        None => format!(".{path}.ib-{tag:08x}.tmp"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_helpers() {
        assert_eq!(parent("/a/b/c"), Some("/a/b"));
        assert_eq!(parent("/a"), Some("/"));
        assert_eq!(parent("a"), None);
        assert_eq!(parent("a/b/"), Some("a"));
        assert_eq!(trim_dir("/"), "/");
        assert_eq!(join("/", "x"), "/x");
        assert_eq!(join("/a", "x"), "/a/x");
        let t = temp_name("/etc/motd");
        assert!(
            t.starts_with("/etc/.motd.ib-") && t.ends_with(".tmp"),
            "{t}"
        );
        assert!(temp_name("motd").starts_with(".motd.ib-"));
    }
}
