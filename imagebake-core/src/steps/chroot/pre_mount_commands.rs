use std::borrow::Cow;

use async_trait::async_trait;

use super::{BlockDevice, HostCommands};
use crate::template::render;
use crate::{Error, Step, StepCx};

/// Packer's `pre_mount_commands`: host commands run before the mount, each
/// with `{{.Device}}` (the device node, `/dev/loop3`) replaced, wrapped by
/// `command_wrapper` and run by `/bin/sh -c`; a non-zero status fails the build.
#[derive(Debug, Clone)]
pub struct PreMountCommands {
    host: HostCommands,
    commands: Vec<String>,
}

impl PreMountCommands {
    /// These commands.
    pub fn new(host: HostCommands, commands: Vec<String>) -> Self {
        Self { host, commands }
    }
}

#[async_trait]
impl Step<BlockDevice> for PreMountCommands {
    type Out = BlockDevice;

    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed("pre-mount commands")
    }

    async fn run(&self, cx: &StepCx, dev: BlockDevice) -> Result<BlockDevice, Error> {
        let d = dev.path.to_string_lossy().into_owned();
        for c in &self.commands {
            let cmd = render("pre_mount_commands", c, &[("Device", &d)])?;
            run_wrapped(cx, &self.host, &cmd).await?;
        }
        Ok(dev)
    }
}

/// Runs one templated command line through the wrapper, failing on a
/// non-zero status.
pub(crate) async fn run_wrapped(cx: &StepCx, host: &HostCommands, cmd: &str) -> Result<(), Error> {
    let line = host.wrap(cmd)?;
    let mut sink = |s, l: &str| cx.output_line(s, l);
    host.run_line(&line, &mut sink, cx.token())
        .await?
        .check(cmd)?;
    Ok(())
}
