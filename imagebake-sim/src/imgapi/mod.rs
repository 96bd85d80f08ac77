//! A local IMGAPI image repository in private mode with channels (the
//! updates.tritondatacenter.com model), served beside the Triton simulator
//! (`shared/notes/triton-distribution.md` §1):
//!
//! - the standard channels (`experimental`, `dev` (default), `staging`,
//!   `release`, `support`); `?channel=` on every image call, an image outside
//!   the request's channel is 404;
//! - AdminImportImage (owner forced to all zeros, `public: true` refused,
//!   origin must exist, 409 `ImageUuidAlreadyExists`), AddImageFile (sha1,
//!   size and compression checked), ActivateImage, Enable/DisableImage,
//!   ChannelAddImage, DeleteImage, ListImages (filters, `limit`/`marker`),
//!   GetImage, GetImageFile, ListChannels, Ping;
//! - its own user ([`ImgapiSim::user`]) with an RSA key
//!   ([`ImgapiSim::key_path`], generated on first use), verified as IMGAPI's
//!   http-signature 0.10.0 does: keyId = the user name, signed headers
//!   default to `date`, `(request-target)` is looked up as a real header
//!   (so it fails), only `rsa-sha1`, `rsa-sha256`, `dsa-sha1`. Reads pass
//!   without a signature (ListImages then shows active images only); a bad
//!   signature is 401;
//! - without `Accept-Version` (served as `~1`) images have no `channels`;
//! - [`Faults`] per operation name (`AdminImportImage`, `AddImageFile`, ...).

mod repo;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use ssh_key::{LineEnding, PrivateKey, PublicKey};
use uuid::Uuid;

use self::repo::{CHANNELS, COMPRESSIONS, DEFAULT_CHANNEL, Repo, validation};
use crate::drop::{fault_after, fault_before};
use crate::triton::auth::parse_modern;
use crate::triton::error::{ApiError, Reply};
use crate::triton::verify::{self, Algorithm, KeyKind};
use crate::{Faults, SimServer};

/// The operation names faults can be queued for.
pub const OPERATIONS: &[&str] = &[
    "Ping",
    "ListChannels",
    "ListImages",
    "GetImage",
    "GetImageFile",
    "AdminImportImage",
    "AddImageFile",
    "ActivateImage",
    "DisableImage",
    "EnableImage",
    "ChannelAddImage",
    "DeleteImage",
];

/// The repository's user (the `keyId` of its signatures).
pub const USER: &str = "imagebake-publisher";
/// Largest image file accepted (kept in memory).
const MAX_FILE: usize = 1 << 30;

/// An image of [`ImgapiSim::images`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoImageInfo {
    /// UUID.
    pub uuid: Uuid,
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
    /// `unactivated`, `active` or `disabled`.
    pub state: String,
    /// Channels it is in.
    pub channels: Vec<String>,
    /// Owner (always all zeros: the repository forces it).
    pub owner: String,
    /// The file's SHA-1 and size, once added.
    pub file: Option<(String, u64)>,
    /// The origin image, for an incremental image.
    pub origin: Option<String>,
}

/// The generated RSA key of [`USER`].
#[derive(Debug)]
struct GeneratedKey {
    _dir: tempfile::TempDir,
    path: PathBuf,
    public: PublicKey,
}

struct Shared {
    repo: Mutex<Repo>,
    faults: Faults,
    requests: AtomicU64,
    skew: Duration,
    key: OnceLock<Result<GeneratedKey, String>>,
    extra_keys: Mutex<BTreeMap<String, Vec<PublicKey>>>,
}

impl Shared {
    fn repo(&self) -> MutexGuard<'_, Repo> {
        self.repo.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn key(&self) -> &Result<GeneratedKey, String> {
        self.key
            .get_or_init(|| generate_key().map_err(|e| e.to_string()))
    }

    fn keys_of(&self, user: &str) -> Vec<PublicKey> {
        let mut keys = self
            .extra_keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(user)
            .cloned()
            .unwrap_or_default();
        if user == USER
            && let Ok(k) = self.key()
        {
            keys.push(k.public.clone());
        }
        keys
    }
}

/// A running IMGAPI repository simulator (started by the Triton simulator;
/// see [`crate::triton::TritonSim::imgapi`]).
pub struct ImgapiSim {
    server: SimServer,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for ImgapiSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImgapiSim")
            .field("url", &self.server.url())
            .finish_non_exhaustive()
    }
}

impl ImgapiSim {
    pub(crate) async fn start(skew: Duration) -> std::io::Result<ImgapiSim> {
        let shared = Arc::new(Shared {
            repo: Mutex::default(),
            faults: Faults::new("imgapi", OPERATIONS),
            requests: AtomicU64::new(0),
            skew,
            key: OnceLock::new(),
            extra_keys: Mutex::default(),
        });
        let router = Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&shared));
        let server = SimServer::serve(router, 0).await?;
        Ok(ImgapiSim { server, shared })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// The repository's user name.
    pub fn user(&self) -> &'static str {
        USER
    }

    /// The user's RSA private key (unencrypted OpenSSH file, `.pub` beside
    /// it), generated on first use.
    ///
    /// # Errors
    /// When the key cannot be generated or written.
    pub fn key_path(&self) -> std::io::Result<&Path> {
        match self.shared.key() {
            Ok(k) => Ok(&k.path),
            Err(e) => Err(std::io::Error::other(e.clone())),
        }
    }

    /// Registers another key for `user` (an OpenSSH public key line).
    ///
    /// # Errors
    /// When the line is not a public key.
    pub fn add_key(&self, user: &str, public_openssh: &str) -> std::io::Result<()> {
        let key = PublicKey::from_openssh(public_openssh.trim())
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        self.shared
            .extra_keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(user.to_owned())
            .or_default()
            .push(key);
        Ok(())
    }

    /// The fault queues, per IMGAPI operation name.
    pub fn faults(&self) -> &Faults {
        &self.shared.faults
    }

    /// Requests served so far.
    pub fn request_count(&self) -> u64 {
        self.shared.requests.load(Ordering::Relaxed)
    }

    /// Every image, in import order.
    pub fn images(&self) -> Vec<RepoImageInfo> {
        self.shared
            .repo()
            .images
            .iter()
            .map(|i| RepoImageInfo {
                uuid: i.uuid,
                name: i.name().to_owned(),
                version: i
                    .manifest
                    .get("version")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                state: i.state.to_owned(),
                channels: i.channels.clone(),
                owner: i
                    .manifest
                    .get("owner")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                file: i
                    .file
                    .as_ref()
                    .map(|f| (f.sha1.clone(), f.bytes.len() as u64)),
                origin: i
                    .manifest
                    .get("origin")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            })
            .collect()
    }

    /// The images in `channel`.
    pub fn images_in(&self, channel: &str) -> Vec<RepoImageInfo> {
        self.images()
            .into_iter()
            .filter(|i| i.channels.iter().any(|c| c == channel))
            .collect()
    }

    /// An image's file bytes, once added.
    pub fn image_file(&self, uuid: Uuid) -> Option<Vec<u8>> {
        let repo = self.shared.repo();
        let image = repo.images.iter().find(|i| i.uuid == uuid)?;
        image.file.as_ref().map(|f| f.bytes.clone())
    }

    pub(crate) async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

fn generate_key() -> std::io::Result<GeneratedKey> {
    use ssh_key::getrandom::SysRng;
    use ssh_key::rand_core::UnwrapErr;
    let invalid = |e: ssh_key::Error| std::io::Error::other(e.to_string());
    let private = PrivateKey::random(
        &mut UnwrapErr(SysRng),
        ssh_key::Algorithm::Rsa { hash: None },
    )
    .map_err(invalid)?;
    let mut private = private;
    private.set_comment(USER);
    let dir = tempfile::Builder::new()
        .prefix("imagebake-imgapi-sim-")
        .tempdir()?;
    let path = dir.path().join("id_rsa");
    private
        .write_openssh_file(&path, LineEnding::LF)
        .map_err(invalid)?;
    let line = private.public_key().to_openssh().map_err(invalid)?;
    std::fs::write(path.with_extension("pub"), format!("{line}\n"))?;
    Ok(GeneratedKey {
        _dir: dir,
        path,
        public: private.public_key().clone(),
    })
}

fn unauthorized(message: impl Into<String>) -> ApiError {
    ApiError::new(401, "Unauthorized", message)
}

/// http-signature 0.10.0 as IMGAPI uses it; `Ok(None)` without a header.
fn authenticate(
    s: &Shared,
    method: &Method,
    target: &str,
    h: &HeaderMap,
) -> Result<Option<String>, ApiError> {
    let Some(value) = h.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| unauthorized("bad param format"))?;
    let parsed = parse_modern(value, h).map_err(unauthorized)?;
    let lower = parsed.algorithm.to_ascii_lowercase();
    if !matches!(lower.as_str(), "rsa-sha1" | "rsa-sha256" | "dsa-sha1") {
        return Err(unauthorized(format!(
            "{} is not supported",
            parsed.algorithm
        )));
    }
    let algorithm = Algorithm::parse(&lower).map_err(unauthorized)?;
    let mut lines = Vec::new();
    for name in &parsed.headers {
        if name == "request-line" {
            lines.push(format!("{method} {target} HTTP/1.1"));
            continue;
        }
        // 0.10.0 knows no pseudo-headers: `(request-target)` is a header
        // name like any other, and no request has it.
        let Some(v) = h.get(name.as_str()).and_then(|v| v.to_str().ok()) else {
            return Err(unauthorized(format!("{name} was not in the request")));
        };
        lines.push(format!("{name}: {v}"));
    }
    let date = h
        .get("x-date")
        .or_else(|| h.get(header::DATE))
        .and_then(|v| v.to_str().ok())
        .and_then(crate::triton::time::parse_http_date)
        .ok_or_else(|| unauthorized("date header missing or invalid"))?;
    let skew = SystemTime::now()
        .duration_since(date)
        .unwrap_or_else(|e| e.duration());
    if skew > s.skew {
        return Err(unauthorized(format!(
            "clock skew of {}s was greater than {}s",
            skew.as_secs(),
            s.skew.as_secs()
        )));
    }
    let signature = STANDARD
        .decode(parsed.signature.as_bytes())
        .map_err(|_| unauthorized("signature is not base64"))?;
    let signing = lines.join("\n");
    let ok = s.keys_of(&parsed.key_id).iter().any(|k| {
        algorithm.kind == KeyKind::Rsa
            && verify::verify(k, algorithm, signing.as_bytes(), &signature)
    });
    if !ok {
        return Err(unauthorized(format!(
            "signature verification failed for keyId {:?}",
            parsed.key_id
        )));
    }
    Ok(Some(parsed.key_id))
}

async fn handle(State(s): State<Arc<Shared>>, req: Request) -> Response {
    s.requests.fetch_add(1, Ordering::Relaxed);
    let mut resp = process(&s, req).await;
    if let Ok(id) = HeaderValue::from_str(&Uuid::new_v4().to_string()) {
        resp.headers_mut().insert("request-id", id);
    }
    resp.headers_mut()
        .insert(header::SERVER, HeaderValue::from_static("imgapi/4.13.1"));
    resp
}

fn op_of(method: &Method, segs: &[String], action: Option<&str>) -> Result<&'static str, ApiError> {
    let seg: Vec<&str> = segs.iter().map(String::as_str).collect();
    Ok(match (method.as_str(), seg.as_slice()) {
        ("GET" | "HEAD", ["ping"]) => "Ping",
        ("GET" | "HEAD", ["channels"]) => "ListChannels",
        ("GET" | "HEAD", ["images"]) => "ListImages",
        ("GET" | "HEAD", ["images", _]) => "GetImage",
        ("GET" | "HEAD", ["images", _, "file"]) => "GetImageFile",
        ("PUT", ["images", _, "file"]) => "AddImageFile",
        ("DELETE", ["images", _]) => "DeleteImage",
        ("POST", ["images", _]) => match action {
            Some("import") => "AdminImportImage",
            Some("activate") => "ActivateImage",
            Some("disable") => "DisableImage",
            Some("enable") => "EnableImage",
            Some("channel-add") => "ChannelAddImage",
            other => {
                return Err(validation(
                    "InvalidParameter",
                    "action",
                    "Invalid",
                    &format!("\"{}\" is not a valid action", other.unwrap_or_default()),
                ));
            }
        },
        (_, ["ping" | "channels" | "images"] | ["images", _] | ["images", _, "file"]) => {
            return Err(ApiError::new(
                405,
                "BadMethod",
                format!("{method} is not allowed"),
            ));
        }
        _ => {
            return Err(ApiError::new(
                404,
                "ResourceNotFound",
                format!("/{} does not exist", seg.join("/")),
            ));
        }
    })
}

async fn process(s: &Shared, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let segs = crate::triton::routes::segments(parts.uri.path());
    let target = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path().to_owned(), |pq| pq.as_str().to_owned());
    let query: Vec<(String, String)> =
        url::form_urlencoded::parse(parts.uri.query().unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let q = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let op = match op_of(&parts.method, &segs, q("action")) {
        Ok(op) => op,
        Err(e) => return e.into_response(),
    };
    let user = match authenticate(s, &parts.method, &target, &parts.headers) {
        Ok(u) => u,
        Err(e) => return e.into_response(),
    };
    let passive = matches!(parts.method, Method::GET | Method::HEAD);
    if user.is_none() && !passive {
        return unauthorized("authentication required").into_response();
    }
    let v2 = parts
        .headers
        .get("accept-version")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains('*') || v.contains('2'));
    let fault = s.faults.take(op);
    if let Some(answer) = fault_before(
        fault.as_ref(),
        |status| for_status(status).into_response(),
        || ApiError::new(503, "ServiceUnavailableError", "throttled").into_response(),
    )
    .await
    {
        return answer;
    }
    let bytes = match axum::body::to_bytes(body, MAX_FILE).await {
        Ok(b) => b,
        Err(_) => {
            return ApiError::new(400, "ImageFileTooBig", "the file is too big").into_response();
        }
    };
    tracing::debug!(operation = op, %target, "imgapi sim request");
    let cx = Cx {
        uuid: segs.get(1).cloned().unwrap_or_default(),
        channel: q("channel").map(str::to_owned),
        query: &query,
        headers: &parts.headers,
        body: &bytes,
        v2,
        user: user.as_deref(),
    };
    let result = run(s, op, &cx);
    let response = result.unwrap_or_else(IntoResponse::into_response);
    fault_after(fault.as_ref(), &parts.method, response).await
}

fn for_status(status: u16) -> ApiError {
    let code = match status {
        429 => "TooManyRequests",
        500 => "InternalError",
        503 => "ServiceUnavailableError",
        s if s < 500 => "BadRequest",
        _ => "InternalError",
    };
    ApiError::new(status, code, format!("injected fault: HTTP {status}"))
}

struct Cx<'a> {
    uuid: String,
    channel: Option<String>,
    query: &'a [(String, String)],
    headers: &'a HeaderMap,
    body: &'a [u8],
    v2: bool,
    user: Option<&'a str>,
}

impl Cx<'_> {
    fn q(&self, k: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    }
    fn json(&self) -> Result<Value, ApiError> {
        serde_json::from_slice(self.body)
            .map_err(|e| ApiError::new(400, "InvalidContent", format!("invalid JSON body: {e}")))
    }
}

fn run(s: &Shared, op: &str, cx: &Cx<'_>) -> Result<Response, ApiError> {
    let ok = |v: Value| Ok(Reply::ok(v).into_response());
    match op {
        "Ping" => {
            let mut v = json!({"ping": "pong", "version": "4.13.1", "imgapi": true});
            if let Some(u) = cx.user {
                v["user"] = json!(u);
            }
            ok(v)
        }
        "ListChannels" => ok(Value::Array(
            CHANNELS
                .iter()
                .map(|(n, d)| {
                    let mut c = json!({"name": n, "description": d});
                    if *n == DEFAULT_CHANNEL {
                        c["default"] = json!(true);
                    }
                    c
                })
                .collect(),
        )),
        "ListImages" => list(s, cx),
        "GetImage" => {
            let channel = Repo::channel(cx.channel.as_deref(), true)?;
            let mut repo = s.repo();
            let image = repo.find(&cx.uuid, &channel)?;
            ok(image.serialize(cx.v2))
        }
        "GetImageFile" => {
            let channel = Repo::channel(cx.channel.as_deref(), true)?;
            let mut repo = s.repo();
            let image = repo.find(&cx.uuid, &channel)?;
            let Some(f) = &image.file else {
                return Err(ApiError::new(404, "ResourceNotFound", "image has no file"));
            };
            let mut r = Response::new(Body::from(f.bytes.clone()));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            );
            Ok(r)
        }
        "AdminImportImage" => {
            if cx.q("account").is_some() {
                return Err(ApiError::new(403, "OperatorOnly", "operator only"));
            }
            let channel = Repo::channel(cx.channel.as_deref(), false)?;
            let body = cx.json()?;
            ok(s.repo().import(&cx.uuid, &channel, &body)?)
        }
        "AddImageFile" => add_file(s, cx),
        "ActivateImage" | "DisableImage" | "EnableImage" | "ChannelAddImage" => {
            let channel = Repo::channel(cx.channel.as_deref(), false)?;
            let target = if op == "ChannelAddImage" {
                let body = cx.json()?;
                let t = body["channel"].as_str().unwrap_or_default().to_owned();
                Some(Repo::channel(Some(&t), false).and_then(|t| {
                    if body["channel"].is_string() {
                        Ok(t)
                    } else {
                        Err(validation(
                            "ValidationFailed",
                            "channel",
                            "Missing",
                            "is required",
                        ))
                    }
                })?)
            } else {
                None
            };
            let mut repo = s.repo();
            let image = repo.find(&cx.uuid, &channel)?;
            match op {
                "ActivateImage" => {
                    if image.state != "unactivated" {
                        return Err(ApiError::new(
                            422,
                            "ImageAlreadyActivated",
                            format!("image {} is already activated", cx.uuid),
                        ));
                    }
                    if image.file.is_none() {
                        return Err(ApiError::new(
                            422,
                            "NoActivationNoFile",
                            format!("image {} cannot be activated: it has no file", cx.uuid),
                        ));
                    }
                    image.state = "active";
                    if image.published_at.is_none() {
                        image.published_at = Some(crate::clock::rfc3339_millis(SystemTime::now()));
                    }
                }
                "DisableImage" => image.state = "disabled",
                "EnableImage" => image.state = "active",
                _ => {
                    if let Some(t) = target
                        && !image.channels.contains(&t)
                    {
                        image.channels.push(t);
                    }
                }
            }
            ok(image.serialize(cx.v2))
        }
        _ => {
            let channel = Repo::channel(cx.channel.as_deref(), false)?;
            let force = cx.q("force_all_channels") == Some("true");
            s.repo().delete(&cx.uuid, &channel, force)?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
    }
}

fn add_file(s: &Shared, cx: &Cx<'_>) -> Result<Response, ApiError> {
    let channel = Repo::channel(cx.channel.as_deref(), false)?;
    let compression = cx.q("compression").unwrap_or_default();
    if !COMPRESSIONS.contains(&compression) {
        return Err(validation(
            "InvalidParameter",
            "compression",
            if compression.is_empty() {
                "Missing"
            } else {
                "Invalid"
            },
            &format!("must be one of {}", COMPRESSIONS.join(", ")),
        ));
    }
    let mut repo = s.repo();
    let image = repo.find(&cx.uuid, &channel)?;
    if image.state != "unactivated" {
        return Err(ApiError::new(
            422,
            "ImageFilesImmutable",
            format!("image {} is activated: its files cannot change", cx.uuid),
        ));
    }
    let length = cx
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if cx.body.is_empty() || length.is_some_and(|l| l != cx.body.len()) {
        return Err(ApiError::new(
            400,
            "Download",
            format!(
                "image file size ({}) does not match Content-Length ({})",
                cx.body.len(),
                length.map_or_else(|| "none".to_owned(), |l| l.to_string())
            ),
        ));
    }
    let digest = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, cx.body);
    let sha1: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    if let Some(want) = cx.q("sha1")
        && want != sha1
    {
        return Err(ApiError::new(
            400,
            "Download",
            format!("image file sha1 ({sha1}) does not match the given sha1 ({want})"),
        ));
    }
    image.file = Some(repo::StoredFile {
        bytes: cx.body.to_vec(),
        sha1,
        compression: compression.to_owned(),
    });
    Ok(Reply::ok(image.serialize(cx.v2)).into_response())
}

fn list(s: &Shared, cx: &Cx<'_>) -> Result<Response, ApiError> {
    let channel = Repo::channel(cx.channel.as_deref(), true)?;
    let limit = match cx.q("limit") {
        None => 1000,
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| validation("InvalidParameter", "limit", "Invalid", "must be 1-1000"))?,
    };
    let state = match cx.user {
        None => "active".to_owned(),
        Some(_) => cx.q("state").unwrap_or("active").to_owned(),
    };
    let text = |pat: &str, v: &str| match pat.strip_prefix('~') {
        Some(sub) => v.contains(sub),
        None => v == pat,
    };
    let repo = s.repo();
    let mut images: Vec<&repo::RepoImage> = repo
        .images
        .iter()
        .filter(|i| channel == "*" || i.channels.contains(&channel))
        .filter(|i| state == "all" || i.state == state)
        .filter(|i| {
            cx.query.iter().all(|(k, v)| {
                let field = |f: &str| {
                    i.manifest
                        .get(f)
                        .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_owned))
                        .unwrap_or_default()
                };
                match k.as_str() {
                    "name" | "version" => text(v, &field(k)),
                    "owner" | "os" => field(k) == *v,
                    "type" => match v.strip_prefix('!') {
                        Some(not) => field("type") != not,
                        None => field("type") == *v,
                    },
                    "public" => field("public") == *v,
                    k if k.starts_with("tag.") => {
                        i.manifest
                            .get("tags")
                            .and_then(|t| t.get(&k[4..]))
                            .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_owned))
                            .as_deref()
                            == Some(v.as_str())
                    }
                    _ => true,
                }
            })
        })
        .collect();
    let key = |i: &repo::RepoImage| (i.published_at.clone().unwrap_or_else(|| "~".into()), i.seq);
    images.sort_by_key(|i| key(i));
    if let Some(marker) = cx.q("marker") {
        let Some(m) = repo.images.iter().find(|i| i.uuid.to_string() == marker) else {
            return Err(validation(
                "InvalidParameter",
                "marker",
                "Invalid",
                "unknown image",
            ));
        };
        let mk = key(m);
        images.retain(|i| key(i) >= mk);
    }
    let out: Vec<Value> = images
        .into_iter()
        .take(limit)
        .map(|i| i.serialize(cx.v2))
        .collect();
    Ok(Reply::ok(Value::Array(out)).into_response())
}
