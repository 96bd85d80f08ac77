//! Packer's `checksum` post-processor: for each of `checksum_types`
//! (default `["md5"]`; `md5`, `sha1`, `sha224`, `sha256`, `sha384`,
//! `sha512`) and each local file of the artifact, appends
//! `<lowercase hex>\t<base name>\n` to the file `output` names (default
//! `packer_{{.BuildName}}_{{.BuilderType}}_{{.ChecksumType}}.checksum`,
//! rendered per type, relative to the working directory; directories made
//! 0755, the file opened for appending, 0644, never truncated). Its
//! artifact is the input's files plus the checksum files it created
//! (Packer's builder id `packer.post-processor.checksum`, no id). An
//! artifact without local files (a cloud image) produces nothing.

use std::fmt;
use std::fs;
use std::io::{self, Read as _, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::FutureExt as _;
use futures::future::BoxFuture;
use serde::Deserialize;
use serde_json::Value;

use super::{PostCx, PostOutput, PostProcessor};
use crate::builders::{Artifact, ArtifactKind};
use crate::packer_template::decode_block;
use crate::template::render;
use crate::{BuildId, CleanupReport, Error};

const WHAT: &str = "post-processor checksum";
const KEYS: &[&str] = &["checksum_types", "output"];

/// The checksum types Packer knows.
pub const TYPES: &[&str] = &["md5", "sha1", "sha224", "sha256", "sha384", "sha512"];

/// The default `output`.
pub const DEFAULT_OUTPUT: &str =
    "packer_{{.BuildName}}_{{.BuilderType}}_{{.ChecksumType}}.checksum";

/// Packer's builder id of the checksum artifact.
pub const BUILDER_ID: &str = "packer.post-processor.checksum";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Block {
    #[serde(default)]
    checksum_types: Option<Vec<String>>,
    #[serde(default)]
    output: Option<String>,
}

/// A decoded `checksum` block.
#[derive(Debug, Clone)]
pub struct Checksum {
    types: Vec<String>,
    output: String,
}

impl Checksum {
    /// Decodes a `checksum` block; an unknown key, a wrong type, an unknown
    /// checksum type or placeholder is an error naming the key.
    pub fn decode(config: &Value) -> Result<Self, Error> {
        let b: Block = decode_block(WHAT, config, KEYS)?;
        let types = b.checksum_types.unwrap_or_else(|| vec!["md5".into()]);
        for t in &types {
            if !TYPES.contains(&t.as_str()) {
                return Err(Error::config_at(
                    "checksum_types",
                    format!(
                        "{WHAT}: key `checksum_types`: unrecognized checksum type {t:?} (known: {})",
                        TYPES.join(", ")
                    ),
                ));
            }
        }
        let output = b
            .output
            .filter(|o| !o.is_empty())
            .unwrap_or_else(|| DEFAULT_OUTPUT.into());
        let c = Self { types, output };
        c.render("", "", "")
            .map_err(|e| Error::config_at("output", e.to_string()))?;
        Ok(c)
    }

    fn render(&self, build: &str, builder: &str, kind: &str) -> Result<String, Error> {
        render(
            &format!("{WHAT}: key `output`"),
            &self.output,
            &[
                ("BuildName", build),
                ("BuilderType", builder),
                ("ChecksumType", kind),
            ],
        )
    }

    /// Writes the checksums of `files`; the checksum files it created.
    fn write(&self, cx: &PostCx, files: &[PathBuf]) -> Result<Vec<PathBuf>, Error> {
        let mut created = Vec::new();
        for kind in &self.types {
            for file in files {
                let out = cx
                    .cwd
                    .join(self.render(&cx.build_name, &cx.builder_type, kind)?);
                let io = |what: String| move |source| Error::Io { what, source };
                if !out.exists() {
                    created.push(out.clone());
                }
                if let Some(dir) = out.parent() {
                    fs::DirBuilder::new()
                        .recursive(true)
                        .mode(0o755)
                        .create(dir)
                        .map_err(io(format!("{WHAT}: creating {}", dir.display())))?;
                }
                let hex = digest(kind, file)
                    .map_err(io(format!("{WHAT}: reading {}", file.display())))?;
                let name = file
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                fs::OpenOptions::new()
                    .append(true)
                    .create(true)
                    .mode(0o644)
                    .open(&out)
                    .and_then(|mut f| f.write_all(format!("{hex}\t{name}\n").as_bytes()))
                    .map_err(io(format!("{WHAT}: writing {}", out.display())))?;
            }
        }
        Ok(created)
    }
}

/// The lowercase hex `kind` digest of the file at `path`.
fn digest(kind: &str, path: &Path) -> io::Result<String> {
    fn of<D: sha1::Digest>(path: &Path) -> io::Result<Vec<u8>> {
        let mut f = fs::File::open(path)?;
        let mut h = D::new();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 {
                return Ok(h.finalize().to_vec());
            }
            h.update(&buf[..n]);
        }
    }
    let bytes = match kind {
        "md5" => of::<md5::Md5>(path)?,
        "sha1" => of::<sha1::Sha1>(path)?,
        "sha224" => of::<sha2::Sha224>(path)?,
        "sha256" => of::<sha2::Sha256>(path)?,
        "sha384" => of::<sha2::Sha384>(path)?,
        _ => of::<sha2::Sha512>(path)?,
    };
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// What `checksum` hands on: the input's files and the checksum files.
#[derive(Debug)]
pub struct ChecksumArtifact {
    input: Arc<dyn Artifact>,
    files: Vec<PathBuf>,
}

impl fmt::Display for ChecksumArtifact {
    /// Packer's: `Created artifact from files: a, b`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let files: Vec<String> = self.files.iter().map(|p| p.display().to_string()).collect();
        write!(f, "Created artifact from files: {}", files.join(", "))
    }
}

impl Artifact for ChecksumArtifact {
    fn kind(&self) -> ArtifactKind {
        ArtifactKind::new(self.input.builder_type(), BUILDER_ID, "local")
    }

    /// None (Packer's `Id()` is empty).
    fn id(&self) -> Option<String> {
        None
    }

    /// The input artifact's name.
    fn name(&self) -> &str {
        self.input.name()
    }

    fn files(&self) -> Vec<PathBuf> {
        self.files.clone()
    }

    fn build(&self) -> (&BuildId, &CleanupReport) {
        self.input.build()
    }
}

impl PostProcessor for Checksum {
    fn kind(&self) -> &'static str {
        "checksum"
    }

    fn process<'a>(
        &'a self,
        cx: &'a PostCx,
        input: Arc<dyn Artifact>,
    ) -> BoxFuture<'a, Result<PostOutput, Error>> {
        async move {
            let mut files = input.files();
            let (this, cx2, inputs) = (self.clone(), cx.clone(), files.clone());
            let created = tokio::task::spawn_blocking(move || this.write(&cx2, &inputs))
                .await
                .map_err(|e| Error::Other(Box::new(e)))??;
            for c in &created {
                (cx.progress)(&format!("Wrote {}", c.display()));
            }
            files.extend(created);
            Ok(PostOutput {
                artifact: Arc::new(ChecksumArtifact { input, files }),
                force_keep_input: true,
            })
        }
        .boxed()
    }
}
