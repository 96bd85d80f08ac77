use std::borrow::Cow;
use std::time::Duration;

use async_trait::async_trait;
use oxide_client::{Client, Disk, DiskCreate, DiskState, FinalizeDisk, NameOrId};
use uuid::Uuid;

use super::{
    ImportDisk, ImportSpec, OxideApi, RawFile, api, create_or_adopt, description, found, made_by,
};
use crate::{BuildId, Cleanup, Create, Error, Resource, Step, StepCx};

/// `disk_create` of a blank disk for bulk import (`importing_blocks`),
/// named `disk_name`, the file's size rounded up to a whole GiB, the build
/// id in its description. It is the build's from the moment the request is
/// sent ([`StepCx::create`]); its removal runs at the end of the build
/// whatever the outcome ([`abandon_disk`]: the image keeps its own copy).
#[derive(Debug, Clone)]
pub struct CreateImportDisk {
    api: OxideApi,
    spec: ImportSpec,
}

impl CreateImportDisk {
    /// Creates the disk `spec` names with `api`.
    pub fn new(api: OxideApi, spec: ImportSpec) -> Self {
        Self { api, spec }
    }
}

#[async_trait]
impl Step<RawFile> for CreateImportDisk {
    type Out = ImportDisk;

    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed("create import disk")
    }

    async fn run(&self, cx: &StepCx, file: RawFile) -> Result<ImportDisk, Error> {
        cx.check_cancelled()?;
        let build = cx.build_id().clone();
        let name = self.spec.disk_name.clone();
        let body =
            DiskCreate::importing_blocks(name.clone(), file.disk_size(), self.spec.block_size)
                .description(description(&build));
        let (a, n, b) = (self.api.clone(), name.clone(), build.clone());
        let find = move || {
            let (a, n, b) = (a.clone(), n.clone(), b.clone());
            async move {
                find_disk(&a, &n, &b)
                    .await
                    .map_err(|e| api(format!("looking up disk {n}"), e))
            }
        };
        let a = self.api.clone();
        let undo = move |d: &Disk| {
            let (c, id) = (a.undo_client(), d.id);
            Cleanup::always(
                Resource::new("disk", id.to_string()).named(d.name.clone()),
                move |_| async move { abandon_disk(&c, id).await },
            )
        };
        let (a, n) = (self.api.clone(), name.clone());
        let send = async move {
            create_or_adopt(
                || a.client.disk_create(&a.project, &body),
                || find_disk(&a, &n, &build),
            )
            .await
            .map_err(|e| api(format!("creating disk {n} in project {}", a.project), e))
        };
        let made = cx
            .create(Create::new("disk", Some(name.clone()), find, undo), send)
            .await?;
        let disk = made.value;
        tracing::info!(disk = %disk.id, %name, size = disk.size, "import disk created");
        Ok(ImportDisk { file, disk })
    }
}

/// This build's disk named `name`, if there is one.
async fn find_disk(
    a: &OxideApi,
    name: &str,
    build: &BuildId,
) -> Result<Option<Disk>, oxide_client::Error> {
    let d = found(
        a.client
            .disk_view(NameOrId::Name(name.to_owned()), Some(&a.project))
            .await,
    )?;
    Ok(d.filter(|d| made_by(&d.description, build)))
}

/// Removes a disk made for a bulk import, from whatever state the import
/// left it in, as `oxide disk import` cleans up: while `creating`, waits;
/// `importing_from_bulk_writes`, stops the writes; `import_ready`,
/// finalizes without a snapshot; `detached` or `faulted`, deletes it. Gone
/// (404) is done. A 400 (the state moved) reads the state again; a server
/// error is tried again after the client's backoff.
pub async fn abandon_disk(client: &Client, id: Uuid) -> Result<(), Error> {
    const ROUNDS: u32 = 20;
    let what = |step: &str| format!("{step} disk {id} (removing the import disk)");
    let mut last = None;
    for round in 0..ROUNDS {
        let Some(disk) =
            found(client.disk_view(id, None).await).map_err(|e| api(what("viewing"), e))?
        else {
            return Ok(());
        };
        let r = match disk.state {
            DiskState::Creating | DiskState::Finalizing => {
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
            DiskState::ImportingFromBulkWrites => client
                .disk_bulk_write_import_stop(id, None)
                .await
                .map_err(|e| ("stopping the bulk writes of", e)),
            DiskState::ImportReady | DiskState::ImportingFromUrl => client
                .disk_finalize_import(id, None, &FinalizeDisk::default())
                .await
                .map_err(|e| ("finalizing", e)),
            DiskState::Detached | DiskState::Faulted => {
                return super::delete(client.disk_delete(id, None))
                    .await
                    .map_err(|e| api(what("deleting"), e));
            }
            other => {
                return Err(Error::Config(format!(
                    "disk {id} is {}: not removing it (it is not an abandoned import)",
                    other.name()
                )));
            }
        };
        match r {
            Ok(()) => {}
            Err((_, e)) if e.status() == Some(400) => {}
            Err((step, e)) if e.status().is_none_or(|s| s >= 500) => {
                tokio::time::sleep(client.retry_policy().backoff.delay(round)).await;
                last = Some(api(what(step), e));
            }
            Err((step, e)) => return Err(api(what(step), e)),
        }
    }
    Err(last.unwrap_or_else(|| {
        Error::Config(format!(
            "disk {id} did not reach a deletable state in {ROUNDS} rounds (removing the import disk)"
        ))
    }))
}
