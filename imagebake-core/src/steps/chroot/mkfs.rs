use std::borrow::Cow;
use std::time::Duration;

use async_trait::async_trait;

use super::{BlockDevice, HostCommands, partition_node};
use crate::{Error, Step, StepCx};

/// Makes a filesystem (`mkfs -t TYPE`, ext4 by default) on partition
/// `partition` of the device.
#[derive(Debug, Clone)]
pub struct Mkfs {
    host: HostCommands,
    fstype: String,
    label: Option<String>,
    partition: String,
    node_timeout: Duration,
}

impl Mkfs {
    /// `mkfs -t fstype` on partition `partition` (`"0"`: the whole device).
    pub fn new(
        host: HostCommands,
        fstype: impl Into<String>,
        partition: impl Into<String>,
    ) -> Self {
        Self {
            host,
            fstype: fstype.into(),
            label: None,
            partition: partition.into(),
            node_timeout: Duration::from_secs(30),
        }
    }

    /// Sets the filesystem label (`-L`; `-n` for vfat).
    pub fn label(mut self, label: Option<String>) -> Self {
        self.label = label;
        self
    }

    /// How long to wait for the partition's node.
    pub fn node_timeout(mut self, t: Duration) -> Self {
        self.node_timeout = t;
        self
    }
}

#[async_trait]
impl Step<BlockDevice> for Mkfs {
    type Out = BlockDevice;

    fn name(&self) -> Cow<'_, str> {
        Cow::Owned(format!("mkfs {}", self.fstype))
    }

    async fn run(&self, cx: &StepCx, dev: BlockDevice) -> Result<BlockDevice, Error> {
        let node = partition_node(
            cx,
            &self.host,
            &dev.path,
            &self.partition,
            self.node_timeout,
        )
        .await?;
        let n = node.to_string_lossy();
        let mut args = vec!["mkfs", "-t", self.fstype.as_str()];
        if self.fstype.starts_with("ext") {
            args.push("-q");
            args.push("-F");
        }
        if let Some(l) = &self.label {
            args.push(if self.fstype == "vfat" { "-n" } else { "-L" });
            args.push(l);
        }
        args.push(&n);
        self.host.step_run(cx, &args).await?;
        Ok(dev)
    }
}
