//! Raw HTTP calls to a simulator (one Oxide API call, one JSON exchange),
//! shared by the test files that speak HTTP directly (`#[path]`-included).

use imagebake_sim::oxide::{API_VERSION, OxideSim};
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// Sends `method path` to `sim` with its token, the API version and `body`
/// as JSON; returns the status and the JSON answer (`Null` when not JSON).
pub async fn oxide_call(
    http: &reqwest::Client,
    sim: &OxideSim,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let req = http
        .request(method, format!("{}{path}", sim.url()))
        .bearer_auth(sim.token())
        .header("api-version", API_VERSION);
    send_json(req, body).await
}

/// Sends `req` with `body` as JSON; returns the status and the JSON answer
/// (`Null` when not JSON).
pub async fn send_json(
    mut req: reqwest::RequestBuilder,
    body: Option<Value>,
) -> (StatusCode, Value) {
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("response");
    let status = resp.status();
    let text = resp.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}
