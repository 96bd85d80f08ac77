use std::borrow::Cow;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use async_trait::async_trait;

use super::Comm;
use crate::{Error, Step, StepCx};

#[derive(Debug, Clone)]
enum Source {
    Path(PathBuf),
    Content(Vec<u8>),
}

/// Packer's `file` provisioner, uploading: in-memory content, a file, or a
/// directory, to `destination`.
///
/// Packer's rules: a file goes *into* a destination that ends with `/`, and
/// *to* it otherwise. A directory whose source path ends with `/` has its
/// contents copied into the destination; without the `/`, the directory
/// itself is copied into the destination (`dest/name/…`). Modes are kept.
#[derive(Debug, Clone)]
pub struct Upload {
    source: Source,
    destination: String,
    mode: Option<u32>,
}

impl Upload {
    /// A local file or directory (see the trailing-slash rules above).
    pub fn path(source: impl Into<PathBuf>, destination: impl Into<String>) -> Self {
        Self {
            source: Source::Path(source.into()),
            destination: destination.into(),
            mode: None,
        }
    }

    /// In-memory content written to the file `destination` (mode 0644 unless set).
    pub fn content(content: impl Into<Vec<u8>>, destination: impl Into<String>) -> Self {
        Self {
            source: Source::Content(content.into()),
            destination: destination.into(),
            mode: None,
        }
    }

    /// Sets the mode of the uploaded file (not used for directories, whose
    /// modes are copied).
    pub fn mode(mut self, mode: u32) -> Self {
        self.mode = Some(mode);
        self
    }
}

/// Where one upload goes.
#[derive(Debug, PartialEq, Eq)]
enum Target {
    File(String),
    Dir(String),
}

fn ends_with_slash(p: &OsStr) -> bool {
    p.as_bytes().ends_with(b"/")
}

fn join(dir: &str, name: &OsStr) -> String {
    format!("{}/{}", dir.trim_end_matches('/'), name.to_string_lossy())
}

/// Applies Packer's trailing-slash rules.
fn target(source: &Path, is_dir: bool, destination: &str) -> Target {
    let name = source.file_name().unwrap_or_default();
    if is_dir {
        if ends_with_slash(source.as_os_str()) || name.is_empty() {
            Target::Dir(destination.to_owned())
        } else {
            Target::Dir(join(destination, name))
        }
    } else if destination.ends_with('/') {
        Target::File(join(destination, name))
    } else {
        Target::File(destination.to_owned())
    }
}

#[async_trait]
impl Step<Comm> for Upload {
    type Out = Comm;

    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed("file")
    }

    async fn run(&self, cx: &StepCx, comm: Comm) -> Result<Comm, Error> {
        if self.destination.is_empty() {
            return Err(Error::Config("file: empty destination".into()));
        }
        match &self.source {
            Source::Content(bytes) => {
                if self.destination.ends_with('/') {
                    return Err(Error::Config(format!(
                        "file: content needs a file destination, not the directory {}",
                        self.destination
                    )));
                }
                let mode = self.mode.unwrap_or(0o644);
                comm.upload_bytes(bytes, &self.destination, mode, cx.token())
                    .await?;
            }
            Source::Path(src) => {
                let meta = tokio::fs::metadata(src)
                    .await
                    .map_err(|e| Error::io(format!("file: reading {}", src.display()), e))?;
                match target(src, meta.is_dir(), &self.destination) {
                    Target::Dir(dst) => comm.upload_dir(src, &dst, cx.token()).await?,
                    Target::File(dst) => comm.upload_file(src, &dst, self.mode, cx.token()).await?,
                }
            }
        }
        Ok(comm)
    }
}

/// Packer's `file` provisioner with `direction = "download"`: copies a remote
/// file to a local path (into it when the path ends with `/`).
#[derive(Debug, Clone)]
pub struct Download {
    source: String,
    destination: PathBuf,
}

impl Download {
    /// The remote file `source` to the local `destination`.
    pub fn file(source: impl Into<String>, destination: impl Into<PathBuf>) -> Self {
        Self {
            source: source.into(),
            destination: destination.into(),
        }
    }
}

#[async_trait]
impl Step<Comm> for Download {
    type Out = Comm;

    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed("file download")
    }

    async fn run(&self, cx: &StepCx, comm: Comm) -> Result<Comm, Error> {
        let dst = if ends_with_slash(self.destination.as_os_str()) {
            let name = Path::new(&self.source).file_name().unwrap_or_default();
            self.destination.join(name)
        } else {
            self.destination.clone()
        };
        comm.download(&self.source, &dst, cx.token()).await?;
        Ok(comm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_slash_rules() {
        let t = |s: &str, dir, d: &str| target(Path::new(s), dir, d);
        assert_eq!(t("site/", true, "/srv/www"), Target::Dir("/srv/www".into()));
        assert_eq!(
            t("site", true, "/srv/www"),
            Target::Dir("/srv/www/site".into())
        );
        assert_eq!(
            t("site", true, "/srv/www/"),
            Target::Dir("/srv/www/site".into())
        );
        assert_eq!(
            t("a/b.conf", false, "/etc/"),
            Target::File("/etc/b.conf".into())
        );
        assert_eq!(
            t("a/b.conf", false, "/etc/c.conf"),
            Target::File("/etc/c.conf".into())
        );
    }
}
