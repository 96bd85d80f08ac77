use std::borrow::Cow;

use async_trait::async_trait;
use osc_client::Client;
use osc_client::api::{CreateSnapshotRequest, FiltersSnapshot};
use osc_client::types::Snapshot;

use super::{Waits, api, build_tags, remove_snapshot};
use crate::{Cleanup, Create, Error, Poll, Resource, Step, StepCx, UndoHandle};

/// A completed snapshot of the working volume.
#[derive(Debug, Clone)]
pub struct SnapshotDone {
    /// Its id.
    pub snapshot_id: String,
    /// Its size in GiB.
    pub size: u64,
    /// The undo that deletes it if the build fails.
    pub undo: UndoHandle,
}

/// The plugin's StepSnapshot: `CreateSnapshot` of the unlinked volume
/// (tagged with the build id), then waits for `completed` (`in-queue` and
/// `pending` are progress, `error` fails at once). It is the build's from
/// the moment the request is sent ([`StepCx::create`]: a Ctrl-C before the
/// answer looks it up by its `ClientToken` and deletes it); deleted if the
/// build fails or is cancelled later.
#[derive(Debug, Clone)]
pub struct CreateSnapshot {
    client: Client,
    waits: Waits,
}

impl CreateSnapshot {
    /// Snapshots with `client`.
    pub fn new(client: Client, waits: Waits) -> Self {
        Self { client, waits }
    }
}

#[async_trait]
impl Step<String> for CreateSnapshot {
    type Out = SnapshotDone;

    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed("snapshot")
    }

    async fn run(&self, cx: &StepCx, volume_id: String) -> Result<SnapshotDone, Error> {
        cx.check_cancelled()?;
        let mut req = CreateSnapshotRequest::from_volume(&volume_id);
        req.description = Some(format!("imagebake {}", cx.build_id()));
        req.client_token = Some(uuid::Uuid::new_v4().to_string());
        // The token is also the journal's name of the create in flight: a
        // `cleanup` after a crash finds what it made by it
        // ([`OscSweeper::find_named`](crate::builders::osc_chroot::OscSweeper)).
        let in_flight = req.client_token.clone();
        let (client, token) = (self.client.clone(), req.client_token.clone());
        let find = move || {
            let (client, token) = (client.clone(), token.clone());
            async move {
                let filters = FiltersSnapshot {
                    client_tokens: token.into_iter().collect(),
                    ..FiltersSnapshot::default()
                };
                client
                    .snapshots()
                    .read(filters)
                    .await
                    .map_err(|e| api("ReadSnapshots (by ClientToken)", e))
            }
        };
        let client = self.client.clone();
        let undo = move |s: &Snapshot| {
            let (c, id) = (client.clone(), s.snapshot_id.clone());
            Cleanup::on_failure(Resource::new("snapshot", id.clone()), move |_| {
                remove_snapshot(c, id)
            })
        };
        let client = self.client.clone();
        let send = async move {
            let snaps = client.snapshots();
            snaps
                .create(&req)
                .await
                .map_err(|e| api(format!("CreateSnapshot of {volume_id}"), e))
        };
        let made = cx
            .create(Create::new("snapshot", in_flight, find, undo), send)
            .await?;
        let (s, undo) = (made.value, made.undo);
        cx.cancellable(
            self.client
                .tags()
                .create([s.snapshot_id.clone()], build_tags(cx.build_id())),
        )
        .await?
        .map_err(|e| api(format!("CreateTags {}", s.snapshot_id), e))?;
        let client = self.client.clone();
        let id = s.snapshot_id.clone();
        let opts = self.waits.learning(
            self.waits.snapshot,
            &self.client,
            "osc snapshot create",
            s.volume_size.unwrap_or(0),
        );
        let done = cx
            .wait_for(format!("snapshot {id}"), &opts, || {
                let (client, id) = (client.clone(), id.clone());
                async move {
                    Ok::<_, osc_client::Error>(Poll::found(
                        client.snapshots().find(&id).await?,
                        Snapshot::toward_completed,
                    ))
                }
            })
            .await?;
        Ok(SnapshotDone {
            snapshot_id: done.snapshot_id,
            size: done.volume_size.unwrap_or(0),
            undo,
        })
    }
}
