//! A client for an IMGAPI image repository with channels (the
//! updates.tritondatacenter.com model), as `updates-imgadm` uses it
//! (`shared/notes/triton-distribution.md` §1).
//!
//! - Reads: [`ImgapiClient::ping`], [`ImgapiClient::list_channels`],
//!   [`ImgapiClient::list_images`] (paged with `limit`/`marker`),
//!   [`ImgapiClient::list_latest`], [`ImgapiClient::get_image`].
//! - Publishing: [`ImgapiClient::import_image`] (a manifest),
//!   [`ImgapiClient::add_image_file`] (sha1, size and compression checked;
//!   [`ImgapiClient::add_image_file_stream`] from a stream such as a Manta
//!   object),
//!   [`ImgapiClient::activate_image`], [`ImgapiClient::enable_image`] /
//!   [`ImgapiClient::disable_image`], [`ImgapiClient::channel_add_image`],
//!   [`ImgapiClient::delete_image`].
//! - Every call names the client's channel (`?channel=`) when one is set,
//!   sends `Accept-Version: ~2` (without it images lack `channels`), and is
//!   signed as updates-imgadm signs: `Signature keyId="USER",algorithm="rsa-sha256",signature="…"`
//!   over the `date` header only (IMGAPI's http-signature 0.10.0 refuses
//!   `(request-target)` and verifies RSA keys only).
//!
//! ```no_run
//! # async fn demo() -> triton_client::Result<()> {
//! use triton_client::imgapi::{ImgapiClient, ImgapiConfig, ListImagesQuery};
//!
//! let repo = ImgapiClient::new(ImgapiConfig::from_env()?)?.with_channel("dev")?;
//! for image in repo.list_latest(&ListImagesQuery::new().name("~triton-origin")).await? {
//!     println!("{} {}@{}", image.uuid, image.name, image.version);
//! }
//! # Ok(())
//! # }
//! ```

mod config;

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use futures::future::BoxFuture;
use futures::{Stream, TryStreamExt as _};
use imagebake_http::{Idempotency, Page, RetryPolicy, paginate, retry_request};
use reqwest::Method;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, DATE};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha1::Sha1;
use url::Url;
use uuid::Uuid;

pub use config::{DEFAULT_UPDATES_URL, ImgapiConfig, ImgapiConfigBuilder};

use crate::auth::{Algorithm, authorization_for};
use crate::client::Reply;
use crate::error::{Error, Result, Service};
use crate::manta::ByteStream;
use crate::service::{Signed, date_now, file_body, hash_file, reply, success, transport};

const SERVICE: Service = Service::Imgapi;
/// IMGAPI's default and largest page.
const PAGE: usize = 1000;
/// The API version asked for: 2 has `channels` on images.
const ACCEPT_VERSION: &str = "~2";
/// The compressions AddImageFile accepts.
pub const COMPRESSIONS: &[&str] = &["gzip", "bzip2", "xz", "none"];

/// An IMGAPI repository client. Cheap to clone. `Debug` shows the URL, user,
/// channel and key source, never key material.
#[derive(Clone)]
pub struct ImgapiClient {
    inner: Arc<Inner>,
    channel: Option<String>,
}

struct Inner {
    base: Url,
    user: Option<String>,
    signed: Signed,
    retry: RetryPolicy,
}

impl fmt::Debug for ImgapiClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImgapiClient")
            .field("url", &self.inner.base.as_str())
            .field("user", &self.inner.user)
            .field("channel", &self.channel)
            .field("key", &self.inner.signed.key())
            .finish_non_exhaustive()
    }
}

/// One file of an image (`files[0]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageFile {
    /// SHA-1 of the file, hex.
    pub sha1: String,
    /// Size in bytes.
    pub size: u64,
    /// `gzip`, `bzip2`, `xz` or `none`.
    pub compression: String,
    /// The ZFS dataset GUID, for incremental images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset_guid: Option<String>,
}

/// An image as the repository serves it (the manifest plus server fields).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Image {
    /// The image UUID.
    pub uuid: Uuid,
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
    /// `active`, `unactivated`, `disabled`, `creating` or `failed`.
    #[serde(default)]
    pub state: Option<String>,
    /// Owner UUID.
    #[serde(default)]
    pub owner: Option<String>,
    /// Channels the image is in (API version 2).
    #[serde(default)]
    pub channels: Vec<String>,
    /// Files (one, once added).
    #[serde(default)]
    pub files: Vec<ImageFile>,
    /// Activation time.
    #[serde(default)]
    pub published_at: Option<String>,
    /// The image this one is incremental on.
    #[serde(default)]
    pub origin: Option<Uuid>,
    /// Every other manifest field.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A channel of the repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Channel {
    /// Name.
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// Whether requests without a channel use it.
    #[serde(default)]
    pub default: bool,
}

/// ListImages filters (`name`, `version` with `~` for a substring,
/// `state`, `owner`, `os`, `type`, `public`, `tag.K`), in the order given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListImagesQuery {
    filters: BTreeMap<String, String>,
    page: Option<usize>,
}

impl ListImagesQuery {
    /// No filters: active images of the channel.
    pub fn new() -> Self {
        Self::default()
    }
    /// Any filter by its query name.
    pub fn filter(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.filters.insert(key.into(), value.into());
        self
    }
    /// `name` (exact, or `~sub`).
    pub fn name(self, v: impl Into<String>) -> Self {
        self.filter("name", v)
    }
    /// `version` (exact, or `~sub`).
    pub fn version(self, v: impl Into<String>) -> Self {
        self.filter("version", v)
    }
    /// `state`: `active` (default), `disabled`, `unactivated` or `all`.
    pub fn state(self, v: impl Into<String>) -> Self {
        self.filter("state", v)
    }
    /// `owner` UUID.
    pub fn owner(self, v: impl Into<String>) -> Self {
        self.filter("owner", v)
    }
    /// `os`.
    pub fn os(self, v: impl Into<String>) -> Self {
        self.filter("os", v)
    }
    /// `type` (`!x` excludes).
    pub fn kind(self, v: impl Into<String>) -> Self {
        self.filter("type", v)
    }
    /// `tag.KEY=VALUE`.
    pub fn tag(self, key: &str, v: impl Into<String>) -> Self {
        self.filter(format!("tag.{key}"), v)
    }
    /// Page size (default and largest 1000).
    pub fn page_size(mut self, n: usize) -> Self {
        self.page = Some(n.clamp(1, PAGE));
        self
    }
}

/// What [`ImgapiClient::publish`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct Published {
    /// The image as the repository has it now.
    pub image: Image,
    /// Whether it was there already (same UUID and SHA-1): nothing was
    /// uploaded, at most a channel added.
    pub already: bool,
}

/// One request's shape, replayed for each attempt.
struct Req<'a> {
    op: &'static str,
    method: Method,
    segments: Vec<String>,
    query: Vec<(String, String)>,
    json: Option<Value>,
    file: Option<(&'a Path, u64)>,
    stream: Option<(&'a OpenBody<'a>, u64)>,
    idempotency: Idempotency,
}

/// Opens an upload body afresh for each attempt (see
/// [`ImgapiClient::add_image_file_stream`]).
type OpenBody<'a> = dyn Fn() -> BoxFuture<'static, Result<ByteStream>> + Send + Sync + 'a;

impl<'a> Req<'a> {
    fn new(op: &'static str, method: Method, segments: &[&str]) -> Self {
        Self {
            op,
            method,
            segments: segments.iter().map(|s| (*s).to_owned()).collect(),
            query: Vec::new(),
            json: None,
            file: None,
            stream: None,
            idempotency: Idempotency::Idempotent,
        }
    }
    fn query(mut self, k: &str, v: impl Into<String>) -> Self {
        self.query.push((k.to_owned(), v.into()));
        self
    }
    fn action(self, action: &str) -> Self {
        let mut r = self.query("action", action);
        r.method = Method::POST;
        r.idempotency = Idempotency::Action;
        r
    }
}

impl ImgapiClient {
    /// A client for `config`. A key file is read now; an ssh-agent is asked
    /// on the first request.
    pub fn new(config: ImgapiConfig) -> Result<Self> {
        let signed = Signed::new(
            "imgapi",
            &config.url,
            config.insecure,
            config.timeout,
            config.key,
            Some(Algorithm::RsaSha256),
        )?;
        Ok(Self {
            inner: Arc::new(Inner {
                base: config.url,
                user: config.user,
                signed,
                retry: config.retry,
            }),
            channel: config.channel,
        })
    }

    /// The same repository, naming `channel` in every request.
    pub fn with_channel(&self, channel: &str) -> Result<Self> {
        if !config::valid_channel(channel) {
            return Err(Error::InvalidRequest {
                reason: format!("{channel:?} is not a channel name ([a-z][a-z0-9_-]*)"),
            });
        }
        Ok(Self {
            inner: Arc::clone(&self.inner),
            channel: Some(channel.to_owned()),
        })
    }

    /// The same repository, naming every channel (`channel=*`): for reads
    /// (GetImage, ListImages) of an image wherever it is.
    pub fn with_all_channels(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
            channel: Some("*".to_owned()),
        }
    }

    /// The channel requests name (`None`: the server's default).
    pub fn channel(&self) -> Option<&str> {
        self.channel.as_deref()
    }

    /// The repository URL.
    pub fn url(&self) -> &Url {
        &self.inner.base
    }

    fn url_for(&self, req: &Req<'_>) -> Result<Url> {
        let mut url = self.inner.base.clone();
        {
            let mut segs = url.path_segments_mut().map_err(|()| Error::Config {
                reason: format!("{} cannot be a base URL", self.inner.base),
            })?;
            segs.pop_if_empty();
            for s in &req.segments {
                segs.push(s);
            }
        }
        let mut pairs: Vec<(&str, &str)> = Vec::new();
        if let Some(c) = &self.channel
            && !req.query.iter().any(|(k, _)| k == "channel")
        {
            pairs.push(("channel", c));
        }
        pairs.extend(req.query.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        if pairs.is_empty() {
            url.set_query(None);
        } else {
            url.query_pairs_mut().clear().extend_pairs(pairs);
        }
        Ok(url)
    }

    async fn send_once(&self, req: &Req<'_>) -> Result<Reply> {
        let url = self.url_for(req)?;
        let date = date_now();
        let mut rb = self
            .inner
            .signed
            .http
            .request(req.method.clone(), url)
            .header(DATE, &date)
            .header(ACCEPT, "application/json")
            .header("accept-version", ACCEPT_VERSION);
        if let (Some(user), Some((_, algorithm, signature))) =
            (&self.inner.user, self.inner.signed.sign_date(&date).await?)
        {
            if !matches!(algorithm, Algorithm::RsaSha256 | Algorithm::RsaSha1) {
                return Err(Error::UnsupportedAlgorithm {
                    algorithm: algorithm.to_string(),
                    reason: "IMGAPI's http-signature 0.10.0 verifies rsa-sha1 and rsa-sha256 \
                             only: use an RSA key"
                        .into(),
                });
            }
            rb = rb.header(
                AUTHORIZATION,
                authorization_for(user, algorithm.as_str(), None, &signature),
            );
        }
        if let Some(body) = &req.json {
            rb = rb
                .header(CONTENT_TYPE, "application/json")
                .body(body.to_string());
        } else if let Some((path, size)) = req.file {
            rb = rb
                .header(CONTENT_TYPE, "application/octet-stream")
                .header(CONTENT_LENGTH, size)
                .body(file_body(req.op, path).await?);
        } else if let Some((open, size)) = req.stream {
            rb = rb
                .header(CONTENT_TYPE, "application/octet-stream")
                .header(CONTENT_LENGTH, size)
                .body(reqwest::Body::wrap_stream(open().await?));
        }
        tracing::debug!(operation = req.op, method = %req.method, "imgapi request");
        let resp = rb.send().await.map_err(transport(req.op))?;
        let resp = success(SERVICE, req.op, resp).await?;
        reply(req.op, resp).await
    }

    async fn send(&self, req: &Req<'_>) -> Result<Reply> {
        retry_request(&self.inner.retry, req.idempotency, |_| self.send_once(req)).await
    }

    async fn image_call(&self, req: Req<'_>) -> Result<Image> {
        self.send(&req).await?.json(req.op)
    }

    /// Ping: `{ping: "pong", version, imgapi: true, user?}` (`user` is who
    /// the signature authenticated).
    pub async fn ping(&self) -> Result<Value> {
        self.send(&Req::new("Ping", Method::GET, &["ping"]))
            .await?
            .json("Ping")
    }

    /// ListChannels.
    pub async fn list_channels(&self) -> Result<Vec<Channel>> {
        self.send(&Req::new("ListChannels", Method::GET, &["channels"]))
            .await?
            .json("ListChannels")
    }

    /// ListImages, every page (`limit`, next `marker` = the last UUID, a
    /// first row equal to the marker dropped, stop on a short page), oldest
    /// `published_at` first.
    pub fn list_images<'a>(
        &'a self,
        query: &ListImagesQuery,
    ) -> impl Stream<Item = Result<Image>> + Send + 'a {
        let filters = query.filters.clone();
        let limit = query.page.unwrap_or(PAGE);
        paginate(move |marker: Option<Uuid>| {
            let mut req = Req::new("ListImages", Method::GET, &["images"]);
            for (k, v) in &filters {
                req = req.query(k, v.clone());
            }
            req = req.query("limit", limit.to_string());
            if let Some(m) = marker {
                req = req.query("marker", m.to_string());
            }
            async move {
                let page: Vec<Image> = self.send(&req).await?.json("ListImages")?;
                let got = page.len();
                let items: Vec<Image> = page
                    .into_iter()
                    .filter(|i| Some(i.uuid) != marker)
                    .collect();
                let next = (got >= limit)
                    .then(|| items.last().map(|i| i.uuid))
                    .flatten();
                Ok(Page { items, next })
            }
        })
    }

    /// updates-imgadm's `list --latest`: the newest `published_at` per
    /// `(owner, name)`, sorted by `published_at` then name.
    pub async fn list_latest(&self, query: &ListImagesQuery) -> Result<Vec<Image>> {
        let all: Vec<Image> = self.list_images(query).try_collect().await?;
        let mut latest: BTreeMap<(Option<String>, String), Image> = BTreeMap::new();
        for image in all {
            let key = (image.owner.clone(), image.name.clone());
            match latest.get(&key) {
                Some(have) if have.published_at >= image.published_at => {}
                _ => {
                    latest.insert(key, image);
                }
            }
        }
        let mut out: Vec<Image> = latest.into_values().collect();
        out.sort_by(|a, b| {
            a.published_at
                .cmp(&b.published_at)
                .then_with(|| a.name.cmp(&b.name))
        });
        Ok(out)
    }

    /// GetImage in the client's channel (`channel("*")` for any).
    pub async fn get_image(&self, uuid: Uuid) -> Result<Image> {
        let id = uuid.to_string();
        self.image_call(Req::new("GetImage", Method::GET, &["images", &id]))
            .await
    }

    /// AdminImportImage: creates the image (state `unactivated`) from a
    /// manifest in the client's channel. `uuid` is taken from the manifest;
    /// `icon` is removed (IMGAPI refuses `icon: true` on import). A UUID
    /// present in any channel answers 409 `ImageUuidAlreadyExists`.
    pub async fn import_image(&self, manifest: &Value) -> Result<Image> {
        let mut manifest = manifest.clone();
        let Some(obj) = manifest.as_object_mut() else {
            return Err(Error::InvalidRequest {
                reason: "AdminImportImage: the manifest is not a JSON object".into(),
            });
        };
        obj.remove("icon");
        let uuid = obj
            .get("uuid")
            .and_then(Value::as_str)
            .and_then(|u| Uuid::parse_str(u).ok())
            .ok_or_else(|| Error::InvalidRequest {
                reason: "AdminImportImage: the manifest has no valid \"uuid\"".into(),
            })?;
        let id = uuid.to_string();
        let mut req =
            Req::new("AdminImportImage", Method::POST, &["images", &id]).query("action", "import");
        req.idempotency = Idempotency::Create;
        req.json = Some(manifest);
        self.image_call(req).await
    }

    /// AddImageFile: uploads the local `file` with `compression` (`gzip`,
    /// `bzip2`, `xz` or `none`). Its SHA-1 and size are computed first; an
    /// `expect_sha1` that differs is refused before sending, and the
    /// repository's answer must report the same SHA-1 and size.
    pub async fn add_image_file(
        &self,
        uuid: Uuid,
        file: &Path,
        compression: &str,
        expect_sha1: Option<&str>,
    ) -> Result<Image> {
        const OP: &str = "AddImageFile";
        if !COMPRESSIONS.contains(&compression) {
            return Err(Error::InvalidRequest {
                reason: format!(
                    "{OP}: compression {compression:?} is not one of {}",
                    COMPRESSIONS.join(", ")
                ),
            });
        }
        let (size, digest) = hash_file::<Sha1>(OP, file).await?;
        let sha1: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        if let Some(want) = expect_sha1
            && !want.eq_ignore_ascii_case(&sha1)
        {
            return Err(Error::Integrity {
                operation: OP,
                reason: format!(
                    "{} has SHA-1 {sha1}, the manifest says {want}",
                    file.display()
                ),
            });
        }
        let id = uuid.to_string();
        let mut req = Req::new(OP, Method::PUT, &["images", &id, "file"])
            .query("compression", compression)
            .query("sha1", sha1.clone());
        req.file = Some((file, size));
        let image = self.image_call(req).await?;
        file_answered(OP, uuid, &sha1, size, image)
    }

    /// AddImageFile from a stream (a Manta object, say) that is never held
    /// in memory whole: `open` gives the body from its start and is called
    /// again for each attempt; `sha1` (hex) and `size` are announced (the
    /// repository refuses a body that differs) and the answer must report
    /// them.
    pub async fn add_image_file_stream<F>(
        &self,
        uuid: Uuid,
        compression: &str,
        sha1: &str,
        size: u64,
        open: F,
    ) -> Result<Image>
    where
        F: Fn() -> BoxFuture<'static, Result<ByteStream>> + Send + Sync,
    {
        const OP: &str = "AddImageFile";
        if !COMPRESSIONS.contains(&compression) {
            return Err(Error::InvalidRequest {
                reason: format!(
                    "{OP}: compression {compression:?} is not one of {}",
                    COMPRESSIONS.join(", ")
                ),
            });
        }
        let sha1 = sha1.to_ascii_lowercase();
        let id = uuid.to_string();
        let mut req = Req::new(OP, Method::PUT, &["images", &id, "file"])
            .query("compression", compression)
            .query("sha1", sha1.clone());
        req.stream = Some((&open, size));
        let image = self.image_call(req).await?;
        file_answered(OP, uuid, &sha1, size, image)
    }

    /// ActivateImage: `unactivated` → `active` (sets `published_at`).
    pub async fn activate_image(&self, uuid: Uuid) -> Result<Image> {
        let id = uuid.to_string();
        self.image_call(
            Req::new("ActivateImage", Method::POST, &["images", &id]).action("activate"),
        )
        .await
    }

    /// DisableImage (idempotent).
    pub async fn disable_image(&self, uuid: Uuid) -> Result<Image> {
        let id = uuid.to_string();
        self.image_call(Req::new("DisableImage", Method::POST, &["images", &id]).action("disable"))
            .await
    }

    /// EnableImage (idempotent).
    pub async fn enable_image(&self, uuid: Uuid) -> Result<Image> {
        let id = uuid.to_string();
        self.image_call(Req::new("EnableImage", Method::POST, &["images", &id]).action("enable"))
            .await
    }

    /// ChannelAddImage: adds the image (found in the client's channel) to
    /// `target`; a no-op when it is already there.
    pub async fn channel_add_image(&self, uuid: Uuid, target: &str) -> Result<Image> {
        let id = uuid.to_string();
        let mut req =
            Req::new("ChannelAddImage", Method::POST, &["images", &id]).action("channel-add");
        req.json = Some(json!({ "channel": target }));
        self.image_call(req).await
    }

    /// DeleteImage: removes the image from the client's channel (deleted
    /// when it leaves its last one), or from every channel with
    /// `force_all_channels`.
    pub async fn delete_image(&self, uuid: Uuid, force_all_channels: bool) -> Result<()> {
        let id = uuid.to_string();
        let mut req = Req::new("DeleteImage", Method::DELETE, &["images", &id]);
        if force_all_channels {
            req = req.query("force_all_channels", "true");
        }
        self.send(&req).await.map(drop)
    }

    /// updates-imgadm's `import -m MANIFEST -f FILE`, made safe to re-run:
    /// import, add the file (compression as given, else the manifest's
    /// `files[0].compression`, else from the file extension; the manifest's
    /// `files[0].sha1` must match the file), activate. An image already
    /// there with the same SHA-1 is kept (added to the client's channel if
    /// needed); one with another SHA-1 is an error. After a failure past
    /// the import the half-imported image is deleted, so a re-run starts
    /// clean; one left unactivated by an earlier crash is deleted first.
    pub async fn publish(
        &self,
        manifest: &Value,
        file: &Path,
        compression: Option<&str>,
    ) -> Result<Published> {
        const OP: &str = "Publish";
        let files0 = manifest.pointer("/files/0");
        let field = |k: &str| files0.and_then(|f| f.get(k)).and_then(Value::as_str);
        let ext = file.extension().and_then(|e| e.to_str());
        let compression = compression
            .or_else(|| field("compression"))
            .or(match ext {
                Some("gz") => Some("gzip"),
                Some("bz2") => Some("bzip2"),
                Some("xz") => Some("xz"),
                _ => None,
            })
            .ok_or_else(|| Error::InvalidRequest {
                reason: format!(
                    "{OP}: no compression given, none in the manifest, and {} has no .gz/.bz2/.xz",
                    file.display()
                ),
            })?
            .to_owned();
        let (_, digest) = hash_file::<Sha1>(OP, file).await?;
        let sha1: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        let expect = field("sha1");
        let uuid = manifest
            .get("uuid")
            .and_then(Value::as_str)
            .and_then(|u| Uuid::parse_str(u).ok())
            .ok_or_else(|| Error::InvalidRequest {
                reason: format!("{OP}: the manifest has no valid \"uuid\""),
            })?;
        match self.with_all_channels().get_image(uuid).await {
            Ok(have) if have.state.as_deref() == Some("unactivated") => {
                self.delete_image(uuid, true)
                    .await
                    .or_else(ignore_not_found)?;
            }
            Ok(have) => {
                let same = have.files.first().is_some_and(|f| f.sha1 == sha1);
                if !same {
                    return Err(Error::Integrity {
                        operation: OP,
                        reason: format!(
                            "image {uuid} is already in the repository with another file \
                             (SHA-1 {}, local {sha1})",
                            have.files.first().map_or("none", |f| f.sha1.as_str())
                        ),
                    });
                }
                let image = match &self.channel {
                    Some(c) if !have.channels.contains(c) => {
                        let home = have.channels.first().cloned().unwrap_or_default();
                        self.with_channel(&home)?.channel_add_image(uuid, c).await?
                    }
                    _ => have,
                };
                return Ok(Published {
                    image,
                    already: true,
                });
            }
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e),
        }
        self.import_image(manifest).await?;
        let rest = async {
            self.add_image_file(uuid, file, &compression, expect)
                .await?;
            self.activate_image(uuid).await
        }
        .await;
        match rest {
            Ok(image) => Ok(Published {
                image,
                already: false,
            }),
            Err(e) => {
                if let Err(undo) = self.delete_image(uuid, true).await {
                    tracing::warn!(image = %uuid, error = %undo, "deleting a half-imported image");
                }
                Err(e)
            }
        }
    }
}

/// The repository's answer to AddImageFile, checked against what was sent.
fn file_answered(
    op: &'static str,
    uuid: Uuid,
    sha1: &str,
    size: u64,
    image: Image,
) -> Result<Image> {
    match image.files.first() {
        Some(f) if f.sha1 == sha1 && f.size == size => Ok(image),
        other => Err(Error::Integrity {
            operation: op,
            reason: format!(
                "image {uuid}: sent {size} bytes with SHA-1 {sha1}, the repository has {}",
                other.map_or_else(
                    || "no file".to_owned(),
                    |f| format!("{} bytes with SHA-1 {}", f.size, f.sha1)
                )
            ),
        }),
    }
}

fn ignore_not_found(e: Error) -> Result<()> {
    if e.is_not_found() { Ok(()) } else { Err(e) }
}
