//! Packer templates.
//!
//! - [`plan`]: a template as users write it (HCL2 `.pkr.hcl` files, HCL's
//!   JSON syntax `.pkr.json`, a directory of them, or a legacy JSON `.json`
//!   template) with its `-var`,
//!   `-var-file` and environment, evaluated into a neutral [`Plan`]: per
//!   build the builder type, its configuration as JSON, its provisioners
//!   and its post-processor chains. The `imagebake` command, the examples
//!   and the Python package all start from this plan.
//! - `render` (crate-internal): the `{{.Name}}` placeholders of command
//!   templates (`execute_command`, `mount_path`...) that builders and
//!   provisioners fill in while they run.
//!
//! ```no_run
//! use imagebake_core::template::{self, Options, Placeholders};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let opts = Options::from_process()?.var("image_version", "1.2.0");
//! let plan = template::plan("bake.pkr.hcl".as_ref(), &opts, &Placeholders).await?;
//! for b in &plan.builds {
//!     println!("{} ({}): {}", b.name, b.builder_type, plan.sensitive.mask(&b.config.to_string()));
//! }
//! # Ok(())
//! # }
//! ```

mod error;
mod eval;
mod funcs;
mod gotmpl;
mod hcl2;
mod hcljson;
mod json;
mod plan;
mod types;
pub mod weak;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

pub use error::{ErrorDetails, Location, TemplateError};
pub use gotmpl::PACKER_VERSION;
/// The one scanner of `{{…}}` actions (for the builders' own template
/// passes, which still carry a copy in `builders::packer`).
pub(crate) use gotmpl::replace_actions;
pub use plan::{
    Plan, PlannedBuild, PlannedPostProcessor, PlannedProvisioner, PlannedVariable, Sensitive,
    TemplateKind, glob_match,
};

use crate::Error;

/// What a template is evaluated with besides its files: Packer's `-var`
/// and `-var-file` flags, the environment (`PKR_VAR_name`, `env()`,
/// `{{env}}`) and the working directory (`path.cwd`, `abspath()`, relative
/// `-var-file` paths).
#[derive(Clone, Default)]
pub struct Options {
    /// `-var NAME=VALUE`, in command-line order (the last of a name wins;
    /// all of them win over var files).
    pub vars: Vec<(String, String)>,
    /// `-var-file PATH`, in command-line order (later files win).
    pub var_files: Vec<PathBuf>,
    /// The environment.
    pub env: BTreeMap<String, String>,
    /// The working directory (absolute).
    pub cwd: PathBuf,
    /// Packer's InitTime (`{{timestamp}}`, `{{isotime}}`): now when unset.
    pub init_time: Option<std::time::SystemTime>,
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Values may be secrets: show names only.
        f.debug_struct("Options")
            .field(
                "vars",
                &self.vars.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .field("var_files", &self.var_files)
            .field("env", &format_args!("{} variables", self.env.len()))
            .field("cwd", &self.cwd)
            .field("init_time", &self.init_time)
            .finish()
    }
}

impl Options {
    /// The process's environment and working directory, no variables.
    pub fn from_process() -> std::io::Result<Self> {
        Ok(Self {
            vars: Vec::new(),
            var_files: Vec::new(),
            env: std::env::vars().collect(),
            cwd: std::env::current_dir()?,
            init_time: None,
        })
    }

    /// Adds `-var NAME=VALUE`.
    pub fn var(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.vars.push((name.into(), value.into()));
        self
    }

    /// Adds `-var-file PATH`.
    pub fn var_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.var_files.push(path.into());
        self
    }

    /// Parses a `-var` argument `NAME=VALUE` (split at the first `=`).
    pub fn parse_var(arg: &str) -> Result<(String, String), TemplateError> {
        arg.split_once('=')
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .ok_or_else(|| {
                TemplateError::new(format!("-var {arg:?} has no `=`")).fix("write -var NAME=VALUE")
            })
    }
}

/// Reads data sources while a template is evaluated (`data "oxide-image"
/// "N" { name, project, host, token }` gives `data.oxide-image.N.image_id`).
///
/// The template engine never calls a cloud itself: the caller provides
/// this hook (`imagebake build` and `validate -evaluate-datasources` with
/// `builders::oxide::ImageDataSource`, which asks the rack; `validate` and
/// `inspect` with [`Placeholders`], which calls nothing).
#[async_trait::async_trait]
pub trait DataSources: Send + Sync {
    /// The attributes of data source `kind` (`oxide-image`) named `name`,
    /// given its evaluated arguments; an error message otherwise (a
    /// missing image, a failed call).
    async fn read(
        &self,
        kind: &str,
        name: &str,
        args: &Map<String, Value>,
    ) -> Result<Map<String, Value>, String>;
}

/// The value [`Placeholders`] gives every data source attribute (Packer's
/// unknown value, shown as `<unknown>`).
pub const UNKNOWN: &str = "<unknown>";

/// Data sources read as Packer's `validate` does without
/// `-evaluate-datasources`: every attribute is the placeholder
/// `"<unknown>"`; no API is called.
#[derive(Debug, Clone, Copy, Default)]
pub struct Placeholders;

#[async_trait::async_trait]
impl DataSources for Placeholders {
    async fn read(
        &self,
        kind: &str,
        _name: &str,
        _args: &Map<String, Value>,
    ) -> Result<Map<String, Value>, String> {
        let attrs: &[&str] = match kind {
            "oxide-image" => &["image_id"],
            _ => &[],
        };
        Ok(attrs
            .iter()
            .map(|a| ((*a).to_owned(), Value::String(UNKNOWN.into())))
            .collect())
    }
}

/// Values fixed once per run: Packer's InitTime (`{{timestamp}}`,
/// `{{isotime}}`) and the `{{uuid}}` of this run.
#[derive(Debug, Clone)]
pub(crate) struct Run {
    pub init: DateTime<Utc>,
    pub uuid: String,
}

/// The files of a template: HCL2 (`.pkr.hcl`/`.pkr.json` files, with the
/// auto var files of a directory) or one legacy JSON file.
enum Files {
    Hcl2 {
        files: Vec<PathBuf>,
        auto: Vec<PathBuf>,
    },
    Json(PathBuf),
}

/// Which files Packer reads for `path` (notes §1.1).
fn files(path: &Path, opts: &Options) -> Result<Files, TemplateError> {
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        opts.cwd.join(path)
    };
    if abs.is_dir() {
        let mut hcl = Vec::new();
        let mut auto = Vec::new();
        let entries = std::fs::read_dir(&abs).map_err(|e| {
            TemplateError::new(format!("cannot read directory {}: {e}", path.display()))
        })?;
        let mut names: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        names.sort();
        for p in names {
            let n = p
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default();
            if n.ends_with(".auto.pkrvars.hcl") || n.ends_with(".auto.pkrvars.json") {
                auto.push(p);
            } else if n.ends_with(".pkr.hcl") || n.ends_with(".pkr.json") {
                hcl.push(p);
            }
        }
        // *.pkr.hcl before *.pkr.json; auto var files .hcl before .json.
        hcl.sort_by_key(|p| p.to_string_lossy().ends_with(".json"));
        auto.sort_by_key(|p| p.to_string_lossy().ends_with(".json"));
        if hcl.is_empty() {
            return Err(TemplateError::new(format!(
                "Could not find any config file in {}",
                path.display()
            ))
            .fix("a template directory holds *.pkr.hcl or *.pkr.json files"));
        }
        return Ok(Files::Hcl2 { files: hcl, auto });
    }
    let name = path.to_string_lossy();
    if name.ends_with(".pkr.hcl") || name.ends_with(".pkr.json") {
        return Ok(Files::Hcl2 {
            files: vec![abs],
            auto: Vec::new(),
        });
    }
    Ok(Files::Json(abs))
}

/// Evaluates the template at `path` into a [`Plan`].
///
/// `path` is a `.pkr.hcl` or `.pkr.json` (HCL's JSON syntax) file, a
/// directory (its `*.pkr.hcl` then `*.pkr.json` files, and its
/// `*.auto.pkrvars.hcl` then `*.auto.pkrvars.json` files as var files),
/// or a legacy JSON template (`.json`). Nothing is created anywhere: data
/// sources go through `data`. Every error names the file, line and
/// column, the block and the key.
pub async fn plan(
    path: &Path,
    opts: &Options,
    data: &dyn DataSources,
) -> Result<Plan, TemplateError> {
    let run = Run {
        init: opts.init_time.map_or_else(Utc::now, DateTime::<Utc>::from),
        uuid: uuid::Uuid::new_v4().to_string(),
    };
    match files(path, opts)? {
        Files::Hcl2 { files, auto } => hcl2::plan(&files, &auto, path, opts, data, &run).await,
        Files::Json(abs) => json::plan(&abs, path, opts, &run),
    }
}

/// Packer's `validate -syntax-only`: the template's files and its var files
/// (`-var-file`, a directory's auto var files) parse; nothing is evaluated
/// (no variable needs a value, no data source is read).
pub fn check_syntax(path: &Path, opts: &Options) -> Result<(), TemplateError> {
    match files(path, opts)? {
        Files::Hcl2 { files, auto } => hcl2::check_syntax(&files, &auto, opts),
        Files::Json(abs) => json::check_syntax(&abs, path, opts),
    }
}

/// Renders `template`, replacing each `{{.Name}}` with the value `vars` gives
/// for `Name`. An unknown name or an unclosed `{{` is an error naming the
/// template (`what`).
pub(crate) fn render(what: &str, template: &str, vars: &[(&str, &str)]) -> Result<String, Error> {
    replace_actions(
        template,
        || Error::Config(format!("{what}: unclosed `{{{{` in {template:?}")),
        |inner| {
            let name = inner.trim();
            name.strip_prefix('.')
                .and_then(|n| vars.iter().find(|(k, _)| *k == n))
                .map(|(_, v)| (*v).to_owned())
                .ok_or_else(|| {
                    let known: Vec<String> =
                        vars.iter().map(|(k, _)| format!("{{{{.{k}}}}}")).collect();
                    Error::Config(format!(
                        "{what}: unknown placeholder `{{{{{name}}}}}` (known: {})",
                        known.join(", ")
                    ))
                })
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_known_placeholders() {
        let r = render(
            "t",
            "chmod +x {{.Path}}; {{ .Vars }} {{.Path}}",
            &[("Path", "/tmp/s.sh"), ("Vars", "A='1'")],
        )
        .unwrap();
        assert_eq!(r, "chmod +x /tmp/s.sh; A='1' /tmp/s.sh");
    }

    #[test]
    fn unknown_or_unclosed_is_an_error() {
        let e = render("execute_command", "{{.Nope}}", &[("Path", "x")]).unwrap_err();
        assert!(
            e.to_string().contains("{{.Nope}}") && e.to_string().contains("{{.Path}}"),
            "{e}"
        );
        assert!(render("t", "a {{.Path", &[("Path", "x")]).is_err());
    }
}
