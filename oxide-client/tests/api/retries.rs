use imagebake_sim::Fault;
use oxide_client::{Error, SshKeyCreate};

use crate::common::{PUBLIC_KEY, client, sim};

#[tokio::test]
async fn a_503_then_success_is_retried() {
    let sim = sim().await;
    let c = client(&sim);
    sim.faults().inject("image_view", Fault::Status(503), 2);
    c.image_view("debian-12", None).await.unwrap();
    assert_eq!(sim.request_count(), 3);
}

#[tokio::test]
async fn throttling_is_retried_even_for_a_create() {
    let sim = sim().await;
    let c = client(&sim);
    sim.faults()
        .inject("current_user_ssh_key_create", Fault::Throttle, 1);
    c.current_user_ssh_key_create(&SshKeyCreate::new("k", PUBLIC_KEY))
        .await
        .unwrap();
    assert_eq!(sim.request_count(), 2);
    assert_eq!(sim.inventory().ssh_keys.len(), 1);
}

#[tokio::test]
async fn retries_give_up_with_the_last_error() {
    let sim = sim().await;
    let c = client(&sim);
    sim.faults().inject("project_view", Fault::Status(503), 10);
    let e = c.project_view("imagebake").await.unwrap_err();
    assert!(
        matches!(&e, Error::Api { status: 503, error_code: Some(code), .. } if code == "ServiceNotAvailable"),
        "{e:?}"
    );
    assert_eq!(sim.request_count(), 4, "max_attempts of the test policy");
}

#[tokio::test]
async fn a_500_is_retried_for_a_read_only_and_client_errors_never() {
    let sim = sim().await;
    let c = client(&sim);
    // A read is safe to repeat: the client itself retries a 500 (no second
    // retry loop in the caller).
    sim.faults().inject("image_view", Fault::Status(500), 1);
    c.image_view("debian-12", None).await.unwrap();
    assert_eq!(sim.request_count(), 2);
    // A create is not re-sent after a 500: its outcome is unknown.
    sim.faults()
        .inject("current_user_ssh_key_create", Fault::Status(500), 1);
    let e = c
        .current_user_ssh_key_create(&SshKeyCreate::new("k", PUBLIC_KEY))
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(500));
    assert_eq!(sim.request_count(), 3);
    sim.faults().inject("image_view", Fault::Status(400), 1);
    let e = c.image_view("debian-12", None).await.unwrap_err();
    assert_eq!(e.status(), Some(400));
    assert_eq!(sim.request_count(), 4);
}

#[tokio::test]
async fn a_dropped_connection_is_retried_for_reads_only() {
    let sim = sim().await;
    let c = client(&sim);
    sim.faults().inject("image_view", Fault::DropBefore, 1);
    c.image_view("debian-12", None).await.unwrap();
    assert_eq!(sim.request_count(), 2);

    sim.faults()
        .inject("current_user_ssh_key_create", Fault::DropAfter, 1);
    let e = c
        .current_user_ssh_key_create(&SshKeyCreate::new("k", PUBLIC_KEY))
        .await
        .unwrap_err();
    assert!(
        matches!(e, Error::Transport { connect: false, .. }),
        "{e:?}"
    );
    // The key was made even though the answer was lost.
    assert_eq!(sim.inventory().ssh_keys.len(), 1);
}
