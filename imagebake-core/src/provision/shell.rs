use std::borrow::Cow;
use std::fmt;
use std::path::PathBuf;

use async_trait::async_trait;

use super::{Comm, line_events};
use crate::template::render;
use crate::{Ended, Error, RemoteCommand, Step, StepCx, shell_quote};

/// Packer's default `execute_command`.
pub const DEFAULT_EXECUTE_COMMAND: &str = "chmod +x {{.Path}}; {{.Vars}} {{.Path}}";

/// The variable every script gets, holding the build id.
pub const BUILD_ID_VAR: &str = "IMAGEBAKE_BUILD_ID";

#[derive(Debug, Clone)]
enum Source {
    Inline(Vec<String>),
    Scripts(Vec<PathBuf>),
}

/// Packer's `shell` provisioner: uploads a script (inline commands, a file,
/// or several files) to a remote temporary path and runs it with
/// `execute_command`, in which `{{.Vars}}` becomes the environment variables
/// (`K='v' …`, sorted, with `IMAGEBAKE_BUILD_ID` added) and `{{.Path}}` the
/// script's remote path. A status outside `valid_exit_codes` (default `[0]`)
/// fails the build with the command, the status and the last lines of stderr;
/// variable values never appear in errors.
#[derive(Clone)]
pub struct Shell {
    source: Source,
    env: Vec<(String, String)>,
    execute_command: String,
    inline_shebang: String,
    remote_folder: String,
    remote_file: Option<String>,
    valid_exit_codes: Vec<i32>,
    expect_disconnect: bool,
    skip_clean: bool,
}

impl Shell {
    fn new(source: Source) -> Self {
        Self {
            source,
            env: Vec::new(),
            execute_command: DEFAULT_EXECUTE_COMMAND.to_owned(),
            inline_shebang: "/bin/sh -e".to_owned(),
            remote_folder: "/tmp".to_owned(),
            remote_file: None,
            valid_exit_codes: vec![0],
            expect_disconnect: false,
            skip_clean: false,
        }
    }

    /// Inline commands, written to one script (after `#!` and
    /// `inline_shebang`, so by default the first failing command stops it).
    pub fn inline<I, S>(commands: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self::new(Source::Inline(
            commands.into_iter().map(Into::into).collect(),
        ))
    }

    /// One local script file.
    pub fn script(path: impl Into<PathBuf>) -> Self {
        Self::new(Source::Scripts(vec![path.into()]))
    }

    /// Several local script files, run in order.
    pub fn scripts<I, P>(paths: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: Into<PathBuf>,
    {
        Self::new(Source::Scripts(paths.into_iter().map(Into::into).collect()))
    }

    /// Adds an environment variable for the scripts.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Adds Packer-style `environment_vars` (`"KEY=value"` strings).
    pub fn environment_vars<I, S>(mut self, vars: I) -> Result<Self, Error>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        for v in vars {
            let v = v.as_ref();
            let Some((k, val)) = v.split_once('=') else {
                let name: String = v.chars().take(40).collect();
                return Err(Error::Config(format!(
                    "shell: environment variable `{name}` has no `=`"
                )));
            };
            self.env.push((k.to_owned(), val.to_owned()));
        }
        Ok(self)
    }

    /// Sets the command that runs each script (see [`DEFAULT_EXECUTE_COMMAND`]).
    pub fn execute_command(mut self, template: impl Into<String>) -> Self {
        self.execute_command = template.into();
        self
    }

    /// Sets the interpreter line of inline scripts (default `/bin/sh -e`).
    pub fn inline_shebang(mut self, shebang: impl Into<String>) -> Self {
        self.inline_shebang = shebang.into();
        self
    }

    /// Sets the remote directory scripts are uploaded to (default `/tmp`).
    pub fn remote_folder(mut self, dir: impl Into<String>) -> Self {
        self.remote_folder = dir.into();
        self
    }

    /// Sets the remote file name (default `script_<random>_<n>.sh`).
    pub fn remote_file(mut self, name: impl Into<String>) -> Self {
        self.remote_file = Some(name.into());
        self
    }

    /// Sets the exit statuses that count as success (default `[0]`).
    pub fn valid_exit_codes(mut self, codes: impl IntoIterator<Item = i32>) -> Self {
        self.valid_exit_codes = codes.into_iter().collect();
        self
    }

    /// Accepts a lost session (the script reboots the machine), then
    /// reconnects before going on.
    pub fn expect_disconnect(mut self, yes: bool) -> Self {
        self.expect_disconnect = yes;
        self
    }

    /// Leaves the uploaded scripts in place.
    pub fn skip_clean(mut self, yes: bool) -> Self {
        self.skip_clean = yes;
        self
    }

    fn check_config(&self) -> Result<(), Error> {
        for (k, _) in &self.env {
            let mut chars = k.chars();
            let ok = chars
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !ok {
                return Err(Error::Config(format!(
                    "shell: `{k}` is not a valid environment variable name"
                )));
            }
        }
        render(
            "execute_command",
            &self.execute_command,
            &[("Vars", ""), ("Path", "")],
        )?;
        match &self.source {
            Source::Inline(c) if c.is_empty() => {
                Err(Error::Config("shell: no inline commands".into()))
            }
            Source::Scripts(s) if s.is_empty() => Err(Error::Config("shell: no scripts".into())),
            _ => Ok(()),
        }
    }

    /// The variables, sorted by name, with the build id added unless set.
    fn vars(&self, cx: &StepCx) -> Vec<(String, String)> {
        let mut vars = self.env.clone();
        if !vars.iter().any(|(k, _)| k == BUILD_ID_VAR) {
            vars.push((BUILD_ID_VAR.to_owned(), cx.build_id().to_string()));
        }
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        vars
    }
}

impl fmt::Debug for Shell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.env.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("Shell")
            .field("source", &self.source)
            .field("env", &names)
            .field("execute_command", &self.execute_command)
            .field("remote_folder", &self.remote_folder)
            .field("valid_exit_codes", &self.valid_exit_codes)
            .field("expect_disconnect", &self.expect_disconnect)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl Step<Comm> for Shell {
    type Out = Comm;

    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed("shell")
    }

    async fn run(&self, cx: &StepCx, comm: Comm) -> Result<Comm, Error> {
        self.check_config()?;
        let vars = self.vars(cx);
        let vars_text: Vec<String> = vars
            .iter()
            .map(|(k, v)| format!("{k}={}", shell_quote(v)))
            .collect();
        let vars_text = vars_text.join(" ");
        let vars_shown: Vec<String> = vars.iter().map(|(k, _)| format!("{k}=…")).collect();
        let vars_shown = vars_shown.join(" ");
        let tag: u32 = rand::random();
        let count = match &self.source {
            Source::Inline(_) => 1,
            Source::Scripts(s) => s.len(),
        };
        for i in 0..count {
            cx.check_cancelled()?;
            let file = match &self.remote_file {
                Some(f) if count == 1 => f.clone(),
                Some(f) => format!("{i}_{f}"),
                None => format!("script_{tag:08x}_{i}.sh"),
            };
            let path = format!("{}/{file}", self.remote_folder.trim_end_matches('/'));
            let label = match &self.source {
                Source::Inline(commands) => {
                    let body = format!("#!{}\n{}\n", self.inline_shebang, commands.join("\n"));
                    comm.upload_bytes(body.as_bytes(), &path, 0o755, cx.token())
                        .await?;
                    "inline script".to_owned()
                }
                Source::Scripts(scripts) => {
                    let local = &scripts[i];
                    comm.upload_file(local, &path, Some(0o755), cx.token())
                        .await?;
                    format!("script {}", local.display())
                }
            };
            let command = render(
                "execute_command",
                &self.execute_command,
                &[("Vars", &vars_text), ("Path", &path)],
            )?;
            let shown = render(
                "execute_command",
                &self.execute_command,
                &[("Vars", &vars_shown), ("Path", &path)],
            )?;
            let result = self.exec(cx, &comm, &command).await;
            let failed = match result {
                Ok(Some(out)) if !self.valid_exit_codes.contains(&out.status) => {
                    Some(Error::CommandFailed {
                        command: format!("{shown} ({label})"),
                        status: out.status,
                        stderr_tail: out.stderr_tail,
                    })
                }
                Ok(_) => None,
                Err(e) => Some(e),
            };
            if !self.skip_clean && !cx.token().is_cancelled() {
                let rm = format!("rm -f {}", shell_quote(&path));
                let cleaned = comm
                    .exec(&RemoteCommand::new(&rm), &mut line_events(cx), cx.token())
                    .await;
                if failed.is_none() {
                    cleaned?.check(&rm)?;
                }
            }
            if let Some(e) = failed {
                return Err(e);
            }
        }
        Ok(comm)
    }
}

impl Shell {
    /// Runs one rendered command; `None` when the session went away as
    /// expected (and was re-established).
    async fn exec(
        &self,
        cx: &StepCx,
        comm: &Comm,
        command: &str,
    ) -> Result<Option<crate::ExitOutput>, Error> {
        let cmd = RemoteCommand::new(command);
        let mut on_line = line_events(cx);
        if !self.expect_disconnect {
            return comm.exec(&cmd, &mut on_line, cx.token()).await.map(Some);
        }
        match comm
            .exec_expect_disconnect(&cmd, &mut on_line, cx.token())
            .await?
        {
            Ended::Exited(out) => Ok(Some(out)),
            Ended::Disconnected => {
                comm.reconnect(cx.token()).await?;
                Ok(None)
            }
        }
    }
}
