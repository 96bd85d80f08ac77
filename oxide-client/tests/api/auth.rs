use imagebake_sim::oxide::{OxideSim, OxideSimOptions};
use oxide_client::{API_VERSION, Client, Config, Error};

use crate::common::{client, fast_retry, project, sim};

#[tokio::test]
async fn every_request_carries_the_token_and_the_api_version() {
    let sim = sim().await;
    let c = client(&sim);
    c.project_view(project()).await.unwrap();
    let reqs = sim.requests();
    assert_eq!(reqs.len(), 1);
    assert!(reqs[0].authorized);
    assert_eq!(reqs[0].api_version.as_deref(), Some(API_VERSION));
    assert_eq!(reqs[0].path, "/v1/projects/imagebake");
}

#[tokio::test]
async fn a_wrong_token_is_a_401_api_error_and_is_not_retried() {
    let sim = sim().await;
    let c = Client::new(Config::new(sim.url(), "wrong-token").retry_policy(fast_retry())).unwrap();
    let e = c.project_view(project()).await.unwrap_err();
    match &e {
        Error::Api {
            status,
            error_code,
            message,
            request_id,
            ..
        } => {
            assert_eq!(*status, 401);
            assert_eq!(error_code.as_deref(), Some("Unauthorized"));
            assert_eq!(message, "credentials missing or invalid");
            assert!(request_id.is_some());
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(sim.request_count(), 1);
    assert!(!e.to_string().contains("wrong-token"));
}

#[tokio::test]
async fn an_older_rack_gives_unsupported_api_version() {
    let sim = OxideSim::start(OxideSimOptions {
        api_version: "2026010300.0.0".into(),
        ..OxideSimOptions::default()
    })
    .await
    .unwrap();
    let c = client(&sim);
    let e = c.project_view(project()).await.unwrap_err();
    match &e {
        Error::UnsupportedApiVersion {
            client_version,
            message,
            operation,
            ..
        } => {
            assert_eq!(*client_version, API_VERSION);
            assert_eq!(*operation, "project_view");
            assert!(
                message.contains("server does not support this API version"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(e.status(), Some(400));
    assert!(e.to_string().contains(API_VERSION));
    // Not retried.
    assert_eq!(sim.request_count(), 1);
}

#[tokio::test]
async fn the_token_never_shows_in_debug_output() {
    let sim = sim().await;
    let config = Config::new(sim.url(), sim.token());
    let c = Client::new(config.clone()).unwrap();
    let shown = format!("{config:?} {c:?}");
    assert!(!shown.contains(sim.token()), "{shown}");
}

#[tokio::test]
async fn a_host_without_scheme_is_refused() {
    let e = Client::new(Config::new("oxide.example.com", "t")).unwrap_err();
    assert!(matches!(e, Error::InvalidHost { .. }), "{e:?}");
}
