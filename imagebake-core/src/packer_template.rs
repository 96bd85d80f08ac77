//! A Packer JSON template as a whole: its `builders` (any type of a
//! [`BuilderRegistry`]: the four built-in builders and those a Rust user
//! registered) and its `provisioners` (`shell` and `file`), decoded with
//! errors that name the key, and any of its builds run through one type,
//! [`AnyBuilder`], whose result is a `Box<dyn` [`Artifact`]`>`.
//!
//! ```no_run
//! use imagebake_core::packer_template::Template;
//! use imagebake_core::{CancellationToken, Runner};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let template = Template::from_json_str(r#"{
//!     "builders": [{"type": "local-chroot", "from_scratch": true, "image_size": "64M",
//!                   "rootfs_dir": "/srv/rootfs", "output_path": "/tmp/out.raw"}],
//!     "provisioners": [{"type": "shell", "inline": ["echo hi > /etc/motd"]}]
//! }"#)?;
//! let builder = template.builder(None)?;
//! let artifact = builder.run(&Runner::new(), CancellationToken::new()).await?;
//! println!("{} {:?}", artifact.builder_type(), artifact.id());
//! # Ok(())
//! # }
//! ```

use std::path::PathBuf;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use crate::Error;
use crate::builders::packer::expand_env;
pub use crate::builders::{AnyBuilder, Artifact, BuilderRegistry, Provisioner};
use crate::provision::{Download, ImageSpec, Shell, ShellLocal, Upload};

/// The top-level keys a template may have.
const TEMPLATE_KEYS: &[&str] = &[
    "builders",
    "provisioners",
    "description",
    "min_packer_version",
];

/// A decoded Packer JSON template: its builder blocks (checked when a build
/// is made from them) and its provisioner blocks (checked now).
#[derive(Debug, Clone)]
pub struct Template {
    builders: Vec<Value>,
    provisioners: Vec<Value>,
}

impl Template {
    /// Decodes a template. Unknown top-level keys (`variables`,
    /// `post-processors`, ...), an empty `builders` list, and invalid
    /// provisioner blocks are errors naming the key. `{{env `NAME`}}` is
    /// replaced in every value first (see [`expand_env`]).
    pub fn from_json(value: &Value) -> Result<Self, Error> {
        let value = &expand_env(value)?;
        let Value::Object(obj) = value else {
            return Err(template_error("the template must be a JSON object"));
        };
        for k in obj.keys() {
            if !TEMPLATE_KEYS.contains(&k.as_str()) {
                return Err(template_error(&format!(
                    "unknown key `{k}` (supported: builders, provisioners, description)"
                )));
            }
        }
        let builders = match obj.get("builders") {
            Some(Value::Array(b)) if !b.is_empty() => b.clone(),
            _ => {
                return Err(template_error(
                    "key `builders` must be a non-empty list of builder blocks",
                ));
            }
        };
        let provisioners = match obj.get("provisioners") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(p)) => p.clone(),
            Some(_) => {
                return Err(template_error(
                    "key `provisioners` must be a list of provisioner blocks",
                ));
            }
        };
        for p in &provisioners {
            provisioner(p)?;
        }
        Ok(Self {
            builders,
            provisioners,
        })
    }

    /// [`Template::from_json`] from text.
    pub fn from_json_str(text: &str) -> Result<Self, Error> {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| template_error(&format!("not valid JSON: {e}")))?;
        Self::from_json(&value)
    }

    /// A template of one builder block and these provisioner blocks.
    pub fn single(builder: Value, provisioners: Vec<Value>) -> Result<Self, Error> {
        Self::from_json(&json!({"builders": [builder], "provisioners": provisioners}))
    }

    /// The names of the builds: each builder's `name`, else its `type`.
    pub fn build_names(&self) -> Vec<String> {
        self.builders.iter().map(block_name).collect()
    }

    /// The builder block of build `name` (a builder's `name`, else its
    /// `type`); with `None`, the only one.
    pub fn builder_block(&self, name: Option<&str>) -> Result<&Value, Error> {
        match name {
            None if self.builders.len() == 1 => Ok(&self.builders[0]),
            None => Err(template_error(&format!(
                "key `builders` holds {} builds ({}); name the one to run",
                self.builders.len(),
                self.build_names().join(", ")
            ))),
            Some(n) => self
                .builders
                .iter()
                .find(|b| block_name(b) == n)
                .ok_or_else(|| {
                    template_error(&format!(
                        "key `builders` has no build named {n:?} (builds: {})",
                        self.build_names().join(", ")
                    ))
                }),
        }
    }

    /// The provisioners that apply to build `name` (Packer's `only` and
    /// `except`), freshly built.
    pub fn provisioners_for(&self, name: &str) -> Result<Vec<Provisioner>, Error> {
        self.blocks_for(name).map(provisioner).collect()
    }

    /// The provisioner blocks that apply to build `name`.
    fn blocks_for<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        self.provisioners.iter().filter(move |p| {
            let listed = |key: &str| {
                p.get(key)
                    .and_then(Value::as_array)
                    .map(|l| l.iter().any(|v| v.as_str() == Some(name)))
            };
            listed("only") != Some(false) && listed("except") != Some(true)
        })
    }

    /// The builder block of build `name` with the metadata of its
    /// `image-spec` provisioners filled in where the block leaves keys
    /// unset (see [`crate::spec::apply_to_builder_block`]), and the notes
    /// about keys where the block wins.
    pub fn builder_block_with_specs(
        &self,
        name: Option<&str>,
    ) -> Result<(Value, Vec<String>), Error> {
        let mut block = self.builder_block(name)?.clone();
        let build = block_name(&block);
        let mut notes = Vec::new();
        for p in self.blocks_for(&build) {
            if p.get("type").and_then(Value::as_str) != Some("image-spec") {
                continue;
            }
            if let Some(dir) = p.get("path").and_then(Value::as_str) {
                let spec = crate::spec::Spec::load(dir)?;
                let kind = block.get("type").and_then(Value::as_str).unwrap_or("");
                let kind = kind.to_owned();
                notes.extend(crate::spec::apply_to_builder_block(
                    &kind, &mut block, &spec,
                ));
            }
        }
        Ok((block, notes))
    }

    /// The checked builder of build `name` (see [`Template::builder_block`])
    /// with its provisioners, ready to run; its `type` is one of the
    /// built-in builders ([`BuilderRegistry::default`]).
    pub fn builder(&self, name: Option<&str>) -> Result<AnyBuilder, Error> {
        self.builder_in(&BuilderRegistry::default(), name)
    }

    /// [`Template::builder`] with the builders of `registry` (a Rust user's
    /// own among them).
    pub fn builder_in(
        &self,
        registry: &BuilderRegistry,
        name: Option<&str>,
    ) -> Result<AnyBuilder, Error> {
        let (block, notes) = self.builder_block_with_specs(name)?;
        for note in notes {
            tracing::warn!("{note}");
        }
        let provisioners = self.provisioners_for(&block_name(&block))?;
        registry.builder_from_block(&block, provisioners)
    }
}

fn block_name(b: &Value) -> String {
    b.get("name")
        .or_else(|| b.get("type"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned()
}

fn template_error(message: &str) -> Error {
    Error::Config(format!("template: {message}"))
}

/// A provisioner's configuration error about `key` ([`Error::ConfigKey`]).
fn provisioner_error(kind: &str, key: &str, message: &str) -> Error {
    Error::config_at(key, format!("provisioner {kind}: {message}"))
}

/// Packer's `shell` provisioner keys.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ShellBlock {
    #[serde(default)]
    inline: Option<Vec<String>>,
    #[serde(default)]
    script: Option<PathBuf>,
    #[serde(default)]
    scripts: Option<Vec<PathBuf>>,
    #[serde(default)]
    environment_vars: Vec<String>,
    #[serde(default)]
    execute_command: Option<String>,
    #[serde(default)]
    inline_shebang: Option<String>,
    #[serde(default)]
    remote_folder: Option<String>,
    #[serde(default)]
    remote_file: Option<String>,
    #[serde(default)]
    valid_exit_codes: Option<Vec<i32>>,
    #[serde(default)]
    expect_disconnect: bool,
    #[serde(default)]
    skip_clean: bool,
}

const SHELL_KEYS: &[&str] = &[
    "inline",
    "script",
    "scripts",
    "environment_vars",
    "execute_command",
    "inline_shebang",
    "remote_folder",
    "remote_file",
    "valid_exit_codes",
    "expect_disconnect",
    "skip_clean",
];

/// Packer's `file` provisioner keys.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileBlock {
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    destination: String,
    #[serde(default)]
    direction: Option<String>,
}

const FILE_KEYS: &[&str] = &["source", "content", "destination", "direction"];

/// The `image-spec` provisioner's one key: the spec folder.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ImageSpecBlock {
    #[serde(default)]
    path: Option<PathBuf>,
}

/// Decodes `value` (a provisioner or post-processor block; `type`, `name`,
/// `only`, `except` and Packer's `packer_*` keys are skipped unless
/// `known`) into `T`, as weakly as Packer's decoder,
/// naming unknown keys and the path of a bad value. `what` starts each
/// message (`provisioner shell`, `post-processor manifest`).
pub(crate) fn decode_block<T: DeserializeOwned>(
    what: &str,
    value: &Value,
    known: &[&str],
) -> Result<T, Error> {
    let Value::Object(obj) = value else {
        return Err(Error::config_at(
            "type",
            format!("{what}: the block must be a JSON object"),
        ));
    };
    let mut fields = Map::new();
    for (k, v) in obj {
        match k.as_str() {
            _ if known.contains(&k.as_str()) => {
                fields.insert(k.clone(), v.clone());
            }
            // Packer's own keys (`packer_build_name`, `packer_force`...)
            // are ignored unless the block uses them, as Packer's decoder.
            "type" | "name" | "only" | "except" => {}
            _ if k.starts_with("packer_") => {}
            _ => {
                let m = format!("{what}: unknown key `{k}`");
                return Err(Error::config_at(k, m));
            }
        }
    }
    serde_path_to_error::deserialize(crate::template::weak::Weak(Value::Object(fields))).map_err(
        |e| {
            let path = e.path().to_string();
            let m = format!("{what}: key `{path}`: {}", e.into_inner());
            Error::config_at(path, m)
        },
    )
}

/// Builds the step of one Packer provisioner block: `shell` (`inline`,
/// `script` or `scripts`, `environment_vars`, `execute_command`, ...),
/// `file` (`source` or `content`, `destination`, `direction`),
/// `shell-local` (see [`ShellLocal`]) or `image-spec` (`path`, a spec
/// folder read and checked now: see [`crate::spec`]). Errors name the
/// provisioner type and the key.
pub fn provisioner(block: &Value) -> Result<Provisioner, Error> {
    let kind = block.get("type").and_then(Value::as_str).ok_or_else(|| {
        Error::config_at(
            "type",
            "provisioner: missing required key `type` (shell, file, shell-local or image-spec)",
        )
    })?;
    match kind {
        "shell" => shell(decode_block("provisioner shell", block, SHELL_KEYS)?),
        "file" => file(decode_block("provisioner file", block, FILE_KEYS)?),
        "shell-local" => Ok(Box::new(ShellLocal::from_block(block)?)),
        "image-spec" => image_spec(decode_block("provisioner image-spec", block, &["path"])?),
        other => Err(Error::config_at(
            "type",
            format!(
                "provisioner: key `type`: {other:?} is not supported (shell, file, shell-local or image-spec)"
            ),
        )),
    }
}

fn shell(b: ShellBlock) -> Result<Provisioner, Error> {
    let err = |k: &str, m: &str| provisioner_error("shell", k, m);
    let mut s = match (b.inline, b.script, b.scripts) {
        (Some(i), None, None) if !i.is_empty() => Shell::inline(i),
        (None, Some(s), None) => Shell::script(s),
        (None, None, Some(s)) if !s.is_empty() => Shell::scripts(s),
        (None, None, None) => {
            return Err(err(
                "inline",
                "missing required key `inline` (or `script`, `scripts`)",
            ));
        }
        (Some(_), None, None) => return Err(err("inline", "key `inline` must not be empty")),
        (None, None, Some(_)) => return Err(err("scripts", "key `scripts` must not be empty")),
        _ => {
            return Err(err(
                "inline",
                "key `inline`: only one of `inline`, `script` and `scripts` may be set",
            ));
        }
    };
    s = s.environment_vars(&b.environment_vars).map_err(|_| {
        err(
            "environment_vars",
            "key `environment_vars`: each entry must be KEY=value",
        )
    })?;
    if let Some(c) = b.execute_command {
        s = s.execute_command(c);
    }
    if let Some(v) = b.inline_shebang {
        s = s.inline_shebang(v);
    }
    if let Some(v) = b.remote_folder {
        s = s.remote_folder(v);
    }
    if let Some(v) = b.remote_file {
        s = s.remote_file(v);
    }
    if let Some(v) = b.valid_exit_codes {
        s = s.valid_exit_codes(v);
    }
    Ok(Box::new(
        s.expect_disconnect(b.expect_disconnect)
            .skip_clean(b.skip_clean),
    ))
}

fn image_spec(b: ImageSpecBlock) -> Result<Provisioner, Error> {
    let Some(path) = b.path.filter(|p| !p.as_os_str().is_empty()) else {
        return Err(provisioner_error(
            "image-spec",
            "path",
            "missing required key `path` (the spec folder)",
        ));
    };
    Ok(Box::new(ImageSpec::new(path)?))
}

fn file(b: FileBlock) -> Result<Provisioner, Error> {
    let err = |k: &str, m: &str| provisioner_error("file", k, m);
    if b.destination.trim().is_empty() {
        return Err(err("destination", "missing required key `destination`"));
    }
    match b.direction.as_deref().unwrap_or("upload") {
        "upload" => match (b.source, b.content) {
            (Some(s), None) => Ok(Box::new(Upload::path(s, b.destination))),
            (None, Some(c)) => Ok(Box::new(Upload::content(c.into_bytes(), b.destination))),
            (None, None) => Err(err(
                "source",
                "missing required key `source` (or `content`)",
            )),
            (Some(_), Some(_)) => Err(err(
                "content",
                "key `content`: set `source` or `content`, not both",
            )),
        },
        "download" => match (b.source, b.content) {
            (Some(s), None) => Ok(Box::new(Download::file(s, b.destination))),
            (_, Some(_)) => Err(err("content", "key `content` is only for uploads")),
            (None, None) => Err(err("source", "missing required key `source`")),
        },
        other => Err(err(
            "direction",
            &format!("key `direction`: {other:?} is not supported (upload or download)"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provisioner_key_errors_carry_the_key_as_data() {
        let key = |r: Result<Provisioner, Error>| match r {
            Ok(_) => panic!("decoded"),
            Err(e) => e.config_key().map(str::to_owned),
        };
        assert_eq!(key(shell(ShellBlock::default())).as_deref(), Some("inline"));
        let no_source = FileBlock {
            destination: "/tmp/x".into(),
            ..FileBlock::default()
        };
        assert_eq!(key(file(no_source)).as_deref(), Some("source"));
        assert_eq!(
            key(file(FileBlock::default())).as_deref(),
            Some("destination")
        );
    }

    fn err(v: Value) -> String {
        match Template::from_json(&v) {
            Ok(_) => panic!("{v} decoded"),
            Err(e) => e.to_string(),
        }
    }

    #[cfg(feature = "osc")]
    #[test]
    fn packer_s_outscale_chroot_type_reaches_the_osc_chroot_builder() {
        let block = json!({"type": "outscale-chroot", "bogus": 1});
        let Err(e) = BuilderRegistry::default().builder_from_block(&block, vec![]) else {
            panic!("an unknown key is refused");
        };
        assert!(
            e.to_string()
                .contains("builder osc-chroot: unknown key `bogus`"),
            "{e}"
        );
    }

    #[test]
    fn template_keys_and_provisioners_are_checked() {
        let b = json!({"type": "local-chroot", "output_path": "/tmp/x.raw",
                       "from_scratch": true, "image_size": "64M"});
        let t = Template::from_json(&json!({
            "builders": [b],
            "provisioners": [
                {"type": "shell", "inline": ["true"], "environment_vars": ["A=1"]},
                {"type": "file", "content": "x", "destination": "/etc/x", "only": ["other"]},
                {"type": "file", "source": "/etc/hostname", "destination": "/tmp/"}
            ]
        }))
        .unwrap();
        assert_eq!(t.build_names(), ["local-chroot"]);
        assert_eq!(t.provisioners_for("local-chroot").unwrap().len(), 2);
        assert_eq!(t.provisioners_for("other").unwrap().len(), 3);
        assert_eq!(t.builder(None).unwrap().builder_type(), "local-chroot");

        let e = err(json!({"builders": [b], "variables": {}}));
        assert!(e.contains("unknown key `variables`"), "{e}");
        let e = err(json!({"builders": []}));
        assert!(e.contains("key `builders`"), "{e}");
        let e = err(json!({"builders": [b], "provisioners": [{"type": "shell"}]}));
        assert!(
            e.contains("provisioner shell: missing required key `inline`"),
            "{e}"
        );
        let e =
            err(json!({"builders": [b], "provisioners": [{"type": "shell", "inline": {"a": 1}}]}));
        assert!(e.contains("key `inline[0]`: invalid type: map"), "{e}");
        // Decoded as weakly as Packer: one value is a list of one.
        Template::from_json(&json!({"builders": [b],
            "provisioners": [{"type": "shell", "inline": "x", "expect_disconnect": "true"}]}))
        .expect("weakly typed values are accepted");
        let e = err(json!({"builders": [b],
            "provisioners": [{"type": "shell", "inline": ["x"], "pause_before": "1s"}]}));
        assert!(e.contains("unknown key `pause_before`"), "{e}");
        let e = err(json!({"builders": [b], "provisioners": [{"type": "ansible"}]}));
        assert!(e.contains("key `type`"), "{e}");
        let e = err(json!({"builders": [b], "provisioners": [{"type": "file", "content": "x"}]}));
        assert!(e.contains("`destination`"), "{e}");
    }

    #[test]
    fn builder_blocks_are_picked_and_checked() {
        let t = Template::from_json(&json!({"builders": [
            {"type": "local-chroot", "name": "a", "output_path": "/x.raw"},
            {"type": "nope", "name": "b"}
        ]}))
        .unwrap();
        let e = t.builder(None).unwrap_err().to_string();
        assert!(e.contains("a, b"), "{e}");
        let e = t.builder(Some("b")).unwrap_err().to_string();
        assert!(e.contains("key `type`") && e.contains("\"nope\""), "{e}");
        let e = t.builder(Some("c")).unwrap_err().to_string();
        assert!(e.contains("no build named \"c\""), "{e}");
        let t = Template::single(json!({"type": "local-chroot", "bogus": 1}), vec![]).unwrap();
        let e = t.builder(None).unwrap_err();
        assert_eq!(e.config_key(), Some("bogus"), "{e}");
    }
}
