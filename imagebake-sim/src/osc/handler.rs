//! The one API handler: count, route (duplicate slashes collapsed, as the
//! gateway does), check the signature over the collapsed path, parse, log,
//! apply the queued fault, dispatch, answer with a `ResponseContext`.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::SystemTime;

use axum::body::Bytes;
use axum::extract::State as AxState;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::error::OscError;
use super::{Shared, actions, auth};
use crate::faults::Fault;

fn respond(status: StatusCode, mut body: Value, request_id: &str) -> Response {
    if let Value::Object(map) = &mut body {
        map.insert(
            "ResponseContext".to_owned(),
            json!({"RequestId": request_id}),
        );
    }
    (
        status,
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn error_response(e: &OscError, request_id: &str) -> Response {
    (
        e.status,
        [("content-type", "application/json")],
        e.body(request_id).to_string(),
    )
        .into_response()
}

/// `path` with every run of slashes collapsed to one (`//api/latest/X` →
/// `/api/latest/X`), as the gateway reads it.
fn collapse_slashes(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        if !(c == '/' && out.ends_with('/')) {
            out.push(c);
        }
    }
    out
}

/// The action a (collapsed) path calls: `/api/v1/{Action}`,
/// `/api/latest/{Action}` or `/{Action}`.
fn action_of(path: &str) -> Option<&str> {
    let rest = ["/api/v1/", "/api/latest/", "/"]
        .iter()
        .find_map(|prefix| path.strip_prefix(prefix))?;
    (!rest.is_empty() && !rest.contains('/') && rest != "api").then_some(rest)
}

/// Every request to the API port.
pub(crate) async fn handle(
    AxState(sh): AxState<Arc<Shared>>,
    method: Method,
    headers: HeaderMap,
    uri: axum::http::Uri,
    body: Bytes,
) -> Response {
    let n = sh.requests.fetch_add(1, Ordering::SeqCst) + 1;
    let request_id = format!("0475ca1e-5151-4b1d-8e5a-{n:012x}");
    let path = collapse_slashes(uri.path());
    let Some(action) = action_of(&path).map(str::to_owned) else {
        return error_response(&OscError::no_such_call(&path), &request_id);
    };
    if method != Method::POST {
        let e = OscError::new(
            405,
            "5011",
            "InvalidResource",
            format!("no-such-call: {method} {path} (OAPI calls are POST)"),
        );
        return error_response(&e, &request_id);
    }
    let lookup = |ak: &str| (ak == sh.access_key).then(|| sh.secret_key.clone());
    if let Err(refusal) = auth::verify(
        &headers,
        &path,
        &body,
        &sh.region,
        lookup,
        SystemTime::now(),
    ) {
        return error_response(&OscError::access_denied(refusal.0), &request_id);
    }
    let parsed: Value = if body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(&body) {
            Ok(v @ Value::Object(_)) => v,
            Ok(_) => {
                return error_response(
                    &OscError::validation("the body must be a JSON object"),
                    &request_id,
                );
            }
            Err(e) => {
                return error_response(
                    &OscError::validation(format!("invalid JSON: {e}")),
                    &request_id,
                );
            }
        }
    };
    sh.log
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push((action.clone(), parsed.clone()));
    if !actions::ACTIONS.contains(&action.as_str()) {
        return error_response(&OscError::no_such_call(&action), &request_id);
    }
    let mut fail = false;
    let mut drop_after = false;
    let mut late = None;
    match sh.faults.take(&action) {
        Some(Fault::Status(s)) => return error_response(&OscError::for_status(s), &request_id),
        Some(Fault::Throttle) => return error_response(&OscError::throttled(), &request_id),
        Some(Fault::DropBefore) => return crate::drop::dropped_connection(),
        Some(Fault::DropAfter) => drop_after = true,
        Some(Fault::Slow(d)) => tokio::time::sleep(d).await,
        Some(Fault::FailResource) => fail = true,
        Some(Fault::LateAnswer(d)) => late = Some(d),
        None => {}
    }
    // As a real service, the simulator finishes what it started when the
    // client goes away: the action runs in its own task, so a dropped
    // connection never cancels it halfway (a loop device attached but not
    // yet recorded would be left behind).
    let task = {
        let (sh, action) = (sh.clone(), action.clone());
        tokio::spawn(async move { actions::dispatch(&sh, &action, &parsed, fail).await })
    };
    let result = task
        .await
        .unwrap_or_else(|e| Err(OscError::internal(format!("{action}: {e}"))));
    if let Some(d) = late {
        tokio::time::sleep(d).await;
    }
    if drop_after {
        return crate::drop::dropped_connection();
    }
    match result {
        Ok(v) => respond(StatusCode::OK, v, &request_id),
        Err(e) => {
            tracing::debug!(action = %action, code = e.code, details = %e.details, "osc error");
            error_response(&e, &request_id)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_route_after_collapsing_slashes() {
        assert_eq!(
            collapse_slashes("//api/latest//ReadVolumes"),
            "/api/latest/ReadVolumes"
        );
        assert_eq!(action_of("/api/latest/ReadVolumes"), Some("ReadVolumes"));
        assert_eq!(action_of("/api/v1/ReadVolumes"), Some("ReadVolumes"));
        assert_eq!(action_of("/ReadVolumes"), Some("ReadVolumes"));
        assert_eq!(action_of("/api/v2/ReadVolumes"), None);
        assert_eq!(action_of("/api/v1/"), None);
        assert_eq!(action_of("/"), None);
    }
}
