//! Packer's UI: the lines `packer build` prints, as text (`==> NAME: …`,
//! `    NAME: …`, optionally stamped as `-timestamp-ui` does) or in Packer's
//! machine-readable form (`-machine-readable`:
//! `TIMESTAMP,TARGET,TYPE,DATA…`). Every text is masked first.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::template::Sensitive;

/// Where progress lines go: each call gets one line (without its newline).
pub type ProgressSink = Arc<dyn Fn(&str) + Send + Sync>;

/// How the bake reports what happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UiMode {
    /// Packer's text: `==> NAME: message`.
    #[default]
    Text,
    /// Packer's text, each line prefixed with the local time
    /// (`2006-01-02T15:04:05-07:00: `), as `-timestamp-ui`.
    TimestampedText,
    /// Packer's `-machine-readable` lines.
    MachineReadable,
}

/// What kind of UI call a line is (Packer's `Say`, `Message`, `Error`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// `Say`: `==> NAME: …`, machine-readable `ui,say`.
    Say,
    /// `Message`: `    NAME: …`, machine-readable `ui,message`.
    Message,
    /// `Error`: `==> NAME: …`, machine-readable `ui,error`.
    Error,
}

/// Packer's UI over a sink, masking the template's sensitive values.
#[derive(Clone)]
pub(crate) struct Ui {
    pub mode: UiMode,
    pub sink: ProgressSink,
    pub sensitive: Sensitive,
}

impl Ui {
    /// An untargeted UI call (the command's own lines).
    pub fn show(&self, level: Level, text: &str) {
        let text = self.sensitive.mask(text);
        match self.mode {
            UiMode::MachineReadable => {
                let kind = match level {
                    Level::Say => "say",
                    Level::Message => "message",
                    Level::Error => "error",
                };
                self.machine("", "ui", &[kind, &text]);
            }
            UiMode::Text => text.lines().for_each(|l| (self.sink)(l)),
            UiMode::TimestampedText => {
                let now = chrono::Local::now().format("%Y-%m-%dT%H:%M:%S%:z");
                text.lines()
                    .for_each(|l| (self.sink)(&format!("{now}: {l}")));
            }
        }
    }

    /// A UI call of build `build` (Packer's `TargetedUI`): each line of
    /// `text` prefixed with `==> NAME: ` (say, error) or `    NAME: `
    /// (message).
    pub fn build(&self, build: &str, level: Level, text: &str) {
        let arrow = if level == Level::Message {
            "   "
        } else {
            "==>"
        };
        let text: Vec<String> = text
            .trim_end()
            .split('\n')
            .map(|l| format!("{arrow} {build}: {l}"))
            .collect();
        self.show(level, &text.join("\n"));
    }

    /// A machine-readable line (nothing in text modes): `target` is empty
    /// for the run as a whole.
    pub fn machine(&self, target: &str, kind: &str, data: &[&str]) {
        if self.mode != UiMode::MachineReadable {
            return;
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        (self.sink)(&machine_line(now, target, kind, data, &self.sensitive));
    }
}

/// One machine-readable line, as Packer's `MachineReadableUi.Machine`
/// writes it: each data field masked, `,` written `%!(PACKER_COMMA)`, CR
/// and LF written `\r` and `\n`.
pub fn machine_line(
    unix_seconds: u64,
    target: &str,
    kind: &str,
    data: &[&str],
    sensitive: &Sensitive,
) -> String {
    let data: Vec<String> = data
        .iter()
        .map(|d| {
            sensitive
                .mask(d)
                .replace(',', "%!(PACKER_COMMA)")
                .replace('\r', "\\r")
                .replace('\n', "\\n")
        })
        .collect();
    format!("{unix_seconds},{target},{kind},{}", data.join(","))
}

/// A duration as Packer prints a build's (durafmt, first two units):
/// `1 minute 2 seconds`, `3 seconds 250 milliseconds`.
pub fn packer_duration(d: Duration) -> String {
    let micros = d.as_micros();
    let units: [(&str, u128); 6] = [
        ("day", 86_400_000_000),
        ("hour", 3_600_000_000),
        ("minute", 60_000_000),
        ("second", 1_000_000),
        ("millisecond", 1_000),
        ("microsecond", 1),
    ];
    let mut rest = micros;
    let mut parts = Vec::new();
    for (name, size) in units {
        let n = rest / size;
        rest %= size;
        if n > 0 {
            parts.push(format!("{n} {name}{}", if n == 1 { "" } else { "s" }));
        }
    }
    if parts.is_empty() {
        return "0 seconds".to_owned();
    }
    parts.truncate(2);
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn machine_lines_escape_as_packer_does() {
        let mut s = Sensitive::default();
        s.add(&serde_json::json!("hunter2"));
        assert_eq!(
            machine_line(7, "", "ui", &["say", "a,b\nc\r pw hunter2"], &s),
            "7,,ui,say,a%!(PACKER_COMMA)b\\nc\\r pw <sensitive>"
        );
        assert_eq!(
            machine_line(7, "triton.web", "artifact-count", &["1"], &s),
            "7,triton.web,artifact-count,1"
        );
    }

    #[test]
    fn targeted_lines_carry_the_build_name() {
        let lines: Arc<Mutex<Vec<String>>> = Arc::default();
        let l = lines.clone();
        let ui = Ui {
            mode: UiMode::Text,
            sink: Arc::new(move |s: &str| l.lock().unwrap().push(s.to_owned())),
            sensitive: Sensitive::default(),
        };
        ui.build("triton.web", Level::Say, "one\ntwo\n");
        ui.build("triton.web", Level::Message, "out");
        ui.machine("triton.web", "artifact-count", &["1"]);
        assert_eq!(
            *lines.lock().unwrap(),
            [
                "==> triton.web: one",
                "==> triton.web: two",
                "    triton.web: out"
            ]
        );
    }

    #[test]
    fn durations_read_as_packer_prints_them() {
        assert_eq!(
            packer_duration(Duration::from_millis(62_000)),
            "1 minute 2 seconds"
        );
        assert_eq!(
            packer_duration(Duration::from_millis(3_250)),
            "3 seconds 250 milliseconds"
        );
        assert_eq!(packer_duration(Duration::from_secs(3600)), "1 hour");
        assert_eq!(packer_duration(Duration::ZERO), "0 seconds");
    }
}
