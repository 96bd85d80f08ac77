//! CreateVolume, LinkVolume (real loop devices), UnlinkVolume, DeleteVolume.

use std::time::Duration;

use serde_json::json;
use tokio::time::Instant;

use super::Locked;
use super::need;
use super::requests::*;
use crate::osc::Shared;
use crate::osc::blockdev::{self, GIB};
use crate::osc::error::{OscError, OscResult};
use crate::osc::state::*;

const VOLUME_TYPES: &[&str] = &["standard", "gp2", "io1"];

pub(super) async fn create_volume(
    sh: &Shared,
    mut st: Locked<'_>,
    r: CreateVolumeReq,
    fail: bool,
) -> OscResult {
    if let Some(token) = &r.client_token
        && let Some(v) = st
            .volumes
            .values()
            .find(|v| v.client_token.as_ref() == Some(token))
    {
        return Ok(json!({"Volume": st.volume_view(v)}));
    }
    let subregion = need(&r.subregion_name, "SubregionName")?.clone();
    if !subregion.starts_with(&st.region) || subregion.len() != st.region.len() + 1 {
        return Err(OscError::invalid(
            "4081",
            format!("invalid-zone: {subregion}"),
        ));
    }
    let volume_type = r
        .volume_type
        .clone()
        .unwrap_or_else(|| "standard".to_owned());
    if !VOLUME_TYPES.contains(&volume_type.as_str()) {
        return Err(OscError::invalid(
            "4073",
            format!("invalid-type: VolumeType {volume_type}"),
        ));
    }
    if let Some(iops) = r.iops {
        if volume_type != "io1" {
            return Err(OscError::invalid(
                "4029",
                "invalid-iops: Iops is only for io1 volumes",
            ));
        }
        let size = r.size.unwrap_or(0);
        if !(100..=13_000).contains(&iops) || (size > 0 && iops > size * 300) {
            return Err(OscError::invalid("4029", format!("invalid-iops: {iops}")));
        }
    }
    let (source, snap_size) = match &r.snapshot_id {
        Some(id) => {
            let s = st
                .snapshots
                .get(id)
                .filter(|s| State::snapshot_visible(s, ACCOUNT_ID))
                .ok_or_else(|| OscError::not_found(id))?;
            if s.phase != Phase::Done {
                return Err(OscError::state(
                    "6003",
                    format!("invalid-state: snapshot {id} is not completed"),
                ));
            }
            (Some(s.file.clone()), s.volume_size)
        }
        None => (None, 0),
    };
    let size = match (r.size, source.is_some()) {
        (Some(s), _) => s,
        (None, true) => snap_size as i64,
        (None, false) => return Err(OscError::missing("Size")),
    };
    if !(1..=14_901).contains(&size) || (size as u64) < snap_size {
        return Err(OscError::invalid(
            "4078",
            format!("invalid-volume-size: {size}"),
        ));
    }
    let id = st.id("vol");
    let file = sh.data_dir.join("volumes").join(format!("{id}.img"));
    // The copy runs without the state lock: other requests go on meanwhile.
    drop(st);
    let made = match &source {
        Some(src) => blockdev::copy_sparse(src, &file, size as u64 * GIB).await,
        None => blockdev::make_blank(&file, size as u64 * GIB).await,
    };
    let mut st = sh.state.lock().await;
    made.map_err(|e| OscError::internal(format!("creating the file of {id}: {e}")))?;
    if let Some(token) = &r.client_token {
        // The same request, answered while this one copied.
        if let Some(v) = st
            .volumes
            .values()
            .find(|v| v.client_token.as_ref() == Some(token))
        {
            let _ = tokio::fs::remove_file(&file).await;
            return Ok(json!({"Volume": st.volume_view(v)}));
        }
    }
    let rec = VolumeRec {
        id: id.clone(),
        size: size as u64,
        volume_type,
        iops: r.iops,
        snapshot_id: r.snapshot_id.clone(),
        subregion,
        created: now_iso(),
        client_token: r.client_token.clone(),
        phase: Phase::Pending,
        ready_at: Instant::now() + st.delays.volume_create,
        fail,
        link: None,
        file: Some(file),
        seed: false,
    };
    let view = st.volume_view(&rec);
    sh.faults
        .record_created("volume", rec.client_token.as_deref().unwrap_or(&id));
    st.volumes.insert(id, rec);
    Ok(json!({"Volume": view}))
}

/// `/dev/sdX`, `/dev/sdXX`, `/dev/xvdX`, `/dev/xvdXX`; first X in b..z, second in a..z.
pub(crate) fn valid_device_name(name: &str) -> bool {
    let Some(rest) = name
        .strip_prefix("/dev/xvd")
        .or_else(|| name.strip_prefix("/dev/sd"))
    else {
        return false;
    };
    let b = rest.as_bytes();
    match b {
        [first] => (b'b'..=b'z').contains(first),
        [first, second] => (b'b'..=b'z').contains(first) && second.is_ascii_lowercase(),
        _ => false,
    }
}

pub(super) async fn link_volume(
    sh: &Shared,
    mut st: Locked<'_>,
    r: LinkVolumeReq,
    fail: bool,
) -> OscResult {
    let volume_id = need(&r.volume_id, "VolumeId")?.clone();
    let vm_id = need(&r.vm_id, "VmId")?.clone();
    let device = need(&r.device_name, "DeviceName")?.clone();
    if !valid_device_name(&device) {
        return Err(OscError::invalid(
            "4019",
            format!(
                "invalid-device-name: {device} (use /dev/sdX[X] or /dev/xvdX[X], X from b; /dev/sda1 is the root's)"
            ),
        ));
    }
    let vm = st
        .vms
        .get(&vm_id)
        .ok_or_else(|| OscError::not_found(&vm_id))?
        .clone();
    let v = st
        .volumes
        .get(&volume_id)
        .ok_or_else(|| OscError::not_found(&volume_id))?;
    if v.link.is_some() || v.phase != Phase::Done {
        return Err(OscError::state(
            "6007",
            format!("invalid-volume-state: {volume_id} is not available"),
        ));
    }
    if v.subregion != vm.subregion {
        return Err(OscError::invalid(
            "4081",
            format!(
                "invalid-zone: {volume_id} is in {}, the VM in {}",
                v.subregion, vm.subregion
            ),
        ));
    }
    let taken = st.volumes.values().any(|o| {
        o.link
            .as_ref()
            .is_some_and(|l| l.vm_id == vm_id && same_device(&l.device_name, &device))
    });
    if taken {
        return Err(OscError::conflict(
            "9003",
            format!("device-conflict: {device} is already used on {vm_id}"),
        ));
    }
    let file = v.file.clone();
    let delay = st.delays.volume_link;
    let link = |loop_dev, links, ready_at| Link {
        vm_id: vm_id.clone(),
        device_name: device.clone(),
        phase: LinkPhase::Attaching,
        ready_at,
        fail,
        loop_dev,
        links,
        date: now_iso(),
    };
    if vm_id != sh.vm_id {
        if let Some(v) = st.volumes.get_mut(&volume_id) {
            v.link = Some(link(None, Vec::new(), Instant::now() + delay));
        }
        return Ok(json!({}));
    }
    if !crate::is_root() {
        return Err(OscError::internal(format!(
            "the simulator attaches volumes to the host VM as loop devices (losetup), which needs root; \
             it runs as uid {}. Run it as root to link volumes",
            crate::euid().map_or_else(|| "?".to_owned(), |u| u.to_string())
        )));
    }
    let Some(file) = file else {
        return Err(OscError::internal(format!(
            "{volume_id} has no backing file"
        )));
    };
    // The device slot is taken (attaching) while losetup runs without the
    // state lock; this instant marks the reservation as this request's.
    let reserved = Instant::now() + RESERVATION;
    if let Some(v) = st.volumes.get_mut(&volume_id) {
        v.link = Some(link(None, Vec::new(), reserved));
    }
    drop(st);
    let attached = attach_and_link(sh, &volume_id, &file, &device).await;
    let mut st = sh.state.lock().await;
    let ours = st.volumes.get_mut(&volume_id).filter(|v| {
        v.link
            .as_ref()
            .is_some_and(|l| l.phase == LinkPhase::Attaching && l.ready_at == reserved)
    });
    match (attached, ours) {
        (Ok((dev, links)), Some(v)) => {
            v.link = Some(link(Some(dev), links, Instant::now() + delay));
            Ok(json!({}))
        }
        (Ok((dev, links)), None) => {
            // Unlinked (or deleted) meanwhile: undo the attachment.
            blockdev::remove_links(&links);
            if let Err(e) = blockdev::detach(&dev).await {
                tracing::warn!(device = %dev, error = %e, "detaching a link undone meanwhile");
            } else {
                sh.track_loop(&dev, false);
            }
            Ok(json!({}))
        }
        (Err(e), ours) => {
            if let Some(v) = ours {
                v.link = None;
            }
            Err(e)
        }
    }
}

/// How long a device slot may stay reserved by a LinkVolume whose losetup
/// runs (an upper bound; the request clears it when losetup ends).
const RESERVATION: Duration = Duration::from_secs(3600);

/// Attaches `file` to a loop device and links `device` to it; the loop
/// device and the links.
async fn attach_and_link(
    sh: &Shared,
    volume_id: &str,
    file: &std::path::Path,
    device: &str,
) -> OscResult<(String, Vec<(std::path::PathBuf, String)>)> {
    let dev = blockdev::attach(file)
        .await
        .map_err(|e| OscError::internal(format!("attaching {volume_id}: {e}")))?;
    sh.track_loop(&dev, true);
    let links = blockdev::link_paths(&sh.dev_dir, device, &dev);
    if let Err(e) = blockdev::make_links(&links) {
        blockdev::remove_links(&links);
        if blockdev::detach(&dev).await.is_ok() {
            sh.track_loop(&dev, false);
        }
        return Err(OscError::internal(format!(
            "linking {device} to {dev}: {e}"
        )));
    }
    Ok((dev, links))
}

/// `/dev/sdf` and `/dev/xvdf` name the same slot.
pub(super) fn same_device(a: &str, b: &str) -> bool {
    let norm = |s: &str| {
        s.strip_prefix("/dev/xvd")
            .or_else(|| s.strip_prefix("/dev/sd"))
            .unwrap_or(s)
            .to_owned()
    };
    norm(a) == norm(b)
}

pub(super) async fn unlink_volume(sh: &Shared, st: &mut State, r: UnlinkVolumeReq) -> OscResult {
    let volume_id = need(&r.volume_id, "VolumeId")?.clone();
    let delay = st.delays.volume_unlink;
    let v = st
        .volumes
        .get_mut(&volume_id)
        .ok_or_else(|| OscError::not_found(&volume_id))?;
    let Some(link) = v.link.as_mut().filter(|l| l.phase != LinkPhase::Detaching) else {
        return Err(OscError::conflict(
            "9063",
            format!("volume-not-in-use: {volume_id}"),
        ));
    };
    if v.seed {
        return Err(OscError::state(
            "6007",
            format!("invalid-volume-state: {volume_id} is the root volume"),
        ));
    }
    if let Some(dev) = link.loop_dev.take() {
        blockdev::remove_links(&link.links);
        if let Err(e) = blockdev::detach(&dev).await {
            link.loop_dev = Some(dev);
            return Err(OscError::conflict(
                "9002",
                format!("busy: detaching {volume_id}: {e}"),
            ));
        }
        sh.track_loop(&dev, false);
    }
    link.phase = LinkPhase::Detaching;
    link.ready_at = Instant::now() + delay;
    Ok(json!({}))
}

pub(super) async fn delete_volume(st: &mut State, r: IdReq) -> OscResult {
    let id = need(&r.volume_id, "VolumeId")?.clone();
    let v = st
        .volumes
        .get(&id)
        .ok_or_else(|| OscError::not_found(&id))?;
    if v.link.is_some() {
        return Err(OscError::state(
            "6007",
            format!("invalid-volume-state: {id} is in use"),
        ));
    }
    if let Some(f) = &v.file {
        let _ = tokio::fs::remove_file(f).await;
    }
    st.volumes.remove(&id);
    st.tags.remove(&id);
    Ok(json!({}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_names() {
        for ok in ["/dev/xvdf", "/dev/sdb", "/dev/xvdba", "/dev/sdzz"] {
            assert!(valid_device_name(ok), "{ok}");
        }
        for bad in [
            "/dev/sda1",
            "/dev/sda",
            "/dev/vdf",
            "/dev/xvdf1",
            "xvdf",
            "/dev/xvdA",
            "/dev/xvd",
        ] {
            assert!(!valid_device_name(bad), "{bad}");
        }
        assert!(same_device("/dev/sdf", "/dev/xvdf"));
    }
}
