use osc_client::Error;

use crate::common::setup;

#[tokio::test]
async fn missing_resources_decode_with_code_type_and_request_id() {
    let (sim, client) = setup().await;
    let err = client
        .volumes()
        .delete("vol-deadbeef")
        .await
        .expect_err("missing");
    assert!(err.is_not_found());
    let api = err.api().expect("api error");
    assert_eq!(api.status, 400);
    assert_eq!(api.action, "DeleteVolume");
    assert_eq!(api.errors[0].code, "5064");
    assert_eq!(api.errors[0].kind, "InvalidResource");
    assert!(api.errors[0].details.contains("vol-deadbeef"));
    assert!(api.request_id.as_deref().is_some_and(|r| !r.is_empty()));
    assert!(err.to_string().contains("code 5064"), "{err}");

    for (e, code) in [
        (
            client
                .snapshots()
                .delete("snap-deadbeef")
                .await
                .expect_err("snap"),
            "5054",
        ),
        (
            client
                .images()
                .delete("ami-deadbeef")
                .await
                .expect_err("ami"),
            "5023",
        ),
    ] {
        assert!(e.is_not_found());
        assert_eq!(e.code(), Some(code));
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn a_closed_port_is_a_transport_error() {
    let (sim, _) = setup().await;
    let endpoint = sim.endpoint();
    let config = crate::common::config_for(&sim, osc_client::SignatureVersion::Osc4);
    sim.shutdown().await;
    let client = osc_client::Client::new(config).expect("client");
    let err = client.accounts().read().await.expect_err("nothing listens");
    assert!(
        matches!(
            err,
            Error::Transport {
                action: "ReadAccounts",
                ..
            }
        ),
        "{err:?} ({endpoint})"
    );
}
