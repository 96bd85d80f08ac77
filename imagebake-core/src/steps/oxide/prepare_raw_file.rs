use std::borrow::Cow;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use oxide_client::BlockSize;
use tokio::io::AsyncReadExt;

use super::RawFile;
use crate::steps::chroot::{DiskFormat, HostCommands, QemuConvert};
use crate::{Error, Step, StepCx};

/// The first bytes of a qcow2 file.
const QCOW2_MAGIC: &[u8; 4] = b"QFI\xfb";

/// Makes sure the file to import is raw: a qcow2 file (by its magic bytes)
/// is converted with `qemu-img` into a working copy next to it, removed at
/// the end of the build (a clear error when `qemu-img` is not installed).
/// The raw file's size must be a whole number of blocks and not zero.
#[derive(Debug, Clone)]
pub struct PrepareRawFile {
    block_size: BlockSize,
}

impl PrepareRawFile {
    /// Checks against blocks of `block_size`.
    pub fn new(block_size: BlockSize) -> Self {
        Self { block_size }
    }
}

#[async_trait]
impl Step<PathBuf> for PrepareRawFile {
    type Out = RawFile;

    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed("prepare raw file")
    }

    async fn run(&self, cx: &StepCx, file: PathBuf) -> Result<RawFile, Error> {
        cx.check_cancelled()?;
        let path = if is_qcow2(&file).await? {
            if find_program("qemu-img").is_none() {
                return Err(Error::Config(format!(
                    "{} is a qcow2 image: converting it to raw needs qemu-img, which is not \
                     installed (Debian/Ubuntu: apt-get install qemu-utils)",
                    file.display()
                )));
            }
            let mut dst = file.clone().into_os_string();
            dst.push(format!(".{}.raw", cx.build_id()));
            let convert = QemuConvert::working_copy(
                HostCommands::plain(),
                &file,
                DiskFormat::Qcow2,
                PathBuf::from(dst),
                DiskFormat::Raw,
            );
            cx.step(&convert, ()).await?
        } else {
            file
        };
        let size = tokio::fs::metadata(&path)
            .await
            .map_err(|e| Error::io(format!("reading the size of {}", path.display()), e))?
            .len();
        let bs = u64::from(self.block_size.bytes());
        if size == 0 {
            return Err(Error::Config(format!(
                "{} is empty: there is nothing to import",
                path.display()
            )));
        }
        if !size.is_multiple_of(bs) {
            return Err(Error::Config(format!(
                "{}: file size {size} is not divisible by block size {bs}",
                path.display()
            )));
        }
        Ok(RawFile { path, size })
    }
}

/// Whether `file` starts with the qcow2 magic bytes.
async fn is_qcow2(file: &Path) -> Result<bool, Error> {
    let mut f = tokio::fs::File::open(file)
        .await
        .map_err(|e| Error::io(format!("opening {}", file.display()), e))?;
    let mut magic = [0u8; 4];
    match f.read_exact(&mut magic).await {
        Ok(_) => Ok(&magic == QCOW2_MAGIC),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(false),
        Err(e) => Err(Error::io(format!("reading {}", file.display()), e)),
    }
}

/// `program`'s path in the host commands' `PATH`, if it is there.
fn find_program(program: &str) -> Option<PathBuf> {
    imagebake_host::process::DEFAULT_PATH
        .split(':')
        .map(|dir| Path::new(dir).join(program))
        .find(|p| p.is_file())
}
