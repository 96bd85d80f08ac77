//! `imagebake.origin_build(images, ...)`: an origin image set built on
//! Triton and exported to Manta (`imagebake_core::origin::build`).

use std::path::PathBuf;
use std::sync::Arc;

use imagebake_core::origin::{self, BuildOptions, BuildReport, OriginBuildError, VersionSource};
use imagebake_core::triton_client::manta::{MantaClient, MantaConfig};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use serde_json::{Value, json};

use crate::convert::{json_to_py, py_to_json};
use crate::errors::Failure;
use crate::runtime::{run_cancellable, with_interrupt};

/// Builds the set of `images` (triton-origin-image's images.json; its
/// directory is the git work tree of the build stamp) and exports it to
/// Manta. The version is `version`, else `package_json`'s, else
/// `<branch>-<timestamp>-g<sha>`. `**builder` are `triton` builder keys for
/// the temporary machines (credentials, `communicator`, ...). Manta is
/// `manta_url`/`manta_user`/`manta_key_path`, else node-manta's MANTA_*
/// variables. Returns `{"export_dir", "latest", "images": [{"name",
/// "version", "cloud_image", "kept", "manifest_path", "image_path",
/// "manifest"}]}`. A failure raises (nothing of the set is left); Ctrl-C
/// cancels the set, waits for its cleanup, then raises KeyboardInterrupt.
#[pyfunction]
#[pyo3(signature = (
    images, *, version=None, package_json=None, branch=None, export_dir=None,
    parallel_builds=0, keep_cloud_images=false, manta_url=None, manta_user=None,
    manta_key_path=None, **builder
))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn origin_build(
    py: Python<'_>,
    images: PathBuf,
    version: Option<String>,
    package_json: Option<PathBuf>,
    branch: Option<String>,
    export_dir: Option<String>,
    parallel_builds: usize,
    keep_cloud_images: bool,
    manta_url: Option<String>,
    manta_user: Option<String>,
    manta_key_path: Option<PathBuf>,
    builder: Option<&Bound<'_, PyDict>>,
) -> PyResult<Py<PyAny>> {
    let block = match builder {
        Some(k) => py_to_json(k.as_any(), "")?,
        None => Value::Object(serde_json::Map::new()),
    };
    let manta = manta_client(manta_url, manta_user, manta_key_path)?;
    let version = match (version, package_json) {
        (Some(v), _) => VersionSource::Given(v),
        (None, Some(p)) => VersionSource::PackageJson(p),
        (None, None) => VersionSource::Stamp,
    };
    let (joined, interrupt) = run_cancellable(py, move |token| async move {
        let mut opts =
            BuildOptions::from_files(&images, version, branch.as_deref(), block, manta).await?;
        opts.export_dir = export_dir;
        opts.parallel_builds = parallel_builds;
        opts.keep_cloud_images = keep_cloud_images;
        opts.progress = Arc::new(|_: &str| {});
        origin::build(&opts, token).await
    });
    let result = match joined {
        Ok(Ok(report)) => json_to_py(py, &report_json(&report)),
        Ok(Err(e)) => Err(failure(e).into()),
        Err(e) => Err(Failure::Usage(format!("origin_build: the build task failed: {e}")).into()),
    };
    with_interrupt(py, result, interrupt)
}

/// The Manta client: the given values, else node-manta's variables.
fn manta_client(
    url: Option<String>,
    user: Option<String>,
    key: Option<PathBuf>,
) -> PyResult<MantaClient> {
    let config = match (url, user) {
        (None, None) if key.is_none() => MantaConfig::from_env(),
        (Some(url), Some(user)) => {
            let b = MantaConfig::builder().url(url).user(user);
            match key {
                Some(k) => b.key_file(k),
                None => b,
            }
            .build()
        }
        _ => {
            return Err(Failure::Usage(
                "origin_build: give manta_url and manta_user together (or neither, for MANTA_*)"
                    .into(),
            )
            .into());
        }
    };
    Ok(config
        .and_then(MantaClient::new)
        .map_err(|e| Failure::Client(Box::new(e)))?)
}

/// An origin set's error as the package's exceptions: bad inputs are
/// `ConfigError`; a failed set the failing image's build error (its step,
/// cause and cleanup; `BuildCancelled` after Ctrl-C).
fn failure(e: OriginBuildError) -> Failure {
    match e {
        OriginBuildError::Invalid(e) => Failure::Core(imagebake_core::Error::Config(e.to_string())),
        OriginBuildError::Builder(e) => Failure::Core(e),
        OriginBuildError::Failed { failed, set } => {
            let i = failed
                .iter()
                .position(|f| !f.error.is_cancelled())
                .unwrap_or(0);
            match failed.into_iter().nth(i) {
                Some(f) => Failure::from(f.error),
                None => Failure::from(*set),
            }
        }
        other => Failure::Usage(other.to_string()),
    }
}

fn report_json(r: &BuildReport) -> Value {
    json!({
        "export_dir": r.export_dir,
        "latest": r.latest,
        "images": r.images.iter().map(|i| json!({
            "name": i.name,
            "version": i.version,
            "cloud_image": i.cloud_image.to_string(),
            "kept": i.kept,
            "manifest_path": i.exported.manifest_path,
            "image_path": i.exported.image_path,
            "manifest": i.exported.manifest,
        })).collect::<Vec<_>>(),
    })
}
