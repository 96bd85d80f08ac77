use std::borrow::Cow;
use std::path::PathBuf;

use async_trait::async_trait;

use crate::{Error, Resource, Step, StepCx};

/// Creates a blank (sparse) raw image file of a given size, removed at the
/// end of the build whatever its outcome (it is a working copy).
#[derive(Debug, Clone)]
pub struct BlankImage {
    path: PathBuf,
    size: u64,
}

impl BlankImage {
    /// A blank file at `path` of `size` bytes.
    pub fn new(path: impl Into<PathBuf>, size: u64) -> Self {
        Self {
            path: path.into(),
            size,
        }
    }
}

#[async_trait]
impl Step<()> for BlankImage {
    type Out = PathBuf;

    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed("create blank image")
    }

    async fn run(&self, cx: &StepCx, (): ()) -> Result<PathBuf, Error> {
        let path = self.path.clone();
        let what = format!("creating {}", path.display());
        let f = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .await
            .map_err(|e| Error::io(what.clone(), e))?;
        let p = path.clone();
        cx.defer(
            Resource::new("image file", path.display().to_string()),
            move |_| remove_file(p),
        );
        f.set_len(self.size).await.map_err(|e| Error::io(what, e))?;
        Ok(path)
    }
}

/// Removes a file; a missing one is fine.
pub(crate) async fn remove_file(p: PathBuf) -> Result<(), Error> {
    match tokio::fs::remove_file(&p).await {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(format!("removing {}", p.display()), e)),
    }
}
