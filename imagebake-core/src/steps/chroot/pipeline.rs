use std::borrow::Cow;

use async_trait::async_trait;

use super::{
    BlockDevice, ChrootSettings, CopyFiles, Mkfs, MountExtra, MountRoot, Populate,
    PostMountCommands, PreMountCommands, RootfsSource, Unmount,
};
use crate::{ChrootCommunicator, Comm, Error, Step, StepCx};

/// The chroot pipeline both chroot builders run on their device, as one
/// composite step (each part reported as its own step): from scratch `mkfs`,
/// `pre-mount commands`, `mount root`, from scratch `populate root`,
/// `post-mount commands`, `chroot mounts`, `copy files`, the provisioners in
/// the chroot, and `unmount`. Every part registers its undo at once, so
/// nothing stays mounted or copied in after a failure or Ctrl-C.
///
/// How the device comes and goes (a loop device, a linked volume) is the
/// builder's own business, before and after this step.
pub struct ChrootPipeline<'a> {
    settings: &'a ChrootSettings,
    provisioners: &'a [Box<dyn Step<Comm, Out = Comm>>],
    mkfs: Option<Mkfs>,
    populate: Option<Populate>,
}

impl<'a> ChrootPipeline<'a> {
    /// The pipeline with `settings`, running `provisioners` in the chroot.
    pub fn new(
        settings: &'a ChrootSettings,
        provisioners: &'a [Box<dyn Step<Comm, Out = Comm>>],
    ) -> Self {
        Self {
            settings,
            provisioners,
            mkfs: None,
            populate: None,
        }
    }

    /// Makes a `filesystem` (labelled `label`) on the partition first (a
    /// disk made from scratch).
    pub fn mkfs(mut self, filesystem: &str, label: Option<String>) -> Self {
        let s = self.settings;
        let mkfs = Mkfs::new(s.host.clone(), filesystem, &s.mount_partition)
            .label(label)
            .node_timeout(s.node_timeout);
        self.mkfs = Some(mkfs);
        self
    }

    /// Fills the root from `source` right after it is mounted.
    pub fn populate(mut self, source: Option<RootfsSource>) -> Self {
        self.populate = source.map(Populate::new);
        self
    }
}

impl std::fmt::Debug for ChrootPipeline<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChrootPipeline")
            .field("settings", self.settings)
            .field("provisioners", &self.provisioners.len())
            .field("mkfs", &self.mkfs)
            .field("populate", &self.populate)
            .finish()
    }
}

#[async_trait]
impl Step<BlockDevice> for ChrootPipeline<'_> {
    type Out = BlockDevice;

    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed("chroot")
    }

    async fn run(&self, cx: &StepCx, dev: BlockDevice) -> Result<BlockDevice, Error> {
        let s = self.settings;
        let dev = match &self.mkfs {
            Some(mkfs) => cx.step(mkfs, dev).await?,
            None => dev,
        };
        let pre = PreMountCommands::new(s.host.clone(), s.pre_mount.clone());
        let dev = cx.step(&pre, dev).await?;
        let mount = MountRoot::new(s.host.clone(), &s.mount_path, &s.mount_partition)
            .options(s.mount_options.clone())
            .mount_device(s.mount_device.clone())
            .node_timeout(s.node_timeout);
        let mut mounted = cx.step(&mount, dev).await?;
        if let Some(populate) = &self.populate {
            mounted = cx.step(populate, mounted).await?;
        }
        let post = PostMountCommands::new(s.post_mount.clone());
        let mounted = cx.step(&post, mounted).await?;
        let extra = MountExtra::new(s.chroot_mounts.clone());
        let mounted = cx.step(&extra, mounted).await?;
        let copy = CopyFiles::new(s.copy_files.clone());
        let mounted = cx.step(&copy, mounted).await?;
        let mut chroot = ChrootCommunicator::new(&mounted.mount_path)?;
        if let Some(wrapper) = mounted.host().wrapper() {
            chroot = chroot.command_wrapper(wrapper)?;
        }
        cx.steps(self.provisioners, Comm::new(chroot)).await?;
        cx.step(&Unmount::new(), mounted).await
    }
}
