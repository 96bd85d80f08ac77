use futures::{Stream, TryStreamExt};
use serde::{Deserialize, Serialize};

use super::{FiltersVolume, client_token, read_request, required};
use crate::api::Empty;
use crate::types::{Volume, VolumeType};
use crate::{Client, Result};

read_request! {
    /// `ReadVolumesRequest`.
    ReadVolumesRequest, FiltersVolume
}

/// `CreateVolumeRequest`: blank ([`CreateVolumeRequest::blank`]) or from a
/// snapshot ([`CreateVolumeRequest::from_snapshot`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateVolumeRequest {
    /// Subregion, e.g. `eu-west-2a` (must be the VM's to link it).
    pub subregion_name: String,
    /// Size in GiB (required when blank; at least the snapshot's size).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Source snapshot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot_id: Option<String>,
    /// Type (`standard` by default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume_type: Option<VolumeType>,
    /// IOPS (io1 only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iops: Option<u32>,
    /// Idempotency token; the client fills in a fresh one when `None`, so
    /// retries of this call never make two volumes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_token: Option<String>,
    /// Only check permissions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
}

impl CreateVolumeRequest {
    /// A blank volume of `size` GiB.
    pub fn blank(subregion_name: impl Into<String>, size: u64) -> Self {
        Self {
            subregion_name: subregion_name.into(),
            size: Some(size),
            ..Self::default()
        }
    }

    /// A volume from `snapshot_id` (its size unless `size` is set).
    pub fn from_snapshot(
        subregion_name: impl Into<String>,
        snapshot_id: impl Into<String>,
    ) -> Self {
        Self {
            subregion_name: subregion_name.into(),
            snapshot_id: Some(snapshot_id.into()),
            ..Self::default()
        }
    }
}

/// `LinkVolumeRequest`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LinkVolumeRequest {
    /// Volume.
    pub volume_id: String,
    /// VM.
    pub vm_id: String,
    /// `/dev/sdX[X]` or `/dev/xvdX[X]` (X from b; `/dev/sda1` is the root's).
    pub device_name: String,
    /// Only check permissions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
}

/// `UnlinkVolumeRequest`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct UnlinkVolumeRequest {
    /// Volume.
    pub volume_id: String,
    /// Force the unlink (risks data loss).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub force_unlink: Option<bool>,
    /// Only check permissions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
}

/// `DeleteVolumeRequest`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteVolumeRequest {
    /// Volume.
    pub volume_id: String,
    /// Only check permissions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ReadVolumesResponse {
    #[serde(default)]
    volumes: Vec<Volume>,
    #[serde(default)]
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateVolumeResponse {
    #[serde(default)]
    volume: Option<Volume>,
}

/// BSU volumes.
#[derive(Debug, Clone)]
pub struct Volumes {
    client: Client,
}

impl Volumes {
    pub(crate) fn new(client: Client) -> Self {
        Self { client }
    }

    /// `CreateVolume`; fills in `ClientToken` when missing so the retried
    /// attempts are safe. The volume starts `creating`.
    pub async fn create(&self, req: &CreateVolumeRequest) -> Result<Volume> {
        let mut req = req.clone();
        req.client_token.get_or_insert_with(client_token);
        let r: CreateVolumeResponse = self.client.call("CreateVolume", &req).await?;
        required(r.volume, "CreateVolume", "Volume")
    }

    /// `ReadVolumes`, every page, as a stream.
    pub fn list(
        &self,
        filters: FiltersVolume,
    ) -> impl Stream<Item = Result<Volume>> + Send + 'static {
        self.client.stream(
            "ReadVolumes",
            ReadVolumesRequest::filtered(filters),
            |r: ReadVolumesResponse| (r.volumes, r.next_page_token),
        )
    }

    /// `ReadVolumes`, every page, collected.
    pub async fn read(&self, filters: FiltersVolume) -> Result<Vec<Volume>> {
        self.list(filters).try_collect().await
    }

    /// `ReadVolumes` for one id; `None` when it does not exist.
    pub async fn find(&self, volume_id: &str) -> Result<Option<Volume>> {
        Ok(self
            .read(FiltersVolume::ids([volume_id]))
            .await?
            .into_iter()
            .next())
    }

    /// `LinkVolume`: attaches `volume_id` to `vm_id` as `device_name`. The
    /// cloud refuses a repeat rather than repeating it, so after an unknown
    /// outcome (a lost answer, a server error) the volume is read, through
    /// the shared [`imagebake_http::create_or_adopt`]: linked to `vm_id` as
    /// `device_name`, the link is done; not linked, it is sent again (under
    /// the client's retry policy).
    pub async fn link(&self, volume_id: &str, vm_id: &str, device_name: &str) -> Result<()> {
        let req = LinkVolumeRequest {
            volume_id: volume_id.to_owned(),
            vm_id: vm_id.to_owned(),
            device_name: device_name.to_owned(),
            dry_run: None,
        };
        // One attempt per send: the one retry loop is create_or_adopt's.
        let once = self.client.with_retry(imagebake_http::RetryPolicy::never());
        let send = |_| async {
            let _: Empty = once.call("LinkVolume", &req).await?;
            Ok(())
        };
        let linked = || async {
            let v = self.find(volume_id).await?;
            Ok(v.filter(|v| {
                v.linked_volumes
                    .iter()
                    .any(|l| l.vm_id == vm_id && l.device_name == device_name)
            })
            .map(drop))
        };
        imagebake_http::create_or_adopt(&self.client.config().retry, send, linked).await
    }

    /// `UnlinkVolume`. Retried after a lost answer: a repeat that finds the
    /// volume unlinked answers code 9063 (take it as done).
    pub async fn unlink(&self, volume_id: &str, force: bool) -> Result<()> {
        let req = UnlinkVolumeRequest {
            volume_id: volume_id.to_owned(),
            force_unlink: force.then_some(true),
            dry_run: None,
        };
        let _: Empty = self.client.call("UnlinkVolume", &req).await?;
        Ok(())
    }

    /// `DeleteVolume`.
    pub async fn delete(&self, volume_id: &str) -> Result<()> {
        let req = DeleteVolumeRequest {
            volume_id: volume_id.to_owned(),
            dry_run: None,
        };
        let _: Empty = self.client.call("DeleteVolume", &req).await?;
        Ok(())
    }
}
