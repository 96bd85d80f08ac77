use std::borrow::Cow;

use async_trait::async_trait;
use oxide_client::{Client, NameOrId, Snapshot, SnapshotCreate, SnapshotState};

use super::{
    OxideApi, Snapshotted, StoppedInstance, api, create_or_adopt, description, found, made_by,
    remove_by_delete,
};
use crate::{BuildId, Cleanup, Create, Error, Resource, Step, StepCx, UndoCx, UndoWhen};

/// `snapshot_create` of the stopped instance's boot disk, named after the
/// instance, the build id in its description. It is the build's from the
/// moment the request is sent ([`StepCx::create`]: a Ctrl-C before the
/// answer looks it up by name and deletes it); its delete runs if the build
/// fails. The rack answers with the finished
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
        let (a, n, b) = (self.api.clone(), name.clone(), build.clone());
        let find = move || {
            let (a, n, b) = (a.clone(), n.clone(), b.clone());
            async move {
                find_snapshot(&a, &n, &b)
                    .await
                    .map_err(|e| api(format!("looking up snapshot {n}"), e))
            }
        };
        let a = self.api.clone();
        let undo = move |s: &Snapshot| delete_snapshot(&a, s, UndoWhen::OnFailure);
        let (a, n) = (self.api.clone(), name.clone());
        let send = async move {
            create_or_adopt(
                || a.client.snapshot_create(&a.project, &body),
                || find_snapshot(&a, &n, &build),
            )
            .await
            .map_err(|e| api(format!("creating snapshot {n} of disk {disk}"), e))
        };
        let made = cx
            .create(
                Create::new("snapshot", Some(name.clone()), find, undo),
                send,
            )
            .await?;
        let (snap, undo) = (made.value, made.undo);
        let id = snap.id;
        let c = &self.api.client;
        tracing::info!(snapshot = %id, %name, "snapshot created");
        let snapshot = match snap.state {
            SnapshotState::Ready => snap,
            _ => {
                cx.wait_for(
                    format!("snapshot {name} ({id}) to be ready"),
                    &self.api.learning("oxide snapshot create", &inst.size),
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

/// The undo that deletes snapshot `s` (`when`: on failure only for a
/// build's result, always for a temporary).
pub(crate) fn delete_snapshot(api_: &OxideApi, s: &Snapshot, when: UndoWhen) -> Cleanup {
    let (a, id) = (api_.clone(), s.id);
    let resource = Resource::new("snapshot", id.to_string()).named(s.name.clone());
    let undo = move |u: UndoCx| async move {
        let what = format!("snapshot {id}");
        remove_by_delete(
            &a,
            &what,
            u.timeout(),
            u.token(),
            move |c: Client| async move { c.snapshot_delete(id, None).await },
        )
        .await
        .map(drop)
    };
    match when {
        UndoWhen::Always => Cleanup::always(resource, undo),
        UndoWhen::OnFailure => Cleanup::on_failure(resource, undo),
    }
}

/// This build's snapshot named `name`, if there is one.
async fn find_snapshot(
    a: &OxideApi,
    name: &str,
    build: &BuildId,
) -> Result<Option<Snapshot>, oxide_client::Error> {
    let s = found(
        a.client
            .snapshot_view(NameOrId::Name(name.to_owned()), Some(&a.project))
            .await,
    )?;
    Ok(s.filter(|s| made_by(&s.description, build)))
}
