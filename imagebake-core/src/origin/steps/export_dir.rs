use std::borrow::Cow;

use async_trait::async_trait;
use triton_client::manta::MantaClient;

use super::manta;
use crate::{Error, Resource, Step, StepCx};

/// Makes the export directory and its missing parents (ExportImage names
/// its copies after an existing directory). The directories this made are
/// removed again if the set fails, deepest first, so a failed set leaves
/// no directory behind; one that existed is left as it was.
#[derive(Debug, Clone)]
pub(crate) struct ExportDir {
    manta: MantaClient,
    dir: String,
}

impl ExportDir {
    pub(crate) fn new(manta: MantaClient, dir: String) -> Self {
        Self { manta, dir }
    }
}

#[async_trait]
impl Step<()> for ExportDir {
    type Out = String;

    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed("create export directory")
    }

    async fn run(&self, cx: &StepCx, (): ()) -> Result<String, Error> {
        let dir = self
            .manta
            .resolve(&self.dir)
            .map_err(|e| manta(format!("export directory {}", self.dir), e))?;
        let parts: Vec<&str> = dir.split('/').filter(|s| !s.is_empty()).collect();
        // The directories below `/LOGIN/public` (or `stor`) that are missing.
        let mut missing = Vec::new();
        for depth in (3..=parts.len()).rev() {
            let path = format!("/{}", parts[..depth].join("/"));
            match cx.cancellable(self.manta.head(&path)).await? {
                Ok(_) => break,
                Err(e) if e.is_not_found() => missing.push(path),
                Err(e) => return Err(manta(format!("looking at {path}"), e)),
            }
        }
        if let Some(top) = missing.last() {
            let (client, remove) = (self.manta.clone(), missing.clone());
            cx.on_failure(
                Resource::new("manta directory", top.clone()),
                move |_ucx| async move {
                    // Deepest first; a parent another writer filled stays.
                    for (i, path) in remove.iter().enumerate() {
                        match client.delete(path).await {
                            Ok(()) => {}
                            Err(e) if e.is_not_found() => {}
                            Err(e) if i > 0 && e.code() == Some("DirectoryNotEmpty") => {}
                            Err(e) => return Err(manta(format!("removing {path}"), e)),
                        }
                    }
                    Ok(())
                },
            );
        }
        cx.cancellable(self.manta.mkdirp(&dir))
            .await?
            .map_err(|e| manta(format!("creating {dir}"), e))?;
        Ok(dir)
    }
}
