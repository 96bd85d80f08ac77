use std::borrow::Cow;
use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;

use super::{BlockDevice, HostCommands, Mounted, device_base, mounts, partition_node};
use crate::template::render;
use crate::{Error, Resource, Step, StepCx};

/// The default mount path: `{{.Device}}` is the device's file name (`loop3`,
/// `xvdf`), under a directory of imagebake's own.
pub const DEFAULT_MOUNT_PATH: &str = "/mnt/imagebake-chroot/{{.Device}}";

/// Mounts the root filesystem (partition `mount_partition`, `"0"` for the
/// whole device) at `mount_path` with `mount [-o OPT]… NODE PATH`. The undo
/// registered right after unmounts everything under the path, deepest first
/// (so also what a provisioner mounted), then removes the directory.
#[derive(Debug, Clone)]
pub struct MountRoot {
    host: HostCommands,
    mount_path: String,
    partition: String,
    options: Vec<String>,
    mount_device: Option<PathBuf>,
    node_timeout: Duration,
}

impl MountRoot {
    /// Mounts partition `partition` at `mount_path` (a template with
    /// `{{.Device}}`; see [`DEFAULT_MOUNT_PATH`]).
    pub fn new(
        host: HostCommands,
        mount_path: impl Into<String>,
        partition: impl Into<String>,
    ) -> Self {
        Self {
            host,
            mount_path: mount_path.into(),
            partition: partition.into(),
            options: Vec::new(),
            mount_device: None,
            node_timeout: Duration::from_secs(30),
        }
    }

    /// Mount options, each passed as `-o OPT`.
    pub fn options(mut self, options: Vec<String>) -> Self {
        self.options = options;
        self
    }

    /// Mounts this node instead of the device (Packer's `nvme_device_path`;
    /// the partition is appended to it).
    pub fn mount_device(mut self, device: Option<PathBuf>) -> Self {
        self.mount_device = device;
        self
    }

    /// How long to wait for the partition's node.
    pub fn node_timeout(mut self, t: Duration) -> Self {
        self.node_timeout = t;
        self
    }

    /// The mount path for `device`, templates rendered, made absolute.
    pub fn mount_path_for(&self, device: &std::path::Path) -> Result<PathBuf, Error> {
        let rendered = render(
            "mount_path",
            &self.mount_path,
            &[("Device", &device_base(device))],
        )?;
        let p = PathBuf::from(rendered);
        if p.is_absolute() {
            Ok(p)
        } else {
            let cwd = std::env::current_dir().map_err(|e| Error::io("current directory", e))?;
            Ok(cwd.join(p))
        }
    }
}

#[async_trait]
impl Step<BlockDevice> for MountRoot {
    type Out = Mounted;

    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed("mount root")
    }

    async fn run(&self, cx: &StepCx, dev: BlockDevice) -> Result<Mounted, Error> {
        let path = self.mount_path_for(&dev.path)?;
        if mounts::is_mounted(&path) {
            return Err(Error::Config(format!(
                "{} is already a mount point (another build?)",
                path.display()
            )));
        }
        let base = self
            .mount_device
            .clone()
            .unwrap_or_else(|| dev.path.clone());
        let node =
            partition_node(cx, &self.host, &base, &self.partition, self.node_timeout).await?;
        let p = path.to_string_lossy().into_owned();
        self.host
            .step_run(cx, &["mkdir", "-m", "0750", "-p", &p])
            .await?;
        let n = node.to_string_lossy().into_owned();
        let mut args: Vec<&str> = vec!["mount"];
        for o in &self.options {
            args.push("-o");
            args.push(o);
        }
        args.push(&n);
        args.push(&p);
        // The undo goes in before the mount: if the answer is lost (cancel),
        // the path is unmounted anyway (unmounting what is not mounted is a no-op).
        let (host, root) = (self.host.clone(), path.clone());
        let undo = cx.defer(
            Resource::new("mount", p.clone()).named(n.clone()),
            move |u| async move {
                let lazy = mounts::unmount_all(&host, &root, u.token()).await?;
                let _ = tokio::fs::remove_dir(&root).await;
                if !lazy.is_empty() {
                    tracing::warn!(?lazy, "lazy unmounts were needed");
                }
                Ok(())
            },
        );
        self.host.step_run(cx, &args).await?;
        Ok(Mounted {
            device: dev.path,
            mounted_node: node,
            mount_path: path.clone(),
            host: self.host.clone(),
            mounts: vec![(path, undo)],
            copies: Vec::new(),
        })
    }
}
