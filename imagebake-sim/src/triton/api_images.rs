//! Images: ListImages, GetImage, CreateImageFromMachine, UpdateImage,
//! ExportImage, DeleteImage.

use std::time::SystemTime;

use axum::http::{HeaderName, StatusCode, header};
use serde_json::{Value, json};
use uuid::Uuid;

use super::error::{ApiError, ApiResult, Reply};
use super::params::Params;
use super::routes::Context;
use super::state::{Image, ImageState, MachineState, Store, Transition};

/// An image as CloudAPI renders it.
pub(crate) fn image_json(i: &Image) -> Value {
    let mut v = json!({
        "id": i.id,
        "name": i.name,
        "version": i.version,
        "os": i.os,
        "type": i.kind,
        "requirements": i.requirements,
        "owner": i.owner,
        "public": i.public,
        "state": i.state.as_str(),
        "tags": i.tags,
    });
    let optional = [
        ("description", &i.description),
        ("homepage", &i.homepage),
        ("eula", &i.eula),
        ("published_at", &i.published_at),
    ];
    for (k, value) in optional {
        if let Some(s) = value {
            v[k] = json!(s);
        }
    }
    if !i.acl.is_empty() {
        v["acl"] = json!(i.acl);
    }
    if let Some(origin) = i.origin {
        v["origin"] = json!(origin);
    }
    if let Some(size) = i.image_size {
        v["image_size"] = json!(size);
    }
    if i.state == ImageState::Active {
        v["files"] = json!([file_json(&image_file(i))]);
    }
    if let (ImageState::Failed, Some((code, message))) = (i.state, &i.error) {
        v["error"] = json!({ "code": code, "message": message });
    }
    v
}

/// IMGAPI's `~` prefix means substring; anything else is exact.
fn text_matches(filter: &str, value: &str) -> bool {
    match filter.strip_prefix('~') {
        Some(sub) => value.contains(sub),
        None => value == filter,
    }
}

/// ListImages: `GET /:login/images` with `name os version public state owner
/// type`; default state `active`, `state=all` for every state; `docker`
/// images only when a type is given. Oldest first.
pub(crate) fn list(store: &mut Store, params: &Params) -> ApiResult {
    store.settle();
    let public = params.bool("public")?;
    let state = params.str("state").unwrap_or_else(|| "active".to_owned());
    let kind = params.str("type");
    let mut listed: Vec<&Image> = store
        .images
        .iter()
        .filter(|i| store.visible(i))
        .filter(|i| params.str("name").is_none_or(|n| text_matches(&n, &i.name)))
        .filter(|i| {
            params
                .str("version")
                .is_none_or(|v| text_matches(&v, &i.version))
        })
        .filter(|i| params.str("os").is_none_or(|os| i.os == os))
        .filter(|i| params.str("owner").is_none_or(|o| i.owner.to_string() == o))
        .filter(|i| public.is_none_or(|p| i.public == p))
        .filter(|i| state == "all" || i.state.as_str() == state)
        .filter(|i| match &kind {
            Some(k) => i.kind == *k,
            None => i.kind != "docker",
        })
        .collect();
    listed.sort_by(|a, b| {
        let key = |i: &Image| i.published_at.clone().unwrap_or_else(|| "~".to_owned());
        key(a).cmp(&key(b)).then(a.created.cmp(&b.created))
    });
    Ok(Reply::ok(Value::Array(
        listed.into_iter().map(image_json).collect(),
    )))
}

fn visible_image<'a>(store: &'a mut Store, id: &str) -> Result<&'a mut Image, ApiError> {
    let account = store.account.id.to_string();
    store
        .image_mut(id)
        .filter(|i| i.public || i.owner.to_string() == account || i.acl.contains(&account))
        .ok_or_else(|| ApiError::not_found(format!("image {id} not found")))
}

fn owned_image<'a>(store: &'a mut Store, id: &str) -> Result<&'a mut Image, ApiError> {
    let account = store.account.id;
    let image = visible_image(store, id)?;
    if image.owner != account {
        return Err(ApiError::not_authorized(format!(
            "You do not have permission to modify image {id}"
        )));
    }
    Ok(image)
}

/// GetImage: `GET /:login/images/:id` (any state).
pub(crate) fn get(store: &mut Store, id: &str) -> ApiResult {
    visible_image(store, id).map(|i| Reply::ok(image_json(i)))
}

/// Name ≤ 512 and version ≤ 128 characters (IMGAPI manifest limits).
fn check_name_version(name: &str, version: &str) -> Result<(), ApiError> {
    if name.chars().count() > 512 {
        return Err(ApiError::invalid_argument(
            "name is longer than 512 characters",
        ));
    }
    if version.chars().count() > 128 {
        return Err(ApiError::invalid_argument(
            "version is longer than 128 characters",
        ));
    }
    Ok(())
}

/// Applies the optional manifest fields UpdateImage and
/// CreateImageFromMachine take.
fn apply_fields(image: &mut Image, params: &Params) -> Result<(), ApiError> {
    if let Some(d) = params.str("description") {
        image.description = Some(d);
    }
    if let Some(h) = params.str("homepage") {
        image.homepage = Some(h);
    }
    if let Some(e) = params.str("eula") {
        image.eula = Some(e);
    }
    if let Some(acl) = params.list("acl")? {
        image.acl = acl;
    }
    match params.0.get("tags") {
        None | Some(Value::Null) => {}
        Some(Value::Object(tags)) => image.tags = tags.clone(),
        Some(Value::String(s)) => match serde_json::from_str(s) {
            Ok(Value::Object(tags)) => image.tags = tags,
            _ => return Err(ApiError::invalid_argument("tags must be an object")),
        },
        Some(_) => return Err(ApiError::invalid_argument("tags must be an object")),
    }
    Ok(())
}

/// CreateImageFromMachine: `POST /:login/images` with `machine`, `name`,
/// `version` (required) and `description homepage eula acl tags`. The
/// machine must be `stopped`. 201 with `state: creating`.
pub(crate) fn create_from_machine(store: &mut Store, cx: &Context, params: &Params) -> ApiResult {
    let machine_id = params.required("machine")?;
    let name = params.required("name")?;
    let version = params.required("version")?;
    check_name_version(&name, &version)?;
    let machine = store
        .machine_mut(&machine_id)
        .filter(|m| !m.is_deleted())
        .ok_or_else(|| ApiError::not_found(format!("VM {machine_id} not found")))?
        .clone();
    if machine.state != MachineState::Stopped || machine.pending.is_some() {
        return Err(ApiError::invalid_state(format!(
            "VM {machine_id} must be stopped to create an image from it (state: {})",
            machine.state.as_str()
        )));
    }
    let origin = store.images.iter().find(|i| i.id == machine.image).cloned();
    let outcome = if cx.fail_resource {
        ImageState::Failed
    } else {
        ImageState::Active
    };
    let mut image = Image {
        id: Uuid::new_v4(),
        name,
        version,
        os: origin
            .as_ref()
            .map_or_else(|| "other".to_owned(), |o| o.os.clone()),
        kind: origin
            .as_ref()
            .map_or_else(|| "zone-dataset".to_owned(), |o| o.kind.clone()),
        description: None,
        homepage: None,
        eula: None,
        acl: Vec::new(),
        tags: serde_json::Map::new(),
        owner: store.account.id,
        public: false,
        state: ImageState::Creating,
        pending: Some(Transition::after(outcome, store.delays.image_create)),
        error: cx.fail_resource.then(|| {
            (
                "PrepareImageDidNotRun".to_owned(),
                "Image creation failed: the prepare-image script did not run (the guest \
                 tools are too old, or the machine took longer than 5 minutes to boot)"
                    .to_owned(),
            )
        }),
        published_at: None,
        origin: origin.as_ref().map(|o| o.id),
        requirements: origin
            .as_ref()
            .map_or_else(|| json!({}), |o| o.requirements.clone()),
        image_size: origin.as_ref().and_then(|o| o.image_size),
        created: SystemTime::now(),
    };
    apply_fields(&mut image, params)?;
    if let Some(vms) = &store.vms {
        // The image holds a copy of the machine's disk as it is now.
        vms.capture(machine.id, Some(machine.image), image.id)
            .map_err(|e| {
                ApiError::new(
                    500,
                    "InternalError",
                    format!("capturing machine {machine_id}: {e}"),
                )
            })?;
    }
    let body = image_json(&image);
    let location = format!("/{}/images/{}", cx.login, image.id);
    store.images.push(image);
    Ok(Reply::json(StatusCode::CREATED, body)
        .header(header::LOCATION, location)
        .header(
            HeaderName::from_static("x-joyent-jobid"),
            Uuid::new_v4().to_string(),
        ))
}

/// UpdateImage: `POST /:login/images/:id?action=update` with any of `name
/// version description homepage eula acl tags`.
pub(crate) fn update(store: &mut Store, id: &str, params: &Params) -> ApiResult {
    let image = owned_image(store, id)?;
    let name = params.str("name").unwrap_or_else(|| image.name.clone());
    let version = params
        .str("version")
        .unwrap_or_else(|| image.version.clone());
    check_name_version(&name, &version)?;
    let mut updated = image.clone();
    updated.name = name;
    updated.version = version;
    apply_fields(&mut updated, params)?;
    *image = updated;
    Ok(Reply::ok(image_json(image)))
}

/// The image's file: a gzip-compressed stand-in for its `zfs send` stream
/// (a text header naming the image, then deterministic filler), the same
/// bytes every time, so `files[0]` and an exported copy agree.
pub(crate) fn image_file(i: &Image) -> Vec<u8> {
    use std::io::Write as _;
    let mut raw = format!(
        "imagebake-sim image file (a stand-in for a zfs send stream)\nuuid: {}\nname: {}\nversion: {}\n",
        i.id, i.name, i.version
    )
    .into_bytes();
    let mut x = i.id.as_u128() | 1;
    while raw.len() < 16 * 1024 {
        // xorshift: incompressible enough to look like data.
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        raw.extend_from_slice(&x.to_le_bytes()[..8]);
    }
    let mut gz = flate2::GzBuilder::new().write(Vec::new(), flate2::Compression::fast());
    // Writing into a Vec cannot fail.
    let _ = gz.write_all(&raw);
    gz.finish().unwrap_or_default()
}

/// `files[0]` for `bytes`: gzip, its SHA-1 and size.
fn file_json(bytes: &[u8]) -> Value {
    let sha1 = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, bytes);
    let hex: String = sha1.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    json!({ "compression": "gzip", "sha1": hex, "size": bytes.len() })
}

/// The manifest IMGAPI exports: its own serialization of the image (the DC
/// view: `uuid`, owner = the account, `state`, `published_at`, `origin`),
/// as 4-space JSON.
fn export_manifest(i: &Image, file: &[u8]) -> Vec<u8> {
    let cloud = image_json(i);
    let mut m = json!({
        "v": 2,
        "uuid": i.id,
        "owner": i.owner,
        "name": i.name,
        "version": i.version,
        "state": i.state.as_str(),
        "disabled": false,
        "public": i.public,
        "published_at": i.published_at.clone().unwrap_or_else(|| super::time::rfc3339(SystemTime::now())),
        "type": i.kind,
        "os": i.os,
        "files": [file_json(file)],
        "requirements": i.requirements,
        "tags": i.tags,
    });
    for k in [
        "description",
        "homepage",
        "eula",
        "origin",
        "acl",
        "image_size",
    ] {
        if let Some(v) = cloud.get(k) {
            m[k] = v.clone();
        }
    }
    let mut out = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    // Serializing a Value into a Vec cannot fail.
    let _ = serde::Serialize::serialize(&m, &mut ser);
    out
}

/// ExportImage: `POST /:login/images/:id?action=export` with `manta_path`,
/// as IMGAPI names the copies: an existing directory gets
/// `NAME-VERSION.imgmanifest` and `NAME-VERSION.zfs.gz` inside it, a path
/// that does not exist is a prefix (`PATH.imgmanifest`, `PATH.zfs.gz`; the
/// parent must exist: `DirectoryDoesNotExist`), an existing object is
/// refused. The path's first segment must be the caller's login (`~~` is
/// expanded by nobody: 422 `NotMantaPathOwner`). Both copies are written
/// into the simulated Manta before the answer.
pub(crate) fn export(store: &mut Store, cx: &Context, id: &str, params: &Params) -> ApiResult {
    let manta_path = params.required("manta_path")?;
    let account = store.account.id;
    let image = visible_image(store, id)?;
    if image.owner != account {
        return Err(ApiError::new(
            422,
            "NotImageOwner",
            format!("{} is not the owner of image {id}", cx.login),
        ));
    }
    let first = manta_path
        .split('/')
        .find(|s| !s.is_empty())
        .unwrap_or_default();
    if !manta_path.starts_with('/') || first != cx.login {
        return Err(ApiError::new(
            422,
            "NotMantaPathOwner",
            format!("{} is not the owner of manta path {manta_path}", cx.login),
        ));
    }
    if image.state != ImageState::Active {
        return Err(ApiError::invalid_state(format!(
            "image {id} is {} and cannot be exported",
            image.state.as_str()
        )));
    }
    let Some(manta) = &cx.manta else {
        return Err(ApiError::new(
            503,
            "StorageUnsupported",
            "no Manta is configured",
        ));
    };
    let listed = format!(
        "/{}",
        manta_path
            .split('/')
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("/")
    );
    let base = match manta.kind_of(&listed) {
        Some(true) => format!("{listed}/{}-{}", image.name, image.version),
        Some(false) => {
            return Err(ApiError::new(
                422,
                "InvalidParameter",
                format!("manta_path {manta_path} is an existing object, not a directory"),
            ));
        }
        None => manta_path.clone(),
    };
    let file = image_file(image);
    let manifest = export_manifest(image, &file);
    let manifest_path = format!("{base}.imgmanifest");
    let image_path = format!("{base}.zfs.gz");
    manta.put(&manifest_path, &manifest, "application/json")?;
    manta.put(&image_path, &file, "application/octet-stream")?;
    Ok(Reply::ok(json!({
        "manta_url": manta.url(),
        "image_path": image_path,
        "manifest_path": manifest_path,
    })))
}

/// DeleteImage: `DELETE /:login/images/:id` → 204 (any state).
pub(crate) fn delete(store: &mut Store, id: &str) -> ApiResult {
    let image_id = owned_image(store, id)?.id;
    store.images.retain(|i| i.id != image_id);
    Ok(Reply::empty(StatusCode::NO_CONTENT))
}
