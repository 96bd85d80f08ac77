//! Seed data present at start: public images, packages and networks.

use std::time::SystemTime;

use serde_json::json;
use uuid::Uuid;

use super::state::{Image, ImageState, Network, Package};

/// The account's UUID.
pub(crate) const ACCOUNT_ID: Uuid = Uuid::from_u128(0x6b5f1c2e_9a4d_4c1e_8f3b_2d7a9e0c4b15);
/// Owner of the public images (see [`super::inventory::SEED_IMAGE_OWNER`]).
pub(crate) const ADMIN_ID: Uuid = Uuid::from_u128(0x930896af_bf8c_48d4_885c_6573a94b1853);

/// `base-64-lts@22.4.0`.
pub(crate) const BASE_64_LTS_22: Uuid = Uuid::from_u128(0xc2c31b00_1d60_11ed_9f3a_4b8e2f0d2201);
/// `base-64-lts@23.4.0`.
pub(crate) const BASE_64_LTS_23: Uuid = Uuid::from_u128(0xe44ed3e0_910b_11ee_b2d6_0b4f7a3c2301);
/// `ubuntu-22.04@20240101`.
pub(crate) const UBUNTU_2204: Uuid = Uuid::from_u128(0x2f1dc2e8_a8f0_4c46_9d2c_6c1e0b0f2204);
/// `base-64@21.4.0`, disabled.
pub(crate) const BASE_64_21: Uuid = Uuid::from_u128(0x1d05e788_5409_11ec_9b3f_5b8d8c2a2104);

/// `sdc_nat`, public.
pub(crate) const NET_PUBLIC: Uuid = Uuid::from_u128(0x9ec60129_9034_47b4_b111_3026f9b1a10f);
/// `My-Fabric-Network`, private fabric.
pub(crate) const NET_FABRIC: Uuid = Uuid::from_u128(0x7fa999c8_0d2c_453e_989c_e897716d0831);

/// What a public image requires, as Joyent's carry: a SmartOS zone image
/// the lowest platform it runs on (its build platform, `min_platform`), a
/// Linux zvol the bhyve brand.
fn requirements(os: &str, kind: &str, published: &str) -> serde_json::Value {
    match (os, kind) {
        ("smartos", _) => {
            // The platform stamp of the build, the day before publication.
            let stamp = match published.get(..4) {
                Some("2022") => "20211216T012707Z",
                Some("2023") => "20221229T221813Z",
                _ => "20240104T000728Z",
            };
            json!({"min_platform": {"7.0": stamp}})
        }
        (_, "zvol") => json!({"brand": "bhyve"}),
        _ => json!({}),
    }
}

pub(crate) fn images() -> Vec<Image> {
    let image = |id, name: &str, version: &str, os: &str, kind: &str, published: &str| Image {
        requirements: requirements(os, kind, published),
        id,
        name: name.to_owned(),
        version: version.to_owned(),
        os: os.to_owned(),
        kind: kind.to_owned(),
        description: Some(format!("{name} {version} (imagebake simulator seed image)")),
        homepage: Some("https://docs.tritondatacenter.com/public-cloud/instances".to_owned()),
        eula: None,
        acl: Vec::new(),
        tags: serde_json::Map::new(),
        owner: ADMIN_ID,
        public: true,
        state: ImageState::Active,
        pending: None,
        error: None,
        published_at: Some(published.to_owned()),
        origin: None,
        image_size: (kind == "zvol").then_some(10_240),
        created: SystemTime::UNIX_EPOCH,
    };
    let mut disabled = image(
        BASE_64_21,
        "base-64",
        "21.4.0",
        "smartos",
        "zone-dataset",
        "2022-01-12T00:00:00Z",
    );
    disabled.state = ImageState::Disabled;
    vec![
        disabled,
        image(
            BASE_64_LTS_22,
            "base-64-lts",
            "22.4.0",
            "smartos",
            "zone-dataset",
            "2023-01-10T00:00:00Z",
        ),
        image(
            UBUNTU_2204,
            "ubuntu-22.04",
            "20240101",
            "linux",
            "zvol",
            "2024-01-02T00:00:00Z",
        ),
        image(
            BASE_64_LTS_23,
            "base-64-lts",
            "23.4.0",
            "smartos",
            "zone-dataset",
            "2024-01-15T00:00:00Z",
        ),
    ]
}

pub(crate) fn packages() -> Vec<Package> {
    let package = |id, name: &str, memory: u64, vcpus: u64, default: bool| Package {
        id,
        name: name.to_owned(),
        memory,
        disk: memory * 25,
        swap: memory * 2,
        lwps: 4000,
        vcpus,
        version: "1.0.0".to_owned(),
        group: "g1".to_owned(),
        description: format!("General purpose {memory} MB RAM"),
        default,
    };
    vec![
        package(
            Uuid::from_u128(0x0ea54d9d_8d4d_4959_a87e_bf47c0f61a47),
            "g1.nano",
            512,
            1,
            false,
        ),
        package(
            Uuid::from_u128(0x4667d1b8_5b61_4d7c_9a43_7f1e3c3b2a11),
            "g1.small",
            1024,
            1,
            true,
        ),
        package(
            Uuid::from_u128(0x8b7e1c52_2f1a_4c5b_b9f8_3d2e6a7c9d40),
            "g1.medium",
            4096,
            2,
            false,
        ),
    ]
}

pub(crate) fn networks() -> Vec<Network> {
    vec![
        Network {
            id: NET_PUBLIC,
            name: "sdc_nat".to_owned(),
            public: true,
            fabric: false,
            description: "Public NAT network".to_owned(),
        },
        Network {
            id: NET_FABRIC,
            name: "My-Fabric-Network".to_owned(),
            public: false,
            fabric: true,
            description: "The account's default fabric network".to_owned(),
        },
    ]
}
