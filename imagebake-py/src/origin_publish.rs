//! `imagebake.origin_publish(manta_dir, ...)` and
//! `imagebake.origin_release(version, ...)`: an exported origin set
//! imported into an IMGAPI repository, and released
//! (`imagebake_core::origin::{publish, release}`).

use std::path::PathBuf;

use imagebake_core::origin::{self, OriginError, PublishOptions, ReleaseOptions};
use imagebake_core::triton_client::imgapi::{ImgapiClient, ImgapiConfig};
use pyo3::prelude::*;

use crate::convert::json_to_py;
use crate::errors::Failure;
use crate::origin::manta_client;
use crate::runtime::{run_cancellable, with_interrupt};

/// Publishes the set `origin_build` exported to `manta_dir` (or its
/// `<branch>-latest` object) to an IMGAPI repository, origins first;
/// re-running skips what is there. The channel is `channel`, else the
/// repository's (UPDATES_IMGADM_CHANNEL), else `dev` on master and
/// `experimental` otherwise. The repository is
/// `imgapi_url`/`imgapi_user`/`imgapi_key_path`, else updates-imgadm's
/// UPDATES_IMGADM_* variables; Manta as `origin_build`. Returns `{"dir",
/// "channel", "images": [{"uuid", "name", "version", "channel", "sha1",
/// "size", "outcome"}]}` (outcome `published`, `already_there` or
/// `added_to_channel`). A failure raises and leaves no half-imported
/// image; Ctrl-C removes what is half done, then raises KeyboardInterrupt.
#[pyfunction]
#[pyo3(signature = (
    manta_dir, *, channel=None, parallel=4, manta_url=None, manta_user=None,
    manta_key_path=None, imgapi_url=None, imgapi_user=None, imgapi_key_path=None
))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn origin_publish(
    py: Python<'_>,
    manta_dir: String,
    channel: Option<String>,
    parallel: usize,
    manta_url: Option<String>,
    manta_user: Option<String>,
    manta_key_path: Option<PathBuf>,
    imgapi_url: Option<String>,
    imgapi_user: Option<String>,
    imgapi_key_path: Option<PathBuf>,
) -> PyResult<Py<PyAny>> {
    let manta = manta_client(manta_url, manta_user, manta_key_path)?;
    let repo = imgapi_client(imgapi_url, imgapi_user, imgapi_key_path)?;
    let options = PublishOptions { channel, parallel };
    let (joined, interrupt) = run_cancellable(py, move |token| async move {
        origin::publish(&manta, &repo, &manta_dir, &options, token).await
    });
    let result = match joined {
        Ok(Ok(report)) => to_py(py, &report),
        Ok(Err(e)) => Err(failure(e).into()),
        Err(e) => Err(Failure::Usage(format!("origin_publish: the task failed: {e}")).into()),
    };
    with_interrupt(py, result, interrupt)
}

/// Adds the latest set of `version` in channel `from_channel` (default
/// `dev`) to each
/// channel of `to` (default staging, release, support), origins first.
/// Returns one `{"uuid", "name", "version", "channel", "added"}` per image
/// and channel (`added` False: it was already there). No image of that
/// version raises ConfigError naming it.
#[pyfunction]
#[pyo3(signature = (
    version, *, from_channel=None, to=None, imgapi_url=None, imgapi_user=None,
    imgapi_key_path=None
))]
pub(crate) fn origin_release(
    py: Python<'_>,
    version: String,
    from_channel: Option<String>,
    to: Option<Vec<String>>,
    imgapi_url: Option<String>,
    imgapi_user: Option<String>,
    imgapi_key_path: Option<PathBuf>,
) -> PyResult<Py<PyAny>> {
    let repo = imgapi_client(imgapi_url, imgapi_user, imgapi_key_path)?;
    let mut options = ReleaseOptions::new(version);
    if let Some(from) = from_channel {
        options.from = from;
    }
    if let Some(to) = to {
        options.to = to;
    }
    let (joined, interrupt) = run_cancellable(py, move |_token| async move {
        origin::release(&repo, &options).await
    });
    let result = match joined {
        Ok(Ok(done)) => to_py(py, &done),
        Ok(Err(e)) => Err(failure(e).into()),
        Err(e) => Err(Failure::Usage(format!("origin_release: the task failed: {e}")).into()),
    };
    with_interrupt(py, result, interrupt)
}

fn to_py(py: Python<'_>, value: &impl serde::Serialize) -> PyResult<Py<PyAny>> {
    let v = serde_json::to_value(value)
        .map_err(|e| Failure::Usage(format!("the report does not serialize: {e}")))?;
    json_to_py(py, &v)
}

/// The repository client: the given values, else updates-imgadm's
/// variables (strictly).
fn imgapi_client(
    url: Option<String>,
    user: Option<String>,
    key: Option<PathBuf>,
) -> PyResult<ImgapiClient> {
    let config = match url {
        None if user.is_none() && key.is_none() => ImgapiConfig::from_env(),
        None => {
            return Err(Failure::Usage(
                "give imgapi_url with imgapi_user/imgapi_key_path (or none, for UPDATES_IMGADM_*)"
                    .into(),
            )
            .into());
        }
        Some(url) => {
            let mut b = ImgapiConfig::builder().url(url);
            if let Some(u) = user {
                b = b.user(u);
            }
            if let Some(k) = key {
                b = b.key_file(k);
            }
            b.build()
        }
    };
    Ok(config
        .and_then(ImgapiClient::new)
        .map_err(|e| Failure::Client(Box::new(e)))?)
}

/// Bad inputs are ConfigError; a failed publish its run's error (step,
/// cause, cleanup); a repository refusal the client's error.
fn failure(e: OriginError) -> Failure {
    match e {
        OriginError::Run(e) => Failure::from(*e),
        OriginError::Cloud(e) => Failure::Client(e),
        other => Failure::Core(imagebake_core::Error::Config(other.to_string())),
    }
}
