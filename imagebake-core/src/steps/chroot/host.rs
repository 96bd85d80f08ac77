//! Commands run on the build host (mount, losetup, mkfs, the pre- and
//! post-mount commands), through Packer's `command_wrapper`.

use std::process::Stdio;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;
use tokio_util::sync::CancellationToken;

use crate::comm::{OnLine, OutputCollector};
use crate::template::render;
use crate::{Error, ExitOutput, OutputStream, StepCx, shell_quote};

/// `PATH` for host commands (the caller's environment is not relied on).
const HOST_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

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
        if cancel.is_cancelled() {
            return Err(Error::cancelled(what));
        }
        let mut child = Command::new("/bin/sh")
            .arg("-c")
            .arg(line)
            .env("PATH", HOST_PATH)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| Error::io(format!("starting {what}"), e))?;
        let pid = child
            .id()
            .and_then(|id| i32::try_from(id).ok())
            .map(Pid::from_raw);
        let mut out = child.stdout.take();
        let mut err = child.stderr.take();
        let mut collector = OutputCollector::new();
        let (mut obuf, mut ebuf) = (vec![0u8; 4096], vec![0u8; 4096]);
        let mut status = None;
        let read_err = |e| Error::io(format!("reading the output of {what}"), e);
        while out.is_some() || err.is_some() || status.is_none() {
            tokio::select! {
                () = cancel.cancelled() => {
                    if let Some(pid) = pid {
                        let _ = killpg(pid, Signal::SIGKILL);
                    }
                    let _ = child.wait().await;
                    return Err(Error::cancelled(what));
                }
                r = read_some(&mut out, &mut obuf) => match r.map_err(read_err)? {
                    0 => out = None,
                    n => collector.push(OutputStream::Stdout, &obuf[..n], on_line),
                },
                r = read_some(&mut err, &mut ebuf) => match r.map_err(read_err)? {
                    0 => err = None,
                    n => collector.push(OutputStream::Stderr, &ebuf[..n], on_line),
                },
                s = child.wait(), if status.is_none() => {
                    status = Some(s.map_err(|e| Error::io(format!("waiting for {what}"), e))?);
                }
            }
        }
        let code = status.and_then(|s| s.code()).unwrap_or(-1);
        Ok(collector.finish(code, on_line))
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

async fn read_some<R: AsyncRead + Unpin>(
    r: &mut Option<R>,
    buf: &mut [u8],
) -> std::io::Result<usize> {
    match r {
        Some(r) => r.read(buf).await,
        None => std::future::pending().await,
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
}
