//! Packer's `manifest` post-processor: appends one entry per build to
//! `packer-manifest.json`, byte for byte the file Packer writes, so the
//! scripts that read it keep working.
//!
//! ```json
//! {
//!   "builds": [
//!     {
//!       "name": "web",
//!       "builder_type": "triton",
//!       "build_time": 1767225600,
//!       "files": null,
//!       "artifact_id": "2f1d6f0e-…",
//!       "packer_run_uuid": "6d5d3185-…",
//!       "custom_data": null
//!     }
//!   ],
//!   "last_run_uuid": "6d5d3185-…"
//! }
//! ```
//!
//! Keys in this order, a 2-space indent, no newline at the end, `<`, `>`,
//! `&` written `\u003c`, `\u003e`, `\u0026` (Go's encoder). `name` is
//! Packer's `packer_build_name`; `build_time` (Unix seconds) is left out
//! with `strip_time`; `files` is `null` without local files (cloud images),
//! each file's `size` 0 when it cannot be read; `artifact_id` is
//! [`Artifact::packer_id`]; `custom_data` is `null` unless configured. An
//! existing file is read and re-written with this build appended (unknown
//! keys dropped); it starts over only under `-force` when its
//! `last_run_uuid` is another run's. `<output>.lock` is taken (3 tries, 200
//! ms apart, then the write goes ahead anyway, as Packer) and removed.

use std::collections::BTreeMap;
use std::fs;
use std::io::{ErrorKind, Write as _};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::FutureExt as _;
use futures::future::BoxFuture;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use super::{PostCx, PostOutput, PostProcessor};
use crate::Error;
use crate::builders::Artifact;
use crate::packer_template::decode_block;

const WHAT: &str = "post-processor manifest";
const KEYS: &[&str] = &["output", "strip_path", "strip_time", "custom_data"];

/// The default `output`.
pub const DEFAULT_OUTPUT: &str = "packer-manifest.json";

/// Serializes the manifest writes of this process (the lock file is
/// Packer's, between processes, and gives up after 400 ms).
static WRITING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A decoded `manifest` block.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The file (default [`DEFAULT_OUTPUT`]), relative to the working
    /// directory.
    #[serde(default)]
    output: Option<String>,
    /// Only the base names of the files.
    #[serde(default)]
    strip_path: bool,
    /// No `build_time`.
    #[serde(default)]
    strip_time: bool,
    /// Written as the entry's `custom_data`.
    #[serde(default)]
    custom_data: Option<BTreeMap<String, String>>,
}

/// The file, as Packer's `ManifestFile`.
#[derive(Debug, Default, Serialize, Deserialize)]
struct ManifestFile {
    #[serde(default, deserialize_with = "nullable")]
    builds: Vec<Entry>,
    #[serde(default, deserialize_with = "nullable")]
    last_run_uuid: String,
}

/// One build, as Packer's manifest `Artifact` (field order matters).
#[derive(Debug, Serialize, Deserialize)]
struct Entry {
    #[serde(default, deserialize_with = "nullable")]
    name: String,
    #[serde(default, deserialize_with = "nullable")]
    builder_type: String,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero"
    )]
    build_time: i64,
    #[serde(default)]
    files: Option<Vec<FileEntry>>,
    #[serde(default, deserialize_with = "nullable")]
    artifact_id: String,
    #[serde(default, deserialize_with = "nullable")]
    packer_run_uuid: String,
    #[serde(default)]
    custom_data: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Serialize, Deserialize)]
struct FileEntry {
    #[serde(default, deserialize_with = "nullable")]
    name: String,
    #[serde(default, deserialize_with = "nullable")]
    size: i64,
}

/// `null` reads as the zero value, as Go's decoder leaves it.
fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(d: D) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if signature
fn is_zero(n: &i64) -> bool {
    *n == 0
}

impl Manifest {
    /// Decodes a `manifest` block; an unknown key or a wrong type is an
    /// error naming the key.
    pub fn decode(config: &Value) -> Result<Self, Error> {
        let m: Self = decode_block(WHAT, config, KEYS)?;
        if m.output.as_deref() == Some("") {
            return Ok(Self { output: None, ..m });
        }
        Ok(m)
    }

    /// The file written, `cwd` joined to a relative `output`.
    pub fn output(&self, cwd: &Path) -> PathBuf {
        cwd.join(self.output.as_deref().unwrap_or(DEFAULT_OUTPUT))
    }

    fn entry(&self, cx: &PostCx, artifact: &dyn Artifact) -> Entry {
        let files: Vec<FileEntry> = artifact
            .files()
            .iter()
            .map(|f| FileEntry {
                name: if self.strip_path {
                    f.file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default()
                } else {
                    f.display().to_string()
                },
                size: fs::metadata(f).map_or(0, |m| i64::try_from(m.len()).unwrap_or(i64::MAX)),
            })
            .collect();
        let build_time = if self.strip_time {
            0
        } else {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        };
        Entry {
            name: cx.build_name.clone(),
            builder_type: cx.builder_type.clone(),
            build_time,
            files: (!files.is_empty()).then_some(files),
            artifact_id: artifact.packer_id(),
            packer_run_uuid: cx.run_uuid.clone(),
            custom_data: self.custom_data.clone(),
        }
    }

    async fn write(&self, cx: &PostCx, artifact: &dyn Artifact) -> Result<PathBuf, Error> {
        let entry = self.entry(cx, artifact);
        let path = self.output(&cx.cwd);
        let _in_process = WRITING.lock().await;
        let lock = lock_path(&path);
        for i in 0..3u32 {
            tokio::time::sleep(Duration::from_millis(200) * i).await;
            let taken = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&lock);
            if taken.is_ok() {
                break;
            }
        }
        let written = update(&path, entry, cx);
        let _ = fs::remove_file(&lock);
        written.map(|()| path)
    }
}

fn lock_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".lock");
    PathBuf::from(s)
}

/// Reads the file (absent is empty), appends `entry`, writes it back.
fn update(path: &Path, entry: Entry, cx: &PostCx) -> Result<(), Error> {
    let io = |what: &str, source| Error::Io {
        what: format!("{WHAT}: {what} {}", path.display()),
        source,
    };
    let contents = match fs::read(path) {
        Ok(c) => c,
        Err(e) if e.kind() == ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(io("reading", e)),
    };
    let mut file = if contents.is_empty() {
        ManifestFile::default()
    } else {
        serde_json::from_slice(&contents)
            .map_err(|e| Error::Config(format!("{WHAT}: cannot parse {}: {e}", path.display())))?
    };
    if cx.force && file.last_run_uuid != cx.run_uuid {
        file = ManifestFile::default();
    }
    file.builds.push(entry);
    file.last_run_uuid.clone_from(&cx.run_uuid);
    let text = go_json(&file);
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o664)
        .open(path)
        .map_err(|e| io("writing", e))?;
    f.write_all(text.as_bytes()).map_err(|e| io("writing", e))
}

/// `value` as Go's `json.MarshalIndent(v, "", "  ")` writes it.
fn go_json(value: &impl Serialize) -> String {
    let text = serde_json::to_string_pretty(value).unwrap_or_default();
    // Outside strings JSON has none of these characters, so each is inside
    // a string, where Go's encoder escapes it.
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

impl PostProcessor for Manifest {
    fn kind(&self) -> &'static str {
        "manifest"
    }

    fn process<'a>(
        &'a self,
        cx: &'a PostCx,
        input: Arc<dyn Artifact>,
    ) -> BoxFuture<'a, Result<PostOutput, Error>> {
        async move {
            let path = self.write(cx, &*input).await?;
            (cx.progress)(&format!("Wrote the manifest {}", path.display()));
            Ok(PostOutput {
                artifact: input,
                force_keep_input: true,
            })
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_s_encoder_escapes_html_characters() {
        let v = serde_json::json!({"a": "<b>&\u{2028}", "e": [], "n": null});
        assert_eq!(
            go_json(&v),
            "{\n  \"a\": \"\\u003cb\\u003e\\u0026\\u2028\",\n  \"e\": [],\n  \"n\": null\n}"
        );
    }
}
