use crate::common::ImageWaits;
use crate::common::{copy_source_image, delete_image, delete_snapshot};
use imagebake_sim::Fault;
use osc_client::api::{CreateImageRequest, FiltersImage};
use osc_client::types::{BlockDeviceMapping, BootMode, ImageState, Permissions, PermissionsChange};

use crate::common::{setup, waits};

#[tokio::test]
async fn public_images_by_owner_alias_wildcard_and_most_recent() {
    let (sim, client) = setup().await;
    let filters = FiltersImage::names(["Debian-12-*"]).owners(["Outscale"]);
    let all = client
        .images()
        .read(filters.clone())
        .await
        .expect("ReadImages");
    assert_eq!(all.len(), 2);
    assert!(
        all.iter()
            .all(|i| i.account_alias.as_deref() == Some("Outscale"))
    );
    let newest = client
        .images()
        .most_recent(filters)
        .await
        .expect("ReadImages")
        .expect("an image");
    assert_eq!(newest.image_id, sim.source_image_id());
    assert_eq!(newest.state, Some(ImageState::Available));
    assert_eq!(
        newest.root_mapping().expect("root").device_name,
        "/dev/sda1"
    );

    let mine = client
        .images()
        .read(FiltersImage::names(["Debian-12-*"]).owners([sim.account_id()]))
        .await
        .expect("ReadImages");
    assert!(mine.is_empty());
    let none = client
        .images()
        .read(FiltersImage::names(["Ubuntu-*"]))
        .await
        .expect("ReadImages");
    assert!(none.is_empty());
    sim.shutdown().await;
}

#[tokio::test]
async fn copy_register_update_and_delete() {
    let (sim, client) = setup().await;
    let images = client.images();
    let copy = images
        .create(&CreateImageRequest::copy(
            "debian-copy",
            sim.source_image_id(),
            sim.region(),
        ))
        .await
        .expect("CreateImage copy");
    assert_eq!(copy.state, Some(ImageState::Pending));
    let copy = images
        .wait_available(&copy.image_id, &waits())
        .await
        .expect("available");
    assert_eq!(copy.account_id, sim.account_id());
    let snap = copy.snapshot_ids()[0].to_owned();
    let s = client
        .snapshots()
        .find(&snap)
        .await
        .expect("read")
        .expect("our copy of the snapshot");
    assert_eq!(s.account_id.as_deref(), Some(sim.account_id()));

    let mut req = CreateImageRequest::register(
        "imagebake-test (1)",
        "/dev/sda1",
        vec![BlockDeviceMapping::from_snapshot("/dev/sda1", &snap)],
    );
    req.boot_modes = vec![BootMode::Uefi];
    req.description = Some("registered".into());
    let reg = images.create(&req).await.expect("CreateImage register");
    let reg = images
        .wait_available(&reg.image_id, &waits())
        .await
        .expect("available");
    assert_eq!(reg.boot_modes, vec![BootMode::Uefi]);
    assert_eq!(reg.snapshot_ids(), vec![snap.as_str()]);

    let e = images.create(&req).await.expect_err("same name");
    assert_eq!(e.code(), Some("9000"));
    let e = client.snapshots().delete(&snap).await.expect_err("in use");
    assert_eq!((e.status(), e.code()), (Some(409), Some("9002")));

    let updated = images
        .update_launch_permissions(
            &reg.image_id,
            PermissionsChange::add(Permissions::accounts(["111122223333"])),
        )
        .await
        .expect("UpdateImage")
        .expect("image");
    assert_eq!(
        updated.permissions_to_launch.expect("perms").account_ids,
        vec!["111122223333"]
    );
    let f = FiltersImage {
        permissions_to_launch_account_ids: vec!["111122223333".into()],
        ..FiltersImage::default()
    };
    assert_eq!(images.read(f).await.expect("ReadImages").len(), 1);

    images.delete(&reg.image_id).await.expect("DeleteImage");
    images.delete(&copy.image_id).await.expect("DeleteImage");
    assert!(
        images
            .delete(&copy.image_id)
            .await
            .expect_err("gone")
            .is_not_found()
    );
    delete_snapshot(&client, &snap).await;
    assert!(sim.inventory().await.is_empty());
    sim.shutdown().await;
}

#[tokio::test]
async fn a_failed_image_ends_the_wait_at_once() {
    let (sim, client) = setup().await;
    sim.faults().inject("CreateImage", Fault::FailResource, 1);
    let img = copy_source_image(&sim, &client, "doomed").await;
    let err = client
        .images()
        .wait_available(&img.image_id, &waits())
        .await
        .expect_err("failed");
    assert!(err.to_string().contains("failed"), "{err}");
    let snaps: Vec<String> = client
        .images()
        .find(&img.image_id)
        .await
        .expect("read")
        .expect("image")
        .snapshot_ids()
        .into_iter()
        .map(str::to_owned)
        .collect();
    delete_image(&client, &img.image_id).await;
    for s in snaps {
        delete_snapshot(&client, &s).await;
    }
    assert!(sim.inventory().await.is_empty());
    sim.shutdown().await;
}
