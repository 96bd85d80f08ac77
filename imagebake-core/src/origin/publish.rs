//! `imagebake origin publish`: an exported origin set (a Manta directory as
//! `origin build` leaves it) imported into an IMGAPI repository, as
//! triton-origin-image's `publish-images.sh` does with `updates-imgadm
//! import` (`shared/notes/triton-distribution.md` §1.3, §1.5, §5.1), made
//! parallel, resumable and clean after a failure:
//!
//! - every `*.imgmanifest` of the directory, with its image file beside it
//!   (`<name>-<version>.zfs<ext>` by `files[0].compression`), checked
//!   before anything is sent (uuid, sha1, size against the Manta object);
//! - an image whose `origin` is another image of the set is published after
//!   it; the others in parallel; an origin outside the set must already be
//!   in the repository (checked first);
//! - per image: already in the repository with the same SHA-1 ⇒ skipped
//!   (added to the channel when it is only in others); otherwise imported,
//!   its file streamed from Manta to IMGAPI (never whole in memory; sha1
//!   and size announced and checked in the answer), activated;
//! - the import is a create of the engine ([`StepCx::create`]): until the
//!   image is activated its undo deletes it, so a failure or a Ctrl-C
//!   leaves no half-imported image, and a re-run completes the set.

use std::collections::{BTreeMap, BTreeSet};

use futures::{FutureExt as _, StreamExt as _, TryStreamExt as _};
use serde::Serialize;
use serde_json::Value;
use triton_client::imgapi::{Image, ImgapiClient};
use triton_client::manta::{DirEntry, EntryKind, MantaClient};
use uuid::Uuid;

use super::OriginError;
use crate::engine::{Cleanup, Create, Resource, Runner, StepCx, from_fn};
use crate::{CancellationToken, Error, api_error_meta};

/// The resource kind the engine's reports name an imported image with.
const KIND: &str = "IMGAPI image";

/// How to publish.
#[derive(Debug, Clone)]
pub struct PublishOptions {
    /// The channel to import into. `None`: the repository client's channel
    /// (`UPDATES_IMGADM_CHANNEL`), else `dev` when the set's
    /// `buildinfo.json` names branch `master`, `experimental` otherwise.
    pub channel: Option<String>,
    /// Images published at the same time (at least 1; default 4).
    pub parallel: usize,
}

impl Default for PublishOptions {
    fn default() -> Self {
        Self {
            channel: None,
            parallel: 4,
        }
    }
}

/// What happened to one image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PublishOutcome {
    /// Imported, its file added, activated.
    Published,
    /// Already in the repository and in the channel with the same file.
    AlreadyThere,
    /// Already in the repository with the same file, in other channels
    /// only: added to the channel.
    AddedToChannel,
}

impl PublishOutcome {
    /// `published`, `already there`, `added to the channel`.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Published => "published",
            Self::AlreadyThere => "already there",
            Self::AddedToChannel => "added to the channel",
        }
    }
}

/// One image of a published set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublishedImage {
    /// The image UUID.
    pub uuid: Uuid,
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
    /// The channel it was published to.
    pub channel: String,
    /// SHA-1 of its file.
    pub sha1: String,
    /// Size of its file in bytes.
    pub size: u64,
    /// What was done.
    pub outcome: PublishOutcome,
}

/// What [`publish`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublishReport {
    /// The Manta directory the set was read from (a `<branch>-latest`
    /// pointer followed).
    pub dir: String,
    /// The channel.
    pub channel: String,
    /// Each image, origins before the images built on them.
    pub images: Vec<PublishedImage>,
}

/// One image of the set, as read and checked from Manta.
#[derive(Debug, Clone)]
struct SetImage {
    manifest_path: String,
    file_path: String,
    manifest: Value,
    uuid: Uuid,
    name: String,
    version: String,
    origin: Option<Uuid>,
    sha1: String,
    size: u64,
    compression: String,
}

impl SetImage {
    fn label(&self) -> String {
        format!("{}@{}", self.name, self.version)
    }
}

/// Publishes the origin set in the Manta directory `dir` (or the directory a
/// `<branch>-latest` object names) to the repository `repo`; see the module
/// documentation. Cancelling `cancel` stops it and removes any image not
/// yet activated.
pub async fn publish(
    manta: &MantaClient,
    repo: &ImgapiClient,
    dir: &str,
    options: &PublishOptions,
    cancel: CancellationToken,
) -> Result<PublishReport, OriginError> {
    let (dir, branch, images) = read_set(manta, dir).await?;
    let channel = match (&options.channel, repo.channel(), &branch) {
        (Some(c), _, _) => c.clone(),
        (None, Some(c), _) => c.to_owned(),
        (None, None, Some(b)) => channel_for_branch(b).to_owned(),
        (None, None, None) => {
            return Err(OriginError::invalid(
                format!("{dir}/buildinfo.json"),
                "is missing, so the channel (dev on master, experimental otherwise) is \
                 unknown: give one",
            ));
        }
    };
    let target = repo.with_channel(&channel).map_err(OriginError::cloud)?;
    let levels = origin_levels(&images)?;
    check_outside_origins(repo, &images).await?;
    let parallel = options.parallel.max(1);
    let built = Runner::new()
        .run("origin publish", cancel, |cx| async move {
            let mut done = Vec::with_capacity(images.len());
            for level in levels {
                let published: Vec<PublishedImage> = futures::stream::iter(
                    level
                        .into_iter()
                        .map(|i| publish_one(&cx, manta, &target, &images[i])),
                )
                .buffer_unordered(parallel)
                .try_collect()
                .await?;
                done.extend(published);
            }
            Ok(done)
        })
        .await
        .map_err(|e| OriginError::Run(Box::new(e)))?;
    Ok(PublishReport {
        dir,
        channel,
        images: built.value,
    })
}

/// Reads the set: the directory (following a `<branch>-latest` pointer),
/// the branch from `buildinfo.json` when there is one, and each image.
async fn read_set(
    manta: &MantaClient,
    dir: &str,
) -> Result<(String, Option<String>, Vec<SetImage>), OriginError> {
    let mut dir = manta.resolve(dir).map_err(OriginError::cloud)?;
    let info = manta.head(&dir).await.map_err(OriginError::cloud)?;
    if info.kind == EntryKind::Object {
        let pointer = manta.get_bytes(&dir).await.map_err(OriginError::cloud)?;
        let target = String::from_utf8_lossy(&pointer).trim().to_owned();
        dir = manta.resolve(&target).map_err(|_| {
            OriginError::invalid(
                &dir,
                format!("is neither a directory nor a pointer to one ({target:?})"),
            )
        })?;
    }
    let entries = list(manta, &dir).await?;
    let sizes = object_sizes(&entries);
    let branch = if sizes.contains_key("buildinfo.json") {
        let path = format!("{dir}/buildinfo.json");
        let info = read_json(manta, &path).await?;
        let branch = info.get("branch").and_then(Value::as_str).ok_or_else(|| {
            OriginError::invalid(format!("{path}: branch"), "is missing or not a string")
        })?;
        Some(branch.to_owned())
    } else {
        None
    };
    let mut images = Vec::new();
    for name in sizes.keys().filter(|n| n.ends_with(".imgmanifest")) {
        let path = format!("{dir}/{name}");
        let manifest = read_json(manta, &path).await?;
        let stem = name.trim_end_matches(".imgmanifest");
        images.push(check_manifest(&dir, &path, stem, manifest, &sizes)?);
    }
    if images.is_empty() {
        return Err(OriginError::invalid(
            &dir,
            "holds no *.imgmanifest: not an exported origin set",
        ));
    }
    let mut seen = BTreeMap::new();
    for i in &images {
        if let Some(other) = seen.insert(i.uuid, &i.manifest_path) {
            return Err(OriginError::invalid(
                &i.manifest_path,
                format!("uuid {} is also the uuid of {other}", i.uuid),
            ));
        }
    }
    Ok((dir, branch, images))
}

/// The channel an image built on git branch `branch` goes to, as
/// triton-origin-image's `publish-images.sh` chooses it: `dev` on
/// `master`, `experimental` on any other branch.
pub fn channel_for_branch(branch: &str) -> &'static str {
    if branch == "master" {
        "dev"
    } else {
        "experimental"
    }
}

/// Publishes one exported image to `repo`'s channel, as a step of `cx`'s
/// run: the `.imgmanifest` at `manifest_path` (in Manta) with its image
/// file beside it (`<stem>.zfs<ext>`, as ExportImage names it in both of
/// its naming cases), checked and published exactly as each image of an
/// origin set by [`publish`] (the same code): its origin must already be
/// in the repository; already there with the same SHA-1 ⇒ done (added to
/// the channel if needed); otherwise imported, the file streamed from
/// Manta, activated, and a failure or Ctrl-C before the activation deletes
/// the half-imported image. `repo` must name the channel
/// ([`ImgapiClient::with_channel`]).
pub async fn publish_exported(
    cx: &StepCx,
    manta: &MantaClient,
    repo: &ImgapiClient,
    manifest_path: &str,
) -> Result<PublishedImage, Error> {
    let path = manta
        .resolve(manifest_path)
        .map_err(imgapi(format!("manifest {manifest_path}")))?;
    let (dir, name) = path.rsplit_once('/').unwrap_or(("", &path));
    let Some(stem) = name.strip_suffix(".imgmanifest") else {
        return Err(refused(path.clone(), "is not an .imgmanifest"));
    };
    let image = cx
        .cancellable(async {
            let entries = list(manta, dir).await?;
            let manifest = read_json(manta, &path).await?;
            let image = check_manifest(dir, &path, stem, manifest, &object_sizes(&entries))?;
            check_outside_origins(repo, std::slice::from_ref(&image)).await?;
            Ok::<_, OriginError>(image)
        })
        .await?
        .map_err(|e| Error::Other(Box::new(e)))?;
    publish_one(cx, manta, repo, &image).await
}

/// Every entry of the Manta directory `dir`.
async fn list(manta: &MantaClient, dir: &str) -> Result<Vec<DirEntry>, OriginError> {
    manta
        .list(dir)
        .try_collect()
        .await
        .map_err(OriginError::cloud)
}

/// The objects of a listing, by name, with their sizes.
fn object_sizes(entries: &[DirEntry]) -> BTreeMap<&str, Option<u64>> {
    entries
        .iter()
        .filter(|e| e.kind == EntryKind::Object)
        .map(|e| (e.name.as_str(), e.size))
        .collect()
}

/// The JSON object at `path`.
async fn read_json(manta: &MantaClient, path: &str) -> Result<Value, OriginError> {
    let bytes = manta.get_bytes(path).await.map_err(OriginError::cloud)?;
    serde_json::from_slice(&bytes).map_err(|e| OriginError::invalid(path, format!("not JSON: {e}")))
}

/// One manifest checked against the listing: the fields publishing needs,
/// and its file present with the manifest's size.
fn check_manifest(
    dir: &str,
    path: &str,
    stem: &str,
    manifest: Value,
    sizes: &BTreeMap<&str, Option<u64>>,
) -> Result<SetImage, OriginError> {
    let at = |key: &str| format!("{path}: {key}");
    let text = |key: &str| {
        manifest
            .pointer(&format!("/{}", key.replace('.', "/").replace("[0]", "/0")))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| OriginError::invalid(at(key), "is missing or not a string"))
    };
    let uuid_of = |key: &str, s: &str| {
        Uuid::parse_str(s)
            .map_err(|_| OriginError::invalid(at(key), format!("{s:?} is not a UUID")))
    };
    let uuid = uuid_of("uuid", &text("uuid")?)?;
    let origin = match manifest.get("origin") {
        None | Some(Value::Null) => None,
        Some(_) => Some(uuid_of("origin", &text("origin")?)?),
    };
    let sha1 = text("files[0].sha1")?;
    if sha1.len() != 40 || !sha1.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(OriginError::invalid(
            at("files[0].sha1"),
            format!("{sha1:?} is not a SHA-1"),
        ));
    }
    let size = manifest
        .pointer("/files/0/size")
        .and_then(Value::as_u64)
        .filter(|s| *s > 0)
        .ok_or_else(|| OriginError::invalid(at("files[0].size"), "is not a positive number"))?;
    let compression = text("files[0].compression")?;
    let ext = match compression.as_str() {
        "gzip" => ".gz",
        "bzip2" => ".bz2",
        "xz" => ".xz",
        "none" => "",
        other => {
            return Err(OriginError::invalid(
                at("files[0].compression"),
                format!("{other:?} is not gzip, bzip2, xz or none"),
            ));
        }
    };
    let file = format!("{stem}.zfs{ext}");
    let file_path = format!("{dir}/{file}");
    match sizes.get(file.as_str()) {
        None => {
            return Err(OriginError::invalid(
                &file_path,
                format!("is missing (the image file of {path})"),
            ));
        }
        Some(Some(have)) if *have != size => {
            return Err(OriginError::invalid(
                &file_path,
                format!("has {have} bytes, {path} says files[0].size = {size}"),
            ));
        }
        Some(_) => {}
    }
    Ok(SetImage {
        manifest_path: path.to_owned(),
        file_path,
        uuid,
        name: text("name")?,
        version: text("version")?,
        origin,
        sha1: sha1.to_ascii_lowercase(),
        size,
        compression,
        manifest,
    })
}

/// The images in levels: each level's images have their origins (when the
/// origin is in the set) in earlier levels.
fn origin_levels(images: &[SetImage]) -> Result<Vec<Vec<usize>>, OriginError> {
    let index: BTreeMap<Uuid, usize> = images
        .iter()
        .enumerate()
        .map(|(i, m)| (m.uuid, i))
        .collect();
    let mut placed: BTreeSet<usize> = BTreeSet::new();
    let mut levels = Vec::new();
    while placed.len() < images.len() {
        let level: Vec<usize> = (0..images.len())
            .filter(|i| !placed.contains(i))
            .filter(|i| {
                images[*i]
                    .origin
                    .and_then(|o| index.get(&o))
                    .is_none_or(|o| placed.contains(o))
            })
            .collect();
        if level.is_empty() {
            let stuck: Vec<String> = (0..images.len())
                .filter(|i| !placed.contains(i))
                .map(|i| images[i].manifest_path.clone())
                .collect();
            return Err(OriginError::invalid(
                stuck.join(", "),
                "their origins form a cycle",
            ));
        }
        placed.extend(&level);
        levels.push(level);
    }
    Ok(levels)
}

/// Each origin outside the set must already be in the repository (any
/// channel), or its dependents' imports fail (`OriginDoesNotExist`): said
/// before anything is imported.
async fn check_outside_origins(
    repo: &ImgapiClient,
    images: &[SetImage],
) -> Result<(), OriginError> {
    let inside: BTreeSet<Uuid> = images.iter().map(|i| i.uuid).collect();
    let anywhere = repo.with_all_channels();
    for image in images {
        let Some(origin) = image.origin.filter(|o| !inside.contains(o)) else {
            continue;
        };
        match anywhere.get_image(origin).await {
            Ok(_) => {}
            Err(e) if e.is_not_found() => {
                return Err(OriginError::invalid(
                    format!("{}: origin", image.manifest_path),
                    format!(
                        "image {origin} is not in {}: import its origin chain there first \
                         (triton-origin-image's \"Prerequisite Chains\")",
                        repo.url()
                    ),
                ));
            }
            Err(e) => return Err(OriginError::cloud(e)),
        }
    }
    Ok(())
}

fn imgapi(what: String) -> impl FnOnce(triton_client::Error) -> Error {
    move |e| Error::provider(what, e)
}

/// Publishes one image, as a step of the run.
async fn publish_one(
    cx: &StepCx,
    manta: &MantaClient,
    repo: &ImgapiClient,
    image: &SetImage,
) -> Result<PublishedImage, Error> {
    let step = from_fn(format!("publish {}", image.label()), |cx, ()| async move {
        publish_image(&cx, manta, repo, image).await
    });
    cx.step(&step, ()).await
}

async fn publish_image(
    cx: &StepCx,
    manta: &MantaClient,
    repo: &ImgapiClient,
    image: &SetImage,
) -> Result<PublishedImage, Error> {
    let channel = repo.channel().unwrap_or_default().to_owned();
    let label = image.label();
    let uuid = image.uuid;
    let done = |outcome| PublishedImage {
        uuid,
        name: image.name.clone(),
        version: image.version.clone(),
        channel: channel.clone(),
        sha1: image.sha1.clone(),
        size: image.size,
        outcome,
    };
    let anywhere = repo.with_all_channels();
    match anywhere.get_image(uuid).await {
        Ok(have) if have.state.as_deref() == Some("unactivated") => {
            // Left by a run that died before its cleanup: start it over.
            repo.delete_image(uuid, true)
                .await
                .or_else(gone)
                .map_err(imgapi(format!(
                    "deleting the half-imported image {uuid} ({label})"
                )))?;
        }
        Ok(have) => return already_there(repo, image, have).await.map(done),
        Err(e) if e.is_not_found() => {}
        Err(e) => return Err(imgapi(format!("looking for image {uuid} ({label})"))(e)),
    }

    let create = {
        let (find_repo, undo_repo, name) = (anywhere.clone(), repo.clone(), label.clone());
        Create::new(
            KIND,
            Some(label.clone()),
            move || {
                let repo = find_repo.clone();
                async move {
                    match repo.get_image(uuid).await {
                        Ok(i) if i.state.as_deref() == Some("unactivated") => Ok(vec![i]),
                        Ok(_) => Ok(vec![]),
                        Err(e) if e.is_not_found() => Ok(vec![]),
                        Err(e) => Err(imgapi(format!("looking for image {uuid}"))(e)),
                    }
                }
            },
            move |made: &Image| {
                let repo = undo_repo.clone();
                let uuid = made.uuid;
                Cleanup::on_failure(
                    Resource::new(KIND, uuid.to_string()).named(name.clone()),
                    move |_| async move {
                        repo.delete_image(uuid, true)
                            .await
                            .or_else(gone)
                            .map_err(imgapi(format!("deleting the half-imported image {uuid}")))
                    },
                )
            },
        )
    };
    let send = {
        let (repo, manifest, what) = (repo.clone(), image.manifest.clone(), label.clone());
        async move {
            repo.import_image(&manifest)
                .await
                .map_err(imgapi(format!("importing {what}")))
        }
    };
    let created = match cx.create(create, send).await {
        Ok(c) => c,
        Err(e) if api_error_meta(&e).and_then(|m| m.status()) == Some(409) => {
            // Imported meanwhile by someone else: done if it is the same.
            let have = anywhere
                .get_image(uuid)
                .await
                .map_err(imgapi(format!("looking for image {uuid} ({label})")))?;
            if have.state.as_deref() == Some("unactivated") {
                return Err(refused(
                    format!("image {uuid} ({label})"),
                    "another publisher is importing it (unactivated); try again later",
                ));
            }
            return already_there(repo, image, have).await.map(done);
        }
        Err(e) => return Err(e),
    };
    let upload = async {
        let open = || {
            let (manta, path) = (manta.clone(), image.file_path.clone());
            async move { Ok(manta.get(&path).await?.body) }.boxed()
        };
        repo.add_image_file_stream(uuid, &image.compression, &image.sha1, image.size, open)
            .await
            .map_err(imgapi(format!(
                "adding the file {} to {label}",
                image.file_path
            )))?;
        repo.activate_image(uuid)
            .await
            .map_err(imgapi(format!("activating {label}")))
    };
    cx.cancellable(upload).await??;
    // Complete: a later failure of the run keeps it (a re-run skips it).
    cx.dismiss(created.undo);
    Ok(done(PublishOutcome::Published))
}

/// An image already in the repository: the same file ⇒ done (added to the
/// channel when needed); another file is an error.
async fn already_there(
    repo: &ImgapiClient,
    image: &SetImage,
    have: Image,
) -> Result<PublishOutcome, Error> {
    let label = image.label();
    let theirs = have.files.first().map(|f| f.sha1.as_str());
    if theirs != Some(image.sha1.as_str()) {
        return Err(refused(
            format!("image {} ({label})", image.uuid),
            format!(
                "is already in the repository with another file (SHA-1 {}; {} says {})",
                theirs.unwrap_or("none"),
                image.manifest_path,
                image.sha1
            ),
        ));
    }
    let channel = repo.channel().unwrap_or_default();
    if have.channels.iter().any(|c| c == channel) {
        return Ok(PublishOutcome::AlreadyThere);
    }
    let home = have.channels.first().cloned().unwrap_or_default();
    repo.with_channel(&home)
        .map_err(imgapi(format!("image {} ({label})", image.uuid)))?
        .channel_add_image(image.uuid, channel)
        .await
        .map_err(imgapi(format!("adding {label} to channel {channel}")))?;
    Ok(PublishOutcome::AddedToChannel)
}

/// A refusal inside the run, as the engine's error.
fn refused(at: String, reason: impl Into<String>) -> Error {
    Error::Other(Box::new(OriginError::invalid(at, reason)))
}

fn gone(e: triton_client::Error) -> Result<(), triton_client::Error> {
    if e.is_not_found() { Ok(()) } else { Err(e) }
}
