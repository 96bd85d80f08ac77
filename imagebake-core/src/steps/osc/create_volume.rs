use std::borrow::Cow;
use std::collections::BTreeMap;

use async_trait::async_trait;
use osc_client::Client;
use osc_client::api::{CreateVolumeRequest, FiltersVolume};
use osc_client::types::{Image, Tag, Volume, VolumeState, VolumeType};

use super::{Waits, api, build_tags, remove_volume};
use crate::{Cleanup, Create, Error, Poll, Resource, Step, StepCx, UndoHandle};

/// The working volume to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeSpec {
    /// The host VM's subregion.
    pub subregion: String,
    /// The source OMI (its root snapshot is copied), or `None` for a blank
    /// volume (from scratch).
    pub source: Option<Image>,
    /// `root_volume_size` in GiB (0: the source's size; used only when larger).
    pub size: u64,
    /// `root_volume_type` (default: the source root's type, `gp2` from scratch).
    pub volume_type: Option<VolumeType>,
    /// `root_volume_tags`.
    pub tags: BTreeMap<String, String>,
}

/// The volume the build works on; deleted at the end of the build.
#[derive(Debug, Clone)]
pub struct WorkVolume {
    /// Its id.
    pub volume_id: String,
    /// Size in GiB.
    pub size: u64,
    /// The registered undo (`DeleteVolume`).
    pub undo: UndoHandle,
}

/// The plugin's StepCreateVolume: `CreateVolume` in the host's subregion
/// from the source's root snapshot (or blank), tagged with the build id and
/// `root_volume_tags`, then waits for `available`. The volume is the
/// build's from the moment the request is sent ([`StepCx::create`]: a
/// Ctrl-C before the answer looks it up by its `ClientToken` and deletes
/// it); its delete runs whatever the outcome.
#[derive(Debug, Clone)]
pub struct CreateVolume {
    client: Client,
    spec: VolumeSpec,
    waits: Waits,
}

impl CreateVolume {
    /// Makes the volume `spec` describes.
    pub fn new(client: Client, spec: VolumeSpec, waits: Waits) -> Self {
        Self {
            client,
            spec,
            waits,
        }
    }

    fn request(&self) -> Result<CreateVolumeRequest, Error> {
        let s = &self.spec;
        let Some(image) = &s.source else {
            if s.size == 0 {
                return Err(Error::Config(
                    "root_volume_size is needed from scratch".into(),
                ));
            }
            let mut r = CreateVolumeRequest::blank(&s.subregion, s.size);
            r.volume_type = Some(s.volume_type.clone().unwrap_or(VolumeType::Gp2));
            return Ok(r);
        };
        let bsu = image
            .root_mapping()
            .and_then(|m| m.bsu.clone())
            .ok_or_else(|| Error::Config(format!("{}: no root BSU mapping", image.image_id)))?;
        let snap = bsu.snapshot_id.clone().ok_or_else(|| {
            Error::Config(format!(
                "{}: the root mapping has no snapshot",
                image.image_id
            ))
        })?;
        let mut r = CreateVolumeRequest::from_snapshot(&s.subregion, snap);
        let source_size = bsu.volume_size.unwrap_or(0);
        r.size = Some(source_size.max(s.size)).filter(|n| *n > 0);
        let source_type = bsu.volume_type.clone();
        let vtype = s.volume_type.clone().or(source_type.clone());
        if vtype == Some(VolumeType::Io1) && source_type != Some(VolumeType::Io1) {
            return Err(Error::Config(
                "root_volume_type io1 needs an io1 source root (iops are not configurable)".into(),
            ));
        }
        if vtype == source_type {
            r.iops = bsu.iops;
        }
        r.volume_type = vtype;
        Ok(r)
    }
}

#[async_trait]
impl Step<()> for CreateVolume {
    type Out = WorkVolume;

    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed("create volume")
    }

    async fn run(&self, cx: &StepCx, (): ()) -> Result<WorkVolume, Error> {
        let mut req = self.request()?;
        cx.check_cancelled()?;
        // One ClientToken for every attempt: the client's retry after a lost
        // answer gets the volume the first attempt made, never a second one.
        req.client_token = Some(uuid::Uuid::new_v4().to_string());
        // The token is also the journal's name of the create in flight: a
        // `cleanup` after a crash finds what it made by it
        // ([`OscSweeper::find_named`](crate::builders::osc_chroot::OscSweeper)).
        let in_flight = req.client_token.clone();
        let (client, token) = (self.client.clone(), req.client_token.clone());
        let find = move || {
            let (client, token) = (client.clone(), token.clone());
            async move {
                let filters = FiltersVolume {
                    client_tokens: token.into_iter().collect(),
                    ..FiltersVolume::default()
                };
                client
                    .volumes()
                    .read(filters)
                    .await
                    .map_err(|e| api("ReadVolumes (by ClientToken)", e))
            }
        };
        let client = self.client.clone();
        let undo = move |v: &Volume| {
            let (c, id) = (client.clone(), v.volume_id.clone());
            Cleanup::always(Resource::new("volume", id.clone()), move |_| {
                remove_volume(c, id)
            })
        };
        let client = self.client.clone();
        let send = async move {
            let vols = client.volumes();
            vols.create(&req).await.map_err(|e| api("CreateVolume", e))
        };
        let made = cx
            .create(Create::new("volume", in_flight, find, undo), send)
            .await?;
        let (v, undo) = (made.value, made.undo);
        let mut tags = build_tags(cx.build_id());
        tags.extend(self.spec.tags.iter().map(|(k, v)| Tag::new(k, v)));
        cx.cancellable(self.client.tags().create([v.volume_id.clone()], tags))
            .await?
            .map_err(|e| api(format!("CreateTags {}", v.volume_id), e))?;
        let client = self.client.clone();
        let id = v.volume_id.clone();
        let opts =
            self.waits
                .learning(self.waits.volume, &self.client, "osc volume create", v.size);
        let ready = cx
            .wait_for(format!("volume {id}"), &opts, || {
                let (client, id) = (client.clone(), id.clone());
                async move {
                    Ok::<_, osc_client::Error>(match client.volumes().find(&id).await? {
                        None => Poll::Failed("not found".to_owned()),
                        Some(v) => match &v.state {
                            Some(VolumeState::Available) => Poll::Done(v),
                            Some(VolumeState::Error) => Poll::Failed("error".to_owned()),
                            s => Poll::Pending(
                                s.as_ref().map_or("?".to_owned(), ToString::to_string),
                            ),
                        },
                    })
                }
            })
            .await?;
        Ok(WorkVolume {
            volume_id: ready.volume_id,
            size: ready.size,
            undo,
        })
    }
}
