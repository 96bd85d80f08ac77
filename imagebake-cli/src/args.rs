//! The command line: verbs and flags, in Packer's spelling.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use imagebake_core::template::{Options, TemplateError};

/// Bakes machine images on Triton, Oxide and Outscale from Packer templates.
#[derive(Debug, Parser)]
#[command(
    name = "imagebake",
    version,
    about,
    long_about = None,
    after_help = "Every flag also takes Packer's single-dash form: -var K=V, -only=GLOBS, -force."
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub verb: Verb,
}

/// The verbs.
#[derive(Debug, Subcommand)]
pub enum Verb {
    /// Runs the selected builds of a template in parallel.
    Build(BuildArgs),
    /// Checks a template without creating anything (no API call unless
    /// -evaluate-datasources).
    Validate(ValidateArgs),
    /// Shows a template's variables (sensitive ones masked), builds,
    /// provisioners and post-processors.
    Inspect(InspectArgs),
    /// Removes what crashed or aborted builds left on one cloud.
    Sweep(SweepArgs),
    /// Checks or bakes an image spec folder (mibe's `mi-*` form).
    Spec(crate::spec::SpecArgs),
    /// Builds, publishes and releases origin image sets (images.json).
    Origin(crate::origin::OriginArgs),
    /// Removes what builds whose process died left, from their journals.
    Cleanup(CleanupArgs),
    /// Lists the journaled builds and their state.
    Builds(BuildsArgs),
}

/// `imagebake cleanup`.
#[derive(Debug, Args)]
pub struct CleanupArgs {
    /// Every crashed build (process gone, never ended).
    #[arg(long)]
    pub crashed: bool,
    /// Lists what would be removed, removes nothing.
    #[arg(long = "dry-run")]
    pub dry_run: bool,
    /// Takes the credentials of this template's builders instead of the
    /// clients' usual sources (matched by builder type and endpoint).
    #[arg(long, value_name = "PATH")]
    pub template: Option<PathBuf>,
    /// The builds to clean up (ids from `imagebake builds`); their process
    /// must be gone.
    #[arg(value_name = "BUILD_ID")]
    pub build_ids: Vec<String>,
}

/// `imagebake builds`.
#[derive(Debug, Args)]
pub struct BuildsArgs {
    /// Removes the journals of builds that left nothing (finished or
    /// cleaned) and started more than 7 days ago.
    #[arg(long)]
    pub prune: bool,
}

/// Variable flags shared by build and validate.
#[derive(Debug, Args, Clone)]
pub struct VarArgs {
    /// Sets variable NAME to VALUE (repeatable; the last of a name wins;
    /// wins over var files and PKR_VAR_NAME).
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
    /// Reads variable values from a .pkrvars.hcl (or JSON) file (repeatable;
    /// later files win).
    #[arg(long = "var-file", value_name = "FILE")]
    pub var_files: Vec<PathBuf>,
}

impl VarArgs {
    /// The template engine's options: the process's environment and working
    /// directory with these variables.
    pub fn options(&self) -> Result<Options, TemplateError> {
        let mut opts = Options::from_process()
            .map_err(|e| TemplateError::new(format!("cannot read the working directory: {e}")))?;
        for v in &self.vars {
            let (k, v) = Options::parse_var(v)?;
            opts = opts.var(k, v);
        }
        for f in &self.var_files {
            opts = opts.var_file(f);
        }
        Ok(opts)
    }
}

/// `imagebake build`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Variables.
    #[command(flatten)]
    pub vars: VarArgs,
    /// Runs only the builds matching these globs (comma-separated,
    /// repeatable; HCL2 names are [BUILD.]TYPE.NAME).
    #[arg(long, value_delimiter = ',', value_name = "GLOBS")]
    pub only: Vec<String>,
    /// Leaves out the builds (and post-processors) matching these globs.
    #[arg(long, value_delimiter = ',', value_name = "GLOBS")]
    pub except: Vec<String>,
    /// What a failed build does with what it made: remove it (cleanup) or
    /// keep it and print how to remove it later (abort).
    #[arg(long = "on-error", value_enum, default_value_t = OnErrorArg::Cleanup)]
    pub on_error: OnErrorArg,
    /// At most N builds at once; 0 means no limit.
    #[arg(long = "parallel-builds", default_value_t = 0, value_name = "N")]
    pub parallel_builds: usize,
    /// Replaces an existing artifact of the same name.
    #[arg(long)]
    pub force: bool,
    /// Prints Packer's machine-readable lines (timestamp,target,type,data...).
    #[arg(long = "machine-readable")]
    pub machine_readable: bool,
    /// Prefixes each line with the local time.
    #[arg(long = "timestamp-ui")]
    pub timestamp_ui: bool,
    /// The template: a .pkr.hcl, .pkr.json or .json file, or a directory.
    pub path: PathBuf,
}

/// `-on-error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnErrorArg {
    /// Remove what the failed build made.
    Cleanup,
    /// Keep what the failed build made.
    Abort,
}

/// `imagebake validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Variables.
    #[command(flatten)]
    pub vars: VarArgs,
    /// Only parses the template and its var files: evaluates nothing (no
    /// variable needs a value, no data source is read).
    #[arg(long = "syntax-only")]
    pub syntax_only: bool,
    /// Reads the data sources (calls the clouds' APIs); without it each data
    /// source attribute is a placeholder.
    #[arg(long = "evaluate-datasources")]
    pub evaluate_datasources: bool,
    /// Checks only the builds matching these globs.
    #[arg(long, value_delimiter = ',', value_name = "GLOBS")]
    pub only: Vec<String>,
    /// Leaves out the builds matching these globs.
    #[arg(long, value_delimiter = ',', value_name = "GLOBS")]
    pub except: Vec<String>,
    /// The template: a .pkr.hcl, .pkr.json or .json file, or a directory.
    pub path: PathBuf,
}

/// `imagebake inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Variables.
    #[command(flatten)]
    pub vars: VarArgs,
    /// The template: a .pkr.hcl, .pkr.json or .json file, or a directory.
    pub path: PathBuf,
}

/// `--cloud`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Cloud {
    /// Triton (credentials: TRITON_*/SDC_* or the Triton profile).
    Triton,
    /// Oxide (credentials: OXIDE_HOST/OXIDE_TOKEN or ~/.config/oxide).
    Oxide,
    /// Outscale (credentials: OSC_* or ~/.osc/config.json).
    Osc,
}

/// `imagebake sweep`.
#[derive(Debug, Args)]
pub struct SweepArgs {
    /// The cloud to sweep.
    #[arg(long, value_enum)]
    pub cloud: Cloud,
    /// Only what was created longer ago than this (Go duration: 90m, 2h,
    /// 1h30m, 0s for everything), so running builds are left alone.
    #[arg(long = "older-than", default_value = "1h", value_parser = parse_duration, value_name = "DUR")]
    pub older_than: Duration,
    /// Only what one build left (its build id, ib-...); default every build.
    #[arg(long = "build", value_name = "BUILD_ID")]
    pub build: Option<String>,
    /// The Oxide project to sweep (default: OXIDE_PROJECT).
    #[arg(long, value_name = "PROJECT")]
    pub project: Option<String>,
    /// Lists what would be removed, removes nothing.
    #[arg(long = "dry-run")]
    pub dry_run: bool,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    imagebake_core::builders::packer::parse_duration(text)
        .ok_or_else(|| format!("{text:?} is not a duration (write 30m, 2h, 1h30m)"))
}

/// Every long flag of every verb, for [`normalize`].
const FLAGS: &[&str] = &[
    "var",
    "var-file",
    "only",
    "except",
    "on-error",
    "parallel-builds",
    "force",
    "machine-readable",
    "timestamp-ui",
    "syntax-only",
    "evaluate-datasources",
    "cloud",
    "older-than",
    "build",
    "project",
    "dry-run",
    "images",
    "package-json",
    "branch",
    "export-dir",
    "set",
    "keep-cloud-images",
    "crashed",
    "template",
    "prune",
    "help",
    "version",
];

/// Rewrites Packer's single-dash long flags (`-var`, `-only=x`) to the
/// GNU form clap reads (`--var`, `--only=x`). Only known flag names are
/// rewritten, so a value such as `-1` stays as it is.
pub fn normalize(args: impl IntoIterator<Item = String>) -> Vec<String> {
    args.into_iter()
        .map(|a| {
            let Some(rest) = a.strip_prefix('-').filter(|r| !r.starts_with('-')) else {
                return a;
            };
            let name = rest.split_once('=').map_or(rest, |(n, _)| n);
            if FLAGS.contains(&name) {
                format!("-{a}")
            } else {
                a
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(args: &[&str]) -> Vec<String> {
        normalize(args.iter().map(|s| (*s).to_owned()))
    }

    #[test]
    fn packer_single_dash_flags_become_long_flags() {
        assert_eq!(
            norm(&[
                "imagebake",
                "build",
                "-var",
                "a=-1",
                "-only=x,y",
                "--force",
                "-h",
                "t"
            ]),
            [
                "imagebake",
                "build",
                "--var",
                "a=-1",
                "--only=x,y",
                "--force",
                "-h",
                "t"
            ]
        );
    }

    #[test]
    fn both_flag_forms_parse_the_same() {
        let a = Cli::try_parse_from(norm(&["ib", "validate", "-var=a=1", "-var", "b=2", "p"]));
        let Verb::Validate(v) = a.unwrap().verb else {
            panic!("not validate")
        };
        assert_eq!(v.vars.vars, ["a=1", "b=2"]);
        let s = Cli::try_parse_from(norm(&["ib", "sweep", "-cloud", "osc", "-older-than=90m"]));
        let Verb::Sweep(s) = s.unwrap().verb else {
            panic!("not sweep")
        };
        assert_eq!(
            (s.cloud, s.older_than),
            (Cloud::Osc, Duration::from_secs(5400))
        );
    }
}
