//! The `local-chroot` builder: the chroot steps on a local disk image file
//! (raw, or qcow2 through `qemu-img`), no cloud at all. Configuration:
//! [`LocalChrootConfig`].
//!
//! 1. the working copy: `qemu-img convert` of the source image to a raw
//!    file next to the output (the source is never modified), or, from
//!    scratch, a blank file, `partition` (the table written directly);
//! 2. `attach loop device` (`losetup --find --show --partscan`);
//! 3. `chroot` (the [`ChrootPipeline`] it shares with `osc-chroot`): from
//!    scratch `mkfs`, `pre-mount commands`, `mount root`, from scratch
//!    `populate root` (tarball or directory), `post-mount commands`,
//!    `chroot mounts`, `copy files`, the provisioners in the chroot,
//!    `unmount`;
//! 4. `detach loop device`;
//! 5. `write output`: the working copy renamed to the output (raw), or
//!    converted to it (qcow2);
//! 6. with `imgapi_manifest`, `imgapi manifest`: `OUTPUT.gz` and the IMGAPI
//!    v2 manifest `OUTPUT.imgmanifest` beside it.
//!
//! Every mount, the loop device and the working copy are undone whatever
//! happens; the output files (and the compressed copy and manifest) exist
//! only when the build succeeded: each is journaled before it is written,
//! so `imagebake cleanup` also removes one a killed build was writing.

mod config;
mod imgapi;
mod plan;

pub use config::{BUILDER, KEYS, LocalChrootConfig, REQUIRED, parse_size};
pub(crate) use imgapi::ImgapiKeys;

use std::fmt;
use std::path::PathBuf;

use tokio_util::sync::CancellationToken;

use crate::builders::packer::TemplateVars;
use crate::builders::{Artifact, ArtifactKind, Builder, BuilderConfig, Provisioners};
use crate::steps::chroot::{
    AttachLoop, BlankImage, ChrootPipeline, DetachLoop, DiskFormat, Partition, QemuConvert,
};
use crate::{BuildError, BuildId, CleanupReport, Error, Runner};
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

impl LocalChrootArtifact {
    /// imagebake's builder id for local image files.
    pub const BUILDER_ID: &'static str = "imagebake.local-chroot";
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
    provisioners: Provisioners,
}

impl fmt::Debug for LocalChrootBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalChrootBuilder")
            .field("output", &self.plan.output)
            .field("provisioners", &self.provisioners)
            .finish_non_exhaustive()
    }
}

impl LocalChrootBuilder {
    /// The output file.
    pub fn output(&self) -> &std::path::Path {
        &self.plan.output
    }
}

impl Builder for LocalChrootBuilder {
    const TYPE: &'static str = BUILDER;
    type Config = LocalChrootConfig;
    type Artifact = LocalChrootArtifact;

    /// `local-chroot` has no template functions in its keys: `vars` is
    /// not used; nothing is touched yet.
    fn with_vars(config: LocalChrootConfig, _vars: &TemplateVars) -> Result<Self, Error> {
        Ok(Self {
            plan: Box::new(Plan::new(&config)?),
            provisioners: Provisioners::default(),
        })
    }

    fn scope(&self) -> Option<crate::journal::Scope> {
        Some(crate::journal::Scope::new(BUILDER, crate::journal::LOCAL))
    }

    fn provisioners_mut(&mut self) -> &mut Provisioners {
        &mut self.provisioners
    }

    async fn run(
        &self,
        runner: &Runner,
        token: CancellationToken,
    ) -> Result<Self::Artifact, BuildError> {
        let p = &self.plan;
        let mut work = p.output.clone().into_os_string();
        work.push(format!(".{}.work.raw", runner.id()));
        let work = PathBuf::from(work);
        let label = format!("{BUILDER} {}", p.output.display());
        let built = runner
            .run(&label, token, |cx| async move {
                if let Some(scope) = self.scope() {
                    cx.scope(scope);
                }
                if tokio::fs::try_exists(&p.output).await.unwrap_or(false) {
                    return Err(Error::Config(format!(
                        "builder {BUILDER}: {} already exists; not overwriting it",
                        p.output.display()
                    )));
                }
                let h = &p.chroot.host;
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
                        cx.step(&Partition::new(*table), f).await?
                    }
                };
                let attached = cx.step(&AttachLoop::new(h.clone()), file).await?;
                let mut chroot = ChrootPipeline::new(&p.chroot, self.provisioners.steps());
                if let Input::Scratch {
                    filesystem,
                    label,
                    rootfs,
                    ..
                } = &p.input
                {
                    chroot = chroot
                        .mkfs(filesystem, label.clone())
                        .populate(rootfs.clone());
                }
                cx.step(&chroot, attached.device.clone()).await?;
                let file = cx.step(&DetachLoop::new(h.clone()), attached).await?;
                match p.output_format {
                    DiskFormat::Raw => {
                        let out = p.output.clone();
                        let rename = crate::from_fn("write output", move |cx, file: PathBuf| {
                            let out = out.clone();
                            async move {
                                cx.check_cancelled()?;
                                // The output is the build's only while it
                                // is not done: removed if it fails or dies.
                                output_in_progress(&cx, &out);
                                tokio::fs::rename(&file, &out).await.map_err(|e| {
                                    Error::io(
                                        format!("renaming {} to {}", file.display(), out.display()),
                                        e,
                                    )
                                })?;
                                Ok(out)
                            }
                        });
                        let out = cx.step(&rename, file).await?;
                        if let Some(keys) = &p.imgapi {
                            let manifest =
                                crate::from_fn("imgapi manifest", |cx, out: PathBuf| async move {
                                    imgapi::write(&cx, h, keys, &out).await?;
                                    Ok(out)
                                });
                            return cx.step(&manifest, out).await;
                        }
                        Ok(out)
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

/// Registers the removal of output file `path` if the build fails or its
/// process dies before the end (journaled as an `image file`).
pub(crate) fn output_in_progress(cx: &crate::StepCx, path: &std::path::Path) {
    let p = path.to_path_buf();
    cx.on_failure(
        crate::Resource::new("image file", p.display().to_string()),
        move |_| crate::steps::chroot::remove_file(p),
    );
}

impl Artifact for LocalChrootArtifact {
    fn kind(&self) -> ArtifactKind {
        ArtifactKind::new(BUILDER, Self::BUILDER_ID, "local")
    }

    /// The output file.
    fn id(&self) -> Option<String> {
        Some(self.path.display().to_string())
    }

    /// The output file's name.
    fn name(&self) -> &str {
        self.path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
    }

    fn files(&self) -> Vec<PathBuf> {
        vec![self.path.clone()]
    }

    fn build(&self) -> (&BuildId, &CleanupReport) {
        (&self.build_id, &self.cleanup)
    }

    /// The file's format.
    fn details(&self) -> serde_json::Value {
        serde_json::json!({"format": self.format.to_string()})
    }
}

impl BuilderConfig for LocalChrootConfig {
    fn from_block(block: &serde_json::Value) -> Result<Self, Error> {
        Self::from_json(block)
    }
}
