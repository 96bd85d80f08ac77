//! Commands run on the build host (mount, losetup, mkfs, the pre- and
//! post-mount commands), through Packer's `command_wrapper`.

use imagebake_host::process::{self, DEFAULT_PATH};
use tokio_util::sync::CancellationToken;

use crate::comm::{OnLine, local};
use crate::template::render;
use crate::{Error, ExitOutput, OutputStream, StepCx, shell_quote};

/// Runs host commands with `/bin/sh -c`, each first passed through the
/// `command_wrapper` template (`{{.Command}}`, e.g. `sudo {{.Command}}`).
#[derive(Debug, Clone, Default)]
pub struct HostCommands {
    wrapper: Option<String>,
}

impl HostCommands {
    /// Commands run as they are.
    pub fn plain() -> Self {
        Self { wrapper: None }
    }

    /// Commands wrapped by `template` (`{{.Command}}` is the command line);
    /// `None` or `{{.Command}}` alone means no wrapper.
    pub fn wrapped(template: Option<&str>) -> Result<Self, Error> {
        match template.map(str::trim) {
            None | Some("") | Some("{{.Command}}") => Ok(Self::plain()),
            Some(t) => {
                render("command_wrapper", t, &[("Command", "")])?;
                Ok(Self {
                    wrapper: Some(t.to_owned()),
                })
            }
        }
    }

    /// The wrapper template, if any.
    pub fn wrapper(&self) -> Option<&str> {
        self.wrapper.as_deref()
    }

    /// The shell line for `args`, each quoted, wrapped.
    pub fn line_for(&self, args: &[&str]) -> Result<String, Error> {
        let quoted: Vec<String> = args.iter().map(|a| shell_quote(a)).collect();
        self.wrap(&quoted.join(" "))
    }

    /// `line` passed through the wrapper.
    pub fn wrap(&self, line: &str) -> Result<String, Error> {
        match &self.wrapper {
            None => Ok(line.to_owned()),
            Some(t) => render("command_wrapper", t, &[("Command", line)]),
        }
    }

    /// Runs the shell `line` (already wrapped), reporting each output line to
    /// `on_line`; a non-zero status is returned, not an error.
    pub async fn run_line(
        &self,
        line: &str,
        on_line: &mut OnLine<'_>,
        cancel: &CancellationToken,
    ) -> Result<ExitOutput, Error> {
        let what = format!("host command `{line}`");
        // The host's environment is kept (a wrapper such as `sudo` may need
        // it), with a known `PATH`.
        let cmd = process::Command::new("/bin/sh")
            .arg("-c")
            .arg(line)
            .inherit_env()
            .env("PATH", DEFAULT_PATH)
            .shown_as(line);
        local::run(cmd, &what, line, on_line, cancel).await
    }

    /// Runs `args` (quoted and wrapped); a non-zero status is
    /// [`Error::CommandFailed`].
    pub async fn run(
        &self,
        args: &[&str],
        on_line: &mut OnLine<'_>,
        cancel: &CancellationToken,
    ) -> Result<ExitOutput, Error> {
        let line = self.line_for(args)?;
        let shown = args.join(" ");
        self.run_line(&line, on_line, cancel).await?.check(&shown)
    }

    /// [`HostCommands::run`] from a step: output lines become the step's
    /// events, the build's token cancels.
    pub async fn step_run(&self, cx: &StepCx, args: &[&str]) -> Result<ExitOutput, Error> {
        let mut sink = |s: OutputStream, l: &str| cx.output_line(s, l);
        self.run(args, &mut sink, cx.token()).await
    }

    /// [`HostCommands::run`] with output only logged (undos, probes).
    pub async fn quiet_run(
        &self,
        args: &[&str],
        cancel: &CancellationToken,
    ) -> Result<ExitOutput, Error> {
        let mut sink = |_: OutputStream, l: &str| tracing::debug!(line = l, "host command output");
        self.run(args, &mut sink, cancel).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapper_quotes_and_wraps() {
        let h = HostCommands::wrapped(Some("sudo -n {{.Command}}")).unwrap();
        assert_eq!(
            h.line_for(&["mount", "/dev/x y"]).unwrap(),
            "sudo -n 'mount' '/dev/x y'"
        );
        assert!(HostCommands::wrapped(Some("{{.Nope}}")).is_err());
        assert_eq!(
            HostCommands::wrapped(Some("{{.Command}}"))
                .unwrap()
                .wrapper(),
            None
        );
    }

    #[tokio::test]
    async fn runs_and_reports_failure() {
        let h = HostCommands::plain();
        let t = CancellationToken::new();
        let out = h.quiet_run(&["echo", "hi"], &t).await.unwrap();
        assert_eq!(out.stdout_tail, vec!["hi"]);
        let e = h
            .quiet_run(&["sh", "-c", "echo no >&2; exit 3"], &t)
            .await
            .unwrap_err();
        assert!(
            e.to_string().contains("status 3") && e.to_string().contains("no"),
            "{e}"
        );
    }

    #[tokio::test]
    async fn death_by_signal_is_reported_as_the_signal() {
        let t = CancellationToken::new();
        let mut sink = |_: OutputStream, _: &str| {};
        let e = HostCommands::plain()
            .run_line("kill -KILL $$", &mut sink, &t)
            .await
            .unwrap_err();
        assert!(matches!(e, Error::Signal { signal: 9, .. }), "{e:?}");
    }
}
