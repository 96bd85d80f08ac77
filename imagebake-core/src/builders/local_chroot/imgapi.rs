//! `imgapi_manifest`: the raw output compressed with gzip, and an IMGAPI v2
//! manifest (`type: zvol`) beside it, as Triton's image repositories take an
//! HVM image (see [`crate::spec::zvol_manifest`]).

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use super::BUILDER;
use crate::spec::{ImageFile, SpecMetadata, SpecNetwork, ZvolInfo, zvol_manifest};
use crate::steps::chroot::HostCommands;
use crate::{Error, StepCx};

/// The manifest's values: `imgapi_manifest` as an object. An `image-spec`
/// provisioner turns `imgapi_manifest = true` into one from its spec.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ImgapiKeys {
    name: String,
    version: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    homepage: Option<String>,
    #[serde(default)]
    min_ram: Option<u64>,
    #[serde(default)]
    networks: Vec<SpecNetwork>,
    #[serde(default)]
    os: Option<String>,
    #[serde(default)]
    owner: Option<Uuid>,
    #[serde(default)]
    users: Vec<String>,
    #[serde(default)]
    role: Option<String>,
}

impl ImgapiKeys {
    /// Decodes the key's value; `true` without a spec is an error, `false`
    /// or no value means no manifest.
    pub(crate) fn from_value(v: Option<&Value>) -> Result<Option<Self>, Error> {
        let key = "imgapi_manifest";
        match v {
            None | Some(Value::Null | Value::Bool(false)) => Ok(None),
            Some(Value::Bool(true)) => Err(crate::builders::packer::config_key_error(
                BUILDER,
                key,
                "key `imgapi_manifest`: `true` needs an image-spec provisioner for the name and \
                 version; or give {name, version, description, homepage, min_ram, networks, os, \
                 owner, users, role}",
            )),
            Some(v) => serde_json::from_value(v.clone()).map(Some).map_err(|e| {
                crate::builders::packer::config_key_error(
                    BUILDER,
                    key,
                    &format!("key `imgapi_manifest`: {e}"),
                )
            }),
        }
    }

    /// The value an image spec gives `imgapi_manifest = true`.
    pub(crate) fn value_from_spec(m: &SpecMetadata) -> Value {
        serde_json::json!({
            "name": m.name, "version": m.version, "description": m.description,
            "homepage": m.homepage, "min_ram": m.min_ram, "networks": m.networks,
            "owner": m.owner,
            "users": m.users, "role": m.role,
        })
    }

    /// Checks the values as IMGAPI would (before anything is created).
    pub(crate) fn check(&self) -> Result<(), Error> {
        let file = ImageFile {
            sha1: "0".repeat(40),
            size: 1,
            compression: "gzip".into(),
        };
        let info = ZvolInfo {
            uuid: Uuid::nil(),
            os: self.os.clone().unwrap_or_else(|| "linux".to_owned()),
            image_size_mib: 1,
            published_at: String::new(),
        };
        zvol_manifest(&self.metadata(), &file, &info)
            .map(drop)
            .map_err(|e| {
                crate::builders::packer::config_key_error(
                    BUILDER,
                    "imgapi_manifest",
                    &e.to_string(),
                )
            })
    }

    fn metadata(&self) -> SpecMetadata {
        SpecMetadata {
            name: self.name.clone(),
            version: self.version.clone(),
            description: self.description.clone(),
            homepage: self.homepage.clone(),
            min_ram: self.min_ram,
            networks: self.networks.clone(),
            owner: self.owner,
            users: self.users.clone(),
            role: self.role.clone(),
            ..SpecMetadata::default()
        }
    }
}

/// Where the compressed disk and the manifest of `output` go.
pub(crate) fn paths(output: &Path) -> (PathBuf, PathBuf) {
    let with = |ext: &str| {
        let mut p = output.as_os_str().to_owned();
        p.push(ext);
        PathBuf::from(p)
    };
    (with(".gz"), with(".imgmanifest"))
}

/// Compresses `output` beside itself (`gzip`, a host command through the
/// `command_wrapper`) and writes the manifest; both are removed if the
/// build fails or its process dies before the end (journaled first).
pub(crate) async fn write(
    cx: &StepCx,
    host: &HostCommands,
    keys: &ImgapiKeys,
    output: &Path,
) -> Result<(), Error> {
    let m = keys.metadata();
    let (gz, manifest) = paths(output);
    super::output_in_progress(cx, &gz);
    super::output_in_progress(cx, &manifest);
    let size = tokio::fs::metadata(output)
        .await
        .map_err(|e| Error::io(format!("reading {}", output.display()), e))?
        .len();
    let o = output.to_string_lossy();
    host.step_run(cx, &["gzip", "-9", "-n", "-k", "-f", &o])
        .await?;
    let file = ImageFile::read(&gz, "gzip")
        .map_err(|e| Error::io(format!("reading {}", gz.display()), e))?;
    let info = ZvolInfo {
        uuid: Uuid::new_v4(),
        os: keys.os.clone().unwrap_or_else(|| "linux".to_owned()),
        image_size_mib: size.div_ceil(1 << 20),
        published_at: chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
    };
    let v = zvol_manifest(&m, &file, &info).map_err(|e| {
        crate::builders::packer::config_key_error(BUILDER, "imgapi_manifest", &e.to_string())
    })?;
    let text = serde_json::to_string_pretty(&v).map_err(|e| Error::Other(Box::new(e)))?;
    tokio::fs::write(&manifest, text + "\n")
        .await
        .map_err(|e| Error::io(format!("writing {}", manifest.display()), e))
}
