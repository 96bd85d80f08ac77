use std::borrow::Cow;
use std::fs::File;
use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

use crate::{Error, Step, StepCx};

/// Where the host-wide device lock lives by default.
pub const DEFAULT_LOCK_PATH: &str = "/run/imagebake/device.lock";

/// The held lock; dropping it releases it.
pub struct DeviceLockGuard {
    _lock: Flock<File>,
    path: PathBuf,
}

impl std::fmt::Debug for DeviceLockGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceLockGuard")
            .field("path", &self.path)
            .finish()
    }
}

/// Takes the host-wide device lock (an exclusive `flock` on a file), so
/// that parallel chroot builds on one host never choose the same device
/// name: held from the choice of a free device through the link until the
/// device node appeared. Waiting for it is cancellable.
#[derive(Debug, Clone)]
pub struct DeviceLock {
    path: PathBuf,
}

impl DeviceLock {
    /// The lock at `path` (see [`DEFAULT_LOCK_PATH`]).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    fn try_take(&self) -> Result<Option<DeviceLockGuard>, Error> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&self.path)
            .map_err(|e| Error::io(format!("opening {}", self.path.display()), e))?;
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => Ok(Some(DeviceLockGuard {
                _lock: lock,
                path: self.path.clone(),
            })),
            Err((_, Errno::EWOULDBLOCK)) => Ok(None),
            Err((_, e)) => Err(Error::io(
                format!("locking {}", self.path.display()),
                std::io::Error::from(e),
            )),
        }
    }
}

#[async_trait]
impl Step<()> for DeviceLock {
    type Out = DeviceLockGuard;

    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed("device lock")
    }

    async fn run(&self, cx: &StepCx, (): ()) -> Result<DeviceLockGuard, Error> {
        let mut waited = false;
        loop {
            if let Some(g) = self.try_take()? {
                return Ok(g);
            }
            if !waited {
                cx.output_line(
                    crate::OutputStream::Stdout,
                    &format!("waiting for the device lock {}", self.path.display()),
                );
                waited = true;
            }
            cx.cancellable(tokio::time::sleep(Duration::from_millis(100)))
                .await?;
        }
    }
}
