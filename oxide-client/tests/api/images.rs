use futures::TryStreamExt;
use oxide_client::{Error, ImageCreate, InstanceState, ListOptions, NameOrId, SnapshotCreate};

use crate::common::{client, project, sim, wait_instance};
use crate::instances::{build_instance, delete_instance};

#[tokio::test]
async fn view_silo_and_project_images_by_name_and_id() {
    let sim = sim().await;
    let c = client(&sim);
    let debian = c.image_view("debian-12", None).await.unwrap();
    assert!(debian.is_silo_image());
    assert_eq!(
        (debian.os.as_str(), debian.version.as_str()),
        ("debian", "12")
    );
    let by_id = c.image_view(debian.id, Some(&project())).await.unwrap();
    assert_eq!(by_id, debian);
    let alpine = c.image_view("alpine-3-20", Some(&project())).await.unwrap();
    assert_eq!(alpine.project_id, Some(sim.project_id()));
    // A project image is not a silo image.
    let e = c.image_view("alpine-3-20", None).await.unwrap_err();
    assert!(e.is_not_found(), "{e}");
    assert_eq!(e.error_code(), Some("ObjectNotFound"));
}

#[tokio::test]
async fn list_project_and_silo_images() {
    let sim = sim().await;
    let c = client(&sim);
    let silo: Vec<_> = c
        .image_list(None, ListOptions::default())
        .try_collect()
        .await
        .unwrap();
    let names: Vec<_> = silo.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["debian-12", "ubuntu-24-04"]);
    let proj: Vec<_> = c
        .image_list(Some(&project()), ListOptions::default())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(proj.len(), 1);
    assert_eq!(proj[0].name, "alpine-3-20");
}

#[tokio::test]
async fn image_from_snapshot_outlives_the_snapshot_then_promote_demote_delete() {
    let sim = sim().await;
    let c = client(&sim);
    let p = project();
    let (instance, disk) = build_instance(&c, "img-src").await;
    c.instance_stop(instance.id, None).await.unwrap();
    wait_instance(&c, instance.id, None, InstanceState::Stopped)
        .await
        .unwrap();
    let snap = c
        .snapshot_create(
            &p,
            &SnapshotCreate::new("img-src-snap", disk).description("by test"),
        )
        .await
        .unwrap();
    let body =
        ImageCreate::from_snapshot("baked", snap.id, "debian", "12").description("baked by test");
    let image = c.image_create(Some(&p), &body).await.unwrap();
    assert_eq!(image.project_id, Some(sim.project_id()));
    assert_eq!(image.size, snap.size);
    assert_eq!(image.description, "baked by test");

    // Same name again in the project: ObjectAlreadyExists.
    let e = c.image_create(Some(&p), &body).await.unwrap_err();
    assert_eq!(e.error_code(), Some("ObjectAlreadyExists"), "{e}");

    c.snapshot_delete(snap.id, None).await.unwrap();
    let still = c.image_view(image.id, None).await.unwrap();
    assert_eq!(still.id, image.id);

    let promoted = c.image_promote("baked", Some(&p)).await.unwrap();
    assert!(promoted.is_silo_image());
    let e = c.image_promote(image.id, None).await.unwrap_err();
    assert_eq!(e.status(), Some(400));
    let demoted = c.image_demote("baked", &p).await.unwrap();
    assert_eq!(demoted.project_id, Some(sim.project_id()));

    c.image_delete("baked", Some(&p)).await.unwrap();
    assert!(
        c.image_view(image.id, None)
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(!sim.inventory().images.iter().any(|i| i.id == image.id));
    delete_instance(&c, instance.id).await;
}

#[tokio::test]
async fn image_create_needs_an_existing_snapshot() {
    let sim = sim().await;
    let c = client(&sim);
    let body = ImageCreate::from_snapshot("x", uuid::Uuid::new_v4(), "debian", "12");
    let e = c
        .image_create(Some(&NameOrId::from("imagebake")), &body)
        .await
        .unwrap_err();
    assert!(matches!(&e, Error::Api { status: 404, .. }), "{e:?}");
}
