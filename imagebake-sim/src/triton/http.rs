//! The request pipeline: count, ping, body, version, signature, login,
//! route, fault, operation, common response headers.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::SystemTime;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use uuid::Uuid;

use super::Shared;
use super::auth;
use super::error::{ApiError, Reply};
use super::params::Params;
use super::routes::{self, Context, Op};
use crate::Fault;
use crate::drop::dropped_connection;

/// restify's `maxBodySize` in CloudAPI.
const MAX_BODY: usize = 100_000;
/// The datacenter's name (`Triton-Datacenter-Name`, ListDatacenters).
pub(crate) const DATACENTER: &str = "imagebake-sim-1";
/// The API versions CloudAPI 9 serves (`GET /--ping`).
const VERSIONS: &[&str] = &["7.0.0", "7.1.0", "7.2.0", "7.3.0", "8.0.0", "9.0.0"];

/// The simulator's router: one handler for every path.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new().fallback(handle).with_state(shared)
}

async fn handle(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    shared.requests.fetch_add(1, Ordering::Relaxed);
    let version = match served_version(req.headers()) {
        Ok(v) => v,
        Err(e) => return decorate(e.into_response(), "9.0.0"),
    };
    decorate(process(&shared, req).await, version)
}

/// The common CloudAPI response headers.
fn decorate(mut response: Response, version: &'static str) -> Response {
    let h = response.headers_mut();
    h.insert("api-version", HeaderValue::from_static(version));
    h.insert(header::SERVER, HeaderValue::from_static("cloudapi/9.20.0"));
    if let Ok(id) = HeaderValue::from_str(&Uuid::new_v4().to_string()) {
        h.insert("request-id", id);
    }
    h.insert("response-time", HeaderValue::from_static("0"));
    h.insert(
        "triton-datacenter-name",
        HeaderValue::from_static(DATACENTER),
    );
    response
}

/// The version answered for `Accept-Version` (or `X-Api-Version`): majors 7
/// to 9 are served; anything else is 400 `InvalidVersion`.
fn served_version(headers: &HeaderMap) -> Result<&'static str, ApiError> {
    let Some(range) = headers
        .get("accept-version")
        .or_else(|| headers.get("x-api-version"))
        .and_then(|v| v.to_str().ok())
    else {
        return Ok("9.0.0");
    };
    let mut best: Option<u64> = None;
    for alt in range.split("||") {
        let alt = alt.trim();
        if alt.is_empty() || alt == "*" || alt.starts_with('>') {
            best = best.max(Some(9));
            continue;
        }
        let digits: String = alt
            .trim_start_matches(['~', '^', '=', 'v', ' '])
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        if let Ok(major) = digits.parse::<u64>()
            && (7..=9).contains(&major)
        {
            best = best.max(Some(major));
        }
    }
    match best {
        Some(9) => Ok("9.0.0"),
        Some(8) => Ok("8.0.0"),
        Some(_) => Ok("7.3.0"),
        None => Err(ApiError::new(
            400,
            "InvalidVersion",
            format!(
                "{range} is not supported; versions: {}",
                VERSIONS.join(", ")
            ),
        )),
    }
}

async fn process(shared: &Shared, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_owned();
    if path == "/--ping" && parts.method == Method::GET {
        return Reply::ok(json!({ "ping": "pong", "cloudapi": { "versions": VERSIONS } }))
            .into_response();
    }
    let target = parts
        .uri
        .path_and_query()
        .map_or_else(|| path.clone(), |pq| pq.as_str().to_owned());
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY).await else {
        return ApiError::new(
            413,
            "RequestEntityTooLarge",
            format!("Request body size exceeds {MAX_BODY}"),
        )
        .into_response();
    };

    // restify routes before the auth handlers run: an unknown path is 404
    // and a wrong method 405 whoever asks.
    let segments = routes::segments(&path);
    let Some((first, rest)) = segments.split_first() else {
        return ApiError::not_found(format!("{path} does not exist")).into_response();
    };
    if let Err(e) = routes::check_route(&path, rest, &parts.method) {
        return e.into_response();
    }

    let (login, caller) = {
        let store = shared.store();
        let request = auth::Request {
            method: &parts.method,
            target: &target,
            headers: &parts.headers,
        };
        let caller = match auth::authenticate(
            &request,
            &store.account,
            shared.clock_skew_limit,
            SystemTime::now(),
        ) {
            Ok(caller) => caller,
            Err(e) => return e.into_response(),
        };
        (store.account.login.clone(), caller)
    };

    if first != "my" && *first != login {
        return ApiError::not_authorized(format!("You do not have permission to access /{first}"))
            .into_response();
    }
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let params = match Params::merge(parts.uri.query(), content_type, &bytes) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let op = match Op::resolve(&parts.method, rest, &params) {
        Ok(op) => op,
        Err(e) => return e.into_response(),
    };

    let mut cx = Context {
        login,
        accept: parts
            .headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        fail_resource: false,
        caller: json!({ "type": "signature", "ip": "127.0.0.1", "keyId": caller.key_id }),
        url: parts
            .headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .map_or_else(String::new, |h| format!("http://{h}")),
        manta: shared.manta.get().cloned(),
    };
    let fault = shared.faults.take(op.name());
    match fault {
        Some(Fault::Status(status)) => return ApiError::for_status(status).into_response(),
        Some(Fault::Throttle) => return ApiError::throttled().into_response(),
        Some(Fault::DropBefore) => return dropped_connection(),
        Some(Fault::Slow(delay)) => tokio::time::sleep(delay).await,
        Some(Fault::FailResource) => cx.fail_resource = true,
        Some(Fault::DropAfter | Fault::LateAnswer(_)) | None => {}
    }
    tracing::debug!(operation = op.name(), %target, "triton sim request");
    let result = op.execute(&cx, &params, &mut shared.store());
    if result.is_ok() {
        record_created(&shared.faults, op.name(), &params);
    }
    if let Some(Fault::LateAnswer(d)) = fault {
        tokio::time::sleep(d).await;
    }
    if fault == Some(Fault::DropAfter) {
        return dropped_connection();
    }
    let response = match result {
        Ok(reply) => reply.into_response(),
        Err(e) => e.into_response(),
    };
    if parts.method == Method::HEAD {
        let (parts, _) = response.into_parts();
        return Response::from_parts(parts, Body::empty());
    }
    response
}

/// Counts a successful create in the fault stats, under the name it was
/// asked for (an image: `name@version`).
fn record_created(faults: &crate::Faults, op: &str, params: &Params) {
    let name = || params.str("name").unwrap_or_default();
    match op {
        "CreateMachine" => faults.record_created("machine", &name()),
        "CreateImageFromMachine" => {
            let version = params.str("version").unwrap_or_default();
            faults.record_created("image", &format!("{}@{version}", name()));
        }
        "CreateKey" => faults.record_created("key", &name()),
        _ => {}
    }
}
