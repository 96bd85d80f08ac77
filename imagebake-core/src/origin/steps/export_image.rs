use std::borrow::Cow;

use async_trait::async_trait;
use futures::TryStreamExt;
use serde_json::{Value, json};
use triton_client::Client;
use triton_client::manta::{EntryKind, MantaClient};
use triton_client::types::Image;

use super::manta;
use crate::origin::{ExportedImage, export_portable};
use crate::{Error, Resource, Step, StepCx};

/// ExportImage into the set's directory and the manifest made portable
/// ([`export_portable`]). Before the export is asked for, an undo is
/// registered that removes every object of this image in the directory
/// (`<name>-<version>.*`), so a failure or Ctrl-C at any point (even one
/// where the export wrote only part) leaves none of them.
#[derive(Debug, Clone)]
pub(crate) struct ExportImage {
    client: Client,
    manta: MantaClient,
    dir: String,
    origin: Image,
}

impl ExportImage {
    pub(crate) fn new(client: Client, manta: MantaClient, dir: String, origin: Image) -> Self {
        Self {
            client,
            manta,
            dir,
            origin,
        }
    }
}

#[async_trait]
impl Step<Image> for ExportImage {
    type Out = (Image, ExportedImage);

    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed("export image")
    }

    async fn run(&self, cx: &StepCx, image: Image) -> Result<(Image, ExportedImage), Error> {
        let prefix = format!("{}-{}.", image.name, image.version);
        let (client, dir, p) = (self.manta.clone(), self.dir.clone(), prefix.clone());
        cx.on_failure(
            Resource::new("manta objects", format!("{}/{prefix}*", self.dir)),
            move |_ucx| async move { remove_objects(&client, &dir, &p).await },
        );
        let origin_manifest =
            json!({ "requirements": self.origin.requirements.clone().unwrap_or(Value::Null) });
        let exported = cx
            .cancellable(export_portable(
                &self.client,
                &self.manta,
                &image.id,
                &self.dir,
                &origin_manifest,
            ))
            .await?
            .map_err(super::origin)?;
        Ok((image, exported))
    }
}

/// Deletes the objects of `dir` whose names start with `prefix` (a
/// missing directory is fine).
pub(crate) async fn remove_objects(
    client: &MantaClient,
    dir: &str,
    prefix: &str,
) -> Result<(), Error> {
    let entries: Vec<_> = match client.list(dir).try_collect().await {
        Ok(e) => e,
        Err(e) if e.is_not_found() => return Ok(()),
        Err(e) => return Err(manta(format!("listing {dir}"), e)),
    };
    for entry in entries {
        if !matches!(entry.kind, EntryKind::Object) || !entry.name.starts_with(prefix) {
            continue;
        }
        let path = format!("{dir}/{}", entry.name);
        match client.delete(&path).await {
            Ok(()) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(manta(format!("removing {path}"), e)),
        }
    }
    Ok(())
}
