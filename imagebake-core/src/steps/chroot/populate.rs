use std::borrow::Cow;
use std::path::PathBuf;

use async_trait::async_trait;

use super::Mounted;
use crate::{Error, Step, StepCx};

/// What a from-scratch root is filled with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootfsSource {
    /// A tarball, extracted with `tar -xpf FILE -C ROOT --numeric-owner`
    /// (compression detected by tar).
    Tarball(PathBuf),
    /// A directory tree, copied with `cp -a DIR/. ROOT/`.
    Directory(PathBuf),
}

/// Fills a freshly made root filesystem.
#[derive(Debug, Clone)]
pub struct Populate {
    source: RootfsSource,
}

impl Populate {
    /// Fills from `source`.
    pub fn new(source: RootfsSource) -> Self {
        Self { source }
    }
}

#[async_trait]
impl Step<Mounted> for Populate {
    type Out = Mounted;

    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed("populate root")
    }

    async fn run(&self, cx: &StepCx, m: Mounted) -> Result<Mounted, Error> {
        let root = m.mount_path.to_string_lossy().into_owned();
        match &self.source {
            RootfsSource::Tarball(t) => {
                let t = t.to_string_lossy();
                m.host
                    .step_run(cx, &["tar", "-xpf", &t, "-C", &root, "--numeric-owner"])
                    .await?;
            }
            RootfsSource::Directory(d) => {
                let src = format!("{}/.", d.to_string_lossy().trim_end_matches('/'));
                m.host.step_run(cx, &["cp", "-a", &src, &root]).await?;
            }
        }
        Ok(m)
    }
}
