use std::borrow::Cow;
use std::path::PathBuf;

use async_trait::async_trait;

use super::{HostCommands, LoopDevice};
use crate::{Error, Step, StepCx};

/// Detaches a loop device (`losetup -d`) once everything on it is
/// unmounted, and dismisses its undo; yields the image file.
#[derive(Debug, Clone)]
pub struct DetachLoop {
    host: HostCommands,
}

impl DetachLoop {
    /// Detaches with these host commands.
    pub fn new(host: HostCommands) -> Self {
        Self { host }
    }
}

#[async_trait]
impl Step<LoopDevice> for DetachLoop {
    type Out = PathBuf;

    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed("detach loop device")
    }

    async fn run(&self, cx: &StepCx, l: LoopDevice) -> Result<PathBuf, Error> {
        let d = l.device.path.to_string_lossy().into_owned();
        super::attach_loop::detach(&self.host, &d, cx.token()).await?;
        cx.dismiss(l.undo);
        Ok(l.file)
    }
}
