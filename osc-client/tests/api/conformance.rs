//! Every request body the client can send, checked against the stored OAPI
//! schemas (`$ref`s resolved, `additionalProperties: false` enforced).

use crate::common::{SnapshotWaits, VolumeWaits};
use crate::common::{available_source_copy, delete_image, delete_snapshot, delete_volume};

use std::sync::OnceLock;

use osc_client::api::*;
use osc_client::types::{
    BlockDeviceMapping, BootMode, BsuToCreate, Permissions, PermissionsChange, Tag, VolumeType,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::common::{setup, waits};

const SPEC: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/reference/outscale-oapi.yaml"
);

fn spec() -> &'static Value {
    static SPEC_JSON: OnceLock<Value> = OnceLock::new();
    SPEC_JSON.get_or_init(|| {
        let text = std::fs::read_to_string(SPEC).expect("read the stored OAPI spec");
        serde_yaml::from_str(&text).expect("parse the OAPI spec")
    })
}

fn schema(name: &str) -> &'static Value {
    let s = &spec()["components"]["schemas"][name];
    assert!(s.is_object(), "no schema {name}");
    s
}

/// Small validator for the OpenAPI 3.0 subset the OAPI uses.
fn validate(s: &Value, v: &Value, path: &str, errors: &mut Vec<String>) {
    if let Some(r) = s.get("$ref").and_then(Value::as_str) {
        let name = r.rsplit('/').next().unwrap_or(r);
        return validate(schema(name), v, path, errors);
    }
    if let Some(options) = s.get("oneOf").and_then(Value::as_array) {
        let ok = options.iter().any(|o| {
            let mut e = Vec::new();
            validate(o, v, path, &mut e);
            e.is_empty()
        });
        if !ok {
            errors.push(format!("{path}: matches no oneOf branch: {v}"));
        }
        return;
    }
    if let Some(allowed) = s.get("enum").and_then(Value::as_array)
        && !allowed.contains(v)
    {
        errors.push(format!("{path}: {v} not in {allowed:?}"));
    }
    match s.get("type").and_then(Value::as_str) {
        Some("object") => {
            let Some(obj) = v.as_object() else {
                return errors.push(format!("{path}: expected an object, got {v}"));
            };
            for r in s
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let r = r.as_str().unwrap_or_default();
                if !obj.contains_key(r) {
                    errors.push(format!("{path}: missing required {r}"));
                }
            }
            let props = s.get("properties").and_then(Value::as_object);
            for (k, val) in obj {
                match props.and_then(|p| p.get(k)) {
                    Some(ps) => validate(ps, val, &format!("{path}.{k}"), errors),
                    None if s.get("additionalProperties") == Some(&Value::Bool(false)) => {
                        errors.push(format!("{path}: unknown property {k}"));
                    }
                    None => {}
                }
            }
        }
        Some("array") => match v.as_array() {
            Some(items) => {
                for (i, item) in items.iter().enumerate() {
                    validate(&s["items"], item, &format!("{path}[{i}]"), errors);
                }
            }
            None => errors.push(format!("{path}: expected an array, got {v}")),
        },
        Some("string") if !v.is_string() => {
            errors.push(format!("{path}: expected a string, got {v}"))
        }
        Some("integer") if !(v.is_i64() || v.is_u64()) => {
            errors.push(format!("{path}: expected an integer, got {v}"));
        }
        Some("boolean") if !v.is_boolean() => {
            errors.push(format!("{path}: expected a boolean, got {v}"))
        }
        _ => {}
    }
}

fn check_body(action: &str, body: &Value) {
    assert!(
        spec()["paths"][format!("/{action}")]["post"].is_object(),
        "the spec has no action {action}"
    );
    let mut errors = Vec::new();
    validate(
        schema(&format!("{action}Request")),
        body,
        action,
        &mut errors,
    );
    assert!(
        errors.is_empty(),
        "{action} body {body} breaks the schema: {errors:#?}"
    );
}

fn check<T: Serialize>(action: &str, req: &T) {
    check_body(action, &serde_json::to_value(req).expect("serialize"));
}

/// A filter object with every property of `schema_name` set, built through
/// the client's type: a field the type lacks would be lost on the round trip.
fn full_filters<T: Serialize + DeserializeOwned>(schema_name: &str) -> T {
    let mut obj = serde_json::Map::new();
    for (k, p) in schema(schema_name)["properties"]
        .as_object()
        .expect("properties")
    {
        let sample = match p["type"].as_str() {
            Some("boolean") => json!(true),
            Some("string") => json!("2026-01-01T00:00:00.000Z"),
            Some("array") => {
                let items = &p["items"];
                if items.get("$ref").is_some() {
                    json!(["uefi"])
                } else if items["type"] == "integer" {
                    json!([1])
                } else if items.get("oneOf").is_some() {
                    json!(["2026-01-01"])
                } else {
                    json!(["x*"])
                }
            }
            other => panic!("{schema_name}.{k}: unexpected type {other:?}"),
        };
        obj.insert(k.clone(), sample);
    }
    let want = Value::Object(obj);
    let typed: T = serde_json::from_value(want.clone()).expect("filters deserialize");
    assert_eq!(
        serde_json::to_value(&typed).expect("serialize"),
        want,
        "{schema_name}: the client's type does not carry every field"
    );
    typed
}

#[test]
fn every_request_type_fully_populated_matches_its_schema() {
    let page = |r: &mut dyn Paged| r.set_page(Some("b3NjLXNpbTozCg==".into()), 1000);

    let mut r = ReadVmsRequest::filtered(full_filters::<FiltersVm>("FiltersVm"));
    page(&mut r);
    r.dry_run = Some(false);
    check("ReadVms", &r);
    let mut r = ReadImagesRequest::filtered(full_filters::<FiltersImage>("FiltersImage"));
    page(&mut r);
    check("ReadImages", &r);
    let mut r = ReadVolumesRequest::filtered(full_filters::<FiltersVolume>("FiltersVolume"));
    page(&mut r);
    check("ReadVolumes", &r);
    let mut r = ReadSnapshotsRequest::filtered(full_filters::<FiltersSnapshot>("FiltersSnapshot"));
    page(&mut r);
    check("ReadSnapshots", &r);
    check(
        "ReadAccounts",
        &ReadAccountsRequest {
            dry_run: Some(true),
        },
    );

    let perms = PermissionsChange {
        additions: Some(Permissions::accounts(["111122223333"])),
        removals: Some(Permissions::global()),
    };
    check(
        "CreateImage",
        &CreateImageRequest {
            image_name: Some("n".into()),
            description: Some("d".into()),
            architecture: Some("x86_64".into()),
            root_device_name: Some("/dev/sda1".into()),
            block_device_mappings: vec![BlockDeviceMapping {
                device_name: "/dev/sda1".into(),
                bsu: Some(BsuToCreate {
                    snapshot_id: Some("snap-1".into()),
                    volume_size: Some(10),
                    volume_type: Some(VolumeType::Io1),
                    iops: Some(100),
                    delete_on_vm_deletion: Some(true),
                }),
                virtual_device_name: Some("ephemeral0".into()),
            }],
            boot_modes: vec![BootMode::Legacy, BootMode::Uefi],
            product_codes: vec!["0001".into()],
            tpm_mandatory: Some(false),
            source_image_id: Some("ami-1".into()),
            source_region_name: Some("eu-west-2".into()),
            vm_id: Some("i-1".into()),
            no_reboot: Some(true),
            file_location: Some("b/k".into()),
            dry_run: Some(false),
        },
    );
    check(
        "UpdateImage",
        &UpdateImageRequest {
            image_id: "ami-1".into(),
            permissions_to_launch: Some(perms.clone()),
            description: Some("d".into()),
            product_codes: vec!["0001".into()],
            dry_run: Some(false),
        },
    );
    check(
        "DeleteImage",
        &DeleteImageRequest {
            image_id: "ami-1".into(),
            dry_run: Some(false),
        },
    );
    check(
        "CreateVolume",
        &CreateVolumeRequest {
            subregion_name: "eu-west-2a".into(),
            size: Some(10),
            snapshot_id: Some("snap-1".into()),
            volume_type: Some(VolumeType::Io1),
            iops: Some(100),
            client_token: Some("t".into()),
            dry_run: Some(false),
        },
    );
    check(
        "LinkVolume",
        &LinkVolumeRequest {
            volume_id: "vol-1".into(),
            vm_id: "i-1".into(),
            device_name: "/dev/xvdf".into(),
            dry_run: Some(false),
        },
    );
    check(
        "UnlinkVolume",
        &UnlinkVolumeRequest {
            volume_id: "vol-1".into(),
            force_unlink: Some(true),
            dry_run: Some(false),
        },
    );
    check(
        "DeleteVolume",
        &DeleteVolumeRequest {
            volume_id: "vol-1".into(),
            dry_run: Some(false),
        },
    );
    check(
        "CreateSnapshot",
        &CreateSnapshotRequest {
            volume_id: Some("vol-1".into()),
            description: Some("d".into()),
            source_snapshot_id: Some("snap-1".into()),
            source_region_name: Some("eu-west-2".into()),
            file_location: Some("b/k".into()),
            snapshot_size: Some(1 << 30),
            client_token: Some("t".into()),
            dry_run: Some(false),
        },
    );
    check(
        "UpdateSnapshot",
        &UpdateSnapshotRequest {
            snapshot_id: "snap-1".into(),
            permissions_to_create_volume: perms,
            dry_run: Some(false),
        },
    );
    check(
        "DeleteSnapshot",
        &DeleteSnapshotRequest {
            snapshot_id: "snap-1".into(),
            dry_run: Some(false),
        },
    );
    let tags = vec![Tag::new("k", "v"), Tag::new("k2", "")];
    check(
        "CreateTags",
        &CreateTagsRequest {
            resource_ids: vec!["vol-1".into()],
            tags: tags.clone(),
            dry_run: Some(false),
        },
    );
    check(
        "DeleteTags",
        &DeleteTagsRequest {
            resource_ids: vec!["vol-1".into()],
            tags,
            dry_run: Some(false),
        },
    );
}

#[test]
fn the_validator_catches_mistakes() {
    let mut errors = Vec::new();
    validate(
        schema("LinkVolumeRequest"),
        &json!({"VolumeId": "v", "Device": "x"}),
        "t",
        &mut errors,
    );
    assert_eq!(errors.len(), 3, "{errors:?}"); // DeviceName and VmId missing, Device unknown
    let mut errors = Vec::new();
    validate(
        schema("CreateImageRequest"),
        &json!({"BootModes": ["bios"]}),
        "t",
        &mut errors,
    );
    assert_eq!(errors.len(), 1, "{errors:?}");
}

#[tokio::test]
async fn every_body_sent_in_a_session_matches_its_schema() {
    let (sim, client) = setup().await;
    client.vms().check_auth().await.expect("ReadVms");
    client.accounts().current().await.expect("ReadAccounts");
    let copy = available_source_copy(&sim, &client, "conformance-copy").await;
    let snap = copy.snapshot_ids()[0].to_owned();
    let v = client
        .volumes()
        .create(&CreateVolumeRequest::from_snapshot(sim.subregion(), &snap))
        .await
        .expect("CreateVolume");
    client
        .volumes()
        .wait_available(&v.volume_id, &waits())
        .await
        .expect("available");
    client
        .tags()
        .create([&v.volume_id], vec![Tag::new("k", "v")])
        .await
        .expect("CreateTags");
    client
        .tags()
        .delete([&v.volume_id], vec![Tag::new("k", "v")])
        .await
        .expect("DeleteTags");
    let s = client
        .snapshots()
        .create(&CreateSnapshotRequest::from_volume(&v.volume_id))
        .await
        .expect("CreateSnapshot");
    client
        .snapshots()
        .wait_completed(&s.snapshot_id, &waits())
        .await
        .expect("completed");
    client
        .snapshots()
        .update_permissions(
            &s.snapshot_id,
            PermissionsChange::add(Permissions::accounts(["111122223333"])),
        )
        .await
        .expect("UpdateSnapshot");
    let img = client
        .images()
        .create(&CreateImageRequest::register(
            "conformance-registered",
            "/dev/sda1",
            vec![BlockDeviceMapping::from_snapshot(
                "/dev/sda1",
                &s.snapshot_id,
            )],
        ))
        .await
        .expect("CreateImage");
    client
        .images()
        .update_launch_permissions(&img.image_id, PermissionsChange::add(Permissions::global()))
        .await
        .expect("UpdateImage");
    let _ = client
        .images()
        .most_recent(FiltersImage::names(["conformance-*"]))
        .await
        .expect("ReadImages");
    let _ = client
        .vms()
        .read(FiltersVm::ids([sim.vm_id()]))
        .await
        .expect("ReadVms");
    let e = client
        .volumes()
        .unlink(&v.volume_id, true)
        .await
        .expect_err("not linked");
    assert_eq!(e.code(), Some("9063"));
    let _ = client
        .volumes()
        .link(&v.volume_id, sim.vm_id(), "/dev/sda1")
        .await
        .expect_err("4019");
    delete_image(&client, &img.image_id).await;
    delete_image(&client, &copy.image_id).await;
    delete_volume(&client, &v.volume_id).await;
    delete_snapshot(&client, &s.snapshot_id).await;
    delete_snapshot(&client, &snap).await;

    let log = sim.request_log();
    let actions: std::collections::BTreeSet<_> = log.iter().map(|(a, _)| a.clone()).collect();
    assert!(actions.len() >= 16, "{actions:?}");
    for (action, body) in &log {
        check_body(action, body);
    }
    assert!(sim.inventory().await.is_empty());
    sim.shutdown().await;
}
