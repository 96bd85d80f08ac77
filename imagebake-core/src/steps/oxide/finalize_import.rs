use std::borrow::Cow;

use async_trait::async_trait;
use oxide_client::{FinalizeDisk, NameOrId, Snapshot};
use uuid::Uuid;

use super::snapshot::delete_snapshot;
use super::{ImportedSnapshot, OxideApi, UploadedDisk, api, create_or_adopt, found};
use crate::{Create, Error, Step, StepCx, UndoWhen};

/// `disk_finalize_import` of the uploaded disk into a snapshot named
/// `snapshot_name` (the disk ends `detached`). The snapshot is the build's
/// from the moment the request is sent ([`StepCx::create`]: found by its
/// name and its disk); its removal runs at the end of the build whatever
/// the outcome (the image keeps its own copy). A failed finalize leaves
/// the disk `import_ready`, which the disk's removal handles.
#[derive(Debug, Clone)]
pub struct FinalizeImport {
    api: OxideApi,
    snapshot_name: String,
}

impl FinalizeImport {
    /// Finalizes with `api` into a snapshot named `snapshot_name`.
    pub fn new(api: OxideApi, snapshot_name: String) -> Self {
        Self { api, snapshot_name }
    }
}

#[async_trait]
impl Step<UploadedDisk> for FinalizeImport {
    type Out = ImportedSnapshot;

    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed("finalize import")
    }

    async fn run(&self, cx: &StepCx, d: UploadedDisk) -> Result<ImportedSnapshot, Error> {
        cx.check_cancelled()?;
        let disk_id = d.disk.id;
        let name = self.snapshot_name.clone();
        let (a, n) = (self.api.clone(), name.clone());
        let find = move || {
            let (a, n) = (a.clone(), n.clone());
            async move {
                find_snapshot(&a, &n, disk_id)
                    .await
                    .map_err(|e| api(format!("looking up snapshot {n}"), e))
            }
        };
        let a = self.api.clone();
        let undo = move |s: &Snapshot| delete_snapshot(&a, s, UndoWhen::Always);
        let (a, n) = (self.api.clone(), name.clone());
        let send = async move {
            let body = FinalizeDisk::with_snapshot(n.clone());
            create_or_adopt(
                || async {
                    a.client.disk_finalize_import(disk_id, None, &body).await?;
                    a.client
                        .snapshot_view(NameOrId::Name(n.clone()), Some(&a.project))
                        .await
                },
                || find_snapshot(&a, &n, disk_id),
            )
            .await
            .map_err(|e| api(format!("finalizing disk {disk_id} into snapshot {n}"), e))
        };
        let made = cx
            .create(
                Create::new("snapshot", Some(name.clone()), find, undo),
                send,
            )
            .await?;
        let snapshot = made.value;
        tracing::info!(snapshot = %snapshot.id, %name, disk = %disk_id, "import finalized");
        Ok(ImportedSnapshot {
            disk: d.disk,
            snapshot,
        })
    }
}

/// The snapshot named `name` taken of disk `disk`, if there is one.
async fn find_snapshot(
    a: &OxideApi,
    name: &str,
    disk: Uuid,
) -> Result<Option<Snapshot>, oxide_client::Error> {
    let s = found(
        a.client
            .snapshot_view(NameOrId::Name(name.to_owned()), Some(&a.project))
            .await,
    )?;
    Ok(s.filter(|s| s.disk_id == disk))
}
