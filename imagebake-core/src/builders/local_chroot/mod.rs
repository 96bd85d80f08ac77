//! The `local-chroot` builder: the chroot steps on a local disk image file
//! (raw, or qcow2 through `qemu-img`), no cloud at all. Configuration:
//! [`LocalChrootConfig`].
//!
//! 1. the working copy: `qemu-img convert` of the source image to a raw
//!    file next to the output (the source is never modified), or, from
//!    scratch, a blank file, `partition` (sfdisk);
//! 2. `attach loop device` (`losetup --find --show --partscan`), from
//!    scratch `mkfs`;
//! 3. `pre-mount commands`, `mount root`, from scratch `populate root`
//!    (tarball or directory), `post-mount commands`, `chroot mounts`,
//!    `copy files`, the provisioners in the chroot;
//! 4. `unmount`, `detach loop device`;
//! 5. `write output`: the working copy renamed to the output (raw), or
//!    converted to it (qcow2).
//!
//! Every mount, the loop device and the working copy are undone whatever
//! happens; the output exists only when the build succeeded.

mod config;
mod plan;

pub use config::{BUILDER, KEYS, LocalChrootConfig, REQUIRED, parse_size};

use std::fmt;
use std::path::PathBuf;

use tokio_util::sync::CancellationToken;

use crate::steps::chroot::{
    AttachLoop, BlankImage, BlockDevice, CopyFiles, DetachLoop, DiskFormat, Mkfs, MountExtra,
    MountRoot, Partition, Populate, PostMountCommands, PreMountCommands, QemuConvert, Unmount,
};
use crate::{BuildError, BuildId, ChrootCommunicator, CleanupReport, Comm, Error, Runner, Step};
use plan::{Input, Plan};

/// What a successful `local-chroot` build wrote.
#[derive(Debug)]
pub struct LocalChrootArtifact {
    /// The output image file.
    pub path: PathBuf,
    /// Its format.
    pub format: DiskFormat,
    /// The build.
    pub build_id: BuildId,
    /// What the cleanup did (loop device, mounts, working copy).
    pub cleanup: CleanupReport,
}

impl fmt::Display for LocalChrootArtifact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Image file written: {} ({}, build {})",
            self.path.display(),
            self.format,
            self.build_id
        )
    }
}

/// A checked `local-chroot` build, ready to run.
pub struct LocalChrootBuilder {
    plan: Box<Plan>,
    provisioners: Vec<Box<dyn Step<Comm, Out = Comm>>>,
}

impl fmt::Debug for LocalChrootBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalChrootBuilder")
            .field("output", &self.plan.output)
            .field("provisioners", &self.provisioners.len())
            .finish_non_exhaustive()
    }
}

impl LocalChrootBuilder {
    /// Checks `config` (nothing is touched yet).
    pub fn new(config: LocalChrootConfig) -> Result<Self, Error> {
        Ok(Self {
            plan: Box::new(Plan::new(&config)?),
            provisioners: Vec::new(),
        })
    }

    /// Adds a provisioner (run in the chroot, in order).
    pub fn provisioner(mut self, step: impl Step<Comm, Out = Comm> + 'static) -> Self {
        self.provisioners.push(Box::new(step));
        self
    }

    /// Adds provisioners built at run time (from a template).
    pub fn provisioners(mut self, steps: Vec<Box<dyn Step<Comm, Out = Comm>>>) -> Self {
        self.provisioners.extend(steps);
        self
    }

    /// The output file.
    pub fn output(&self) -> &std::path::Path {
        &self.plan.output
    }

    /// Runs the build with `runner` until done, failed, or `token` is
    /// cancelled; the cleanup runs in every case.
    pub async fn run(
        &self,
        runner: &Runner,
        token: CancellationToken,
    ) -> Result<LocalChrootArtifact, BuildError> {
        let p = &self.plan;
        let mut work = p.output.clone().into_os_string();
        work.push(format!(".{}.work.raw", runner.id()));
        let work = PathBuf::from(work);
        let label = format!("{BUILDER} {}", p.output.display());
        let built = runner
            .run(&label, token, |cx| async move {
                if tokio::fs::try_exists(&p.output).await.unwrap_or(false) {
                    return Err(Error::Config(format!(
                        "builder {BUILDER}: {} already exists; not overwriting it",
                        p.output.display()
                    )));
                }
                let h = &p.host;
                let file = match &p.input {
                    Input::Image { path, format } => {
                        let copy = QemuConvert::working_copy(
                            h.clone(),
                            path,
                            *format,
                            &work,
                            DiskFormat::Raw,
                        );
                        cx.step(&copy, ()).await?
                    }
                    Input::Scratch { size, table, .. } => {
                        let f = cx.step(&BlankImage::new(&work, *size), ()).await?;
                        cx.step(&Partition::new(h.clone(), *table), f).await?
                    }
                };
                let attached = cx.step(&AttachLoop::new(h.clone()), file).await?;
                let mut dev: BlockDevice = attached.device.clone();
                if let Input::Scratch {
                    filesystem, label, ..
                } = &p.input
                {
                    let mkfs = Mkfs::new(h.clone(), filesystem, &p.mount_partition)
                        .label(label.clone())
                        .node_timeout(p.device_timeout);
                    dev = cx.step(&mkfs, dev).await?;
                }
                let pre = PreMountCommands::new(h.clone(), p.pre_mount.clone());
                let dev = cx.step(&pre, dev).await?;
                let mount = MountRoot::new(h.clone(), &p.mount_path, &p.mount_partition)
                    .options(p.mount_options.clone())
                    .node_timeout(p.device_timeout);
                let mut mounted = cx.step(&mount, dev).await?;
                if let Input::Scratch {
                    rootfs: Some(r), ..
                } = &p.input
                {
                    mounted = cx.step(&Populate::new(r.clone()), mounted).await?;
                }
                let mounted = cx
                    .step(&PostMountCommands::new(p.post_mount.clone()), mounted)
                    .await?;
                let mounted = cx
                    .step(&MountExtra::new(p.chroot_mounts.clone()), mounted)
                    .await?;
                let mounted = cx
                    .step(&CopyFiles::new(p.copy_files.clone()), mounted)
                    .await?;
                let mut chroot = ChrootCommunicator::new(&mounted.mount_path)?;
                if let Some(wrapper) = mounted.host().wrapper() {
                    chroot = chroot.command_wrapper(wrapper)?;
                }
                cx.steps(&self.provisioners, Comm::new(chroot)).await?;
                let _unmounted = cx.step(&Unmount::new(), mounted).await?;
                let file = cx.step(&DetachLoop::new(h.clone()), attached).await?;
                match p.output_format {
                    DiskFormat::Raw => {
                        let out = p.output.clone();
                        let rename = crate::from_fn("write output", move |cx, file: PathBuf| {
                            let out = out.clone();
                            async move {
                                cx.check_cancelled()?;
                                tokio::fs::rename(&file, &out).await.map_err(|e| {
                                    Error::io(
                                        format!("renaming {} to {}", file.display(), out.display()),
                                        e,
                                    )
                                })?;
                                Ok(out)
                            }
                        });
                        cx.step(&rename, file).await
                    }
                    DiskFormat::Qcow2 => {
                        let conv = QemuConvert::output(
                            h.clone(),
                            &file,
                            DiskFormat::Raw,
                            &p.output,
                            DiskFormat::Qcow2,
                        );
                        cx.step(&conv, ()).await
                    }
                }
            })
            .await?;
        Ok(LocalChrootArtifact {
            path: built.value,
            format: p.output_format,
            build_id: built.build_id,
            cleanup: built.cleanup,
        })
    }
}
