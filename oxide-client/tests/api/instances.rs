use futures::TryStreamExt;
use imagebake_sim::Fault;
use oxide_client::{
    Disk, DiskState, Error, ExternalIp, Instance, InstanceAutoRestartPolicy, InstanceCreate,
    InstanceState, IpVersion, ListOptions, NameOrId, PoolSelector, PrivateIpStackCreate,
    SerialConsoleRead, SshKeyCreate, WaitError,
};
use uuid::Uuid;

use crate::common::{PUBLIC_KEY, client, project, sim, wait_detached, wait_instance};

const GIB: u64 = 1 << 30;

/// The body a baker sends.
pub fn baker_body(name: &str, image_id: Uuid) -> InstanceCreate {
    InstanceCreate::new(name, format!("{name}.local"), 2, 2 * GIB)
        .description("built by a test")
        .boot_disk_from_image(name, image_id, 20 * GIB)
        .ephemeral_ip(PoolSelector::Auto {
            ip_version: Some(IpVersion::V4),
        })
        .network_interface(
            name,
            "default",
            "default",
            Some(PrivateIpStackCreate::v4_auto()),
        )
        .auto_restart_policy(InstanceAutoRestartPolicy::Never)
}

/// Creates a running instance from debian-12; returns it and its boot disk.
pub async fn build_instance(c: &oxide_client::Client, name: &str) -> (Instance, Uuid) {
    let debian = c.image_view("debian-12", None).await.unwrap();
    let i = c
        .instance_create(&project(), &baker_body(name, debian.id))
        .await
        .unwrap();
    let running = wait_instance(c, i.id, None, InstanceState::Running)
        .await
        .unwrap();
    let disk = running.boot_disk_id.expect("boot disk");
    (running, disk)
}

/// Stops (if needed) and deletes an instance, then deletes its detached boot disk.
pub async fn delete_instance(c: &oxide_client::Client, id: Uuid) {
    let i = c.instance_view(id, None).await.unwrap();
    c.instance_stop(id, None).await.unwrap();
    wait_instance(c, id, None, InstanceState::Stopped)
        .await
        .unwrap();
    c.instance_delete(id, None).await.unwrap();
    if let Some(disk) = i.boot_disk_id {
        wait_detached(c, disk).await.unwrap();
        c.disk_delete(disk, None).await.unwrap();
    }
}

#[tokio::test]
async fn the_whole_instance_lifecycle() {
    let sim = sim().await;
    let c = client(&sim);
    let p = project();
    let key = c
        .current_user_ssh_key_create(&SshKeyCreate::new("builder", PUBLIC_KEY))
        .await
        .unwrap();
    let debian = c.image_view("debian-12", None).await.unwrap();
    let body = baker_body("web", debian.id)
        .ssh_public_keys([key.id])
        .user_data(b"#cloud-config\nruncmd: [touch /tmp/ok]\n".to_vec());
    let created = c.instance_create(&p, &body).await.unwrap();
    assert_eq!(created.run_state, InstanceState::Starting);
    assert_eq!(
        created.auto_restart_policy,
        Some(InstanceAutoRestartPolicy::Never)
    );
    assert!(!created.auto_restart_enabled);
    assert_eq!((created.ncpus, created.memory), (2, 2 * GIB));
    let inv = sim.inventory();
    assert_eq!(inv.instances[0].ssh_key_ids, vec![key.id]);
    assert_eq!(
        inv.instances[0].user_data,
        b"#cloud-config\nruncmd: [touch /tmp/ok]\n"
    );

    let running = wait_instance(&c, "web", Some(&p), InstanceState::Running)
        .await
        .unwrap();
    assert_eq!(running.run_state, InstanceState::Running);

    // The external IP list has SNAT; the reachable list does not.
    let all = c.instance_external_ip_list(created.id, None).await.unwrap();
    assert!(
        all.iter().any(|ip| matches!(ip, ExternalIp::Snat { .. })),
        "{all:?}"
    );
    let reachable = c.instance_reachable_ips("web", Some(&p)).await.unwrap();
    assert_eq!(reachable.len(), 1);
    assert!(matches!(reachable[0], ExternalIp::Ephemeral { .. }));
    assert_eq!(reachable[0].ip(), Some("127.0.0.1".parse().unwrap()));

    let console = c
        .instance_serial_console(created.id, None, SerialConsoleRead::FromStart(0), None)
        .await
        .unwrap();
    assert!(
        console.text().contains("web.local login:"),
        "{}",
        console.text()
    );
    let tail = c
        .instance_serial_console("web", Some(&p), SerialConsoleRead::MostRecent(7), Some(100))
        .await
        .unwrap();
    assert_eq!(tail.text(), "login: ");
    assert_eq!(tail.last_byte_offset, console.last_byte_offset);

    let listed: Vec<_> = c
        .instance_list(&p, ListOptions::default())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        listed.iter().map(|i| i.id).collect::<Vec<_>>(),
        vec![created.id]
    );

    // Deleting a running instance is refused with the rack's message.
    let e = c.instance_delete(created.id, None).await.unwrap_err();
    assert!(
        matches!(&e, Error::Api { status: 400, message, .. }
            if message == "cannot delete instance: instance is running or has not yet fully stopped"),
        "{e:?}"
    );
    // So is deleting the attached disk.
    let disk_id = created.boot_disk_id.unwrap();
    let e = c.disk_delete(disk_id, None).await.unwrap_err();
    assert!(
        e.to_string()
            .contains("disk cannot be deleted in state \"attached\""),
        "{e}"
    );

    let stopping = c.instance_stop(created.id, None).await.unwrap();
    assert_eq!(stopping.run_state, InstanceState::Stopping);
    let stopped = wait_instance(&c, created.id, None, InstanceState::Stopped)
        .await
        .unwrap();
    assert_eq!(stopped.run_state, InstanceState::Stopped);
    // Stop is idempotent on a stopped instance.
    let again = c.instance_stop("web", Some(&p)).await.unwrap();
    assert_eq!(again.run_state, InstanceState::Stopped);
    // No SNAT without a VMM.
    let ips = c.instance_external_ip_list(created.id, None).await.unwrap();
    assert!(ips.iter().all(ExternalIp::is_reachable), "{ips:?}");

    // Start again, then stop and delete.
    c.instance_start(created.id, None).await.unwrap();
    wait_instance(&c, created.id, None, InstanceState::Running)
        .await
        .unwrap();
    c.instance_stop(created.id, None).await.unwrap();
    wait_instance(&c, created.id, None, InstanceState::Stopped)
        .await
        .unwrap();
    c.instance_delete(created.id, None).await.unwrap();
    assert!(
        c.instance_view(created.id, None)
            .await
            .unwrap_err()
            .is_not_found()
    );
    // A repeated delete is a 404 (treat as done).
    assert!(
        c.instance_delete(created.id, None)
            .await
            .unwrap_err()
            .is_not_found()
    );

    // The disk is detached, not deleted.
    let disk: Disk = wait_detached(&c, disk_id).await.unwrap();
    assert_eq!(disk.state, DiskState::Detached);
    assert_eq!(disk.image_id, Some(debian.id));
    let by_name = c.disk_view("web", Some(&p)).await.unwrap();
    assert_eq!(by_name.id, disk_id);
    c.disk_delete("web", Some(&p)).await.unwrap();
    assert!(c.disk_view(disk_id, None).await.unwrap_err().is_not_found());

    c.current_user_ssh_key_delete(key.id).await.unwrap();
    let inv = sim.inventory();
    assert!(
        inv.instances.is_empty() && inv.disks.is_empty() && inv.ssh_keys.is_empty(),
        "{inv:?}"
    );
}

#[tokio::test]
async fn a_failed_start_on_create_leaves_the_instance_stopped_and_ends_the_wait() {
    let sim = sim().await;
    let c = client(&sim);
    sim.faults()
        .inject("instance_create", Fault::FailResource, 1);
    let debian = c.image_view("debian-12", None).await.unwrap();
    let created = c
        .instance_create(&project(), &baker_body("nostart", debian.id))
        .await
        .unwrap();
    assert_eq!(created.run_state, InstanceState::Stopped);
    let e = wait_instance(&c, created.id, None, InstanceState::Running)
        .await
        .unwrap_err();
    assert!(
        matches!(e, WaitError::Failed { ref state, .. } if state.starts_with("stopped")),
        "{e:?}"
    );
    c.instance_delete(created.id, None).await.unwrap();
}

#[tokio::test]
async fn a_failed_stop_ends_the_stop_wait_and_a_second_stop_recovers() {
    let sim = sim().await;
    let c = client(&sim);
    let (i, _) = build_instance(&c, "flaky").await;
    sim.faults().inject("instance_stop", Fault::FailResource, 1);
    c.instance_stop(i.id, None).await.unwrap();
    let e = wait_instance(&c, i.id, None, InstanceState::Stopped)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("failed"), "{e}");
    let s = c.instance_stop(i.id, None).await.unwrap();
    assert_eq!(s.run_state, InstanceState::Stopped);
    c.instance_delete(i.id, None).await.unwrap();
}

#[tokio::test]
async fn instance_names_are_unique_per_project() {
    let sim = sim().await;
    let c = client(&sim);
    let (i, _) = build_instance(&c, "dup").await;
    let debian = c.image_view("debian-12", None).await.unwrap();
    let e = c
        .instance_create(&project(), &baker_body("dup", debian.id))
        .await
        .unwrap_err();
    assert_eq!(e.error_code(), Some("ObjectAlreadyExists"), "{e}");
    assert_eq!(e.status(), Some(400));
    delete_instance(&c, i.id).await;
}

#[tokio::test]
async fn explicit_pool_all_keys_and_oversized_user_data() {
    let sim = sim().await;
    let c = client(&sim);
    let debian = c.image_view("debian-12", None).await.unwrap();
    let key = c
        .current_user_ssh_key_create(&SshKeyCreate::new("mine", PUBLIC_KEY))
        .await
        .unwrap();
    let body = InstanceCreate::new("explicit", "explicit", 1, GIB)
        .boot_disk_from_image("explicit-boot", debian.id, 2 * GIB)
        .ephemeral_ip(PoolSelector::Explicit {
            pool: NameOrId::from("default"),
        })
        .all_ssh_public_keys();
    let i = c.instance_create(&project(), &body).await.unwrap();
    assert_eq!(sim.inventory().instances[0].ssh_key_ids, vec![key.id]);
    wait_instance(&c, i.id, None, InstanceState::Running)
        .await
        .unwrap();
    assert_eq!(c.instance_reachable_ips(i.id, None).await.unwrap().len(), 1);

    let before = sim.request_count();
    let big = baker_body("big", debian.id).user_data(vec![b'x'; 32 * 1024 + 1]);
    let e = c.instance_create(&project(), &big).await.unwrap_err();
    assert!(
        matches!(&e, Error::InvalidRequest { reason, .. } if reason.contains("user_data")),
        "{e:?}"
    );
    assert_eq!(sim.request_count(), before, "nothing sent");
    // Exactly 32 KiB is fine.
    let max = baker_body("max", debian.id).user_data(vec![b'x'; 32 * 1024]);
    let m = c.instance_create(&project(), &max).await.unwrap();
    assert_eq!(sim.inventory().instances[1].user_data.len(), 32 * 1024);
    for id in [i.id, m.id] {
        delete_instance(&c, id).await;
    }
}
