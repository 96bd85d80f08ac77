use std::borrow::Cow;
use std::fmt;
use std::path::{Path, PathBuf};

use async_trait::async_trait;

use super::HostCommands;
use super::blank_image::remove_file;
use crate::{Error, Resource, Step, StepCx};

/// A disk image file format `qemu-img` reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DiskFormat {
    /// A raw disk image.
    Raw,
    /// QEMU copy-on-write v2.
    Qcow2,
}

impl DiskFormat {
    /// `qemu-img`'s name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Raw => "raw",
            Self::Qcow2 => "qcow2",
        }
    }

    /// The format a file name suggests: `.qcow2` is qcow2, anything else raw.
    pub fn from_extension(path: &Path) -> Self {
        match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("qcow2") => Self::Qcow2,
            _ => Self::Raw,
        }
    }
}

impl fmt::Display for DiskFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `qemu-img convert -f SRC_FMT -O DST_FMT SRC DST`. The destination's
/// removal is registered before the conversion starts: always for a working
/// copy ([`QemuConvert::working_copy`]), on failure only for the build's
/// output ([`QemuConvert::output`]).
#[derive(Debug, Clone)]
pub struct QemuConvert {
    host: HostCommands,
    src: PathBuf,
    src_format: DiskFormat,
    dst: PathBuf,
    dst_format: DiskFormat,
    keep: bool,
}

impl QemuConvert {
    /// Converts `src` into a working copy `dst`, removed at the end of the build.
    pub fn working_copy(
        host: HostCommands,
        src: impl Into<PathBuf>,
        src_format: DiskFormat,
        dst: impl Into<PathBuf>,
        dst_format: DiskFormat,
    ) -> Self {
        Self {
            host,
            src: src.into(),
            src_format,
            dst: dst.into(),
            dst_format,
            keep: false,
        }
    }

    /// Converts `src` into the build's result `dst`, removed only if the
    /// build fails.
    pub fn output(
        host: HostCommands,
        src: impl Into<PathBuf>,
        src_format: DiskFormat,
        dst: impl Into<PathBuf>,
        dst_format: DiskFormat,
    ) -> Self {
        Self {
            keep: true,
            ..Self::working_copy(host, src, src_format, dst, dst_format)
        }
    }
}

#[async_trait]
impl<T: Send + 'static> Step<T> for QemuConvert {
    type Out = PathBuf;

    fn name(&self) -> Cow<'_, str> {
        Cow::Owned(format!("convert to {}", self.dst_format))
    }

    async fn run(&self, cx: &StepCx, _input: T) -> Result<PathBuf, Error> {
        cx.check_cancelled()?;
        if tokio::fs::try_exists(&self.dst).await.unwrap_or(false) {
            return Err(Error::Config(format!(
                "{} already exists; not overwriting it",
                self.dst.display()
            )));
        }
        let dst = self.dst.clone();
        let resource = Resource::new("image file", dst.display().to_string());
        let p = dst.clone();
        if self.keep {
            cx.on_failure(resource, move |_| remove_file(p));
        } else {
            cx.defer(resource, move |_| remove_file(p));
        }
        let (s, d) = (self.src.to_string_lossy(), dst.to_string_lossy());
        self.host
            .step_run(
                cx,
                &[
                    "qemu-img",
                    "convert",
                    "-f",
                    self.src_format.as_str(),
                    "-O",
                    self.dst_format.as_str(),
                    &s,
                    &d,
                ],
            )
            .await?;
        Ok(dst)
    }
}
