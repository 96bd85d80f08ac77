use std::borrow::Cow;

use async_trait::async_trait;

use super::Mounted;
use super::pre_mount_commands::run_wrapped;
use crate::template::render;
use crate::{Error, Step, StepCx};

/// Packer's `post_mount_commands`: host commands run after the root is
/// mounted, with `{{.Device}}` (the device node) and `{{.MountPath}}`
/// replaced, wrapped by `command_wrapper`; a non-zero status fails the build.
#[derive(Debug, Clone)]
pub struct PostMountCommands {
    commands: Vec<String>,
}

impl PostMountCommands {
    /// These commands.
    pub fn new(commands: Vec<String>) -> Self {
        Self { commands }
    }
}

#[async_trait]
impl Step<Mounted> for PostMountCommands {
    type Out = Mounted;

    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed("post-mount commands")
    }

    async fn run(&self, cx: &StepCx, m: Mounted) -> Result<Mounted, Error> {
        let d = m.device.to_string_lossy().into_owned();
        let p = m.mount_path.to_string_lossy().into_owned();
        for c in &self.commands {
            let cmd = render(
                "post_mount_commands",
                c,
                &[("Device", &d), ("MountPath", &p)],
            )?;
            run_wrapped(cx, &m.host, &cmd).await?;
        }
        Ok(m)
    }
}
