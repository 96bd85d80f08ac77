//! CreateSnapshot (a copy of the volume file), UpdateSnapshot, DeleteSnapshot.

use serde_json::json;
use tokio::time::Instant;

use super::Locked;
use super::change_perms;
use super::need;
use super::requests::*;
use crate::osc::Shared;
use crate::osc::blockdev;
use crate::osc::error::{OscError, OscResult};
use crate::osc::state::*;

pub(super) async fn create_snapshot(
    sh: &Shared,
    mut st: Locked<'_>,
    r: CreateSnapshotReq,
    fail: bool,
) -> OscResult {
    if let Some(token) = &r.client_token
        && let Some(s) = st
            .snapshots
            .values()
            .find(|s| s.client_token.as_ref() == Some(token))
    {
        return Ok(json!({"Snapshot": st.snapshot_view(s)}));
    }
    if r.file_location.is_some() {
        return Err(OscError::invalid(
            "4045",
            "invalid-parameter: importing a snapshot from a file is not simulated",
        ));
    }
    let (src, volume_id, size) = match (&r.volume_id, &r.source_snapshot_id) {
        (Some(vid), None) => {
            let v = st
                .volumes
                .get(vid)
                .ok_or_else(|| OscError::not_found(vid))?;
            let Some(f) = v.file.clone() else {
                return Err(OscError::internal(format!("{vid} has no backing file")));
            };
            (f, Some(vid.clone()), v.size)
        }
        (None, Some(sid)) => {
            if r.source_region_name.as_deref() != Some(st.region.as_str()) {
                return Err(OscError::missing("SourceRegionName"));
            }
            let s = st
                .snapshots
                .get(sid)
                .filter(|s| State::snapshot_visible(s, ACCOUNT_ID))
                .ok_or_else(|| OscError::not_found(sid))?;
            (s.file.clone(), s.volume_id.clone(), s.volume_size)
        }
        (None, None) => return Err(OscError::missing("VolumeId")),
        (Some(_), Some(_)) => {
            return Err(OscError::invalid(
                "4046",
                "invalid-parameter-set: VolumeId and SourceSnapshotId",
            ));
        }
    };
    let id = st.id("snap");
    let file = sh.data_dir.join("snapshots").join(format!("{id}.img"));
    // The copy runs without the state lock: other requests go on meanwhile.
    drop(st);
    let copied = blockdev::copy_sparse(&src, &file, 0).await;
    let mut st = sh.state.lock().await;
    copied.map_err(|e| OscError::internal(format!("copying into {id}: {e}")))?;
    if let Some(token) = &r.client_token {
        // The same request, answered while this one copied.
        if let Some(s) = st
            .snapshots
            .values()
            .find(|s| s.client_token.as_ref() == Some(token))
        {
            let _ = tokio::fs::remove_file(&file).await;
            return Ok(json!({"Snapshot": st.snapshot_view(s)}));
        }
    }
    let rec = SnapshotRec {
        id: id.clone(),
        volume_id,
        volume_size: size,
        owner: ACCOUNT_ID.to_owned(),
        alias: None,
        description: r.description.clone().unwrap_or_default(),
        created: now_iso(),
        client_token: r.client_token.clone(),
        phase: Phase::Pending,
        ready_at: Instant::now() + st.delays.snapshot_create,
        fail,
        perms: Perms::default(),
        file,
        seed: false,
    };
    let view = st.snapshot_view(&rec);
    sh.faults
        .record_created("snapshot", rec.client_token.as_deref().unwrap_or(&id));
    st.snapshots.insert(id, rec);
    Ok(json!({"Snapshot": view}))
}

pub(super) fn update_snapshot(st: &mut State, r: UpdateSnapshotReq) -> OscResult {
    let id = need(&r.snapshot_id, "SnapshotId")?.clone();
    let change = r
        .permissions_to_create_volume
        .ok_or_else(|| OscError::missing("PermissionsToCreateVolume"))?;
    let s = st
        .snapshots
        .get_mut(&id)
        .filter(|s| s.owner == ACCOUNT_ID)
        .ok_or_else(|| OscError::not_found(&id))?;
    change_perms(&mut s.perms, change);
    let s = s.clone();
    Ok(json!({"Snapshot": st.snapshot_view(&s)}))
}

pub(super) async fn delete_snapshot(st: &mut State, r: IdReq) -> OscResult {
    let id = need(&r.snapshot_id, "SnapshotId")?.clone();
    let s = st
        .snapshots
        .get(&id)
        .filter(|s| s.owner == ACCOUNT_ID)
        .ok_or_else(|| OscError::not_found(&id))?;
    let used_by = st.images.values().find(|i| {
        i.mappings
            .iter()
            .any(|m| m["Bsu"]["SnapshotId"].as_str() == Some(id.as_str()))
    });
    if let Some(img) = used_by {
        return Err(OscError::conflict(
            "9002",
            format!("busy: {id} is used by image {}", img.id),
        ));
    }
    let _ = tokio::fs::remove_file(&s.file).await;
    st.snapshots.remove(&id);
    st.tags.remove(&id);
    Ok(json!({}))
}
