use osc_client::{Client, Config, SignatureVersion};

use crate::common::{config_for, fast_retry, setup, sim};

#[tokio::test]
async fn osc4_and_aws4_are_both_accepted() {
    let sim = sim().await;
    for sig in [SignatureVersion::Osc4, SignatureVersion::Aws4] {
        let client = Client::new(config_for(&sim, sig)).expect("client");
        let account = client.accounts().current().await.expect("ReadAccounts");
        assert_eq!(account.account_id, sim.account_id(), "{sig:?}");
        client.vms().check_auth().await.expect("ReadVms DryRun");
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn a_wrong_secret_is_a_401_with_an_errors_body_and_is_not_retried() {
    let (sim, _) = setup().await;
    let config = Config::builder()
        .access_key(sim.access_key())
        .secret_key("not-the-secret")
        .region(sim.region())
        .endpoint(sim.endpoint())
        .retry(fast_retry(5))
        .build_with(|_| None, None)
        .expect("config");
    let client = Client::new(config).expect("client");
    let before = sim.request_count();
    let err = client.accounts().read().await.expect_err("refused");
    assert!(err.is_auth(), "{err:?}");
    assert_eq!(err.code(), Some("1"));
    assert!(err.request_id().is_some());
    assert_eq!(sim.request_count(), before + 1, "a 401 is not retried");
    assert!(!format!("{err:?} {err}").contains("not-the-secret"));
    sim.shutdown().await;
}

#[tokio::test]
async fn a_wrong_region_in_the_scope_is_refused() {
    let sim = sim().await;
    let config = Config::builder()
        .access_key(sim.access_key())
        .secret_key(sim.secret_key())
        .region("us-east-2")
        .endpoint(sim.endpoint())
        .build_with(|_| None, None)
        .expect("config");
    let err = Client::new(config)
        .expect("client")
        .accounts()
        .read()
        .await
        .expect_err("refused");
    assert_eq!(err.status(), Some(401));
    sim.shutdown().await;
}
