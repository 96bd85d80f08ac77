use oxide_client::{Error, ImageCreate, InstanceCreate, NameOrId, SnapshotCreate, SshKeyCreate};

use crate::common::{PUBLIC_KEY, client, project, sim};

#[tokio::test]
async fn bad_names_fail_before_any_request_and_name_the_field() {
    let sim = sim().await;
    let c = client(&sim);
    let p = project();
    let image = uuid::Uuid::new_v4();
    let cases: Vec<(&str, Error)> = vec![
        (
            "name",
            c.instance_create(&p, &InstanceCreate::new("Web", "web", 1, 1 << 30))
                .await
                .unwrap_err(),
        ),
        (
            "hostname",
            c.instance_create(&p, &InstanceCreate::new("web", "bad_host-", 1, 1 << 30))
                .await
                .unwrap_err(),
        ),
        (
            "boot_disk.name",
            c.instance_create(
                &p,
                &InstanceCreate::new("web", "web", 1, 1 << 30).boot_disk_from_image(
                    "disk-",
                    image,
                    1 << 30,
                ),
            )
            .await
            .unwrap_err(),
        ),
        (
            "network_interfaces.vpc_name",
            c.instance_create(
                &p,
                &InstanceCreate::new("web", "web", 1, 1 << 30)
                    .network_interface("nic", "Default", "default", None),
            )
            .await
            .unwrap_err(),
        ),
        (
            "ssh_public_keys",
            c.instance_create(
                &p,
                &InstanceCreate::new("web", "web", 1, 1 << 30).ssh_public_keys(["9key"]),
            )
            .await
            .unwrap_err(),
        ),
        (
            "name",
            c.image_create(
                Some(&p),
                &ImageCreate::from_snapshot("a".repeat(64), image, "os", "1"),
            )
            .await
            .unwrap_err(),
        ),
        (
            "name",
            c.snapshot_create(&p, &SnapshotCreate::new("snap_1", "disk"))
                .await
                .unwrap_err(),
        ),
        (
            "name",
            c.current_user_ssh_key_create(&SshKeyCreate::new("-key", PUBLIC_KEY))
                .await
                .unwrap_err(),
        ),
        (
            "instance",
            c.instance_view("UPPER", Some(&p)).await.unwrap_err(),
        ),
        (
            "project",
            c.disk_view("disk", Some(&NameOrId::from("Proj")))
                .await
                .unwrap_err(),
        ),
        ("image", c.image_delete("x-", None).await.unwrap_err()),
    ];
    for (field, e) in cases {
        match &e {
            Error::InvalidName {
                field: f, reason, ..
            } => {
                assert_eq!(*f, field, "{e}");
                assert!(
                    e.to_string().contains(field) && e.to_string().contains(reason),
                    "{e}"
                );
            }
            other => panic!("expected InvalidName for {field}, got {other:?}"),
        }
    }
    assert_eq!(sim.request_count(), 0, "nothing was sent");
}
