//! Packer's `shell-local`: scripts run on the host imagebake runs on, not
//! on the machine being built. One home for both forms: the provisioner
//! ([`ShellLocal`], during the build) and the post-processor
//! (`postprocess::shell_local`, after it) share [`LocalScript`].
//!
//! As Packer (SDK `shell-local`): exactly one of `inline`, `script`,
//! `scripts` (or the legacy `command`); scripts must exist when the block is
//! decoded; `inline` lines go to a temporary file (mode 0700) that starts
//! with `#!` and `inline_shebang` (`/bin/sh -e`); each script runs as
//! `execute_command` (a list, default `["/bin/sh", "-c", "{{.Vars}}
//! {{.Script}}"]`; one element means `sh -c` it), in which `{{.Vars}}` is
//! `KEY='value' ` per variable (`env_var_format`), sorted by key:
//! `PACKER_BUILD_NAME`, `PACKER_BUILDER_TYPE`, `environment_vars` and
//! `env`. The process inherits imagebake's environment, plus
//! `PACKER_RUN_UUID` when known and imagebake's own `IMAGEBAKE_BUILD_ID`
//! (and `IMAGEBAKE_ARTIFACT_ID` after a build). A status outside
//! `valid_exit_codes` (default `[0]`) is an error; `only_on` skips the
//! scripts on other systems.

use std::borrow::Cow;
use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::fs;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use imagebake_host::process::{self, Exit, Stream};
use serde::Deserialize;
use serde_json::Value;

use super::Comm;
use super::shell::BUILD_ID_VAR;
use crate::packer_template::decode_block;
use crate::template::render;
use crate::{CancellationToken, Error, OutputStream, Step, StepCx};

/// The keys of a `shell-local` block (`packer_build_name` and
/// `packer_builder_type` are the values Packer hands every plugin).
const KEYS: &[&str] = &[
    "command",
    "inline",
    "script",
    "scripts",
    "environment_vars",
    "env",
    "env_var_format",
    "execute_command",
    "inline_shebang",
    "only_on",
    "tempfile_extension",
    "valid_exit_codes",
    "packer_build_name",
    "packer_builder_type",
];

/// The `only_on` names Packer accepts (Go's GOOS values).
const SYSTEMS: &[&str] = &[
    "darwin", "freebsd", "linux", "openbsd", "solaris", "windows",
];

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Block {
    #[serde(default)]
    command: Option<String>,
    #[serde(default)]
    inline: Option<Vec<String>>,
    #[serde(default)]
    script: Option<String>,
    #[serde(default)]
    scripts: Option<Vec<String>>,
    #[serde(default)]
    environment_vars: Vec<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    #[serde(default)]
    env_var_format: Option<String>,
    #[serde(default)]
    execute_command: Option<Vec<String>>,
    #[serde(default)]
    inline_shebang: Option<String>,
    #[serde(default)]
    only_on: Vec<String>,
    #[serde(default)]
    tempfile_extension: Option<String>,
    #[serde(default)]
    valid_exit_codes: Option<Vec<i32>>,
    #[serde(default)]
    packer_build_name: String,
    #[serde(default)]
    packer_builder_type: String,
}

#[derive(Debug, Clone)]
enum Source {
    Inline(Vec<String>),
    Scripts(Vec<PathBuf>),
}

/// A decoded `shell-local` block, ready to run (see the module
/// documentation).
#[derive(Clone)]
pub struct LocalScript {
    source: Source,
    vars: BTreeMap<String, String>,
    env_var_format: String,
    execute_command: Vec<String>,
    inline_shebang: String,
    only_on: Vec<String>,
    tempfile_extension: String,
    valid_exit_codes: Vec<i32>,
    build_name: String,
    builder_type: String,
}

/// Shows the variable names, never their values.
impl fmt::Debug for LocalScript {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalScript")
            .field("source", &self.source)
            .field("vars", &self.vars.keys().collect::<Vec<_>>())
            .field("execute_command", &self.execute_command)
            .field("only_on", &self.only_on)
            .field("valid_exit_codes", &self.valid_exit_codes)
            .finish_non_exhaustive()
    }
}

/// What a run of a [`LocalScript`] knows beyond its block.
pub(crate) struct LocalRun<'a> {
    /// `PACKER_BUILD_NAME`.
    pub build_name: &'a str,
    /// `PACKER_BUILDER_TYPE`.
    pub builder_type: &'a str,
    /// Added to the process's inherited environment (with
    /// `IMAGEBAKE_BUILD_ID`, [`LocalRun::with_build_id`]).
    pub env: Vec<(&'static str, String)>,
    /// Relative scripts are found, and the commands run, here.
    pub cwd: &'a Path,
    /// Cancels the run; the running command's process group is killed.
    pub cancel: &'a CancellationToken,
    /// Receives the progress lines ("Running local shell script: …").
    pub say: &'a (dyn Fn(&str) + Send + Sync),
}

impl LocalRun<'_> {
    /// Adds `IMAGEBAKE_BUILD_ID` (as the `shell` provisioner's) to the
    /// environment.
    pub fn with_build_id(mut self, id: &crate::BuildId) -> Self {
        self.env.push((BUILD_ID_VAR, id.to_string()));
        self
    }
}

impl LocalScript {
    /// Decodes a `shell-local` block; `what` starts each error message
    /// (`provisioner shell-local`, `post-processor shell-local`), and each
    /// error names its key. Relative script paths are checked against the
    /// working directory, as Packer does.
    pub fn decode(what: &str, value: &Value) -> Result<Self, Error> {
        let b: Block = decode_block(what, value, KEYS)?;
        let err = |key: &str, m: String| Error::config_at(key, format!("{what}: {m}"));
        let script = b.script.filter(|s| !s.is_empty());
        let too_many = |key: &str| {
            err(
                key,
                format!(
                    "key `{key}`: only one of `command`, `inline`, `script` and `scripts` may be set"
                ),
            )
        };
        let source = match (b.command, b.inline, script, b.scripts) {
            (Some(c), None, None, None) if !c.is_empty() => Source::Inline(vec![c]),
            (None, Some(i), None, None) if !i.is_empty() => Source::Inline(i),
            (None, None, Some(s), None) => Source::Scripts(vec![s.into()]),
            (None, None, None, Some(s)) if !s.is_empty() => {
                Source::Scripts(s.into_iter().map(PathBuf::from).collect())
            }
            (Some(_), Some(_), _, _) | (Some(_), _, Some(_), _) | (Some(_), _, _, Some(_)) => {
                return Err(too_many("command"));
            }
            (_, Some(_), Some(_), _) | (_, _, Some(_), Some(_)) => {
                return Err(too_many("script"));
            }
            (_, Some(_), _, Some(_)) => return Err(too_many("scripts")),
            _ => {
                return Err(err(
                    "inline",
                    "missing required key `inline` (or `script`, `scripts`, `command`)".into(),
                ));
            }
        };
        if let Source::Scripts(scripts) = &source {
            let key = if scripts.len() == 1 && value.get("script").is_some() {
                "script"
            } else {
                "scripts"
            };
            for s in scripts {
                if let Err(e) = fs::metadata(s) {
                    return Err(err(key, format!("key `{key}`: bad script {s:?}: {e}")));
                }
            }
        }
        for os in &b.only_on {
            if !SYSTEMS.contains(&os.as_str()) {
                return Err(err(
                    "only_on",
                    format!(
                        "key `only_on`: invalid OS {os:?} (supported: {})",
                        SYSTEMS.join(", ")
                    ),
                ));
            }
        }
        let mut vars = BTreeMap::new();
        for kv in &b.environment_vars {
            match kv.split_once('=') {
                Some((k, v)) if !k.is_empty() => {
                    vars.insert(k.to_owned(), v.to_owned());
                }
                _ => {
                    let name: String = kv
                        .split('=')
                        .next()
                        .unwrap_or("")
                        .chars()
                        .take(40)
                        .collect();
                    return Err(err(
                        "environment_vars",
                        format!("key `environment_vars`: `{name}` is not in the form KEY=value"),
                    ));
                }
            }
        }
        vars.extend(b.env);
        let env_var_format = b.env_var_format.unwrap_or_else(|| "%s='%s' ".into());
        if env_var_format.matches("%s").count() != 2 {
            return Err(err(
                "env_var_format",
                "key `env_var_format`: must hold `%s` twice (the name, then the value)".into(),
            ));
        }
        let execute_command = match b.execute_command {
            None => vec![
                "/bin/sh".into(),
                "-c".into(),
                "{{.Vars}} {{.Script}}".into(),
            ],
            Some(c) if c.is_empty() => {
                vec![
                    "/bin/sh".into(),
                    "-c".into(),
                    "{{.Vars}} {{.Script}}".into(),
                ]
            }
            Some(c) if c.len() == 1 => vec!["sh".into(), "-c".into(), c[0].clone()],
            Some(c) => c,
        };
        for part in &execute_command {
            render(
                &format!("{what}: key `execute_command`"),
                part,
                &[("Vars", ""), ("Script", ""), ("Command", "")],
            )
            .map_err(|e| Error::config_at("execute_command", e.to_string()))?;
        }
        Ok(Self {
            source,
            vars,
            env_var_format,
            execute_command,
            inline_shebang: b
                .inline_shebang
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "/bin/sh -e".into()),
            only_on: b.only_on,
            tempfile_extension: b
                .tempfile_extension
                .unwrap_or_default()
                .trim_start_matches('.')
                .to_owned(),
            valid_exit_codes: b.valid_exit_codes.unwrap_or_else(|| vec![0]),
            build_name: b.packer_build_name,
            builder_type: b.packer_builder_type,
        })
    }

    /// `{{.Vars}}`: each variable through `env_var_format`, sorted by
    /// name, `'` in values written `'"'"'`; and the same with the values
    /// left out, to show.
    fn flattened(&self, r: &LocalRun<'_>) -> (String, String) {
        let mut all = self.vars.clone();
        all.insert("PACKER_BUILD_NAME".into(), r.build_name.to_owned());
        all.insert("PACKER_BUILDER_TYPE".into(), r.builder_type.to_owned());
        let format = |k: &str, v: &str| {
            self.env_var_format
                .replacen("%s", k, 1)
                .replacen("%s", &v.replace('\'', r#"'"'"'"#), 1)
        };
        let text = all.iter().map(|(k, v)| format(k, v)).collect();
        let shown = all.keys().map(|k| format(k, "…")).collect();
        (text, shown)
    }

    /// Runs the scripts in order; the first failure stops them.
    pub(crate) async fn run(
        &self,
        r: &LocalRun<'_>,
        on_line: &mut (dyn FnMut(Stream, &str) + Send),
    ) -> Result<(), Error> {
        if !self.only_on.is_empty() && !self.only_on.iter().any(|o| o == std::env::consts::OS) {
            (r.say)("Skipping shell-local due to runtime OS");
            return Ok(());
        }
        let inline_file;
        let scripts: Vec<PathBuf> = match &self.source {
            Source::Scripts(s) => s.iter().map(|p| r.cwd.join(p)).collect(),
            Source::Inline(lines) => {
                inline_file = TempScript::write(self, lines)?;
                vec![inline_file.0.clone()]
            }
        };
        let (vars, vars_shown) = self.flattened(r);
        for script in &scripts {
            if r.cancel.is_cancelled() {
                return Err(Error::cancelled("shell-local"));
            }
            let path = script.display().to_string();
            let fill = |vars: &str| -> Result<Vec<String>, Error> {
                self.execute_command
                    .iter()
                    .map(|c| {
                        render(
                            "shell-local execute_command",
                            c,
                            &[("Vars", vars), ("Script", &path), ("Command", &path)],
                        )
                    })
                    .collect()
            };
            let argv = fill(&vars)?;
            let shown = fill(&vars_shown)?.join(" ");
            (r.say)(&format!("Running local shell script: {path}"));
            let mut cmd = process::Command::new(&argv[0])
                .args(&argv[1..])
                .inherit_env()
                .current_dir(r.cwd)
                .cancel_on(r.cancel)
                .shown_as(shown.clone());
            for (k, v) in &r.env {
                cmd = cmd.env(k, v);
            }
            let mut tail = VecDeque::new();
            let mut lines = |stream: Stream, line: &str| {
                if stream == Stream::Stderr {
                    if tail.len() == process::STDERR_TAIL_LINES {
                        tail.pop_front();
                    }
                    tail.push_back(line.to_owned());
                }
                on_line(stream, line);
            };
            let exit = match cmd.stream(&mut lines).await {
                Ok(exit) => exit,
                Err(e) if e.is_cancelled() => return Err(Error::cancelled("shell-local")),
                Err(e) => return Err(Error::Other(Box::new(e))),
            };
            match exit {
                Exit::Code(c) if self.valid_exit_codes.contains(&c) => {}
                Exit::Code(status) => {
                    return Err(Error::CommandFailed {
                        command: format!("{shown} (script {path})"),
                        status,
                        stderr_tail: tail.into(),
                    });
                }
                Exit::Signal(signal) => {
                    return Err(Error::Signal {
                        command: format!("{shown} (script {path})"),
                        signal,
                    });
                }
            }
        }
        Ok(())
    }
}

/// The temporary file of `inline` lines, removed when dropped.
struct TempScript(PathBuf);

impl TempScript {
    fn write(s: &LocalScript, lines: &[String]) -> Result<Self, Error> {
        let mut name = format!("packer-shell{:010}", rand::random::<u32>());
        if !s.tempfile_extension.is_empty() {
            name = format!("{name}.{}", s.tempfile_extension);
        }
        let path = std::env::temp_dir().join(name);
        let io = |source| Error::Io {
            what: format!("writing the inline script {}", path.display()),
            source,
        };
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o700)
            .open(&path)
            .map_err(io)?;
        let guard = Self(path.clone());
        let mut body = format!("#!{}\n", s.inline_shebang);
        for l in lines {
            body.push_str(l);
            body.push('\n');
        }
        f.write_all(body.as_bytes()).map_err(io)?;
        Ok(guard)
    }
}

impl Drop for TempScript {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

/// Packer's `shell-local` provisioner: runs [`LocalScript`]s on this host
/// during the build (the machine's communicator is handed on untouched).
/// `PACKER_BUILD_NAME`/`PACKER_BUILDER_TYPE` come from the block's
/// `packer_build_name`/`packer_builder_type`, as Packer hands them to
/// plugins; the script also gets `IMAGEBAKE_BUILD_ID` in its environment.
#[derive(Debug, Clone)]
pub struct ShellLocal {
    script: LocalScript,
}

impl ShellLocal {
    /// Decodes a `shell-local` provisioner block (errors name the key).
    pub fn from_block(block: &Value) -> Result<Self, Error> {
        Ok(Self {
            script: LocalScript::decode("provisioner shell-local", block)?,
        })
    }
}

#[async_trait]
impl Step<Comm> for ShellLocal {
    type Out = Comm;

    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed("shell-local")
    }

    async fn run(&self, cx: &StepCx, comm: Comm) -> Result<Comm, Error> {
        let cwd = std::env::current_dir().map_err(|source| Error::Io {
            what: "reading the working directory".into(),
            source,
        })?;
        let say = |line: &str| cx.output_line(OutputStream::Stdout, line);
        let run = LocalRun {
            build_name: &self.script.build_name,
            builder_type: &self.script.builder_type,
            env: Vec::new(),
            cwd: &cwd,
            cancel: cx.token(),
            say: &say,
        }
        .with_build_id(cx.build_id());
        let mut on_line = |stream: Stream, line: &str| {
            let stream = match stream {
                Stream::Stdout => OutputStream::Stdout,
                Stream::Stderr => OutputStream::Stderr,
            };
            cx.output_line(stream, line);
        };
        self.script.run(&run, &mut on_line).await?;
        Ok(comm)
    }
}
