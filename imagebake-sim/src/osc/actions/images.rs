//! CreateImage (register or copy), UpdateImage, DeleteImage.

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

pub(super) fn valid_image_name(name: &str) -> bool {
    (3..=128).contains(&name.chars().count())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "()[] ./-'@_".contains(c))
}

/// An error if the account has an image named `name`.
fn name_free(st: &State, name: &str) -> OscResult<()> {
    if st
        .images
        .values()
        .any(|i| i.owner == ACCOUNT_ID && i.name == name)
    {
        return Err(OscError::conflict(
            "9000",
            format!("already-exist: an image named {name:?}"),
        ));
    }
    Ok(())
}

/// Copies each snapshot file; on failure removes the copies made.
async fn copy_snapshots(copies: &[(std::path::PathBuf, SnapshotRec)]) -> OscResult<()> {
    for (from, to) in copies {
        if let Err(e) = blockdev::copy_sparse(from, &to.file, 0).await {
            for (_, s) in copies {
                let _ = tokio::fs::remove_file(&s.file).await;
            }
            return Err(OscError::internal(format!("copying into {}: {e}", to.id)));
        }
    }
    Ok(())
}

pub(super) async fn create_image(
    sh: &Shared,
    mut st: Locked<'_>,
    r: CreateImageReq,
    fail: bool,
) -> OscResult {
    let name = need(&r.image_name, "ImageName")?.clone();
    if !valid_image_name(&name) {
        return Err(OscError::invalid(
            "4026",
            format!("invalid-image-name: {name:?}"),
        ));
    }
    name_free(&st, &name)?;
    if r.vm_id.is_some() || r.file_location.is_some() {
        return Err(OscError::invalid(
            "4045",
            "invalid-parameter: images from VMs or files are not simulated",
        ));
    }
    let arch = r
        .architecture
        .clone()
        .unwrap_or_else(|| "x86_64".to_owned());
    if arch != "x86_64" && arch != "i386" {
        return Err(OscError::invalid(
            "4047",
            format!("invalid-parameter-value: Architecture {arch}"),
        ));
    }
    for b in r.boot_modes.iter().flatten() {
        if b != "legacy" && b != "uefi" {
            return Err(OscError::invalid(
                "4047",
                format!("invalid-parameter-value: BootModes {b}"),
            ));
        }
    }
    let mut rec = ImageRec {
        id: String::new(),
        name,
        owner: ACCOUNT_ID.to_owned(),
        alias: None,
        description: r.description.clone().unwrap_or_default(),
        architecture: arch,
        root_device_name: String::new(),
        mappings: Vec::new(),
        boot_modes: r
            .boot_modes
            .clone()
            .unwrap_or_else(|| vec!["legacy".to_owned()]),
        product_codes: r
            .product_codes
            .clone()
            .unwrap_or_else(|| vec!["0001".to_owned()]),
        tpm_mandatory: r.tpm_mandatory.unwrap_or(false),
        created: now_iso(),
        phase: Phase::Pending,
        ready_at: Instant::now() + st.delays.image_create,
        fail,
        perms: Perms::default(),
        seed: false,
    };
    // Snapshot files to copy (from, new record), for a copied image.
    let mut copies: Vec<(std::path::PathBuf, SnapshotRec)> = Vec::new();
    if let Some(src_id) = &r.source_image_id {
        if r.source_region_name.as_deref() != Some(st.region.as_str()) {
            return Err(OscError::missing("SourceRegionName"));
        }
        let src = st
            .images
            .get(src_id)
            .filter(|i| State::image_visible(i, ACCOUNT_ID))
            .ok_or_else(|| OscError::not_found(src_id))?
            .clone();
        if src.phase != Phase::Done {
            return Err(OscError::state(
                "6001",
                format!("invalid-image-state: {src_id}"),
            ));
        }
        // The copy gets our own copies of the source's snapshots.
        let mut mappings = Vec::new();
        for m in &src.mappings {
            let mut m = m.clone();
            if let Some(sid) = m["Bsu"]["SnapshotId"].as_str().map(str::to_owned) {
                let s = st
                    .snapshots
                    .get(&sid)
                    .cloned()
                    .ok_or_else(|| OscError::not_found(&sid))?;
                let id = st.id("snap");
                let file = sh.data_dir.join("snapshots").join(format!("{id}.img"));
                copies.push((
                    s.file.clone(),
                    SnapshotRec {
                        id: id.clone(),
                        owner: ACCOUNT_ID.to_owned(),
                        alias: None,
                        description: format!("Copy of {sid} for image {}", rec.name),
                        created: now_iso(),
                        client_token: None,
                        phase: Phase::Done,
                        perms: Perms::default(),
                        file,
                        seed: false,
                        ..s
                    },
                ));
                m["Bsu"]["SnapshotId"] = json!(id);
            }
            mappings.push(m);
        }
        rec.mappings = mappings;
        rec.root_device_name = src.root_device_name.clone();
        rec.architecture = r.architecture.clone().unwrap_or(src.architecture.clone());
        rec.boot_modes = r.boot_modes.clone().unwrap_or(src.boot_modes.clone());
        if r.description.is_none() {
            rec.description = src.description.clone();
        }
    } else {
        let root = need(&r.root_device_name, "RootDeviceName")?.clone();
        let maps = r.block_device_mappings.clone().unwrap_or_default();
        if maps.is_empty() {
            return Err(OscError::missing("BlockDeviceMappings"));
        }
        for m in &maps {
            let dev = need(&m.device_name, "BlockDeviceMappings.DeviceName")?;
            let mut out = json!({"DeviceName": dev});
            if let Some(v) = &m.virtual_device_name {
                out["VirtualDeviceName"] = json!(v);
            }
            if let Some(b) = &m.bsu {
                let mut bsu = json!({
                    "DeleteOnVmDeletion": b.delete_on_vm_deletion.unwrap_or(true),
                    "VolumeType": b.volume_type.clone().unwrap_or_else(|| "standard".to_owned()),
                });
                if let Some(sid) = &b.snapshot_id {
                    let s = st
                        .snapshots
                        .get(sid)
                        .filter(|s| s.owner == ACCOUNT_ID)
                        .ok_or_else(|| OscError::not_found(sid))?;
                    if s.phase != Phase::Done {
                        return Err(OscError::state(
                            "6003",
                            format!("invalid-state: snapshot {sid} is not completed"),
                        ));
                    }
                    let size = b.volume_size.unwrap_or(s.volume_size as i64);
                    if size < s.volume_size as i64 {
                        return Err(OscError::invalid(
                            "4078",
                            format!("invalid-volume-size: {size}"),
                        ));
                    }
                    bsu["SnapshotId"] = json!(sid);
                    bsu["VolumeSize"] = json!(size);
                } else if let Some(size) = b.volume_size {
                    bsu["VolumeSize"] = json!(size);
                }
                if let Some(i) = b.iops {
                    bsu["Iops"] = json!(i);
                }
                out["Bsu"] = bsu;
            }
            rec.mappings.push(out);
        }
        if !rec
            .mappings
            .iter()
            .any(|m| m["DeviceName"].as_str() == Some(root.as_str()))
        {
            return Err(OscError::invalid(
                "4057",
                format!("invalid-root-mapping: no mapping for {root}"),
            ));
        }
        rec.root_device_name = root;
    }
    if !copies.is_empty() {
        // The copies run without the state lock: other requests go on
        // meanwhile.
        drop(st);
        let copied = copy_snapshots(&copies).await;
        st = sh.state.lock().await;
        copied?;
        if let Err(e) = name_free(&st, &rec.name) {
            for (_, s) in &copies {
                let _ = tokio::fs::remove_file(&s.file).await;
            }
            return Err(e);
        }
        for (_, s) in copies {
            st.snapshots.insert(s.id.clone(), s);
        }
    }
    rec.id = st.id("ami");
    let view = st.image_view(&rec);
    sh.faults.record_created("image", &rec.name);
    st.images.insert(rec.id.clone(), rec);
    Ok(json!({"Image": view}))
}

pub(super) fn update_image(st: &mut State, r: UpdateImageReq) -> OscResult {
    let id = need(&r.image_id, "ImageId")?.clone();
    let i = st
        .images
        .get_mut(&id)
        .filter(|i| i.owner == ACCOUNT_ID)
        .ok_or_else(|| OscError::not_found(&id))?;
    if let Some(change) = r.permissions_to_launch {
        change_perms(&mut i.perms, change);
    }
    if let Some(d) = r.description {
        i.description = d;
    }
    if let Some(p) = r.product_codes {
        i.product_codes = p;
    }
    let i = i.clone();
    Ok(json!({"Image": st.image_view(&i)}))
}

pub(super) fn delete_image(st: &mut State, r: IdReq) -> OscResult {
    let id = need(&r.image_id, "ImageId")?.clone();
    st.images
        .get(&id)
        .filter(|i| i.owner == ACCOUNT_ID)
        .ok_or_else(|| OscError::not_found(&id))?;
    st.images.remove(&id);
    st.tags.remove(&id);
    Ok(json!({}))
}
