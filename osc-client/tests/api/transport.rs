//! The HTTP transport: connections that never open end at the connect
//! timeout, not at the (much longer) request timeout.

use std::time::Duration;

use osc_client::{Client, Config};

use crate::common::fast_retry;

/// A server whose accept queue is full never completes the TCP handshake:
/// the attempt fails as a connect timeout (the request timeout is ten
/// minutes, so only the connect timeout can end it).
#[tokio::test]
async fn a_connection_that_never_opens_ends_at_the_connect_timeout() {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind("127.0.0.1:0".parse().expect("address"))
        .expect("bind");
    let listener = socket.listen(1).expect("listen");
    let addr = listener.local_addr().expect("address");
    // Fill the accept queue (nothing accepts): later handshakes go unanswered.
    let mut held = Vec::new();
    loop {
        let attempt = tokio::time::timeout(
            Duration::from_millis(300),
            tokio::net::TcpStream::connect(addr),
        );
        match attempt.await {
            Ok(Ok(stream)) => held.push(stream),
            _ => break,
        }
        assert!(held.len() < 64, "the accept queue never filled");
    }

    let config = Config::builder()
        .access_key("AK")
        .secret_key("SK")
        .region("eu-west-2")
        .endpoint(format!("http://{addr}"))
        .request_timeout(Duration::from_secs(600))
        .connect_timeout(Duration::from_millis(200))
        .retry(fast_retry(2))
        .build_with(|_| None, None)
        .expect("config");
    assert_eq!(config.connect_timeout, Duration::from_millis(200));
    let err = Client::new(config)
        .expect("client")
        .vms()
        .check_auth()
        .await
        .expect_err("nothing answers");
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&err);
    let mut connect_timeout = false;
    while let Some(e) = source {
        if let Some(r) = e.downcast_ref::<reqwest::Error>() {
            connect_timeout |= r.is_connect() && r.is_timeout();
        }
        source = e.source();
    }
    assert!(connect_timeout, "not a connect timeout: {err:?}");
    drop(held);
}

/// By default the connect timeout is 15 s, or the request timeout when
/// that is shorter (as the other clients).
#[test]
fn the_default_connect_timeout_follows_the_request_timeout() {
    let build = |request: Duration| {
        Config::builder()
            .access_key("AK")
            .secret_key("SK")
            .endpoint("http://127.0.0.1:1")
            .request_timeout(request)
            .build_with(|_| None, None)
            .expect("config")
            .connect_timeout
    };
    assert_eq!(build(Duration::from_secs(60)), Duration::from_secs(15));
    assert_eq!(build(Duration::from_secs(5)), Duration::from_secs(5));
}

/// A client that does not verify TLS certificates says so (a warning).
#[test]
fn an_unverified_client_warns() {
    let config = |skip: bool| {
        Config::builder()
            .access_key("AK")
            .secret_key("SK")
            .endpoint("https://api.eu-west-2.outscale.com")
            .tls_skip_verify(skip)
            .build_with(|_| None, None)
            .expect("config")
    };
    let logs = imagebake_testing::capture_logs(|| {
        Client::new(config(true)).expect("client");
    });
    assert!(logs.contains("WARN"), "{logs}");
    assert!(
        logs.contains("TLS certificate verification is off"),
        "{logs}"
    );
    let quiet = imagebake_testing::capture_logs(|| {
        Client::new(config(false)).expect("client");
    });
    assert_eq!(quiet, "");
}
