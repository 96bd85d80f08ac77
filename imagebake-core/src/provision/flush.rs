use std::borrow::Cow;

use async_trait::async_trait;

use super::{Comm, line_events};
use crate::{Ended, Error, RemoteCommand, Step, StepCx};

/// Proof that the machine's file systems were flushed (and, when asked, that
/// it was shut down cleanly): what a step that takes an image asks for, so an
/// image of unflushed disks does not compile.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Flushed {
    /// Whether the machine was powered off from inside.
    pub powered_off: bool,
}

impl Flushed {
    /// For a caller that flushed by other means (a builder without a
    /// communicator). Prefer running [`Flush`].
    pub fn assumed_by_caller(powered_off: bool) -> Self {
        Self { powered_off }
    }
}

/// The built-in flush before any image: `sync`, then on clouds whose stop is
/// a hard power-off (Oxide) a clean shutdown from inside the machine, so what
/// the provisioners wrote is on disk when the snapshot is taken.
#[derive(Debug, Clone)]
pub struct Flush {
    power_off: bool,
    sync_command: String,
    power_off_command: String,
}

impl Flush {
    /// Only `sync` (the machine is stopped cleanly by the cloud, or a chroot).
    pub fn sync_only() -> Self {
        Self {
            power_off: false,
            sync_command: "sync".to_owned(),
            power_off_command: "shutdown -h now || poweroff".to_owned(),
        }
    }

    /// `sync`, then a clean shutdown (`shutdown -h now || poweroff`); a lost
    /// session is expected. Needs a communicator that
    /// [can power off](crate::Communicator::can_power_off).
    pub fn sync_and_power_off() -> Self {
        Self {
            power_off: true,
            ..Self::sync_only()
        }
    }

    /// Replaces the sync command (`sudo sync` for a non-root user).
    pub fn sync_command(mut self, cmd: impl Into<String>) -> Self {
        self.sync_command = cmd.into();
        self
    }

    /// Replaces the shutdown command (`sudo shutdown -h now`).
    pub fn power_off_command(mut self, cmd: impl Into<String>) -> Self {
        self.power_off_command = cmd.into();
        self
    }
}

#[async_trait]
impl Step<Comm> for Flush {
    type Out = Flushed;

    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed("flush")
    }

    async fn run(&self, cx: &StepCx, comm: Comm) -> Result<Flushed, Error> {
        if self.power_off && !comm.can_power_off() {
            return Err(Error::Config(format!(
                "flush: {} cannot power the machine off; use Flush::sync_only",
                comm.describe()
            )));
        }
        let mut on_line = line_events(cx);
        let sync = RemoteCommand::new(&self.sync_command);
        comm.exec(&sync, &mut on_line, cx.token())
            .await?
            .check(&self.sync_command)?;
        if !self.power_off {
            return Ok(Flushed { powered_off: false });
        }
        let off = RemoteCommand::new(&self.power_off_command);
        match comm
            .exec_expect_disconnect(&off, &mut on_line, cx.token())
            .await?
        {
            Ended::Disconnected => {}
            Ended::Exited(out) => {
                out.check(&self.power_off_command)?;
            }
        }
        Ok(Flushed { powered_off: true })
    }
}
