//! Every operation a baker needs, through a full machine → image cycle.

use std::collections::BTreeMap;

use imagebake_sim::Fault;
use imagebake_sim::triton::SEED_IMAGE_OWNER;
use serde_json::{Value, json};
use triton_client::Client;
use triton_client::types::{
    CreateImageFromMachine, CreateMachine, ImageState, ImageType, ListImages, ListMachines,
    MachineState, NameOrId, UpdateImage,
};

use crate::common::{an_image, client, sim, wait, wait_until};
use imagebake_http::WaitError;

#[tokio::test]
async fn account_keys_packages_networks() {
    let sim = sim().await;
    let c = client(&sim);

    let account = c.get_account().await.unwrap();
    assert_eq!(account.login, sim.account());

    let keys = c.list_keys().await.unwrap();
    assert!(
        keys.iter()
            .any(|k| k.name == "imagebake-sim" && k.fingerprint == sim.key_id())
    );
    assert_eq!(
        c.get_key("imagebake-sim").await.unwrap().fingerprint,
        sim.key_id()
    );
    assert_eq!(c.get_key(sim.key_id()).await.unwrap().name, "imagebake-sim");
    let e = c.get_key("nope").await.unwrap_err();
    assert!(e.is_not_found(), "{e}");

    let packages = c.list_packages(None).await.unwrap();
    let names: Vec<&str> = packages.iter().map(|p| p.name.as_str()).collect();
    for n in ["g1.nano", "g1.small", "g1.medium"] {
        assert!(names.contains(&n), "{names:?}");
    }
    let small = c.get_package("g1.small").await.unwrap();
    assert_eq!(small.memory, 1024);
    assert_eq!(
        c.get_package(NameOrId::Id(small.id.uuid())).await.unwrap(),
        small
    );
    assert_eq!(c.get_package(small.id).await.unwrap().name, "g1.small");
    let only = c.list_packages(Some("g1.nano")).await.unwrap();
    assert_eq!(only.len(), 1);
    assert_eq!(only[0].memory, 512);

    let networks = c.list_networks().await.unwrap();
    let nat = networks.iter().find(|n| n.name == "sdc_nat").unwrap();
    assert!(nat.public);
    let fabric = networks
        .iter()
        .find(|n| n.name == "My-Fabric-Network")
        .unwrap();
    assert!(!fabric.public);
    assert_eq!(fabric.fabric, Some(true));
    assert_eq!(c.get_network(&nat.id).await.unwrap().name, "sdc_nat");
}

#[tokio::test]
async fn list_images_filters_and_most_recent() {
    let sim = sim().await;
    let c = client(&sim);

    let all = c.list_images(&ListImages::new()).await.unwrap();
    assert_eq!(all.len(), 3, "default lists active images only: {all:?}");
    assert!(all.iter().all(|i| i.state == ImageState::Active));

    let lts = c
        .list_images(&ListImages::new().name("base-64-lts"))
        .await
        .unwrap();
    assert_eq!(lts.len(), 2);
    let newest = c
        .most_recent_image(&ListImages::new().name("base-64-lts"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(newest.version, "23.4.0");
    assert_eq!(newest.os.as_deref(), Some("smartos"));
    assert_eq!(newest.image_type, Some(ImageType::ZoneDataset));

    let v = c
        .list_images(&ListImages::new().version("22.4.0"))
        .await
        .unwrap();
    assert_eq!(
        v.iter().map(|i| i.name.as_str()).collect::<Vec<_>>(),
        ["base-64-lts"]
    );
    let linux = c.list_images(&ListImages::new().os("linux")).await.unwrap();
    assert_eq!(linux.len(), 1);
    assert_eq!(linux[0].name, "ubuntu-22.04");
    let zvol = c
        .list_images(&ListImages::new().image_type(ImageType::Zvol))
        .await
        .unwrap();
    assert_eq!(zvol.len(), 1);
    assert_eq!(zvol[0].name, "ubuntu-22.04");
    let public = c
        .list_images(&ListImages::new().public(true))
        .await
        .unwrap();
    assert_eq!(public.len(), 3);
    assert!(
        c.list_images(&ListImages::new().public(false))
            .await
            .unwrap()
            .is_empty()
    );
    let owned = c
        .list_images(&ListImages::new().owner(SEED_IMAGE_OWNER))
        .await
        .unwrap();
    assert_eq!(owned.len(), 3);

    let every = c
        .list_images(&ListImages::new().all_states())
        .await
        .unwrap();
    assert!(
        every
            .iter()
            .any(|i| i.name == "base-64" && i.state == ImageState::Disabled)
    );
    let disabled = c
        .list_images(&ListImages::new().state(ImageState::Disabled))
        .await
        .unwrap();
    assert_eq!(disabled.len(), 1);

    assert!(
        c.most_recent_image(&ListImages::new().name("nope"))
            .await
            .unwrap()
            .is_none()
    );
    let e = c
        .get_image(&"00000000-0000-0000-0000-000000000000".parse().unwrap())
        .await
        .unwrap_err();
    assert!(e.is_not_found(), "{e}");
    assert_eq!(e.status(), Some(404));
}

#[tokio::test]
async fn machine_to_image_cycle() {
    let sim = sim().await;
    let c = client(&sim);
    let image = c
        .most_recent_image(&ListImages::new().name("base-64-lts"))
        .await
        .unwrap()
        .unwrap();
    let nat = c
        .list_networks()
        .await
        .unwrap()
        .into_iter()
        .find(|n| n.public)
        .unwrap();

    let req = CreateMachine::new(image.id, "g1.small")
        .name("bake-1")
        .network(nat.id)
        .metadata("user-script", "#!/bin/sh\necho hi")
        .tag("build", "b-1")
        .tag("count", 2)
        .firewall_enabled(true)
        .locality(json!({"strict": false}));
    let m = c.create_machine(&req).await.unwrap();
    assert_eq!(m.name, "bake-1");
    assert_eq!(m.state, MachineState::Provisioning);
    let m = wait_until(&wait(), || c.look_machine(&m.id, MachineState::Running))
        .await
        .unwrap();
    assert_eq!(m.primary_ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(m.tags.get("build"), Some(&json!("b-1")));
    assert_eq!(
        m.metadata.get("user-script").map(String::as_str),
        Some("#!/bin/sh\necho hi")
    );
    assert_eq!(m.firewall_enabled, Some(true));
    assert_eq!(m.image, Some(image.id));

    let inv = sim.inventory();
    assert_eq!(inv.machines.len(), 1);
    assert_eq!(inv.machines[0].tags.get("count"), Some(&json!(2)));

    let listed = c
        .list_machines(&ListMachines::new().tag("build", "b-1"))
        .await
        .unwrap();
    assert_eq!(listed.iter().map(|m| m.id).collect::<Vec<_>>(), [m.id]);
    let listed = c
        .list_machines(&ListMachines::new().state(MachineState::Stopped))
        .await
        .unwrap();
    assert!(listed.is_empty());

    tags_and_metadata(&c, &m.id).await;

    c.stop_machine(&m.id).await.unwrap();
    wait_until(&wait(), || c.look_machine(&m.id, MachineState::Stopped))
        .await
        .unwrap();

    let create = CreateImageFromMachine::new(m.id, "my-image", "1.0.0")
        .description("baked")
        .homepage("https://example.invalid/home")
        .eula("https://example.invalid/eula")
        .acl([uuid::Uuid::nil()])
        .tag("role", "web");
    let img = c.create_image_from_machine(&create).await.unwrap();
    assert_eq!(
        (img.name.as_str(), img.version.as_str()),
        ("my-image", "1.0.0")
    );
    assert_eq!(img.state, ImageState::Creating);
    let img = wait_until(&wait(), || c.look_image_active(&img.id))
        .await
        .unwrap();
    assert_eq!(img.state, ImageState::Active);
    assert_eq!(img.description.as_deref(), Some("baked"));
    assert_eq!(img.tags.get("role"), Some(&json!("web")));
    assert_eq!(c.get_image(&img.id).await.unwrap().id, img.id);

    let updated = c
        .update_image(
            &img.id,
            &UpdateImage::new().version("1.0.1").description("rebaked"),
        )
        .await
        .unwrap();
    assert_eq!(
        (updated.version.as_str(), updated.description.as_deref()),
        ("1.0.1", Some("rebaked"))
    );
    let exported = c
        .export_image(&img.id, "/imagebake/stor/images")
        .await
        .unwrap();
    assert!(
        exported
            .image_path
            .unwrap_or_default()
            .starts_with("/imagebake/stor/images")
    );
    assert!(exported.manifest_path.is_some());

    c.start_machine(&m.id).await.unwrap();
    wait_until(&wait(), || c.look_machine(&m.id, MachineState::Running))
        .await
        .unwrap();

    c.delete_machine(&m.id).await.unwrap();
    wait_until(&wait(), || c.look_machine_gone(&m.id))
        .await
        .unwrap();
    let gone = c.get_machine(&m.id).await.unwrap();
    assert!(gone.is_gone());
    assert_eq!(gone.machine().state, MachineState::Deleted);
    // Deleting again is fine (410), stopping is not.
    c.delete_machine(&m.id).await.unwrap();
    let e = c.stop_machine(&m.id).await.unwrap_err();
    assert_eq!(e.status(), Some(410), "{e}");

    c.delete_image(&img.id).await.unwrap();
    let e = c.get_image(&img.id).await.unwrap_err();
    assert!(e.is_not_found(), "{e}");

    let inv = sim.inventory();
    assert!(inv.machines.is_empty(), "{:?}", inv.machines);
    assert!(
        inv.images.iter().all(|i| i.owner == SEED_IMAGE_OWNER),
        "{:?}",
        inv.images
    );
}

async fn tags_and_metadata(c: &Client, id: &triton_client::types::MachineId) {
    let tags = c.list_machine_tags(id).await.unwrap();
    assert_eq!(tags.get("build"), Some(&json!("b-1")));

    let mut add = BTreeMap::new();
    add.insert("role".to_owned(), json!("builder"));
    let tags = c.add_machine_tags(id, &add).await.unwrap();
    assert_eq!(tags.get("role"), Some(&json!("builder")));
    assert_eq!(tags.get("build"), Some(&json!("b-1")));
    assert_eq!(c.get_machine_tag(id, "role").await.unwrap(), "builder");

    // Spaces and reserved characters: signed exactly as sent.
    let mut odd = BTreeMap::new();
    odd.insert("odd key".to_owned(), json!("a b&c=d"));
    c.add_machine_tags(id, &odd).await.unwrap();
    assert_eq!(c.get_machine_tag(id, "odd key").await.unwrap(), "a b&c=d");
    let found = c
        .list_machines(&ListMachines::new().tag("odd key", "a b&c=d"))
        .await
        .unwrap();
    assert_eq!(found.iter().map(|m| m.id).collect::<Vec<_>>(), [*id]);

    let mut only = BTreeMap::new();
    only.insert("only".to_owned(), Value::from("x"));
    let tags = c.replace_machine_tags(id, &only).await.unwrap();
    assert_eq!(tags, only);
    c.delete_machine_tag(id, "only").await.unwrap();
    assert!(c.list_machine_tags(id).await.unwrap().is_empty());
    let e = c.get_machine_tag(id, "only").await.unwrap_err();
    assert!(e.is_not_found(), "{e}");
    c.add_machine_tags(id, &add).await.unwrap();
    c.delete_machine_tags(id).await.unwrap();
    assert!(c.list_machine_tags(id).await.unwrap().is_empty());

    let mut md = BTreeMap::new();
    md.insert("k1".to_owned(), "v1".to_owned());
    md.insert("k2".to_owned(), "v2".to_owned());
    let all = c.add_machine_metadata(id, &md).await.unwrap();
    assert_eq!(all.get("k1").map(String::as_str), Some("v1"));
    assert_eq!(c.get_machine_metadata(id, "k2").await.unwrap(), "v2");
    c.delete_machine_metadata(id, "k1").await.unwrap();
    let all = c.list_machine_metadata(id).await.unwrap();
    assert!(!all.contains_key("k1") && all.contains_key("k2"), "{all:?}");
    c.delete_all_machine_metadata(id).await.unwrap();
    let all = c.list_machine_metadata(id).await.unwrap();
    assert!(
        !all.contains_key("k2") && !all.contains_key("user-script"),
        "{all:?}"
    );
}

#[tokio::test]
async fn failed_machine_and_failed_image_end_waits_at_once() {
    let sim = sim().await;
    let c = client(&sim);
    let image = an_image(&c).await;

    sim.faults().inject("CreateMachine", Fault::FailResource, 1);
    let m = c
        .create_machine(&CreateMachine::new(image, "g1.nano").name("doomed"))
        .await
        .unwrap();
    let e = wait_until(&wait(), || c.look_machine(&m.id, MachineState::Running))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, WaitError::Failed { state, .. } if state == "failed"),
        "{e}"
    );
    c.delete_machine(&m.id).await.unwrap();

    let m = c
        .create_machine(&CreateMachine::new(image, "g1.nano").name("imager"))
        .await
        .unwrap();
    wait_until(&wait(), || c.look_machine(&m.id, MachineState::Running))
        .await
        .unwrap();
    c.stop_machine(&m.id).await.unwrap();
    wait_until(&wait(), || c.look_machine(&m.id, MachineState::Stopped))
        .await
        .unwrap();
    sim.faults()
        .inject("CreateImageFromMachine", Fault::FailResource, 1);
    let img = c
        .create_image_from_machine(&CreateImageFromMachine::new(m.id, "bad", "1"))
        .await
        .unwrap();
    let e = wait_until(&wait(), || c.look_image_active(&img.id))
        .await
        .unwrap_err();
    match &e {
        WaitError::Failed { state, .. } => {
            assert!(
                state.starts_with("failed (PrepareImageDidNotRun: "),
                "{state}"
            );
        }
        other => panic!("{other}"),
    }
    assert!(e.to_string().contains("PrepareImageDidNotRun"), "{e}");
    c.delete_image(&img.id).await.unwrap();
    c.delete_machine(&m.id).await.unwrap();
    wait_until(&wait(), || c.look_machine_gone(&m.id))
        .await
        .unwrap();
}

#[tokio::test]
async fn waits_time_out_and_cancel() {
    let sim = sim().await;
    let c = client(&sim);
    let image = an_image(&c).await;
    sim.set_delays(imagebake_sim::triton::TritonDelays::all(
        std::time::Duration::from_secs(3600),
    ));
    let m = c
        .create_machine(&CreateMachine::new(image, "g1.nano").name("slow"))
        .await
        .unwrap();
    let short = triton_client::WaitOptions::new(
        std::time::Duration::from_millis(50),
        crate::common::ms(10),
    );
    let e = wait_until(&short, || c.look_machine(&m.id, MachineState::Running))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, WaitError::Timeout { last, .. } if last == "provisioning"),
        "{e}"
    );
    let cancelled = wait();
    cancelled.cancel.cancel();
    let e = wait_until(&cancelled, || c.look_machine(&m.id, MachineState::Running))
        .await
        .unwrap_err();
    assert!(matches!(e, WaitError::Cancelled { .. }), "{e}");
}

#[tokio::test]
async fn rename_audit_and_datacenters() {
    let sim = sim().await;
    let c = client(&sim);
    let dcs = c.list_datacenters().await.unwrap();
    assert_eq!(dcs.get("imagebake-sim-1"), Some(&sim.url()));

    let image = c
        .most_recent_image(&ListImages::new().name("base-64-lts"))
        .await
        .unwrap()
        .unwrap();
    let m = c
        .create_machine(&CreateMachine::new(image.id, "g1.small").name("before"))
        .await
        .unwrap();
    wait_until(&wait(), || c.look_machine(&m.id, MachineState::Running))
        .await
        .unwrap();
    c.rename_machine(&m.id, "after").await.unwrap();
    let audit = c.machine_audit(&m.id).await.unwrap();
    let actions: Vec<(&str, bool)> = audit
        .iter()
        .map(|e| (e.action.as_str(), e.success))
        .collect();
    assert_eq!(actions, [("rename", true), ("provision", true)]);
    assert_eq!(
        audit[0].caller["keyId"],
        format!("/{}/keys/{}", sim.account(), sim.key_id())
    );
    let found = c.get_machine(&m.id).await.unwrap();
    assert!(
        matches!(found, triton_client::types::MachineLookup::Found(ref f) if f.name == "after")
    );

    // A taken or invalid name is CloudAPI's 409, not retried.
    let other = c
        .create_machine(&CreateMachine::new(image.id, "g1.small").name("taken"))
        .await
        .unwrap();
    let e = c.rename_machine(&m.id, "taken").await.unwrap_err();
    assert_eq!(e.status(), Some(409), "{e}");
    let e = c.rename_machine(&m.id, "bad name").await.unwrap_err();
    assert_eq!(e.status(), Some(409), "{e}");
    c.delete_machine(&other.id).await.unwrap();
    c.delete_machine(&m.id).await.unwrap();
}
