//! The repository: channels and images (manifest, state, channels, file),
//! with IMGAPI's checks and error bodies (`sdc-imgapi lib/images.js`).

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::triton::error::ApiError;

/// The standard channels of a private repository
/// (`etc/standalone/standard-channels.json`); `dev` is the default.
pub(crate) const CHANNELS: &[(&str, &str)] = &[
    (
        "experimental",
        "feature-branch builds (warning: 'latest' isn't meaningful)",
    ),
    ("dev", "main development branch builds"),
    (
        "staging",
        "builds for testing in staging in prep for production release",
    ),
    ("release", "release bits"),
    ("support", "released and supported bits"),
];
pub(crate) const DEFAULT_CHANNEL: &str = "dev";

/// Manifest keys IMGAPI's model knows; anything else on import is 422.
const MODEL_KEYS: &[&str] = &[
    "v",
    "uuid",
    "owner",
    "name",
    "version",
    "description",
    "homepage",
    "eula",
    "icon",
    "state",
    "disabled",
    "public",
    "published_at",
    "type",
    "os",
    "files",
    "acl",
    "requirements",
    "users",
    "generate_passwords",
    "inherited_directories",
    "origin",
    "billing_tags",
    "traits",
    "tags",
    "urn",
    "nic_driver",
    "disk_driver",
    "cpu_type",
    "image_size",
    "channels",
    "error",
];
const TYPES: &[&str] = &[
    "zone-dataset",
    "lx-dataset",
    "zvol",
    "docker",
    "lxd",
    "other",
];
const OSES: &[&str] = &["smartos", "linux", "windows", "bsd", "illumos", "other"];
pub(crate) const COMPRESSIONS: &[&str] = &["gzip", "bzip2", "xz", "none"];
const ZERO_OWNER: &str = "00000000-0000-0000-0000-000000000000";

/// A stored image file.
#[derive(Debug, Clone)]
pub(crate) struct StoredFile {
    pub bytes: Vec<u8>,
    pub sha1: String,
    pub compression: String,
}

/// One image.
#[derive(Debug, Clone)]
pub(crate) struct RepoImage {
    pub uuid: Uuid,
    /// The imported manifest minus server-managed fields.
    pub manifest: Map<String, Value>,
    pub state: &'static str,
    pub published_at: Option<String>,
    pub channels: Vec<String>,
    pub file: Option<StoredFile>,
    pub seq: u64,
}

impl RepoImage {
    pub fn name(&self) -> &str {
        self.manifest
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    /// IMGAPI's serialization; `channels` only for API version 2.
    pub fn serialize(&self, v2: bool) -> Value {
        let mut m = self.manifest.clone();
        m.insert("v".into(), json!(2));
        m.insert("uuid".into(), json!(self.uuid));
        m.insert("state".into(), json!(self.state));
        m.insert("disabled".into(), json!(self.state == "disabled"));
        if let Some(p) = &self.published_at {
            m.insert("published_at".into(), json!(p));
        }
        let files: Vec<Value> = self
            .file
            .iter()
            .map(|f| json!({"sha1": f.sha1, "size": f.bytes.len(), "compression": f.compression}))
            .collect();
        m.insert("files".into(), Value::Array(files));
        if v2 {
            m.insert("channels".into(), json!(self.channels));
        }
        Value::Object(m)
    }
}

/// IMGAPI's 422 `ValidationFailed` / `InvalidParameter` with `errors`.
pub(crate) fn validation(code: &'static str, field: &str, kind: &str, message: &str) -> ApiError {
    ApiError::Raw {
        status: axum::http::StatusCode::UNPROCESSABLE_ENTITY,
        body: json!({
            "code": code,
            "message": format!("{field}: {message}"),
            "errors": [{ "field": field, "code": kind, "message": message }],
        }),
    }
}

pub(crate) fn not_found(uuid: &str) -> ApiError {
    ApiError::new(
        404,
        "ResourceNotFound",
        format!("image {uuid} was not found"),
    )
}

/// The images, in import order.
#[derive(Debug, Default)]
pub(crate) struct Repo {
    pub images: Vec<RepoImage>,
    seq: u64,
}

impl Repo {
    /// Resolves `?channel=`: missing → the default; `*` only where allowed.
    pub fn channel(requested: Option<&str>, star_ok: bool) -> Result<String, ApiError> {
        match requested {
            None | Some("") => Ok(DEFAULT_CHANNEL.to_owned()),
            Some("*") if star_ok => Ok("*".to_owned()),
            Some(c) if CHANNELS.iter().any(|(n, _)| *n == c) => Ok(c.to_owned()),
            Some(c) => Err(validation(
                "ValidationFailed",
                "channel",
                "Invalid",
                &format!("unknown channel: {c}"),
            )),
        }
    }

    /// The image `uuid` if it is in `channel` (`*`: any); 404 otherwise.
    pub fn find(&mut self, uuid: &str, channel: &str) -> Result<&mut RepoImage, ApiError> {
        self.images
            .iter_mut()
            .find(|i| {
                i.uuid.to_string() == uuid
                    && (channel == "*" || i.channels.iter().any(|c| c == channel))
            })
            .ok_or_else(|| not_found(uuid))
    }

    /// AdminImportImage into `channel`.
    pub fn import(&mut self, uuid: &str, channel: &str, body: &Value) -> Result<Value, ApiError> {
        let Some(obj) = body.as_object() else {
            return Err(validation(
                "InvalidParameter",
                "body",
                "Invalid",
                "not an object",
            ));
        };
        let extra: Vec<&str> = obj
            .keys()
            .map(String::as_str)
            .filter(|k| !MODEL_KEYS.contains(k))
            .collect();
        if !extra.is_empty() {
            return Err(validation(
                "InvalidParameter",
                extra[0],
                "Invalid",
                &format!("invalid extra parameters: \"{}\"", extra.join("\", \"")),
            ));
        }
        if obj.get("uuid").and_then(Value::as_str) != Some(uuid) {
            return Err(validation(
                "InvalidParameter",
                "uuid",
                "Invalid",
                &format!("the manifest uuid does not match the path uuid {uuid}"),
            ));
        }
        let id = Uuid::parse_str(uuid)
            .map_err(|_| validation("InvalidParameter", "uuid", "Invalid", "not a UUID"))?;
        if self.images.iter().any(|i| i.uuid == id) {
            return Err(ApiError::new(
                409,
                "ImageUuidAlreadyExists",
                format!("image uuid {uuid} already exists"),
            ));
        }
        for field in ["name", "version", "type", "os"] {
            if !obj.get(field).is_some_and(Value::is_string) {
                return Err(validation(
                    "ValidationFailed",
                    field,
                    "Missing",
                    "is required",
                ));
            }
        }
        let v = obj
            .get("v")
            .map(|v| v.as_u64().or_else(|| v.as_str()?.parse().ok()));
        if v != Some(Some(2)) {
            return Err(validation("ValidationFailed", "v", "Invalid", "must be 2"));
        }
        let s = |k: &str| obj.get(k).and_then(Value::as_str).unwrap_or_default();
        if !TYPES.contains(&s("type")) {
            return Err(validation(
                "ValidationFailed",
                "type",
                "Invalid",
                "unknown type",
            ));
        }
        if !OSES.contains(&s("os")) {
            return Err(validation(
                "ValidationFailed",
                "os",
                "Invalid",
                "unknown os",
            ));
        }
        if obj.get("public").and_then(Value::as_bool) == Some(true) {
            return Err(validation(
                "ValidationFailed",
                "public",
                "Invalid",
                "public images are not allowed on a private repository",
            ));
        }
        if obj.get("icon").and_then(Value::as_bool) == Some(true) {
            return Err(validation(
                "ValidationFailed",
                "icon",
                "Invalid",
                "icon is server-managed",
            ));
        }
        if let Some(origin) = obj.get("origin").and_then(Value::as_str)
            && !self.images.iter().any(|i| i.uuid.to_string() == origin)
        {
            return Err(ApiError::new(
                422,
                "OriginDoesNotExist",
                format!("origin image {origin} does not exist"),
            ));
        }
        let mut manifest = obj.clone();
        for k in [
            "files", "state", "channels", "icon", "error", "uuid", "v", "disabled",
        ] {
            manifest.remove(k);
        }
        let published_at = manifest
            .remove("published_at")
            .and_then(|v| v.as_str().map(str::to_owned));
        manifest.insert("owner".into(), json!(ZERO_OWNER));
        manifest.insert("public".into(), json!(false));
        self.seq += 1;
        let image = RepoImage {
            uuid: id,
            manifest,
            state: "unactivated",
            published_at,
            channels: vec![channel.to_owned()],
            file: None,
            seq: self.seq,
        };
        let out = image.serialize(true);
        self.images.push(image);
        Ok(out)
    }

    /// DeleteImage from `channel` (or all channels with `force`).
    pub fn delete(&mut self, uuid: &str, channel: &str, force: bool) -> Result<(), ApiError> {
        let id = self.find(uuid, channel)?.uuid;
        let dependents: BTreeSet<String> = self
            .images
            .iter()
            .filter(|i| {
                i.manifest.get("origin").and_then(Value::as_str) == Some(uuid)
                    && (force || i.channels.iter().any(|c| c == channel))
            })
            .map(|i| i.uuid.to_string())
            .collect();
        if !dependents.is_empty() {
            return Err(ApiError::new(
                422,
                "ImageHasDependentImages",
                format!(
                    "image {uuid} has dependent images: {}",
                    dependents.into_iter().collect::<Vec<_>>().join(", ")
                ),
            ));
        }
        let image = self.find(uuid, channel)?;
        image.channels.retain(|c| c != channel);
        if force || image.channels.is_empty() {
            self.images.retain(|i| i.uuid != id);
        }
        Ok(())
    }
}
