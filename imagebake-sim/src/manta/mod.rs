//! A local Manta (the object-store subset image distribution uses), served
//! beside the Triton simulator with the same account and keys
//! (`shared/notes/triton-distribution.md` §3):
//!
//! - directories (PutDirectory, ListDirectory as `application/x-json-stream`
//!   paged with `limit` 1–1024, default 256, and an inclusive `marker`,
//!   DeleteDirectory of an empty one), objects (PutObject with `Content-MD5`
//!   checked, GetObject, HEAD, DeleteObject); snaplinks answer
//!   `SnaplinksDisabledError` as on mantav2;
//! - the bytes live in a folder on disk ([`MantaSim::root`]`/LOGIN/stor/…`);
//! - every request but a read under `/LOGIN/public` must be signed as muskie
//!   checks it: keyId `/LOGIN/keys/MD5` or `/LOGIN/SUBUSER/keys/MD5`, `date`
//!   signed, Manta's error codes (`InvalidKeyId`, `KeyDoesNotExist`,
//!   `InvalidSignature`, `AuthorizationRequired`, ...);
//! - [`Faults`] per operation (`PutDirectory`, `ListDirectory`,
//!   `HeadDirectory`, `DeleteDirectory`, `PutObject`, `GetObject`,
//!   `HeadObject`, `DeleteObject`).
//!
//! Chosen here: plain HTTP is accepted (no `SecureTransportRequired`), and a
//! sub-user may do what the account does (no RBAC).

pub(crate) mod auth;
mod store;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use uuid::Uuid;

use self::auth::KeyLookup;
use self::store::{Node, Store, err, not_found};
use crate::clock::rfc3339_millis;
use crate::drop::{fault_after, fault_before};
use crate::triton::error::ApiError;
use crate::{Faults, SimServer};

/// The operation names faults can be queued for.
pub const OPERATIONS: &[&str] = &[
    "PutDirectory",
    "ListDirectory",
    "HeadDirectory",
    "DeleteDirectory",
    "PutObject",
    "GetObject",
    "HeadObject",
    "DeleteObject",
];

/// Largest object accepted (the simulator keeps a PUT in memory once).
const MAX_OBJECT: usize = 1 << 30;

/// An entry of [`MantaSim::inventory`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MantaEntry {
    /// Full Manta path (`/LOGIN/stor/dir/name`).
    pub path: String,
    /// Whether it is a directory.
    pub directory: bool,
    /// Objects: size in bytes.
    pub size: Option<u64>,
    /// Objects: base64 MD5.
    pub md5: Option<String>,
    /// Objects: content type.
    pub content_type: Option<String>,
}

/// What the Manta handlers share (and ExportImage writes into).
pub(crate) struct MantaShared {
    store: Mutex<Store>,
    faults: Faults,
    lookup: KeyLookup,
    skew: Duration,
    requests: AtomicU64,
    url: Mutex<String>,
}

impl std::fmt::Debug for MantaShared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MantaShared").finish_non_exhaustive()
    }
}

impl MantaShared {
    fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The served URL.
    pub(crate) fn url(&self) -> String {
        self.url
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// `Some(true)` for a directory, `Some(false)` for an object.
    pub(crate) fn kind_of(&self, path: &str) -> Option<bool> {
        self.store()
            .get(path)
            .map(|n| matches!(n, Node::Dir { .. }))
    }

    /// Writes an object as PutObject would (parent must exist).
    pub(crate) fn put(&self, path: &str, bytes: &[u8], content_type: &str) -> Result<(), ApiError> {
        self.store()
            .put_object(path, bytes, content_type, None, 2)
            .map(drop)
    }
}

/// A running Manta simulator (started by the Triton simulator; see
/// [`crate::triton::TritonSim::manta`]).
#[derive(Debug)]
pub struct MantaSim {
    server: SimServer,
    shared: Arc<MantaShared>,
    _dir: tempfile::TempDir,
}

impl MantaSim {
    /// Serves a Manta for `login` on a free port, verifying signatures with
    /// `lookup`'s keys.
    pub(crate) async fn start(
        login: &str,
        lookup: KeyLookup,
        skew: Duration,
    ) -> std::io::Result<MantaSim> {
        let dir = tempfile::Builder::new()
            .prefix("imagebake-manta-sim-")
            .tempdir()?;
        let store = Store::new(dir.path().to_owned(), login)?;
        let shared = Arc::new(MantaShared {
            store: Mutex::new(store),
            faults: Faults::new("manta", OPERATIONS),
            lookup,
            skew,
            requests: AtomicU64::new(0),
            url: Mutex::new(String::new()),
        });
        let router = Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&shared));
        let server = SimServer::serve(router, 0).await?;
        *shared.url.lock().unwrap_or_else(PoisonError::into_inner) = server.url();
        Ok(MantaSim {
            server,
            shared,
            _dir: dir,
        })
    }

    pub(crate) fn shared(&self) -> &Arc<MantaShared> {
        &self.shared
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// The folder holding the objects (`ROOT/LOGIN/stor/…`).
    pub fn root(&self) -> PathBuf {
        self.shared.store().root().to_owned()
    }

    /// The fault queues, per Manta operation name.
    pub fn faults(&self) -> &Faults {
        &self.shared.faults
    }

    /// Requests served so far.
    pub fn request_count(&self) -> u64 {
        self.shared.requests.load(Ordering::Relaxed)
    }

    /// Every directory and object below the account's roots, sorted by
    /// path.
    pub fn inventory(&self) -> Vec<MantaEntry> {
        self.shared
            .store()
            .all()
            .map(|(path, node)| match node {
                Node::Dir { .. } => MantaEntry {
                    path: path.clone(),
                    directory: true,
                    size: None,
                    md5: None,
                    content_type: None,
                },
                Node::Object {
                    size,
                    md5,
                    content_type,
                    ..
                } => MantaEntry {
                    path: path.clone(),
                    directory: false,
                    size: Some(*size),
                    md5: Some(md5.clone()),
                    content_type: Some(content_type.clone()),
                },
            })
            .collect()
    }

    /// The paths of every directory and object at or below `dir`, sorted.
    pub fn paths_under(&self, dir: &str) -> Vec<String> {
        let below = format!("{}/", dir.trim_end_matches('/'));
        self.shared
            .store()
            .all()
            .map(|(path, _)| path)
            .filter(|p| p.as_str() == dir || p.starts_with(&below))
            .cloned()
            .collect()
    }

    /// An object's bytes, `None` when there is no object at `path`.
    pub fn read(&self, path: &str) -> Option<Vec<u8>> {
        self.shared.store().read(path).ok()
    }

    /// Stops serving; the folder is removed when the handle is dropped.
    pub(crate) async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

/// `/a//b/` → `/a/b`, percent-decoded.
fn normalize(path: &str) -> String {
    let segs = crate::triton::routes::segments(path);
    format!("/{}", segs.join("/"))
}

async fn handle(State(m): State<Arc<MantaShared>>, req: Request) -> Response {
    m.requests.fetch_add(1, Ordering::Relaxed);
    let mut resp = process(&m, req).await;
    if let Ok(id) = HeaderValue::from_str(&Uuid::new_v4().to_string()) {
        resp.headers_mut().insert("x-request-id", id);
    }
    resp.headers_mut()
        .insert(header::SERVER, HeaderValue::from_static("Manta"));
    resp
}

fn header_str<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

async fn process(m: &MantaShared, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let path = normalize(parts.uri.path());
    let target = parts
        .uri
        .path_and_query()
        .map_or_else(|| path.clone(), |pq| pq.as_str().to_owned());
    let request = crate::triton::auth::Request {
        method: &parts.method,
        target: &target,
        headers: &parts.headers,
    };
    let caller = match auth::authenticate(&request, &m.lookup, m.skew, SystemTime::now()) {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let owner = segs.first().copied().unwrap_or_default();
    let public_read =
        segs.get(1) == Some(&"public") && matches!(parts.method, Method::GET | Method::HEAD);
    match &caller {
        None if !public_read => {
            return err(
                401,
                "AuthorizationRequired",
                format!("{path} requires authorization"),
            )
            .into_response();
        }
        Some(c) if c.login != owner && !public_read => {
            return err(
                403,
                "AuthorizationFailed",
                format!("{} is not allowed to access {path}", c.login),
            )
            .into_response();
        }
        _ => {}
    }
    if segs.len() >= 2 && !matches!(segs[1], "stor" | "public" | "uploads" | "jobs" | "reports") {
        return not_found(&path).into_response();
    }
    let content_type = header_str(&parts.headers, "content-type")
        .unwrap_or_default()
        .to_owned();
    let existing = m.kind_of(&path);
    let op = match (&parts.method, existing) {
        (&Method::PUT, _) if content_type.contains("type=link") => {
            return err(
                403,
                "SnaplinksDisabledError",
                "snaplinks have been disabled for this account",
            )
            .into_response();
        }
        (&Method::PUT, _) if content_type.contains("type=directory") => "PutDirectory",
        (&Method::PUT, _) => "PutObject",
        (&Method::GET, Some(true)) => "ListDirectory",
        (&Method::GET, _) => "GetObject",
        (&Method::HEAD, Some(true)) => "HeadDirectory",
        (&Method::HEAD, _) => "HeadObject",
        (&Method::DELETE, Some(true)) => "DeleteDirectory",
        (&Method::DELETE, _) => "DeleteObject",
        _ => {
            return err(405, "BadMethod", format!("{} is not allowed", parts.method))
                .into_response();
        }
    };
    let fault = m.faults.take(op);
    if let Some(answer) = fault_before(
        fault.as_ref(),
        |status| for_status(status).into_response(),
        || err(503, "ThrottledError", "manta throttled this request").into_response(),
    )
    .await
    {
        return answer;
    }
    let bytes = if op == "PutObject" {
        match axum::body::to_bytes(body, MAX_OBJECT).await {
            Ok(b) => b,
            Err(_) => {
                return err(413, "MaxContentLengthExceeded", "the object is too large")
                    .into_response();
            }
        }
    } else {
        Default::default()
    };
    tracing::debug!(operation = op, %target, "manta sim request");
    let query: Vec<(String, String)> =
        url::form_urlencoded::parse(parts.uri.query().unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let q = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let result = match op {
        "PutDirectory" => m
            .store()
            .put_dir(&path)
            .map(|()| StatusCode::NO_CONTENT.into_response()),
        "PutObject" => put_object(m, &path, &parts.headers, &bytes),
        "ListDirectory" | "HeadDirectory" => list(m, &path, q("limit"), q("marker"), op),
        "GetObject" | "HeadObject" => get_object(m, &path, op == "HeadObject"),
        _ => m
            .store()
            .delete(&path)
            .map(|()| StatusCode::NO_CONTENT.into_response()),
    };
    let response = result.unwrap_or_else(IntoResponse::into_response);
    fault_after(fault.as_ref(), &parts.method, response).await
}

/// Manta's answer to an injected `Fault::Status`.
fn for_status(status: u16) -> ApiError {
    let code = match status {
        429 => "ThrottledError",
        500 => "InternalError",
        503 => "ServiceUnavailable",
        507 => "NotEnoughSpace",
        s if s < 500 => "BadRequest",
        _ => "InternalError",
    };
    err(status, code, format!("injected fault: HTTP {status}"))
}

fn put_object(
    m: &MantaShared,
    path: &str,
    h: &HeaderMap,
    bytes: &[u8],
) -> Result<Response, ApiError> {
    let durability =
        match header_str(h, "durability-level").or_else(|| header_str(h, "x-durability-level")) {
            None => 2,
            Some(v) => match v.parse::<u8>() {
                Ok(d @ 1..=6) => d,
                _ => {
                    return Err(err(
                        400,
                        "InvalidDurabilityLevel",
                        format!("durability-level must be between 1 and 6 (got {v})"),
                    ));
                }
            },
        };
    if let Some(len) = header_str(h, "content-length").and_then(|l| l.parse::<usize>().ok())
        && len != bytes.len()
    {
        return Err(err(
            400,
            "BadRequest",
            "Content-Length does not match the body",
        ));
    }
    let content_type = header_str(h, "content-type").unwrap_or("application/octet-stream");
    let md5 = m.store().put_object(
        path,
        bytes,
        content_type,
        header_str(h, "content-md5"),
        durability,
    )?;
    let mut r = StatusCode::NO_CONTENT.into_response();
    let hs = r.headers_mut();
    for (name, value) in [("etag", md5.clone()), ("computed-md5", md5)] {
        if let Ok(v) = HeaderValue::from_str(&value) {
            hs.insert(name, v);
        }
    }
    if let Ok(v) = HeaderValue::from_str(&httpdate::fmt_http_date(SystemTime::now())) {
        hs.insert(header::LAST_MODIFIED, v);
    }
    Ok(r)
}

fn get_object(m: &MantaShared, path: &str, head: bool) -> Result<Response, ApiError> {
    let store = m.store();
    let Some(Node::Object {
        size,
        md5,
        content_type,
        durability,
        mtime,
    }) = store.get(path).cloned()
    else {
        return Err(not_found(path));
    };
    let bytes = if head { Vec::new() } else { store.read(path)? };
    drop(store);
    let mut r = Response::new(Body::from(bytes));
    let hs = r.headers_mut();
    let pairs = [
        ("content-type", content_type),
        ("content-length", size.to_string()),
        ("content-md5", md5.clone()),
        ("etag", md5),
        ("durability-level", durability.to_string()),
        ("last-modified", httpdate::fmt_http_date(mtime)),
    ];
    for (name, value) in pairs {
        if let Ok(v) = HeaderValue::from_str(&value) {
            hs.insert(name, v);
        }
    }
    Ok(r)
}

fn list(
    m: &MantaShared,
    path: &str,
    limit: Option<&str>,
    marker: Option<&str>,
    op: &str,
) -> Result<Response, ApiError> {
    let limit = match limit {
        None => 256,
        Some(l) => match l.parse::<usize>() {
            Ok(n @ 1..=1024) => n,
            _ => {
                return Err(err(
                    400,
                    "InvalidArgumentError",
                    format!("limit={l} is invalid: must be between [1, 1024]"),
                ));
            }
        },
    };
    let store = m.store();
    let children = store.children(path);
    let total = children.len();
    let mut lines = String::new();
    if op == "ListDirectory" {
        for (name, node) in children
            .into_iter()
            .filter(|(n, _)| marker.is_none_or(|mk| *n >= mk))
            .take(limit)
        {
            let line = match node {
                Node::Dir { mtime } => json!({
                    "name": name, "type": "directory", "mtime": rfc3339_millis(*mtime),
                }),
                Node::Object {
                    size,
                    md5,
                    content_type,
                    durability,
                    mtime,
                } => json!({
                    "name": name, "type": "object", "mtime": rfc3339_millis(*mtime),
                    "size": size, "etag": md5, "contentType": content_type,
                    "contentMD5": md5, "durability": durability,
                }),
            };
            lines.push_str(&line.to_string());
            lines.push('\n');
        }
    }
    let mut r = Response::new(Body::from(lines));
    let hs = r.headers_mut();
    hs.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-json-stream; type=directory"),
    );
    if let Ok(v) = HeaderValue::from_str(&total.to_string()) {
        hs.insert("result-set-size", v);
    }
    Ok(r)
}
