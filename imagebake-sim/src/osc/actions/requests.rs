//! Request bodies, strict: unknown fields are refused, as the schemas'
//! `additionalProperties: false` says. Required fields are `Option`s so a
//! missing one gets the gateway's 7000 MissingParameter, not a parse error.

use serde::Deserialize;
use serde_json::{Map, Value};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct ReadReq {
    pub(crate) filters: Option<Map<String, Value>>,
    pub(crate) results_per_page: Option<i64>,
    pub(crate) next_page_token: Option<String>,
    #[allow(dead_code)]
    pub(crate) dry_run: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct DryOnly {
    #[allow(dead_code)]
    pub(crate) dry_run: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct CreateVolumeReq {
    pub(crate) subregion_name: Option<String>,
    pub(crate) size: Option<i64>,
    pub(crate) snapshot_id: Option<String>,
    pub(crate) volume_type: Option<String>,
    pub(crate) iops: Option<i64>,
    pub(crate) client_token: Option<String>,
    #[allow(dead_code)]
    pub(crate) dry_run: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct LinkVolumeReq {
    pub(crate) volume_id: Option<String>,
    pub(crate) vm_id: Option<String>,
    pub(crate) device_name: Option<String>,
    #[allow(dead_code)]
    pub(crate) dry_run: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct UnlinkVolumeReq {
    pub(crate) volume_id: Option<String>,
    #[allow(dead_code)]
    pub(crate) force_unlink: Option<bool>,
    #[allow(dead_code)]
    pub(crate) dry_run: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct IdReq {
    pub(crate) volume_id: Option<String>,
    pub(crate) snapshot_id: Option<String>,
    pub(crate) image_id: Option<String>,
    #[allow(dead_code)]
    pub(crate) dry_run: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct CreateSnapshotReq {
    pub(crate) volume_id: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) source_snapshot_id: Option<String>,
    pub(crate) source_region_name: Option<String>,
    pub(crate) file_location: Option<String>,
    #[allow(dead_code)]
    pub(crate) snapshot_size: Option<i64>,
    pub(crate) client_token: Option<String>,
    #[allow(dead_code)]
    pub(crate) dry_run: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct PermsReq {
    pub(crate) account_ids: Option<Vec<String>>,
    pub(crate) global_permission: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct PermsChangeReq {
    pub(crate) additions: Option<PermsReq>,
    pub(crate) removals: Option<PermsReq>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct UpdateSnapshotReq {
    pub(crate) snapshot_id: Option<String>,
    pub(crate) permissions_to_create_volume: Option<PermsChangeReq>,
    #[allow(dead_code)]
    pub(crate) dry_run: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct CreateImageReq {
    pub(crate) image_name: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) architecture: Option<String>,
    pub(crate) root_device_name: Option<String>,
    pub(crate) block_device_mappings: Option<Vec<MappingReq>>,
    pub(crate) boot_modes: Option<Vec<String>>,
    pub(crate) product_codes: Option<Vec<String>>,
    pub(crate) tpm_mandatory: Option<bool>,
    pub(crate) source_image_id: Option<String>,
    pub(crate) source_region_name: Option<String>,
    pub(crate) vm_id: Option<String>,
    #[allow(dead_code)]
    pub(crate) no_reboot: Option<bool>,
    pub(crate) file_location: Option<String>,
    #[allow(dead_code)]
    pub(crate) dry_run: Option<bool>,
}

#[derive(Deserialize, Clone)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct MappingReq {
    pub(crate) device_name: Option<String>,
    pub(crate) bsu: Option<BsuReq>,
    pub(crate) virtual_device_name: Option<String>,
}

#[derive(Deserialize, Clone)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct BsuReq {
    pub(crate) snapshot_id: Option<String>,
    pub(crate) volume_size: Option<i64>,
    pub(crate) volume_type: Option<String>,
    pub(crate) iops: Option<i64>,
    pub(crate) delete_on_vm_deletion: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct UpdateImageReq {
    pub(crate) image_id: Option<String>,
    pub(crate) permissions_to_launch: Option<PermsChangeReq>,
    pub(crate) description: Option<String>,
    pub(crate) product_codes: Option<Vec<String>>,
    #[allow(dead_code)]
    pub(crate) dry_run: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct TagsReq {
    pub(crate) resource_ids: Option<Vec<String>>,
    pub(crate) tags: Option<Vec<TagReq>>,
    #[allow(dead_code)]
    pub(crate) dry_run: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct TagReq {
    pub(crate) key: Option<String>,
    pub(crate) value: Option<String>,
}
