use futures::{Stream, TryStreamExt};
use serde::{Deserialize, Serialize};

use super::{FiltersSnapshot, client_token, read_request, required};
use crate::api::Empty;
use crate::types::{PermissionsChange, Snapshot};
use crate::{Client, Result};

read_request! {
    /// `ReadSnapshotsRequest`.
    ReadSnapshotsRequest, FiltersSnapshot
}

/// `CreateSnapshotRequest`: from a volume ([`CreateSnapshotRequest::from_volume`]),
/// a copy of another snapshot, or an import.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateSnapshotRequest {
    /// Source volume.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume_id: Option<String>,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Copy: source snapshot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_snapshot_id: Option<String>,
    /// Copy: source region.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_region_name: Option<String>,
    /// Import: bucket object.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_location: Option<String>,
    /// Import: size in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot_size: Option<i64>,
    /// Idempotency token; filled in by the client when `None`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_token: Option<String>,
    /// Only check permissions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
}

impl CreateSnapshotRequest {
    /// A snapshot of `volume_id`.
    pub fn from_volume(volume_id: impl Into<String>) -> Self {
        Self {
            volume_id: Some(volume_id.into()),
            ..Self::default()
        }
    }
}

/// `UpdateSnapshotRequest` (create-volume permissions).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateSnapshotRequest {
    /// Snapshot.
    pub snapshot_id: String,
    /// Permissions to add or remove.
    pub permissions_to_create_volume: PermissionsChange,
    /// Only check permissions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
}

/// `DeleteSnapshotRequest`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteSnapshotRequest {
    /// Snapshot.
    pub snapshot_id: String,
    /// Only check permissions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ReadSnapshotsResponse {
    #[serde(default)]
    snapshots: Vec<Snapshot>,
    #[serde(default)]
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SnapshotResponse {
    #[serde(default)]
    snapshot: Option<Snapshot>,
}

/// Snapshots.
#[derive(Debug, Clone)]
pub struct Snapshots {
    client: Client,
}

impl Snapshots {
    pub(crate) fn new(client: Client) -> Self {
        Self { client }
    }

    /// `CreateSnapshot`; fills in `ClientToken` when missing. The snapshot
    /// starts `pending` (or `in-queue`).
    pub async fn create(&self, req: &CreateSnapshotRequest) -> Result<Snapshot> {
        let mut req = req.clone();
        req.client_token.get_or_insert_with(client_token);
        let r: SnapshotResponse = self.client.call("CreateSnapshot", &req).await?;
        required(r.snapshot, "CreateSnapshot", "Snapshot")
    }

    /// `ReadSnapshots`, every page, as a stream.
    pub fn list(
        &self,
        filters: FiltersSnapshot,
    ) -> impl Stream<Item = Result<Snapshot>> + Send + 'static {
        self.client.stream(
            "ReadSnapshots",
            ReadSnapshotsRequest::filtered(filters),
            |r: ReadSnapshotsResponse| (r.snapshots, r.next_page_token),
        )
    }

    /// `ReadSnapshots`, every page, collected.
    pub async fn read(&self, filters: FiltersSnapshot) -> Result<Vec<Snapshot>> {
        self.list(filters).try_collect().await
    }

    /// `ReadSnapshots` for one id; `None` when it does not exist (or is not visible).
    pub async fn find(&self, snapshot_id: &str) -> Result<Option<Snapshot>> {
        Ok(self
            .read(FiltersSnapshot::ids([snapshot_id]))
            .await?
            .into_iter()
            .next())
    }

    /// `UpdateSnapshot`: changes who may create volumes from it.
    pub async fn update_permissions(
        &self,
        snapshot_id: &str,
        change: PermissionsChange,
    ) -> Result<Option<Snapshot>> {
        let req = UpdateSnapshotRequest {
            snapshot_id: snapshot_id.to_owned(),
            permissions_to_create_volume: change,
            dry_run: None,
        };
        let r: SnapshotResponse = self.client.call("UpdateSnapshot", &req).await?;
        Ok(r.snapshot)
    }

    /// `DeleteSnapshot`.
    pub async fn delete(&self, snapshot_id: &str) -> Result<()> {
        let req = DeleteSnapshotRequest {
            snapshot_id: snapshot_id.to_owned(),
            dry_run: None,
        };
        let _: Empty = self.client.call("DeleteSnapshot", &req).await?;
        Ok(())
    }
}
