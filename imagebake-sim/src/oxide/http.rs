//! HTTP plumbing of the Oxide simulator: error bodies, the auth/version gate,
//! the request log, fault injection around each operation, and paging.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::time::Instant;
use uuid::Uuid;

use super::model::{Named, World};
use super::{OxideDelays, RecordedRequest, Shared};
use crate::faults::Fault;

/// An error answer: `{request_id, message, error_code}`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) code: Option<&'static str>,
    pub(crate) message: String,
}

impl ApiError {
    pub(crate) fn new(
        status: StatusCode,
        code: Option<&'static str>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some("InvalidRequest"), message)
    }

    pub(crate) fn not_found(kind: &str, sel: &str) -> Self {
        let how = if Uuid::try_parse(sel).is_ok() {
            "id"
        } else {
            "name"
        };
        Self::new(
            StatusCode::NOT_FOUND,
            Some("ObjectNotFound"),
            format!("not found: {kind} with {how} \"{sel}\""),
        )
    }

    pub(crate) fn already_exists(kind: &str, name: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            Some("ObjectAlreadyExists"),
            format!("already exists: {kind} \"{name}\""),
        )
    }

    pub(crate) fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, Some("Internal"), message)
    }

    /// The error the rack gives for an injected status.
    fn for_status(status: u16) -> Self {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let code = match status.as_u16() {
            400 => "InvalidRequest",
            401 => "Unauthorized",
            403 => "Forbidden",
            404 => "ObjectNotFound",
            429 => "TooManyRequests",
            503 => "ServiceNotAvailable",
            _ => "Internal",
        };
        let message = status
            .canonical_reason()
            .unwrap_or("injected failure")
            .to_lowercase();
        Self::new(status, Some(code), message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let request_id = Uuid::new_v4().to_string();
        let mut body = json!({ "request_id": request_id, "message": self.message });
        if let Some(code) = self.code {
            body["error_code"] = json!(code);
        }
        let mut resp = (self.status, axum::Json(body)).into_response();
        if let Ok(v) = HeaderValue::from_str(&request_id) {
            resp.headers_mut().insert("x-request-id", v);
        }
        resp
    }
}

/// A successful JSON answer.
pub(crate) fn json_response(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

/// Parses `X.Y.Z` into a comparable triple.
pub(crate) fn parse_version(v: &str) -> Option<(u64, u64, u64)> {
    let mut it = v.trim().split('.').map(|p| p.parse::<u64>().ok());
    let t = (it.next()??, it.next()??, it.next()??);
    it.next().is_none().then_some(t)
}

/// Logs every request, then checks `api-version` (as dropshot does, before
/// routing). The bearer token is checked by [`authenticate`], on routed
/// requests only: an unknown path is 404 whoever asks, as in Nexus, where
/// authentication runs inside the handlers.
pub(crate) async fn gate(State(sh): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    sh.request_count.fetch_add(1, Ordering::SeqCst);
    let headers = req.headers();
    let api_version = headers
        .get("api-version")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let authorized = bearer_ok(&sh, headers);
    let query: Vec<(String, String)> = req
        .uri()
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    sh.log_request(RecordedRequest {
        method: req.method().to_string(),
        path: req.uri().path().to_owned(),
        query,
        api_version: api_version.clone(),
        authorized,
    });
    if let Some(v) = &api_version {
        match parse_version(v) {
            None => {
                return ApiError::new(
                    StatusCode::BAD_REQUEST,
                    None,
                    format!("bad value for header \"api-version\": {v:?}"),
                )
                .into_response();
            }
            Some(asked) if asked > sh.api_version => {
                return ApiError::new(
                    StatusCode::BAD_REQUEST,
                    None,
                    format!("server does not support this API version: {v}"),
                )
                .into_response();
            }
            Some(_) => {}
        }
    }
    next.run(req).await
}

/// Refuses a routed request without the right bearer token: 401.
pub(crate) async fn authenticate(
    State(sh): State<Arc<Shared>>,
    req: Request,
    next: Next,
) -> Response {
    if !bearer_ok(&sh, req.headers()) {
        return ApiError::new(
            StatusCode::UNAUTHORIZED,
            Some("Unauthorized"),
            "credentials missing or invalid",
        )
        .into_response();
    }
    next.run(req).await
}

/// Whether the request carries the simulator's bearer token.
fn bearer_ok(sh: &Shared, headers: &axum::http::HeaderMap) -> bool {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| t == sh.token)
}

/// What an operation sees of its request's circumstances.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ctx {
    /// `Fault::FailResource` was injected for this request.
    pub(crate) fail: bool,
    /// The request's time.
    pub(crate) now: Instant,
    /// Current state-transition delays.
    pub(crate) delays: OxideDelays,
}

/// Runs operation `op` against the world, applying its next injected fault.
pub(crate) async fn run<F>(sh: &Shared, op: &'static str, f: F) -> Response
where
    F: FnOnce(&mut World, Ctx) -> Result<Response, ApiError>,
{
    let fault = sh.faults.take(op);
    match &fault {
        Some(Fault::Slow(d)) => tokio::time::sleep(*d).await,
        Some(Fault::Status(s)) => return ApiError::for_status(*s).into_response(),
        Some(Fault::Throttle) => return ApiError::for_status(429).into_response(),
        Some(Fault::DropBefore) => return crate::drop::dropped_connection(),
        _ => {}
    }
    let ctx = Ctx {
        fail: matches!(fault, Some(Fault::FailResource)),
        now: Instant::now(),
        delays: sh.delays(),
    };
    let result = {
        let mut world = sh.world();
        world.settle(ctx.now);
        f(&mut world, ctx)
    };
    if let Some(Fault::LateAnswer(d)) = fault {
        tokio::time::sleep(d).await;
    }
    if matches!(fault, Some(Fault::DropAfter)) {
        return crate::drop::dropped_connection();
    }
    result.unwrap_or_else(IntoResponse::into_response)
}

/// Parses a JSON body, answering 400 as dropshot does when it does not fit.
pub(crate) fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("unable to parse JSON body: {e}")))
}

/// Query parameters, by name.
pub(crate) type Query = HashMap<String, String>;

/// A listing request: first page (scan parameters from the query) or a later
/// page (scan parameters from the token).
#[derive(Debug)]
pub(crate) struct PageRequest {
    pub(crate) limit: usize,
    pub(crate) sort: String,
    /// Scan parameters (`project`, filters), as the first request gave them.
    pub(crate) scan: Value,
    after: Option<Marker>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Marker {
    name: String,
    id: Uuid,
}

#[derive(Debug, Serialize, Deserialize)]
struct Token {
    v: u8,
    sort: String,
    scan: Value,
    after: Marker,
}

const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 10_000;

impl PageRequest {
    /// Reads `limit`, `page_token` and `sort_by`; `scan_keys` are the scan
    /// parameters the operation takes from a first-page query.
    pub(crate) fn parse(q: &Query, scan_keys: &[&str]) -> Result<Self, ApiError> {
        let limit = match q.get("limit") {
            None => DEFAULT_LIMIT,
            Some(l) => match l.parse::<usize>() {
                Ok(n) if n >= 1 => n.min(MAX_LIMIT),
                _ => {
                    return Err(ApiError::bad_request(format!(
                        "unable to parse query string: invalid limit {l:?}: expected a nonzero u32"
                    )));
                }
            },
        };
        if let Some(token) = q.get("page_token") {
            let t: Token = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(token)
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .ok_or_else(|| {
                    ApiError::bad_request("unable to parse query string: invalid page token")
                })?;
            return Ok(Self {
                limit,
                sort: t.sort,
                scan: t.scan,
                after: Some(t.after),
            });
        }
        let sort = q
            .get("sort_by")
            .cloned()
            .unwrap_or_else(|| "name_ascending".into());
        if !matches!(
            sort.as_str(),
            "name_ascending" | "name_descending" | "id_ascending"
        ) {
            return Err(ApiError::bad_request(format!(
                "unable to parse query string: unknown variant `{sort}` for sort_by"
            )));
        }
        let mut scan = serde_json::Map::new();
        for key in scan_keys {
            if let Some(v) = q.get(*key) {
                scan.insert((*key).to_owned(), json!(v));
            }
        }
        Ok(Self {
            limit,
            sort,
            scan: Value::Object(scan),
            after: None,
        })
    }

    /// A scan parameter.
    pub(crate) fn scan(&self, key: &str) -> Option<&str> {
        self.scan.get(key).and_then(Value::as_str)
    }

    /// The answer to a list call: one page of the `items` whose project is
    /// `project` (`None`: silo-wide), each shown by `view`.
    pub(crate) fn in_project<T: Named>(
        &self,
        items: &[T],
        project: Option<Uuid>,
        view: impl Fn(&T) -> Value,
    ) -> Response {
        let items = items
            .iter()
            .filter(|i| i.project_id() == project)
            .map(|i| (i.name().to_owned(), i.id(), view(i)))
            .collect();
        json_response(StatusCode::OK, self.page(items))
    }

    /// One page of `items` (`(name, id, view)`): `{items, next_page}`, with a
    /// `next_page` token whenever the page is not empty (as dropshot does).
    pub(crate) fn page(&self, mut items: Vec<(String, Uuid, Value)>) -> Value {
        match self.sort.as_str() {
            "name_descending" => items.sort_by(|a, b| b.0.cmp(&a.0)),
            "id_ascending" => items.sort_by_key(|a| a.1),
            _ => items.sort_by(|a, b| a.0.cmp(&b.0)),
        }
        let after = self.after.clone();
        let page: Vec<_> = items
            .into_iter()
            .filter(|(name, id, _)| match &after {
                None => true,
                Some(m) => match self.sort.as_str() {
                    "name_descending" => name < &m.name,
                    "id_ascending" => *id > m.id,
                    _ => name > &m.name,
                },
            })
            .take(self.limit)
            .collect();
        let next_page = page.last().map(|(name, id, _)| {
            let token = Token {
                v: 1,
                sort: self.sort.clone(),
                scan: self.scan.clone(),
                after: Marker {
                    name: name.clone(),
                    id: *id,
                },
            };
            let bytes = serde_json::to_vec(&token).unwrap_or_default();
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
        });
        let items: Vec<Value> = page.into_iter().map(|(_, _, v)| v).collect();
        json!({ "items": items, "next_page": next_page })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_numerically() {
        assert!(parse_version("2026072800.0.0") > parse_version("2026010300.0.0"));
        assert_eq!(parse_version("1.2"), None);
        assert_eq!(parse_version("1.2.3.4"), None);
        assert_eq!(parse_version("x.0.0"), None);
    }

    #[test]
    fn pages_walk_in_order_and_carry_scan_params() {
        let q: Query = [("limit", "2"), ("project", "p")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let items: Vec<_> = ["c", "a", "b"]
            .into_iter()
            .map(|n| (n.to_owned(), Uuid::new_v4(), json!(n)))
            .collect();
        let first = PageRequest::parse(&q, &["project"]).unwrap();
        let p1 = first.page(items.clone());
        assert_eq!(p1["items"], json!(["a", "b"]));
        let token = p1["next_page"].as_str().unwrap().to_owned();
        let q2: Query = [("page_token".to_owned(), token)].into_iter().collect();
        let second = PageRequest::parse(&q2, &["project"]).unwrap();
        assert_eq!(second.scan("project"), Some("p"));
        assert_eq!(second.limit, DEFAULT_LIMIT);
        let p2 = second.page(items);
        assert_eq!(p2["items"], json!(["c"]));
    }
}
