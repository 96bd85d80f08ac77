//! Conformance with the stored OpenAPI document: every request body the
//! client can send validates against the operation's request schema; answers
//! built from the response schemas decode into the client's types; and the
//! simulator's answers validate against the response schemas.

use std::sync::OnceLock;

use jsonschema::{Draft, Validator};
use oxide_client::{
    BlockSize, DiskBackend, DiskCreate, DiskSource, ExternalIpCreate, FinalizeDisk, ImageCreate,
    ImportBlocksBulkWrite, InstanceAutoRestartPolicy, InstanceCreate, InstanceDiskAttachment,
    InstanceNetworkInterfaceAttachment, IpVersion, Ipv4Assignment, Ipv6Assignment, NameOrId,
    PoolSelector, PrivateIpStackCreate, PrivateIpv4StackCreate, PrivateIpv6StackCreate,
    SnapshotCreate, SshKeyCreate,
};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::common::{PUBLIC_KEY, client, sim};
use crate::instances::{baker_body, build_instance};

const SPEC_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/reference/oxide-openapi.json"
);

fn spec() -> &'static Value {
    static SPEC: OnceLock<Value> = OnceLock::new();
    SPEC.get_or_init(|| {
        let text = std::fs::read_to_string(SPEC_PATH).expect("the stored OpenAPI document");
        serde_json::from_str(&text).expect("valid JSON")
    })
}

/// OpenAPI 3.0 schema to JSON Schema 2020-12: `nullable` becomes an `anyOf`
/// with `null`, and component references point into `$defs`.
fn convert(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut out = Map::new();
            let mut nullable = false;
            for (k, val) in m {
                match k.as_str() {
                    "nullable" => nullable = val.as_bool() == Some(true),
                    "$ref" => {
                        let r = val
                            .as_str()
                            .unwrap_or_default()
                            .replace("#/components/schemas/", "#/$defs/");
                        out.insert(k.clone(), Value::String(r));
                    }
                    _ => {
                        out.insert(k.clone(), convert(val));
                    }
                }
            }
            if nullable {
                json!({ "anyOf": [Value::Object(out), { "type": "null" }] })
            } else {
                Value::Object(out)
            }
        }
        Value::Array(a) => Value::Array(a.iter().map(convert).collect()),
        other => other.clone(),
    }
}

fn operation(op_id: &str) -> &'static Value {
    spec()["paths"]
        .as_object()
        .into_iter()
        .flat_map(|paths| paths.values())
        .flat_map(|item| item.as_object().into_iter().flat_map(|m| m.values()))
        .find(|op| op["operationId"] == op_id)
        .unwrap_or_else(|| panic!("operation {op_id} not in the spec"))
}

fn request_schema(op_id: &str) -> &'static Value {
    &operation(op_id)["requestBody"]["content"]["application/json"]["schema"]
}

fn response_schema(op_id: &str) -> &'static Value {
    let responses = operation(op_id)["responses"]
        .as_object()
        .expect("responses");
    responses
        .iter()
        .find(|(code, _)| code.starts_with('2'))
        .map(|(_, r)| &r["content"]["application/json"]["schema"])
        .unwrap_or_else(|| panic!("{op_id} has no 2xx JSON answer"))
}

fn validator(schema: &Value) -> Validator {
    let defs = convert(&spec()["components"]["schemas"]);
    let mut root = convert(schema);
    if let Value::Object(m) = &mut root {
        m.insert(
            "$schema".into(),
            json!("https://json-schema.org/draft/2020-12/schema"),
        );
        m.insert("$defs".into(), defs);
    }
    jsonschema::options()
        .with_draft(Draft::Draft202012)
        .should_validate_formats(true)
        .build(&root)
        .expect("schema compiles")
}

fn check_valid(op_id: &str, v: &Validator, body: &Value) {
    let errors: Vec<String> = v
        .iter_errors(body)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{op_id} body {body} is invalid: {errors:#?}"
    );
}

fn instance_create_bodies() -> Vec<InstanceCreate> {
    let image = Uuid::new_v4();
    let base = || InstanceCreate::new("vm", "vm.example.com", 2, 2 << 30);
    let disk = |source: DiskSource| InstanceDiskAttachment::Create {
        name: "data".into(),
        description: "data disk".into(),
        size: 10 << 30,
        disk_backend: DiskBackend::Distributed {
            disk_source: source,
        },
    };
    let v4 = PrivateIpv4StackCreate {
        ip: Ipv4Assignment::Explicit("172.30.0.5".parse().unwrap()),
        transit_ips: vec!["192.168.1.0/24".into()],
    };
    let v6 = PrivateIpv6StackCreate {
        ip: Ipv6Assignment::Explicit("fd00::5".parse().unwrap()),
        transit_ips: vec!["fd12:3456::/64".into()],
    };
    let mut bodies = vec![
        base(),
        baker_body("baker", image),
        baker_body("keys", image)
            .ssh_public_keys([NameOrId::from("my-key"), NameOrId::Id(Uuid::new_v4())]),
        baker_body("all-keys", image).all_ssh_public_keys(),
        baker_body("data", image)
            .user_data(b"#!/bin/sh\necho hi\n".to_vec())
            .start(false),
        base()
            .ephemeral_ip(PoolSelector::Explicit {
                pool: NameOrId::from("default"),
            })
            .auto_restart_policy(InstanceAutoRestartPolicy::BestEffort),
        base().ephemeral_ip(PoolSelector::Auto { ip_version: None }),
        base().ephemeral_ip(PoolSelector::Auto {
            ip_version: Some(IpVersion::V6),
        }),
        base()
            .network_interface(
                "a",
                "default",
                "default",
                Some(PrivateIpStackCreate::V4(v4.clone())),
            )
            .network_interface(
                "b",
                "default",
                "default",
                Some(PrivateIpStackCreate::V6(v6.clone())),
            )
            .network_interface(
                "c",
                "default",
                "default",
                Some(PrivateIpStackCreate::DualStack { v4, v6 }),
            )
            .network_interface(
                "d",
                "default",
                "default",
                Some(PrivateIpStackCreate::v6_auto()),
            )
            .network_interface("e", "default", "default", None),
        base().boot_disk(InstanceDiskAttachment::Attach {
            name: "existing".into(),
        }),
        base().boot_disk(InstanceDiskAttachment::Create {
            name: "local".into(),
            description: String::new(),
            size: 1 << 30,
            disk_backend: DiskBackend::Local,
        }),
        base().boot_disk(disk(DiskSource::Snapshot {
            snapshot_id: Uuid::new_v4(),
            read_only: true,
        })),
        base().boot_disk(disk(DiskSource::Blank {
            block_size: oxide_client::BlockSize::B4096,
        })),
        base().boot_disk(disk(DiskSource::ImportingBlocks {
            block_size: oxide_client::BlockSize::B512,
        })),
    ];
    for nics in [
        InstanceNetworkInterfaceAttachment::DefaultIpv4,
        InstanceNetworkInterfaceAttachment::DefaultIpv6,
        InstanceNetworkInterfaceAttachment::DefaultDualStack,
        InstanceNetworkInterfaceAttachment::None,
    ] {
        bodies.push(base().network_interfaces(nics));
    }
    let mut with_floating = base();
    with_floating.external_ips.push(ExternalIpCreate::Floating {
        floating_ip: NameOrId::from("fip"),
    });
    with_floating
        .anti_affinity_groups
        .push(NameOrId::from("spread"));
    with_floating.disks.push(InstanceDiskAttachment::Attach {
        name: "extra".into(),
    });
    bodies.push(with_floating);
    bodies
}

#[test]
fn every_request_body_validates_against_the_spec() {
    let v = validator(request_schema("instance_create"));
    let bodies = instance_create_bodies();
    for body in &bodies {
        check_valid("instance_create", &v, &serde_json::to_value(body).unwrap());
    }

    let v = validator(request_schema("image_create"));
    let image =
        ImageCreate::from_snapshot("baked", Uuid::new_v4(), "debian", "12").description("d");
    check_valid("image_create", &v, &serde_json::to_value(&image).unwrap());

    let v = validator(request_schema("snapshot_create"));
    for disk in [NameOrId::from("boot"), NameOrId::Id(Uuid::new_v4())] {
        let body = SnapshotCreate::new("snap", disk).description("d");
        check_valid("snapshot_create", &v, &serde_json::to_value(&body).unwrap());
    }

    let v = validator(request_schema("disk_create"));
    for bs in [BlockSize::B512, BlockSize::B2048, BlockSize::B4096] {
        let body = DiskCreate::importing_blocks("imp", 1 << 30, bs).description("d");
        check_valid("disk_create", &v, &serde_json::to_value(&body).unwrap());
    }
    let v = validator(request_schema("disk_bulk_write_import"));
    let body = ImportBlocksBulkWrite::new(4096, &[1, 2, 3]);
    check_valid(
        "disk_bulk_write_import",
        &v,
        &serde_json::to_value(&body).unwrap(),
    );
    let v = validator(request_schema("disk_finalize_import"));
    for body in [FinalizeDisk::default(), FinalizeDisk::with_snapshot("snap")] {
        check_valid(
            "disk_finalize_import",
            &v,
            &serde_json::to_value(&body).unwrap(),
        );
    }

    let v = validator(request_schema("current_user_ssh_key_create"));
    let key = SshKeyCreate::new("key", PUBLIC_KEY).description("d");
    check_valid(
        "current_user_ssh_key_create",
        &v,
        &serde_json::to_value(&key).unwrap(),
    );
}

#[test]
fn the_validator_rejects_bodies_that_break_the_spec() {
    let v = validator(request_schema("instance_create"));
    let mut body = serde_json::to_value(baker_body("ok", Uuid::new_v4())).unwrap();
    assert!(v.is_valid(&body));
    body["name"] = json!("Not_A_Name");
    assert!(!v.is_valid(&body), "bad name accepted");
    let mut body = serde_json::to_value(baker_body("ok", Uuid::new_v4())).unwrap();
    body["external_ips"][0]["pool_selector"] = json!({ "type": "auto", "ip_version": "v5" });
    assert!(!v.is_valid(&body), "bad ip_version accepted");
    let mut body = serde_json::to_value(baker_body("ok", Uuid::new_v4())).unwrap();
    body.as_object_mut().unwrap().remove("hostname");
    assert!(!v.is_valid(&body), "missing hostname accepted");
}

/// An example value of `schema`; `variant` picks among `oneOf`s and enums,
/// `full` includes optional properties (and non-null nullables).
fn example(schema: &Value, variant: usize, full: bool) -> Value {
    if let Some(r) = schema["$ref"].as_str() {
        let name = r.trim_start_matches("#/components/schemas/");
        return example(&spec()["components"]["schemas"][name], variant, full);
    }
    if let Some(all) = schema["allOf"].as_array() {
        return example(&all[0], variant, full);
    }
    if let Some(one) = schema["oneOf"].as_array().or(schema["anyOf"].as_array()) {
        return example(&one[variant % one.len()], variant, full);
    }
    if let Some(e) = schema["enum"].as_array() {
        return e[variant % e.len()].clone();
    }
    match schema["type"].as_str() {
        Some("object") => {
            let required: Vec<&str> = schema["required"]
                .as_array()
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let mut out = Map::new();
            for (k, prop) in schema["properties"].as_object().into_iter().flatten() {
                if full || required.contains(&k.as_str()) {
                    out.insert(k.clone(), example(prop, variant, full));
                }
            }
            Value::Object(out)
        }
        Some("array") => json!([example(&schema["items"], variant, full)]),
        Some("integer") => json!(schema["minimum"].as_u64().unwrap_or(0).max(1)),
        Some("boolean") => json!(variant.is_multiple_of(2)),
        Some("string") => match schema["format"].as_str() {
            Some("uuid") => json!("3f2d1c0b-8e7a-4b6c-9d5e-0a1b2c3d4e5f"),
            Some("date-time") => json!("2026-07-28T12:34:56.789Z"),
            Some("ip") | Some("ipv4") => json!("192.0.2.10"),
            Some("ipv6") => json!("2001:db8::10"),
            _ if schema.get("pattern").is_some() => json!("example-name"),
            _ => json!("text"),
        },
        _ => json!(null),
    }
}

fn decodes<T: DeserializeOwned>(op_id: &str) {
    let schema = response_schema(op_id);
    for variant in 0..12 {
        for full in [true, false] {
            let value = example(schema, variant, full);
            if let Err(e) = serde_json::from_value::<T>(value.clone()) {
                panic!("{op_id} example {value} does not decode: {e}");
            }
        }
    }
}

#[test]
fn answers_built_from_the_spec_decode() {
    use oxide_client::*;
    decodes::<Image>("image_view");
    decodes::<ResultsPage<Image>>("image_list");
    decodes::<Image>("image_promote");
    decodes::<Instance>("instance_view");
    decodes::<ResultsPage<Instance>>("instance_list");
    decodes::<ResultsPage<ExternalIp>>("instance_external_ip_list");
    decodes::<InstanceSerialConsoleData>("instance_serial_console");
    decodes::<Disk>("disk_view");
    decodes::<Snapshot>("snapshot_view");
    decodes::<ResultsPage<Snapshot>>("snapshot_list");
    decodes::<SshKey>("current_user_ssh_key_view");
    decodes::<ResultsPage<SshKey>>("current_user_ssh_key_list");
    decodes::<SiloIpPool>("ip_pool_view");
    decodes::<ResultsPage<SiloIpPool>>("ip_pool_list");
    decodes::<Project>("project_view");
}

#[test]
fn unknown_enum_values_from_a_newer_rack_decode() {
    use oxide_client::*;
    let mut v = example(response_schema("instance_view"), 0, true);
    v["run_state"] = json!("hibernating");
    v["auto_restart_policy"] = json!("sometimes");
    let i: Instance = serde_json::from_value(v).unwrap();
    assert_eq!(i.run_state, InstanceState::Unknown);
    let mut d = example(response_schema("disk_view"), 0, true);
    d["state"] = json!({ "state": "teleporting", "where": "mars" });
    let d: Disk = serde_json::from_value(d).unwrap();
    assert_eq!(d.state, DiskState::Unknown);
    let ip: ExternalIp =
        serde_json::from_value(json!({ "kind": "anycast", "ip": "192.0.2.1" })).unwrap();
    assert_eq!(ip, ExternalIp::Unknown);
}

/// The simulator's answers follow the same schemas.
#[tokio::test]
async fn simulator_answers_validate_against_the_spec() {
    let sim = sim().await;
    let c = client(&sim);
    let (i, disk) = build_instance(&c, "conform").await;
    let p = crate::common::project();
    let snap = c
        .snapshot_create(&p, &SnapshotCreate::new("conform-snap", disk))
        .await
        .unwrap();
    c.current_user_ssh_key_create(&SshKeyCreate::new("conform-key", PUBLIC_KEY))
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let checks = [
        ("image_view", "/v1/images/debian-12".to_owned()),
        ("image_list", "/v1/images?project=imagebake".to_owned()),
        ("instance_view", format!("/v1/instances/{}", i.id)),
        (
            "instance_list",
            "/v1/instances?project=imagebake&limit=1".to_owned(),
        ),
        (
            "instance_external_ip_list",
            format!("/v1/instances/{}/external-ips", i.id),
        ),
        (
            "instance_serial_console",
            format!("/v1/instances/{}/serial-console?most_recent=10", i.id),
        ),
        ("disk_view", format!("/v1/disks/{disk}")),
        ("snapshot_view", format!("/v1/snapshots/{}", snap.id)),
        (
            "snapshot_list",
            "/v1/snapshots?project=imagebake".to_owned(),
        ),
        ("current_user_ssh_key_list", "/v1/me/ssh-keys".to_owned()),
        ("ip_pool_list", "/v1/ip-pools".to_owned()),
        ("ip_pool_view", "/v1/ip-pools/default".to_owned()),
        ("project_view", "/v1/projects/imagebake".to_owned()),
        ("project_list", "/v1/projects?limit=1".to_owned()),
        ("current_user_view", "/v1/me".to_owned()),
    ];
    for (op, path) in checks {
        let body: Value = http
            .get(format!("{}{path}", sim.url()))
            .bearer_auth(sim.token())
            .header("api-version", oxide_client::API_VERSION)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        check_valid(op, &validator(response_schema(op)), &body);
    }
    // An error answer has the documented shape: a missing object, an
    // unknown path, a method the path does not take.
    let error_schema = validator(&json!({ "$ref": "#/components/schemas/Error" }));
    for (method, path, status) in [
        (reqwest::Method::GET, "/v1/images/nope", 404),
        (reqwest::Method::GET, "/v1/no-such-thing", 404),
        (reqwest::Method::PUT, "/v1/projects", 405),
    ] {
        let resp = http
            .request(method, format!("{}{path}", sim.url()))
            .bearer_auth(sim.token())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), status, "{path}");
        let err: Value = resp.json().await.unwrap();
        check_valid("error", &error_schema, &err);
    }
}
