//! [`build`]: an origin image set built, exported to Manta and marked, as
//! triton-origin-image's `build-image.sh` does, in parallel and with
//! nothing left behind after a failure or Ctrl-C.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value, json};
use tokio::sync::{Semaphore, watch};
use triton_client::manta::MantaClient;
use triton_client::types::ImageId;

use super::steps::{
    CheckOrigin, ChoosePackage, DeleteCloudImage, ExportDir, ExportImage, SetMarkers,
};
use super::{BuildStamp, ExportedImage, ImagesFile, OriginEntry, OriginError, PackageJson};
use crate::bake::{Level, ProgressSink, Ui, UiMode, describe};
use crate::builders::Builder;
use crate::builders::packer::TemplateVars;
use crate::builders::triton::{CommPlan, TritonBuilder, TritonConfig};
use crate::provision::Shell;
use crate::template::Sensitive;
use crate::{BuildError, CancellationToken, Error, Event, FnObserver, Runner, StepCx};

/// Builder keys an origin build sets itself (from `images.json`, the
/// version and the build stamp).
const OWN_KEYS: &[&str] = &[
    "source_machine_image",
    "source_machine_image_filter",
    "source_machine_package",
    "image_name",
    "image_version",
    "image_description",
    "image_homepage",
    "image_tags",
];

/// What [`build`] builds, and how.
#[derive(Clone)]
pub struct BuildOptions {
    /// The set (`images.json`).
    pub images: ImagesFile,
    /// Branch, timestamp and git sha: the images' tags, the directory's name
    /// and `buildinfo.json`.
    pub stamp: BuildStamp,
    /// The images' version (`package.json`'s, `--version`, or
    /// [`BuildStamp::version`]).
    pub version: String,
    /// The images' homepage (`package.json`'s `homepage`), if any.
    pub homepage: Option<String>,
    /// A `triton` builder block for the temporary machines: the credentials
    /// (`triton_url`, `triton_account`, `triton_key_id`, ...) and any other
    /// builder key (`communicator`, `ssh_*`, `source_machine_networks`,
    /// waits). The keys an origin build sets itself (`source_machine_image`,
    /// `source_machine_package`, `image_*`) are refused.
    pub builder: Value,
    /// The Manta the images are exported to.
    pub manta: MantaClient,
    /// The export directory; default
    /// `/LOGIN/public/builds/triton-origin-image/<branch>-<timestamp>`.
    pub export_dir: Option<String>,
    /// At most this many images built at once; 0 means all at once.
    pub parallel_builds: usize,
    /// Keeps the cloud images after their export (they are deleted by
    /// default: they were only the export's vehicle). A failed set deletes
    /// them whatever this says.
    pub keep_cloud_images: bool,
    /// Receives the progress lines, as `imagebake build` shows them
    /// (default: standard output).
    pub progress: ProgressSink,
    /// Packer's text, stamped text or machine-readable lines.
    pub ui: UiMode,
}

impl BuildOptions {
    /// Options for `images` with `stamp`, the version [`BuildStamp::version`],
    /// the credentials and builder keys of `builder`, and the defaults.
    pub fn new(images: ImagesFile, stamp: BuildStamp, builder: Value, manta: MantaClient) -> Self {
        Self {
            images,
            version: stamp.version(),
            stamp,
            homepage: None,
            builder,
            manta,
            export_dir: None,
            parallel_builds: 0,
            keep_cloud_images: false,
            progress: Arc::new(|line: &str| println!("{line}")),
            ui: UiMode::default(),
        }
    }
}

/// Where the version comes from (after `images.json`): given, from a
/// `package.json`, or the build stamp's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum VersionSource {
    /// `<branch>-<timestamp>-g<sha>` ([`BuildStamp::version`]).
    #[default]
    Stamp,
    /// This version (`--version`).
    Given(String),
    /// `version` (and `homepage`) of this `package.json`.
    PackageJson(PathBuf),
}

impl BuildOptions {
    /// Options from triton-origin-image's files: `images` read and checked,
    /// the build stamp from the git work tree holding it (`branch` when
    /// given; needed on a detached HEAD), the version from `version`.
    pub async fn from_files(
        images: &Path,
        version: VersionSource,
        branch: Option<&str>,
        builder: Value,
        manta: MantaClient,
    ) -> Result<BuildOptions, OriginError> {
        let set = ImagesFile::read(images)?;
        let repo = match images.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        };
        let stamp = BuildStamp::from_git(&repo, branch).await?;
        let mut opts = BuildOptions::new(set, stamp, builder, manta);
        match version {
            VersionSource::Stamp => {}
            VersionSource::Given(v) => opts.version = v,
            VersionSource::PackageJson(p) => {
                let pkg = PackageJson::read(&p)?;
                opts.version = pkg.version;
                opts.homepage = pkg.homepage;
            }
        }
        Ok(opts)
    }
}

impl fmt::Debug for BuildOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The builder block may hold key text: never shown.
        f.debug_struct("BuildOptions")
            .field("images", &self.images)
            .field("stamp", &self.stamp)
            .field("version", &self.version)
            .field("export_dir", &self.export_dir)
            .field("parallel_builds", &self.parallel_builds)
            .field("keep_cloud_images", &self.keep_cloud_images)
            .finish_non_exhaustive()
    }
}

/// One image of a built set.
#[derive(Debug, Clone)]
pub struct BuiltImage {
    /// `namePrefix-<origin version>`.
    pub name: String,
    /// The set's version.
    pub version: String,
    /// The cloud image it was exported from (deleted unless
    /// `keep_cloud_images`).
    pub cloud_image: ImageId,
    /// Whether the cloud image was kept.
    pub kept: bool,
    /// Its copies in Manta.
    pub exported: ExportedImage,
}

/// A built set.
#[derive(Debug, Clone)]
pub struct BuildReport {
    /// The export directory (absolute).
    pub export_dir: String,
    /// The `<branch>-latest` object (holds the directory's path).
    pub latest: String,
    /// The images, in `images.json` order.
    pub images: Vec<BuiltImage>,
}

/// One image whose build failed or was cancelled.
#[derive(Debug)]
pub struct FailedImage {
    /// Its name.
    pub name: String,
    /// Why, and what its cleanup did.
    pub error: BuildError,
}

/// Why an origin set was not built. Whatever the case, the set's machines,
/// cloud images and export objects were removed (each failure's cleanup
/// report says so, or names what is left).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OriginBuildError {
    /// The inputs or the builder keys are wrong; nothing was created.
    #[error(transparent)]
    Invalid(#[from] OriginError),
    /// The builder keys do not make a valid `triton` builder; nothing was
    /// created.
    #[error(transparent)]
    Builder(Error),
    /// Images failed (or the set was cancelled).
    #[error("{}", describe_failed(failed, set))]
    Failed {
        /// The images that failed or were stopped, in `images.json` order.
        failed: Vec<FailedImage>,
        /// The set's own build (its directory), with its cleanup report.
        set: Box<BuildError>,
    },
}

impl OriginBuildError {
    /// Whether the set was cancelled (Ctrl-C) rather than failed.
    pub fn is_cancelled(&self) -> bool {
        match self {
            Self::Failed { failed, set } => {
                set.is_cancelled() && failed.iter().all(|f| f.error.is_cancelled())
            }
            _ => false,
        }
    }
}

fn describe_failed(failed: &[FailedImage], set: &BuildError) -> String {
    // The images stopped because another failed only repeat that.
    let real: Vec<&FailedImage> = failed.iter().filter(|f| !f.error.is_cancelled()).collect();
    let shown: Vec<&FailedImage> = if real.is_empty() {
        failed.iter().collect()
    } else {
        real
    };
    if shown.is_empty() {
        return set.to_string();
    }
    let parts: Vec<String> = shown
        .iter()
        .map(|f| format!("{}: {}", f.name, f.error))
        .collect();
    let what = if set.is_cancelled() && shown.iter().all(|f| f.error.is_cancelled()) {
        "origin set cancelled"
    } else {
        "origin set failed"
    };
    format!("{what}: {}", parts.join("; "))
}

/// Builds the set: for each entry, in parallel (at most
/// `parallel_builds`), a build of its own that checks the origin (it
/// exists, its name and version match), chooses the package by
/// `protoMinMemoryMb`, runs the `triton` builder's steps (a temporary
/// machine from the origin; the pkgsrc packages installed over the
/// communicator, or by the `user-script` with `communicator: none`;
/// stopped; imaged with the build stamp as tags; the machine deleted),
/// exports the image into the set's directory, rewrites its manifest and
/// deletes the cloud image (unless kept). When every image is exported,
/// `buildinfo.json` and `<branch>-latest` are written.
///
/// Every image's build waits for the others before it ends: when one fails
/// (or `cancel` fires), the others are stopped and every build undoes what
/// it made (machine, cloud image, Manta objects), the set's directory is
/// removed if this made it, and `<branch>-latest`, if this set had written
/// it already, gets back what it held (or is removed if it was absent).
pub async fn build(
    opts: &BuildOptions,
    cancel: CancellationToken,
) -> Result<BuildReport, OriginBuildError> {
    let prepared = prepare(opts)?;
    let mut sensitive = Sensitive::default();
    for key in [
        "triton_key_material",
        "ssh_password",
        "ssh_bastion_password",
    ] {
        if let Some(v) = opts.builder.get(key) {
            sensitive.add(v);
        }
    }
    let ui = Ui {
        mode: opts.ui,
        sink: opts.progress.clone(),
        sensitive,
    };
    let dir = match &opts.export_dir {
        Some(d) => d.clone(),
        None => format!(
            "/{}/public/builds/triton-origin-image/{}",
            opts.manta.user(),
            opts.stamp.dir_name()
        ),
    };
    let set_label = format!("origin-set {}", opts.stamp.dir_name());
    let failures: Arc<Mutex<Vec<(usize, FailedImage)>>> = Arc::default();
    let set_runner = runner_for(&set_label, &ui);
    let set = set_runner.run(&set_label, cancel, |cx| {
        let failures = failures.clone();
        let ui = ui.clone();
        async move {
            let dir = cx
                .step(&ExportDir::new(opts.manta.clone(), dir), ())
                .await?;
            run_entries(opts, &prepared, &dir, &cx, &ui, &failures).await
        }
    });
    match set.await {
        Ok(built) => {
            ui.show(
                Level::Say,
                &format!("\n==> Origin set exported to {}", built.value.export_dir),
            );
            Ok(built.value)
        }
        Err(set) => {
            let mut failed =
                std::mem::take(&mut *failures.lock().unwrap_or_else(|e| e.into_inner()));
            failed.sort_by_key(|(i, _)| *i);
            Err(OriginBuildError::Failed {
                failed: failed.into_iter().map(|(_, f)| f).collect(),
                set: Box::new(set),
            })
        }
    }
}

/// An entry ready to build: its probe builder's client (for the checks) and
/// its builder block without the package.
struct Prepared {
    entry: OriginEntry,
    /// `images.json: [i] (name)`.
    at: String,
    client: triton_client::Client,
    block: Map<String, Value>,
}

/// Checks the builder block and makes each entry's block; creates nothing.
fn prepare(opts: &BuildOptions) -> Result<Vec<Prepared>, OriginBuildError> {
    let Some(base) = opts.builder.as_object() else {
        return Err(OriginError::invalid("builder", "is not a JSON object").into());
    };
    if let Some(k) = OWN_KEYS.iter().find(|k| base.contains_key(**k)) {
        return Err(OriginError::invalid(
            format!("builder key `{k}`"),
            "is set by origin build (from images.json and the version); remove it",
        )
        .into());
    }
    let tags = json!({
        "branch": opts.stamp.branch,
        "timestamp": opts.stamp.timestamp,
        "git": opts.stamp.git,
    });
    opts.images
        .entries
        .iter()
        .enumerate()
        .map(|(i, entry)| {
            let mut block = base.clone();
            block.insert("type".into(), json!("triton"));
            block.insert(
                "source_machine_image".into(),
                json!(entry.origin.uuid.to_string()),
            );
            block.insert("image_name".into(), json!(entry.image_name()));
            block.insert("image_version".into(), json!(opts.version));
            block.insert("image_description".into(), json!(entry.desc));
            if let Some(h) = &opts.homepage {
                block.insert("image_homepage".into(), json!(h));
            }
            block.insert("image_tags".into(), tags.clone());
            // A probe (any package) for the client the checks use.
            let probe = builder(&block, "-", entry)?;
            Ok(Prepared {
                at: format!("images.json: [{i}] ({})", entry.image_name()),
                client: probe.client().clone(),
                entry: entry.clone(),
                block,
            })
        })
        .collect()
}

/// The `triton` builder of an entry with `package`: with a communicator,
/// the packages installed by a shell provisioner; without one, by the
/// machine's `user-script` (triton-origin-image's way, not waited for).
fn builder(
    block: &Map<String, Value>,
    package: &str,
    entry: &OriginEntry,
) -> Result<TritonBuilder, OriginBuildError> {
    let mut block = block.clone();
    block.insert("source_machine_package".into(), json!(package));
    let config = TritonConfig::from_json(&Value::Object(block.clone()))
        .map_err(OriginBuildError::Builder)?;
    let b = TritonBuilder::with_vars(config, &TemplateVars::now())
        .map_err(OriginBuildError::Builder)?;
    let install = install_commands(&entry.pkgsrc);
    if install.is_empty() {
        return Ok(b);
    }
    if matches!(b.communicator(), CommPlan::Ssh(_)) {
        return Ok(b.provisioner(Shell::inline(install)));
    }
    let mut metadata = block
        .get("source_machine_metadata")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    if metadata.contains_key("user-script") {
        return Err(OriginError::invalid(
            "builder key `source_machine_metadata.user-script`",
            "with `communicator: none` the packages are installed by the user-script; remove it",
        )
        .into());
    }
    metadata.insert("user-script".into(), json!(install.join("; ")));
    block.insert("source_machine_metadata".into(), Value::Object(metadata));
    let config =
        TritonConfig::from_json(&Value::Object(block)).map_err(OriginBuildError::Builder)?;
    TritonBuilder::with_vars(config, &TemplateVars::now()).map_err(OriginBuildError::Builder)
}

/// triton-origin-image's install: `pkgin -f -y update`, then the pinned
/// packages (pkgsrc's directories first in `PATH`: a non-interactive SSH
/// command's `PATH` may lack them).
fn install_commands(pkgsrc: &[String]) -> Vec<String> {
    if pkgsrc.is_empty() {
        return Vec::new();
    }
    let pkgs: Vec<String> = pkgsrc.iter().map(|p| crate::shell_quote(p)).collect();
    vec![
        "export PATH=/opt/local/sbin:/opt/local/bin:$PATH".to_owned(),
        "pkgin -f -y update".to_owned(),
        format!("pkgin -y in {}", pkgs.join(" ")),
    ]
}

/// A runner whose events are shown as build `label`'s lines.
fn runner_for(label: &str, ui: &Ui) -> Runner {
    let (name, ui) = (label.to_owned(), ui.clone());
    Runner::new().observer(Arc::new(FnObserver(move |e: &Event| {
        if let Some((level, line)) = describe(e) {
            ui.build(&name, level, &line);
        }
    })))
}

/// Every entry's build, in parallel; the report once all succeeded.
async fn run_entries(
    opts: &BuildOptions,
    prepared: &[Prepared],
    dir: &str,
    cx: &StepCx,
    ui: &Ui,
    failures: &Mutex<Vec<(usize, FailedImage)>>,
) -> Result<BuildReport, Error> {
    let limit = match opts.parallel_builds {
        0 => prepared.len().max(1),
        n => n,
    };
    let slots = Semaphore::new(limit);
    let gate = Gate::new(prepared.len());
    // Stops the other images when one fails (not a Ctrl-C of the set).
    let stop = cx.token().child_token();
    let runs = prepared.iter().enumerate().map(|(i, p)| {
        let label = p.entry.image_name();
        let runner = runner_for(&label, ui);
        let (slots, gate, stop) = (&slots, &gate, &stop);
        async move {
            let result = runner
                .run(&label, stop.child_token(), |ecx| async move {
                    let mut arrival = Arrival { gate, done: false };
                    let r = entry(opts, p, dir, &ecx, slots, &mut arrival).await;
                    if r.is_err() {
                        // Stop the others now, before this cleanup.
                        gate.fail();
                        arrival.done = true;
                        stop.cancel();
                    }
                    r
                })
                .await;
            match result {
                Ok(built) => Some(built.value),
                Err(error) => {
                    gate.fail();
                    stop.cancel();
                    let failed = FailedImage { name: label, error };
                    failures
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push((i, failed));
                    None
                }
            }
        }
    });
    let results = futures::future::join_all(runs).await;
    let mut images = Vec::new();
    let mut latest = None;
    for (image, l) in results.into_iter().flatten() {
        images.push(image);
        latest = latest.or(l);
    }
    if images.len() < prepared.len() {
        cx.check_cancelled()?;
        return Err(Error::Config(format!(
            "{} of {} images failed",
            prepared.len() - images.len(),
            prepared.len()
        )));
    }
    Ok(BuildReport {
        export_dir: dir.to_owned(),
        latest: latest.unwrap_or_default(),
        images,
    })
}

/// One entry's steps; the `<branch>-latest` path from the one that wrote
/// the markers.
async fn entry(
    opts: &BuildOptions,
    p: &Prepared,
    dir: &str,
    cx: &StepCx,
    slots: &Semaphore,
    arrival: &mut Arrival<'_>,
) -> Result<(BuiltImage, Option<String>), Error> {
    let slot = cx.cancellable(slots.acquire()).await?;
    let client = &p.client;
    let origin = cx
        .step(
            &CheckOrigin::new(client.clone(), p.entry.origin.clone(), p.at.clone()),
            (),
        )
        .await?;
    let choose = ChoosePackage::new(client.clone(), p.entry.proto_min_memory_mb, p.at.clone());
    let (origin, package) = cx.step(&choose, origin).await?;
    let b = builder(&p.block, &package, &p.entry).map_err(|e| Error::Other(Box::new(e)))?;
    let (image, _host_key) = b.steps(cx).await?;
    let cloud_image = image.id;
    let export = ExportImage::new(
        client.clone(),
        opts.manta.clone(),
        dir.to_owned(),
        origin.image,
    );
    let (image, exported) = cx.step(&export, image).await?;
    if !opts.keep_cloud_images {
        cx.step(&DeleteCloudImage::new(client.clone()), image.clone())
            .await?;
    }
    drop(slot);
    let built = BuiltImage {
        name: image.name.clone(),
        version: image.version.clone(),
        cloud_image,
        kept: opts.keep_cloud_images,
        exported,
    };
    // Every image of the set exported before any build ends: the last one
    // writes the markers; a failure anywhere fails (and undoes) them all.
    arrival.done = true;
    if arrival.gate.arrive() {
        let markers = SetMarkers::new(opts.manta.clone(), dir.to_owned(), opts.stamp.clone());
        let r = cx.step(&markers, ()).await;
        arrival.gate.finish(r.is_ok());
        return Ok((built, Some(r?)));
    }
    if arrival.gate.wait().await {
        Ok((built, None))
    } else {
        Err(Error::cancelled(
            "this image: another image of the set failed",
        ))
    }
}

/// Where the images of a set meet before their builds end.
struct Gate {
    total: usize,
    arrived: Mutex<usize>,
    outcome: watch::Sender<Option<bool>>,
}

impl Gate {
    fn new(total: usize) -> Self {
        Self {
            total,
            arrived: Mutex::new(0),
            outcome: watch::Sender::new(None),
        }
    }

    /// An image is exported; whether it is the last one.
    fn arrive(&self) -> bool {
        let mut n = self.arrived.lock().unwrap_or_else(|e| e.into_inner());
        *n += 1;
        *n == self.total && self.outcome.borrow().is_none()
    }

    /// An image failed: every waiting one fails too.
    fn fail(&self) {
        self.finish(false);
    }

    /// The set's outcome (the first one given wins).
    fn finish(&self, ok: bool) {
        self.outcome.send_if_modified(|o| {
            if o.is_none() {
                *o = Some(ok);
                true
            } else {
                false
            }
        });
    }

    /// Waits for the set's outcome. Not cancellable: it always comes (the
    /// last image writes the markers, or a failure ends it).
    async fn wait(&self) -> bool {
        let mut rx = self.outcome.subscribe();
        match rx.wait_for(Option::is_some).await {
            Ok(v) => v.unwrap_or(false),
            Err(_) => false,
        }
    }
}

/// An image's place at the [`Gate`]: failing before it arrived fails the
/// set.
struct Arrival<'a> {
    gate: &'a Gate,
    done: bool,
}

impl Drop for Arrival<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.gate.fail();
        }
    }
}
