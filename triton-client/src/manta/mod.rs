//! A Manta object-store client (the subset image distribution needs), as
//! described in `shared/notes/triton-distribution.md` §3.
//!
//! - Directories: [`MantaClient::mkdir`] (PutDirectory), [`MantaClient::mkdirp`]
//!   (client-side, top-down, as node-manta), [`MantaClient::list`] (paged by
//!   name with an inclusive marker), [`MantaClient::delete`].
//! - Objects: [`MantaClient::put`] (streamed with `Content-Length` and
//!   `Content-MD5`, optionally creating the parents), [`MantaClient::get`]
//!   (streamed), [`MantaClient::get_to_file`] (MD5 checked),
//!   [`MantaClient::head`], [`MantaClient::delete`].
//! - Each request is freshly dated and signed over `date` with
//!   `keyId="/LOGIN/keys/MD5"` or, for a sub-user, `"/LOGIN/SUBUSER/keys/MD5"`
//!   (no `users` segment, unlike CloudAPI), through the same signers as the
//!   CloudAPI client. Errors carry Manta's `code` and the request id; the one
//!   retry rule of [`imagebake_http`] applies.
//!
//! ```no_run
//! # async fn demo() -> triton_client::Result<()> {
//! use triton_client::manta::{MantaClient, MantaConfig, PutSource};
//!
//! let manta = MantaClient::new(MantaConfig::from_env()?)?;
//! manta.mkdirp("~~/stor/builds/x").await?;
//! manta
//!     .put("~~/stor/builds/x/hello.txt", PutSource::bytes("hi"), Default::default())
//!     .await?;
//! # Ok(())
//! # }
//! ```

mod config;

use std::fmt;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use futures::{Stream, StreamExt as _, TryStreamExt as _};
use imagebake_http::{Idempotency, Page, RetryPolicy, paginate, retry_request};
use md5::{Digest as _, Md5};
use reqwest::header::{AUTHORIZATION, DATE, HeaderMap};
use reqwest::{Method, Response};
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt as _;
use url::Url;

pub use config::{MantaConfig, MantaConfigBuilder};

use crate::auth::authorization_for;
use crate::error::{Error, Result, Service};
use crate::service::{Signed, date_now, file_body, hash_file, reply, success, transport};

const SERVICE: Service = Service::Manta;
/// muskie's default page size, and the largest it allows.
const DEFAULT_PAGE: usize = 256;
const MAX_PAGE: usize = 1024;

/// A Manta client. Cheap to clone. `Debug` shows the URL, user, sub-user
/// and key source, never key material.
#[derive(Clone)]
pub struct MantaClient {
    inner: Arc<Inner>,
}

struct Inner {
    base: Url,
    user: String,
    subuser: Option<String>,
    roles: Vec<String>,
    signed: Signed,
    retry: RetryPolicy,
}

impl fmt::Debug for MantaClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        f.debug_struct("MantaClient")
            .field("url", &i.base.as_str())
            .field("user", &i.user)
            .field("subuser", &i.subuser)
            .field("key", &i.signed.key())
            .finish_non_exhaustive()
    }
}

/// The `keyId` Manta expects: `/LOGIN/keys/MD5`, or
/// `/LOGIN/SUBUSER/keys/MD5` for a sub-user (muskie `lib/auth.js`).
pub fn manta_key_id(login: &str, subuser: Option<&str>, md5_fingerprint: &str) -> String {
    match subuser {
        Some(u) => format!("/{login}/{u}/keys/{md5_fingerprint}"),
        None => format!("/{login}/keys/{md5_fingerprint}"),
    }
}

/// What to upload: bytes in memory or a local file (re-read from the start
/// on each attempt).
#[derive(Clone)]
pub enum PutSource {
    /// The object's bytes.
    Bytes(Bytes),
    /// A local file.
    File(PathBuf),
}

impl PutSource {
    /// Bytes in memory.
    pub fn bytes(b: impl Into<Bytes>) -> Self {
        PutSource::Bytes(b.into())
    }
    /// A local file.
    pub fn file(p: impl Into<PathBuf>) -> Self {
        PutSource::File(p.into())
    }
}

impl fmt::Debug for PutSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PutSource::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
            PutSource::File(p) => write!(f, "File({})", p.display()),
        }
    }
}

/// Options of [`MantaClient::put`].
#[derive(Debug, Clone, Default)]
pub struct PutOptions {
    /// `Content-Type` (default `application/octet-stream`).
    pub content_type: Option<String>,
    /// Create missing parent directories (node-manta's `mkdirs: true`):
    /// only after the PUT fails with `DirectoryDoesNotExist`, then once more.
    pub mkdirs: bool,
    /// `durability-level` (copies), 1–6; Manta's default is 2.
    pub durability: Option<u8>,
}

/// What PutObject answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutResult {
    /// Base64 MD5 the client sent (and Manta checked).
    pub content_md5: String,
    /// Bytes sent.
    pub size: u64,
    /// The object's `Etag`, when Manta sent one.
    pub etag: Option<String>,
}

/// An entry kind in a listing or HEAD.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    /// An object.
    Object,
    /// A directory.
    Directory,
    /// A kind this client does not know.
    #[serde(other)]
    Unknown,
}

/// One line of a directory listing (`application/x-json-stream`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirEntry {
    /// The entry's name (not its path).
    pub name: String,
    /// Object or directory.
    #[serde(rename = "type")]
    pub kind: EntryKind,
    /// Last modification (ISO 8601).
    #[serde(default)]
    pub mtime: Option<String>,
    /// Objects: size in bytes.
    #[serde(default)]
    pub size: Option<u64>,
    /// Objects: the etag.
    #[serde(default)]
    pub etag: Option<String>,
}

/// What HEAD (or GET) says about an object or directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// Object or directory (from `Content-Type`'s `type=directory`).
    pub kind: EntryKind,
    /// `Content-Length` of an object.
    pub size: Option<u64>,
    /// `Content-MD5` (base64).
    pub content_md5: Option<String>,
    /// `Content-Type`.
    pub content_type: Option<String>,
    /// `Etag`.
    pub etag: Option<String>,
}

impl ObjectInfo {
    fn from_headers(h: &HeaderMap) -> Self {
        let get = |n: &str| h.get(n).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let content_type = get("content-type");
        let kind = if content_type
            .as_deref()
            .is_some_and(|t| t.contains("type=directory"))
        {
            EntryKind::Directory
        } else {
            EntryKind::Object
        };
        Self {
            kind,
            size: get("content-length").and_then(|s| s.parse().ok()),
            content_md5: get("content-md5"),
            content_type,
            etag: get("etag"),
        }
    }
}

/// A streamed object body.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes>> + Send>>;

/// An object being read: what the headers said, and the body.
pub struct Object {
    /// The response headers' view of the object.
    pub info: ObjectInfo,
    /// The body, chunk by chunk.
    pub body: ByteStream,
}

impl fmt::Debug for Object {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Object")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

/// One request's shape, replayed for each attempt.
struct Req<'a> {
    op: &'static str,
    method: Method,
    path: &'a str,
    query: Vec<(&'static str, String)>,
    headers: Vec<(&'static str, String)>,
    body: Option<&'a PutSource>,
    idempotency: Idempotency,
}

impl MantaClient {
    /// A client for `config`. A key file is read now; an ssh-agent is asked on
    /// the first request.
    pub fn new(config: MantaConfig) -> Result<Self> {
        let signed = Signed::new(
            "manta",
            &config.url,
            config.insecure,
            config.timeout,
            config.key,
            None,
        )?;
        Ok(Self {
            inner: Arc::new(Inner {
                base: config.url,
                user: config.user,
                subuser: config.subuser,
                roles: config.roles,
                signed,
                retry: config.retry,
            }),
        })
    }

    /// The Manta URL.
    pub fn url(&self) -> &Url {
        &self.inner.base
    }

    /// The account login (`~~` expands to `/LOGIN`).
    pub fn user(&self) -> &str {
        &self.inner.user
    }

    /// `path` with a leading `~~` replaced by `/LOGIN` (as node-manta does);
    /// it must then be absolute.
    pub fn resolve(&self, path: &str) -> Result<String> {
        let p = match path.strip_prefix("~~") {
            Some(rest) => format!("/{}{rest}", self.inner.user),
            None => path.to_owned(),
        };
        if !p.starts_with('/') || p.split('/').skip(1).any(|s| s == "." || s == "..") {
            return Err(Error::InvalidRequest {
                reason: format!("Manta path {path:?} is not absolute (/LOGIN/stor/… or ~~/stor/…)"),
            });
        }
        let trimmed = p.trim_end_matches('/');
        Ok(if trimmed.is_empty() {
            "/".into()
        } else {
            trimmed.to_owned()
        })
    }

    fn url_for(&self, path: &str, query: &[(&'static str, String)]) -> Result<Url> {
        let mut url = self.inner.base.clone();
        {
            let mut segs = url.path_segments_mut().map_err(|()| Error::Config {
                reason: format!("{} cannot be a base URL", self.inner.base),
            })?;
            segs.pop_if_empty();
            for s in path.split('/').filter(|s| !s.is_empty()) {
                segs.push(s);
            }
        }
        if query.is_empty() {
            url.set_query(None);
        } else {
            let mut q = url.query_pairs_mut();
            q.clear();
            for (k, v) in query {
                q.append_pair(k, v);
            }
        }
        Ok(url)
    }

    /// Sends `req` once: fresh `Date` and signature; a success as the raw
    /// response (for streaming), else Manta's error.
    async fn send_once(&self, req: &Req<'_>) -> Result<Response> {
        let url = self.url_for(req.path, &req.query)?;
        let date = date_now();
        let mut rb = self
            .inner
            .signed
            .http
            .request(req.method.clone(), url)
            .header(DATE, &date);
        if let Some((fingerprint, algorithm, signature)) =
            self.inner.signed.sign_date(&date).await?
        {
            let key_id = manta_key_id(
                &self.inner.user,
                self.inner.subuser.as_deref(),
                &fingerprint,
            );
            rb = rb.header(
                AUTHORIZATION,
                authorization_for(&key_id, algorithm.as_str(), Some("date"), &signature),
            );
        }
        if !self.inner.roles.is_empty() {
            rb = rb.header("role", self.inner.roles.join(","));
        }
        for (k, v) in &req.headers {
            rb = rb.header(*k, v);
        }
        match req.body {
            Some(PutSource::Bytes(b)) => rb = rb.body(b.clone()),
            Some(PutSource::File(p)) => {
                rb = rb.body(file_body(req.op, p).await?);
            }
            None => {}
        }
        tracing::debug!(operation = req.op, method = %req.method, path = req.path, "manta request");
        let resp = rb.send().await.map_err(transport(req.op))?;
        success(SERVICE, req.op, resp).await
    }

    async fn send(&self, req: &Req<'_>) -> Result<Response> {
        retry_request(&self.inner.retry, req.idempotency, |_| self.send_once(req)).await
    }

    fn req<'a>(op: &'static str, method: Method, path: &'a str) -> Req<'a> {
        Req {
            op,
            method,
            path,
            query: Vec::new(),
            headers: Vec::new(),
            body: None,
            idempotency: Idempotency::Idempotent,
        }
    }

    /// PutDirectory: creates `path` (its parent must exist); an existing
    /// directory is left as it is.
    pub async fn mkdir(&self, path: &str) -> Result<()> {
        let path = self.resolve(path)?;
        let mut req = Self::req("PutDirectory", Method::PUT, &path);
        req.headers
            .push(("content-type", "application/json; type=directory".into()));
        self.send(&req).await.map(drop)
    }

    /// Creates `path` and its missing parents, top-down, as node-manta's
    /// `mkdirp`: every component below `/LOGIN/stor` (or `public`,
    /// `uploads`) is PUT, existing ones included; the walk is retried once
    /// after 250 ms on `ConcurrentRequest`.
    pub async fn mkdirp(&self, path: &str) -> Result<()> {
        let path = self.resolve(path)?;
        let parts: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        if parts.len() < 2 {
            return Err(Error::InvalidRequest {
                reason: format!("{path}: mkdirp needs a path below /LOGIN/stor or /LOGIN/public"),
            });
        }
        for attempt in 0..2 {
            let mut result = Ok(());
            for depth in 3..=parts.len() {
                let dir = format!("/{}", parts[..depth].join("/"));
                result = self.mkdir(&dir).await;
                if result.is_err() {
                    break;
                }
            }
            match result {
                Err(e) if attempt == 0 && e.code() == Some("ConcurrentRequest") => {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                other => return other,
            }
        }
        Ok(())
    }

    /// ListDirectory: every entry of `path`, sorted by name, in pages of 256.
    pub fn list(&self, path: &str) -> impl Stream<Item = Result<DirEntry>> + Send + '_ {
        self.list_paged(path, DEFAULT_PAGE)
    }

    /// [`MantaClient::list`] with pages of `limit` entries (1–1024). The
    /// marker is inclusive: a page after the first repeats the previous
    /// page's last name, which is skipped. The listing ends on a short page.
    pub fn list_paged(
        &self,
        path: &str,
        limit: usize,
    ) -> impl Stream<Item = Result<DirEntry>> + Send + '_ {
        let (path, mut bad) = match self.resolve(path) {
            Ok(p) => (p, None),
            Err(e) => (String::new(), Some(e)),
        };
        let limit = limit.clamp(1, MAX_PAGE);
        paginate(move |marker: Option<String>| {
            let path = path.clone();
            let bad = bad.take();
            async move {
                if let Some(e) = bad {
                    return Err(e);
                }
                let mut req = Self::req("ListDirectory", Method::GET, &path);
                req.headers
                    .push(("accept", "application/x-json-stream".into()));
                req.query.push(("limit", limit.to_string()));
                if let Some(m) = &marker {
                    req.query.push(("marker", m.clone()));
                }
                let resp = self.send(&req).await?;
                let body = reply(req.op, resp).await?;
                let mut items = Vec::new();
                let lines: Vec<&[u8]> = body
                    .body
                    .split(|b| *b == b'\n')
                    .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
                    .collect();
                let got = lines.len();
                for line in lines {
                    let de = &mut serde_json::Deserializer::from_slice(line);
                    let entry: DirEntry =
                        serde_path_to_error::deserialize(de).map_err(|source| Error::Decode {
                            operation: "ListDirectory",
                            source,
                        })?;
                    if marker.as_deref() == Some(entry.name.as_str()) {
                        continue;
                    }
                    items.push(entry);
                }
                let next = (got >= limit)
                    .then(|| items.last().map(|e| e.name.clone()))
                    .flatten();
                Ok(Page { items, next })
            }
        })
    }

    /// PutObject: streams `source` to `path` with `Content-Length` and
    /// `Content-MD5` (computed first; Manta refuses a body that differs);
    /// overwrites an existing object.
    pub async fn put(&self, path: &str, source: PutSource, opts: PutOptions) -> Result<PutResult> {
        let path = self.resolve(path)?;
        let (size, md5) = match &source {
            PutSource::Bytes(b) => (b.len() as u64, Md5::digest(b).to_vec()),
            PutSource::File(p) => hash_file::<Md5>("PutObject", p).await?,
        };
        let content_md5 = STANDARD.encode(md5);
        let mut req = Self::req("PutObject", Method::PUT, &path);
        req.body = Some(&source);
        req.headers.push((
            "content-type",
            opts.content_type
                .clone()
                .unwrap_or_else(|| "application/octet-stream".into()),
        ));
        req.headers.push(("content-length", size.to_string()));
        req.headers.push(("content-md5", content_md5.clone()));
        if let Some(d) = opts.durability {
            req.headers.push(("durability-level", d.to_string()));
        }
        let resp = match self.send(&req).await {
            Err(e) if opts.mkdirs && e.code() == Some("DirectoryDoesNotExist") => {
                let parent = path.rsplit_once('/').map_or("/", |(p, _)| p);
                self.mkdirp(parent).await?;
                self.send(&req).await?
            }
            other => other?,
        };
        let etag = resp
            .headers()
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Ok(PutResult {
            content_md5,
            size,
            etag,
        })
    }

    /// HEAD: what `path` is (object or directory), its size and MD5.
    pub async fn head(&self, path: &str) -> Result<ObjectInfo> {
        let path = self.resolve(path)?;
        let resp = self
            .send(&Self::req("HeadObject", Method::HEAD, &path))
            .await?;
        Ok(ObjectInfo::from_headers(resp.headers()))
    }

    /// GetObject: the object's headers and its body as a stream (the first
    /// response is retried; the stream is not).
    pub async fn get(&self, path: &str) -> Result<Object> {
        let path = self.resolve(path)?;
        let resp = self
            .send(&Self::req("GetObject", Method::GET, &path))
            .await?;
        let info = ObjectInfo::from_headers(resp.headers());
        let body = resp.bytes_stream().map_err(transport("GetObject")).boxed();
        Ok(Object { info, body })
    }

    /// GetObject into memory, MD5 checked.
    pub async fn get_bytes(&self, path: &str) -> Result<Vec<u8>> {
        let Object { info, mut body } = self.get(path).await?;
        let mut out = Vec::new();
        while let Some(chunk) = body.next().await {
            out.extend_from_slice(&chunk?);
        }
        check_md5(&info, &Md5::digest(&out))?;
        Ok(out)
    }

    /// GetObject into the local file `dest` (created or truncated), checking
    /// the MD5 Manta announced; returns what the headers said.
    pub async fn get_to_file(&self, path: &str, dest: &Path) -> Result<ObjectInfo> {
        let Object { info, mut body } = self.get(path).await?;
        let io = |source| Error::LocalFile {
            operation: "GetObject",
            path: dest.to_owned(),
            source,
        };
        let mut file = tokio::fs::File::create(dest).await.map_err(io)?;
        let mut md5 = Md5::new();
        while let Some(chunk) = body.next().await {
            let chunk = chunk?;
            md5.update(&chunk);
            file.write_all(&chunk).await.map_err(io)?;
        }
        file.flush().await.map_err(io)?;
        check_md5(&info, &md5.finalize())?;
        Ok(info)
    }

    /// DeleteObject or DeleteDirectory (a directory must be empty).
    pub async fn delete(&self, path: &str) -> Result<()> {
        let path = self.resolve(path)?;
        self.send(&Self::req("Delete", Method::DELETE, &path))
            .await
            .map(drop)
    }
}

fn check_md5(info: &ObjectInfo, digest: &[u8]) -> Result<()> {
    let got = STANDARD.encode(digest);
    match &info.content_md5 {
        Some(want) if *want != got => Err(Error::Integrity {
            operation: "GetObject",
            reason: format!("the body's MD5 is {got}, Manta announced {want}"),
        }),
        _ => Ok(()),
    }
}
