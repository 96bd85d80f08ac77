use std::borrow::Cow;

use async_trait::async_trait;
use oxide_client::{NameOrId, Snapshot, SnapshotCreate, SnapshotState};

use super::{
    OxideApi, Snapshotted, StoppedInstance, api, create_or_adopt, delete, description, found,
    made_by,
};
use crate::{Error, Resource, Step, StepCx};

/// `snapshot_create` of the stopped instance's boot disk, named after the
/// instance, the build id in its description. Its delete is registered at
/// once, to run if the build fails. The rack answers with the finished
/// snapshot; one that is not `ready` yet is polled (within
/// `state_timeout`), and `faulted` ends the build.
#[derive(Debug, Clone)]
pub struct CreateSnapshot {
    api: OxideApi,
}

impl CreateSnapshot {
    /// Snapshots with `api`.
    pub fn new(api: OxideApi) -> Self {
        Self { api }
    }
}

#[async_trait]
impl Step<StoppedInstance> for CreateSnapshot {
    type Out = Snapshotted;

    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed("create snapshot")
    }

    async fn run(&self, cx: &StepCx, s: StoppedInstance) -> Result<Snapshotted, Error> {
        cx.check_cancelled()?;
        let build = cx.build_id().clone();
        let inst = s.instance;
        let name = inst.name.clone();
        let disk: NameOrId = match inst.boot_disk {
            Some(d) => NameOrId::Id(d),
            None => NameOrId::Name(name.clone()),
        };
        let body = SnapshotCreate::new(name.clone(), disk.clone()).description(description(&build));
        let c = &self.api.client;
        let p = &self.api.project;
        let snap: Snapshot = create_or_adopt(
            || c.snapshot_create(p, &body),
            || async {
                let s = found(c.snapshot_view(NameOrId::Name(name.clone()), Some(p)).await)?;
                Ok(s.filter(|s| made_by(&s.description, &build)))
            },
        )
        .await
        .map_err(|e| api(format!("creating snapshot {name} of disk {disk}"), e))?;
        let id = snap.id;
        let a = self.api.clone();
        let undo = cx.on_failure(
            Resource::new("snapshot", id.to_string()).named(name.clone()),
            move |_| async move {
                delete(a.undo_client().snapshot_delete(id, None))
                    .await
                    .map_err(|e| api(format!("deleting snapshot {id}"), e))
            },
        );
        tracing::info!(snapshot = %id, %name, "snapshot created");
        let snapshot = match snap.state {
            SnapshotState::Ready => snap,
            _ => {
                cx.wait_for(
                    format!("snapshot {name} ({id}) to be ready"),
                    &self.api.waits.options(),
                    || async move {
                        Ok::<_, oxide_client::Error>(
                            c.snapshot_view(id, None).await?.toward_ready(),
                        )
                    },
                )
                .await?
            }
        };
        Ok(Snapshotted {
            instance: inst,
            snapshot,
            undo,
        })
    }
}
